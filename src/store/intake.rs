//! The durable inbox: one webhook delivery, all its events, one transaction.
//!
//! Provider ids are unique keys, so a redelivered webhook changes nothing:
//! a message whose (channel, wamid/mid) is known is skipped, a status is
//! keyed by (message, status), an unknown event by the hash of its JSON. The
//! raw body is stored only when the delivery brought something new.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use super::{Store, to_ms};
use crate::channels::model::{
    Channel, Direction, Event, Forwarded, InboundMessage, StatusUpdate, UnknownEvent,
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
    /// Stores a delivery and its events in one transaction. When this
    /// returns `Ok`, everything is committed and the webhook may be acknowledged.
    pub async fn ingest(&self, delivery: &NewDelivery) -> anyhow::Result<IngestOutcome> {
        let mut tx = self.begin_write().await?;
        let outcome = ingest_in(&mut tx.tx, delivery).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

async fn ingest_in(conn: &mut AnyConnection, delivery: &NewDelivery) -> anyhow::Result<IngestOutcome> {
    let mut outcome = IngestOutcome::default();
    let mut delivery_id: Option<i64> = None;
    for event in &delivery.events {
        if event_is_known(conn, event).await? {
            outcome.duplicates += 1;
            continue;
        }
        let id = match delivery_id {
            Some(id) => id,
            None => {
                let id = insert_delivery(conn, delivery).await?;
                delivery_id = Some(id);
                id
            }
        };
        let stored = match event {
            Event::Message(message) => {
                let conversation = store_message(conn, id, message, delivery.received_at).await?;
                if let Some(conversation) = conversation
                    && message.triggers_reply()
                    && !outcome.conversations_to_process.contains(&conversation)
                {
                    outcome.conversations_to_process.push(conversation);
                }
                conversation.is_some()
            }
            Event::Status(status) => store_status(conn, id, status).await?,
            Event::Unknown(unknown) => store_unknown(conn, id, unknown).await?,
        };
        if stored {
            outcome.stored.push((event.channel().as_str(), event.kind()));
        } else {
            outcome.duplicates += 1;
        }
    }
    Ok(outcome)
}

async fn event_is_known(conn: &mut AnyConnection, event: &Event) -> sqlx::Result<bool> {
    let found = match event {
        Event::Message(m) => {
            sqlx::query("SELECT 1 FROM messages WHERE channel = $1 AND provider_message_id = $2")
                .bind(m.channel.as_str())
                .bind(&m.provider_message_id)
                .fetch_optional(&mut *conn)
                .await?
        }
        Event::Status(s) => {
            sqlx::query("SELECT 1 FROM statuses WHERE channel = $1 AND provider_message_id = $2 AND status = $3")
                .bind(s.channel.as_str())
                .bind(&s.provider_message_id)
                .bind(s.status.as_str())
                .fetch_optional(&mut *conn)
                .await?
        }
        Event::Unknown(u) => {
            sqlx::query("SELECT 1 FROM unknown_events WHERE dedupe_key = $1")
                .bind(unknown_key(u))
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    Ok(found.is_some())
}

async fn insert_delivery(conn: &mut AnyConnection, delivery: &NewDelivery) -> sqlx::Result<i64> {
    sqlx::query_scalar("INSERT INTO webhook_deliveries (channel, received_at, body) VALUES ($1, $2, $3) RETURNING id")
        .bind(delivery.channel.as_str())
        .bind(to_ms(delivery.received_at))
        .bind(&delivery.body)
        .fetch_one(&mut *conn)
        .await
}

/// Upserts the conversation and inserts the message; `None` if the message
/// was already stored (a concurrent instance won the race).
async fn store_message(
    conn: &mut AnyConnection,
    delivery_id: i64,
    m: &InboundMessage,
    received_at: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    let sent_at = to_ms(m.timestamp);
    let customer_at = m.is_customer_activity().then_some(sent_at);
    let referral_at = (m.referral.is_some() && m.direction == Direction::Inbound).then_some(sent_at);
    let now = to_ms(received_at);
    // Out-of-order safe: the last customer time only ever moves forward, and
    // names are only filled in, never blanked by a payload that lacks them.
    let conversation_id: i64 = sqlx::query_scalar(
        "INSERT INTO conversations (channel, business_id, customer_id, customer_wa_id, customer_user_id, \
             customer_name, last_customer_message_at, referral_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
         ON CONFLICT (channel, business_id, customer_id) DO UPDATE SET \
             customer_wa_id = COALESCE(excluded.customer_wa_id, conversations.customer_wa_id), \
             customer_user_id = COALESCE(excluded.customer_user_id, conversations.customer_user_id), \
             customer_name = COALESCE(excluded.customer_name, conversations.customer_name), \
             last_customer_message_at = CASE \
                 WHEN conversations.last_customer_message_at IS NULL \
                   OR excluded.last_customer_message_at > conversations.last_customer_message_at \
                 THEN COALESCE(excluded.last_customer_message_at, conversations.last_customer_message_at) \
                 ELSE conversations.last_customer_message_at END, \
             referral_at = CASE \
                 WHEN conversations.referral_at IS NULL \
                   OR excluded.referral_at > conversations.referral_at \
                 THEN COALESCE(excluded.referral_at, conversations.referral_at) \
                 ELSE conversations.referral_at END, \
             updated_at = excluded.updated_at \
         RETURNING id",
    )
    .bind(m.channel.as_str())
    .bind(&m.business_id)
    .bind(&m.customer.id)
    .bind(m.customer.wa_id.as_deref())
    .bind(m.customer.user_id.as_deref())
    .bind(m.customer.name.as_deref())
    .bind(customer_at)
    .bind(referral_at)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;

    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, channel, provider_message_id, direction, kind, body, payload, \
             reply_to, forwarded, referral, standby, triggers_reply, sent_at, received_at, delivery_id, raw) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (channel, provider_message_id) DO NOTHING RETURNING id",
    )
    .bind(conversation_id)
    .bind(m.channel.as_str())
    .bind(&m.provider_message_id)
    .bind(match m.direction {
        Direction::Inbound => "inbound",
        Direction::Echo => "echo",
    })
    .bind(m.kind.as_str())
    .bind(m.text.as_deref())
    .bind(m.payload.as_deref())
    .bind(m.reply_to.as_deref())
    .bind(match m.forwarded {
        Forwarded::No => "no",
        Forwarded::Forwarded => "forwarded",
        Forwarded::FrequentlyForwarded => "frequently_forwarded",
    })
    .bind(m.referral.as_ref().map(|r| serde_json::to_string(r).unwrap_or_default()))
    .bind(m.standby)
    .bind(m.triggers_reply())
    .bind(sent_at)
    .bind(now)
    .bind(delivery_id)
    .bind(m.raw.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(inserted.map(|_| conversation_id))
}

/// Stores a status event and moves the outbox row's delivery state forward
/// (never backwards: `read` stays `read` when a late `delivered` arrives).
async fn store_status(conn: &mut AnyConnection, delivery_id: i64, s: &StatusUpdate) -> sqlx::Result<bool> {
    let first_error = s.errors.first();
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO statuses (channel, business_id, provider_message_id, status, status_rank, at, recipient_id, \
             error_code, errors, pricing_type, pricing_category, delivery_id, raw) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (channel, provider_message_id, status) DO NOTHING RETURNING id",
    )
    .bind(s.channel.as_str())
    .bind(&s.business_id)
    .bind(&s.provider_message_id)
    .bind(s.status.as_str())
    .bind(s.status.rank())
    .bind(to_ms(s.timestamp))
    .bind(s.recipient_id.as_deref())
    .bind(first_error.map(|e| e.code))
    .bind((!s.errors.is_empty()).then(|| serde_json::to_string(&s.errors).unwrap_or_default()))
    .bind(s.pricing.as_ref().and_then(|p| p.pricing_type.clone()))
    .bind(s.pricing.as_ref().and_then(|p| p.category.clone()))
    .bind(delivery_id)
    .bind(s.raw.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_none() {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE outbox SET delivery_status = $1, status_rank = $2, \
             error_code = COALESCE($3, error_code), error_detail = COALESCE($4, error_detail) \
         WHERE channel = $5 AND provider_message_id = $6 AND status_rank < $2",
    )
    .bind(s.status.as_str())
    .bind(s.status.rank())
    .bind(first_error.map(|e| e.code))
    .bind(first_error.and_then(|e| e.details.clone().or_else(|| e.message.clone())))
    .bind(s.channel.as_str())
    .bind(&s.provider_message_id)
    .execute(&mut *conn)
    .await?;
    if let Some(pricing_type) = s.pricing.as_ref().and_then(|p| p.pricing_type.as_deref()) {
        sqlx::query("UPDATE outbox SET pricing_type = $1 WHERE channel = $2 AND provider_message_id = $3")
            .bind(pricing_type)
            .bind(s.channel.as_str())
            .bind(&s.provider_message_id)
            .execute(&mut *conn)
            .await?;
    }
    if s.errors.iter().any(|e| crate::conversation::is_window_error(s.channel, e.code, e.subcode)) {
        // A late `failed` with the window error: trust Meta over our clock.
        sqlx::query(
            "UPDATE conversations SET window_error_at = $1 WHERE id IN \
                 (SELECT conversation_id FROM outbox WHERE channel = $2 AND provider_message_id = $3)",
        )
        .bind(to_ms(s.timestamp))
        .bind(s.channel.as_str())
        .bind(&s.provider_message_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}

async fn store_unknown(conn: &mut AnyConnection, delivery_id: i64, u: &UnknownEvent) -> sqlx::Result<bool> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO unknown_events (channel, business_id, kind, dedupe_key, delivery_id, raw) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(u.channel.as_str())
    .bind(u.business_id.as_deref())
    .bind(&u.kind)
    .bind(unknown_key(u))
    .bind(delivery_id)
    .bind(u.raw.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(inserted.is_some())
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
