//! The webhook envelope shared by both channels, and the entry point the
//! HTTP handler calls.
//!
//! Only a body that is not a Meta webhook at all is refused. Once the
//! envelope is valid, every problem inside it (a message without an id, a
//! timestamp that does not parse) becomes an [`Event::Unknown`] with kind
//! `malformed:<reason>` and the raw JSON: refusing the delivery would make
//! Meta retry it for days while the good events in it wait.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::{Channel, Event, UnknownEvent};
use super::{messenger, whatsapp};

/// Why a webhook body was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("not a Meta webhook object: {0}")]
    NotWebhookObject(String),
}

/// Parses a signed webhook body received on the `endpoint` channel's URL
/// (`Channel::Messenger` also accepts Instagram deliveries).
pub fn parse_webhook(endpoint: Channel, body: &[u8]) -> Result<Vec<Event>, ParseError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    match endpoint {
        Channel::Whatsapp => whatsapp::parse(&value),
        Channel::Messenger | Channel::Instagram => messenger::parse(&value),
        Channel::Sandbox => Err(ParseError::NotWebhookObject(
            "the sandbox channel has no webhook".into(),
        )),
    }
}

/// Checks the `{"object": ..., "entry": [...]}` envelope and returns the
/// `object` name and the entries. `accepted` lists the objects this endpoint takes.
pub(crate) fn envelope<'a>(
    body: &'a Value,
    accepted: &[&str],
) -> Result<(&'a str, &'a [Value]), ParseError> {
    let object = body
        .get("object")
        .and_then(Value::as_str)
        .ok_or_else(|| ParseError::NotWebhookObject("no `object` string".into()))?;
    if !accepted.contains(&object) {
        return Err(ParseError::NotWebhookObject(format!(
            "object {object:?} is not accepted here (expected {})",
            accepted.join(" or ")
        )));
    }
    let entries = body
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| ParseError::NotWebhookObject("no `entry` array".into()))?;
    Ok((object, entries))
}

/// A string field, ignoring empty strings.
pub(crate) fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An owned string field, ignoring empty strings.
pub(crate) fn string_at(value: &Value, key: &str) -> Option<String> {
    str_at(value, key).map(str::to_owned)
}

/// An array field, empty when absent or not an array.
pub(crate) fn array_at<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// An id that Meta sends as a string but some tools send as a number.
pub(crate) fn id_at(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Unix seconds (WhatsApp, as a string) or milliseconds (Messenger, as a
/// number); both channels are lenient about the other representation.
pub(crate) fn timestamp_at(value: &Value, key: &str, unit: TimeUnit) -> Option<DateTime<Utc>> {
    let raw = match value.get(key)? {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    match unit {
        TimeUnit::Seconds => DateTime::from_timestamp(raw, 0),
        TimeUnit::Millis => DateTime::from_timestamp_millis(raw),
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum TimeUnit {
    Seconds,
    Millis,
}

/// An event that could not be understood but must be kept and acknowledged.
pub(crate) fn unknown(
    channel: Channel,
    business_id: Option<String>,
    kind: impl Into<String>,
    raw: &Value,
) -> Event {
    Event::Unknown(UnknownEvent {
        channel,
        business_id,
        kind: kind.into(),
        raw: raw.clone(),
    })
}

/// An [`unknown`] event for a part of a valid delivery that is broken.
pub(crate) fn malformed(
    channel: Channel,
    business_id: Option<String>,
    reason: &str,
    raw: &Value,
) -> Event {
    unknown(channel, business_id, format!("malformed:{reason}"), raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_json_is_refused() {
        assert!(matches!(
            parse_webhook(Channel::Whatsapp, b"{nope"),
            Err(ParseError::NotJson(_))
        ));
    }

    #[test]
    fn non_webhook_objects_are_refused() {
        let cases: [(Channel, &[u8]); 6] = [
            (Channel::Whatsapp, b"[]"),
            (Channel::Whatsapp, br#"{"entry":[]}"#),
            (
                Channel::Whatsapp,
                br#"{"object":"whatsapp_business_account"}"#,
            ),
            (Channel::Whatsapp, br#"{"object":"page","entry":[]}"#),
            (
                Channel::Messenger,
                br#"{"object":"whatsapp_business_account","entry":[]}"#,
            ),
            (Channel::Messenger, br#"{"object":"page","entry":{}}"#),
        ];
        for (endpoint, body) in cases {
            let result = parse_webhook(endpoint, body);
            assert!(
                matches!(result, Err(ParseError::NotWebhookObject(_))),
                "{endpoint} {}: {result:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn empty_entries_are_fine() {
        assert_eq!(
            parse_webhook(Channel::Messenger, br#"{"object":"instagram","entry":[]}"#),
            Ok(vec![])
        );
    }

    #[test]
    fn timestamps_in_both_units() {
        let v = serde_json::json!({"s": "1749416383", "n": 1458692752478_i64, "bad": "x"});
        assert_eq!(
            timestamp_at(&v, "s", TimeUnit::Seconds)
                .unwrap()
                .timestamp(),
            1749416383
        );
        assert_eq!(
            timestamp_at(&v, "n", TimeUnit::Millis)
                .unwrap()
                .timestamp_millis(),
            1458692752478
        );
        assert_eq!(timestamp_at(&v, "bad", TimeUnit::Seconds), None);
        assert_eq!(timestamp_at(&v, "missing", TimeUnit::Seconds), None);
    }
}
