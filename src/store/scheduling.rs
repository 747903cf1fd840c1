//! The scheduler's extra queries: completing a timer only under the claim
//! that fired it, cancelling superseded timers, giving up on a timer or a
//! notification, and the facts the timer handlers check before acting
//! (did an agent answer, was this already recorded).

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::escalations::{COLUMNS as ESCALATION_COLUMNS, EscalationRow, from_row};
use super::{Store, to_ms};

/// Inside a transaction: one escalation by id.
pub async fn escalation_in(
    conn: &mut AnyConnection,
    id: i64,
) -> sqlx::Result<Option<EscalationRow>> {
    let row = sqlx::query(&format!(
        "SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Inside the transaction that commits a timer's effects: marks it done,
/// but only if it is still held by the claim that fired it (`attempts` is
/// the claim's generation). `false` means another instance took it over
/// after our lease expired: the caller must roll back, so the effects are
/// committed once.
pub async fn complete_claimed_timer(
    conn: &mut AnyConnection,
    id: i64,
    attempts: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "UPDATE timers SET state = 'done', fired_at = $1, lease_until = NULL \
         WHERE id = $2 AND state = 'running' AND attempts = $3",
    )
    .bind(to_ms(now))
    .bind(id)
    .bind(attempts)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Inside a transaction: cancels an escalation's pending timers of `kind`
/// except the one whose dedupe key is `keep` (the timer that is still right).
pub async fn cancel_pending_except(
    conn: &mut AnyConnection,
    escalation_id: i64,
    kind: &str,
    keep: Option<&str>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE timers SET state = 'cancelled' WHERE escalation_id = $1 AND kind = $2 AND state = 'pending' \
         AND (dedupe_key IS NULL OR $3 IS NULL OR dedupe_key <> $3)",
    )
    .bind(escalation_id)
    .bind(kind)
    .bind(keep)
    .execute(&mut *conn)
    .await?
    .rows_affected())
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

/// Inside a transaction: whether the escalation's history has an event of
/// `kind` with exactly this `detail` (one record per fact).
pub async fn has_event(
    conn: &mut AnyConnection,
    escalation_id: i64,
    kind: &str,
    detail: &serde_json::Value,
) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM escalation_events WHERE escalation_id = $1 AND kind = $2 AND detail = $3 LIMIT 1",
    )
    .bind(escalation_id)
    .bind(kind)
    .bind(detail.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

impl Store {
    /// A timer that kept failing: kept for inspection, never fired again.
    pub async fn fail_timer(&self, id: i64, error: &str) -> sqlx::Result<()> {
        // The row has no error column: the error goes to the log, the state says it gave up.
        tracing::error!(timer_id = id, %error, "timer failed too often; giving up");
        let _writer = self.writer().await;
        sqlx::query("UPDATE timers SET state = 'failed', lease_until = NULL WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// No receiver is configured: the notification is recorded as skipped
    /// instead of being retried forever.
    pub async fn notification_skipped(&self, id: i64, reason: &str) -> sqlx::Result<()> {
        let _writer = self.writer().await;
        sqlx::query("UPDATE notifications SET state = 'skipped', lease_until = NULL, last_error = $1 WHERE id = $2")
            .bind(reason)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// When the next pending notification is due, for the notifier's sleep.
    pub async fn next_notification_due(&self) -> sqlx::Result<Option<DateTime<Utc>>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM notifications WHERE state = 'pending'",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(at.map(super::from_ms))
    }
}
