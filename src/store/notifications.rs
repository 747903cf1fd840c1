//! Outgoing notifications (signed webhooks to the business's own systems):
//! rows written with the decision that caused them, delivered with retries.

use chrono::{DateTime, Duration, Utc};
use sqlx::AnyConnection;

use super::claim::{IdMatch, claim, claimed_ids};
use super::{Store, to_ms};

/// A claimed notification.
#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub id: i64,
    pub event: String,
    pub payload: String,
    pub attempts: i64,
}

/// Inside a transaction: queues a notification; `None` if its key exists.
pub async fn notify(
    conn: &mut AnyConnection,
    event: &str,
    payload: &serde_json::Value,
    dedupe_key: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO notifications (event, payload, dedupe_key, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(event)
    .bind(payload.to_string())
    .bind(dedupe_key)
    .bind(to_ms(now))
    .fetch_optional(&mut *conn)
    .await
}

impl Store {
    pub async fn claim_notifications(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> sqlx::Result<Vec<NotificationRow>> {
        let due = "SELECT id FROM notifications WHERE (state = 'pending' AND next_attempt_at <= $2) \
             OR (state = 'sending' AND lease_until < $2) ORDER BY next_attempt_at, id LIMIT $3";
        let sql = format!(
            "UPDATE notifications SET state = 'sending', lease_until = $1, attempts = attempts + 1 \
             WHERE {} RETURNING id, event, payload, attempts",
            claimed_ids(self.backend(), due, IdMatch::In)
        );
        let rows: Vec<(i64, String, String, i64)> = claim(self, &sql, now, lease, limit).await?;
        Ok(rows
            .into_iter()
            .map(|(id, event, payload, attempts)| NotificationRow {
                id,
                event,
                payload,
                attempts,
            })
            .collect())
    }

    pub async fn notification_delivered(&self, id: i64, now: DateTime<Utc>) -> sqlx::Result<()> {
        let _writer = self.writer().await;
        sqlx::query("UPDATE notifications SET state = 'delivered', delivered_at = $1, lease_until = NULL WHERE id = $2")
            .bind(to_ms(now))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A failed attempt: retry at `at`, or give up (`at` = `None`).
    pub async fn notification_failed(
        &self,
        id: i64,
        at: Option<DateTime<Utc>>,
        error: &str,
    ) -> sqlx::Result<()> {
        let (state, next) = match at {
            Some(at) => ("pending", Some(to_ms(at))),
            None => ("failed", None),
        };
        let _writer = self.writer().await;
        sqlx::query(
            "UPDATE notifications SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at), \
                 lease_until = NULL, last_error = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

impl Store {
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
