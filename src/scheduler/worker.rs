//! The scheduler worker: claims due timers with a lease and fires each in
//! one transaction that holds its effects (history event, notification,
//! outbox row) and its completion, so a timer's effects are committed once
//! even when several instances run or one dies mid-way.
//!
//! Completion checks the claim (`attempts`): an instance whose lease expired
//! while it was still firing rolls back instead of committing a second time.
//! Handlers re-check the case when they fire (it may have been answered,
//! resolved or moved since the timer was scheduled) and skip with a reason
//! rather than act on stale facts. A handler that fails is retried with
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
use serde_json::json;
use sqlx::AnyConnection;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::notify::{NotificationEvent, escalation_payload, queue_notification};
use super::plan::{TimerKind, awaits_first_response, keepalive_key, plan_escalation_timers};
use super::texts::{SchedulerTexts, TextId};
use crate::channels::model::Channel;
use crate::channels::outbound::{OutboundBody, OutboundMessage};
use crate::config::Config;
use crate::conversation::Clock;
use crate::conversation::window::WindowState;
use crate::escalation::{Policies, TemplateCategory, TemplatePurpose};
use crate::store::escalations::add_event;
use crate::store::scheduling::{
    agent_replied_since, complete_claimed_timer, escalation_in, has_event,
};
use crate::store::timers::schedule;
use crate::store::{
    Backend, ConversationRow, EscalationRow, EscalationState, NewOutbound, OutboxState, Store,
    TimerRow, conversation_in, enqueue, to_ms,
};
use crate::triage::Lang;
use crate::wakeups::Wakeups;

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

/// What firing one timer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    SlaWarning,
    SlaBreach,
    KeepaliveSent,
    /// A free-form follow-up inside the window.
    FollowupSent,
    /// A follow-up template after the window closed.
    FollowupTemplate {
        name: String,
    },
    /// Nothing to do any more, and why.
    Skipped(String),
    /// Another instance took the timer over after our lease expired; our
    /// effects were rolled back.
    Superseded,
}

/// Counters to bump once the transaction committed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Metric {
    SlaWarning { queue: String },
    SlaBreach { queue: String },
    Keepalive,
    WindowClosedWhileWaiting,
    Template { category: &'static str },
}

impl Metric {
    fn record(&self) {
        match self {
            Metric::SlaWarning { queue } => {
                metrics::counter!("ventana_sla_warnings_total", "queue" => queue.clone())
                    .increment(1)
            }
            Metric::SlaBreach { queue } => {
                metrics::counter!("ventana_sla_breached_total", "queue" => queue.clone())
                    .increment(1)
            }
            Metric::Keepalive => metrics::counter!("ventana_keepalives_sent_total").increment(1),
            Metric::WindowClosedWhileWaiting => {
                metrics::counter!("ventana_windows_closed_while_waiting_total").increment(1)
            }
            Metric::Template { category } => {
                metrics::counter!("ventana_templates_sent_total", "category" => *category)
                    .increment(1)
            }
        }
    }
}

/// A handler's result, applied after commit.
struct Effects {
    fired: Fired,
    metrics: Vec<Metric>,
    /// An outbox row was queued: wake the sender.
    outbox: bool,
}

impl Effects {
    fn done(fired: Fired) -> Self {
        Self {
            fired,
            metrics: Vec::new(),
            outbox: false,
        }
    }

    fn skipped(reason: impl Into<String>) -> Self {
        Self::done(Fired::Skipped(reason.into()))
    }

    fn with(mut self, metric: Metric) -> Self {
        self.metrics.push(metric);
        self
    }
}

/// Fires due timers.
#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    policies: Arc<Policies>,
    texts: Arc<SchedulerTexts>,
    clock: Clock,
    signals: Arc<Wakeups>,
    lease: Duration,
    /// Timers fired at once; see [`POSTGRES_CONCURRENCY`].
    concurrency: usize,
}

impl Scheduler {
    pub fn new(
        store: Store,
        policies: Arc<Policies>,
        texts: Arc<SchedulerTexts>,
        clock: Clock,
        signals: Arc<Wakeups>,
    ) -> Self {
        let concurrency = match store.backend() {
            Backend::Postgres => POSTGRES_CONCURRENCY,
            Backend::Sqlite => SQLITE_CONCURRENCY,
        };
        Self {
            store,
            policies,
            texts,
            clock,
            signals,
            lease: DEFAULT_LEASE,
            concurrency,
        }
    }

    /// Compiles the policies and loads the texts from `prompts_dir`; the
    /// error names the key or file.
    pub fn from_config(
        config: &Config,
        store: Store,
        clock: Clock,
        signals: Arc<Wakeups>,
    ) -> anyhow::Result<Self> {
        let policies = config.escalation.policies().map_err(anyhow::Error::msg)?;
        let texts = SchedulerTexts::load(&config.prompts_dir)?;
        Ok(Self::new(
            store,
            Arc::new(policies),
            Arc::new(texts),
            clock,
            signals,
        ))
    }

    /// The same scheduler with another lease (tests of lease expiry).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The same scheduler firing up to `concurrency` timers at once (at
    /// least one); the default depends on the backend.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
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
        let this = Arc::new(self.clone());
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

    /// Fires one claimed timer: its effects and its completion in one
    /// transaction.
    pub async fn fire(&self, timer: &TimerRow) -> anyhow::Result<Fired> {
        let now = self.clock.now();
        let mut tx = self.store.begin_write().await?;
        let conn: &mut AnyConnection = &mut tx.tx;
        let effects = match TimerKind::parse(&timer.kind) {
            Some(TimerKind::SlaWarning) => self.sla(conn, timer, now, false).await?,
            Some(TimerKind::SlaBreach) => self.sla(conn, timer, now, true).await?,
            Some(TimerKind::Keepalive) => self.keepalive(conn, timer, now).await?,
            Some(TimerKind::Followup) => self.followup(conn, timer, now).await?,
            None => Effects::skipped(format!("unknown timer kind {:?}", timer.kind)),
        };
        if !complete_claimed_timer(conn, timer.id, timer.attempts, now).await? {
            tx.tx.rollback().await?;
            return Ok(Fired::Superseded);
        }
        tx.commit().await?;
        for metric in &effects.metrics {
            metric.record();
        }
        if effects.outbox {
            self.signals.outbox.notify_one();
        }
        Ok(effects.fired)
    }

    /// `sla_warning` (the case still waits) or `sla_breach` (nobody answered
    /// yet): a history event, a notification, a metric.
    async fn sla(
        &self,
        conn: &mut AnyConnection,
        timer: &TimerRow,
        now: DateTime<Utc>,
        breach: bool,
    ) -> anyhow::Result<Effects> {
        let Some(escalation) = load_escalation(conn, timer).await? else {
            return Ok(Effects::skipped("the escalation does not exist"));
        };
        if payload_ms(timer, "deadline_ms").is_some_and(|ms| ms != to_ms(escalation.deadline_at)) {
            return Ok(Effects::skipped("the deadline moved"));
        }
        let still_due = if breach {
            awaits_first_response(&escalation)
        } else {
            escalation.state == EscalationState::Waiting
        };
        if !still_due {
            return Ok(Effects::skipped("an agent already took the case"));
        }
        let (kind, event) = if breach {
            ("sla_breached", NotificationEvent::SlaBreach)
        } else {
            ("sla_warning", NotificationEvent::SlaWarning)
        };
        add_event(
            conn,
            escalation.id,
            kind,
            None,
            Some(json!({ "deadline_at": escalation.deadline_at })),
            now,
        )
        .await?;
        let mut payload = escalation_payload(&escalation);
        payload["minutes_left"] = json!((escalation.deadline_at - now).num_minutes());
        let key = format!("{}:{}", event.as_str(), escalation.id);
        queue_notification(conn, event, &payload, Some(&key), now).await?;
        let queue = escalation.queue.clone();
        let mut effects = if breach {
            Effects::done(Fired::SlaBreach).with(Metric::SlaBreach { queue })
        } else {
            Effects::done(Fired::SlaWarning).with(Metric::SlaWarning { queue })
        };
        if breach
            && let Some(conversation) = conversation_in(conn, escalation.conversation_id).await?
            && note_window_closed_while_waiting(conn, &escalation, &conversation, now).await?
        {
            effects = effects.with(Metric::WindowClosedWhileWaiting);
        }
        Ok(effects)
    }

    /// `keepalive`: one short message inside the window inviting the
    /// customer to write, while the case waits for an agent who has not
    /// answered since the customer's last message.
    async fn keepalive(
        &self,
        conn: &mut AnyConnection,
        timer: &TimerRow,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Effects> {
        let Some((escalation, conversation)) = load_case(conn, timer).await? else {
            return Ok(Effects::skipped("the case does not exist"));
        };
        if !matches!(
            escalation.state,
            EscalationState::Waiting | EscalationState::Assigned
        ) {
            return Ok(Effects::skipped("the case no longer waits for an agent"));
        }
        let window = conversation.window(now);
        let (true, Some(closes_at), Some(since)) = (
            window.is_open(),
            window.closes_at,
            conversation.last_customer_message_at,
        ) else {
            let mut effects = Effects::skipped("the window already closed");
            if note_window_closed_while_waiting(conn, &escalation, &conversation, now).await? {
                effects = effects.with(Metric::WindowClosedWhileWaiting);
            }
            return Ok(effects);
        };
        if payload_ms(timer, "window_closes_at_ms").is_some_and(|ms| ms != to_ms(closes_at)) {
            // The customer wrote again: the new window gets its own keep-alive
            // (normally scheduled already by `reschedule_for_window`).
            for new in plan_escalation_timers(&escalation, &self.policies, &conversation, now) {
                if new.kind == TimerKind::Keepalive.as_str() {
                    schedule(conn, &new, now).await?;
                }
            }
            return Ok(Effects::skipped("the window moved"));
        }
        if escalation.first_response_at.is_some_and(|at| at >= since)
            || agent_replied_since(conn, conversation.id, since).await?
        {
            return Ok(Effects::skipped("an agent already replied"));
        }
        let key = keepalive_key(conversation.id, closes_at);
        let text = self
            .texts
            .get(TextId::Keepalive, lang_of(&conversation))
            .to_owned();
        let new = outbound(
            &conversation,
            OutboundBody::Text { text },
            "keepalive",
            key.clone(),
            now,
        );
        if enqueue(conn, &new, now).await?.is_none() {
            return Ok(Effects::skipped(
                "a keep-alive already went out in this window",
            ));
        }
        add_event(
            conn,
            escalation.id,
            "keepalive_sent",
            None,
            Some(json!({ "window_closes_at": closes_at })),
            now,
        )
        .await?;
        let mut payload = escalation_payload(&escalation);
        payload["window_closes_at"] = json!(closes_at);
        let notification_key = format!("window_closing:{}:{}", conversation.id, to_ms(closes_at));
        queue_notification(
            conn,
            NotificationEvent::WindowClosing,
            &payload,
            Some(&notification_key),
            now,
        )
        .await?;
        let mut effects = Effects::done(Fired::KeepaliveSent).with(Metric::Keepalive);
        effects.outbox = true;
        Ok(effects)
    }

    /// `followup`: the case waits for the customer, who has not written
    /// since the agent parked it. Free-form inside the window; after it a
    /// configured follow-up template (WhatsApp); otherwise a recorded skip.
    async fn followup(
        &self,
        conn: &mut AnyConnection,
        timer: &TimerRow,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Effects> {
        let Some((escalation, conversation)) = load_case(conn, timer).await? else {
            return Ok(Effects::skipped("the case does not exist"));
        };
        if escalation.state != EscalationState::WaitingCustomer {
            return Ok(Effects::skipped(
                "the case no longer waits for the customer",
            ));
        }
        if let (Some(since), Some(wrote)) = (
            payload_ms(timer, "since_ms"),
            conversation.last_customer_message_at,
        ) && to_ms(wrote) > since
        {
            return Ok(Effects::skipped("the customer wrote"));
        }
        let lang = lang_of(&conversation);
        let key = format!("followup:{}", timer.id);
        if conversation.window(now).is_open() {
            let text = self.texts.get(TextId::Followup, lang).to_owned();
            enqueue(
                conn,
                &outbound(
                    &conversation,
                    OutboundBody::Text { text },
                    "followup",
                    key,
                    now,
                ),
                now,
            )
            .await?;
            add_event(
                conn,
                escalation.id,
                "followup_sent",
                None,
                Some(json!({ "kind": "text" })),
                now,
            )
            .await?;
            let mut effects = Effects::done(Fired::FollowupSent);
            effects.outbox = true;
            return Ok(effects);
        }
        if conversation.channel != Channel::Whatsapp {
            let reason = format!(
                "the window is closed and {} has no templates",
                conversation.channel.as_str()
            );
            return skip_followup(conn, &escalation, reason, now).await;
        }
        let candidates = self.policies.templates_for(TemplatePurpose::Followup, lang);
        if candidates.is_empty() {
            let reason = "the window is closed and no followup template is configured".to_owned();
            return skip_followup(conn, &escalation, reason, now).await;
        }
        let mut values = HashMap::new();
        if let Some(name) = &conversation.customer_name {
            values.insert("customer_name", name.as_str());
        }
        let mut errors = Vec::new();
        for template in candidates {
            let params = match template.body_parameters(&values) {
                Ok(params) => params,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            let category = category_str(template.category);
            let body = OutboundBody::Template {
                name: template.name.clone(),
                language: template.language.clone(),
                body_params: params.into_iter().map(|p| p.text).collect(),
                category: Some(category.to_owned()),
            };
            enqueue(
                conn,
                &outbound(&conversation, body, "followup", key, now),
                now,
            )
            .await?;
            let detail = json!({ "kind": "template", "template": template.name, "language": template.language });
            add_event(
                conn,
                escalation.id,
                "followup_sent",
                None,
                Some(detail),
                now,
            )
            .await?;
            let mut effects = Effects::done(Fired::FollowupTemplate {
                name: template.name.clone(),
            })
            .with(Metric::Template { category });
            effects.outbox = true;
            return Ok(effects);
        }
        let reason = format!(
            "no followup template could be filled: {}",
            errors.join("; ")
        );
        skip_followup(conn, &escalation, reason, now).await
    }
}

/// Records why no follow-up went out (agents see it in the history).
async fn skip_followup(
    conn: &mut AnyConnection,
    escalation: &EscalationRow,
    reason: String,
    now: DateTime<Utc>,
) -> anyhow::Result<Effects> {
    add_event(
        conn,
        escalation.id,
        "followup_skipped",
        None,
        Some(json!({ "reason": reason })),
        now,
    )
    .await?;
    Ok(Effects::skipped(reason))
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

fn payload_ms(timer: &TimerRow, key: &str) -> Option<i64> {
    timer.payload.as_ref()?.get(key)?.as_i64()
}

/// The customer's language, Spanish when unknown (most customers write it).
fn lang_of(conversation: &ConversationRow) -> Lang {
    conversation
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_default()
}

fn category_str(category: TemplateCategory) -> &'static str {
    match category {
        TemplateCategory::Utility => "utility",
        TemplateCategory::Marketing => "marketing",
        TemplateCategory::Authentication => "authentication",
    }
}

/// A message to the customer of `conversation`, from the number or page
/// they wrote to.
fn outbound(
    conversation: &ConversationRow,
    body: OutboundBody,
    purpose: &str,
    dedupe_key: String,
    now: DateTime<Utc>,
) -> NewOutbound {
    NewOutbound {
        conversation_id: Some(conversation.id),
        message: OutboundMessage {
            channel: conversation.channel,
            business_id: conversation.business_id.clone(),
            recipient: conversation.send_address().to_owned(),
            body,
            reply_to: None,
            messaging_type: None,
        },
        purpose: purpose.to_owned(),
        dedupe_key: Some(dedupe_key),
        not_before: now,
        state: OutboxState::Pending,
    }
}

async fn load_escalation(
    conn: &mut AnyConnection,
    timer: &TimerRow,
) -> anyhow::Result<Option<EscalationRow>> {
    match timer.escalation_id {
        Some(id) => Ok(escalation_in(conn, id).await?),
        None => Ok(None),
    }
}

async fn load_case(
    conn: &mut AnyConnection,
    timer: &TimerRow,
) -> anyhow::Result<Option<(EscalationRow, ConversationRow)>> {
    let Some(escalation) = load_escalation(conn, timer).await? else {
        return Ok(None);
    };
    let conversation_id = timer.conversation_id.unwrap_or(escalation.conversation_id);
    Ok(conversation_in(conn, conversation_id)
        .await?
        .map(|c| (escalation, c)))
}

/// Records (once per window) that the window closed while the case still
/// waited for an agent; `true` when this call recorded it.
async fn note_window_closed_while_waiting(
    conn: &mut AnyConnection,
    escalation: &EscalationRow,
    conversation: &ConversationRow,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let window = conversation.window(now);
    if window.state != WindowState::Closed || escalation.state != EscalationState::Waiting {
        return Ok(false);
    }
    let detail = json!({ "window_closes_at": window.closes_at });
    if has_event(conn, escalation.id, "window_closed_while_waiting", &detail).await? {
        return Ok(false);
    }
    tracing::warn!(closes_at = ?window.closes_at, "the window closed while the case waited for an agent");
    add_event(
        conn,
        escalation.id,
        "window_closed_while_waiting",
        None,
        Some(detail),
        now,
    )
    .await?;
    Ok(true)
}

#[async_trait::async_trait]
impl crate::worker::PollingWorker for Scheduler {
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

    #[test]
    fn unknown_or_missing_languages_fall_back_to_spanish() {
        let mut c = ConversationRow {
            id: 1,
            channel: Channel::Whatsapp,
            business_id: "b".into(),
            customer_id: "c".into(),
            customer_wa_id: None,
            customer_user_id: None,
            customer_name: None,
            last_customer_message_at: None,
            window_error_at: None,
            referral_at: None,
            free_entry_until: None,
            owner: crate::store::Owner::Human,
            lang: None,
        };
        assert_eq!(lang_of(&c), Lang::Es);
        c.lang = Some("pt".into());
        assert_eq!(lang_of(&c), Lang::Pt);
        c.lang = Some("fr".into());
        assert_eq!(lang_of(&c), Lang::Es);
    }
}
