//! `keepalive`: one short message inside the window inviting the customer
//! to write, while the case waits for an agent who has not answered since
//! the customer's last message.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::AnyConnection;

use super::{
    CaseTimers, Effects, Fired, Metric, TimerKind, WindowPayload, customer_lang, load_case,
    note_window_closed_while_waiting,
};
use crate::case::outbound::to_customer_once;
use crate::case::plan::{keepalive_key, plan_escalation_timers};
use crate::case::texts::TextId;
use crate::channels::outbound::OutboundBody;
use crate::notify::{NotificationEvent, escalation_payload, queue_notification};
use crate::store::agent_replied_since;
use crate::store::escalations::add_event;
use crate::store::timers::schedule;
use crate::store::{EscalationState, TimerRow, enqueue, to_ms};

pub(super) async fn fire(
    timers: &CaseTimers,
    conn: &mut AnyConnection,
    timer: &TimerRow,
    payload: WindowPayload,
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
    if payload
        .window_closes_at_ms
        .is_some_and(|ms| ms != to_ms(closes_at))
    {
        // The customer wrote again: the new window gets its own keep-alive
        // (normally scheduled already by `reschedule_for_window`).
        for new in plan_escalation_timers(&escalation, &timers.policies, &conversation, now) {
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
    let text = timers
        .texts
        .get(TextId::Keepalive, customer_lang(&conversation))
        .to_owned();
    let new = to_customer_once(
        &conversation,
        OutboundBody::Text { text },
        "keepalive",
        key,
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
    Ok(Effects::done(Fired::KeepaliveSent)
        .with(Metric::Keepalive)
        .queued())
}
