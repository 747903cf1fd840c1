//! The pipeline worker: turns stored customer messages into replies.
//!
//! Conversations are processed in parallel, but each one by a single worker
//! at a time (a lease on the conversation row, safe across instances sharing
//! PostgreSQL), in message order. A burst of messages within the quiet period
//! becomes one turn. Processing is at-least-once with idempotent effects: the
//! turn, its messages and its reply's outbox row are committed together, and
//! the reply is keyed by the turn's first message, so a crash and restart
//! never produce a second reply.

mod responder;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use responder::{BotResponder, Decision, Responder, TurnContext, TurnPlan};

use crate::channels::model::Channel;
use crate::channels::outbound::{OutboundBody, OutboundMessage};
use crate::config::{PipelineConfig, SenderConfig};
use crate::conversation::Clock;
use crate::startup::Signals;
use crate::store::{self, ConversationRow, NewOutbound, NewTurn, OutboxState, Owner, PendingMessage, Store};

/// Poll interval when nothing signals new messages (other instances).
const IDLE_POLL: StdDuration = StdDuration::from_millis(250);
/// Time limit for deciding one turn (triage, retrieval, generation); the
/// responder's own LLM timeout is shorter and falls back to rules.
const TURN_TIME_LIMIT: StdDuration = StdDuration::from_secs(30);

#[derive(Clone)]
pub struct Pipeline {
    store: Store,
    responder: Arc<dyn Responder>,
    config: PipelineConfig,
    mark_read: bool,
    clock: Clock,
    signals: Arc<Signals>,
    permits: Arc<Semaphore>,
}

/// What happened to one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnOutcome {
    Replied,
    Silent,
    /// Another worker holds the conversation or nothing was waiting.
    Skipped,
}

impl Pipeline {
    pub fn new(
        store: Store,
        responder: Arc<dyn Responder>,
        config: PipelineConfig,
        sender: &SenderConfig,
        clock: Clock,
        signals: Arc<Signals>,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Self {
            store,
            responder,
            config,
            mark_read: sender.mark_read,
            clock,
            signals,
            permits,
        }
    }

    fn quiet(&self) -> Duration {
        Duration::milliseconds(self.config.quiet_period_ms as i64)
    }

    fn lease(&self) -> Duration {
        Duration::milliseconds(self.config.lease_ms as i64)
    }

    /// Runs until `shutdown`; turns in progress finish first.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            let ready = match self
                .store
                .conversations_ready(self.clock.now(), self.quiet(), self.config.concurrency.max(1) as i64 * 2)
                .await
            {
                Ok(ready) => ready,
                Err(e) => {
                    tracing::error!(error = ?e, "pipeline: listing waiting conversations failed");
                    Vec::new()
                }
            };
            let mut started = 0;
            for conversation_id in ready {
                let Ok(permit) = self.permits.clone().try_acquire_owned() else { break };
                started += 1;
                let pipeline = self.clone();
                tasks.spawn(async move {
                    let _permit = permit;
                    if let Err(e) = pipeline.process(conversation_id).await {
                        tracing::error!(conversation_id, error = ?e, "pipeline: turn failed; it will be retried");
                    }
                });
            }
            if started > 0 {
                // Let the spawned turns take their leases before listing again.
                tokio::task::yield_now().await;
                if self.permits.available_permits() == 0 {
                    let _ = tokio::time::timeout(IDLE_POLL, self.permits.acquire()).await;
                }
                continue;
            }
            let sleep = self.idle_sleep().await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.signals.inbox.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
        while tasks.join_next().await.is_some() {}
        tracing::info!("pipeline stopped");
    }

    async fn idle_sleep(&self) -> StdDuration {
        if self.clock.is_manual() {
            return StdDuration::from_millis(20);
        }
        match self.store.next_conversation_ready(self.quiet()).await {
            Ok(Some(at)) => (at - self.clock.now()).to_std().unwrap_or_default().clamp(StdDuration::from_millis(1), IDLE_POLL),
            _ => IDLE_POLL,
        }
    }

    /// Processes every ready conversation once; tests call this to drain
    /// the inbox deterministically.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let ready = self.store.conversations_ready(self.clock.now(), self.quiet(), 1000).await?;
        let mut done = 0;
        for conversation_id in ready {
            if self.process(conversation_id).await? != TurnOutcome::Skipped {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Takes one conversation's waiting messages as one turn.
    pub async fn process(&self, conversation_id: i64) -> anyhow::Result<TurnOutcome> {
        let now = self.clock.now();
        if !self.store.claim_conversation(conversation_id, now, self.lease()).await? {
            return Ok(TurnOutcome::Skipped);
        }
        let result = self.process_claimed(conversation_id).await;
        if !matches!(result, Ok(TurnOutcome::Replied | TurnOutcome::Silent)) {
            self.store.release_conversation(conversation_id).await?;
        }
        result
    }

    async fn process_claimed(&self, conversation_id: i64) -> anyhow::Result<TurnOutcome> {
        let Some(conversation) = self.store.conversation(conversation_id).await? else {
            return Ok(TurnOutcome::Skipped);
        };
        let pending = self.store.pending_messages(conversation_id).await?;
        let Some(last) = pending.last() else {
            return Ok(TurnOutcome::Skipped);
        };
        let span = tracing::info_span!(
            "turn",
            conversation_id,
            channel = conversation.channel.as_str(),
            provider_message_id = %last.provider_message_id,
            messages = pending.len()
        );
        self.decide_and_commit(conversation, pending).instrument(span).await
    }

    async fn decide_and_commit(&self, conversation: ConversationRow, pending: Vec<PendingMessage>) -> anyhow::Result<TurnOutcome> {
        let conversation_id = conversation.id;
        let last = pending.last().expect("a turn has messages");
        if self.mark_read && conversation.channel == Channel::Whatsapp {
            self.mark_read(&conversation, last).await?;
        }
        let history = self
            .store
            .recent_turns(conversation_id, self.config.context_turns as i64)
            .await?;
        let text = turn_text(&pending);
        let plan = if conversation.owner == Owner::Human {
            TurnPlan::silent("a person owns the conversation")
        } else {
            let context = TurnContext {
                channel: conversation.channel,
                text: &text,
                history: &history,
                conversation: &conversation,
            };
            tokio::time::timeout(TURN_TIME_LIMIT, self.responder.respond(&context))
                .await
                .map_err(|_| anyhow::anyhow!("deciding the turn took longer than {TURN_TIME_LIMIT:?}"))??
        };
        self.commit_turn(&conversation, &pending, &text, plan).await
    }

    /// WhatsApp: blue ticks and the typing indicator while the bot thinks.
    async fn mark_read(&self, conversation: &ConversationRow, last: &PendingMessage) -> anyhow::Result<()> {
        let new = NewOutbound {
            conversation_id: Some(conversation.id),
            message: OutboundMessage {
                channel: conversation.channel,
                business_id: conversation.business_id.clone(),
                recipient: conversation.send_address().to_owned(),
                body: OutboundBody::MarkRead {
                    message_id: last.provider_message_id.clone(),
                    typing: true,
                },
                reply_to: None,
                messaging_type: None,
            },
            purpose: "mark_read".into(),
            dedupe_key: Some(format!("read:{}", last.provider_message_id)),
            not_before: self.clock.now(),
            state: OutboxState::Pending,
        };
        if self.store.enqueue(&new, self.clock.now()).await?.is_some() {
            self.signals.outbox.notify_one();
        }
        Ok(())
    }

    /// One transaction: the turn, its messages, its reply; the lease is released.
    async fn commit_turn(
        &self,
        conversation: &ConversationRow,
        pending: &[PendingMessage],
        text: &str,
        plan: TurnPlan,
    ) -> anyhow::Result<TurnOutcome> {
        let now = self.clock.now();
        let turn = NewTurn {
            conversation_id: conversation.id,
            message_ids: pending.iter().map(|m| m.id).collect(),
            customer_text: text.to_owned(),
            lang: plan.lang.clone(),
            class: plan.class.clone(),
            confidence: plan.confidence,
            reason: plan.reason.clone(),
            triage_source: plan.triage_source.clone(),
            decision: plan.decision.as_str().to_owned(),
            escalate: plan.escalate,
            queue: plan.queue.clone(),
            articles: plan.articles.clone(),
            reply_text: plan.reply.clone(),
        };
        let mut tx = self.store.begin_write().await?;
        let Some(turn_id) = store::record_turn(&mut tx.tx, &turn, now).await? else {
            tracing::warn!("messages already taken by another turn; nothing to do");
            return Ok(TurnOutcome::Skipped);
        };
        let mut replied = false;
        if let Some(reply) = &plan.reply {
            let new = NewOutbound {
                conversation_id: Some(conversation.id),
                message: OutboundMessage {
                    channel: conversation.channel,
                    business_id: conversation.business_id.clone(),
                    recipient: conversation.send_address().to_owned(),
                    body: OutboundBody::Text { text: reply.clone() },
                    reply_to: None,
                    messaging_type: None,
                },
                purpose: plan.decision.as_str().to_owned(),
                dedupe_key: Some(format!("turn:{}", turn.message_ids[0])),
                not_before: now,
                state: OutboxState::Pending,
            };
            if let Some(outbox_id) = store::enqueue(&mut tx.tx, &new, now).await? {
                store::set_turn_reply(&mut tx.tx, turn_id, outbox_id).await?;
                replied = true;
            }
        }
        sqlx::query("UPDATE conversations SET processing_until = NULL, lang = COALESCE($1, lang) WHERE id = $2")
            .bind(plan.lang.as_deref())
            .bind(conversation.id)
            .execute(&mut *tx.tx)
            .await?;
        crate::faults::crash_point("pipeline-before-commit");
        tx.commit().await?;
        crate::faults::crash_point("pipeline-after-commit");
        metrics::counter!(
            "ventana_turns_total",
            "class" => plan.class.clone().unwrap_or_else(|| "none".into()),
            "decision" => plan.decision.as_str()
        )
        .increment(1);
        if replied {
            self.signals.outbox.notify_one();
            tracing::info!(turn_id, decision = plan.decision.as_str(), "turn answered");
            Ok(TurnOutcome::Replied)
        } else {
            Ok(TurnOutcome::Silent)
        }
    }
}

/// The text of a turn: the messages' texts in order, one per line; media
/// without a caption appear as their kind so triage sees that something came.
fn turn_text(pending: &[PendingMessage]) -> String {
    pending
        .iter()
        .map(|m| match m.body.as_deref().map(str::trim) {
            Some(body) if !body.is_empty() => body.to_owned(),
            _ => format!("[{}]", m.kind),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
