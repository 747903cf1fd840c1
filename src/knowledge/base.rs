//! [`KnowledgeBase`]: the loaded catalog, the index and the search entry
//! point the rest of the service uses.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use serde::Serialize;

use super::article::Article;
use super::catalog::{Catalog, Plan};
use super::confidence::Features;
use super::dense::DenseEmbedder;
use super::index::edge::EdgeIndex;
use super::index::server::ServerIndex;
use super::index::{IndexQuery, IndexSchema, OnDimensionChange, VectorIndex};
use super::indexer::{self, SyncStats};
use super::loader::{LoadError, article_id, load_dir};
use super::retrieve::{FUSED_LIMIT, PREFETCH_LIMIT, prepare, query_vectors, rank};
use super::sparse::SparseEncoder;
use super::{Hit, KnowledgeSource, RetrievalConfig};

/// Folder of the embedded index below the data directory.
const EDGE_DIR: &str = "knowledge-index";

/// A hit with the features its confidence came from (for `kb ask`, eval
/// and the editors' preview).
#[derive(Debug, Clone, Serialize)]
pub struct ScoredHit {
    #[serde(flatten)]
    pub hit: Hit,
    pub features: Features,
}

/// What the bot would do with a message, from retrieval alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Coverage {
    /// The best passage answers the message.
    Answer { article_id: String },
    /// The best passage answers, but the topic always needs a person.
    AnswerAndEscalate {
        article_id: String,
        queue: Option<String>,
    },
    /// Nothing is confident enough: "I do not know".
    DontKnow,
}

/// The one confidence threshold (`retrieval.min_confidence`): a passage
/// at or above it may answer. The bot, its triage features, `kb ask`, the
/// editors' preview and the unanswered list all decide through this and
/// [`decide`].
pub fn is_confident(hit: &Hit, min_confidence: f32) -> bool {
    hit.score >= min_confidence
}

/// Applies the confidence threshold to best-first hits.
pub fn decide(hits: &[Hit], min_confidence: f32) -> Coverage {
    match hits.first() {
        Some(hit) if is_confident(hit, min_confidence) && hit.escalate => {
            Coverage::AnswerAndEscalate {
                article_id: hit.article_id.clone(),
                queue: hit.queue.clone(),
            }
        }
        Some(hit) if is_confident(hit, min_confidence) => Coverage::Answer {
            article_id: hit.article_id.clone(),
        },
        _ => Coverage::DontKnow,
    }
}

/// How the dense signal is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DenseStatus {
    /// The passages' embedding model.
    pub model: String,
    pub dimensions: usize,
    /// Searches that went on without the dense signal (its call failed).
    pub failed_queries: u64,
}

/// The loaded, indexed knowledge base.
#[derive(Debug)]
pub struct KnowledgeBase {
    knowledge_dir: PathBuf,
    retrieval: RetrievalConfig,
    encoder: Arc<SparseEncoder>,
    dense: Option<DenseEmbedder>,
    index: Arc<dyn VectorIndex>,
    catalog: RwLock<Arc<Catalog>>,
    errors: RwLock<Vec<LoadError>>,
    /// One reload or rebuild at a time.
    reload: tokio::sync::Mutex<()>,
    /// Searches that went on without the dense signal (its call failed).
    dense_failures: std::sync::atomic::AtomicU64,
}

impl KnowledgeBase {
    /// Loads the knowledge directory and brings the index up to date
    /// (embedding only what changed since the last run).
    /// An index built for another embedding size stops the start with an
    /// error naming both sizes.
    pub async fn open(config: &impl KnowledgeSource) -> anyhow::Result<Arc<KnowledgeBase>> {
        Self::open_with(config, OnDimensionChange::Fail).await
    }

    /// [`open`](Self::open), choosing what an index built for another
    /// embedding size does (`ventana kb index` recreates it).
    pub async fn open_with(
        config: &impl KnowledgeSource,
        on_change: OnDimensionChange,
    ) -> anyhow::Result<Arc<KnowledgeBase>> {
        let config = config.knowledge_settings();
        let encoder = Arc::new(SparseEncoder::new()?);
        let dense = DenseEmbedder::from_config(&config.embeddings);
        let dense_dim = match &dense {
            Some(embedder) => Some(embedder.discover_dimension().await?),
            None => None,
        };
        let schema = IndexSchema { dense_dim };
        let index: Arc<dyn VectorIndex> = if config.qdrant.url.is_some() {
            Arc::new(ServerIndex::open_with(&config.qdrant, schema, on_change).await?)
        } else {
            let path = config.data_dir.join(EDGE_DIR);
            Arc::new(
                tokio::task::spawn_blocking(move || EdgeIndex::open_with(&path, schema, on_change))
                    .await
                    .context("opening the embedded index")??,
            )
        };
        let kb = Arc::new(KnowledgeBase {
            knowledge_dir: config.knowledge_dir.clone(),
            retrieval: config.retrieval.clone(),
            encoder,
            dense,
            index,
            catalog: RwLock::new(Arc::new(Catalog::default())),
            errors: RwLock::new(Vec::new()),
            reload: tokio::sync::Mutex::new(()),
            dense_failures: std::sync::atomic::AtomicU64::new(0),
        });
        let stats = kb.reload().await?;
        tracing::info!(
            articles = kb.catalog().articles.len(),
            embedded = stats.embedded,
            deleted = stats.deleted,
            unchanged = stats.unchanged,
            index = %kb.index.describe(),
            "knowledge base loaded"
        );
        Ok(kb)
    }

    /// Top passages for a customer message, best first, one per article,
    /// each with a confidence in [0, 1].
    pub async fn search(&self, query: &str, limit: usize) -> anyhow::Result<Vec<Hit>> {
        Ok(self
            .search_explained(query, limit)
            .await?
            .into_iter()
            .map(|s| s.hit)
            .collect())
    }

    /// Like [`search`](Self::search), with the confidence features.
    pub async fn search_explained(
        &self,
        query: &str,
        limit: usize,
    ) -> anyhow::Result<Vec<ScoredHit>> {
        Ok(self.search_embedded(query, limit).await?.0)
    }

    /// Like [`search_explained`](Self::search_explained), with the
    /// message's dense vector when the dense signal is configured and its
    /// call succeeded (the learned triage model reads it too).
    pub async fn search_embedded(
        &self,
        query: &str,
        limit: usize,
    ) -> anyhow::Result<(Vec<ScoredHit>, Option<Vec<f32>>)> {
        let catalog = self.catalog();
        let prepared = prepare(&self.encoder, query);
        if catalog.articles.is_empty() || limit == 0 {
            return Ok((Vec::new(), None));
        }
        let dense = match &self.dense {
            Some(embedder) => match embedder.embed_query(query).await {
                Ok(vector) => Some(vector),
                Err(e) => {
                    self.dense_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    metrics::counter!("ventana_embedding_failures_total").increment(1);
                    tracing::warn!(error = %format!("{e:#}"), "query embedding failed; searching with sparse signals only");
                    None
                }
            },
            None => None,
        };
        if prepared.is_empty() {
            return Ok((Vec::new(), dense));
        }
        let request = IndexQuery {
            sparse: query_vectors(&self.encoder, &catalog, &prepared),
            dense: dense.clone(),
            prefetch_limit: PREFETCH_LIMIT,
            limit: FUSED_LIMIT,
        };
        let fused = self.index.query(request).await?;
        let ranked = rank(&catalog, &prepared, &fused, limit);
        let hits = ranked
            .into_iter()
            .map(|r| {
                let article = &catalog.articles[r.article];
                let passage = &article.passages[r.passage];
                ScoredHit {
                    hit: Hit {
                        article_id: article.id.clone(),
                        title: article.title.clone(),
                        heading: passage.heading.clone(),
                        text: article.passage_text(r.passage).to_owned(),
                        score: r.confidence,
                        escalate: article.escalate,
                        handoff: passage.handoff.is_handoff(),
                        queue: article.queue.clone(),
                        lang: article.lang.clone(),
                    },
                    features: r.features,
                }
            })
            .collect();
        Ok((hits, dense))
    }

    /// The article with this id (for `escalate` and `queue`).
    pub fn article(&self, id: &str) -> Option<Arc<Article>> {
        self.catalog().article(id).cloned()
    }

    /// The articles that declare `translation_of: id` (a map lookup).
    pub fn translations_of(&self, id: &str) -> Vec<Arc<Article>> {
        self.catalog().translations_of(id)
    }

    /// Every loaded article, sorted by id.
    pub fn articles(&self) -> Vec<Arc<Article>> {
        self.catalog().articles.clone()
    }

    /// Files skipped at the last (re)load, with reasons.
    pub fn load_errors(&self) -> Vec<LoadError> {
        self.errors.read().expect("errors lock").clone()
    }

    /// "Below this, I do not know" (`retrieval.min_confidence`).
    pub fn min_confidence(&self) -> f32 {
        self.retrieval.min_confidence
    }

    /// Passages returned by default (`retrieval.top_k`).
    pub fn top_k(&self) -> usize {
        self.retrieval.top_k
    }

    pub(crate) fn retrieval_debounce_ms(&self) -> u64 {
        self.retrieval.reload_debounce_ms
    }

    pub fn knowledge_dir(&self) -> &Path {
        &self.knowledge_dir
    }

    /// How customer messages are embedded, when they are
    /// ([`DenseEmbedder::query_fingerprint`]).
    pub fn query_embedding(&self) -> Option<String> {
        self.dense.as_ref().map(DenseEmbedder::query_fingerprint)
    }

    /// The dense signal's model, size and how many searches had to go on
    /// without it (`None` without embeddings), for `ventana eval`.
    pub fn dense_status(&self) -> Option<DenseStatus> {
        self.dense.as_ref().map(|d| DenseStatus {
            model: d.document_model().to_owned(),
            dimensions: d.dimension().unwrap_or(0),
            failed_queries: self
                .dense_failures
                .load(std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// Where the index lives, for logs and `kb index`.
    pub fn index_description(&self) -> String {
        self.index.describe()
    }

    fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().expect("catalog lock").clone()
    }

    /// Re-reads the directory and updates the index incrementally. A file
    /// that fails to parse keeps its last good version, if there is one;
    /// its error is logged with the path.
    pub async fn reload(&self) -> anyhow::Result<SyncStats> {
        let _guard = self.reload.lock().await;
        let dir = self.knowledge_dir.clone();
        let report = tokio::task::spawn_blocking(move || load_dir(&dir)).await??;
        let previous = self.catalog();
        let mut articles = report.articles;
        for error in &report.errors {
            tracing::warn!(path = %error.path.display(), reason = %error.reason, "knowledge file skipped");
            let Some(id) = article_id(&self.knowledge_dir, &error.path) else {
                continue;
            };
            let still_valid = articles.iter().any(|a| a.id.eq_ignore_ascii_case(&id));
            if let (false, Some(old)) = (still_valid, previous.article(&id)) {
                tracing::warn!(path = %error.path.display(), "keeping the last good version of the article");
                articles.push(Article::clone(old));
            }
        }
        articles.sort_by(|a, b| a.id.cmp(&b.id));
        let stats = self.install(articles).await?;
        *self.errors.write().expect("errors lock") = report.errors;
        Ok(stats)
    }

    /// Drops the index and embeds everything again (`ventana kb index`).
    pub async fn rebuild(&self) -> anyhow::Result<SyncStats> {
        let _guard = self.reload.lock().await;
        self.index.clear().await?;
        let articles: Vec<Article> = self
            .catalog()
            .articles
            .iter()
            .map(|a| Article::clone(a))
            .collect();
        self.install(articles).await
    }

    async fn install(&self, articles: Vec<Article>) -> anyhow::Result<SyncStats> {
        let encoder = self.encoder.clone();
        let model = self.dense.as_ref().map(|d| d.fingerprint());
        let (mut plan, planned) =
            tokio::task::spawn_blocking(move || Plan::new(articles, &encoder, model.as_deref()))
                .await?;
        let changes = indexer::changes(self.index.as_ref(), planned).await?;
        if changes.is_bulk() {
            // Qdrant seals segments: the profiles are made after it from a
            // second pass over the words, instead of holding them now.
            plan.forget_words();
        }
        let stats = indexer::apply(
            self.index.as_ref(),
            &self.encoder,
            self.dense.as_ref(),
            changes,
        )
        .await?;
        let encoder = self.encoder.clone();
        let catalog =
            tokio::task::spawn_blocking(move || Catalog::from_plan(plan, &encoder)).await?;
        *self.catalog.write().expect("catalog lock") = Arc::new(catalog);
        Ok(stats)
    }
}
