//! `ventana eval`: run retrieval and the real bot (triage and answer) over
//! labelled cases and print the metrics.
//!
//! The cases file is JSON lines in the format of `eval/aurora/README.md`.
//! Retrieval is measured on the cases that name an expected article:
//! hit@1, hit@3 and mean reciprocal rank over the top passages, plus how the
//! confidence threshold splits answered from "I do not know". The knowledge
//! base is indexed into a fresh embedded index in a temporary folder, so an
//! evaluation never touches the service's own index.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::answer::{Bot, Inbound};
use crate::config::Config;
use crate::knowledge::{DenseStatus, KnowledgeBase, ScoredHit};
use crate::triage::metrics::{CaseOutcome, TriageMetrics};

/// Arguments of `ventana eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// The knowledge directory to evaluate against.
    #[arg(long)]
    pub knowledge: PathBuf,
    /// Labelled cases, one JSON object per line.
    #[arg(long)]
    pub cases: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Passages retrieved per case.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}

/// One labelled message.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub id: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
    pub text: String,
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Expect {
    #[serde(default)]
    pub triage: Option<String>,
    #[serde(default)]
    pub article: Option<String>,
}

/// One retrieved article of a case.
#[derive(Debug, Clone, Serialize)]
pub struct TopEntry {
    pub article_id: String,
    pub score: f32,
    pub features: crate::knowledge::Features,
}

/// Retrieval outcome of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub lang: Option<String>,
    pub expected_article: Option<String>,
    pub expected_triage: Option<String>,
    /// 1-based rank of the expected article among the top passages.
    pub rank: Option<usize>,
    pub top: Vec<TopEntry>,
    /// Filled in by triage evaluation when it exists.
    pub triage: Option<serde_json::Value>,
}

/// Retrieval metrics over the cases that name an article.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalMetrics {
    pub cases: usize,
    pub hit_at_1: f64,
    pub hit_at_3: f64,
    pub mrr: f64,
    pub min_confidence: f32,
    /// Share of those cases whose top score reaches `min_confidence`.
    pub answered: f64,
    /// Among answered cases, share whose top article is the expected one.
    pub precision_when_answered: f64,
    /// Cases labelled with no article (greetings, thanks) whose top score
    /// stays below `min_confidence`, out of all such cases.
    pub no_article_abstained: Option<f64>,
    pub by_lang: std::collections::BTreeMap<String, LangMetrics>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LangMetrics {
    pub cases: usize,
    pub hit_at_1: f64,
    pub hit_at_3: f64,
}

/// Runs the evaluation and prints it.
pub async fn run(config: Config, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let cases = read_cases(&args.cases)?;
    let scratch = std::env::temp_dir().join(format!(
        "ventana-eval-{}-{}",
        std::process::id(),
        unique_suffix()
    ));
    let mut config = config;
    config.knowledge_dir = args.knowledge.clone();
    config.data_dir = scratch.clone();
    // Never write evaluation points into a shared Qdrant collection.
    config.qdrant.url = None;
    let outcome = evaluate(&config, &cases, args.top).await;
    let _ = std::fs::remove_dir_all(&scratch);
    let Evaluation {
        articles: kb_articles,
        results,
        outcomes,
        dense,
    } = outcome?;
    let retrieval = retrieval_metrics(&results, config.retrieval.min_confidence);
    let triage = triage_metrics(&outcomes);
    if args.json {
        let report = serde_json::json!({
            "knowledge": args.knowledge,
            "articles": kb_articles,
            "cases": cases.len(),
            "retrieval": retrieval,
            "signals": signals(&config, dense.as_ref(), &results),
            "triage": triage.as_ref().map(|m| serde_json::json!({
                "accuracy": m.accuracy,
                "macro_f1": m.macro_f1,
                "per_class": m.per_class,
                "confusion": m.confusion,
            })),
            "safety": triage.as_ref().map(|m| &m.safety),
            "answer": triage.as_ref().map(|m| &m.answer),
            "results": results,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&results, &retrieval, triage.as_ref());
    }
    Ok(ExitCode::SUCCESS)
}

fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Reads a JSON-lines cases file; blank lines are skipped.
pub fn read_cases(path: &std::path::Path) -> anyhow::Result<Vec<Case>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--cases: cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a case", path.display(), n + 1))
        })
        .collect()
}

/// Which retrieval and triage signals the evaluation used, and how often
/// the optional ones fell back (a dense call that failed, an LLM verdict
/// replaced by the rules).
fn signals(
    config: &Config,
    dense: Option<&DenseStatus>,
    results: &[CaseResult],
) -> serde_json::Value {
    let mut sources = std::collections::BTreeMap::<String, usize>::new();
    for r in results {
        if let Some(source) = r
            .triage
            .as_ref()
            .and_then(|t| t.get("source"))
            .and_then(|s| s.as_str())
        {
            *sources.entry(source.to_owned()).or_default() += 1;
        }
    }
    serde_json::json!({
        "retrieval": if dense.is_some() { vec!["bm25", "char_ngrams", "dense"] } else { vec!["bm25", "char_ngrams"] },
        "dense": dense,
        "triage": if config.llm.base_url.is_some() { "llm_with_rules_floor" } else { "rules" },
        "triage_sources": sources,
        "answers": if config.llm.base_url.is_some() { "llm_grounded" } else { "extractive" },
    })
}

/// What [`evaluate`] found.
pub struct Evaluation {
    pub articles: usize,
    pub results: Vec<CaseResult>,
    pub outcomes: Vec<Option<CaseOutcome>>,
    pub dense: Option<DenseStatus>,
}

/// Indexes the knowledge base, retrieves for every case, and runs the bot
/// (triage and answer, exactly as the pipeline does) on each one.
pub async fn evaluate(config: &Config, cases: &[Case], top: usize) -> anyhow::Result<Evaluation> {
    let kb = KnowledgeBase::open(config).await?;
    for error in kb.load_errors() {
        eprintln!("warning: {error}");
    }
    let bot = Bot::from_config(config)?;
    let mut results = Vec::with_capacity(cases.len());
    let mut outcomes = Vec::with_capacity(cases.len());
    for case in cases {
        let hits = kb.search_explained(&case.text, top).await?;
        let mut result = case_result(case, &hits);
        let channel = case
            .channel
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(crate::channels::model::Channel::Whatsapp);
        let inbound = Inbound {
            text: &case.text,
            history: &[],
            channel,
            expected_answer_time: None,
            expected_answer: None,
        };
        let decision = bot.respond(kb.as_ref(), &inbound).await;
        result.triage = Some(serde_json::json!({
            "class": decision.triage.class,
            "confidence": decision.triage.confidence,
            "lang": decision.triage.lang,
            "reason": decision.triage.reason,
            "source": decision.triage.source,
            "escalated": decision.is_escalated(),
            "answered_article": decision.answered_article(),
        }));
        outcomes.push(
            case.expect
                .triage
                .as_deref()
                .and_then(|t| t.parse().ok())
                .map(|expected_class| CaseOutcome {
                    expected_class,
                    expected_article: case.expect.article.clone(),
                    predicted_class: decision.triage.class,
                    answered_article: decision.answered_article().map(str::to_owned),
                    escalated: decision.is_escalated(),
                }),
        );
        results.push(result);
    }
    Ok(Evaluation {
        articles: kb.articles().len(),
        results,
        outcomes,
        dense: kb.dense_status(),
    })
}

fn case_result(case: &Case, hits: &[ScoredHit]) -> CaseResult {
    let expected = case.expect.article.clone();
    let rank = expected
        .as_ref()
        .and_then(|want| hits.iter().position(|h| &h.hit.article_id == want))
        .map(|i| i + 1);
    CaseResult {
        id: case.id.clone(),
        lang: case.lang.clone(),
        expected_article: expected,
        expected_triage: case.expect.triage.clone(),
        rank,
        top: hits
            .iter()
            .map(|h| TopEntry {
                article_id: h.hit.article_id.clone(),
                score: h.hit.score,
                features: h.features,
            })
            .collect(),
        triage: None,
    }
}

/// hit@1, hit@3, MRR and the confidence split.
pub fn retrieval_metrics(results: &[CaseResult], min_confidence: f32) -> RetrievalMetrics {
    let labelled: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.expected_article.is_some())
        .collect();
    let n = labelled.len().max(1) as f64;
    let hit = |r: &CaseResult, k: usize| r.rank.is_some_and(|rank| rank <= k);
    let top_score = |r: &CaseResult| r.top.first().map_or(0.0, |t| t.score);
    let answered: Vec<&&CaseResult> = labelled
        .iter()
        .filter(|r| top_score(r) >= min_confidence)
        .collect();
    let unlabelled: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.expected_article.is_none())
        .collect();
    let mut by_lang = std::collections::BTreeMap::new();
    for lang in labelled.iter().filter_map(|r| r.lang.clone()) {
        by_lang.entry(lang).or_insert_with(Vec::new);
    }
    for (lang, rows) in by_lang.iter_mut() {
        rows.extend(
            labelled
                .iter()
                .filter(|r| r.lang.as_ref() == Some(lang))
                .copied(),
        );
    }
    RetrievalMetrics {
        cases: labelled.len(),
        hit_at_1: labelled.iter().filter(|r| hit(r, 1)).count() as f64 / n,
        hit_at_3: labelled.iter().filter(|r| hit(r, 3)).count() as f64 / n,
        mrr: labelled
            .iter()
            .map(|r| r.rank.map_or(0.0, |k| 1.0 / k as f64))
            .sum::<f64>()
            / n,
        min_confidence,
        answered: answered.len() as f64 / n,
        precision_when_answered: if answered.is_empty() {
            0.0
        } else {
            answered.iter().filter(|r| hit(r, 1)).count() as f64 / answered.len() as f64
        },
        no_article_abstained: (!unlabelled.is_empty()).then(|| {
            unlabelled
                .iter()
                .filter(|r| top_score(r) < min_confidence)
                .count() as f64
                / unlabelled.len() as f64
        }),
        by_lang: by_lang
            .into_iter()
            .map(|(lang, rows)| {
                let m = rows.len().max(1) as f64;
                let metrics = LangMetrics {
                    cases: rows.len(),
                    hit_at_1: rows.iter().filter(|r| hit(r, 1)).count() as f64 / m,
                    hit_at_3: rows.iter().filter(|r| hit(r, 3)).count() as f64 / m,
                };
                (lang, metrics)
            })
            .collect(),
    }
}

/// Triage, safety and deflection over the cases that name a triage class.
pub fn triage_metrics(outcomes: &[Option<CaseOutcome>]) -> Option<TriageMetrics> {
    let labelled: Vec<CaseOutcome> = outcomes.iter().flatten().cloned().collect();
    (!labelled.is_empty()).then(|| crate::triage::metrics::compute(&labelled))
}

fn print_table(results: &[CaseResult], metrics: &RetrievalMetrics, triage: Option<&TriageMetrics>) {
    println!(
        "{:<8} {:<4} {:<28} {:<28} {:>5} {:>4}",
        "case", "lang", "expected", "top", "score", "rank"
    );
    for r in results {
        let (top, score) = r
            .top
            .first()
            .map_or(("-", 0.0), |t| (t.article_id.as_str(), t.score));
        let rank = r.rank.map_or("-".to_owned(), |k| k.to_string());
        let mark = match (&r.expected_article, r.rank) {
            (None, _) => " ",
            (Some(_), Some(1)) => "✓",
            (Some(_), _) => "✗",
        };
        println!(
            "{:<8} {:<4} {:<28} {:<28} {:>5.2} {:>4} {mark}",
            r.id,
            r.lang.as_deref().unwrap_or("-"),
            r.expected_article.as_deref().unwrap_or("(none)"),
            top,
            score,
            rank
        );
    }
    println!();
    println!(
        "retrieval over {} cases with an expected article",
        metrics.cases
    );
    println!(
        "  hit@1 {:.3}   hit@3 {:.3}   MRR {:.3}",
        metrics.hit_at_1, metrics.hit_at_3, metrics.mrr
    );
    for (lang, m) in &metrics.by_lang {
        println!(
            "  {lang}: {} cases, hit@1 {:.3}, hit@3 {:.3}",
            m.cases, m.hit_at_1, m.hit_at_3
        );
    }
    println!(
        "  confidence ≥ {:.2}: {:.0}% answered, {:.1}% of those correct",
        metrics.min_confidence,
        metrics.answered * 100.0,
        metrics.precision_when_answered * 100.0
    );
    if let Some(share) = metrics.no_article_abstained {
        println!(
            "  greetings/thanks (no article) left unanswered: {:.0}%",
            share * 100.0
        );
    }
    if let Some(t) = triage {
        println!();
        println!("triage over {} labelled cases", t.cases);
        println!("  accuracy {:.3}   macro-F1 {:.3}", t.accuracy, t.macro_f1);
        for (name, c) in [
            ("faq", &t.per_class.faq),
            ("urgent", &t.per_class.urgent),
            ("human", &t.per_class.human),
        ] {
            println!(
                "  {name:<7} precision {:.3}  recall {:.3}  f1 {:.3}",
                c.precision, c.recall, c.f1
            );
        }
        println!(
            "  unsafe auto-answers: {} ({:.1}%)   deflection: {:.3}",
            t.safety.unsafe_auto_answers,
            t.safety.unsafe_auto_answer_rate * 100.0,
            t.answer.deflection
        );
    }
}
