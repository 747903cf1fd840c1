//! The JSON bodies of Graph API send requests, exactly as Meta documents
//! them, with Meta's length and count limits applied here so a long answer
//! or a generous menu is cut rather than refused.

use serde_json::{Value, json};

use super::error::{ErrorClass, GraphError};
use crate::channels::model::Channel;
use crate::channels::outbound::{Choice, MessagingType, OutboundBody, OutboundMessage};
use crate::channels::whatsapp::is_bsuid;

/// WhatsApp text body limit, in characters.
pub const WHATSAPP_TEXT_MAX: usize = 4096;
/// WhatsApp interactive body text limit.
const WHATSAPP_INTERACTIVE_BODY_MAX: usize = 1024;
pub const WHATSAPP_BUTTONS_MAX: usize = 3;
pub const WHATSAPP_BUTTON_TITLE_MAX: usize = 20;
pub const WHATSAPP_LIST_ROWS_MAX: usize = 10;
pub const WHATSAPP_ROW_TITLE_MAX: usize = 24;
const WHATSAPP_ROW_DESCRIPTION_MAX: usize = 72;
const WHATSAPP_LIST_BUTTON_MAX: usize = 20;
/// Messenger text limit, in characters.
pub const MESSENGER_TEXT_MAX: usize = 2000;
pub const MESSENGER_QUICK_REPLIES_MAX: usize = 13;
const MESSENGER_QUICK_REPLY_TITLE_MAX: usize = 20;

/// The request body for `msg` on its channel.
pub fn body(msg: &OutboundMessage) -> Result<Value, GraphError> {
    match msg.channel {
        Channel::Whatsapp => Ok(whatsapp(msg)),
        Channel::Messenger | Channel::Instagram => messenger(msg),
        Channel::Sandbox => Err(GraphError::local(
            ErrorClass::Permanent,
            "sandbox messages never go through the Graph API",
        )),
    }
}

fn whatsapp(msg: &OutboundMessage) -> Value {
    let (text, buttons, rows) = match &msg.body {
        OutboundBody::MarkRead { message_id, typing } => {
            let mut body = json!({"messaging_product": "whatsapp", "status": "read", "message_id": message_id});
            if *typing {
                body["typing_indicator"] = json!({"type": "text"});
            }
            return body;
        }
        OutboundBody::Text { text } => (text, &[][..], &[][..]),
        OutboundBody::Buttons { text, buttons } => (text, buttons.as_slice(), &[][..]),
        OutboundBody::List { text, rows, .. } => (text, &[][..], rows.as_slice()),
        OutboundBody::Template { .. } => (&String::new(), &[][..], &[][..]),
    };
    let mut body = json!({"messaging_product": "whatsapp", "recipient_type": "individual"});
    // Username-only customers have no phone number: Meta takes their BSUID as `recipient`.
    let address_key = if is_bsuid(&msg.recipient) {
        "recipient"
    } else {
        "to"
    };
    body[address_key] = json!(msg.recipient);
    match &msg.body {
        OutboundBody::Template {
            name,
            language,
            body_params,
            ..
        } => {
            let mut template = json!({"name": name, "language": {"code": language}});
            if !body_params.is_empty() {
                let parameters: Vec<Value> = body_params
                    .iter()
                    .map(|p| json!({"type": "text", "text": p}))
                    .collect();
                template["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            body["type"] = json!("template");
            body["template"] = template;
        }
        OutboundBody::Buttons { .. } if !buttons.is_empty() => {
            let buttons: Vec<Value> = buttons
                .iter()
                .take(WHATSAPP_BUTTONS_MAX)
                .map(|b| json!({"type": "reply", "reply": {"id": b.id, "title": truncate(&b.title, WHATSAPP_BUTTON_TITLE_MAX)}}))
                .collect();
            body["type"] = json!("interactive");
            body["interactive"] = json!({
                "type": "button",
                "body": {"text": truncate(text, WHATSAPP_INTERACTIVE_BODY_MAX)},
                "action": {"buttons": buttons},
            });
        }
        OutboundBody::List { button, .. } if !rows.is_empty() => {
            body["type"] = json!("interactive");
            body["interactive"] = json!({
                "type": "list",
                "body": {"text": truncate(text, WHATSAPP_INTERACTIVE_BODY_MAX)},
                "action": {
                    "button": truncate(button, WHATSAPP_LIST_BUTTON_MAX),
                    "sections": [{"rows": rows.iter().take(WHATSAPP_LIST_ROWS_MAX).map(list_row).collect::<Vec<_>>()}],
                },
            });
        }
        // Plain text, and menus without a single choice (Meta refuses those).
        _ => {
            body["type"] = json!("text");
            body["text"] = json!({"body": truncate(text, WHATSAPP_TEXT_MAX)});
        }
    }
    if let Some(reply_to) = &msg.reply_to {
        body["context"] = json!({"message_id": reply_to});
    }
    body
}

fn list_row(row: &Choice) -> Value {
    let mut value = json!({"id": row.id, "title": truncate(&row.title, WHATSAPP_ROW_TITLE_MAX)});
    if let Some(description) = &row.description {
        value["description"] = json!(truncate(description, WHATSAPP_ROW_DESCRIPTION_MAX));
    }
    value
}

fn messenger(msg: &OutboundMessage) -> Result<Value, GraphError> {
    let recipient = json!({"id": msg.recipient});
    let (text, choices) = match &msg.body {
        OutboundBody::MarkRead { typing, .. } => {
            // One sender action per request: typing implies the message was seen.
            let action = if *typing { "typing_on" } else { "mark_seen" };
            return Ok(json!({"recipient": recipient, "sender_action": action}));
        }
        OutboundBody::Template { name, .. } => {
            return Err(GraphError::local(
                ErrorClass::Permanent,
                format!("template {name:?}: templates exist only on WhatsApp"),
            ));
        }
        OutboundBody::Text { text } => (text, &[][..]),
        OutboundBody::Buttons { text, buttons } => (text, buttons.as_slice()),
        OutboundBody::List { text, rows, .. } => (text, rows.as_slice()),
    };
    let mut message = json!({"text": truncate(text, MESSENGER_TEXT_MAX)});
    if !choices.is_empty() {
        let quick_replies: Vec<Value> = choices
            .iter()
            .take(MESSENGER_QUICK_REPLIES_MAX)
            .map(|c| json!({"content_type": "text", "title": truncate(&c.title, MESSENGER_QUICK_REPLY_TITLE_MAX), "payload": c.id}))
            .collect();
        message["quick_replies"] = json!(quick_replies);
    }
    let mut body = json!({"recipient": recipient, "message": message});
    match msg
        .messaging_type
        .as_ref()
        .unwrap_or(&MessagingType::Response)
    {
        MessagingType::Response => body["messaging_type"] = json!("RESPONSE"),
        MessagingType::Update => body["messaging_type"] = json!("UPDATE"),
        MessagingType::MessageTag(tag) => {
            body["messaging_type"] = json!("MESSAGE_TAG");
            body["tag"] = json!(tag);
        }
    }
    Ok(body)
}

/// Cuts `text` to at most `max` characters on a character boundary, ending
/// with an ellipsis when something was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wa(body: OutboundBody) -> OutboundMessage {
        OutboundMessage {
            channel: Channel::Whatsapp,
            business_id: "106540352242922".into(),
            recipient: "16505551234".into(),
            body,
            reply_to: None,
            messaging_type: None,
        }
    }

    fn ms(body: OutboundBody) -> OutboundMessage {
        OutboundMessage {
            channel: Channel::Messenger,
            business_id: "108236421990341".into(),
            recipient: "6912345678901234".into(),
            ..wa(body)
        }
    }

    fn choices(n: usize, title: &str) -> Vec<Choice> {
        (0..n)
            .map(|i| Choice {
                id: format!("c{i}"),
                title: format!("{title}{i}"),
                description: None,
            })
            .collect()
    }

    #[test]
    fn whatsapp_text_with_context() {
        let mut msg = wa(OutboundBody::Text {
            text: "We open at 9.".into(),
        });
        msg.reply_to = Some("wamid.IN-1".into());
        assert_eq!(
            body(&msg).unwrap(),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
                   "type": "text", "text": {"body": "We open at 9."}, "context": {"message_id": "wamid.IN-1"}})
        );
    }

    #[test]
    fn whatsapp_bsuid_recipient() {
        let mut msg = wa(OutboundBody::Text { text: "hi".into() });
        msg.recipient = "US.13491208655302741918".into();
        let value = body(&msg).unwrap();
        assert_eq!(value["recipient"], "US.13491208655302741918");
        assert!(value.get("to").is_none());
    }

    #[test]
    fn whatsapp_text_is_cut_on_a_char_boundary() {
        let long = "ñ".repeat(5000);
        let value = body(&wa(OutboundBody::Text { text: long })).unwrap();
        let sent = value["text"]["body"].as_str().unwrap();
        assert_eq!(sent.chars().count(), WHATSAPP_TEXT_MAX);
        assert!(sent.ends_with('…'));
    }

    #[test]
    fn whatsapp_template() {
        let msg = wa(OutboundBody::Template {
            name: "order_update".into(),
            language: "es_MX".into(),
            body_params: vec!["Lucía".into(), "#4411".into()],
            category: Some("utility".into()),
        });
        assert_eq!(
            body(&msg).unwrap()["template"],
            json!({"name": "order_update", "language": {"code": "es_MX"}, "components": [{"type": "body",
                   "parameters": [{"type": "text", "text": "Lucía"}, {"type": "text", "text": "#4411"}]}]})
        );
        let bare = wa(OutboundBody::Template {
            name: "hello".into(),
            language: "en".into(),
            body_params: vec![],
            category: None,
        });
        assert!(body(&bare).unwrap()["template"].get("components").is_none());
    }

    #[test]
    fn whatsapp_buttons_are_capped() {
        let msg = wa(OutboundBody::Buttons {
            text: "Pick one".into(),
            buttons: choices(5, "A very long button title "),
        });
        let value = body(&msg).unwrap();
        assert_eq!(value["type"], "interactive");
        assert_eq!(value["interactive"]["type"], "button");
        let buttons = value["interactive"]["action"]["buttons"]
            .as_array()
            .unwrap();
        assert_eq!(buttons.len(), 3);
        assert_eq!(buttons[0]["reply"]["id"], "c0");
        assert_eq!(
            buttons[0]["reply"]["title"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            20
        );
    }

    #[test]
    fn whatsapp_list_is_capped() {
        let mut rows = choices(12, "Row title that is far too long ");
        rows[0].description = Some("Chest 96-101 cm".into());
        let msg = wa(OutboundBody::List {
            text: "Sizes".into(),
            button: "See sizes".into(),
            rows,
        });
        let value = body(&msg).unwrap();
        assert_eq!(value["interactive"]["type"], "list");
        assert_eq!(value["interactive"]["action"]["button"], "See sizes");
        let rows = value["interactive"]["action"]["sections"][0]["rows"]
            .as_array()
            .unwrap();
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[0]["title"].as_str().unwrap().chars().count(), 24);
        assert_eq!(rows[0]["description"], "Chest 96-101 cm");
    }

    #[test]
    fn whatsapp_empty_menu_is_plain_text() {
        let value = body(&wa(OutboundBody::Buttons {
            text: "Nothing to pick".into(),
            buttons: vec![],
        }))
        .unwrap();
        assert_eq!(value["type"], "text");
        assert_eq!(value["text"]["body"], "Nothing to pick");
    }

    #[test]
    fn whatsapp_mark_read() {
        let read = wa(OutboundBody::MarkRead {
            message_id: "wamid.IN-1".into(),
            typing: false,
        });
        assert_eq!(
            body(&read).unwrap(),
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN-1"})
        );
        let typing = wa(OutboundBody::MarkRead {
            message_id: "wamid.IN-1".into(),
            typing: true,
        });
        assert_eq!(
            body(&typing).unwrap()["typing_indicator"],
            json!({"type": "text"})
        );
    }

    #[test]
    fn messenger_text_and_messaging_types() {
        let msg = ms(OutboundBody::Text {
            text: "x".repeat(2500),
        });
        let value = body(&msg).unwrap();
        assert_eq!(value["recipient"], json!({"id": "6912345678901234"}));
        assert_eq!(value["messaging_type"], "RESPONSE");
        assert_eq!(
            value["message"]["text"].as_str().unwrap().chars().count(),
            MESSENGER_TEXT_MAX
        );

        let mut update = ms(OutboundBody::Text {
            text: "Your order shipped".into(),
        });
        update.messaging_type = Some(MessagingType::Update);
        assert_eq!(body(&update).unwrap()["messaging_type"], "UPDATE");

        let mut tagged = ms(OutboundBody::Text {
            text: "An agent here".into(),
        });
        tagged.messaging_type = Some(MessagingType::MessageTag("HUMAN_AGENT".into()));
        let value = body(&tagged).unwrap();
        assert_eq!(
            (value["messaging_type"].as_str(), value["tag"].as_str()),
            (Some("MESSAGE_TAG"), Some("HUMAN_AGENT"))
        );
    }

    #[test]
    fn messenger_menus_are_quick_replies() {
        let value = body(&ms(OutboundBody::List {
            text: "Pick".into(),
            button: "Open".into(),
            rows: choices(15, "Option "),
        }))
        .unwrap();
        let replies = value["message"]["quick_replies"].as_array().unwrap();
        assert_eq!(replies.len(), 13);
        assert_eq!(
            replies[0],
            json!({"content_type": "text", "title": "Option 0", "payload": "c0"})
        );
    }

    #[test]
    fn messenger_refuses_templates_and_maps_mark_read() {
        let error = body(&ms(OutboundBody::Template {
            name: "x".into(),
            language: "en".into(),
            body_params: vec![],
            category: None,
        }))
        .unwrap_err();
        assert_eq!(error.class, ErrorClass::Permanent);
        let value = body(&ms(OutboundBody::MarkRead {
            message_id: "m_1".into(),
            typing: true,
        }))
        .unwrap();
        assert_eq!(
            value,
            json!({"recipient": {"id": "6912345678901234"}, "sender_action": "typing_on"})
        );
    }

    #[test]
    fn truncate_keeps_short_text() {
        assert_eq!(truncate("hola", 4), "hola");
        assert_eq!(truncate("holas", 4), "hol…");
        assert_eq!(truncate("👍👍👍", 2), "👍…");
    }
}
