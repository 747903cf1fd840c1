//! The outbox: every outbound message is a row written in the same
//! transaction as the decision that caused it, then delivered by the sender.
//!
//! A row moves `pending → sending → sent` (or `failed` / `window_closed`).
//! Claiming sets a lease; a row whose lease expired while `sending` is
//! ambiguous (the process died mid-request: Meta may or may not have the
//! message) and becomes `unknown` instead of being sent again, because a
//! reply sent twice is worse than one flagged for a person to check.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::AnyConnection;

use super::claim::{IdMatch, claim, claimed_ids};
use super::{Store, from_ms, to_ms};
use crate::channels::outbound::{OutboundBody, OutboundMessage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Sending,
    Sent,
    Failed,
    /// Meta refused it as outside the window: a template is needed.
    WindowClosed,
    /// The sender died mid-request: not retried automatically.
    Unknown,
    /// Waiting for something (e.g. the customer to answer a re-engagement template).
    Held,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
            OutboxState::WindowClosed => "window_closed",
            OutboxState::Unknown => "unknown",
            OutboxState::Held => "held",
        }
    }

    pub fn parse(s: &str) -> OutboxState {
        match s {
            "sending" => OutboxState::Sending,
            "sent" => OutboxState::Sent,
            "failed" => OutboxState::Failed,
            "window_closed" => OutboxState::WindowClosed,
            "unknown" => OutboxState::Unknown,
            "held" => OutboxState::Held,
            _ => OutboxState::Pending,
        }
    }
}

/// A message to put in the outbox.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub conversation_id: Option<i64>,
    pub message: OutboundMessage,
    /// Why it is sent: `reply`, `ack`, `mark_read`, `agent`, `keepalive`, ...
    pub purpose: String,
    /// Makes the enqueue idempotent (e.g. one reply per turn).
    pub dedupe_key: Option<String>,
    pub not_before: DateTime<Utc>,
    pub state: OutboxState,
}

/// A claimed or listed outbox row.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub conversation_id: Option<i64>,
    pub message: OutboundMessage,
    pub purpose: String,
    pub state: OutboxState,
    pub attempts: i64,
    pub provider_message_id: Option<String>,
    pub delivery_status: Option<String>,
    pub error_code: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Why a send did not succeed, as recorded on the row.
#[derive(Debug, Clone)]
pub struct SendFailure {
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub detail: String,
}

/// Messages to one customer leave in order: only the oldest unsent row of
/// each recipient may be claimed (retries and pacing never reorder replies).
const HEAD_OF_RECIPIENT_QUEUE: &str = "NOT EXISTS (SELECT 1 FROM outbox AS earlier \
     WHERE earlier.channel = outbox.channel AND earlier.recipient = outbox.recipient \
     AND earlier.id < outbox.id AND earlier.state IN ('pending', 'sending'))";

const COLUMNS: &str = "id, conversation_id, payload, purpose, state, attempts, provider_message_id, \
     delivery_status, error_code, created_at, sent_at";

type Raw = (
    i64,
    Option<i64>,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    Option<i64>,
);

fn from_raw(r: Raw) -> anyhow::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.0,
        conversation_id: r.1,
        message: serde_json::from_str(&r.2)?,
        purpose: r.3,
        state: OutboxState::parse(&r.4),
        attempts: r.5,
        provider_message_id: r.6,
        delivery_status: r.7,
        error_code: r.8,
        created_at: from_ms(r.9),
        sent_at: r.10.map(from_ms),
    })
}

/// Inside the caller's transaction: adds a row. Returns `None` when a row
/// with the same dedupe key exists (the decision was already made).
pub async fn enqueue(
    conn: &mut AnyConnection,
    new: &NewOutbound,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let template_category = match &new.message.body {
        OutboundBody::Template { category, .. } => category.clone(),
        _ => None,
    };
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO outbox (conversation_id, channel, business_id, recipient, kind, purpose, payload, dedupe_key, \
             state, next_attempt_at, template_category, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(new.conversation_id)
    .bind(new.message.channel.as_str())
    .bind(&new.message.business_id)
    .bind(&new.message.recipient)
    .bind(new.message.body.kind())
    .bind(&new.purpose)
    .bind(serde_json::to_string(&new.message)?)
    .bind(new.dedupe_key.as_deref())
    .bind(new.state.as_str())
    .bind(to_ms(new.not_before))
    .bind(template_category)
    .bind(to_ms(now))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id)
}

impl Store {
    /// Adds one row in its own transaction.
    pub async fn enqueue(
        &self,
        new: &NewOutbound,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let id = enqueue(&mut tx.tx, new, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims up to `limit` due rows with a lease; several instances never
    /// claim the same row.
    pub async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> anyhow::Result<Vec<OutboxRow>> {
        let due = format!(
            "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $2 \
             AND {HEAD_OF_RECIPIENT_QUEUE} ORDER BY next_attempt_at, id LIMIT $3"
        );
        let sql = format!(
            "UPDATE outbox SET state = 'sending', lease_until = $1, attempts = attempts + 1 \
             WHERE {} AND state = 'pending' RETURNING {COLUMNS}",
            claimed_ids(self.backend(), &due, IdMatch::In)
        );
        let rows: Vec<Raw> = claim(self, &sql, now, lease, limit).await?;
        let mut out = rows
            .into_iter()
            .map(from_raw)
            .collect::<anyhow::Result<Vec<_>>>()?;
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// The send succeeded: record Meta's id. Also opens the free entry point
    /// window when this is a timely reply to an ad referral.
    pub async fn mark_sent(
        &self,
        row: &OutboxRow,
        provider_message_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE outbox SET state = 'sent', provider_message_id = $1, sent_at = $2, lease_until = NULL, \
                 delivery_status = COALESCE(delivery_status, 'accepted') WHERE id = $3",
        )
        .bind(provider_message_id)
        .bind(to_ms(now))
        .bind(row.id)
        .execute(&mut *tx.tx)
        .await?;
        if let Some(conversation_id) = row.conversation_id
            && let Some(conversation) = super::conversation_in(&mut tx.tx, conversation_id).await?
            && let Some(referral_at) = conversation.referral_at
            && let Some(until) =
                crate::conversation::window::free_entry_after_reply(referral_at, now)
        {
            super::open_free_entry(&mut tx.tx, conversation_id, until).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A retryable failure: back to `pending` at `retry_at`.
    pub async fn reschedule(
        &self,
        id: i64,
        retry_at: DateTime<Utc>,
        failure: &SendFailure,
    ) -> anyhow::Result<()> {
        let _writer = self.writer().await;
        sqlx::query(
            "UPDATE outbox SET state = 'pending', next_attempt_at = $1, lease_until = NULL, \
                 error_code = $2, error_subcode = $3, error_detail = $4 WHERE id = $5",
        )
        .bind(to_ms(retry_at))
        .bind(failure.code)
        .bind(failure.subcode)
        .bind(&failure.detail)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Puts a claimed row back without counting the attempt (sending halted, pacing).
    pub async fn release(&self, id: i64, retry_at: DateTime<Utc>) -> anyhow::Result<()> {
        let _writer = self.writer().await;
        sqlx::query(
            "UPDATE outbox SET state = 'pending', next_attempt_at = $1, lease_until = NULL, attempts = attempts - 1 \
             WHERE id = $2",
        )
        .bind(to_ms(retry_at))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A permanent failure (or a window error, recorded as `window_closed`).
    pub async fn fail(
        &self,
        row: &OutboxRow,
        state: OutboxState,
        failure: &SendFailure,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE outbox SET state = $1, lease_until = NULL, error_code = $2, error_subcode = $3, \
                 error_detail = $4 WHERE id = $5",
        )
        .bind(state.as_str())
        .bind(failure.code)
        .bind(failure.subcode)
        .bind(&failure.detail)
        .bind(row.id)
        .execute(&mut *tx.tx)
        .await?;
        if state == OutboxState::WindowClosed
            && let Some(conversation_id) = row.conversation_id
        {
            super::mark_window_closed(&mut tx.tx, conversation_id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Rows whose sender died mid-request become `unknown`; returns their ids.
    pub async fn expire_stale_sends(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<i64>> {
        let _writer = self.writer().await;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE outbox SET state = 'unknown', lease_until = NULL \
             WHERE state = 'sending' AND lease_until < $1 RETURNING id",
        )
        .bind(to_ms(now))
        .fetch_all(self.pool())
        .await?;
        Ok(ids)
    }

    /// Times of the latest successful sends to one recipient (newest first),
    /// for per-customer pacing.
    pub async fn recent_sends_to(
        &self,
        channel: &str,
        recipient: &str,
        since: DateTime<Utc>,
        limit: i64,
    ) -> sqlx::Result<Vec<DateTime<Utc>>> {
        let rows: Vec<i64> = sqlx::query_scalar(
            "SELECT sent_at FROM outbox WHERE channel = $1 AND recipient = $2 AND state = 'sent' \
                 AND kind <> 'mark_read' AND sent_at >= $3 ORDER BY sent_at DESC LIMIT $4",
        )
        .bind(channel)
        .bind(recipient)
        .bind(to_ms(since))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(from_ms).collect())
    }

    /// The next time a pending row becomes due, for the sender's sleep.
    pub async fn next_outbox_due(&self) -> sqlx::Result<Option<DateTime<Utc>>> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'")
                .fetch_one(self.pool())
                .await?;
        Ok(next.map(from_ms))
    }

    /// Outbox rows of a conversation, oldest first.
    pub async fn outbox_for_conversation(
        &self,
        conversation_id: i64,
    ) -> anyhow::Result<Vec<OutboxRow>> {
        let rows: Vec<Raw> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE conversation_id = $1 ORDER BY id"
        ))
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(from_raw).collect()
    }
}

/// Inside a transaction: whether an agent's message to this conversation was
/// queued at or after `since`.
pub async fn agent_replied_since(
    conn: &mut AnyConnection,
    conversation_id: i64,
    since: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM outbox WHERE conversation_id = $1 AND purpose = 'agent' AND created_at >= $2 LIMIT 1",
    )
    .bind(conversation_id)
    .bind(to_ms(since))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// Inside a write transaction: how many agent messages of the conversation
/// wait for the customer to answer a re-engagement template.
pub async fn count_held(conn: &mut AnyConnection, conversation_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE conversation_id = $1 AND state = 'held'")
        .bind(conversation_id)
        .fetch_one(&mut *conn)
        .await
}

/// Inside a write transaction: held rows of the conversation become due now.
pub async fn release_held(
    conn: &mut AnyConnection,
    conversation_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE outbox SET state = 'pending', next_attempt_at = $1 WHERE conversation_id = $2 AND state = 'held'",
    )
    .bind(to_ms(now))
    .bind(conversation_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
