//! Triage plus retrieval without embeddings: `cargo bench --bench triage`.
//!
//! Prints, on every business of `eval/corpus`:
//! - the time to load the shipped model file (`models/triage.json`) and its
//!   size;
//! - per message, p50/p99 of `Bot::respond` with the learned model
//!   (retrieval, features, model, reply), every case of every business
//!   after a warm-up pass.

use std::path::Path;
use std::time::Instant;

use ventana::answer::Bot;
use ventana::config::Config;
use ventana::knowledge::KnowledgeBase;

const MODEL: &str = "models/triage.json";
const ROUNDS: usize = 3;

fn config(knowledge: &Path, data: &Path) -> Config {
    let env = vec![
        (
            "VENTANA_KNOWLEDGE_DIR".to_owned(),
            knowledge.display().to_string(),
        ),
        ("VENTANA_DATA_DIR".to_owned(), data.display().to_string()),
    ];
    Config::load_from(None, env).expect("bench configuration")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    let model = ventana::triage::model::file::load(Path::new(MODEL))?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let size = std::fs::metadata(MODEL)?.len();
    println!(
        "model {MODEL}: {:.1} MB, {} features, loaded in {load_ms:.1} ms",
        size as f64 / 1e6,
        model.layout.len()
    );
    let corpus = ventana::corpus::read_corpus(Path::new("eval/corpus"))?;
    let mut all = Vec::new();
    for business in &corpus {
        let scratch = tempfile::tempdir()?;
        let config = config(&business.knowledge, scratch.path());
        let kb = KnowledgeBase::open(&config).await?;
        let bot = Bot::from_config(&config)?;
        let mut times = Vec::new();
        for round in 0..=ROUNDS {
            for case in &business.cases {
                let inbound = case.inbound();
                let t = Instant::now();
                let decision = bot.respond(kb.as_ref(), &inbound).await;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                std::hint::black_box(decision);
                if round > 0 {
                    times.push(ms);
                }
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{:<14} {:>4} messages x {ROUNDS}: p50 {:.2} ms, p99 {:.2} ms",
            business.name,
            business.cases.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
        all.extend(times);
        drop(kb);
    }
    all.sort_by(f64::total_cmp);
    println!(
        "all businesses, {} timed turns: triage + retrieval p50 {:.2} ms, p99 {:.2} ms",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    Ok(())
}
