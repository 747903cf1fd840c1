//! The webhook envelope shared by both channels, and the entry point the
//! HTTP handler calls.
//!
//! Only a body that is not a Meta webhook at all is refused. Once the
//! envelope is valid, every problem inside it (a message without an id, a
//! timestamp that does not parse) becomes an [`Event::Unknown`] with kind
//! `malformed:<reason>` and the raw JSON: refusing the delivery would make
//! Meta retry it for days while the good events in it wait.
//!
//! Two kinds of text that JSON allows but storage does not are handled here,
//! once, so that both backends store the same thing:
//! - NUL characters (`\u0000`), which PostgreSQL's text type refuses, are
//!   dropped from every string of the delivery (the raw body keeps them as
//!   the escape it was sent with);
//! - a lone surrogate escape (`"\ud800"`), which is not a character at all,
//!   makes the body unreadable for serde; such a delivery is read with the
//!   escape replaced by U+FFFD, and each of its entries is kept as a
//!   `malformed:invalid-escape` event instead of being refused.

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
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            drop_nul(&mut value);
            parse_value(endpoint, &value)
        }
        Err(error) => {
            let not_json = || ParseError::NotJson(error.to_string());
            let repaired = replace_lone_surrogates(body).ok_or_else(not_json)?;
            let mut value: Value = serde_json::from_slice(&repaired).map_err(|_| not_json())?;
            drop_nul(&mut value);
            malformed_entries(endpoint, &value)
        }
    }
}

/// A delivery whose text had to be repaired: one malformed event per entry.
fn malformed_entries(endpoint: Channel, value: &Value) -> Result<Vec<Event>, ParseError> {
    let accepted: &[&str] = match endpoint {
        Channel::Whatsapp => &["whatsapp_business_account"],
        _ => &["page", "instagram"],
    };
    let (object, entries) = envelope(value, accepted)?;
    let channel = match (endpoint, object) {
        (Channel::Whatsapp, _) => Channel::Whatsapp,
        (_, "instagram") => Channel::Instagram,
        _ => Channel::Messenger,
    };
    Ok(entries
        .iter()
        .map(|entry| malformed(channel, id_at(entry, "id"), "invalid-escape", entry))
        .collect())
}

/// Removes NUL characters from every string and key.
fn drop_nul(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('\0') => s.retain(|c| c != '\0'),
        Value::Array(items) => items.iter_mut().for_each(drop_nul),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (key, item) in old {
                    map.insert(key.replace('\0', ""), item);
                }
            }
            map.values_mut().for_each(drop_nul);
        }
        _ => {}
    }
}

/// The body with every `\uXXXX` escape of an unpaired surrogate replaced by
/// `\ufffd`; `None` when there was none (the body is broken some other way).
fn replace_lone_surrogates(body: &[u8]) -> Option<Vec<u8>> {
    let hex = |at: usize| -> Option<u16> {
        let digits = body.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let escape_at = |at: usize| -> Option<u16> {
        (body.get(at) == Some(&b'\\') && body.get(at + 1) == Some(&b'u'))
            .then(|| hex(at + 2))
            .flatten()
    };
    let mut out = Vec::with_capacity(body.len());
    let (mut i, mut in_string, mut changed) = (0, false, false);
    while i < body.len() {
        let byte = body[i];
        if !in_string {
            in_string = byte == b'"';
            out.push(byte);
            i += 1;
            continue;
        }
        match byte {
            b'"' => in_string = false,
            b'\\' => {
                let Some(unit) = escape_at(i) else {
                    // Another escape: copy it whole so `\\` never starts one.
                    out.extend_from_slice(&body[i..(i + 2).min(body.len())]);
                    i += 2;
                    continue;
                };
                let high = (0xD800..0xDC00).contains(&unit);
                let paired =
                    high && escape_at(i + 6).is_some_and(|low| (0xDC00..0xE000).contains(&low));
                if paired {
                    out.extend_from_slice(&body[i..i + 12]);
                    i += 12;
                } else if (0xD800..0xE000).contains(&unit) {
                    out.extend_from_slice(b"\\ufffd");
                    changed = true;
                    i += 6;
                } else {
                    out.extend_from_slice(&body[i..i + 6]);
                    i += 6;
                }
                continue;
            }
            _ => {}
        }
        out.push(byte);
        i += 1;
    }
    changed.then_some(out)
}

fn parse_value(endpoint: Channel, value: &Value) -> Result<Vec<Event>, ParseError> {
    match endpoint {
        Channel::Whatsapp => whatsapp::parse(value),
        Channel::Messenger | Channel::Instagram => messenger::parse(value),
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
    fn nul_characters_are_dropped_from_every_string() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"2"},"contacts":[{"profile":{"name":"A\u0000na"},"wa_id":"5"}],"messages":[{"from":"5","id":"wamid.N","timestamp":"1749416383","type":"text","text":{"body":"ho\u0000la"}}]}}]}]}"#;
        let events = parse_webhook(Channel::Whatsapp, body).unwrap();
        let debug = format!("{events:?}");
        assert!(!debug.contains('\0') && !debug.contains("\\0"), "{debug}");
        assert!(debug.contains("hola") && debug.contains("Ana"), "{debug}");
    }

    #[test]
    fn lone_surrogates_make_malformed_entries_not_a_refusal() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"77","changes":[{"field":"messages","value":{"messages":[{"from":"5","id":"wamid.S","timestamp":"1","type":"text","text":{"body":"x \ud800 y \ud83d\ude00"}}]}}]}]}"#;
        let events = parse_webhook(Channel::Whatsapp, body).unwrap();
        assert_eq!(events.len(), 1);
        let Event::Unknown(event) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(event.kind, "malformed:invalid-escape");
        assert_eq!(event.business_id.as_deref(), Some("77"));
        let text = event.raw.to_string();
        assert!(text.contains('\u{fffd}') && text.contains('😀'), "{text}");
    }

    #[test]
    fn surrogate_repair_leaves_pairs_and_other_escapes_alone() {
        assert_eq!(
            replace_lone_surrogates(br#"{"a":"\ud83d\ude00 \\ud800"}"#),
            None
        );
        assert_eq!(
            replace_lone_surrogates(br#"{"a":"\udc00\ud800x"}"#).unwrap(),
            br#"{"a":"\ufffd\ufffdx"}"#
        );
        // A broken body stays broken.
        assert!(matches!(
            parse_webhook(Channel::Whatsapp, br#"{"object":"\ud800""#),
            Err(ParseError::NotJson(_))
        ));
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
