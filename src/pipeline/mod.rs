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

pub use responder::{BotResponder, Responder, TurnContext, TurnPlan};

use crate::case::open::{CaseOutlook, CaseTriage, Escalate, follow_the_window, open_for_turn};
use crate::case::outbound::to_customer_once;
use crate::channels::graph::GraphClient;
use crate::channels::model::Channel;
use crate::channels::outbound::{OutboundBody, OutboundMessage};
use crate::config::{Config, PipelineConfig};
use crate::conversation::Clock;
use crate::escalation::{Policies, Priority};
use crate::store::{self, ConversationRow, NewTurn, Owner, PendingMessage, Store};
use crate::vocab::{Lang, TriageClass};
use crate::wakeups::Wakeups;

/// Poll interval when nothing signals new messages (other instances).
const IDLE_POLL: StdDuration = StdDuration::from_millis(250);
/// How long a conversation whose turn failed waits before it is tried
/// again: a failing database or a hung dependency is not hammered.
pub const RETRY_PAUSE: StdDuration = StdDuration::from_secs(5);
/// Longest the reply waits for its read receipt to leave.
const READ_RECEIPT_WAIT: StdDuration = StdDuration::from_secs(2);

#[derive(Clone)]
pub struct Pipeline {
    store: Store,
    responder: Arc<dyn Responder>,
    config: PipelineConfig,
    clock: Clock,
    signals: Arc<Wakeups>,
    permits: Arc<Semaphore>,
    policies: Arc<Policies>,
    /// Time limit for deciding one turn ([`Config::turn_time_limit`]).
    turn_limit: StdDuration,
    /// Present when read receipts are on (`sender.mark_read`).
    graph: Option<Arc<GraphClient>>,
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
    /// `graph` sends read receipts when `sender.mark_read` is on.
    pub fn new(
        store: Store,
        responder: Arc<dyn Responder>,
        config: &Config,
        clock: Clock,
        signals: Arc<Wakeups>,
        policies: Arc<Policies>,
        graph: Arc<GraphClient>,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(config.pipeline.concurrency.max(1)));
        Self {
            store,
            responder,
            config: config.pipeline.clone(),
            clock,
            signals,
            permits,
            policies,
            turn_limit: config.turn_time_limit(),
            graph: config.sender.mark_read.then_some(graph),
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
            if self.permits.available_permits() == 0 {
                // Every worker is busy: wait for one to finish.
                let _ = tokio::time::timeout(IDLE_POLL, self.permits.acquire()).await;
                continue;
            }
            let capacity = self.permits.available_permits() as i64;
            let claimed = match self
                .store
                .claim_ready_conversations(self.clock.now(), self.quiet(), self.lease(), capacity)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::error!(error = ?e, "pipeline: claiming waiting conversations failed");
                    Vec::new()
                }
            };
            let started = claimed.len();
            for conversation_id in claimed {
                let permit = self
                    .permits
                    .clone()
                    .try_acquire_owned()
                    .expect("no more conversations are claimed than there are free workers");
                let pipeline = self.clone();
                tasks.spawn(async move {
                    let _permit = permit;
                    if let Err(e) = pipeline.process_claimed_and_release(conversation_id).await {
                        tracing::error!(conversation_id, error = ?e, "pipeline: turn failed; it will be retried");
                    }
                });
            }
            if started > 0 {
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
            Ok(Some(at)) => (at - self.clock.now())
                .to_std()
                .unwrap_or_default()
                .clamp(StdDuration::from_millis(1), IDLE_POLL),
            _ => IDLE_POLL,
        }
    }

    /// Processes every ready conversation once; tests call this to drain
    /// the inbox deterministically.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let ready = self
            .store
            .conversations_ready(self.clock.now(), self.quiet(), 1000)
            .await?;
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
        if !self
            .store
            .claim_conversation(conversation_id, now, self.lease())
            .await?
        {
            return Ok(TurnOutcome::Skipped);
        }
        self.process_claimed_and_release(conversation_id).await
    }

    /// Processes a conversation this worker has claimed; the lease is
    /// released by the turn's commit, or here when no turn was committed.
    async fn process_claimed_and_release(
        &self,
        conversation_id: i64,
    ) -> anyhow::Result<TurnOutcome> {
        let result = self
            .keeping_lease(conversation_id, self.process_claimed(conversation_id))
            .await;
        let free_from = match result {
            Ok(TurnOutcome::Replied | TurnOutcome::Silent) => return result,
            Ok(TurnOutcome::Skipped) => None,
            Err(_) => Some(self.clock.now() + Duration::from_std(RETRY_PAUSE)?),
        };
        self.store
            .release_conversation(conversation_id, free_from)
            .await?;
        result
    }

    /// Runs `work` while renewing this worker's lease on the conversation
    /// every half lease: a turn slower than the lease (a slow model) is not
    /// taken over by another worker, or by this one's own next claim, while
    /// a worker that died stops renewing and loses it within one lease.
    async fn keeping_lease<T>(
        &self,
        conversation_id: i64,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        let every = (self.lease() / 2)
            .to_std()
            .unwrap_or_default()
            .max(StdDuration::from_millis(10));
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = renew.tick() => {
                    let until = self.clock.now() + self.lease();
                    if let Err(error) = self.store.renew_conversation_lease(conversation_id, until).await {
                        tracing::warn!(conversation_id, %error, "pipeline: renewing the lease failed");
                    }
                }
            }
        }
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
        self.decide_and_commit(conversation, pending)
            .instrument(span)
            .await
    }

    async fn decide_and_commit(
        &self,
        conversation: ConversationRow,
        pending: Vec<PendingMessage>,
    ) -> anyhow::Result<TurnOutcome> {
        let conversation_id = conversation.id;
        let last = pending.last().expect("a turn has messages");
        // Blue ticks and the typing indicator while the bot thinks; awaited
        // before the reply is committed so the two never cross.
        let read_receipt = (conversation.channel == Channel::Whatsapp)
            .then(|| self.mark_read(&conversation, last))
            .flatten();
        let history = self
            .store
            .recent_turns(conversation_id, self.config.context_turns as i64)
            .await?;
        let text = turn_text(&pending);
        let now = self.clock.now();
        let outlook = CaseOutlook {
            policies: &self.policies,
            conversation: &conversation,
            now,
        };
        let plan = if conversation.owner == Owner::Human {
            TurnPlan::silent("a person owns the conversation")
        } else {
            let context = TurnContext {
                channel: conversation.channel,
                text: &text,
                history: &history,
                conversation: &conversation,
                expected_answer: Some(&outlook),
            };
            let limit = self.turn_limit;
            tokio::time::timeout(limit, self.responder.respond(&context))
                .await
                .map_err(|_| anyhow::anyhow!("deciding the turn took longer than {limit:?}"))??
        };
        if let Some(receipt) = read_receipt {
            let _ = tokio::time::timeout(READ_RECEIPT_WAIT, receipt).await;
        }
        self.commit_turn(&conversation, &pending, &text, plan).await
    }

    /// WhatsApp: blue ticks and the typing indicator, sent straight to the
    /// Graph API rather than through the outbox: it is a courtesy signal,
    /// idempotent and worthless once late, so it needs no durability.
    fn mark_read(
        &self,
        conversation: &ConversationRow,
        last: &PendingMessage,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let graph = self.graph.clone()?;
        let message = OutboundMessage {
            channel: conversation.channel,
            business_id: conversation.business_id.clone(),
            recipient: conversation.send_address().to_owned(),
            body: OutboundBody::MarkRead {
                message_id: last.provider_message_id.clone(),
                typing: true,
            },
            reply_to: None,
            messaging_type: None,
        };
        Some(tokio::spawn(async move {
            if let Err(error) = graph.send(&message).await {
                tracing::debug!(error = %error.describe(), "read receipt not delivered");
            }
        }))
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
            lang: plan.lang.map(|l| l.code().to_owned()),
            class: plan.class.map(|c| c.as_str().to_owned()),
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
        // The customer answered: agent texts held behind a re-engagement
        // template may go out now (the window is open again).
        let released =
            crate::case::actions::release_held_messages(&mut tx.tx, conversation.id, now).await?;
        let mut wake_sender = released > 0;
        let mut replied = false;
        let mut out_of_hours = None;
        if plan.escalate {
            let escalate = Escalate {
                priority: plan.class.map_or(Priority::Normal, Priority::for_class),
                queue: plan.queue.as_deref(),
                triage: CaseTriage {
                    reason: match (plan.escalation_reason, plan.class) {
                        (Some(reason), _) => reason.as_str().to_owned(),
                        (None, Some(class)) => class.as_str().to_owned(),
                        (None, None) => String::new(),
                    },
                    class: plan.class.map(|c| c.as_str().to_owned()),
                    confidence: plan.confidence,
                    triage_reason: plan.reason.clone(),
                },
                lang: plan.lang.unwrap_or_default(),
            };
            out_of_hours = open_for_turn(
                &mut tx.tx,
                &self.policies,
                conversation,
                turn_id,
                &escalate,
                now,
            )
            .await?;
        } else if conversation.owner == Owner::Human {
            follow_the_window(&mut tx.tx, &self.policies, conversation, now).await?;
        }
        if let Some(reply) = &plan.reply {
            let new = to_customer_once(
                conversation,
                OutboundBody::Text {
                    text: reply.clone(),
                },
                plan.decision.as_str(),
                format!("turn:{}", turn.message_ids[0]),
                now,
            );
            if let Some(outbox_id) = store::enqueue(&mut tx.tx, &new, now).await? {
                store::set_turn_reply(&mut tx.tx, turn_id, outbox_id).await?;
                replied = true;
            }
        }
        if let Some(notice) = out_of_hours {
            let new = to_customer_once(
                conversation,
                OutboundBody::Text { text: notice },
                "out_of_hours",
                format!("ooh:{}", turn.message_ids[0]),
                now,
            );
            store::enqueue(&mut tx.tx, &new, now).await?;
            wake_sender = true;
        }
        sqlx::query("UPDATE conversations SET processing_until = NULL, lang = COALESCE($1, lang) WHERE id = $2")
            .bind(plan.lang.map(Lang::code))
            .bind(conversation.id)
            .execute(&mut *tx.tx)
            .await?;
        crate::faults::crash_point("pipeline-before-commit");
        tx.commit().await?;
        crate::faults::crash_point("pipeline-after-commit");
        metrics::counter!(
            "ventana_turns_total",
            "class" => plan.class.map_or("none", TriageClass::as_str),
            "decision" => plan.decision.as_str()
        )
        .increment(1);
        if replied || wake_sender {
            self.signals.outbox.notify_one();
        }
        if replied {
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
