//! Graph API errors and what the sender should do about each.
//!
//! Meta's error titles change; codes do not. [`classify`] keys on the HTTP
//! status, `code` and `error_subcode` only, and is a pure function so the
//! whole table is unit-tested.

use std::time::Duration;

use serde::Deserialize;

/// What a failed send means for the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again later (throttling, server errors, network trouble);
    /// `retry_after` is Meta's hint when it sent one.
    Retryable { retry_after: Option<Duration> },
    /// The customer service window is closed: only a template may go out.
    WindowClosed,
    /// The access token is invalid or expired: stop sending and alert.
    TokenInvalid,
    /// The account is blocked for policy violations: stop sending and alert.
    PolicyBlocked,
    /// This message will never go through as it is.
    Permanent,
    /// The request may have reached Meta and no answer came back (a
    /// timeout or a connection lost after the request was written): Meta may
    /// have the message. Never retried, because a reply sent twice is worse
    /// than one a person checks.
    MaybeSent,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Retryable { .. } => "retryable",
            ErrorClass::WindowClosed => "window_closed",
            ErrorClass::TokenInvalid => "token_invalid",
            ErrorClass::PolicyBlocked => "policy_blocked",
            ErrorClass::Permanent => "permanent",
            ErrorClass::MaybeSent => "maybe_sent",
        }
    }
}

/// Throttling and transient server codes, on either channel.
const RETRYABLE_CODES: [i64; 12] = [
    1,      // API unknown (transient)
    2,      // API service (temporary downtime)
    4,      // application request limit
    613,    // calls to this API exceeded the rate limit (Messenger)
    80007,  // WhatsApp Business Account rate limit
    130429, // throughput limit
    131048, // spam rate limit: back off
    131056, // pair rate limit: pace per customer
    131000, // "something went wrong": Meta documents a retry
    131016, // service unavailable
    133004, // server temporarily unavailable
    17,     // user request limit
];
/// WhatsApp: more than 24 h since the customer last wrote.
const WA_WINDOW_CLOSED: i64 = 131047;
/// Messenger: code 10 with this subcode is a send outside the allowed window.
const MESSENGER_PERMISSION: i64 = 10;
const MESSENGER_OUTSIDE_WINDOW: i64 = 2018278;
const TOKEN_INVALID: i64 = 190;
const POLICY_BLOCKED: i64 = 368;

/// Classifies a Graph API failure. `http_status` is `None` when no response
/// arrived; `code` and `subcode` are `None` when the body had no error object.
pub fn classify(http_status: Option<u16>, code: Option<i64>, subcode: Option<i64>) -> ErrorClass {
    match code {
        Some(TOKEN_INVALID) => return ErrorClass::TokenInvalid,
        Some(POLICY_BLOCKED) => return ErrorClass::PolicyBlocked,
        Some(WA_WINDOW_CLOSED) => return ErrorClass::WindowClosed,
        Some(MESSENGER_PERMISSION) if subcode == Some(MESSENGER_OUTSIDE_WINDOW) => {
            return ErrorClass::WindowClosed;
        }
        Some(code) if RETRYABLE_CODES.contains(&code) => {
            return ErrorClass::Retryable { retry_after: None };
        }
        // A code Meta documents as final stays final whatever the HTTP status.
        Some(_) if http_status.is_some_and(|s| s < 500 && s != 429) => {
            return ErrorClass::Permanent;
        }
        _ => {}
    }
    match http_status {
        None => ErrorClass::Retryable { retry_after: None },
        Some(429) => ErrorClass::Retryable { retry_after: None },
        Some(status) if status >= 500 => ErrorClass::Retryable { retry_after: None },
        Some(_) => ErrorClass::Permanent,
    }
}

/// A failed send, with everything Meta said about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct GraphError {
    /// `None` when no response arrived (connect error, timeout).
    pub http_status: Option<u16>,
    pub code: Option<i64>,
    /// `error_subcode`.
    pub subcode: Option<i64>,
    pub message: String,
    /// `error_data.details`. Boxed strings keep the error small, as it
    /// travels in every `Result` of the send path.
    pub details: Option<Box<str>>,
    pub fbtrace_id: Option<Box<str>>,
    pub class: ErrorClass,
}

impl GraphError {
    /// A failure decided before or without Meta's answer.
    pub fn local(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            http_status: None,
            code: None,
            subcode: None,
            message: message.into(),
            details: None,
            fbtrace_id: None,
            class,
        }
    }

    /// Builds the error from an HTTP status and the response body (which
    /// may be empty or not JSON when a proxy answered).
    pub fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let parsed = serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .map(|b| b.error);
        let Some(error) = parsed else {
            let class = with_retry_after(classify(Some(status), None, None), retry_after);
            let snippet: String = String::from_utf8_lossy(body).chars().take(200).collect();
            return Self {
                http_status: Some(status),
                message: format!("HTTP {status}: {snippet}"),
                ..Self::local(class, "")
            };
        };
        let class = with_retry_after(
            classify(Some(status), error.code, error.error_subcode),
            retry_after,
        );
        Self {
            http_status: Some(status),
            code: error.code,
            subcode: error.error_subcode,
            message: error.message.unwrap_or_else(|| format!("HTTP {status}")),
            details: error.error_data.and_then(|d| d.details).map(Box::from),
            fbtrace_id: error.fbtrace_id.map(Box::from),
            class,
        }
    }

    /// A transport failure: nothing (or nothing readable) came back. Only a
    /// failure to connect proves the request never left, so only that one is
    /// retryable; anything later (a timeout, a reset, a closed connection) may
    /// have delivered the request to Meta.
    pub fn transport(error: &reqwest::Error) -> Self {
        Self::local(
            transport_class(error.is_connect()),
            transport_message(error),
        )
    }

    /// Meta's message, for alerts and health output.
    pub fn short_message(&self) -> &str {
        &self.message
    }

    /// Everything useful in one line: code, subcode, message, details, trace id.
    pub fn describe(&self) -> String {
        let mut out = match (self.code, self.http_status) {
            (Some(code), _) => format!("code {code}"),
            (None, Some(status)) => format!("HTTP {status}"),
            (None, None) => "no response".to_owned(),
        };
        if let Some(subcode) = self.subcode {
            out.push_str(&format!(" subcode {subcode}"));
        }
        out.push_str(&format!(" ({}): {}", self.class.as_str(), self.message));
        if let Some(details) = &self.details {
            out.push_str(&format!(": {details}"));
        }
        if let Some(trace) = &self.fbtrace_id {
            out.push_str(&format!(" [fbtrace_id {trace}]"));
        }
        out
    }
}

/// Retryable when the connection was never made, otherwise maybe sent.
fn transport_class(failed_to_connect: bool) -> ErrorClass {
    if failed_to_connect {
        ErrorClass::Retryable { retry_after: None }
    } else {
        ErrorClass::MaybeSent
    }
}

fn transport_message(error: &reqwest::Error) -> String {
    let what = if error.is_connect() {
        "could not connect"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    // Tokens are only in headers, never in the URL or the source's text.
    let source = std::error::Error::source(error)
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    format!("Graph API {what}{source}")
}

fn with_retry_after(class: ErrorClass, retry_after: Option<Duration>) -> ErrorClass {
    match class {
        ErrorClass::Retryable { .. } => ErrorClass::Retryable { retry_after },
        other => other,
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    message: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    error_data: Option<ErrorData>,
    fbtrace_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorData {
    details: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: ErrorClass = ErrorClass::Retryable { retry_after: None };

    #[test]
    fn classification_table() {
        type Case = (Option<u16>, Option<i64>, Option<i64>, ErrorClass);
        let cases: &[Case] = &[
            (Some(400), Some(131047), None, ErrorClass::WindowClosed),
            (Some(400), Some(10), Some(2018278), ErrorClass::WindowClosed),
            (Some(400), Some(10), None, ErrorClass::Permanent),
            (Some(401), Some(190), None, ErrorClass::TokenInvalid),
            (Some(400), Some(190), Some(463), ErrorClass::TokenInvalid),
            (Some(400), Some(368), None, ErrorClass::PolicyBlocked),
            (Some(429), Some(130429), None, RETRY),
            (Some(400), Some(131056), None, RETRY),
            (Some(400), Some(131048), None, RETRY),
            (Some(400), Some(4), None, RETRY),
            (Some(400), Some(613), None, RETRY),
            (Some(400), Some(80007), None, RETRY),
            (Some(500), Some(1), None, RETRY),
            (Some(503), Some(2), None, RETRY),
            (Some(400), Some(131026), None, ErrorClass::Permanent),
            (Some(400), Some(131049), None, ErrorClass::Permanent),
            (Some(400), Some(132000), None, ErrorClass::Permanent),
            (Some(404), Some(132001), None, ErrorClass::Permanent),
            (Some(400), Some(131051), None, ErrorClass::Permanent),
            (Some(400), Some(551), Some(1545041), ErrorClass::Permanent),
            (Some(400), Some(100), None, ErrorClass::Permanent),
            (Some(500), None, None, RETRY),
            (Some(502), Some(100), None, RETRY),
            (Some(429), None, None, RETRY),
            (None, None, None, RETRY),
            (Some(400), None, None, ErrorClass::Permanent),
            (Some(404), None, None, ErrorClass::Permanent),
        ];
        for &(status, code, subcode, expected) in cases {
            assert_eq!(
                classify(status, code, subcode),
                expected,
                "{status:?} {code:?} {subcode:?}"
            );
        }
    }

    #[test]
    fn parses_meta_error_body() {
        let body = br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,
            "error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed"},
            "fbtrace_id":"AbCdEf123"}}"#;
        let error = GraphError::from_response(400, body, None);
        assert_eq!(error.http_status, Some(400));
        assert_eq!(error.code, Some(131047));
        assert_eq!(error.subcode, None);
        assert_eq!(error.class, ErrorClass::WindowClosed);
        assert_eq!(error.short_message(), "(#131047) Re-engagement message");
        assert_eq!(
            error.details.as_deref(),
            Some("Message failed to send because more than 24 hours have passed")
        );
        assert_eq!(error.fbtrace_id.as_deref(), Some("AbCdEf123"));
        let described = error.describe();
        assert!(
            described.starts_with("code 131047 (window_closed): (#131047)"),
            "{described}"
        );
        assert!(described.contains("[fbtrace_id AbCdEf123]"), "{described}");
    }

    #[test]
    fn retry_after_is_kept_for_retryable_errors_only() {
        let wait = Some(Duration::from_secs(7));
        let throttled = GraphError::from_response(
            429,
            br#"{"error":{"message":"slow down","code":130429}}"#,
            wait,
        );
        assert_eq!(throttled.class, ErrorClass::Retryable { retry_after: wait });
        let closed = GraphError::from_response(400, br#"{"error":{"code":131047}}"#, wait);
        assert_eq!(closed.class, ErrorClass::WindowClosed);
    }

    #[test]
    fn non_json_error_bodies() {
        let error = GraphError::from_response(502, b"<html>Bad Gateway</html>", None);
        assert_eq!(error.class, RETRY);
        assert_eq!(error.code, None);
        assert!(error.message.contains("Bad Gateway"));
        assert!(error.describe().starts_with("HTTP 502"));
    }
}
