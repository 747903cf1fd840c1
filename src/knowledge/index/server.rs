//! A Qdrant server or cluster through `qdrant-client` (gRPC), used when
//! `qdrant.url` is set.
//!
//! The collection mirrors the embedded one: the named sparse vector `terms`
//! with IDF (every sparse signal's terms, see `sparse`), an optional dense `dense`
//! vector, and keyword payload indexes on `article_id` and `kind` so editors'
//! tools can filter. A collection with another vector layout is recreated,
//! as the embedded index is, and refilled by the incremental indexer.

use std::collections::HashMap;

use anyhow::Context;
use qdrant_client::Qdrant;
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::{
    CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance,
    FieldType, Modifier, NamedVectors, PointId, PointStruct, PointsIdsList, PrefetchQueryBuilder,
    Query, QueryPointsBuilder, RrfBuilder, ScrollPointsBuilder, SparseVectorParamsBuilder,
    SparseVectorsConfigBuilder, UpsertPointsBuilder, Vector, VectorInput, VectorParamsBuilder,
    VectorsConfigBuilder,
};
use secrecy::ExposeSecret;

use super::{
    DENSE_VECTOR, IndexPoint, IndexQuery, IndexSchema, OnDimensionChange, RRF_K, Scored,
    VectorIndex, check_dimension,
};
use crate::knowledge::QdrantConfig;
use crate::knowledge::sparse::SPARSE_VECTOR;

/// Default collection name.
pub const DEFAULT_COLLECTION: &str = "ventana_knowledge";
/// Points per upsert request, well under the server's request size limit.
const UPSERT_BATCH: usize = 256;
/// Points read per scroll page.
const SCROLL_PAGE: u32 = 1_000;
/// Connect and request timeout for the Qdrant server.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A collection on a Qdrant server.
pub struct ServerIndex {
    client: Qdrant,
    collection: String,
    schema: IndexSchema,
    url: String,
}

impl std::fmt::Debug for ServerIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIndex")
            .field("url", &self.url)
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

impl ServerIndex {
    /// Connects and makes sure the collection exists with the wanted layout.
    pub async fn open(config: &QdrantConfig, schema: IndexSchema) -> anyhow::Result<Self> {
        Self::open_with(config, schema, OnDimensionChange::Fail).await
    }

    /// [`open`](Self::open), choosing what a stored dense dimension other
    /// than the model's does.
    pub async fn open_with(
        config: &QdrantConfig,
        schema: IndexSchema,
        on_change: OnDimensionChange,
    ) -> anyhow::Result<Self> {
        let url = config.url.clone().context("qdrant.url is not set")?;
        let mut builder = Qdrant::from_url(&url)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT);
        if let Some(key) = &config.api_key {
            builder = builder.api_key(key.expose_secret().to_owned());
        }
        let client = builder
            .build()
            .with_context(|| format!("qdrant.url: cannot use {url}"))?;
        let collection = config
            .collection
            .clone()
            .unwrap_or_else(|| DEFAULT_COLLECTION.to_owned());
        let index = Self {
            client,
            collection,
            schema,
            url,
        };
        index.ensure_collection(on_change).await?;
        Ok(index)
    }

    async fn ensure_collection(&self, on_change: OnDimensionChange) -> anyhow::Result<()> {
        let exists = self
            .client
            .collection_exists(&self.collection)
            .await
            .with_context(|| format!("Qdrant at {}: cannot reach the server", self.url))?;
        if exists {
            let (matches, stored) = self.layout_matches().await?;
            if matches {
                return Ok(());
            }
            let location = format!("{} collection {}", self.url, self.collection);
            check_dimension(stored, self.schema.dense_dim, on_change, &location)?;
            tracing::info!(collection = %self.collection, "index layout changed; recreating the collection");
            self.client.delete_collection(&self.collection).await?;
        }
        self.create_collection().await
    }

    /// Whether the collection has the wanted vectors, and the size of its
    /// dense vectors.
    async fn layout_matches(&self) -> anyhow::Result<(bool, Option<usize>)> {
        let info = self.client.collection_info(&self.collection).await?;
        let params = info
            .result
            .and_then(|r| r.config)
            .and_then(|c| c.params)
            .context("collection has no params")?;
        let mut sparse: Vec<String> = params
            .sparse_vectors_config
            .map(|c| c.map.into_keys().collect())
            .unwrap_or_default();
        sparse.sort();
        let wanted = vec![SPARSE_VECTOR.to_owned()];
        let dense: Option<usize> = match params.vectors_config.and_then(|v| v.config) {
            Some(VectorsConfigKind::ParamsMap(map)) => {
                map.map.get(DENSE_VECTOR).map(|p| p.size as usize)
            }
            _ => None,
        };
        Ok((sparse == wanted && dense == self.schema.dense_dim, dense))
    }

    async fn create_collection(&self) -> anyhow::Result<()> {
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(
            SPARSE_VECTOR,
            SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
        );
        let mut create =
            CreateCollectionBuilder::new(&self.collection).sparse_vectors_config(sparse);
        if let Some(dim) = self.schema.dense_dim {
            let mut dense = VectorsConfigBuilder::default();
            dense.add_named_vector_params(
                DENSE_VECTOR,
                VectorParamsBuilder::new(dim as u64, Distance::Cosine),
            );
            create = create.vectors_config(dense);
        }
        self.client
            .create_collection(create)
            .await
            .context("cannot create the Qdrant collection")?;
        for field in ["article_id", "kind"] {
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(
                        &self.collection,
                        field,
                        FieldType::Keyword,
                    )
                    .wait(true),
                )
                .await
                .with_context(|| format!("cannot create the payload index on {field}"))?;
        }
        Ok(())
    }
}

fn to_point(point: IndexPoint) -> anyhow::Result<PointStruct> {
    let mut vectors = NamedVectors::default();
    for (name, sparse) in point.sparse {
        if !sparse.indices.is_empty() {
            vectors = vectors.add_vector(name, Vector::new_sparse(sparse.indices, sparse.values));
        }
    }
    if let Some(dense) = point.dense {
        vectors = vectors.add_vector(DENSE_VECTOR, Vector::new_dense(dense));
    }
    let payload = qdrant_client::Payload::try_from(serde_json::Value::Object(point.payload))
        .map_err(|e| anyhow::anyhow!("payload: {e}"))?;
    Ok(PointStruct::new(point.id, vectors, payload))
}

fn numeric_id(id: Option<PointId>) -> Option<u64> {
    match id?.point_id_options? {
        PointIdOptions::Num(n) => Some(n),
        PointIdOptions::Uuid(_) => None,
    }
}

#[async_trait::async_trait]
impl VectorIndex for ServerIndex {
    async fn stored_hashes(&self) -> anyhow::Result<HashMap<u64, String>> {
        let mut hashes = HashMap::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(&self.collection)
                .limit(SCROLL_PAGE)
                .with_payload(true)
                .with_vectors(false);
            if let Some(offset) = offset.take() {
                request = request.offset(offset);
            }
            let page = self.client.scroll(request).await.context("Qdrant scroll")?;
            for point in page.result {
                let hash = point
                    .payload
                    .get("hash")
                    .and_then(|v| v.as_str().map(|s| s.to_owned()));
                if let (Some(id), Some(hash)) = (numeric_id(point.id), hash) {
                    hashes.insert(id, hash);
                }
            }
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => break,
            }
        }
        Ok(hashes)
    }

    async fn upsert(&self, points: Vec<IndexPoint>) -> anyhow::Result<()> {
        let points = points
            .into_iter()
            .map(to_point)
            .collect::<anyhow::Result<Vec<_>>>()?;
        for batch in points.chunks(UPSERT_BATCH) {
            self.client
                .upsert_points(
                    UpsertPointsBuilder::new(&self.collection, batch.to_vec()).wait(true),
                )
                .await
                .context("Qdrant upsert")?;
        }
        Ok(())
    }

    async fn delete(&self, ids: Vec<u64>) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = PointsIdsList {
            ids: ids.into_iter().map(PointId::from).collect(),
        };
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(ids)
                    .wait(true),
            )
            .await
            .context("Qdrant delete")?;
        Ok(())
    }

    async fn clear(&self) -> anyhow::Result<()> {
        if self.client.collection_exists(&self.collection).await? {
            self.client.delete_collection(&self.collection).await?;
        }
        self.create_collection().await
    }

    async fn query(&self, query: IndexQuery) -> anyhow::Result<Vec<Scored>> {
        let mut request = QueryPointsBuilder::new(&self.collection);
        let mut any = false;
        for (name, sparse) in query.sparse {
            if sparse.indices.is_empty() {
                continue;
            }
            any = true;
            request = request.add_prefetch(
                PrefetchQueryBuilder::default()
                    .query(Query::new_nearest(VectorInput::new_sparse(
                        sparse.indices,
                        sparse.values,
                    )))
                    .using(name)
                    .limit(query.prefetch_limit as u64),
            );
        }
        if let Some(dense) = query.dense {
            any = true;
            request = request.add_prefetch(
                PrefetchQueryBuilder::default()
                    .query(Query::new_nearest(VectorInput::new_dense(dense)))
                    .using(DENSE_VECTOR)
                    .limit(query.prefetch_limit as u64),
            );
        }
        if !any {
            return Ok(Vec::new());
        }
        let request = request
            .query(Query::new_rrf(RrfBuilder::with_k(RRF_K as u32)))
            .limit(query.limit as u64)
            .with_payload(false);
        let response = self.client.query(request).await.context("Qdrant query")?;
        Ok(response
            .result
            .into_iter()
            .filter_map(|p| numeric_id(p.id).map(|id| Scored { id, score: p.score }))
            .collect())
    }

    fn describe(&self) -> String {
        format!("Qdrant server {} collection {}", self.url, self.collection)
    }
}

/// These run only against a real server: `VENTANA_TEST_QDRANT_URL=http://localhost:6334`.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::sparse::Sparse;

    fn test_config() -> Option<QdrantConfig> {
        let url = std::env::var("VENTANA_TEST_QDRANT_URL").ok()?;
        Some(QdrantConfig {
            url: Some(url),
            api_key: None,
            collection: Some(format!("ventana_test_{}", std::process::id())),
        })
    }

    fn point(id: u64, dims: &[u32]) -> IndexPoint {
        let sparse = Sparse {
            indices: dims.to_vec(),
            values: vec![1.0; dims.len()],
        };
        let mut payload = serde_json::Map::new();
        payload.insert("hash".into(), format!("h{id}").into());
        payload.insert("article_id".into(), format!("a{id}").into());
        IndexPoint {
            id,
            sparse: vec![(SPARSE_VECTOR, sparse)],
            dense: None,
            payload,
        }
    }

    #[tokio::test]
    async fn stores_and_queries_on_a_server() {
        let Some(config) = test_config() else {
            eprintln!("skipped: VENTANA_TEST_QDRANT_URL is not set");
            return;
        };
        let index = ServerIndex::open(&config, IndexSchema { dense_dim: None })
            .await
            .unwrap();
        index.clear().await.unwrap();
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
        let hashes = index.stored_hashes().await.unwrap();
        assert_eq!(hashes.len(), 2);
        index
            .client
            .delete_collection(&index.collection)
            .await
            .unwrap();
    }
}
