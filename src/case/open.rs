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

use super::plan::reschedule_for_window;
use crate::escalation::{
    Deadline, DeadlineBound, OutOfHoursNotice, Policies, Priority, QueuePolicy, Wording,
    agent_window_closes_at, deadline, expected_reply, expected_reply_phrase, out_of_hours_notice,
    out_of_hours_text,
};
use crate::notify::{NotificationEvent, escalation_payload};
use crate::store::escalations::{
    NewEscalation, add_event, insert_escalation, open_escalation_in, update_deadline,
};
use crate::store::{ConversationRow, Owner, set_owner};
use crate::vocab::Lang;

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
            DeadlineBound::Sla => "sla".into(),
            DeadlineBound::Window => "window".into(),
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

/// What the bot decided for a turn that needs a person.
pub struct Escalate<'a> {
    pub priority: Priority,
    /// The queue the answering article names, if any.
    pub queue: Option<&'a str>,
    pub triage: CaseTriage,
    /// The customer's language, for the out-of-hours notice.
    pub lang: Lang,
}

/// Inside the turn's transaction: opens the escalation the bot decided on
/// (unless one is open already). Returns the out-of-hours notice to send
/// after the acknowledgement, if no agent will be on in time.
pub async fn open_for_turn(
    conn: &mut AnyConnection,
    policies: &Policies,
    conversation: &ConversationRow,
    turn_id: i64,
    escalate: &Escalate<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<String>> {
    if open_escalation_in(conn, conversation.id).await?.is_some() {
        return Ok(None);
    }
    let case = plan_case(
        policies,
        escalate.queue,
        escalate.priority,
        conversation,
        now,
    );
    let escalation_id = open_case(
        conn,
        policies,
        conversation,
        Some(turn_id),
        &case,
        &escalate.triage,
        now,
    )
    .await?;
    tracing::info!(escalation_id, queue = %case.queue.name, priority = escalate.priority.as_str(), "escalated");
    Ok(case.out_of_hours_message(escalate.lang, now))
}

/// Inside the turn's transaction: the customer wrote while a person owns
/// the conversation, so the window moved: the open case's deadline and
/// timers follow it.
pub async fn follow_the_window(
    conn: &mut AnyConnection,
    policies: &Policies,
    conversation: &ConversationRow,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(case) = open_escalation_in(conn, conversation.id).await? else {
        return Ok(());
    };
    let priority = case.priority.parse().unwrap_or(Priority::Normal);
    let plan = plan_case(
        policies,
        Some(&case.queue),
        priority,
        conversation,
        case.created_at,
    );
    let bound = match plan.deadline.bound {
        DeadlineBound::Sla => "sla",
        DeadlineBound::Window => "window",
    };
    if plan.deadline.at != case.deadline_at || plan.window_closes_at != case.window_closes_at {
        update_deadline(
            conn,
            case.id,
            plan.deadline.at,
            bound,
            plan.window_closes_at,
            now,
        )
        .await?;
        add_event(conn, case.id, "customer_wrote", None, None, now).await?;
    }
    // The window moved: the keep-alive (and SLA timers if the deadline
    // changed) follow it.
    if let Some(updated) = open_escalation_in(conn, conversation.id).await? {
        reschedule_for_window(conn, &updated, policies, conversation, now).await?;
    }
    Ok(())
}
