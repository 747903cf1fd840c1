//! `sla_warning` (the case still waits) and `sla_breach` (nobody answered
//! yet): a history event, a notification, a metric.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::AnyConnection;

use super::{
    DeadlinePayload, Effects, Fired, Metric, load_escalation, note_window_closed_while_waiting,
};
use crate::case::plan::awaits_first_response;
use crate::notify::{NotificationEvent, escalation_payload, queue_notification};
use crate::store::escalations::add_event;
use crate::store::{EscalationState, TimerRow, conversation_in, to_ms};

pub(super) async fn fire(
    conn: &mut AnyConnection,
    timer: &TimerRow,
    payload: DeadlinePayload,
    now: DateTime<Utc>,
    breach: bool,
) -> anyhow::Result<Effects> {
    let Some(escalation) = load_escalation(conn, timer).await? else {
        return Ok(Effects::skipped("the escalation does not exist"));
    };
    if payload
        .deadline_ms
        .is_some_and(|ms| ms != to_ms(escalation.deadline_at))
    {
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
