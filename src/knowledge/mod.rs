//! The knowledge base: Markdown articles in, the right passage out.
//!
//! (Being built: loading, chunking, Qdrant indexing and hybrid retrieval.)

use serde::{Deserialize, Serialize};

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
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self { top_k: 5 }
    }
}

impl RetrievalConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.top_k == 0 {
            return Err("retrieval.top_k: must be at least 1".into());
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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingsConfig {
    /// `VENTANA_EMBEDDINGS__BASE_URL`.
    pub base_url: Option<String>,
    /// `VENTANA_EMBEDDINGS__MODEL`.
    pub model: Option<String>,
    /// `VENTANA_EMBEDDINGS__API_KEY`.
    pub api_key: Option<secrecy::SecretString>,
}

impl EmbeddingsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.base_url.is_some() && self.model.is_none() {
            return Err("embeddings.model (VENTANA_EMBEDDINGS__MODEL): required when embeddings.base_url is set".into());
        }
        Ok(())
    }
}

/// The loaded, indexed knowledge base (placeholder until retrieval lands).
#[derive(Debug, Default)]
pub struct KnowledgeBase {}

impl KnowledgeBase {
    /// Top passages for a customer message, best first.
    pub async fn search(&self, _query: &str, _limit: usize) -> anyhow::Result<Vec<Hit>> {
        Ok(Vec::new())
    }
}
