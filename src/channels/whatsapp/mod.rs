//! WhatsApp Cloud API webhooks (`object: whatsapp_business_account`),
//! normalized into the channel-neutral [`Event`]s.
//!
//! One delivery holds entries, each entry changes, each `messages` change a
//! value with messages and statuses. Everything is walked; a change of
//! another field (`account_update`, template status...) is kept as an
//! unknown event. Customers are identified by their business-scoped user id
//! (BSUID) when Meta sends one and by `wa_id` otherwise, because usernames
//! make the phone number optional.

mod message;
mod status;
#[cfg(test)]
mod tests;

use serde_json::Value;

use super::model::{Channel, CustomerRef, Event};
use super::parse::{ParseError, array_at, envelope, malformed, str_at, string_at, unknown};

const OBJECT: &str = "whatsapp_business_account";
const CHANNEL: Channel = Channel::Whatsapp;

/// Normalizes a WhatsApp webhook body into events, in delivery order.
pub fn parse(body: &Value) -> Result<Vec<Event>, ParseError> {
    let (_, entries) = envelope(body, &[OBJECT])?;
    let mut events = Vec::new();
    for entry in entries {
        match entry.get("changes").and_then(Value::as_array) {
            Some(changes) => {
                for change in changes {
                    parse_change(change, &mut events);
                }
            }
            None => events.push(malformed(CHANNEL, None, "entry_without_changes", entry)),
        }
    }
    Ok(events)
}

fn parse_change(change: &Value, events: &mut Vec<Event>) {
    let value = change.get("value").unwrap_or(&Value::Null);
    let business_id = value
        .get("metadata")
        .and_then(|m| string_at(m, "phone_number_id"));
    let field = match str_at(change, "field") {
        Some(field) => field,
        None => {
            return events.push(malformed(
                CHANNEL,
                business_id,
                "change_without_field",
                change,
            ));
        }
    };
    let messages = value.get("messages").and_then(Value::as_array);
    let statuses = value.get("statuses").and_then(Value::as_array);
    if field != "messages" || (messages.is_none() && statuses.is_none()) {
        return events.push(unknown(
            CHANNEL,
            business_id,
            format!("field:{field}"),
            change,
        ));
    }
    let Some(business_id) = business_id else {
        return events.push(malformed(CHANNEL, None, "no_phone_number_id", change));
    };
    let contacts = array_at(value, "contacts");
    for raw in messages.into_iter().flatten() {
        events.push(message::parse(raw, &business_id, contacts));
    }
    for raw in statuses.into_iter().flatten() {
        events.push(status::parse(raw, &business_id));
    }
}

/// Who sent `message`: its `contacts[]` entry (matched by `wa_id` or
/// `user_id`, or the only contact) merged with the message's own `from` /
/// `from_user_id`. `None` when no identifier at all is present.
fn customer_of(message: &Value, contacts: &[Value]) -> Option<CustomerRef> {
    let (from_wa_id, from_user_id) = sender_ids(message);
    let contact = contacts
        .iter()
        .find(|c| {
            (from_wa_id.is_some() && str_at(c, "wa_id") == from_wa_id)
                || (from_user_id.is_some() && str_at(c, "user_id") == from_user_id)
        })
        .or(match contacts {
            [only] => Some(only),
            _ => None,
        });
    let profile = contact.and_then(|c| c.get("profile"));
    let wa_id = contact
        .and_then(|c| str_at(c, "wa_id"))
        .or(from_wa_id)
        .map(str::to_owned);
    let user_id = contact
        .and_then(|c| str_at(c, "user_id"))
        .or(from_user_id)
        .map(str::to_owned);
    let id = user_id.clone().or_else(|| wa_id.clone())?;
    Some(CustomerRef {
        id,
        wa_id,
        user_id,
        name: profile.and_then(|p| string_at(p, "name")),
        username: profile.and_then(|p| string_at(p, "username")),
    })
}

/// The message's own sender ids: `from` is a phone-based `wa_id`, unless it
/// holds a BSUID (which has a country prefix such as `US.`).
fn sender_ids(message: &Value) -> (Option<&str>, Option<&str>) {
    let from = str_at(message, "from");
    let user_id = str_at(message, "from_user_id").or_else(|| str_at(message, "user_id"));
    match from {
        Some(from) if is_bsuid(from) => (None, user_id.or(Some(from))),
        _ => (from, user_id),
    }
}

/// BSUIDs look like `US.13491208655302741918`; phone-based ids are digits.
pub(crate) fn is_bsuid(id: &str) -> bool {
    id.contains('.') && !id.chars().all(|c| c.is_ascii_digit())
}
