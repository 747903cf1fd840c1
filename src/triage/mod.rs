//! Triage: is this customer turn a question the knowledge base answers
//! (`faq`), something that needs a person now (`urgent`), or something that
//! needs a person but is not time-critical (`human`)?
//!
//! The default classifier is rule-based ([`rules`]): multilingual cue
//! families (Spanish, Portuguese, English) for urgency and for needing a
//! person, combined with the retrieval result (an article flagged
//! `escalate`, or no article confident enough, sends the turn to a person).
//! The labelling order is the one the evaluation set uses: urgent first,
//! then human, then faq. With an LLM configured, [`llm`] asks the model for
//! a structured verdict and keeps the rules as fall-back and as a safety
//! floor. [`metrics`] scores predictions against labelled cases.

pub mod cues;
#[cfg(test)]
mod dev_set;
pub mod lang;
pub mod llm;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod rules;

use serde::{Deserialize, Serialize};

pub use crate::vocab::TriageClass;
pub use lang::{Lang, detect_language};
pub use rules::{RetrievalPolicy, classify_with_rules, decide};

/// Which classifier produced a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageSource {
    Rules,
    /// The learned model ([`model`]) with its rule floor.
    Learned,
    Llm,
    /// The LLM answered, but a hard rule cue overrode it (safety floor).
    LlmOverriddenByRules,
}

/// What a verdict rests on; the pipeline stores it with the reason and the
/// LLM merge uses it to decide which rule verdicts are a safety floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// An urgency or needs-a-person cue in the text.
    Cue,
    /// Greeting, thanks or "ok" alone.
    SmallTalk,
    /// A confident article answers it.
    Article,
    /// The confident top article is flagged `escalate`.
    EscalateArticle,
    /// No article is confident enough.
    LowConfidence,
    /// The LLM's verdict.
    Model,
    /// The learned triage model's verdict.
    Learned,
}

/// What a turn contains when it is only social talk: no question at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmallTalk {
    Greeting,
    Thanks,
    /// "ok", "vale", "listo", an emoji alone.
    Acknowledgement,
}

/// A triage verdict, stored by the pipeline next to the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Triage {
    pub class: TriageClass,
    /// Confidence in [0, 1].
    pub confidence: f32,
    pub lang: Lang,
    /// Short, human-readable reason, e.g. `urgent: unauthorised charge cue`.
    pub reason: String,
    pub source: TriageSource,
    pub basis: Basis,
    /// Set when the turn is only a greeting, thanks or "ok".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub small_talk: Option<SmallTalk>,
}
