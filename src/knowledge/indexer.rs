//! Incremental indexing: bring the index in line with a catalog, embedding
//! only what changed.
//!
//! The index remembers each point's content hash in its payload. A sync
//! compares those with the hashes the catalog wants: points with a new or
//! different hash are embedded (sparse always, dense when configured) and
//! upserted, points the catalog no longer has are deleted, and the rest is
//! left alone. A restart with unchanged files embeds nothing.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;

use super::catalog::PlannedPoint;
use super::dense::DenseEmbedder;
use super::index::{IndexPoint, VectorIndex};
use super::sparse::SparseEncoder;

/// Points per sealed segment in a bulk load. Each is written into Qdrant
/// Edge's appendable segment, then sealed into an indexed one. Fewer,
/// larger segments make queries faster (a query pays a fixed cost per
/// segment and signal: at 10,000 articles, 5 segments of 8,192 points gave
/// a p50 of 1.34 ms, 10 of 4,096 1.61 ms); smaller ones make the build's
/// peak memory lower (the appendable segment's in-RAM index and the one
/// Qdrant builds to seal it both grow with the segment: 331–337 MB against
/// 268–272 MB), and inserting into the in-RAM index costs time linear in
/// its posting lists' length. 4,096 keeps the peak under 300 MB; the median
/// then sits close to 2 ms (`BENCHMARKS.md`).
const SEAL_POINTS: usize = 4096;

/// Points embedded and written per upsert call: their vectors (about 7 KB a
/// passage) exist twice while they are converted, so a whole segment's worth
/// at once would add a hundred megabytes to the peak.
const UPSERT_BATCH: usize = 1024;

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

/// Makes the index hold exactly `planned`.
pub async fn sync(
    index: &dyn VectorIndex,
    encoder: &Arc<SparseEncoder>,
    dense: Option<&DenseEmbedder>,
    planned: Vec<PlannedPoint>,
) -> anyhow::Result<SyncStats> {
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
    index.delete(stale).await?;
    let bulk = changed.len() > SEAL_POINTS;
    for segment in changed.chunks(SEAL_POINTS) {
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
    use crate::knowledge::catalog::Catalog;
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

    fn plan(encoder: &SparseEncoder, bodies: &[&str]) -> Vec<PlannedPoint> {
        let articles = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let text = format!("---\ntitle: Artículo {i}\n---\n\n{body}\n");
                parse_article(&format!("a{i}"), &text).unwrap()
            })
            .collect();
        Catalog::build(articles, encoder, None).1
    }

    #[tokio::test]
    async fn a_sync_that_writes_checkpoints_the_index_and_one_that_does_not_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let index = Counting {
            inner: EdgeIndex::open(dir.path(), IndexSchema { dense_dim: None }).unwrap(),
            checkpoints: AtomicUsize::new(0),
        };
        let encoder = Arc::new(SparseEncoder::new().unwrap());
        let first = ["Envíos en tres días.", "Reembolsos en cinco días."];
        let stats = sync(&index, &encoder, None, plan(&encoder, &first))
            .await
            .unwrap();
        assert_eq!(stats.embedded, 2);
        assert_eq!(index.checkpoints.load(Ordering::SeqCst), 1);

        let stats = sync(&index, &encoder, None, plan(&encoder, &first))
            .await
            .unwrap();
        assert_eq!((stats.embedded, stats.deleted), (0, 0));
        assert_eq!(index.checkpoints.load(Ordering::SeqCst), 1);

        // Changed and removed points are written after the checkpoint and
        // still replace the earlier ones.
        let second = ["Envíos en dos días."];
        let stats = sync(&index, &encoder, None, plan(&encoder, &second))
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
}
