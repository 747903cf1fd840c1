//! What the pipeline needs from the bot: given a turn and its context,
//! a plan (triage, reply, escalation). The bot in [`crate::answer`]
//! implements it; tests can substitute their own.

use crate::vocab::{EscalationReason, Lang, TriageClass, TurnReply};
use async_trait::async_trait;

use crate::channels::model::Channel;
use crate::store::{ConversationRow, TurnRecord};

/// One customer turn with its context.
#[derive(Debug)]
pub struct TurnContext<'a> {
    pub channel: Channel,
    /// The turn's messages, one per line.
    pub text: &'a str,
    /// Previous turns of this conversation only, oldest first.
    pub history: &'a [TurnRecord],
    pub conversation: &'a ConversationRow,
    /// Phrases when a person would answer, should the turn escalate.
    pub expected_answer: Option<&'a dyn crate::answer::ExpectedAnswer>,
}

/// The bot's decision for one turn.
#[derive(Debug, Clone)]
pub struct TurnPlan {
    pub class: Option<TriageClass>,
    pub confidence: Option<f64>,
    pub lang: Option<Lang>,
    pub reason: Option<String>,
    /// `rules` or `llm`.
    pub triage_source: Option<String>,
    pub decision: TurnReply,
    pub escalate: bool,
    /// Why the turn escalates.
    pub escalation_reason: Option<EscalationReason>,
    pub queue: Option<String>,
    pub articles: Vec<String>,
    pub reply: Option<String>,
}

impl TurnPlan {
    pub fn silent(reason: &str) -> TurnPlan {
        TurnPlan {
            class: None,
            confidence: None,
            lang: None,
            reason: Some(reason.to_owned()),
            triage_source: None,
            decision: TurnReply::Silent,
            escalate: false,
            escalation_reason: None,
            queue: None,
            articles: Vec::new(),
            reply: None,
        }
    }
}

#[async_trait]
pub trait Responder: Send + Sync {
    async fn respond(&self, turn: &TurnContext<'_>) -> anyhow::Result<TurnPlan>;
}

/// The production responder: the [`crate::answer::Bot`] over the knowledge base.
pub struct BotResponder {
    pub bot: crate::answer::Bot,
    pub knowledge: std::sync::Arc<crate::knowledge::KnowledgeBase>,
}

#[async_trait]
impl Responder for BotResponder {
    async fn respond(&self, turn: &TurnContext<'_>) -> anyhow::Result<TurnPlan> {
        use crate::answer::{Inbound, ReplyKind, Turn};
        let mut history = Vec::with_capacity(turn.history.len() * 2);
        for past in turn.history {
            history.push(Turn::customer(past.customer_text.clone()));
            if let Some(reply) = &past.reply_text {
                history.push(Turn::bot(reply.clone()));
            }
        }
        let inbound = Inbound {
            text: turn.text,
            history: &history,
            channel: turn.channel,
            expected_answer_time: None,
            expected_answer: turn.expected_answer,
        };
        let decision = self.bot.respond(self.knowledge.as_ref(), &inbound).await;
        let kind = match decision.reply.kind {
            ReplyKind::Answer => TurnReply::Answer,
            ReplyKind::Greeting => TurnReply::Greeting,
            ReplyKind::Acknowledgement => TurnReply::Acknowledge,
        };
        let triage = &decision.triage;
        Ok(TurnPlan {
            class: Some(triage.class),
            confidence: Some(f64::from(triage.confidence)),
            lang: Some(triage.lang),
            reason: Some(triage.reason.clone()),
            triage_source: serde_json::to_value(triage.source)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned)),
            decision: kind,
            escalate: decision.is_escalated(),
            escalation_reason: match decision.escalation {
                crate::answer::Escalation::Yes { reason } => Some(reason),
                crate::answer::Escalation::No => None,
            },
            queue: decision.queue.clone(),
            articles: decision.reply.article_ids.clone(),
            reply: Some(decision.reply.text),
        })
    }
}
