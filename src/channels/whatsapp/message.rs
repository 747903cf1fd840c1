//! `value.messages[]`: what a customer sent, by message `type`.

use serde_json::Value;

use super::{CHANNEL, customer_of};
use crate::channels::model::{Direction, Event, Forwarded, InboundMessage, MessageKind, Referral};
use crate::channels::parse::{TimeUnit, array_at, malformed, str_at, string_at, timestamp_at};

/// What the message says, independent of who sent it.
struct Content {
    kind: MessageKind,
    text: Option<String>,
    payload: Option<String>,
    reply_to: Option<String>,
}

impl Content {
    fn new(kind: MessageKind, text: Option<String>) -> Self {
        Self {
            kind,
            text,
            payload: None,
            reply_to: None,
        }
    }
}

pub(super) fn parse(raw: &Value, business_id: &str, contacts: &[Value]) -> Event {
    let business = || Some(business_id.to_owned());
    let Some(id) = string_at(raw, "id") else {
        return malformed(CHANNEL, business(), "message_without_id", raw);
    };
    let Some(timestamp) = timestamp_at(raw, "timestamp", TimeUnit::Seconds) else {
        return malformed(CHANNEL, business(), "bad_timestamp", raw);
    };
    let Some(customer) = customer_of(raw, contacts) else {
        return malformed(CHANNEL, business(), "no_customer_id", raw);
    };
    let Some(message_type) = str_at(raw, "type") else {
        return malformed(CHANNEL, business(), "message_without_type", raw);
    };
    let content = content_of(raw, message_type);
    let context = raw.get("context");
    Event::Message(InboundMessage {
        channel: CHANNEL,
        business_id: business_id.to_owned(),
        customer,
        provider_message_id: id,
        timestamp,
        direction: Direction::Inbound,
        kind: content.kind,
        text: content.text,
        payload: content.payload,
        reply_to: content
            .reply_to
            .or_else(|| context.and_then(|c| string_at(c, "id"))),
        forwarded: context.map(forwarded).unwrap_or_default(),
        referral: raw.get("referral").filter(|r| r.is_object()).map(referral),
        standby: false,
        raw: raw.clone(),
    })
}

fn content_of(raw: &Value, message_type: &str) -> Content {
    let body = raw.get(message_type).unwrap_or(&Value::Null);
    let caption = || string_at(body, "caption");
    match message_type {
        "text" => Content::new(MessageKind::Text, string_at(body, "body")),
        "interactive" => interactive(body),
        "button" => Content {
            payload: string_at(body, "payload"),
            ..Content::new(MessageKind::Button, string_at(body, "text"))
        },
        "image" => Content::new(MessageKind::Image, caption()),
        "video" => Content::new(MessageKind::Video, caption()),
        "audio" => Content::new(MessageKind::Audio, None),
        "document" => Content::new(MessageKind::Document, caption()),
        "sticker" => Content::new(MessageKind::Sticker, None),
        "location" => Content::new(MessageKind::Location, location_text(body)),
        "contacts" => Content::new(MessageKind::Contacts, shared_contact_names(raw)),
        "reaction" => Content {
            reply_to: string_at(body, "message_id"),
            ..Content::new(MessageKind::Reaction, string_at(body, "emoji"))
        },
        "order" => Content {
            payload: string_at(body, "catalog_id"),
            ..Content::new(MessageKind::Order, string_at(body, "text"))
        },
        "system" => Content::new(MessageKind::System, string_at(body, "body")),
        "unsupported" => Content::new(MessageKind::Unsupported, None),
        other => Content::new(MessageKind::Other(other.to_owned()), None),
    }
}

/// Button and list replies carry the tapped title (what the customer saw)
/// and the id the business gave it; flow replies carry their JSON answer.
fn interactive(body: &Value) -> Content {
    let reply = ["button_reply", "list_reply"]
        .iter()
        .find_map(|key| body.get(*key));
    match (reply, body.get("nfm_reply")) {
        (Some(reply), _) => Content {
            payload: string_at(reply, "id"),
            ..Content::new(MessageKind::Interactive, string_at(reply, "title"))
        },
        (None, Some(flow)) => Content {
            payload: string_at(flow, "response_json"),
            ..Content::new(MessageKind::Interactive, string_at(flow, "body"))
        },
        (None, None) => Content::new(MessageKind::Interactive, None),
    }
}

/// `name, address` of a shared place; a bare pin has no text.
fn location_text(body: &Value) -> Option<String> {
    let parts: Vec<&str> = ["name", "address"]
        .iter()
        .filter_map(|k| str_at(body, k))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The names of the shared contact cards, comma-separated.
fn shared_contact_names(raw: &Value) -> Option<String> {
    let names: Vec<&str> = array_at(raw, "contacts")
        .iter()
        .filter_map(|c| c.get("name").and_then(|n| str_at(n, "formatted_name")))
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

fn forwarded(context: &Value) -> Forwarded {
    let flag = |key| context.get(key).and_then(Value::as_bool).unwrap_or(false);
    if flag("frequently_forwarded") {
        Forwarded::FrequentlyForwarded
    } else if flag("forwarded") {
        Forwarded::Forwarded
    } else {
        Forwarded::No
    }
}

fn referral(raw: &Value) -> Referral {
    Referral {
        source_url: string_at(raw, "source_url"),
        source_id: string_at(raw, "source_id"),
        source_type: string_at(raw, "source_type"),
        headline: string_at(raw, "headline"),
        body: string_at(raw, "body"),
        media_type: string_at(raw, "media_type"),
        ctwa_clid: string_at(raw, "ctwa_clid"),
    }
}
