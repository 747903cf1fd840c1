//! Notifications to the business's own systems (`[notifications]`): urgent
//! escalations, SLA warnings and breaches, windows about to close.
//!
//! A notification is a `notifications` row written in the same transaction
//! as the decision that caused it ([`queue_notification`]); the [`Notifier`]
//! delivers each as an HTTP POST of a JSON body
//! `{"id", "event", "sent_at", "data"}` with the headers
//! `X-Ventana-Event: <event>`, `X-Ventana-Delivery: <id>` and
//! `X-Ventana-Signature-256: sha256=<hex HMAC-SHA256 of the body>` keyed
//! with `notifications.secret` (the scheme Meta uses for its webhooks, so
//! receivers can reuse their check). Delivery is at least once: a receiver
//! may see a notification twice and should dedupe on `id`. Failures
//! (timeouts, 5xx, 408, 429) are retried with exponential backoff and
//! jitter up to `max_attempts`; other 4xx answers are permanent. Every
//! outcome is kept on the row (`delivered`, `failed` with the last error,
//! or `skipped` when no URL is configured).

use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;

use crate::channels::signature::sign;
use crate::conversation::Clock;
use crate::store::notifications::{NotificationRow, notify};
use crate::store::{EscalationRow, Store};

/// Connecting to the receiver should take milliseconds; seconds mean it is down.
const CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// How many notifications one pass claims and sends concurrently.
const BATCH: i64 = 16;
/// Poll interval when idle (other instances, due retries).
const IDLE_POLL: StdDuration = StdDuration::from_millis(500);
/// Room on top of the request timeout before a claim counts as abandoned.
const LEASE_MARGIN: Duration = Duration::seconds(10);

/// The `[notifications]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Where notifications are POSTed; without it they are recorded as
    /// skipped. `VENTANA_NOTIFICATIONS__URL`.
    pub url: Option<String>,
    /// HMAC key of `X-Ventana-Signature-256`; required with `url`.
    /// `VENTANA_NOTIFICATIONS__SECRET`.
    pub secret: Option<SecretString>,
    /// Time limit of one POST, connection included.
    /// `VENTANA_NOTIFICATIONS__TIMEOUT_MS`.
    pub timeout_ms: u64,
    /// Attempts before a notification is given up (recorded as `failed`).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, with jitter, up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            url: None,
            secret: None,
            timeout_ms: 10_000,
            max_attempts: 8,
            backoff_base_ms: 1_000,
            backoff_max_ms: 10 * 60 * 1_000,
        }
    }
}

impl NotificationsConfig {
    /// Checks the section; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(url) = &self.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(
                    "notifications.url (VENTANA_NOTIFICATIONS__URL): must be an http(s) URL".into(),
                );
            }
            if self
                .secret
                .as_ref()
                .is_none_or(|s| s.expose_secret().is_empty())
            {
                return Err(
                    "notifications.secret (VENTANA_NOTIFICATIONS__SECRET): required when notifications.url is set"
                        .into(),
                );
            }
        }
        if self.timeout_ms == 0 {
            return Err("notifications.timeout_ms: must be at least 1".into());
        }
        if self.max_attempts == 0 {
            return Err("notifications.max_attempts: must be at least 1".into());
        }
        if self.backoff_base_ms == 0 || self.backoff_max_ms < self.backoff_base_ms {
            return Err(
                "notifications.backoff_base_ms: must be at least 1 and at most backoff_max_ms"
                    .into(),
            );
        }
        Ok(())
    }
}

/// What a notification is about (the `event` column and `X-Ventana-Event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationEvent {
    /// An urgent case was escalated (queued by the pipeline).
    UrgentEscalation,
    SlaWarning,
    SlaBreach,
    /// A waiting case's window is about to close (a keep-alive went out).
    WindowClosing,
}

impl NotificationEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::UrgentEscalation => "urgent_escalation",
            NotificationEvent::SlaWarning => "sla_warning",
            NotificationEvent::SlaBreach => "sla_breach",
            NotificationEvent::WindowClosing => "window_closing",
        }
    }
}

/// The `data` of an escalation's notification.
pub fn escalation_payload(escalation: &EscalationRow) -> serde_json::Value {
    json!({
        "escalation_id": escalation.id,
        "conversation_id": escalation.conversation_id,
        "queue": escalation.queue,
        "priority": escalation.priority,
        "reason": escalation.reason,
        "state": escalation.state,
        "assigned_to": escalation.assigned_to,
        "created_at": escalation.created_at,
        "deadline_at": escalation.deadline_at,
        "window_closes_at": escalation.window_closes_at,
    })
}

/// Inside the caller's transaction: queues a notification; `None` when one
/// with the same `dedupe_key` exists. The pipeline calls it for
/// `urgent_escalation` with `escalation_payload(&row)` and the key
/// `urgent_escalation:{escalation_id}`.
pub async fn queue_notification(
    conn: &mut AnyConnection,
    event: NotificationEvent,
    payload: &serde_json::Value,
    dedupe_key: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    notify(conn, event.as_str(), payload, dedupe_key, now).await
}

/// The body and headers of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub body: Vec<u8>,
    pub signature: String,
}

/// Builds the body of `row` and signs it with `secret`.
pub fn signed_request(row: &NotificationRow, secret: &[u8], now: DateTime<Utc>) -> SignedRequest {
    let data: serde_json::Value =
        serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null);
    let body = json!({ "id": row.id, "event": row.event, "sent_at": now, "data": data })
        .to_string()
        .into_bytes();
    let signature = sign(secret, &body);
    SignedRequest { body, signature }
}

/// What happened to one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// Will be retried at the given time.
    Retrying(DateTime<Utc>),
    /// Given up; the error is on the row.
    Failed,
    /// No receiver configured.
    Skipped,
}

/// Delivers queued notifications.
#[derive(Clone)]
pub struct Notifier {
    store: Store,
    config: NotificationsConfig,
    client: reqwest::Client,
    clock: Clock,
}

impl Notifier {
    /// Checks the configuration and builds the HTTP client.
    pub fn new(store: Store, config: NotificationsConfig, clock: Clock) -> anyhow::Result<Self> {
        config.validate().map_err(anyhow::Error::msg)?;
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(StdDuration::from_millis(config.timeout_ms))
            .user_agent(concat!("ventana/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the notifications HTTP client")?;
        Ok(Self {
            store,
            config,
            client,
            clock,
        })
    }

    /// Runs until `shutdown`; in-flight deliveries finish first.
    pub async fn run(self, shutdown: CancellationToken) {
        crate::worker::run(self, shutdown).await
    }

    /// Claims due notifications and delivers them concurrently; returns how
    /// many were handled. Tests call it to drain the queue.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let lease = Duration::milliseconds(self.config.timeout_ms as i64) + LEASE_MARGIN;
        let rows = self
            .store
            .claim_notifications(self.clock.now(), BATCH, lease)
            .await?;
        let count = rows.len();
        let mut tasks = tokio::task::JoinSet::new();
        for row in rows {
            let notifier = self.clone();
            tasks.spawn(async move {
                let id = row.id;
                if let Err(e) = notifier.deliver(&row).await {
                    tracing::error!(notification_id = id, error = ?e, "could not record a notification result");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(count)
    }

    /// One attempt at one claimed notification, recorded on the row.
    pub async fn deliver(&self, row: &NotificationRow) -> anyhow::Result<Delivery> {
        let (Some(url), Some(secret)) = (&self.config.url, &self.config.secret) else {
            self.store
                .notification_skipped(row.id, "notifications.url is not configured")
                .await?;
            count(&row.event, "skipped");
            return Ok(Delivery::Skipped);
        };
        let request = signed_request(row, secret.expose_secret().as_bytes(), self.clock.now());
        let result = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-ventana-event", &row.event)
            .header("x-ventana-delivery", row.id.to_string())
            .header("x-ventana-signature-256", &request.signature)
            .body(request.body)
            .send()
            .await;
        let now = self.clock.now();
        let (error, retryable) = match result {
            Ok(response) if response.status().is_success() => {
                self.store.notification_delivered(row.id, now).await?;
                count(&row.event, "delivered");
                return Ok(Delivery::Delivered);
            }
            Ok(response) => {
                let status = response.status();
                let retryable =
                    status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
                (format!("the receiver answered {status}"), retryable)
            }
            Err(e) if e.is_timeout() => (
                format!("no answer within {} ms", self.config.timeout_ms),
                true,
            ),
            Err(e) => (format!("request failed: {e}"), true),
        };
        if retryable && (row.attempts as u32) < self.config.max_attempts {
            let at = now + self.backoff(row.attempts as u32);
            tracing::warn!(notification_id = row.id, event = %row.event, attempt = row.attempts, %error, "notification failed, retrying");
            self.store
                .notification_failed(row.id, Some(at), &error)
                .await?;
            count(&row.event, "retrying");
            return Ok(Delivery::Retrying(at));
        }
        tracing::error!(notification_id = row.id, event = %row.event, attempts = row.attempts, %error, "notification given up");
        self.store.notification_failed(row.id, None, &error).await?;
        count(&row.event, "failed");
        Ok(Delivery::Failed)
    }

    /// Exponential backoff with jitter (half to all of the step).
    fn backoff(&self, attempt: u32) -> Duration {
        let step = backoff_step(
            self.config.backoff_base_ms,
            self.config.backoff_max_ms,
            attempt,
        );
        Duration::milliseconds(rand::rng().random_range(step / 2..=step.max(1)) as i64)
    }
}

/// The backoff step after `attempt` attempts: base × 2^(attempt−1), capped.
fn backoff_step(base_ms: u64, max_ms: u64, attempt: u32) -> u64 {
    base_ms
        .saturating_mul(1_u64 << attempt.saturating_sub(1).min(30))
        .min(max_ms)
}

fn count(event: &str, outcome: &'static str) {
    metrics::counter!("ventana_notifications_total", "event" => event.to_owned(), "outcome" => outcome).increment(1);
}

#[async_trait::async_trait]
impl crate::worker::PollingWorker for Notifier {
    fn name(&self) -> &'static str {
        "notifier"
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
        Ok(self.store.next_notification_due().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::signature::verify_signature;

    #[test]
    fn the_body_is_signed_like_meta_signs_webhooks() {
        let row = NotificationRow {
            id: 42,
            event: "sla_breach".into(),
            payload: r#"{"escalation_id":7}"#.into(),
            attempts: 1,
        };
        let now = DateTime::from_timestamp(1_772_000_000, 0).unwrap();
        let request = signed_request(&row, b"s3cret", now);
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({"id": 42, "event": "sla_breach", "sent_at": "2026-02-25T06:13:20Z", "data": {"escalation_id": 7}})
        );
        assert!(request.signature.starts_with("sha256=") && request.signature.len() == 7 + 64);
        assert_eq!(
            verify_signature(b"s3cret", Some(&request.signature), &request.body),
            Ok(())
        );
        assert!(verify_signature(b"other", Some(&request.signature), &request.body).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let steps: Vec<u64> = (1..=6).map(|a| backoff_step(1_000, 10_000, a)).collect();
        assert_eq!(steps, [1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
        assert_eq!(backoff_step(1_000, 10_000, 200), 10_000);
    }

    #[test]
    fn a_url_needs_a_secret_and_an_http_scheme() {
        let mut config = NotificationsConfig {
            url: Some("https://hooks.example.com/ventana".into()),
            ..Default::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .starts_with("notifications.secret")
        );
        config.secret = Some(SecretString::from("k"));
        assert_eq!(config.validate(), Ok(()));
        config.url = Some("ftp://x".into());
        assert!(
            config
                .validate()
                .unwrap_err()
                .starts_with("notifications.url")
        );
        assert_eq!(NotificationsConfig::default().validate(), Ok(()));
    }

    #[test]
    fn the_secret_never_prints() {
        let config = NotificationsConfig {
            secret: Some(SecretString::from("hunter2")),
            ..Default::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
