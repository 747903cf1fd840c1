//! Optional dense vectors from any OpenAI-compatible embeddings endpoint.
//!
//! With `embeddings.base_url` unset nothing here runs. When set, passages
//! and questions get a `dense` vector fused with the sparse signals by the
//! same RRF query; a query whose embedding call fails falls back to the
//! sparse signals with a warning instead of failing the search.

use std::time::Duration;

use anyhow::Context;
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::embeddings::{CreateEmbeddingRequestArgs, EmbeddingInput};
use secrecy::ExposeSecret;

use super::EmbeddingsConfig;

/// Texts per embeddings request.
const BATCH: usize = 64;
/// Time limit for one embeddings request while indexing.
const INDEX_TIMEOUT: Duration = Duration::from_secs(60);
/// Time limit for embedding one customer message: past it the search goes
/// on with the sparse signals only.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// A client for one embeddings model.
#[derive(Clone)]
pub struct DenseEmbedder {
    client: Client<OpenAIConfig>,
    model: String,
}

impl std::fmt::Debug for DenseEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenseEmbedder")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl DenseEmbedder {
    /// `None` when no endpoint is configured.
    pub fn from_config(config: &EmbeddingsConfig) -> Option<Self> {
        let base = config.base_url.as_ref()?;
        let model = config.model.clone()?;
        let mut openai = OpenAIConfig::new().with_api_base(base.trim_end_matches('/'));
        openai = match &config.api_key {
            Some(key) => openai.with_api_key(key.expose_secret()),
            None => openai.with_api_key(""),
        };
        Some(Self {
            client: Client::with_config(openai),
            model,
        })
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Embeds texts in order, in batches.
    pub async fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            let vectors = tokio::time::timeout(INDEX_TIMEOUT, self.embed_batch(batch))
                .await
                .context("embeddings request timed out")??;
            out.extend(vectors);
        }
        Ok(out)
    }

    /// Embeds one query, within [`QUERY_TIMEOUT`].
    pub async fn embed_query(&self, text: &str) -> anyhow::Result<Vec<f32>> {
        let batch = [text.to_owned()];
        let mut vectors = tokio::time::timeout(QUERY_TIMEOUT, self.embed_batch(&batch))
            .await
            .context("embeddings request timed out")??;
        vectors
            .pop()
            .context("embeddings endpoint returned nothing")
    }

    async fn embed_batch(&self, batch: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let request = CreateEmbeddingRequestArgs::default()
            .model(self.model.clone())
            .input(EmbeddingInput::StringArray(batch.to_vec()))
            .build()?;
        let response = self
            .client
            .embeddings()
            .create(request)
            .await
            .context("embeddings endpoint")?;
        let mut data = response.data;
        if data.len() != batch.len() {
            anyhow::bail!(
                "embeddings endpoint returned {} vectors for {} texts",
                data.len(),
                batch.len()
            );
        }
        data.sort_by_key(|e| e.index);
        Ok(data.into_iter().map(|e| e.embedding).collect())
    }
}
