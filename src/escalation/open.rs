//! Opening a case: the pipeline's side of escalation.
//!
//! When a turn needs a person, [`plan_case`] routes it to a queue, sets its
//! priority and computes its deadline (the earlier of the SLA and the
//! window, see [`super::deadline()`]); [`open_case`] stores it in the turn's
//! transaction, hands the conversation to people and queues the urgent
//! notification. [`CaseOutlook`] phrases "when a person will answer" for the
//! acknowledgement before the reply is written.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::config::{Policies, QueuePolicy};
use super::deadline::{Deadline, Priority, agent_window_closes_at, deadline};
use super::notice::{OutOfHoursNotice, expected_reply, out_of_hours_notice};
use super::text::{expected_reply_phrase, out_of_hours_text};
use super::wording::Wording;
use crate::notify::{NotificationEvent, escalation_payload};
use crate::store::escalations::{NewEscalation, insert_escalation};
use crate::store::{ConversationRow, Owner, set_owner};
use crate::triage::Lang;

/// Where a new case goes and when it is due.
#[derive(Debug, Clone)]
pub struct CasePlan<'a> {
    pub queue: &'a QueuePolicy,
    pub priority: Priority,
    pub deadline: Deadline,
    pub window_closes_at: Option<DateTime<Utc>>,
    /// Set when no agent will be on before the window closes.
    pub out_of_hours: Option<OutOfHoursNotice>,
}

/// Routes and schedules a case created at `now` in `conversation`.
pub fn plan_case<'a>(
    policies: &'a Policies,
    requested_queue: Option<&str>,
    priority: Priority,
    conversation: &ConversationRow,
    now: DateTime<Utc>,
) -> CasePlan<'a> {
    let queue = policies.route(requested_queue);
    let window = conversation.window(now);
    let window_closes_at = agent_window_closes_at(&window, now);
    let deadline = deadline(
        now,
        priority,
        queue,
        window_closes_at,
        policies.window_margin,
    );
    let out_of_hours =
        out_of_hours_notice(&queue.hours, now, window_closes_at, policies.window_margin);
    CasePlan {
        queue,
        priority,
        deadline,
        window_closes_at,
        out_of_hours,
    }
}

impl CasePlan<'_> {
    /// "en unos 15 minutos", "el lunes a partir de las 9:00", ...
    pub fn expected_phrase(&self, lang: Lang, now: DateTime<Utc>) -> String {
        let expected = expected_reply(&self.deadline, &self.queue.hours, now);
        expected_reply_phrase(
            expected,
            now,
            self.queue.hours.zone(),
            Wording::builtin(lang),
        )
    }

    /// The out-of-hours message (opening hours, write again then), if any.
    pub fn out_of_hours_message(&self, lang: Lang, now: DateTime<Utc>) -> Option<String> {
        self.out_of_hours
            .as_ref()
            .map(|notice| out_of_hours_text(notice, &self.queue.hours, now, Wording::builtin(lang)))
    }
}

/// Phrases the expected answer time for the bot's acknowledgement, for
/// whichever priority and queue the bot's decision turns out to need.
pub struct CaseOutlook<'a> {
    pub policies: &'a Policies,
    pub conversation: &'a ConversationRow,
    pub now: DateTime<Utc>,
}

impl crate::answer::ExpectedAnswer for CaseOutlook<'_> {
    fn phrase(&self, urgent: bool, queue: Option<&str>, lang: Lang) -> Option<String> {
        let priority = if urgent {
            Priority::High
        } else {
            Priority::Normal
        };
        let plan = plan_case(self.policies, queue, priority, self.conversation, self.now);
        Some(plan.expected_phrase(lang, self.now))
    }
}

/// The triage facts stored with a case.
#[derive(Debug, Clone, Default)]
pub struct CaseTriage {
    pub reason: String,
    pub class: Option<String>,
    pub confidence: Option<f64>,
    pub triage_reason: Option<String>,
}

/// Inside the turn's transaction: stores the case, hands the conversation
/// to people, schedules its timers (SLA warning and breach, window
/// keep-alive) and queues the notification for urgent cases. Returns the
/// escalation id.
pub async fn open_case(
    conn: &mut AnyConnection,
    policies: &Policies,
    conversation: &ConversationRow,
    turn_id: Option<i64>,
    plan: &CasePlan<'_>,
    triage: &CaseTriage,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let new = NewEscalation {
        conversation_id: conversation.id,
        turn_id,
        queue: plan.queue.name.clone(),
        priority: plan.priority.as_str().to_owned(),
        reason: triage.reason.clone(),
        triage_class: triage.class.clone(),
        triage_confidence: triage.confidence,
        triage_reason: triage.triage_reason.clone(),
        sla_due_at: plan.deadline.sla_due,
        deadline_at: plan.deadline.at,
        deadline_bound: match plan.deadline.bound {
            super::DeadlineBound::Sla => "sla".into(),
            super::DeadlineBound::Window => "window".into(),
        },
        window_closes_at: plan.window_closes_at,
    };
    let id = insert_escalation(conn, &new, now).await?;
    set_owner(conn, conversation.id, Owner::Human).await?;
    let row = crate::store::escalations::open_escalation_in(conn, conversation.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("escalation {id} vanished inside its own transaction"))?;
    crate::case::schedule_escalation_timers(conn, &row, policies, conversation, now).await?;
    if plan.priority == Priority::High {
        crate::notify::queue_notification(
            conn,
            NotificationEvent::UrgentEscalation,
            &escalation_payload(&row),
            Some(&format!("urgent_escalation:{id}")),
            now,
        )
        .await?;
    }
    metrics::counter!(
        "ventana_escalations_total",
        "queue" => plan.queue.name.clone(),
        "priority" => plan.priority.as_str()
    )
    .increment(1);
    Ok(id)
}
