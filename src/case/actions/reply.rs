//! An agent's reply, sent the way the messaging window allows (see the
//! parent module's docs): free-form inside it, with the `HUMAN_AGENT` tag
//! on Messenger and Instagram for 7 days after the customer's last message,
//! behind an approved re-engagement template on WhatsApp.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;

use super::{Actor, Refusal, check, reread};
use crate::case::outbound::to_customer;
use crate::case::timers::TimerKind;
use crate::channels::model::Channel;
use crate::channels::outbound::{MessagingType, OutboundBody};
use crate::escalation::{Policies, Template, TemplateCategory, TemplatePurpose};
use crate::store::count_held;
use crate::store::escalations::{add_event, mark_first_response};
use crate::store::escalations::{assign_escalation, lock_escalation};
use crate::store::idempotency::{Claim, IdempotencyKey, claim_key, record_response};
use crate::store::timers;
use crate::store::{self, ConversationRow, EscalationRow, EscalationState, OutboxState, Store};
use crate::vocab::Lang;

/// WhatsApp's limit on a text message body.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Messenger's tag for a human agent's reply outside the 24-hour window.
pub const HUMAN_AGENT_TAG: &str = "HUMAN_AGENT";

/// A reply as the agent wrote it, checked.
#[derive(Debug, Clone)]
pub struct AgentReply {
    text: String,
    template: Option<TemplateChoice>,
}

/// The re-engagement template an agent chose to reopen a WhatsApp window.
#[derive(Debug, Clone, Default)]
pub struct TemplateChoice {
    pub name: String,
    pub language: String,
    /// Body parameter values by name.
    pub params: HashMap<String, String>,
}

impl AgentReply {
    /// A reply needs text, at most [`MAX_TEXT_CHARS`] characters.
    pub fn new(text: &str, template: Option<TemplateChoice>) -> Result<AgentReply, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("text: a reply needs text".into());
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(format!("text: at most {MAX_TEXT_CHARS} characters"));
        }
        Ok(AgentReply {
            text: text.to_owned(),
            template,
        })
    }
}

/// How a committed reply reaches the customer.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "delivery", rename_all = "snake_case")]
pub enum ReplyDelivery {
    /// Inside the window: a free-form message.
    FreeForm { outbox_id: i64 },
    /// Messenger/Instagram outside the 24-hour window: `MESSAGE_TAG` `HUMAN_AGENT`.
    HumanAgentTag { outbox_id: i64 },
    /// WhatsApp outside the window: the template goes now, the text waits
    /// until the customer answers.
    ReengagementTemplate {
        template_outbox_id: i64,
        held_outbox_id: i64,
        template: String,
        language: String,
        category: TemplateCategory,
    },
    /// WhatsApp outside the window, a re-engagement template already sent:
    /// the text waits with the earlier one.
    Held { held_outbox_id: i64 },
}

/// The outcome of a reply.
#[derive(Debug, Clone)]
pub enum ReplyOutcome {
    Sent {
        escalation: Box<EscalationRow>,
        delivery: ReplyDelivery,
    },
    /// WhatsApp window closed and no template chosen: the options, the
    /// customer's language first.
    TemplateRequired {
        window_closed_at: Option<DateTime<Utc>>,
        templates: Vec<Template>,
    },
    /// The chosen template is not a configured re-engagement template, or
    /// its parameters do not fill it.
    InvalidTemplate(String),
    /// Messenger/Instagram more than 7 days after the customer's last
    /// message: nothing may be sent until they write again.
    WindowExpired {
        human_agent_until: Option<DateTime<Utc>>,
    },
    Refused(Refusal),
    /// The idempotency key was used before for this request: the first
    /// response, and nothing sent.
    Replayed(serde_json::Value),
    /// The idempotency key was used before for another request.
    KeyReused,
}

/// What a sent reply answers the agent: the same body the first time and
/// when an idempotency key replays it.
#[derive(Debug, Serialize)]
pub struct ReplyAnswer<'a> {
    pub escalation: &'a EscalationRow,
    #[serde(flatten)]
    pub delivery: &'a ReplyDelivery,
}

/// Where a reply goes, decided from the conversation's window.
enum Route {
    FreeForm(Option<MessagingType>),
    HumanAgentTag,
    Template(Template, Vec<String>),
    HoldWithEarlierTemplate,
}

/// Sends an agent's reply the way the window allows (see the module docs).
/// The first reply records the first response (and its SLA metrics) and
/// takes an unheld escalation for the replying agent.
pub async fn reply(
    store: &Store,
    policies: &Policies,
    id: i64,
    actor: &Actor,
    reply: &AgentReply,
    idempotency: Option<&IdempotencyKey>,
    now: DateTime<Utc>,
) -> anyhow::Result<ReplyOutcome> {
    let mut tx = store.begin_write().await?;
    if let Some(key) = idempotency {
        match claim_key(&mut tx.tx, key, now).await? {
            Claim::New => {}
            Claim::Replay(first) => return Ok(ReplyOutcome::Replayed(first)),
            Claim::Mismatch => return Ok(ReplyOutcome::KeyReused),
        }
    }
    let row = match check(
        lock_escalation(&mut tx.tx, store.backend(), id).await?,
        actor,
    ) {
        Ok(row) => row,
        Err(refusal) => return Ok(ReplyOutcome::Refused(refusal)),
    };
    let Some(conversation) = store::conversation_in(&mut tx.tx, row.conversation_id).await? else {
        return Ok(ReplyOutcome::Refused(Refusal::NotFound));
    };
    let route = match route_reply(&mut tx.tx, policies, &conversation, reply, now).await? {
        Ok(route) => route,
        Err(outcome) => return Ok(outcome),
    };
    let delivery = enqueue_reply(&mut tx.tx, &conversation, route, &reply.text, now).await?;
    if row.assigned_to.is_none() || row.state != EscalationState::Assigned {
        let holder = row.assigned_to.as_deref().unwrap_or(&actor.name);
        assign_escalation(&mut tx.tx, id, holder, EscalationState::Assigned, now).await?;
    }
    let first = mark_first_response(&mut tx.tx, id, now).await?;
    timers::cancel_for_escalation(&mut tx.tx, id, &[TimerKind::Followup.as_str()]).await?;
    let detail = serde_json::to_value(&delivery)?;
    add_event(
        &mut tx.tx,
        id,
        "replied",
        Some(&actor.name),
        Some(detail),
        now,
    )
    .await?;
    let escalation = reread(&mut tx, id).await?;
    if let Some(key) = idempotency {
        let answer = serde_json::to_value(ReplyAnswer {
            escalation: &escalation,
            delivery: &delivery,
        })?;
        record_response(&mut tx.tx, key, &answer).await?;
    }
    tx.commit().await?;
    if first {
        record_first_response(&escalation, now);
    }
    if let ReplyDelivery::ReengagementTemplate { category, .. } = &delivery {
        metrics::counter!("ventana_templates_sent_total", "category" => category.as_str())
            .increment(1);
    }
    Ok(ReplyOutcome::Sent {
        escalation: Box::new(escalation),
        delivery,
    })
}

/// The window decides: free-form, tagged, template first, or refused.
async fn route_reply(
    conn: &mut AnyConnection,
    policies: &Policies,
    conversation: &ConversationRow,
    reply: &AgentReply,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<Route, ReplyOutcome>> {
    let window = conversation.window(now);
    let channel = conversation.channel;
    if channel == Channel::Sandbox {
        return Ok(Ok(Route::FreeForm(None)));
    }
    if window.is_open() {
        let messaging_type = channel
            .is_messenger_platform()
            .then_some(MessagingType::Response);
        return Ok(Ok(Route::FreeForm(messaging_type)));
    }
    if channel.is_messenger_platform() {
        return Ok(if window.allows_human_agent_tag(now) {
            Ok(Route::HumanAgentTag)
        } else {
            Err(ReplyOutcome::WindowExpired {
                human_agent_until: window.human_agent_until,
            })
        });
    }
    if count_held(conn, conversation.id).await? > 0 {
        return Ok(Ok(Route::HoldWithEarlierTemplate));
    }
    let Some(choice) = &reply.template else {
        let lang = conversation
            .lang
            .as_deref()
            .and_then(|l| l.parse().ok())
            .unwrap_or(Lang::Es);
        return Ok(Err(ReplyOutcome::TemplateRequired {
            window_closed_at: window.closes_at,
            templates: policies
                .templates_for(TemplatePurpose::Reengagement, lang)
                .into_iter()
                .cloned()
                .collect(),
        }));
    };
    Ok(choose_template(policies, choice)
        .map(|(template, params)| Route::Template(template, params)))
}

/// The configured re-engagement template the agent named, filled.
fn choose_template(
    policies: &Policies,
    choice: &TemplateChoice,
) -> Result<(Template, Vec<String>), ReplyOutcome> {
    let Some(template) = policies.templates.iter().find(|t| {
        t.purpose == TemplatePurpose::Reengagement
            && t.name == choice.name
            && t.language == choice.language
    }) else {
        return Err(ReplyOutcome::InvalidTemplate(format!(
            "template {:?} in {:?} is not a configured re-engagement template",
            choice.name, choice.language
        )));
    };
    let params = template
        .body_parameters(&choice.params)
        .map_err(|e| ReplyOutcome::InvalidTemplate(e.to_string()))?;
    Ok((
        template.clone(),
        params.into_iter().map(|p| p.text).collect(),
    ))
}

async fn enqueue_reply(
    conn: &mut AnyConnection,
    conversation: &ConversationRow,
    route: Route,
    text: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<ReplyDelivery> {
    let text_body = OutboundBody::Text {
        text: text.to_owned(),
    };
    Ok(match route {
        Route::FreeForm(messaging_type) => {
            let outbox_id = put(
                conn,
                conversation,
                text_body,
                messaging_type,
                "agent",
                OutboxState::Pending,
                now,
            )
            .await?;
            ReplyDelivery::FreeForm { outbox_id }
        }
        Route::HumanAgentTag => {
            let tag = Some(MessagingType::MessageTag(HUMAN_AGENT_TAG.to_owned()));
            let outbox_id = put(
                conn,
                conversation,
                text_body,
                tag,
                "agent",
                OutboxState::Pending,
                now,
            )
            .await?;
            ReplyDelivery::HumanAgentTag { outbox_id }
        }
        Route::Template(template, body_params) => {
            let body = OutboundBody::Template {
                name: template.name.clone(),
                language: template.language.clone(),
                body_params,
                category: Some(template.category.as_str().to_owned()),
            };
            let template_outbox_id = put(
                conn,
                conversation,
                body,
                None,
                "reengagement",
                OutboxState::Pending,
                now,
            )
            .await?;
            let held_outbox_id = put(
                conn,
                conversation,
                text_body,
                None,
                "agent",
                OutboxState::Held,
                now,
            )
            .await?;
            ReplyDelivery::ReengagementTemplate {
                template_outbox_id,
                held_outbox_id,
                template: template.name,
                language: template.language,
                category: template.category,
            }
        }
        Route::HoldWithEarlierTemplate => {
            let held_outbox_id = put(
                conn,
                conversation,
                text_body,
                None,
                "agent",
                OutboxState::Held,
                now,
            )
            .await?;
            ReplyDelivery::Held { held_outbox_id }
        }
    })
}

async fn put(
    conn: &mut AnyConnection,
    conversation: &ConversationRow,
    body: OutboundBody,
    messaging_type: Option<MessagingType>,
    purpose: &str,
    state: OutboxState,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    // Every agent message is its own decision: nothing to dedupe on.
    let mut new = to_customer(conversation, body, purpose, now);
    new.message.messaging_type = messaging_type;
    new.state = state;
    store::enqueue(conn, &new, now)
        .await?
        .ok_or_else(|| anyhow::anyhow!("an outbox row without a dedupe key was not inserted"))
}

/// First response time by queue, and whether it met the SLA.
fn record_first_response(escalation: &EscalationRow, now: DateTime<Utc>) {
    let queue = escalation.queue.clone();
    let seconds = (now - escalation.created_at).num_milliseconds().max(0) as f64 / 1000.0;
    metrics::histogram!("ventana_first_response_seconds", "queue" => queue.clone()).record(seconds);
    if now <= escalation.sla_due_at {
        metrics::counter!("ventana_sla_met_total", "queue" => queue).increment(1);
    } else {
        metrics::counter!("ventana_sla_missed_total", "queue" => queue).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_needs_text_within_the_limit() {
        assert!(AgentReply::new("  ", None).is_err());
        assert!(AgentReply::new(&"a".repeat(MAX_TEXT_CHARS + 1), None).is_err());
        assert_eq!(AgentReply::new(" hola ", None).unwrap().text, "hola");
    }
}
