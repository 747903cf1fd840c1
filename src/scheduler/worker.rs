//! The timer loop: claims due timers with a lease and fires each in one
//! transaction that holds its effects (whatever the [`TimerHandler`]
//! writes) and its completion, so a timer's effects are committed once
//! even when several instances run or one dies mid-way.
//!
//! Completion checks the claim (`attempts`): an instance whose lease expired
//! while it was still firing rolls back instead of committing a second time.
//! A handler that fails is retried with
//! backoff and given up after [`MAX_TIMER_ATTEMPTS`]; each firing has a
//! time limit and a panic is caught.
//!
//! A claimed batch is fired concurrently on PostgreSQL (each timer is its
//! own transaction on its own pooled connection, so a burst of due timers is
//! not bounded by one connection's round trips) and one at a time on SQLite,
//! which serializes writers anyway. Timers of one conversation are fired in
//! due order by one task, so a case's warning is recorded before its breach
//! and two firings never race on the same case's facts.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::handler::TimerHandler;
use crate::conversation::Clock;
use crate::store::timers::complete_claimed_timer;
use crate::store::{Backend, Store, TimerRow};

/// Longest a claimed timer may stay `running` before another instance takes
/// it over; far above [`TIMER_TIME_LIMIT`], so a live instance finishes first.
pub const DEFAULT_LEASE: Duration = Duration::seconds(120);
/// Time limit of one firing (a handful of queries in one transaction).
const TIMER_TIME_LIMIT: StdDuration = StdDuration::from_secs(30);
/// A timer whose handler failed this many times is given up (`failed`).
pub const MAX_TIMER_ATTEMPTS: i64 = 10;
/// First retry delay of a failed firing; doubles up to [`RETRY_MAX`].
const RETRY_BASE: Duration = Duration::seconds(5);
const RETRY_MAX: Duration = Duration::minutes(10);
/// How many due timers one pass claims. With [`POSTGRES_CONCURRENCY`] in
/// flight that is eight firings per slot, a few tens of milliseconds
/// normally; the tail of a pass (waiting for its slowest firing) is small
/// next to that.
const BATCH: i64 = 64;
/// Timers fired at once on PostgreSQL. A firing is a handful of round trips
/// and a commit on one pooled connection, so one at a time is bound by
/// latency (250–700 a second), not by the database. Eight in flight is half
/// the pool's 16 connections: on two busy cores that keeps up with 667 due
/// timers a second with p99 lateness in tens of milliseconds (BENCHMARKS.md,
/// against seconds one at a time), while webhook intake, the pipeline, the
/// sender and the agent API keep the other half of the pool.
pub const POSTGRES_CONCURRENCY: usize = 8;
/// Timers fired at once on SQLite: one. Every firing holds the single
/// writer lock for its whole transaction, so more would only queue on it.
pub const SQLITE_CONCURRENCY: usize = 1;
/// Poll interval when idle; also bounds how late a timer scheduled by
/// another instance fires.
const IDLE_POLL: StdDuration = StdDuration::from_millis(250);

/// Fires due timers with `H`.
pub struct TimerLoop<H> {
    store: Store,
    handler: Arc<H>,
    clock: Clock,
    lease: Duration,
    /// Timers fired at once; see [`POSTGRES_CONCURRENCY`].
    concurrency: usize,
}

impl<H> Clone for TimerLoop<H> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            handler: self.handler.clone(),
            clock: self.clock.clone(),
            lease: self.lease,
            concurrency: self.concurrency,
        }
    }
}

impl<H: TimerHandler> TimerLoop<H> {
    pub fn new(store: Store, handler: Arc<H>, clock: Clock) -> Self {
        let concurrency = match store.backend() {
            Backend::Postgres => POSTGRES_CONCURRENCY,
            Backend::Sqlite => SQLITE_CONCURRENCY,
        };
        Self {
            store,
            handler,
            clock,
            lease: DEFAULT_LEASE,
            concurrency,
        }
    }

    /// The handler the timers are fired with.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The same loop with another lease (tests of lease expiry).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The same loop firing up to `concurrency` timers at once (at least
    /// one); the default depends on the backend.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Runs until `shutdown`; the timers being fired finish first. After a
    /// pass that claimed anything it claims again at once (more may be due);
    /// otherwise it sleeps until the next timer is due, at most
    /// [`IDLE_POLL`].
    pub async fn run(self, shutdown: CancellationToken) {
        crate::worker::run(self, shutdown).await
    }

    /// Claims the due timers and fires them, up to `concurrency` at once
    /// and each conversation's in due order; returns how many were claimed
    /// once all have finished. Tests call this to drain the timers
    /// deterministically.
    ///
    /// A store error while recording a failed firing stops that
    /// conversation's remaining timers (they are claimable again when the
    /// lease expires); the other conversations still fire, then the first
    /// error is returned.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let timers = self
            .store
            .claim_timers(self.clock.now(), BATCH, self.lease)
            .await?;
        let claimed = timers.len();
        let this = self.clone();
        let mut groups = by_conversation(timers).into_iter();
        let mut in_flight = JoinSet::new();
        let mut first_error = None;
        loop {
            while in_flight.len() < self.concurrency
                && let Some(group) = groups.next()
            {
                let this = this.clone();
                in_flight.spawn(async move {
                    for timer in &group {
                        this.fire_guarded(timer).await?;
                    }
                    anyhow::Ok(())
                });
            }
            let Some(joined) = in_flight.join_next().await else {
                break;
            };
            if let Err(e) = joined.map_err(anyhow::Error::from).and_then(|r| r) {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(claimed),
        }
    }

    /// Fires one claimed timer with a time limit, catching panics; a failure
    /// puts the timer back with backoff (or gives it up).
    async fn fire_guarded(&self, timer: &TimerRow) -> anyhow::Result<()> {
        let span = tracing::info_span!(
            "timer",
            timer_id = timer.id,
            kind = %timer.kind,
            escalation_id = timer.escalation_id,
            conversation_id = timer.conversation_id
        );
        let result = AssertUnwindSafe(tokio::time::timeout(TIMER_TIME_LIMIT, self.fire(timer)))
            .catch_unwind()
            .instrument(span.clone())
            .await;
        let error = match result {
            Ok(Ok(Ok(fired))) => {
                span.in_scope(|| tracing::info!(outcome = ?fired, "timer fired"));
                return Ok(());
            }
            Ok(Ok(Err(e))) => format!("{e:#}"),
            Ok(Err(_)) => format!("no result within {TIMER_TIME_LIMIT:?}"),
            Err(_) => "the handler panicked".to_owned(),
        };
        if timer.attempts >= MAX_TIMER_ATTEMPTS {
            self.store.fail_timer(timer.id, &error).await?;
        } else {
            let at = self.clock.now() + retry_delay(timer.attempts);
            span.in_scope(
                || tracing::warn!(%error, attempt = timer.attempts, "timer failed, retrying"),
            );
            self.store.retry_timer(timer.id, at).await?;
        }
        Ok(())
    }

    /// Fires one claimed timer: the handler's effects and the timer's
    /// completion in one transaction.
    pub async fn fire(&self, timer: &TimerRow) -> anyhow::Result<H::Outcome> {
        let now = self.clock.now();
        let mut tx = self.store.begin_write().await?;
        let effects = self.handler.fire(&mut tx.tx, timer, now).await?;
        if !complete_claimed_timer(&mut tx.tx, timer.id, timer.attempts, now).await? {
            tx.tx.rollback().await?;
            return Ok(self.handler.superseded());
        }
        tx.commit().await?;
        Ok(self.handler.committed(effects))
    }
}

/// Splits a claimed batch (sorted by due time) into one list per
/// conversation (per escalation, or the timer alone, when that is unknown),
/// each in due order, the lists ordered by their first timer.
fn by_conversation(timers: Vec<TimerRow>) -> Vec<Vec<TimerRow>> {
    #[derive(PartialEq, Eq, Hash)]
    enum Case {
        Conversation(i64),
        Escalation(i64),
        Alone(i64),
    }
    let mut groups: Vec<Vec<TimerRow>> = Vec::new();
    let mut index: HashMap<Case, usize> = HashMap::new();
    for timer in timers {
        let case = match (timer.conversation_id, timer.escalation_id) {
            (Some(id), _) => Case::Conversation(id),
            (None, Some(id)) => Case::Escalation(id),
            (None, None) => Case::Alone(timer.id),
        };
        match index.entry(case) {
            Entry::Occupied(at) => groups[*at.get()].push(timer),
            Entry::Vacant(slot) => {
                slot.insert(groups.len());
                groups.push(vec![timer]);
            }
        }
    }
    groups
}

/// Retry delay after `attempts` failed firings.
fn retry_delay(attempts: i64) -> Duration {
    let factor = 1_i32 << attempts.clamp(1, 16).saturating_sub(1);
    (RETRY_BASE * factor).min(RETRY_MAX)
}

#[async_trait::async_trait]
impl<H: TimerHandler> crate::worker::PollingWorker for TimerLoop<H> {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn clock(&self) -> &Clock {
        &self.clock
    }

    fn idle_poll(&self) -> StdDuration {
        IDLE_POLL
    }

    async fn pass(&self) -> anyhow::Result<usize> {
        self.run_once().await
    }

    async fn next_due(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        Ok(self.store.next_timer_due().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(id: i64, escalation_id: Option<i64>, conversation_id: Option<i64>) -> TimerRow {
        TimerRow {
            id,
            kind: "sla_breach".into(),
            escalation_id,
            conversation_id,
            due_at: DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(id),
            attempts: 1,
            payload: None,
        }
    }

    #[test]
    fn a_batch_is_split_per_conversation_keeping_due_order() {
        let batch = vec![
            timer(1, Some(10), Some(100)),
            timer(2, Some(20), Some(200)),
            timer(3, Some(10), Some(100)),
            timer(4, None, None),
            timer(5, Some(30), None),
            timer(6, None, None),
            timer(7, Some(30), None),
            timer(8, Some(11), Some(100)),
        ];
        let ids: Vec<Vec<i64>> = by_conversation(batch)
            .iter()
            .map(|g| g.iter().map(|t| t.id).collect())
            .collect();
        assert_eq!(ids, [vec![1, 3, 8], vec![2], vec![4], vec![5, 7], vec![6]]);
    }

    #[test]
    fn retries_back_off_up_to_ten_minutes() {
        let delays: Vec<i64> = [1, 2, 3, 4, 8, 9, 40]
            .iter()
            .map(|a| retry_delay(*a).num_seconds())
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 600, 600, 600]);
    }
}
