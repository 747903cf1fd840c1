//! The loop shared by the workers that claim rows (outbox sender, timer
//! scheduler, notifier): do a pass, go again at once if it found work,
//! otherwise sleep until the next row is due (capped, because other
//! instances add rows this one is not told about) or until woken.

use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::conversation::Clock;

/// The shortest idle sleep: a row due "now" is picked up without spinning.
const MIN_IDLE: StdDuration = StdDuration::from_millis(5);

#[async_trait]
pub trait PollingWorker: Send + Sync + 'static {
    /// The worker's name in logs.
    fn name(&self) -> &'static str;
    fn clock(&self) -> &Clock;
    /// The longest idle sleep.
    fn idle_poll(&self) -> StdDuration;
    /// A signal that wakes the worker at once, if it has one.
    fn wake(&self) -> Option<&Notify> {
        None
    }
    /// One pass; returns how many rows it handled.
    async fn pass(&self) -> anyhow::Result<usize>;
    /// When the next row becomes due, if any.
    async fn next_due(&self) -> anyhow::Result<Option<DateTime<Utc>>>;
}

/// Runs `worker` until `shutdown`; a pass in progress finishes first.
pub async fn run<W: PollingWorker>(worker: W, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let handled = worker.pass().await.unwrap_or_else(|e| {
            tracing::error!(error = ?e, worker = worker.name(), "worker pass failed");
            0
        });
        if handled > 0 {
            continue;
        }
        let sleep = idle_sleep(&worker).await;
        let woken = async {
            match worker.wake() {
                Some(notify) => notify.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = woken => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
    tracing::info!(worker = worker.name(), "stopped");
}

/// Until the next due row, between [`MIN_IDLE`] and the worker's poll; a
/// manual clock (tests) does not move by itself, so it just polls.
async fn idle_sleep<W: PollingWorker>(worker: &W) -> StdDuration {
    let max = worker.idle_poll();
    if worker.clock().is_manual() {
        return max;
    }
    match worker.next_due().await {
        Ok(Some(due)) => (due - worker.clock().now())
            .to_std()
            .unwrap_or_default()
            .clamp(MIN_IDLE, max),
        _ => max,
    }
}
