//! `ventana kb`: tools for knowledge-base editors.
//!
//! `check` validates every file without touching the index (exit code 1 if
//! any file is broken), `ask` shows what retrieval returns for a message and
//! what the bot would decide, `index` rebuilds the index from scratch.

use std::process::ExitCode;
use std::time::Instant;

use crate::config::Config;
use crate::knowledge::index::OnDimensionChange;
use crate::knowledge::loader::load_dir;
use crate::knowledge::{Decision, KnowledgeBase, decide};

/// `ventana kb <command>`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KbCommand {
    /// Validate every article file; print path and reason for each broken one.
    Check,
    /// Show the top passages for a customer message and the bot's decision.
    Ask {
        /// The message, as a customer would type it.
        question: String,
        /// Passages to show (default: retrieval.top_k).
        #[arg(long, short = 'k')]
        top: Option<usize>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Drop the index and embed every article again.
    Index,
}

/// Runs one `kb` command.
pub async fn run(config: Config, cmd: KbCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KbCommand::Check => check(&config),
        KbCommand::Ask {
            question,
            top,
            json,
        } => ask(&config, &question, top, json).await,
        KbCommand::Index => index(&config).await,
    }
}

fn check(config: &Config) -> anyhow::Result<ExitCode> {
    let report = match load_dir(&config.knowledge_dir) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for error in &report.errors {
        println!("{}: {}", error.path.display(), error.reason);
    }
    let passages: usize = report.articles.iter().map(|a| a.passages.len()).sum();
    println!(
        "{} articles ({} passages) valid, {} files with errors in {}",
        report.articles.len(),
        passages,
        report.errors.len(),
        config.knowledge_dir.display()
    );
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn ask(
    config: &Config,
    question: &str,
    top: Option<usize>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let kb = KnowledgeBase::open(config).await?;
    let started = Instant::now();
    let hits = kb
        .search_explained(question, top.unwrap_or(kb.top_k()))
        .await?;
    let elapsed = started.elapsed();
    let plain: Vec<_> = hits.iter().map(|h| h.hit.clone()).collect();
    let decision = decide(&plain, kb.min_confidence());
    if json {
        let out = serde_json::json!({
            "question": question,
            "min_confidence": kb.min_confidence(),
            "decision": decision,
            "hits": hits,
            "elapsed_ms": elapsed.as_secs_f64() * 1000.0,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        println!("no passage matches");
    }
    for (i, scored) in hits.iter().enumerate() {
        let hit = &scored.hit;
        let f = &scored.features;
        let heading = hit
            .heading
            .as_deref()
            .map(|h| format!(" › {h}"))
            .unwrap_or_default();
        println!(
            "{}. {:.2}  {}  ({}{})",
            i + 1,
            hit.score,
            hit.article_id,
            hit.title,
            heading
        );
        println!(
            "   coverage {:.2}, title/questions {:.2}, rank {:.2}, margin {:+.2}{}",
            f.coverage,
            f.head_coverage,
            f.rank,
            f.margin,
            if hit.escalate { ", escalate" } else { "" }
        );
        let snippet: String = hit
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(160)
            .collect();
        println!("   {snippet}…");
    }
    let verdict = match decision {
        Decision::Answer { article_id } => format!("answer from {article_id}"),
        Decision::AnswerAndEscalate { article_id, queue } => format!(
            "share {article_id} and escalate to a person (queue {})",
            queue.as_deref().unwrap_or("default")
        ),
        Decision::DontKnow => "I do not know (no passage reaches the threshold)".to_owned(),
    };
    println!(
        "decision (min_confidence {:.2}): {verdict}",
        kb.min_confidence()
    );
    println!("search took {:.2} ms", elapsed.as_secs_f64() * 1000.0);
    Ok(ExitCode::SUCCESS)
}

async fn index(config: &Config) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // A rebuild may change the embedding size (another model): recreate.
    let kb = KnowledgeBase::open_with(config, OnDimensionChange::Recreate).await?;
    let stats = kb.rebuild().await?;
    for error in kb.load_errors() {
        eprintln!("skipped {error}");
    }
    println!(
        "indexed {} articles ({} points) into {} in {:.1} s",
        kb.articles().len(),
        stats.embedded,
        kb.index_description(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
