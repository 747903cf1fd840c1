//! Where passages are stored and searched: Qdrant Edge in-process by
//! default, a Qdrant server or cluster when `qdrant.url` is set.
//!
//! Both sit behind [`VectorIndex`], a deliberately small trait: upsert,
//! delete, list stored content hashes (for incremental indexing), and one
//! fused query. The query is the same on both: one prefetch per signal
//! (three BM25 languages and character trigrams, all against the one sparse
//! vector; optionally the dense vector), fused with reciprocal rank fusion
//! by Qdrant itself.

pub mod edge;
pub mod server;

use std::collections::HashMap;

use super::sparse::NamedSparse;

/// The dense vector's name, when embeddings are configured.
pub const DENSE_VECTOR: &str = "dense";

/// RRF's rank constant. Small, because only the first few ranks of each
/// signal carry information in a help centre of tens to thousands of
/// articles; larger values flatten the fusion towards "how many signals
/// found it at all".
pub const RRF_K: usize = 5;

/// One point to store: a passage or a question of an article.
#[derive(Debug, Clone)]
pub struct IndexPoint {
    pub id: u64,
    pub sparse: NamedSparse,
    pub dense: Option<Vec<f32>>,
    /// JSON object: `article_id`, `passage`, `kind`, `hash`, plus display fields.
    pub payload: serde_json::Map<String, serde_json::Value>,
}

/// One fused query.
#[derive(Debug, Clone)]
pub struct IndexQuery {
    /// One prefetch each (a vector name may repeat).
    pub sparse: NamedSparse,
    pub dense: Option<Vec<f32>>,
    /// Candidates taken from each signal before fusion.
    pub prefetch_limit: usize,
    /// Fused results returned.
    pub limit: usize,
}

/// A fused result: point id and RRF score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub id: u64,
    pub score: f32,
}

/// The vectors a collection holds: the sparse ones always, dense optionally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSchema {
    pub dense_dim: Option<usize>,
}

/// What opening an index does when the stored dense vectors have another
/// dimension than the embedding model returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDimensionChange {
    /// Refuse to start: the error names both sizes (the service's default).
    Fail,
    /// Drop the stored vectors and index again (`ventana kb index`).
    Recreate,
}

/// Checks the dense dimension an existing index holds against the model's.
/// Switching embeddings on or off only changes the layout (the index is
/// recreated and refilled); two different sizes mean another model, and
/// mixing its vectors with the stored ones would return garbage.
pub fn check_dimension(
    stored: Option<usize>,
    wanted: Option<usize>,
    on_change: OnDimensionChange,
    location: &str,
) -> anyhow::Result<()> {
    match (stored, wanted, on_change) {
        (Some(stored), Some(wanted), OnDimensionChange::Fail) if stored != wanted => {
            anyhow::bail!(
                "embeddings: the model returns {wanted}-dimensional vectors but the index at \
                 {location} holds {stored}-dimensional ones (made with another model); \
                 run `ventana kb index` to rebuild the index for this model, or configure \
                 the model it was built with"
            )
        }
        _ => Ok(()),
    }
}

/// A store of passages with named sparse (and optional dense) vectors.
#[async_trait::async_trait]
pub trait VectorIndex: Send + Sync + std::fmt::Debug {
    /// Content hash of every stored point, by id.
    async fn stored_hashes(&self) -> anyhow::Result<HashMap<u64, String>>;
    /// Inserts or replaces points.
    async fn upsert(&self, points: Vec<IndexPoint>) -> anyhow::Result<()>;
    /// Removes points (missing ids are fine).
    async fn delete(&self, ids: Vec<u64>) -> anyhow::Result<()>;
    /// Removes everything (a full rebuild follows).
    async fn clear(&self) -> anyhow::Result<()>;
    /// One RRF-fused query over every vector present in `query`.
    async fn query(&self, query: IndexQuery) -> anyhow::Result<Vec<Scored>>;
    /// Compacts storage after large changes (no-op where not needed).
    async fn optimize(&self) -> anyhow::Result<()> {
        Ok(())
    }
    /// Drops write-ahead logs that are no longer needed, after a write
    /// (no-op where the store manages that itself).
    async fn checkpoint(&self) -> anyhow::Result<()> {
        Ok(())
    }
    /// Where the index lives, for logs.
    fn describe(&self) -> String;
}

/// Reads the `hash` field of a stored payload.
pub(crate) fn payload_hash(payload: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    payload
        .get("hash")
        .and_then(|h| h.as_str())
        .map(str::to_owned)
}
