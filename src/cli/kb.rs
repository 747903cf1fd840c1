//! `ventana kb`: tools for knowledge-base editors.
//!
//! `check` validates every file without touching the index (exit code 1 if
//! any file is broken) and lists the handoff passages, so an editor can
//! confirm or override each; `ask` shows what retrieval returns for a
//! message and what the bot would decide, `index` rebuilds the index from
//! scratch.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::knowledge::handoff::{HandoffPassage, handoff_passages};
use crate::knowledge::index::OnDimensionChange;
use crate::knowledge::loader::{LoadError, LoadReport, load_dir};
use crate::knowledge::{Coverage, KnowledgeBase, decide};

/// `ventana kb <command>`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KbCommand {
    /// Validate every article file; print path and reason for each broken
    /// one, then the passages handed to a person.
    Check {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
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
        KbCommand::Check { json } => check(&config, json),
        KbCommand::Ask {
            question,
            top,
            json,
        } => ask(&config, &question, top, json).await,
        KbCommand::Index => index(&config).await,
    }
}

fn check(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let report = match load_dir(&config.knowledge_dir) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let summary = CheckReport::from(&report);
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!(
            "{}",
            summary.render(&config.knowledge_dir.display().to_string())
        );
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What `kb check` found: broken files and the handoff passages.
#[derive(Debug, Serialize)]
struct CheckReport<'a> {
    articles: usize,
    passages: usize,
    errors: &'a [LoadError],
    handoff: Vec<ArticleHandoff>,
}

/// A handoff passage with the article it belongs to.
#[derive(Debug, Serialize)]
struct ArticleHandoff {
    article_id: String,
    #[serde(flatten)]
    passage: HandoffPassage,
}

impl<'a> From<&'a LoadReport> for CheckReport<'a> {
    fn from(report: &'a LoadReport) -> Self {
        Self {
            articles: report.articles.len(),
            passages: report.articles.iter().map(|a| a.passages.len()).sum(),
            errors: &report.errors,
            handoff: report
                .articles
                .iter()
                .flat_map(|article| {
                    handoff_passages(article)
                        .into_iter()
                        .map(|passage| ArticleHandoff {
                            article_id: article.id.clone(),
                            passage,
                        })
                })
                .collect(),
        }
    }
}

impl CheckReport<'_> {
    /// The text output: errors, the handoff passages with their sentences,
    /// and a summary line.
    fn render(&self, dir: &str) -> String {
        let mut out = String::new();
        for error in self.errors {
            let _ = writeln!(out, "{error}");
        }
        if !self.handoff.is_empty() {
            let _ = writeln!(
                out,
                "passages handed to a person ({}): confirm with a line `<!-- handoff -->` in the section, override with `<!-- handoff: no -->`",
                self.handoff.len()
            );
        }
        for h in &self.handoff {
            let heading = h.passage.heading.as_deref().unwrap_or("(intro)");
            let _ = writeln!(
                out,
                "  {} › {}  [{}]",
                h.article_id,
                heading,
                h.passage.source.as_str()
            );
            for sentence in &h.passage.sentences {
                let _ = writeln!(out, "    \"{sentence}\"");
            }
        }
        let _ = writeln!(
            out,
            "{} articles ({} passages, {} handed to a person) valid, {} files with errors in {dir}",
            self.articles,
            self.passages,
            self.handoff.len(),
            self.errors.len(),
        );
        out
    }
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
        Coverage::Answer { article_id } => format!("answer from {article_id}"),
        Coverage::AnswerAndEscalate { article_id, queue } => format!(
            "share {article_id} and escalate to a person (queue {})",
            queue.as_deref().unwrap_or("default")
        ),
        Coverage::DontKnow => "I do not know (no passage reaches the threshold)".to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::article::parse_article;

    fn report() -> LoadReport {
        let article = |id: &str, body: &str| {
            parse_article(id, &format!("---\ntitle: {id}\n---\n{body}\n")).unwrap()
        };
        LoadReport {
            articles: vec![
                article("bajar-plan", "Bajar de plan lo gestiona un asesor."),
                article("excepciones", "Casos especiales.\n\n<!-- handoff -->"),
                article("horarios", "Los asesores atienden de 9 a 18."),
                article("otra", "<!-- handoff: no -->\nLo gestiona un asesor."),
            ],
            errors: vec![LoadError {
                path: "roto.md".into(),
                reason: "no front matter".into(),
            }],
        }
    }

    #[test]
    fn check_lists_the_handoff_passages_with_source_and_sentences() {
        let report = report();
        let text = CheckReport::from(&report).render("kb");
        assert_eq!(
            text,
            "roto.md: no front matter\n\
             passages handed to a person (2): confirm with a line `<!-- handoff -->` in the section, override with `<!-- handoff: no -->`\n\
             \x20 bajar-plan › (intro)  [detected]\n\
             \x20   \"Bajar de plan lo gestiona un asesor.\"\n\
             \x20 excepciones › (intro)  [marked]\n\
             4 articles (4 passages, 2 handed to a person) valid, 1 files with errors in kb\n"
        );
    }

    #[test]
    fn check_json_carries_the_same_passages() {
        let report = report();
        let json = serde_json::to_value(CheckReport::from(&report)).unwrap();
        assert_eq!(json["articles"], 4);
        assert_eq!(json["errors"][0]["path"], "roto.md");
        assert_eq!(
            json["handoff"],
            serde_json::json!([
                {"article_id": "bajar-plan", "passage": 0, "heading": null, "source": "detected",
                 "sentences": ["Bajar de plan lo gestiona un asesor."]},
                {"article_id": "excepciones", "passage": 0, "heading": null, "source": "marked",
                 "sentences": []},
            ])
        );
    }
}
