//! Answering: one entry point, [`Bot::respond`], used by the pipeline
//! worker, `ventana kb ask`, `ventana chat` and `ventana eval`.
//!
//! For each customer turn the bot retrieves once (the turn, or a short
//! follow-up together with the previous customer turn), triages with the
//! shared hits (rules, or the LLM with rules as floor and fall-back), and
//! builds the reply: an answer from the best passage (LLM-written and
//! grounding-checked when an LLM is configured, extractive otherwise), a
//! short greeting, or an acknowledgement that a person will follow up. The
//! [`Decision`] says whether and why to escalate and to which queue.
//!
//! Customer text is data, never instructions: it only ever reaches a model
//! inside delimited blocks, replies are built from the knowledge base and
//! templates, and the bot keeps no state between calls.

mod answer_type;
pub mod context;
#[cfg(test)]
mod dev_set;
pub mod extractive;
#[cfg(test)]
mod fact_rate;
pub mod generate;
pub mod grounding;
mod pick;
mod reply;
#[cfg(test)]
mod tests;
mod translation;
mod units;

use std::sync::Arc;

use serde::Serialize;

use crate::channels::model::Channel;
use crate::knowledge::{Article, Hit, KnowledgeBase};
use crate::llm::LlmClient;
pub use crate::prompts::Prompts;
use crate::triage::model::{FeatureInput, TriageModel};
use crate::triage::{self, Lang, RetrievalPolicy, Triage, TriageClass, detect_language};
pub use crate::vocab::EscalationReason;
pub use context::{QueryScope, Speaker, Turn};

/// Where passages come from; implemented by [`KnowledgeBase`] and by test
/// fakes.
#[async_trait::async_trait]
pub trait Retriever: Send + Sync {
    /// Top passages for `query`, best first.
    async fn search(&self, query: &str, limit: usize) -> anyhow::Result<Vec<Hit>>;

    /// [`search`](Self::search) plus the query's dense vector, when the
    /// retriever embeds queries.
    async fn search_embedded(
        &self,
        query: &str,
        limit: usize,
    ) -> anyhow::Result<(Vec<Hit>, Option<Vec<f32>>)> {
        Ok((self.search(query, limit).await?, None))
    }

    /// The whole article a hit came from, so an extractive reply can quote
    /// any of its sections; `None` quotes the hit's passage alone.
    fn article(&self, _id: &str) -> Option<Arc<Article>> {
        None
    }

    /// The articles that declare `translation_of: <id>`.
    fn translations(&self, _id: &str) -> Vec<Arc<Article>> {
        Vec::new()
    }
}

#[async_trait::async_trait]
impl Retriever for KnowledgeBase {
    async fn search(&self, query: &str, limit: usize) -> anyhow::Result<Vec<Hit>> {
        KnowledgeBase::search(self, query, limit).await
    }

    async fn search_embedded(
        &self,
        query: &str,
        limit: usize,
    ) -> anyhow::Result<(Vec<Hit>, Option<Vec<f32>>)> {
        let (scored, vector) = KnowledgeBase::search_embedded(self, query, limit).await?;
        Ok((scored.into_iter().map(|s| s.hit).collect(), vector))
    }

    fn article(&self, id: &str) -> Option<Arc<Article>> {
        KnowledgeBase::article(self, id)
    }

    fn translations(&self, id: &str) -> Vec<Arc<Article>> {
        KnowledgeBase::translations_of(self, id)
    }
}

/// What the bot read from one turn ([`Bot::read`]).
#[derive(Debug, Clone)]
pub struct Reading {
    pub lang: Lang,
    pub signals: triage::cues::Signals,
    pub query_scope: QueryScope,
    /// Retrieved passages, best first.
    pub hits: Vec<Hit>,
    /// The conversation's previous customer turns, oldest first.
    pub previous: Vec<String>,
    /// The retrieval query's dense vector, when embeddings are configured
    /// and the call succeeded.
    pub embedding: Option<Vec<f32>>,
}

/// Tuning for the bot.
#[derive(Debug, Clone, Serialize)]
pub struct BotSettings {
    /// Passages retrieved per turn.
    pub top_k: usize,
    pub policy: RetrievalPolicy,
    /// Chat-sized reply length (characters), below the channel's limit.
    pub reply_chars: usize,
}

impl Default for BotSettings {
    fn default() -> Self {
        Self {
            top_k: 5,
            policy: RetrievalPolicy::default(),
            reply_chars: extractive::DEFAULT_REPLY_CHARS,
        }
    }
}

/// One customer turn to respond to.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub text: &'a str,
    /// Previous turns of this conversation only, oldest first.
    pub history: &'a [Turn],
    pub channel: Channel,
    /// When a person will answer, already phrased for the customer (e.g.
    /// "antes de las 11:00"), from the escalation module; `None` uses the
    /// template's default ("lo antes posible").
    pub expected_answer_time: Option<&'a str>,
    /// Phrases the expected answer time for the priority and queue the
    /// decision turns out to need (the pipeline's escalation outlook);
    /// `expected_answer_time` wins when both are set.
    pub expected_answer: Option<&'a dyn ExpectedAnswer>,
}

/// "When will a person answer", phrased for the customer, for a case of
/// the given urgency routed to `queue` (`None`: the default queue).
pub trait ExpectedAnswer: Send + Sync {
    fn phrase(&self, urgent: bool, queue: Option<&str>, lang: Lang) -> Option<String>;
}

impl std::fmt::Debug for dyn ExpectedAnswer + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExpectedAnswer")
    }
}

/// What kind of message the reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    /// Built from knowledge-base passages.
    Answer,
    /// Greeting, thanks or "ok" reply.
    Greeting,
    /// A person will follow up.
    Acknowledgement,
}

/// How the answer text was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerSource {
    Template,
    Extractive,
    Llm,
    /// The LLM answer failed a check; the extractive reply was sent.
    ExtractiveAfterLlm,
}

/// The message to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    pub kind: ReplyKind,
    pub text: String,
    /// Articles the text was built from, most relevant first.
    pub article_ids: Vec<String>,
    pub source: AnswerSource,
}

/// Whether to hand the conversation to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "escalate", rename_all = "snake_case")]
pub enum Escalation {
    No,
    Yes { reason: EscalationReason },
}

/// Everything the pipeline needs to act on one turn.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub triage: Triage,
    /// The passages retrieved (shared by triage and answering).
    pub hits: Vec<Hit>,
    pub query_scope: QueryScope,
    pub reply: Reply,
    pub escalation: Escalation,
    /// The human queue named by the relevant article, if any.
    pub queue: Option<String>,
}

impl Decision {
    pub fn is_escalated(&self) -> bool {
        matches!(self.escalation, Escalation::Yes { .. })
    }

    /// The article an answer was built from (for evaluation), if the reply
    /// is an answer.
    pub fn answered_article(&self) -> Option<&str> {
        match self.reply.kind {
            ReplyKind::Answer => self.reply.article_ids.first().map(String::as_str),
            _ => None,
        }
    }
}

/// The responder: prompts, optional LLM, settings. Cheap to clone; holds no
/// per-conversation state.
#[derive(Debug, Clone)]
pub struct Bot {
    prompts: Arc<Prompts>,
    llm: Option<Arc<LlmClient>>,
    settings: BotSettings,
    /// The learned triage model; `None` triages with the rules alone.
    triage_model: Option<Arc<TriageModel>>,
    /// The built-in lexical model, for turns whose embedding a model
    /// trained with embeddings lacks (the call failed or timed out).
    without_embedding: Option<Arc<TriageModel>>,
}

impl Bot {
    pub fn new(prompts: Prompts, llm: Option<LlmClient>, settings: BotSettings) -> Self {
        Self {
            prompts: Arc::new(prompts),
            llm: llm.map(Arc::new),
            settings,
            triage_model: None,
            without_embedding: None,
        }
    }

    /// The same bot triaging with `model` (`None`: the rules alone).
    pub fn with_triage_model(mut self, model: Option<Arc<TriageModel>>) -> Self {
        self.without_embedding = model
            .as_ref()
            .filter(|m| m.layout.embedding_dims > 0)
            .map(|_| Arc::new(triage::model::built_in()));
        self.triage_model = model;
        self
    }

    /// The learned model that triages, `None` with the rules alone.
    pub fn triage_model(&self) -> Option<&TriageModel> {
        self.triage_model.as_deref()
    }

    /// The bot as configured: prompts from `prompts_dir`, the LLM if
    /// `llm.base_url` is set, `retrieval.top_k`.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Self> {
        let prompts = Prompts::load(&config.prompts_dir)?;
        let llm = LlmClient::from_config(&config.llm)?;
        let settings = BotSettings {
            top_k: config.retrieval.top_k,
            policy: RetrievalPolicy {
                min_confidence: config.retrieval.min_confidence,
                ..RetrievalPolicy::default()
            },
            ..BotSettings::default()
        };
        let embeddings = crate::knowledge::dense::DenseEmbedder::from_config(&config.embeddings)
            .map(|d| d.query_fingerprint());
        let model = crate::triage::model::load_configured(&config.triage, embeddings.as_deref())?;
        if let Some(model) = &model {
            tracing::info!(
                reads_embeddings = model.embeddings.as_deref().unwrap_or("none"),
                configured_embeddings = embeddings.as_deref().unwrap_or("none"),
                "triage model loaded"
            );
        }
        Ok(Self::new(prompts, llm, settings).with_triage_model(model.map(Arc::new)))
    }

    pub fn settings(&self) -> &BotSettings {
        &self.settings
    }

    /// What the bot reads from one turn before it decides: its language,
    /// the rule cues and the passages (none for small talk).
    pub async fn read(&self, retriever: &dyn Retriever, inbound: &Inbound<'_>) -> Reading {
        let lang = detect_language(&context::language_sample(inbound.text, inbound.history));
        let signals = triage::cues::scan(inbound.text);
        let (query, query_scope) = context::retrieval_query(inbound.text, inbound.history);
        let (hits, embedding) = if signals.small_talk.is_some() {
            (Vec::new(), None)
        } else {
            match retriever.search_embedded(&query, self.settings.top_k).await {
                Ok(found) => found,
                Err(error) => {
                    metrics::counter!("ventana_retrieval_errors_total").increment(1);
                    tracing::warn!(%error, "retrieval failed; treating the turn as not covered");
                    (Vec::new(), None)
                }
            }
        };
        let previous = inbound
            .history
            .iter()
            .filter(|t| t.speaker == Speaker::Customer)
            .map(|t| t.text.clone())
            .collect();
        Reading {
            lang,
            signals,
            query_scope,
            hits,
            previous,
            embedding,
        }
    }

    /// The learned model's input for a turn the bot has read.
    pub fn feature_input<'a>(
        &self,
        text: &'a str,
        reading: &'a Reading,
        previous: &'a [&'a str],
    ) -> FeatureInput<'a> {
        FeatureInput {
            text,
            signals: &reading.signals,
            previous,
            hits: &reading.hits,
            min_confidence: self.settings.policy.min_confidence,
            embedding: reading.embedding.as_deref(),
        }
    }

    /// Triage and reply for one customer turn.
    pub async fn respond(&self, retriever: &dyn Retriever, inbound: &Inbound<'_>) -> Decision {
        let reading = self.read(retriever, inbound).await;
        let lang = reading.lang;
        let mut verdict = match &self.triage_model {
            Some(model) => {
                let previous: Vec<&str> = reading.previous.iter().map(String::as_str).collect();
                let input = self.feature_input(inbound.text, &reading, &previous);
                let model = match &self.without_embedding {
                    Some(lexical) if !model.reads(&input) => {
                        metrics::counter!("ventana_triage_without_embedding_total").increment(1);
                        lexical
                    }
                    _ => model,
                };
                triage::model::classify(model, &input, lang)
            }
            None => triage::decide(&reading.signals, lang, &reading.hits, &self.settings.policy),
        };
        let Reading {
            hits, query_scope, ..
        } = reading;
        if let Some(llm) = &self.llm {
            let history = context::render_history(inbound.history);
            verdict = triage::llm::classify_with_llm(
                llm,
                &self.prompts,
                inbound.text,
                &history,
                &hits,
                verdict,
            )
            .await;
        }
        let confident: Vec<&Hit> = hits
            .iter()
            .filter(|h| crate::knowledge::is_confident(h, self.settings.policy.min_confidence))
            .collect();
        let (reply, escalation) = self
            .reply_for(retriever, &verdict, &confident, inbound)
            .await;
        let queue = match escalation {
            Escalation::Yes { .. } => confident.first().and_then(|h| h.queue.clone()),
            Escalation::No => None,
        };
        Decision {
            triage: verdict,
            hits,
            query_scope,
            reply,
            escalation,
            queue,
        }
    }

    async fn reply_for(
        &self,
        retriever: &dyn Retriever,
        verdict: &Triage,
        confident: &[&Hit],
        inbound: &Inbound<'_>,
    ) -> (Reply, Escalation) {
        let composer = reply::Composer::new(
            &self.prompts,
            verdict.lang,
            inbound,
            self.settings.reply_chars,
        );
        let escalate = |reason| Escalation::Yes { reason };
        let queue = confident.first().and_then(|h| h.queue.as_deref());
        // Only answers quote the article: fetched for them alone.
        let article = || {
            confident
                .first()
                .and_then(|top| translation::answering_article(retriever, top, verdict.lang))
        };
        match (verdict.class, confident.first()) {
            (TriageClass::Faq, _) if verdict.small_talk.is_some() => (
                composer.small_talk(verdict.small_talk.unwrap_or(triage::SmallTalk::Greeting)),
                Escalation::No,
            ),
            (TriageClass::Urgent, _) => (
                composer.acknowledgement(EscalationReason::Urgent, queue),
                escalate(EscalationReason::Urgent),
            ),
            // The article's topic always needs a person: share it and escalate.
            (TriageClass::Human, Some(top)) if top.escalate => (
                composer.escalated_answer(top, article().as_deref()),
                escalate(EscalationReason::ArticleRequiresPerson),
            ),
            (TriageClass::Human, _) if verdict.basis == triage::Basis::LowConfidence => (
                composer.acknowledgement(EscalationReason::LowConfidence, queue),
                escalate(EscalationReason::LowConfidence),
            ),
            (TriageClass::Human, _) => (
                composer.acknowledgement(EscalationReason::NeedsPerson, queue),
                escalate(EscalationReason::NeedsPerson),
            ),
            (TriageClass::Faq, Some(top)) if top.escalate => (
                composer.escalated_answer(top, article().as_deref()),
                escalate(EscalationReason::ArticleRequiresPerson),
            ),
            (TriageClass::Faq, Some(_)) => (
                self.answer(
                    verdict.lang,
                    confident,
                    article().as_deref(),
                    inbound,
                    &composer,
                )
                .await,
                Escalation::No,
            ),
            (TriageClass::Faq, None) => (
                composer.acknowledgement(EscalationReason::LowConfidence, queue),
                escalate(EscalationReason::LowConfidence),
            ),
        }
    }

    /// The answer from the confident passages: LLM-written and checked when
    /// configured, extractive otherwise or on any failure.
    async fn answer(
        &self,
        lang: Lang,
        confident: &[&Hit],
        article: Option<&Article>,
        inbound: &Inbound<'_>,
        composer: &reply::Composer<'_>,
    ) -> Reply {
        let Some(llm) = &self.llm else {
            return composer.extractive_answer(confident[0], article, AnswerSource::Extractive);
        };
        let passages: Vec<&Hit> = confident
            .iter()
            .take(generate::MAX_PASSAGES)
            .copied()
            .collect();
        match generate::generate(
            llm,
            &self.prompts,
            lang,
            inbound.text,
            inbound.history,
            &passages,
            composer.max_chars(),
        )
        .await
        {
            Ok(text) => {
                let mut ids: Vec<String> = Vec::new();
                for hit in &passages {
                    if !ids.contains(&hit.article_id) {
                        ids.push(hit.article_id.clone());
                    }
                }
                Reply {
                    kind: ReplyKind::Answer,
                    text,
                    article_ids: ids,
                    source: AnswerSource::Llm,
                }
            }
            Err(rejected) => {
                crate::llm::record_fallback("answer", rejected.reason());
                tracing::debug!(%rejected, "llm answer rejected; sending the extractive reply");
                composer.extractive_answer(confident[0], article, AnswerSource::ExtractiveAfterLlm)
            }
        }
    }
}
