//! What the fake accepts and answers: Meta's request checks, window rules,
//! success bodies and error bodies (code, HTTP status, message, details).

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};

use crate::channels::graph::request::{
    MESSENGER_QUICK_REPLIES_MAX, MESSENGER_TEXT_MAX, WHATSAPP_BUTTON_TITLE_MAX,
    WHATSAPP_BUTTONS_MAX, WHATSAPP_LIST_ROWS_MAX, WHATSAPP_ROW_TITLE_MAX, WHATSAPP_TEXT_MAX,
};
use crate::channels::whatsapp::is_bsuid;

/// Messenger tags allowed outside the 24-hour window (never promotional).
const UPDATE_TAGS: [&str; 3] = [
    "ACCOUNT_UPDATE",
    "CONFIRMED_EVENT_UPDATE",
    "POST_PURCHASE_UPDATE",
];

/// A well-formed send request.
#[derive(Debug)]
pub(super) enum SendRequest {
    WhatsappMessage {
        recipient: String,
        template: bool,
    },
    WhatsappMarkRead,
    Messenger {
        recipient: String,
        tag: Option<String>,
        sender_action: bool,
    },
}

impl SendRequest {
    pub(super) fn parse(body: &Value) -> Result<Self, Rejection> {
        if body.get("messaging_product").is_some() {
            parse_whatsapp(body)
        } else {
            parse_messenger(body)
        }
    }

    /// Who the message goes to; `None` for a mark-read.
    pub(super) fn recipient(&self) -> Option<&str> {
        match self {
            SendRequest::WhatsappMessage { recipient, .. }
            | SendRequest::Messenger { recipient, .. } => Some(recipient),
            SendRequest::WhatsappMarkRead => None,
        }
    }

    /// Meta's window rules, `since_customer` after the customer last wrote.
    pub(super) fn check_window(&self, since_customer: Duration) -> Result<(), Rejection> {
        let within = |limit: Duration| since_customer <= limit;
        match self {
            SendRequest::WhatsappMarkRead | SendRequest::WhatsappMessage { template: true, .. } => {
                Ok(())
            }
            SendRequest::WhatsappMessage { .. } if within(Duration::hours(24)) => Ok(()),
            SendRequest::WhatsappMessage { .. } => Err(Rejection::code(131047)),
            SendRequest::Messenger { .. } if within(Duration::hours(24)) => Ok(()),
            SendRequest::Messenger { tag: Some(tag), .. }
                if tag == "HUMAN_AGENT" && within(Duration::days(7)) =>
            {
                Ok(())
            }
            SendRequest::Messenger { tag: Some(tag), .. }
                if UPDATE_TAGS.contains(&tag.as_str()) =>
            {
                Ok(())
            }
            SendRequest::Messenger { .. } => Err(Rejection::code(10)),
        }
    }

    /// Meta's success body and the message id it carries.
    pub(super) fn success_body(&self) -> (Value, Option<String>) {
        match self {
            SendRequest::WhatsappMarkRead => (json!({"success": true}), None),
            SendRequest::WhatsappMessage {
                recipient,
                template,
            } => {
                let id = format!("wamid.{}", uuid::Uuid::new_v4().simple());
                let id_key = if is_bsuid(recipient) {
                    "user_id"
                } else {
                    "wa_id"
                };
                let mut message = json!({"id": id});
                if *template {
                    message["message_status"] = json!("accepted");
                }
                let body = json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": recipient, id_key: recipient}],
                    "messages": [message],
                });
                (body, Some(id))
            }
            SendRequest::Messenger {
                recipient,
                sender_action: true,
                ..
            } => (json!({"recipient_id": recipient}), None),
            SendRequest::Messenger { recipient, .. } => {
                let id = format!("m_{}", uuid::Uuid::new_v4().simple());
                (
                    json!({"recipient_id": recipient, "message_id": id}),
                    Some(id),
                )
            }
        }
    }
}

fn parse_whatsapp(body: &Value) -> Result<SendRequest, Rejection> {
    if body["messaging_product"] != "whatsapp" {
        return Err(Rejection::invalid("messaging_product must be whatsapp"));
    }
    if body.get("status").is_some() {
        return match (body["status"].as_str(), body["message_id"].as_str()) {
            (Some("read"), Some(_)) => Ok(SendRequest::WhatsappMarkRead),
            _ => Err(Rejection::invalid("status must be read, with a message_id")),
        };
    }
    let recipient = body["to"]
        .as_str()
        .or_else(|| body["recipient"].as_str())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Rejection::invalid("to or recipient is required"))?;
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let interactive = &body["interactive"];
    match body["type"].as_str() {
        Some("text") => {
            let text = &body["text"]["body"];
            if chars(text) == 0 || chars(text) > WHATSAPP_TEXT_MAX {
                return Err(Rejection::invalid(
                    "text.body must have 1 to 4096 characters",
                ));
            }
        }
        Some("template") => {
            if body["template"]["name"].as_str().is_none()
                || body["template"]["language"]["code"].as_str().is_none()
            {
                return Err(Rejection::code(132001));
            }
        }
        Some("interactive") if interactive["type"] == "button" => {
            let buttons = interactive["action"]["buttons"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let bad_title = buttons
                .iter()
                .any(|b| chars(&b["reply"]["title"]) > WHATSAPP_BUTTON_TITLE_MAX);
            if buttons.is_empty() || buttons.len() > WHATSAPP_BUTTONS_MAX || bad_title {
                return Err(Rejection::invalid(
                    "1 to 3 buttons with titles of at most 20 characters",
                ));
            }
        }
        Some("interactive") if interactive["type"] == "list" => {
            let sections = interactive["action"]["sections"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let rows: Vec<&Value> = sections
                .iter()
                .flat_map(|s| s["rows"].as_array().into_iter().flatten())
                .collect();
            let bad_title = rows
                .iter()
                .any(|r| chars(&r["title"]) > WHATSAPP_ROW_TITLE_MAX);
            if rows.is_empty() || rows.len() > WHATSAPP_LIST_ROWS_MAX || bad_title {
                return Err(Rejection::invalid(
                    "1 to 10 rows with titles of at most 24 characters",
                ));
            }
        }
        _ => {
            return Err(Rejection::invalid(
                "type is missing or not supported by this fake",
            ));
        }
    }
    let template = body["type"] == "template";
    Ok(SendRequest::WhatsappMessage {
        recipient: recipient.to_owned(),
        template,
    })
}

fn parse_messenger(body: &Value) -> Result<SendRequest, Rejection> {
    let recipient = body["recipient"]["id"]
        .as_str()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Rejection::invalid("recipient.id is required"))?
        .to_owned();
    if body.get("sender_action").is_some() {
        return Ok(SendRequest::Messenger {
            recipient,
            tag: None,
            sender_action: true,
        });
    }
    let message = &body["message"];
    let text_chars = message["text"].as_str().map_or(0, |s| s.chars().count());
    if text_chars == 0 && message.get("attachment").is_none() {
        return Err(Rejection::invalid(
            "message.text or message.attachment is required",
        ));
    }
    if text_chars > MESSENGER_TEXT_MAX {
        return Err(Rejection::invalid(
            "message.text must be at most 2000 characters",
        ));
    }
    if message["quick_replies"]
        .as_array()
        .is_some_and(|q| q.len() > MESSENGER_QUICK_REPLIES_MAX)
    {
        return Err(Rejection::invalid("at most 13 quick replies"));
    }
    let tag = match body["messaging_type"].as_str() {
        Some("RESPONSE" | "UPDATE") => None,
        Some("MESSAGE_TAG") => Some(
            body["tag"]
                .as_str()
                .ok_or_else(|| Rejection::invalid("MESSAGE_TAG needs a tag"))?
                .to_owned(),
        ),
        _ => {
            return Err(Rejection::invalid(
                "messaging_type must be RESPONSE, UPDATE or MESSAGE_TAG",
            ));
        }
    };
    Ok(SendRequest::Messenger {
        recipient,
        tag,
        sender_action: false,
    })
}

/// An error answer, shaped like Meta's.
#[derive(Debug)]
pub(super) struct Rejection {
    status: StatusCode,
    code: i64,
    subcode: Option<i64>,
    title: String,
    details: String,
}

impl Rejection {
    /// The realistic answer for `code`. A code from 500 to 599 is a bare
    /// server error with that HTTP status.
    pub(super) fn code(code: i64) -> Self {
        let (status, subcode, title, details): (u16, Option<i64>, &str, &str) = match code {
            190 => (
                401,
                None,
                "Error validating access token: Session has expired",
                "The access token has expired or is invalid.",
            ),
            368 => (
                400,
                None,
                "Temporarily blocked for policies violations",
                "The account is temporarily restricted.",
            ),
            130429 => (
                429,
                None,
                "Rate limit hit",
                "Cloud API message throughput has been reached.",
            ),
            131056 => (
                429,
                None,
                "(Business Account, Consumer Account) pair rate limit hit",
                "Too many messages sent to the same recipient in a short period of time.",
            ),
            131048 => (
                429,
                None,
                "Spam rate limit hit",
                "Message failed to send because there are restrictions on how many messages can be sent from this phone number.",
            ),
            4 => (
                429,
                None,
                "Application request limit reached",
                "Too many calls from this application.",
            ),
            613 => (
                429,
                None,
                "Calls to this api have exceeded the rate limit.",
                "Slow down.",
            ),
            80007 => (
                429,
                None,
                "Rate limit issues",
                "The WhatsApp Business Account has reached its rate limit.",
            ),
            1 => (
                500,
                None,
                "An unknown error occurred",
                "Please retry your request later.",
            ),
            2 => (
                503,
                None,
                "Service temporarily unavailable",
                "Please retry your request later.",
            ),
            131000 => (
                500,
                None,
                "Something went wrong",
                "Message failed to send due to an unknown error.",
            ),
            131047 => (
                400,
                None,
                "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            ),
            10 => (
                400,
                Some(2018278),
                "This message is sent outside of allowed window.",
                "Outside of the allowed messaging window.",
            ),
            131026 => (
                400,
                None,
                "Message Undeliverable",
                "Unable to deliver message. The recipient may not be a WhatsApp user.",
            ),
            131049 => (
                400,
                None,
                "Meta chose not to deliver.",
                "This message was not delivered to maintain healthy ecosystem engagement.",
            ),
            132000 => (
                400,
                None,
                "Number of parameters does not match the expected number of params",
                "The template expects a different number of body parameters.",
            ),
            132001 => (
                404,
                None,
                "Template name does not exist in the translation",
                "The template or its language does not exist.",
            ),
            131051 => (
                400,
                None,
                "Unsupported message type",
                "Message type is not currently supported.",
            ),
            551 => (
                400,
                Some(1545041),
                "This person isn't available right now.",
                "The recipient cannot receive messages from this page right now.",
            ),
            100 => (400, None, "Invalid parameter", "A parameter is invalid."),
            500..=599 => {
                let status = code as u16;
                let meta_code = if status == 500 { 1 } else { 2 };
                return Rejection {
                    code: meta_code,
                    ..Rejection::code(meta_code)
                }
                .with_status(status);
            }
            _ => (400, None, "Error", "Scripted failure."),
        };
        Rejection {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            subcode,
            title: title.to_owned(),
            details: details.to_owned(),
        }
    }

    /// Code 100 with specific details: the request itself is wrong.
    pub(super) fn invalid(details: &str) -> Self {
        Rejection {
            details: details.to_owned(),
            ..Rejection::code(100)
        }
    }

    pub(super) fn unsupported(method: &str, path: &str) -> Self {
        Rejection {
            title: format!("Unsupported {method} request"),
            details: format!("{path} does not exist on this fake Graph API"),
            ..Rejection::code(100)
        }
    }

    fn with_status(mut self, status: u16) -> Self {
        self.status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self
    }

    pub(super) fn error_body(&self) -> (StatusCode, Value) {
        let mut error = json!({
            "message": format!("(#{}) {}", self.code, self.title),
            "type": "OAuthException",
            "code": self.code,
            "error_data": {"details": self.details},
            "fbtrace_id": format!("A{}", &uuid::Uuid::new_v4().simple().to_string()[..22]),
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        (self.status, json!({"error": error}))
    }
}
