//! `followup`: the case waits for the customer, who has not written since
//! the agent parked it. Free-form inside the window; after it a configured
//! follow-up template (WhatsApp); otherwise a recorded skip.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::AnyConnection;

use super::{CaseTimers, Effects, Fired, FollowupPayload, Metric, customer_lang, load_case};
use crate::case::outbound::to_customer_once;
use crate::case::texts::TextId;
use crate::channels::model::Channel;
use crate::channels::outbound::OutboundBody;
use crate::escalation::TemplatePurpose;
use crate::store::escalations::add_event;
use crate::store::{EscalationRow, EscalationState, TimerRow, enqueue, to_ms};

pub(super) async fn fire(
    timers: &CaseTimers,
    conn: &mut AnyConnection,
    timer: &TimerRow,
    payload: FollowupPayload,
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
    if let (Some(since), Some(wrote)) = (payload.since_ms, conversation.last_customer_message_at)
        && to_ms(wrote) > since
    {
        return Ok(Effects::skipped("the customer wrote"));
    }
    let lang = customer_lang(&conversation);
    let key = format!("followup:{}", timer.id);
    if conversation.window(now).is_open() {
        let text = timers.texts.get(TextId::Followup, lang).to_owned();
        let new = to_customer_once(
            &conversation,
            OutboundBody::Text { text },
            "followup",
            key,
            now,
        );
        enqueue(conn, &new, now).await?;
        add_event(
            conn,
            escalation.id,
            "followup_sent",
            None,
            Some(json!({ "kind": "text" })),
            now,
        )
        .await?;
        return Ok(Effects::done(Fired::FollowupSent).queued());
    }
    if conversation.channel != Channel::Whatsapp {
        let reason = format!(
            "the window is closed and {} has no templates",
            conversation.channel.as_str()
        );
        return skip(conn, &escalation, reason, now).await;
    }
    let candidates = timers
        .policies
        .templates_for(TemplatePurpose::Followup, lang);
    if candidates.is_empty() {
        let reason = "the window is closed and no followup template is configured".to_owned();
        return skip(conn, &escalation, reason, now).await;
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
        let category = template.category.as_str();
        let body = OutboundBody::Template {
            name: template.name.clone(),
            language: template.language.clone(),
            body_params: params.into_iter().map(|p| p.text).collect(),
            category: Some(category.to_owned()),
        };
        let new = to_customer_once(&conversation, body, "followup", key, now);
        enqueue(conn, &new, now).await?;
        let detail =
            json!({ "kind": "template", "template": template.name, "language": template.language });
        add_event(
            conn,
            escalation.id,
            "followup_sent",
            None,
            Some(detail),
            now,
        )
        .await?;
        return Ok(Effects::done(Fired::FollowupTemplate {
            name: template.name.clone(),
        })
        .with(Metric::Template { category })
        .queued());
    }
    let reason = format!(
        "no followup template could be filled: {}",
        errors.join("; ")
    );
    skip(conn, &escalation, reason, now).await
}

/// Records why no follow-up went out (agents see it in the history).
async fn skip(
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
