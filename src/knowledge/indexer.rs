//! Incremental indexing: bring the index in line with a catalog, embedding
//! only what changed.
//!
//! The index remembers each point's content hash in its payload. A sync
//! compares those with the hashes the catalog wants ([`changes`]), then
//! [`apply`]: points with a new or different hash are embedded (sparse
//! always, dense when configured) and upserted, points the catalog no
//! longer has are deleted, and the rest is left alone. A restart with
//! unchanged files embeds nothing. Between the two steps the caller learns
//! whether the sync is a bulk load ([`Changes::is_bulk`]).

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;

use super::catalog::PlannedPoint;
use super::dense::DenseEmbedder;
use super::index::{IndexPoint, VectorIndex};
use super::sparse::SparseEncoder;

/// Most points per sealed segment in a bulk load. Each is written into
/// Qdrant Edge's appendable segment, then sealed into an indexed one. Fewer,
/// larger segments make queries faster (a query pays a fixed cost per
/// segment and signal: at 10,000 articles, 10 segments gave a p50 of about
/// 1.7 ms, 7 about 1.55 ms, 6 about 1.45 ms); smaller ones make the build's
/// peak memory lower (the appendable segment's in-RAM index and the one
/// Qdrant builds to seal it both grow with the segment: 262–268 MB, 271–273
/// MB and 285–289 MB), and inserting into the in-RAM index costs time
/// linear in its posting lists' length. 5,760 leaves a margin under both
/// targets (`BENCHMARKS.md`).
const SEAL_POINTS: usize = 5760;

/// Points embedded and written per upsert call. Their vectors exist twice
/// while they are converted, and each call is one entry in Qdrant's
/// write-ahead log, whose open file stays resident: 256 passages are about
/// 2 MB (see `index::edge`).
const UPSERT_BATCH: usize = 256;

/// Points per sealed segment when `changed` points are bulk loaded: as
/// few segments as [`SEAL_POINTS`] allows, of even size (5,761 points make
/// two segments of 2,881, not one of 5,760 and one of a single point).
fn segment_points(changed: usize) -> usize {
    changed
        .div_ceil(changed.div_ceil(SEAL_POINTS).max(1))
        .max(1)
}

/// What a sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncStats {
    /// Points (passages and questions) embedded and written.
    pub embedded: usize,
    /// Points removed because their article or passage is gone.
    pub deleted: usize,
    /// Points already up to date.
    pub unchanged: usize,
}

/// What a sync has to do: the points to embed and the ids to delete.
#[derive(Debug)]
pub struct Changes {
    changed: Vec<PlannedPoint>,
    stale: Vec<u64>,
    stats: SyncStats,
}

impl Changes {
    /// Whether the points are loaded in sealed segments (see
    /// [`SEAL_POINTS`]): the part of a sync that needs the most memory.
    pub fn is_bulk(&self) -> bool {
        self.changed.len() > SEAL_POINTS
    }
}

/// Compares `planned` with the hashes the index holds.
pub async fn changes(
    index: &dyn VectorIndex,
    planned: Vec<PlannedPoint>,
) -> anyhow::Result<Changes> {
    let stored = index.stored_hashes().await?;
    let wanted: HashSet<u64> = planned.iter().map(|p| p.id).collect();
    let stale: Vec<u64> = stored
        .keys()
        .filter(|id| !wanted.contains(id))
        .copied()
        .collect();
    let total = planned.len();
    let changed: Vec<PlannedPoint> = planned
        .into_iter()
        .filter(|p| stored.get(&p.id) != Some(&p.hash))
        .collect();
    let stats = SyncStats {
        embedded: changed.len(),
        deleted: stale.len(),
        unchanged: total - changed.len(),
    };
    Ok(Changes {
        changed,
        stale,
        stats,
    })
}

/// Embeds and writes the changed points and deletes the stale ones.
pub async fn apply(
    index: &dyn VectorIndex,
    encoder: &Arc<SparseEncoder>,
    dense: Option<&DenseEmbedder>,
    changes: Changes,
) -> anyhow::Result<SyncStats> {
    let bulk = changes.is_bulk();
    let Changes {
        changed,
        stale,
        stats,
    } = changes;
    index.delete(stale).await?;
    for segment in changed.chunks(segment_points(changed.len())) {
        for batch in segment.chunks(UPSERT_BATCH) {
            let points = embed_batch(encoder, dense, batch).await?;
            index.upsert(points).await?;
        }
        if bulk {
            // Seal the segment's points into an indexed segment before the
            // next ones.
            index.optimize().await?;
            index.checkpoint().await?;
        }
    }
    if !bulk && (stats.embedded > 0 || stats.deleted > 0) {
        index.checkpoint().await?;
    }
    Ok(stats)
}

async fn embed_batch(
    encoder: &Arc<SparseEncoder>,
    dense: Option<&DenseEmbedder>,
    batch: &[PlannedPoint],
) -> anyhow::Result<Vec<IndexPoint>> {
    let dense_vectors = match dense {
        Some(embedder) => {
            let texts: Vec<String> = batch.iter().map(PlannedPoint::text).collect();
            Some(embedder.embed(&texts).await?)
        }
        None => None,
    };
    let encoder = encoder.clone();
    let batch = batch.to_vec();
    // Tokenizing and stemming is CPU work: keep it off the async workers.
    let mut points = tokio::task::spawn_blocking(move || {
        batch
            .into_iter()
            .map(|p| IndexPoint {
                id: p.id,
                sparse: encoder.encode_document(&p.text(), &p.stop_grams),
                dense: None,
                payload: p.payload(),
            })
            .collect::<Vec<_>>()
    })
    .await?;
    if let Some(vectors) = dense_vectors {
        for (point, vector) in points.iter_mut().zip(vectors) {
            point.dense = Some(vector);
        }
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::knowledge::article::parse_article;
    use crate::knowledge::catalog::Plan;
    use crate::knowledge::index::edge::EdgeIndex;
    use crate::knowledge::index::{IndexQuery, IndexSchema, Scored};

    /// The embedded index, counting checkpoints.
    #[derive(Debug)]
    struct Counting {
        inner: EdgeIndex,
        checkpoints: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl VectorIndex for Counting {
        async fn stored_hashes(&self) -> anyhow::Result<HashMap<u64, String>> {
            self.inner.stored_hashes().await
        }
        async fn upsert(&self, points: Vec<IndexPoint>) -> anyhow::Result<()> {
            self.inner.upsert(points).await
        }
        async fn delete(&self, ids: Vec<u64>) -> anyhow::Result<()> {
            self.inner.delete(ids).await
        }
        async fn clear(&self) -> anyhow::Result<()> {
            self.inner.clear().await
        }
        async fn query(&self, query: IndexQuery) -> anyhow::Result<Vec<Scored>> {
            self.inner.query(query).await
        }
        async fn checkpoint(&self) -> anyhow::Result<()> {
            self.checkpoints.fetch_add(1, Ordering::SeqCst);
            self.inner.checkpoint().await
        }
        fn describe(&self) -> String {
            self.inner.describe()
        }
    }

    /// Makes the index hold exactly `planned`.
    async fn sync(
        index: &dyn VectorIndex,
        encoder: &Arc<SparseEncoder>,
        planned: Vec<PlannedPoint>,
    ) -> anyhow::Result<SyncStats> {
        let changes = changes(index, planned).await?;
        apply(index, encoder, None, changes).await
    }

    fn plan(encoder: &SparseEncoder, bodies: &[&str]) -> Vec<PlannedPoint> {
        let articles = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let text = format!("---\ntitle: Artículo {i}\n---\n\n{body}\n");
                parse_article(&format!("a{i}"), &text).unwrap()
            })
            .collect();
        Plan::new(articles, encoder, None).1
    }

    #[tokio::test]
    async fn a_sync_that_writes_checkpoints_the_index_and_one_that_does_not_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let index = Counting {
            inner: EdgeIndex::open(&dir.path().join("index"), IndexSchema { dense_dim: None })
                .unwrap(),
            checkpoints: AtomicUsize::new(0),
        };
        let encoder = Arc::new(SparseEncoder::new().unwrap());
        let first = ["Envíos en tres días.", "Reembolsos en cinco días."];
        let stats = sync(&index, &encoder, plan(&encoder, &first))
            .await
            .unwrap();
        assert_eq!(stats.embedded, 2);
        assert_eq!(index.checkpoints.load(Ordering::SeqCst), 1);

        let stats = sync(&index, &encoder, plan(&encoder, &first))
            .await
            .unwrap();
        assert_eq!((stats.embedded, stats.deleted), (0, 0));
        assert_eq!(index.checkpoints.load(Ordering::SeqCst), 1);

        // Changed and removed points are written after the checkpoint and
        // still replace the earlier ones.
        let second = ["Envíos en dos días."];
        let stats = sync(&index, &encoder, plan(&encoder, &second))
            .await
            .unwrap();
        assert_eq!((stats.embedded, stats.deleted), (1, 1));
        assert_eq!(index.checkpoints.load(Ordering::SeqCst), 2);
        let stored = index.stored_hashes().await.unwrap();
        let wanted: HashMap<u64, String> = plan(&encoder, &second)
            .into_iter()
            .map(|p| (p.id, p.hash))
            .collect();
        assert_eq!(stored, wanted);
    }

    #[test]
    fn a_bulk_load_is_cut_into_as_few_even_segments_as_the_limit_allows() {
        assert_eq!(segment_points(1), 1);
        assert_eq!(segment_points(SEAL_POINTS), SEAL_POINTS);
        assert_eq!(segment_points(SEAL_POINTS + 1), SEAL_POINTS / 2 + 1);
        for changed in [SEAL_POINTS * 3 - 1, 39_863, 100_000] {
            let size = segment_points(changed);
            let segments = changed.div_ceil(size);
            assert!(size <= SEAL_POINTS, "{changed}: {size}");
            assert_eq!(segments, changed.div_ceil(SEAL_POINTS), "{changed}");
            // The last segment is at most one point per segment short.
            assert!(
                changed - (segments - 1) * size + segments >= size,
                "{changed}"
            );
        }
    }
}
