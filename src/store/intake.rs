//! The durable inbox: webhook deliveries and all their events, stored in one
//! transaction per batch of deliveries.
//!
//! Provider ids are unique keys, so a redelivered webhook changes nothing:
//! a message whose (channel, wamid/mid) is known is skipped, a status is
//! keyed by (message, status), an unknown event by the hash of its JSON. The
//! raw body is stored only when the delivery brought something new.
//!
//! Storing is batched (group commit, see `intake_batch`): a batch of
//! deliveries is written with a handful of multi-row statements
//! (`intake_sql`) instead of a few statements per event, and the result is
//! the same as storing the deliveries one after the other in batch order:
//! the first delivery to bring an event stores it, later ones count it as a
//! duplicate. A single delivery is simply a batch of one.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use super::intake_sql as sql;
use super::{Backend, Store, to_ms};
use crate::channels::model::{
    Channel, Direction, Event, InboundMessage, StatusUpdate, UnknownEvent,
};

/// One webhook delivery ready to be stored.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    /// The body exactly as received (already signature-checked).
    pub body: String,
    pub events: Vec<Event>,
}

/// What storing a delivery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Events stored for the first time, by (channel, kind) label.
    pub stored: Vec<(&'static str, &'static str)>,
    pub duplicates: usize,
    /// Conversations that received a new message that may need a reply.
    pub conversations_to_process: Vec<i64>,
}

impl Store {
    /// Stores a delivery and its events in one transaction of its own. When
    /// this returns `Ok`, everything is committed and the webhook may be
    /// acknowledged. The webhook handler goes through the group-commit
    /// writer instead ([`Store::ingest_queued`]).
    pub async fn ingest(&self, delivery: &NewDelivery) -> anyhow::Result<IngestOutcome> {
        let mut outcomes = self.ingest_batch(std::slice::from_ref(delivery)).await?;
        Ok(outcomes.pop().unwrap_or_default())
    }

    /// Stores several deliveries in ONE transaction and returns one outcome
    /// per delivery, in order. All or nothing: on `Err` nothing of the batch
    /// is committed.
    pub async fn ingest_batch(
        &self,
        deliveries: &[NewDelivery],
    ) -> anyhow::Result<Vec<IngestOutcome>> {
        let mut tx = self.begin_write().await?;
        let outcomes = ingest_in(&mut tx.tx, self.backend, deliveries).await?;
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// The identity of an event, for deduplication inside a batch and against
/// what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum EventKey {
    Message {
        channel: &'static str,
        id: String,
    },
    Status {
        channel: &'static str,
        id: String,
        status: &'static str,
    },
    Unknown {
        dedupe_key: String,
    },
}

impl EventKey {
    fn of(event: &Event) -> EventKey {
        match event {
            Event::Message(m) => EventKey::Message {
                channel: m.channel.as_str(),
                id: m.provider_message_id.clone(),
            },
            Event::Status(s) => EventKey::Status {
                channel: s.channel.as_str(),
                id: s.provider_message_id.clone(),
                status: s.status.as_str(),
            },
            Event::Unknown(u) => EventKey::Unknown {
                dedupe_key: unknown_key(u),
            },
        }
    }
}

/// An event new to the batch, with the delivery (index) that brought it.
pub(super) struct Candidate<'a> {
    pub delivery: usize,
    pub event: &'a Event,
    pub key: EventKey,
}

/// A new message with what its rows need.
pub(super) struct MessageRow<'a> {
    pub delivery: usize,
    pub delivery_id: i64,
    pub message: &'a InboundMessage,
    pub received_at: i64,
}

pub(super) struct StatusRow<'a> {
    pub delivery: usize,
    pub delivery_id: i64,
    pub status: &'a StatusUpdate,
}

pub(super) struct UnknownRow<'a> {
    pub delivery: usize,
    pub delivery_id: i64,
    pub event: &'a UnknownEvent,
    pub dedupe_key: &'a str,
}

async fn ingest_in(
    conn: &mut AnyConnection,
    backend: Backend,
    deliveries: &[NewDelivery],
) -> anyhow::Result<Vec<IngestOutcome>> {
    let mut outcomes = vec![IngestOutcome::default(); deliveries.len()];

    // Inside the batch, the first delivery to bring an event owns it.
    let mut seen = HashSet::new();
    let mut candidates = Vec::new();
    for (index, delivery) in deliveries.iter().enumerate() {
        for event in &delivery.events {
            let key = EventKey::of(event);
            if seen.insert(key.clone()) {
                candidates.push(Candidate {
                    delivery: index,
                    event,
                    key,
                });
            } else {
                outcomes[index].duplicates += 1;
            }
        }
    }

    // Against the database: one lookup per kind and channel.
    let known = sql::known_keys(conn, &candidates).await?;
    candidates.retain(|c| {
        let new = !known.contains(&c.key);
        if !new {
            outcomes[c.delivery].duplicates += 1;
        }
        new
    });
    if candidates.is_empty() {
        return Ok(outcomes);
    }

    // Raw bodies, only for deliveries that brought something new.
    let mut with_news: Vec<usize> = candidates.iter().map(|c| c.delivery).collect();
    with_news.dedup(); // candidates are in delivery order
    let ids =
        sql::insert_deliveries(conn, backend, with_news.iter().map(|&i| &deliveries[i])).await?;
    let delivery_ids: HashMap<usize, i64> = with_news.into_iter().zip(ids).collect();

    let mut messages = Vec::new();
    let mut statuses = Vec::new();
    let mut unknowns = Vec::new();
    for c in &candidates {
        let delivery_id = delivery_ids[&c.delivery];
        match (c.event, &c.key) {
            (Event::Message(message), _) => messages.push(MessageRow {
                delivery: c.delivery,
                delivery_id,
                message,
                received_at: to_ms(deliveries[c.delivery].received_at),
            }),
            (Event::Status(status), _) => statuses.push(StatusRow {
                delivery: c.delivery,
                delivery_id,
                status,
            }),
            (Event::Unknown(event), EventKey::Unknown { dedupe_key }) => {
                unknowns.push(UnknownRow {
                    delivery: c.delivery,
                    delivery_id,
                    event,
                    dedupe_key,
                })
            }
            (Event::Unknown(_), _) => unreachable!("an unknown event has an unknown-event key"),
        }
    }

    store_messages(conn, &messages, &mut outcomes).await?;
    store_statuses(conn, &statuses, &mut outcomes).await?;
    let inserted = sql::insert_unknowns(conn, &unknowns).await?;
    for (row, new) in unknowns.iter().zip(inserted) {
        record(
            &mut outcomes[row.delivery],
            new,
            row.event.channel,
            "unknown",
        );
    }
    Ok(outcomes)
}

/// Upserts the conversations (one row per conversation, merged in Rust) and
/// inserts the messages.
async fn store_messages(
    conn: &mut AnyConnection,
    rows: &[MessageRow<'_>],
    outcomes: &mut [IngestOutcome],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let conversations = sql::upsert_conversations(conn, &merge_conversations(rows)).await?;
    let conversation_of =
        |m: &InboundMessage| conversations[&(m.channel.as_str(), &*m.business_id, &*m.customer.id)];
    let conversation_ids: Vec<i64> = rows.iter().map(|r| conversation_of(r.message)).collect();
    let inserted = sql::insert_messages(conn, rows, &conversation_ids).await?;
    for ((row, new), conversation) in rows.iter().zip(inserted).zip(conversation_ids) {
        let m = row.message;
        // Not inserted: a concurrent instance stored it between lookup and insert.
        let kind = if m.direction == Direction::Echo {
            "echo"
        } else {
            "message"
        };
        let outcome = &mut outcomes[row.delivery];
        record(outcome, new, m.channel, kind);
        if new && m.triggers_reply() && !outcome.conversations_to_process.contains(&conversation) {
            outcome.conversations_to_process.push(conversation);
        }
    }
    Ok(())
}

/// One conversation upsert, merged from every new message of the batch.
pub(super) struct ConversationUpsert<'a> {
    pub channel: &'static str,
    pub business_id: &'a str,
    pub customer_id: &'a str,
    pub wa_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub last_customer_message_at: Option<i64>,
    pub referral_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Merges the batch's messages per conversation the way upserting them one
/// after the other would: names are filled in by the last message that has
/// them, customer and referral times only move forward, `updated_at` is the
/// last message's. PostgreSQL refuses to update one row twice in one
/// statement, so this also keeps the upsert valid.
fn merge_conversations<'a>(rows: &[MessageRow<'a>]) -> Vec<ConversationUpsert<'a>> {
    let mut merged: Vec<ConversationUpsert<'a>> = Vec::new();
    let mut index: HashMap<(&str, &str, &str), usize> = HashMap::new();
    for row in rows {
        let m = row.message;
        let sent_at = to_ms(m.timestamp);
        let customer_at = m.is_customer_activity().then_some(sent_at);
        let referral_at =
            (m.referral.is_some() && m.direction == Direction::Inbound).then_some(sent_at);
        let key = (
            m.channel.as_str(),
            m.business_id.as_str(),
            m.customer.id.as_str(),
        );
        match index.get(&key) {
            Some(&i) => {
                let c = &mut merged[i];
                c.wa_id = m.customer.wa_id.as_deref().or(c.wa_id);
                c.user_id = m.customer.user_id.as_deref().or(c.user_id);
                c.name = m.customer.name.as_deref().or(c.name);
                c.last_customer_message_at = c.last_customer_message_at.max(customer_at);
                c.referral_at = c.referral_at.max(referral_at);
                c.updated_at = row.received_at;
            }
            None => {
                index.insert(key, merged.len());
                merged.push(ConversationUpsert {
                    channel: key.0,
                    business_id: key.1,
                    customer_id: key.2,
                    wa_id: m.customer.wa_id.as_deref(),
                    user_id: m.customer.user_id.as_deref(),
                    name: m.customer.name.as_deref(),
                    last_customer_message_at: customer_at,
                    referral_at,
                    created_at: row.received_at,
                    updated_at: row.received_at,
                });
            }
        }
    }
    merged
}

/// Inserts the statuses and moves the outbox rows' delivery state forward
/// (never backwards: `read` stays `read` when a late `delivered` arrives).
async fn store_statuses(
    conn: &mut AnyConnection,
    rows: &[StatusRow<'_>],
    outcomes: &mut [IngestOutcome],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let inserted = sql::insert_statuses(conn, rows).await?;
    let mut applied = Vec::new();
    for (row, new) in rows.iter().zip(inserted) {
        let s = row.status;
        record(&mut outcomes[row.delivery], new, s.channel, "status");
        if new {
            applied.push(s);
        }
    }
    sql::advance_outbox(conn, &merge_outbox_updates(&applied)).await?;
    sql::set_pricing(conn, &last_pricing(&applied)).await?;
    for s in &applied {
        // A late `failed` with the window error: trust Meta over our clock.
        // Rare, so one statement each keeps "the last one wins" exact.
        if s.errors
            .iter()
            .any(|e| crate::conversation::is_window_error(s.channel, e.code, e.subcode))
        {
            sql::close_window(conn, s).await?;
        }
    }
    Ok(())
}

/// The outbox change a batch's statuses make to one sent message.
pub(super) struct OutboxAdvance<'a> {
    pub channel: &'static str,
    pub provider_message_id: &'a str,
    pub status: &'static str,
    pub rank: i64,
    pub error_code: Option<i64>,
    pub error_detail: Option<String>,
}

/// One update per sent message: the highest-ranked new status wins (the
/// rank only moves forward, so the lower ones would be overwritten anyway);
/// its error, or else the last error of an earlier status, is kept.
fn merge_outbox_updates<'a>(statuses: &[&'a StatusUpdate]) -> Vec<OutboxAdvance<'a>> {
    let mut merged: Vec<OutboxAdvance<'a>> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for s in statuses {
        let first_error = s.errors.first();
        let error_code = first_error.map(|e| e.code);
        let error_detail =
            first_error.and_then(|e| e.details.clone().or_else(|| e.message.clone()));
        let key = (s.channel.as_str(), s.provider_message_id.as_str());
        match index.get(&key) {
            Some(&i) => {
                let m = &mut merged[i];
                if s.status.rank() > m.rank {
                    m.status = s.status.as_str();
                    m.rank = s.status.rank();
                }
                if error_code.is_some() {
                    m.error_code = error_code;
                    m.error_detail = error_detail;
                }
            }
            None => {
                index.insert(key, merged.len());
                merged.push(OutboxAdvance {
                    channel: key.0,
                    provider_message_id: key.1,
                    status: s.status.as_str(),
                    rank: s.status.rank(),
                    error_code,
                    error_detail,
                });
            }
        }
    }
    merged
}

/// The last pricing type reported per sent message (pricing is not ranked).
fn last_pricing<'a>(statuses: &[&'a StatusUpdate]) -> Vec<(&'static str, &'a str, &'a str)> {
    let mut last: Vec<(&'static str, &'a str, &'a str)> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for s in statuses {
        let Some(pricing_type) = s.pricing.as_ref().and_then(|p| p.pricing_type.as_deref()) else {
            continue;
        };
        let key = (s.channel.as_str(), s.provider_message_id.as_str());
        match index.get(&key) {
            Some(&i) => last[i].2 = pricing_type,
            None => {
                index.insert(key, last.len());
                last.push((key.0, key.1, pricing_type));
            }
        }
    }
    last
}

fn record(outcome: &mut IngestOutcome, stored: bool, channel: Channel, kind: &'static str) {
    if stored {
        outcome.stored.push((channel.as_str(), kind));
    } else {
        outcome.duplicates += 1;
    }
}

/// Unknown events have no provider id: their JSON is their identity.
fn unknown_key(u: &UnknownEvent) -> String {
    let mut hasher = Sha256::new();
    hasher.update(u.channel.as_str());
    hasher.update(b"\0");
    hasher.update(u.kind.as_bytes());
    hasher.update(b"\0");
    hasher.update(u.raw.to_string().as_bytes());
    hex::encode(hasher.finalize())
}
