//! Timers as rows: every deadline (SLA warning and breach, window
//! keep-alive, follow-up) is a row with a due time, claimed with a lease so a
//! restart loses none and several instances share the work without firing
//! one twice.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::AnyConnection;

use super::claim::{IdMatch, claim, claimed_ids};
use super::{Store, from_ms, to_ms};

/// A timer to schedule.
#[derive(Debug, Clone)]
pub struct NewTimer {
    pub kind: String,
    pub escalation_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub due_at: DateTime<Utc>,
    /// At most one timer per key (e.g. one keep-alive per window).
    pub dedupe_key: Option<String>,
    pub payload: Option<serde_json::Value>,
}

/// A claimed timer.
#[derive(Debug, Clone, Serialize)]
pub struct TimerRow {
    pub id: i64,
    pub kind: String,
    pub escalation_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub due_at: DateTime<Utc>,
    pub attempts: i64,
    pub payload: Option<serde_json::Value>,
}

type Raw = (
    i64,
    String,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
    Option<String>,
);

fn from_raw(r: Raw) -> TimerRow {
    TimerRow {
        id: r.0,
        kind: r.1,
        escalation_id: r.2,
        conversation_id: r.3,
        due_at: from_ms(r.4),
        attempts: r.5,
        payload: r.6.and_then(|p| serde_json::from_str(&p).ok()),
    }
}

const COLUMNS: &str = "id, kind, escalation_id, conversation_id, due_at, attempts, payload";

/// Inside a transaction: schedules a timer; `None` if its key exists.
pub async fn schedule(
    conn: &mut AnyConnection,
    timer: &NewTimer,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO timers (kind, escalation_id, conversation_id, due_at, dedupe_key, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(&timer.kind)
    .bind(timer.escalation_id)
    .bind(timer.conversation_id)
    .bind(to_ms(timer.due_at))
    .bind(timer.dedupe_key.as_deref())
    .bind(timer.payload.as_ref().map(|p| p.to_string()))
    .bind(to_ms(now))
    .fetch_optional(&mut *conn)
    .await
}

/// Inside a transaction: cancels an escalation's pending timers of the given
/// kinds (all kinds when empty).
pub async fn cancel_for_escalation(
    conn: &mut AnyConnection,
    escalation_id: i64,
    kinds: &[&str],
) -> sqlx::Result<u64> {
    let mut total = 0;
    if kinds.is_empty() {
        total += sqlx::query(
            "UPDATE timers SET state = 'cancelled' WHERE escalation_id = $1 AND state = 'pending'",
        )
        .bind(escalation_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    for kind in kinds {
        total += sqlx::query(
            "UPDATE timers SET state = 'cancelled' WHERE escalation_id = $1 AND kind = $2 AND state = 'pending'",
        )
        .bind(escalation_id)
        .bind(*kind)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(total)
}

impl Store {
    /// Claims due timers with a lease (expired leases are claimable again:
    /// the instance that held them died mid-way), oldest due first.
    ///
    /// The due rows are found through the partial indexes `timers_due` and
    /// `timers_running` (a `BitmapOr` on PostgreSQL). On PostgreSQL the
    /// claimed ids go through `= ANY(ARRAY(...))` rather than `IN (...)`:
    /// with `IN`, once the prepared statement switches to a generic plan
    /// (`LIMIT $3` unknown, a third of the table guessed due) the planner
    /// hash-joins the subquery against a sequential scan of every timer
    /// (36 ms at 200,000 rows instead of under 1 ms); an array parameter
    /// keeps the primary-key lookup in both plans.
    pub async fn claim_timers(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> sqlx::Result<Vec<TimerRow>> {
        const DUE: &str = "SELECT id FROM timers WHERE (state = 'pending' AND due_at <= $2) \
             OR (state = 'running' AND lease_until < $2) ORDER BY due_at, id LIMIT $3";
        let claimed = claimed_ids(self.backend(), DUE, IdMatch::AnyArray);
        let sql = format!(
            "UPDATE timers SET state = 'running', lease_until = $1, attempts = attempts + 1 \
             WHERE {claimed} RETURNING {COLUMNS}"
        );
        let rows: Vec<Raw> = claim(self, &sql, now, lease, limit).await?;
        let mut timers: Vec<TimerRow> = rows.into_iter().map(from_raw).collect();
        timers.sort_by_key(|t| (t.due_at, t.id));
        Ok(timers)
    }
}

impl Store {
    /// Puts a timer back for later (an error while firing).
    pub async fn retry_timer(&self, id: i64, at: DateTime<Utc>) -> sqlx::Result<()> {
        let _writer = self.writer().await;
        sqlx::query(
            "UPDATE timers SET state = 'pending', due_at = $1, lease_until = NULL WHERE id = $2",
        )
        .bind(to_ms(at))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// When the next pending timer is due.
    pub async fn next_timer_due(&self) -> sqlx::Result<Option<DateTime<Utc>>> {
        let at: Option<i64> =
            sqlx::query_scalar("SELECT MIN(due_at) FROM timers WHERE state = 'pending'")
                .fetch_one(self.pool())
                .await?;
        Ok(at.map(from_ms))
    }
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
}
