//! Qdrant Edge: the index in-process, stored under the data directory.
//!
//! Qdrant Edge is a blocking library, so every call runs on tokio's blocking
//! pool (`spawn_blocking`) and the shard sits behind an `Arc<RwLock<..>>`
//! (the lock is only written when the shard is recreated). The shard
//! persists across restarts; when the stored vector layout differs from the
//! one wanted (embeddings switched on or off, another dimension), it is
//! recreated empty and the incremental indexer refills it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use qdrant_edge::{
    Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams, Modifier,
    NamedQuery, PointId, PointInsertOperations, PointOperations, PointStruct, Prefetch, QueryEnum,
    QueryRequest, ScoringQuery, ScrollRequest, UpdateOperation, Vector, VectorInternal, Vectors,
    WalOptions, WithPayloadInterface, WithVector,
};

use super::{
    DENSE_VECTOR, IndexPoint, IndexQuery, IndexSchema, OnDimensionChange, RRF_K, Scored,
    VectorIndex, check_dimension, payload_hash,
};
use crate::knowledge::sparse::SPARSE_VECTOR;

/// Segments kept before Qdrant merges them: about one per indexer batch at
/// 10,000 articles.
const MAX_SEGMENTS: usize = 32;

/// Points read per scroll page when listing stored hashes.
const SCROLL_PAGE: usize = 1_000;

/// The file Qdrant Edge keeps its configuration in; a shard directory
/// without it has never been created.
const EDGE_CONFIG_FILE: &str = "edge_config.json";

/// The shard's write-ahead log directory (see [`EdgeIndex::checkpoint`]).
const WAL_DIR: &str = "wal";

/// Size of one write-ahead log file (Qdrant's default is 32 MiB). The open
/// file is memory-mapped and stays resident while it fills; a checkpoint
/// keeps the newest closed one, and a start reads what is kept. An entry
/// larger than this gets a file of its own size: the indexer writes about
/// 2 MB per call (`indexer::UPSERT_BATCH`).
const WAL_FILE_BYTES: usize = 2 << 20;

/// The embedded index.
#[derive(Debug)]
pub struct EdgeIndex {
    path: PathBuf,
    schema: IndexSchema,
    shard: Arc<RwLock<Option<EdgeShard>>>,
    /// An exclusive lock on `<path>.lock`, held while the index is open
    /// (declared last: released after the shard is flushed).
    _lock: std::fs::File,
}

/// Takes an exclusive lock on `<path>.lock` (beside the shard, which a
/// rebuild may delete). The embedded shard has one writer: a second process
/// on the same data directory (another `serve`, or `kb ask` next to one)
/// would sync the index under the first and break it, so it is refused
/// before it touches anything. The kernel drops the lock when the process
/// dies, so a crash never leaves it stale.
fn lock_exclusively(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "the embedded knowledge index {} is open in another process \
             (a running `ventana serve`?); stop it, use another data_dir (VENTANA_DATA_DIR), \
             or share one Qdrant server (qdrant.url) between processes",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
        }
    }
}

impl EdgeIndex {
    /// Opens (or creates) the shard in `path`. Blocking: call it from
    /// `spawn_blocking` or before the runtime is busy.
    pub fn open(path: &Path, schema: IndexSchema) -> anyhow::Result<Self> {
        Self::open_with(path, schema, OnDimensionChange::Fail)
    }

    /// [`open`](Self::open), choosing what a stored dense dimension other
    /// than the model's does.
    pub fn open_with(
        path: &Path,
        schema: IndexSchema,
        on_change: OnDimensionChange,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let lock = lock_exclusively(path)?;
        let wanted = edge_config(schema);
        // Only load a shard that exists. Loading an empty directory fails
        // with a Qdrant "service error", which captures and symbolizes a
        // backtrace: that reads the binary's debug info and kept ~280 MB
        // resident for the life of the process (on every first start).
        if !path.join(EDGE_CONFIG_FILE).exists() {
            return Ok(Self {
                path: path.to_owned(),
                schema,
                shard: Arc::new(RwLock::new(Some(recreate(path, wanted)?))),
                _lock: lock,
            });
        }
        let shard = match EdgeShard::load(path, None) {
            Ok(shard) if same_layout(&shard.config(), &wanted) => shard,
            Ok(shard) => {
                let stored = shard.config().vectors.get(DENSE_VECTOR).map(|p| p.size);
                drop(shard);
                check_dimension(
                    stored,
                    schema.dense_dim,
                    on_change,
                    &path.display().to_string(),
                )?;
                tracing::info!(path = %path.display(), "index layout changed; recreating the embedded index");
                recreate(path, wanted)?
            }
            Err(_) => recreate(path, wanted)?,
        };
        Ok(Self {
            path: path.to_owned(),
            schema,
            shard: Arc::new(RwLock::new(Some(shard))),
            _lock: lock,
        })
    }

    async fn with_shard<T: Send + 'static>(
        &self,
        f: impl FnOnce(&EdgeShard) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let shard = self.shard.clone();
        tokio::task::spawn_blocking(move || {
            let guard = shard
                .read()
                .map_err(|_| anyhow::anyhow!("index lock poisoned"))?;
            let shard = guard.as_ref().context("index is closed")?;
            f(shard)
        })
        .await
        .context("index task panicked")?
    }
}

fn recreate(path: &Path, config: EdgeConfig) -> anyhow::Result<EdgeShard> {
    if path.exists() {
        std::fs::remove_dir_all(path)
            .with_context(|| format!("cannot clear {}", path.display()))?;
    }
    std::fs::create_dir_all(path)?;
    EdgeShard::new(path, config)
        .map_err(|e| anyhow::anyhow!("cannot create index in {}: {e}", path.display()))
}

fn edge_config(schema: IndexSchema) -> EdgeConfig {
    let sparse = EdgeSparseVectorParams {
        modifier: Some(Modifier::Idf),
        on_disk: Some(true),
        ..Default::default()
    };
    let mut config = EdgeConfig::default();
    // Every optimize turns the freshly written (appendable) segment into an
    // indexed one instead of merging: Qdrant Edge's in-RAM sparse index
    // costs O(posting list length) per insert, so bulk loads stay linear
    // only while the appendable segment is kept small (see `indexer`).
    config.optimizers.indexing_threshold = Some(1);
    config.optimizers.default_segment_number = Some(MAX_SEGMENTS);
    // Payload and sparse indexes are memory-mapped: the hot parts stay in
    // the page cache, the process keeps its resident memory small.
    config.on_disk_payload = true;
    config.wal_options = Some(WalOptions {
        segment_capacity: WAL_FILE_BYTES,
        segment_queue_len: 0,
        retain_closed: std::num::NonZeroUsize::MIN,
    });
    config
        .sparse_vectors
        .insert(SPARSE_VECTOR.to_owned(), sparse);
    if let Some(dim) = schema.dense_dim {
        config.vectors.insert(
            DENSE_VECTOR.to_owned(),
            EdgeVectorParams::builder(dim, Distance::Cosine).build(),
        );
    }
    config
}

/// Whether an existing shard was created with the configuration we want
/// (vectors, storage and optimizer settings); otherwise it is rebuilt. The
/// log's file size is not part of the layout: a shard keeps the one it was
/// created with.
fn same_layout(have: &EdgeConfig, want: &EdgeConfig) -> bool {
    EdgeConfig {
        wal_options: want.wal_options.clone(),
        ..have.clone()
    } == *want
}

fn to_edge_point(point: IndexPoint) -> anyhow::Result<qdrant_edge::PointStructPersisted> {
    let mut named: Vec<(String, Vector)> = Vec::with_capacity(point.sparse.len() + 1);
    for (name, sparse) in point.sparse {
        if sparse.indices.is_empty() {
            continue;
        }
        let vector = Vector::new_sparse(sparse.indices, sparse.values)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        named.push((name.to_owned(), vector));
    }
    if let Some(dense) = point.dense {
        named.push((DENSE_VECTOR.to_owned(), Vector::new_dense(dense)));
    }
    let payload = serde_json::Value::Object(point.payload);
    Ok(PointStruct::new(point.id, Vectors::new_named(named), payload).into())
}

fn nearest(vector: VectorInternal, using: &str, limit: usize) -> Prefetch {
    Prefetch {
        prefetches: vec![],
        query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
            query: vector,
            using: Some(using.to_owned()),
        }))),
        limit,
        params: None,
        filter: None,
        score_threshold: None,
    }
}

/// One plain nearest-neighbour request per non-empty vector. They are
/// fused here ([`fuse`]) rather than by the shard, because the shard's own
/// fusion ranks points of equal score in storage order, which changes from
/// one index build to the next: the same query could rank differently.
fn single_requests(query: IndexQuery) -> Vec<QueryRequest> {
    let mut vectors: Vec<(VectorInternal, String)> = Vec::new();
    for (name, sparse) in query.sparse {
        if sparse.indices.is_empty() {
            continue;
        }
        let vector = qdrant_edge::SparseVector {
            indices: sparse.indices,
            values: sparse.values,
        };
        vectors.push((VectorInternal::from(vector), name.to_owned()));
    }
    if let Some(dense) = query.dense {
        vectors.push((VectorInternal::from(dense), DENSE_VECTOR.to_owned()));
    }
    vectors
        .into_iter()
        .map(|(vector, using)| {
            // Twice the depth, so points tied at the cut are all seen and
            // the cut by (score, id) in `fuse` is the same on every build.
            let depth = query.prefetch_limit * 2;
            let prefetch = nearest(vector, &using, depth);
            QueryRequest {
                prefetches: vec![],
                query: prefetch.query,
                filter: None,
                score_threshold: None,
                limit: depth,
                offset: 0,
                params: None,
                with_vector: WithVector::Bool(false),
                with_payload: WithPayloadInterface::Bool(false),
            }
        })
        .collect()
}

/// Reciprocal rank fusion with Qdrant's formula (`1 / (position + k)`,
/// position from 0) over the first `depth` points of every list, each list
/// first ordered by score and then by point id, and the fused list ordered
/// the same way: deterministic.
fn fuse(lists: Vec<Vec<Scored>>, depth: usize, limit: usize) -> Vec<Scored> {
    let mut fused: std::collections::BTreeMap<u64, f32> = std::collections::BTreeMap::new();
    for mut list in lists {
        list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        list.truncate(depth);
        for (position, point) in list.iter().enumerate() {
            *fused.entry(point.id).or_default() += 1.0 / (position + RRF_K) as f32;
        }
    }
    let mut points: Vec<Scored> = fused
        .into_iter()
        .map(|(id, score)| Scored { id, score })
        .collect();
    points.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    points.truncate(limit);
    points
}

/// The write-ahead log's closed files (`closed-<first operation>`), oldest
/// first.
fn closed_wal_files(dir: &Path) -> Vec<(u64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut closed: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let start = name.to_str()?.strip_prefix("closed-")?.parse().ok()?;
            Some((start, entry.path()))
        })
        .collect();
    closed.sort_unstable();
    closed
}

fn numeric_id(id: &PointId) -> Option<u64> {
    match id {
        PointId::NumId(n) => Some(*n),
        PointId::Uuid(_) => None,
    }
}

fn op_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("qdrant edge: {e}")
}

#[async_trait::async_trait]
impl VectorIndex for EdgeIndex {
    async fn stored_hashes(&self) -> anyhow::Result<HashMap<u64, String>> {
        self.with_shard(|shard| {
            let mut hashes = HashMap::new();
            let mut offset = None;
            loop {
                let (records, next) = shard
                    .scroll(ScrollRequest {
                        offset,
                        limit: Some(SCROLL_PAGE),
                        filter: None,
                        with_payload: Some(WithPayloadInterface::Bool(true)),
                        with_vector: WithVector::Bool(false),
                        order_by: None,
                    })
                    .map_err(op_error)?;
                for record in records {
                    let (Some(id), Some(payload)) = (numeric_id(&record.id), record.payload) else {
                        continue;
                    };
                    if let Some(hash) = payload_hash(&payload.0.into_iter().collect()) {
                        hashes.insert(id, hash);
                    }
                }
                match next {
                    Some(next) => offset = Some(next),
                    None => break,
                }
            }
            Ok(hashes)
        })
        .await
    }

    async fn upsert(&self, points: Vec<IndexPoint>) -> anyhow::Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        self.with_shard(move |shard| {
            let points = points
                .into_iter()
                .map(to_edge_point)
                .collect::<anyhow::Result<Vec<_>>>()?;
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                ))
                .map_err(op_error)
        })
        .await
    }

    async fn delete(&self, ids: Vec<u64>) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.with_shard(move |shard| {
            let ids = ids.into_iter().map(PointId::NumId).collect();
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePoints { ids },
                ))
                .map_err(op_error)
        })
        .await
    }

    async fn clear(&self) -> anyhow::Result<()> {
        let shard = self.shard.clone();
        let path = self.path.clone();
        let schema = self.schema;
        tokio::task::spawn_blocking(move || {
            let mut guard = shard
                .write()
                .map_err(|_| anyhow::anyhow!("index lock poisoned"))?;
            // Drop (and flush) the old shard before its files are removed.
            guard.take();
            *guard = Some(recreate(&path, edge_config(schema))?);
            Ok(())
        })
        .await
        .context("index task panicked")?
    }

    async fn query(&self, query: IndexQuery) -> anyhow::Result<Vec<Scored>> {
        let (limit, depth) = (query.limit, query.prefetch_limit);
        let requests = single_requests(query);
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        self.with_shard(move |shard| {
            let mut lists = Vec::with_capacity(requests.len());
            for request in requests {
                let points = shard.query(request).map_err(op_error)?;
                lists.push(
                    points
                        .into_iter()
                        .filter_map(|p| numeric_id(&p.id).map(|id| Scored { id, score: p.score }))
                        .collect(),
                );
            }
            Ok(fuse(lists, depth, limit))
        })
        .await
    }

    async fn optimize(&self) -> anyhow::Result<()> {
        self.with_shard(|shard| {
            shard.optimize().map_err(op_error)?;
            Ok(())
        })
        .await
    }

    /// Qdrant Edge 0.7.2 appends every update to a write-ahead log that it
    /// never truncates (and never replays: `EdgeShard::load` reads only the
    /// segments, which a flush makes durable). The log's files stay
    /// memory-mapped, so their pages count as resident memory: a
    /// 10,000-article build carried about 300 MB of them, and every later
    /// start read them all again. A checkpoint closes the shard (which
    /// flushes the log and the segments), deletes the log's closed files but
    /// the newest, as the log's own `prefix_truncate` would, and loads the
    /// shard again. The newest closed file stays because the log numbers
    /// operations from it, and a segment ignores an update numbered below
    /// the version it already holds for that point.
    ///
    /// Until the log has a closed file to drop, nothing is done: a small
    /// edit does not make searches wait for the shard to reload.
    async fn checkpoint(&self) -> anyhow::Result<()> {
        let shard = self.shard.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let wal = path.join(WAL_DIR);
            if closed_wal_files(&wal).len() < 2 {
                return Ok(());
            }
            let mut guard = shard
                .write()
                .map_err(|_| anyhow::anyhow!("index lock poisoned"))?;
            if guard.take().is_none() {
                anyhow::bail!("index is closed");
            }
            let mut closed = closed_wal_files(&wal);
            closed.pop();
            for (_, file) in closed {
                std::fs::remove_file(&file)
                    .with_context(|| format!("cannot remove {}", file.display()))?;
            }
            let reopened = EdgeShard::load(&path, None).map_err(|e| {
                anyhow::anyhow!("cannot reopen the index in {}: {e}", path.display())
            })?;
            *guard = Some(reopened);
            Ok(())
        })
        .await
        .context("index task panicked")?
    }

    fn describe(&self) -> String {
        format!("Qdrant Edge at {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::sparse::Sparse;

    fn point(id: u64, words: &[u32]) -> IndexPoint {
        let sparse = Sparse {
            indices: words.to_vec(),
            values: vec![1.0; words.len()],
        };
        let mut payload = serde_json::Map::new();
        payload.insert("hash".into(), format!("h{id}").into());
        IndexPoint {
            id,
            sparse: vec![(SPARSE_VECTOR, sparse)],
            dense: None,
            payload,
        }
    }

    #[tokio::test]
    async fn stores_queries_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let schema = IndexSchema { dense_dim: None };
        {
            let index = EdgeIndex::open(&path, schema).unwrap();
            index
                .upsert(vec![point(1, &[1, 2]), point(2, &[3]), point(3, &[2, 3])])
                .await
                .unwrap();
            index.delete(vec![3]).await.unwrap();
            let query = IndexQuery {
                sparse: vec![(
                    SPARSE_VECTOR,
                    Sparse {
                        indices: vec![1],
                        values: vec![1.0],
                    },
                )],
                dense: None,
                prefetch_limit: 10,
                limit: 10,
            };
            let hits = index.query(query).await.unwrap();
            assert_eq!(hits.first().map(|h| h.id), Some(1));
        }
        let index = EdgeIndex::open(&path, schema).unwrap();
        let hashes = index.stored_hashes().await.unwrap();
        assert_eq!(hashes.len(), 2);
        assert_eq!(hashes[&2], "h2");
        // Another layout recreates the shard empty.
        drop(index);
        let index = EdgeIndex::open(&path, IndexSchema { dense_dim: Some(4) }).unwrap();
        assert!(index.stored_hashes().await.unwrap().is_empty());
    }

    #[test]
    fn a_second_opener_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let schema = IndexSchema { dense_dim: None };
        let first = EdgeIndex::open(&path, schema).unwrap();
        let Err(error) = EdgeIndex::open(&path, schema) else {
            panic!("a second opener was let in");
        };
        assert!(
            error.to_string().contains("open in another process"),
            "{error:#}"
        );
        // Refused before touching anything: the first still has its shard.
        assert!(path.join(EDGE_CONFIG_FILE).exists());
        drop(first);
        EdgeIndex::open(&path, schema).expect("free once the first closed");
    }

    fn wal_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(WAL_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_checkpoint_drops_the_log_and_later_updates_still_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let schema = IndexSchema { dense_dim: None };
        let index = EdgeIndex::open(&path, schema).unwrap();
        // A megabyte of payload per point: several log files' worth.
        let heavy = |id: u64, hash: &str| {
            let mut p = point(id, &[1, 2]);
            p.payload.insert("hash".into(), hash.into());
            p.payload.insert("text".into(), "x".repeat(1 << 20).into());
            p
        };
        for id in 0..24 {
            index.upsert(vec![heavy(id, "old")]).await.unwrap();
        }
        let closed = |names: &[String]| names.iter().filter(|n| n.starts_with("closed-")).count();
        assert!(closed(&wal_files(&path)) >= 2, "{:?}", wal_files(&path));
        index.checkpoint().await.unwrap();
        let after = wal_files(&path);
        assert_eq!(closed(&after), 1, "{after:?}");
        // Nothing more to drop: the shard is left open as it is.
        index.checkpoint().await.unwrap();
        assert_eq!(wal_files(&path), after);

        // Updates after the checkpoint are numbered after the ones before:
        // replacing and deleting existing points still works, and lasts.
        index.upsert(vec![heavy(3, "new")]).await.unwrap();
        index.delete(vec![5]).await.unwrap();
        index.checkpoint().await.unwrap();
        index.upsert(vec![heavy(4, "newer")]).await.unwrap();
        drop(index);
        let index = EdgeIndex::open(&path, schema).unwrap();
        let hashes = index.stored_hashes().await.unwrap();
        assert_eq!(hashes.len(), 23);
        assert_eq!(hashes[&3], "new");
        assert_eq!(hashes[&4], "newer");
        assert_eq!(hashes[&0], "old");
        assert!(!hashes.contains_key(&5));
    }

    #[tokio::test]
    async fn dense_vectors_are_searched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let index = EdgeIndex::open(&path, IndexSchema { dense_dim: Some(3) }).unwrap();
        let with_dense = |id: u64, words: &[u32], dense: [f32; 3]| IndexPoint {
            dense: Some(dense.to_vec()),
            ..point(id, words)
        };
        index
            .upsert(vec![
                with_dense(1, &[1], [1.0, 0.0, 0.0]),
                with_dense(2, &[1], [0.0, 1.0, 0.0]),
                with_dense(3, &[2], [0.0, 0.0, 1.0]),
            ])
            .await
            .unwrap();
        let found = index
            .query(IndexQuery {
                sparse: vec![],
                dense: Some(vec![0.1, 0.9, 0.0]),
                prefetch_limit: 10,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(found.first().map(|s| s.id), Some(2), "{found:?}");
    }
}
