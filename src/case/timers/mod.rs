//! The case's timers: what each kind is for, its typed payload, and the
//! handler the timer loop ([`crate::scheduler`]) fires them with.
//!
//! A row's `kind` and `payload` become a [`CaseTimer`] before anything
//! runs; an unknown kind is skipped with its name. Every handler re-checks
//! the case when it fires (it may have been answered, resolved or moved
//! since the timer was scheduled) and skips with a reason rather than act
//! on stale facts:
//!
//! - [`sla`]: the warning before the deadline and the breach at it;
//! - [`keepalive`]: one message inviting the customer to write before the
//!   window closes on a case that still waits for an agent;
//! - [`followup`]: the reminder to a customer an agent is waiting for,
//!   free-form inside the window or as a template after it.

mod followup;
mod keepalive;
mod sla;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::AnyConnection;

use super::texts::SchedulerTexts;
use crate::config::Config;
use crate::conversation::Clock;
use crate::conversation::window::WindowState;
use crate::escalation::Policies;
use crate::scheduler::{TimerHandler, TimerLoop};
use crate::store::escalations::add_event;
use crate::store::escalations::{escalation_in, has_event};
use crate::store::{
    ConversationRow, EscalationRow, EscalationState, NewTimer, Store, TimerRow, conversation_in,
};
use crate::vocab::Lang;
use crate::wakeups::Wakeups;

/// The timer loop with the case's handler.
pub type Scheduler = TimerLoop<CaseTimers>;

/// What a timer is for (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    SlaWarning,
    SlaBreach,
    Keepalive,
    Followup,
}

impl TimerKind {
    /// The kinds an open escalation plans (all but the follow-up).
    pub const ESCALATION: [TimerKind; 3] = [
        TimerKind::SlaWarning,
        TimerKind::SlaBreach,
        TimerKind::Keepalive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::SlaWarning => "sla_warning",
            TimerKind::SlaBreach => "sla_breach",
            TimerKind::Keepalive => "keepalive",
            TimerKind::Followup => "followup",
        }
    }
}

impl std::str::FromStr for TimerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "sla_warning" => TimerKind::SlaWarning,
            "sla_breach" => TimerKind::SlaBreach,
            "keepalive" => TimerKind::Keepalive,
            "followup" => TimerKind::Followup,
            other => return Err(format!("unknown timer kind {other:?}")),
        })
    }
}

/// The SLA timers' payload: the deadline they were planned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeadlinePayload {
    /// Absent on rows written before payloads existed: no check.
    #[serde(default)]
    pub deadline_ms: Option<i64>,
}

/// The keep-alive's payload: the window close it protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WindowPayload {
    #[serde(default)]
    pub window_closes_at_ms: Option<i64>,
}

/// The follow-up's payload: when the case was parked; a customer message
/// after it cancels the reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FollowupPayload {
    #[serde(default)]
    pub since_ms: Option<i64>,
}

/// A timer row as its typed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseTimer {
    SlaWarning(DeadlinePayload),
    SlaBreach(DeadlinePayload),
    Keepalive(WindowPayload),
    Followup(FollowupPayload),
}

impl CaseTimer {
    pub fn kind(&self) -> TimerKind {
        match self {
            CaseTimer::SlaWarning(_) => TimerKind::SlaWarning,
            CaseTimer::SlaBreach(_) => TimerKind::SlaBreach,
            CaseTimer::Keepalive(_) => TimerKind::Keepalive,
            CaseTimer::Followup(_) => TimerKind::Followup,
        }
    }

    /// The `payload` column.
    pub fn payload(&self) -> serde_json::Value {
        let value = match self {
            CaseTimer::SlaWarning(p) | CaseTimer::SlaBreach(p) => serde_json::to_value(p),
            CaseTimer::Keepalive(p) => serde_json::to_value(p),
            CaseTimer::Followup(p) => serde_json::to_value(p),
        };
        value.expect("plain payload structs serialize")
    }

    /// A new row for this job.
    pub fn row(
        &self,
        escalation_id: i64,
        conversation_id: i64,
        due_at: DateTime<Utc>,
        dedupe_key: Option<String>,
    ) -> NewTimer {
        NewTimer {
            kind: self.kind().as_str().to_owned(),
            escalation_id: Some(escalation_id),
            conversation_id: Some(conversation_id),
            due_at,
            dedupe_key,
            payload: Some(self.payload()),
        }
    }

    /// Reads a claimed row: its kind, and its payload into that kind's type.
    pub fn from_row(timer: &TimerRow) -> Result<Self, String> {
        let kind: TimerKind = timer.kind.parse()?;
        // `deserialize` infers each kind's payload type from its variant.
        let value = timer.payload.clone().unwrap_or_else(|| json!({}));
        let read = |f: fn(serde_json::Value) -> serde_json::Result<CaseTimer>| {
            f(value.clone()).map_err(|e| format!("{} payload: {e}", kind.as_str()))
        };
        match kind {
            TimerKind::SlaWarning => read(|v| serde_json::from_value(v).map(CaseTimer::SlaWarning)),
            TimerKind::SlaBreach => read(|v| serde_json::from_value(v).map(CaseTimer::SlaBreach)),
            TimerKind::Keepalive => read(|v| serde_json::from_value(v).map(CaseTimer::Keepalive)),
            TimerKind::Followup => read(|v| serde_json::from_value(v).map(CaseTimer::Followup)),
        }
    }
}

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
pub struct Effects {
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

    fn queued(mut self) -> Self {
        self.outbox = true;
        self
    }
}

/// Fires the case's timers.
pub struct CaseTimers {
    policies: Arc<Policies>,
    texts: Arc<SchedulerTexts>,
    wakeups: Arc<Wakeups>,
}

impl CaseTimers {
    pub fn new(policies: Arc<Policies>, texts: Arc<SchedulerTexts>, wakeups: Arc<Wakeups>) -> Self {
        Self {
            policies,
            texts,
            wakeups,
        }
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }
}

#[async_trait::async_trait]
impl TimerHandler for CaseTimers {
    type Effects = Effects;
    type Outcome = Fired;

    async fn fire(
        &self,
        conn: &mut AnyConnection,
        timer: &TimerRow,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Effects> {
        let job = match CaseTimer::from_row(timer) {
            Ok(job) => job,
            Err(reason) => return Ok(Effects::skipped(reason)),
        };
        match job {
            CaseTimer::SlaWarning(p) => sla::fire(conn, timer, p, now, false).await,
            CaseTimer::SlaBreach(p) => sla::fire(conn, timer, p, now, true).await,
            CaseTimer::Keepalive(p) => keepalive::fire(self, conn, timer, p, now).await,
            CaseTimer::Followup(p) => followup::fire(self, conn, timer, p, now).await,
        }
    }

    fn committed(&self, effects: Effects) -> Fired {
        for metric in &effects.metrics {
            metric.record();
        }
        if effects.outbox {
            self.wakeups.outbox.notify_one();
        }
        effects.fired
    }

    fn superseded(&self) -> Fired {
        Fired::Superseded
    }
}

impl TimerLoop<CaseTimers> {
    /// The case scheduler with `policies` (compiled once, at start) and the
    /// texts from `prompts_dir`; the error names the file.
    pub fn for_cases(
        config: &Config,
        store: Store,
        policies: Arc<Policies>,
        clock: Clock,
        wakeups: Arc<Wakeups>,
    ) -> anyhow::Result<Self> {
        let texts = SchedulerTexts::load(&config.prompts_dir)?;
        let handler = CaseTimers::new(policies, Arc::new(texts), wakeups);
        Ok(Self::new(store, Arc::new(handler), clock))
    }

    /// [`for_cases`](Self::for_cases) compiling the policies from the
    /// configuration (tools and tests; the service shares its own).
    pub fn from_config(
        config: &Config,
        store: Store,
        clock: Clock,
        wakeups: Arc<Wakeups>,
    ) -> anyhow::Result<Self> {
        let policies = config.escalation.policies().map_err(anyhow::Error::msg)?;
        Self::for_cases(config, store, Arc::new(policies), clock, wakeups)
    }

    pub fn policies(&self) -> &Policies {
        self.handler().policies()
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

/// The customer's language, Spanish when unknown (most customers write it).
pub fn customer_lang(conversation: &ConversationRow) -> Lang {
    conversation
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::model::Channel;

    fn row(kind: &str, payload: Option<serde_json::Value>) -> TimerRow {
        TimerRow {
            id: 1,
            kind: kind.into(),
            escalation_id: Some(2),
            conversation_id: Some(3),
            due_at: Utc::now(),
            attempts: 1,
            payload,
        }
    }

    #[test]
    fn a_row_reads_back_as_the_job_that_wrote_it() {
        let jobs = [
            CaseTimer::SlaWarning(DeadlinePayload {
                deadline_ms: Some(5),
            }),
            CaseTimer::SlaBreach(DeadlinePayload {
                deadline_ms: Some(6),
            }),
            CaseTimer::Keepalive(WindowPayload {
                window_closes_at_ms: Some(7),
            }),
            CaseTimer::Followup(FollowupPayload { since_ms: Some(8) }),
        ];
        for job in jobs {
            let new = job.row(2, 3, Utc::now(), None);
            let read = CaseTimer::from_row(&row(&new.kind, new.payload)).unwrap();
            assert_eq!(read, job);
        }
        // Rows from before payloads: no payload, no checks.
        assert_eq!(
            CaseTimer::from_row(&row("sla_breach", None)).unwrap(),
            CaseTimer::SlaBreach(DeadlinePayload::default())
        );
    }

    #[test]
    fn an_unknown_kind_or_a_payload_of_the_wrong_type_is_named() {
        let error = CaseTimer::from_row(&row("reminder", None)).unwrap_err();
        assert!(error.contains("\"reminder\""), "{error}");
        let error =
            CaseTimer::from_row(&row("followup", Some(json!({"since_ms": "soon"})))).unwrap_err();
        assert!(error.starts_with("followup payload"), "{error}");
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
        assert_eq!(customer_lang(&c), Lang::Es);
        c.lang = Some("pt".into());
        assert_eq!(customer_lang(&c), Lang::Pt);
        c.lang = Some("fr".into());
        assert_eq!(customer_lang(&c), Lang::Es);
    }
}
