//! The one way rows are claimed with a lease, for both backends: the due
//! rows are chosen by a subquery and updated in one statement, inside a
//! write transaction. On PostgreSQL the subquery locks its rows with
//! `FOR UPDATE SKIP LOCKED`, so instances claim disjoint rows; on SQLite
//! the writer lock taken by [`Store::begin_write`] makes select-and-update
//! atomic.
//!
//! Every claim statement binds `$1` = the lease's end, `$2` = now and
//! `$3` = the most rows to claim.

use chrono::{DateTime, Duration, Utc};
use sqlx::any::AnyRow;

use super::{Backend, Store, to_ms};

/// How the claimed ids are matched against the subquery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdMatch {
    /// `id IN (subquery)`.
    In,
    /// `id = ANY(ARRAY(subquery))` on PostgreSQL: keeps the primary-key
    /// lookup when a prepared statement switches to a generic plan (see
    /// `Store::claim_timers`); `IN` on SQLite.
    AnyArray,
}

/// The condition that picks the rows `due` (a `SELECT id ... LIMIT $3`)
/// selects, locked as the backend needs.
pub(super) fn claimed_ids(backend: Backend, due: &str, matching: IdMatch) -> String {
    match (backend, matching) {
        (Backend::Postgres, IdMatch::In) => format!("id IN ({due} FOR UPDATE SKIP LOCKED)"),
        (Backend::Postgres, IdMatch::AnyArray) => {
            format!("id = ANY(ARRAY({due} FOR UPDATE SKIP LOCKED))")
        }
        (Backend::Sqlite, _) => format!("id IN ({due})"),
    }
}

/// Runs a claim statement in its own write transaction and returns the
/// claimed rows.
pub(super) async fn claim<R>(
    store: &Store,
    sql: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> sqlx::Result<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
{
    let mut tx = store.begin_write().await?;
    let rows: Vec<R> = sqlx::query_as(sql)
        .bind(to_ms(now + lease))
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(&mut *tx.tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_skips_locked_rows_and_sqlite_relies_on_the_writer_lock() {
        let due = "SELECT id FROM t LIMIT $3";
        assert_eq!(
            claimed_ids(Backend::Postgres, due, IdMatch::In),
            "id IN (SELECT id FROM t LIMIT $3 FOR UPDATE SKIP LOCKED)"
        );
        assert_eq!(
            claimed_ids(Backend::Postgres, due, IdMatch::AnyArray),
            "id = ANY(ARRAY(SELECT id FROM t LIMIT $3 FOR UPDATE SKIP LOCKED))"
        );
        for matching in [IdMatch::In, IdMatch::AnyArray] {
            assert_eq!(
                claimed_ids(Backend::Sqlite, due, matching),
                "id IN (SELECT id FROM t LIMIT $3)"
            );
        }
    }
}
