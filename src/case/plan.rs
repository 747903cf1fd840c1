//! Which timers a case needs, and scheduling them inside the caller's
//! transaction.
//!
//! A case waiting for a person gets up to three timers: an SLA warning
//! `sla_warning_before` ahead of its deadline (so agents hear of it while
//! there is still time), the breach at the deadline, and a keep-alive
//! `keepalive_before` ahead of the window's close, inviting the customer to
//! write so the window stays open for the agent's reply. A case an agent
//! parked waiting for the customer gets a follow-up.
//!
//! Every timer's dedupe key names what it is for (the deadline or the window
//! it protects), so scheduling is idempotent and a recomputation only adds
//! what changed: [`reschedule_for_window`] cancels the pending timers whose
//! key is no longer planned and schedules the new ones.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::timers::{CaseTimer, DeadlinePayload, FollowupPayload, TimerKind, WindowPayload};
use crate::escalation::Policies;
use crate::store::timers::cancel_pending_except;
use crate::store::timers::schedule;
use crate::store::{ConversationRow, EscalationRow, EscalationState, NewTimer, to_ms};

/// The keep-alive's key: one per conversation and window (also the outbox
/// row's dedupe key, so one message per window whatever fires it).
pub fn keepalive_key(conversation_id: i64, window_closes_at: DateTime<Utc>) -> String {
    format!("keepalive:{conversation_id}:{}", to_ms(window_closes_at))
}

/// Whether the breach still matters: nobody has answered yet.
pub fn awaits_first_response(escalation: &EscalationRow) -> bool {
    match escalation.state {
        EscalationState::Waiting => true,
        EscalationState::Assigned => escalation.first_response_at.is_none(),
        EscalationState::WaitingCustomer | EscalationState::Resolved => false,
    }
}

/// The timers `escalation` needs at `now`, as pure data.
///
/// - `sla_warning` at deadline − `sla_warning_before`, while the case waits,
///   if that is still ahead (a case created inside the warning period only
///   gets the breach) and warnings are on;
/// - `sla_breach` at the deadline while nobody has answered;
/// - `keepalive` at window close − `keepalive_before` while the case is
///   open (waiting or assigned) and the window is, if that is still ahead.
pub fn plan_escalation_timers(
    escalation: &EscalationRow,
    policies: &Policies,
    conversation: &ConversationRow,
    now: DateTime<Utc>,
) -> Vec<NewTimer> {
    let mut timers = Vec::new();
    let deadline_ms = to_ms(escalation.deadline_at);
    let payload = DeadlinePayload {
        deadline_ms: Some(deadline_ms),
    };
    let sla_timer = |job: CaseTimer, due_at| {
        let key = format!("{}:{}:{deadline_ms}", job.kind().as_str(), escalation.id);
        job.row(escalation.id, escalation.conversation_id, due_at, Some(key))
    };
    if escalation.state == EscalationState::Waiting
        && policies.sla_warning_before > chrono::Duration::zero()
    {
        let at = escalation.deadline_at - policies.sla_warning_before;
        if at > now {
            timers.push(sla_timer(CaseTimer::SlaWarning(payload), at));
        }
    }
    if awaits_first_response(escalation) {
        timers.push(sla_timer(
            CaseTimer::SlaBreach(payload),
            escalation.deadline_at,
        ));
    }
    let open_case = matches!(
        escalation.state,
        EscalationState::Waiting | EscalationState::Assigned
    );
    let window = conversation.window(now);
    if open_case
        && window.is_open()
        && let Some(closes_at) = window.closes_at
    {
        let at = closes_at - policies.keepalive_before;
        if at > now {
            let job = CaseTimer::Keepalive(WindowPayload {
                window_closes_at_ms: Some(to_ms(closes_at)),
            });
            let key = keepalive_key(conversation.id, closes_at);
            timers.push(job.row(escalation.id, conversation.id, at, Some(key)));
        }
    }
    timers
}

/// Inside the caller's transaction (the one that creates the escalation):
/// schedules its SLA warning, breach and keep-alive. Idempotent.
pub async fn schedule_escalation_timers(
    conn: &mut AnyConnection,
    escalation: &EscalationRow,
    policies: &Policies,
    conversation: &ConversationRow,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    for timer in plan_escalation_timers(escalation, policies, conversation, now) {
        schedule(conn, &timer, now).await?;
    }
    Ok(())
}

/// Inside the caller's transaction, after the customer wrote again (the
/// window moved) and the deadline was possibly recomputed: cancels the
/// pending SLA and keep-alive timers that no longer match (old deadline,
/// old window) and schedules the ones that do. `escalation` must carry the
/// new deadline.
pub async fn reschedule_for_window(
    conn: &mut AnyConnection,
    escalation: &EscalationRow,
    policies: &Policies,
    conversation: &ConversationRow,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let planned = plan_escalation_timers(escalation, policies, conversation, now);
    for kind in TimerKind::ESCALATION {
        let keep = planned
            .iter()
            .find(|t| t.kind == kind.as_str())
            .and_then(|t| t.dedupe_key.as_deref());
        cancel_pending_except(conn, escalation.id, kind.as_str(), keep).await?;
    }
    for timer in &planned {
        schedule(conn, timer, now).await?;
    }
    Ok(())
}

/// Inside the agent API's transaction, when an agent parks a case waiting
/// for the customer: replaces any pending follow-up of the case with one due
/// at `due`. It fires only if the customer has not written after `now`.
pub async fn schedule_followup(
    conn: &mut AnyConnection,
    escalation_id: i64,
    conversation_id: i64,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    cancel_pending_except(conn, escalation_id, TimerKind::Followup.as_str(), None).await?;
    let job = CaseTimer::Followup(FollowupPayload {
        since_ms: Some(to_ms(now)),
    });
    let timer = job.row(escalation_id, conversation_id, due, None);
    let id = schedule(conn, &timer, now)
        .await?
        .ok_or_else(|| anyhow::anyhow!("a follow-up without a dedupe key is always inserted"))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::model::Channel;
    use crate::escalation::EscalationConfig;
    use crate::store::Owner;
    use chrono::{Duration, TimeZone};

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn policies() -> Policies {
        EscalationConfig::default().policies().unwrap()
    }

    fn escalation(state: EscalationState, deadline: DateTime<Utc>) -> EscalationRow {
        EscalationRow {
            id: 7,
            conversation_id: 3,
            turn_id: None,
            queue: "support".into(),
            priority: "normal".into(),
            reason: "human".into(),
            triage_class: None,
            triage_confidence: None,
            triage_reason: None,
            state,
            assigned_to: None,
            created_at: t(0),
            sla_due_at: deadline,
            deadline_at: deadline,
            deadline_bound: "sla".into(),
            window_closes_at: None,
            first_response_at: None,
            resolved_at: None,
        }
    }

    fn conversation(last_customer_message_at: DateTime<Utc>) -> ConversationRow {
        ConversationRow {
            id: 3,
            channel: Channel::Whatsapp,
            business_id: "b".into(),
            customer_id: "c".into(),
            customer_wa_id: Some("c".into()),
            customer_user_id: None,
            customer_name: None,
            last_customer_message_at: Some(last_customer_message_at),
            window_error_at: None,
            referral_at: None,
            free_entry_until: None,
            owner: Owner::Human,
            lang: Some("es".into()),
        }
    }

    fn summary(timers: &[NewTimer]) -> Vec<(String, DateTime<Utc>, String)> {
        timers
            .iter()
            .map(|t| (t.kind.clone(), t.due_at, t.dedupe_key.clone().unwrap()))
            .collect()
    }

    #[test]
    fn a_waiting_case_gets_warning_breach_and_keepalive() {
        let e = escalation(EscalationState::Waiting, t(240));
        let c = conversation(t(0));
        let d = to_ms(t(240));
        let w = to_ms(t(24 * 60));
        assert_eq!(
            summary(&plan_escalation_timers(&e, &policies(), &c, t(0))),
            [
                (
                    "sla_warning".to_owned(),
                    t(230),
                    format!("sla_warning:7:{d}")
                ),
                ("sla_breach".to_owned(), t(240), format!("sla_breach:7:{d}")),
                (
                    "keepalive".to_owned(),
                    t(24 * 60 - 90),
                    format!("keepalive:3:{w}")
                ),
            ]
        );
    }

    #[test]
    fn past_warning_and_keepalive_are_left_out_but_the_breach_stays() {
        // Created 5 minutes before its deadline, with the window closing in 30 minutes.
        let e = escalation(EscalationState::Waiting, t(5));
        let c = conversation(t(30 - 24 * 60));
        let kinds: Vec<String> = plan_escalation_timers(&e, &policies(), &c, t(0))
            .into_iter()
            .map(|t| t.kind)
            .collect();
        assert_eq!(kinds, ["sla_breach"]);
    }

    #[test]
    fn state_decides_which_timers_matter() {
        let c = conversation(t(0));
        let kinds = |e: &EscalationRow| -> Vec<String> {
            plan_escalation_timers(e, &policies(), &c, t(0))
                .into_iter()
                .map(|t| t.kind)
                .collect()
        };
        let assigned = escalation(EscalationState::Assigned, t(240));
        assert_eq!(kinds(&assigned), ["sla_breach", "keepalive"]);
        let mut answered = assigned.clone();
        answered.first_response_at = Some(t(1));
        assert_eq!(kinds(&answered), ["keepalive"]);
        assert!(kinds(&escalation(EscalationState::WaitingCustomer, t(240))).is_empty());
        assert!(kinds(&escalation(EscalationState::Resolved, t(240))).is_empty());
    }

    #[test]
    fn no_keepalive_without_an_open_window_and_no_warning_when_turned_off() {
        let e = escalation(EscalationState::Waiting, t(240));
        let closed = conversation(t(-25 * 60));
        let mut policies = policies();
        policies.sla_warning_before = Duration::zero();
        let kinds: Vec<String> = plan_escalation_timers(&e, &policies, &closed, t(0))
            .into_iter()
            .map(|t| t.kind)
            .collect();
        assert_eq!(kinds, ["sla_breach"]);
    }

    #[test]
    fn kinds_round_trip() {
        for kind in [
            TimerKind::SlaWarning,
            TimerKind::SlaBreach,
            TimerKind::Keepalive,
            TimerKind::Followup,
        ] {
            assert_eq!(kind.as_str().parse::<TimerKind>(), Ok(kind));
        }
        assert!("nap".parse::<TimerKind>().is_err());
    }
}
