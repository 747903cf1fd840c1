//! Messenger Platform webhooks (`object: page`) and Instagram messaging
//! (`object: instagram`), normalized into the channel-neutral [`Event`]s.
//!
//! Both products share one shape: `entry[].messaging[]` (or `standby[]` when
//! another app owns the thread), one event per item, timestamps in
//! milliseconds. Messages, postbacks, reactions and the page's own echoes
//! become messages; delivery and read receipts, standalone referrals and the
//! rest are kept as unknown events rather than turned into statuses Meta never
//! promised.

mod message;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::{Channel, CustomerRef, Direction, Event, Referral};
use super::parse::{
    ParseError, TimeUnit, array_at, envelope, id_at, malformed, str_at, string_at, timestamp_at,
    unknown,
};

/// Events under these keys are understood; every other key names an unknown event.
const UNDERSTOOD: [&str; 3] = ["message", "postback", "reaction"];

/// Normalizes a Messenger or Instagram webhook body into events, in delivery order.
pub fn parse(body: &Value) -> Result<Vec<Event>, ParseError> {
    let (object, entries) = envelope(body, &["page", "instagram"])?;
    let channel = if object == "instagram" {
        Channel::Instagram
    } else {
        Channel::Messenger
    };
    let mut events = Vec::new();
    for entry in entries {
        let entry_id = id_at(entry, "id");
        let messaging = entry.get("messaging").and_then(Value::as_array);
        let standby = entry.get("standby").and_then(Value::as_array);
        let changes = entry.get("changes").and_then(Value::as_array);
        if messaging.is_none() && standby.is_none() && changes.is_none() {
            events.push(malformed(
                channel,
                entry_id.clone(),
                "entry_without_messaging",
                entry,
            ));
        }
        let items = messaging.into_iter().flatten().map(|item| (item, false));
        let standby_items = standby.into_iter().flatten().map(|item| (item, true));
        for (item, standby) in items.chain(standby_items) {
            let ctx = Context {
                channel,
                entry_id: entry_id.as_deref(),
                standby,
            };
            events.push(ctx.parse_item(item));
        }
        // Instagram comments and page feed changes arrive as `changes[]`.
        for change in changes.into_iter().flatten() {
            let field = str_at(change, "field").unwrap_or("missing");
            events.push(unknown(
                channel,
                entry_id.clone(),
                format!("field:{field}"),
                change,
            ));
        }
    }
    Ok(events)
}

/// Where a `messaging[]` item came from.
struct Context<'a> {
    channel: Channel,
    entry_id: Option<&'a str>,
    standby: bool,
}

/// The fields every `messaging[]` item has, checked once.
struct Envelope {
    sender: String,
    recipient: Option<String>,
    timestamp: DateTime<Utc>,
}

impl Context<'_> {
    fn parse_item(&self, item: &Value) -> Event {
        let kind = UNDERSTOOD
            .iter()
            .find(|key| item.get(**key).is_some_and(Value::is_object));
        let Some(kind) = kind else {
            let key = event_key(item).unwrap_or("missing");
            return unknown(
                self.channel,
                self.page_id(item),
                format!("messaging:{key}"),
                item,
            );
        };
        let Some(envelope) = self.envelope(item) else {
            let reason = if timestamp_at(item, "timestamp", TimeUnit::Millis).is_none() {
                "bad_timestamp"
            } else {
                "no_sender"
            };
            return malformed(self.channel, self.page_id(item), reason, item);
        };
        match *kind {
            "message" => message::message(self, &envelope, item),
            "postback" => message::postback(self, &envelope, item),
            _ => message::reaction(self, &envelope, item),
        }
    }

    fn envelope(&self, item: &Value) -> Option<Envelope> {
        Some(Envelope {
            sender: item.get("sender").and_then(|s| id_at(s, "id"))?,
            recipient: item.get("recipient").and_then(|r| id_at(r, "id")),
            timestamp: timestamp_at(item, "timestamp", TimeUnit::Millis)?,
        })
    }

    /// The page of an item whose shape we do not trust: the recipient of a
    /// customer's event, else the entry id.
    fn page_id(&self, item: &Value) -> Option<String> {
        item.get("recipient")
            .and_then(|r| id_at(r, "id"))
            .or_else(|| self.entry_id.map(str::to_owned))
    }

    /// The page and the customer of an event. A customer's event goes to
    /// the page (the entry id when the recipient is missing); an echo comes
    /// from the page and goes to the customer. `None` without a customer.
    fn parties(&self, envelope: &Envelope, direction: Direction) -> Option<(String, CustomerRef)> {
        let (page, customer) = match direction {
            Direction::Inbound => (
                envelope.recipient.as_deref().or(self.entry_id),
                envelope.sender.as_str(),
            ),
            Direction::Echo => (
                Some(envelope.sender.as_str()),
                envelope.recipient.as_deref()?,
            ),
        };
        let customer = CustomerRef {
            id: customer.to_owned(),
            ..CustomerRef::default()
        };
        Some((page?.to_owned(), customer))
    }
}

/// The first key of an item that is not part of the envelope, e.g. `delivery`.
fn event_key(item: &Value) -> Option<&str> {
    let object = item.as_object()?;
    object
        .keys()
        .map(String::as_str)
        .find(|k| !matches!(*k, "sender" | "recipient" | "timestamp"))
}

/// A provider id for events Meta sends without one (old postbacks,
/// reactions): the same event always gets the same id, so redeliveries
/// deduplicate.
fn synthetic_id(prefix: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("{prefix}.{}", hex::encode(&hasher.finalize()[..12]))
}

/// Click-to-Messenger ad or `m.me` link data. Messenger says `ADS` where
/// WhatsApp says `ad`; both normalize to `ad` so window rules read one value.
fn referral(raw: &Value) -> Referral {
    let ads = raw.get("ads_context_data").unwrap_or(&Value::Null);
    let source_type = str_at(raw, "source").map(|s| match s {
        "ADS" => "ad".to_owned(),
        other => other.to_ascii_lowercase(),
    });
    let media_type = if ads.get("video_url").is_some() {
        Some("video".to_owned())
    } else {
        ads.get("photo_url").map(|_| "image".to_owned())
    };
    Referral {
        source_url: string_at(ads, "photo_url").or_else(|| string_at(ads, "video_url")),
        source_id: id_at(raw, "ad_id"),
        source_type,
        headline: string_at(ads, "ad_title"),
        body: string_at(raw, "ref"),
        media_type,
        ctwa_clid: None,
    }
}

/// Referral data of an event: on the event itself, or inside its message or postback.
fn referral_of(item: &Value) -> Option<Referral> {
    ["message", "postback"]
        .iter()
        .filter_map(|key| item.get(*key).and_then(|v| v.get("referral")))
        .chain(item.get("referral"))
        .find(|r| r.is_object())
        .map(referral)
}

/// The attachments of a message (possibly none).
fn attachments(message: &Value) -> &[Value] {
    array_at(message, "attachments")
}
