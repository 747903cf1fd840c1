//! The sender worker: delivers outbox rows through the Graph API.
//!
//! At most one successful send per row (Meta's message id is recorded; a row
//! whose sender died mid-request is never sent again, see
//! [`crate::store::OutboxState::Unknown`]). Retryable errors back off
//! exponentially with jitter; per-customer pacing keeps under Meta's pair
//! rate limit; permanent errors are recorded with code and details; window
//! errors mark the conversation's window closed; token and policy errors halt
//! all sending and show in `/readyz`.
//!
//! A request that may have reached Meta (no answer in time, a connection
//! lost after the request was written) is never sent again: its row becomes
//! `unknown`, like a send interrupted by a crash. Meta's `Retry-After` is
//! honoured but capped by `backoff_max_ms` and by the messaging window. The
//! worker keeps claiming while slow requests are in flight, up to
//! `sender.concurrency` sends at once, so one hung request delays no other
//! customer.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use tokio::sync::{RwLock, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::channels::config::SenderConfig;
use crate::channels::graph::{ErrorClass, GraphClient, GraphError};
use crate::channels::model::Channel;
use crate::channels::outbound::OutboundBody;
use crate::conversation::Clock;
use crate::store::{OutboxRow, OutboxState, SendFailure, Store};
use crate::wakeups::Wakeups;

/// Longest a claimed row may stay `sending`. Longer than the Graph client's
/// request timeout, so a live sender always finishes first.
pub const DEFAULT_LEASE: Duration = Duration::seconds(60);
/// How often the sender looks for sends interrupted by a crash.
const STALE_CHECK_EVERY: Duration = Duration::seconds(1);
/// Poll interval when nothing signals new work (other instances, due retries).
const IDLE_POLL: StdDuration = StdDuration::from_millis(500);
/// A retry is due at least this long before the messaging window closes, so
/// a throttled reply still goes out as a free-form message.
const WINDOW_RETRY_MARGIN: Duration = Duration::seconds(30);

/// Whether sending is halted (token expired, policy block) and why.
#[derive(Debug, Default)]
pub struct SenderHealth {
    halted: RwLock<Option<String>>,
}

impl SenderHealth {
    pub async fn halted(&self) -> Option<String> {
        self.halted.read().await.clone()
    }

    async fn halt(&self, reason: String) {
        tracing::error!(%reason, "sending halted: fix the cause and restart ventana");
        *self.halted.write().await = Some(reason);
    }
}

/// What happened to one claimed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Sent,
    Retrying,
    Paced,
    Failed,
    WindowClosed,
    Halted,
    /// The request may have reached Meta: recorded as `unknown`, not retried.
    MaybeSent,
}

#[derive(Clone)]
pub struct Sender {
    store: Store,
    graph: Arc<GraphClient>,
    config: SenderConfig,
    clock: Clock,
    health: Arc<SenderHealth>,
    signals: Arc<Wakeups>,
    lease: Duration,
    last_stale_check: Arc<AtomicI64>,
    /// One permit per send in flight (`sender.concurrency`).
    slots: Arc<Semaphore>,
    /// The sends in flight, awaited at shutdown.
    in_flight: TaskTracker,
}

impl Sender {
    pub fn new(
        store: Store,
        graph: Arc<GraphClient>,
        config: SenderConfig,
        clock: Clock,
        health: Arc<SenderHealth>,
        signals: Arc<Wakeups>,
    ) -> Self {
        let lease = Duration::milliseconds(config.lease_ms as i64);
        Self {
            store,
            graph,
            clock,
            health,
            signals,
            lease,
            last_stale_check: Arc::new(AtomicI64::new(0)),
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            in_flight: TaskTracker::new(),
            config,
        }
    }

    /// Runs until `shutdown`; in-flight sends finish before it returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let in_flight = self.in_flight.clone();
        crate::worker::run(self, shutdown).await;
        in_flight.close();
        in_flight.wait().await;
    }

    /// Claims the due rows and sends them concurrently, waiting for all of
    /// them; returns how many rows were handled. Tests call this to drain
    /// the outbox deterministically.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        if !self.prepare_claim().await? {
            return Ok(0);
        }
        let rows = self
            .store
            .claim_outbox(
                self.clock.now(),
                self.config.concurrency.max(1) as i64,
                self.lease,
            )
            .await?;
        let count = rows.len();
        let mut tasks = tokio::task::JoinSet::new();
        for row in rows {
            let sender = self.clone();
            tasks.spawn(async move { sender.deliver_logged(row).await });
        }
        while tasks.join_next().await.is_some() {}
        Ok(count)
    }

    /// The worker's pass: waits for a free send slot, claims as many due
    /// rows as there are free slots and starts them without waiting, so new
    /// rows keep being claimed while slow requests are in flight.
    async fn claim_and_start(&self) -> anyhow::Result<usize> {
        let first = self.slots.clone().acquire_owned().await?;
        if !self.prepare_claim().await? {
            return Ok(0);
        }
        let mut permits = vec![first];
        while let Ok(permit) = self.slots.clone().try_acquire_owned() {
            permits.push(permit);
        }
        let rows = self
            .store
            .claim_outbox(self.clock.now(), permits.len() as i64, self.lease)
            .await?;
        let count = rows.len();
        for (row, permit) in rows.into_iter().zip(permits) {
            let sender = self.clone();
            self.in_flight.spawn(async move {
                sender.deliver_logged(row).await;
                drop(permit);
            });
        }
        Ok(count)
    }

    /// Expires interrupted sends when due; `false` while sending is halted.
    async fn prepare_claim(&self) -> anyhow::Result<bool> {
        let now = self.clock.now();
        if self.stale_check_due(now) {
            for id in self.store.expire_stale_sends(now).await? {
                metrics::counter!("ventana_outbox_unknown_total").increment(1);
                tracing::error!(
                    outbox_id = id,
                    "a send was interrupted mid-request; not retried to avoid a duplicate"
                );
            }
        }
        Ok(self.health.halted().await.is_none())
    }

    async fn deliver_logged(&self, row: OutboxRow) {
        let id = row.id;
        if let Err(e) = self.deliver(row).await {
            tracing::error!(outbox_id = id, error = ?e, "could not record a send result");
        }
    }

    /// Interrupted sends are looked for at most once per [`STALE_CHECK_EVERY`]
    /// (a write on every loop would compete with the sends themselves).
    fn stale_check_due(&self, now: DateTime<Utc>) -> bool {
        let last = self.last_stale_check.load(Ordering::Relaxed);
        let due = now.timestamp_millis() - last >= STALE_CHECK_EVERY.num_milliseconds()
            || self.clock.is_manual();
        if due {
            self.last_stale_check
                .store(now.timestamp_millis(), Ordering::Relaxed);
        }
        due
    }

    /// Sends one claimed row and records the result.
    pub async fn deliver(&self, row: OutboxRow) -> anyhow::Result<SendOutcome> {
        let span = tracing::info_span!(
            "send",
            outbox_id = row.id,
            conversation_id = row.conversation_id,
            channel = row.message.channel.as_str(),
            kind = row.message.body.kind()
        );
        self.deliver_in_span(row).instrument(span).await
    }

    async fn deliver_in_span(&self, row: OutboxRow) -> anyhow::Result<SendOutcome> {
        if let Some(until) = self.pacing_delay(&row).await? {
            self.store.release(row.id, until).await?;
            return Ok(SendOutcome::Paced);
        }
        if row.message.channel == Channel::Sandbox {
            let now = self.clock.now();
            self.store
                .mark_sent(&row, Some(&format!("sandbox-{}", row.id)), now)
                .await?;
            let _ = self.signals.sandbox.send(row.clone());
            return Ok(SendOutcome::Sent);
        }
        let result = self.graph.send(&row.message).await;
        crate::faults::crash_point("sender-after-send");
        let now = self.clock.now();
        match result {
            Ok(receipt) => {
                self.store
                    .mark_sent(&row, receipt.provider_message_id.as_deref(), now)
                    .await?;
                metrics::counter!("ventana_outbox_sent_total", "channel" => row.message.channel.as_str()).increment(1);
                tracing::info!(
                    provider_message_id = receipt.provider_message_id.as_deref(),
                    "sent"
                );
                Ok(SendOutcome::Sent)
            }
            Err(error) => self.record_failure(&row, error, now).await,
        }
    }

    async fn record_failure(
        &self,
        row: &OutboxRow,
        error: GraphError,
        now: DateTime<Utc>,
    ) -> anyhow::Result<SendOutcome> {
        let failure = SendFailure {
            code: error.code,
            subcode: error.subcode,
            detail: error.describe(),
        };
        let code_label = error
            .code
            .map(|c| c.to_string())
            .unwrap_or_else(|| format!("http_{}", error.http_status.unwrap_or(0)));
        match error.class {
            ErrorClass::Retryable { retry_after }
                if (row.attempts as u32) < self.config.max_attempts =>
            {
                let max = Duration::milliseconds(self.config.backoff_max_ms as i64);
                let delay = retry_after
                    .and_then(|d| Duration::from_std(d).ok())
                    .map(|hint| hint.min(max))
                    .unwrap_or_else(|| self.backoff(row.attempts as u32, error.code));
                let retry_at = self.within_window(row, now, now + delay).await?;
                tracing::warn!(code = %code_label, attempt = row.attempts, retry_in_ms = (retry_at - now).num_milliseconds(), "send failed, retrying");
                self.store.reschedule(row.id, retry_at, &failure).await?;
                Ok(SendOutcome::Retrying)
            }
            ErrorClass::MaybeSent => {
                tracing::error!(detail = %failure.detail, "no answer from Meta after the request was sent; not retried to avoid a duplicate");
                self.store
                    .fail(row, OutboxState::Unknown, &failure, now)
                    .await?;
                metrics::counter!("ventana_outbox_unknown_total").increment(1);
                Ok(SendOutcome::MaybeSent)
            }
            ErrorClass::TokenInvalid | ErrorClass::PolicyBlocked => {
                self.store.release(row.id, now).await?;
                self.health
                    .halt(format!(
                        "Graph API error {code_label} on {}: {}",
                        row.message.channel,
                        error.short_message()
                    ))
                    .await;
                metrics::counter!("ventana_outbox_failed_total", "code" => code_label).increment(1);
                Ok(SendOutcome::Halted)
            }
            ErrorClass::WindowClosed => {
                tracing::warn!(code = %code_label, "window closed: a template is needed");
                self.store
                    .fail(row, OutboxState::WindowClosed, &failure, now)
                    .await?;
                metrics::counter!("ventana_outbox_failed_total", "code" => code_label).increment(1);
                Ok(SendOutcome::WindowClosed)
            }
            ErrorClass::Retryable { .. } | ErrorClass::Permanent => {
                tracing::error!(code = %code_label, detail = %failure.detail, "send failed permanently");
                self.store
                    .fail(row, OutboxState::Failed, &failure, now)
                    .await?;
                metrics::counter!("ventana_outbox_failed_total", "code" => code_label).increment(1);
                Ok(SendOutcome::Failed)
            }
        }
    }

    /// A retry planned for `at`, moved before the messaging window closes
    /// when the message needs the window (a free-form message on an open
    /// window): after the close it could only fail.
    async fn within_window(
        &self,
        row: &OutboxRow,
        now: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<DateTime<Utc>> {
        if matches!(row.message.body, OutboundBody::Template { .. }) {
            return Ok(at);
        }
        let Some(conversation_id) = row.conversation_id else {
            return Ok(at);
        };
        let Some(conversation) = self.store.conversation(conversation_id).await? else {
            return Ok(at);
        };
        let window = conversation.window(now);
        let closes_at = match &row.message.messaging_type {
            Some(crate::channels::outbound::MessagingType::MessageTag(_)) => {
                window.human_agent_until
            }
            _ => window.closes_at.filter(|_| window.is_open()),
        };
        Ok(latest_retry(now, at, closes_at))
    }

    /// Exponential backoff with jitter; Meta's pair rate limit (131056)
    /// waits at least one pacing interval.
    fn backoff(&self, attempt: u32, code: Option<i64>) -> Duration {
        let exp = self
            .config
            .backoff_base_ms
            .saturating_mul(1_u64 << attempt.saturating_sub(1).min(20))
            .min(self.config.backoff_max_ms);
        let jittered = rand::rng().random_range(exp / 2..=exp.max(1));
        let floor = if code == Some(131056) {
            self.config.pair_interval_ms
        } else {
            0
        };
        Duration::milliseconds(jittered.max(floor) as i64)
    }

    /// Per-customer pacing: once `pair_burst` messages went to one customer
    /// within `pair_burst × pair_interval`, the next waits.
    async fn pacing_delay(&self, row: &OutboxRow) -> anyhow::Result<Option<DateTime<Utc>>> {
        if matches!(row.message.body, OutboundBody::MarkRead { .. })
            || row.message.channel == Channel::Sandbox
        {
            return Ok(None);
        }
        let burst = self.config.pair_burst.max(1) as i64;
        let span = Duration::milliseconds(self.config.pair_interval_ms as i64 * burst);
        let now = self.clock.now();
        let recent = self
            .store
            .recent_sends_to(
                row.message.channel.as_str(),
                &row.message.recipient,
                now - span,
                burst,
            )
            .await?;
        if (recent.len() as i64) < burst {
            return Ok(None);
        }
        let oldest = recent.last().copied().unwrap_or(now);
        Ok(Some(oldest + span))
    }
}

/// `at`, or the last moment before `closes_at` minus a margin when `at` is
/// later (never before `now`).
fn latest_retry(
    now: DateTime<Utc>,
    at: DateTime<Utc>,
    closes_at: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    match closes_at {
        Some(closes) if at > closes - WINDOW_RETRY_MARGIN => {
            (closes - WINDOW_RETRY_MARGIN).max(now).min(at)
        }
        _ => at,
    }
}

#[async_trait::async_trait]
impl crate::worker::PollingWorker for Sender {
    fn name(&self) -> &'static str {
        "sender"
    }

    fn clock(&self) -> &Clock {
        &self.clock
    }

    fn idle_poll(&self) -> StdDuration {
        IDLE_POLL
    }

    fn wake(&self) -> Option<&tokio::sync::Notify> {
        Some(&self.signals.outbox)
    }

    async fn pass(&self) -> anyhow::Result<usize> {
        self.claim_and_start().await
    }

    async fn next_due(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        Ok(self.store.next_outbox_due().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_never_lands_after_the_window_closes() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let closes = now + Duration::minutes(10);
        let far = now + Duration::hours(24);
        assert_eq!(
            latest_retry(now, far, Some(closes)),
            closes - WINDOW_RETRY_MARGIN
        );
        let soon = now + Duration::seconds(5);
        assert_eq!(latest_retry(now, soon, Some(closes)), soon);
        assert_eq!(latest_retry(now, far, None), far);
        // Closing within the margin: retry at once rather than after it.
        let closing = now + Duration::seconds(10);
        assert_eq!(latest_retry(now, far, Some(closing)), now);
    }
}
