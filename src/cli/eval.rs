//! `ventana eval`: run retrieval and the real bot (triage and answer) over
//! labelled cases and print the metrics; with `--corpus DIR
//! --leave-one-out`, over every business of a corpus, each judged by a
//! model trained and tuned on the others only ([`super::loo`]).
//!
//! The cases file is JSON lines in the format of `eval/aurora/README.md`.
//! Retrieval is measured on the cases that name an expected article:
//! hit@1, hit@3 and mean reciprocal rank over the top passages, plus how the
//! confidence threshold splits answered from "I do not know". The knowledge
//! base is indexed into a fresh embedded index in a temporary folder, so an
//! evaluation never touches the service's own index.

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use serde::Serialize;

use crate::answer::{Bot, ReplyKind};
use crate::config::Config;
use crate::knowledge::{DenseStatus, KnowledgeBase, ScoredHit};
use crate::triage::metrics::{CaseOutcome, TriageMetrics};

/// Arguments of `ventana eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// The knowledge directory to evaluate against (with `--cases`).
    #[arg(long, requires = "cases", conflicts_with = "corpus")]
    pub knowledge: Option<PathBuf>,
    /// Labelled cases, one JSON object per line (with `--knowledge`).
    #[arg(long, requires = "knowledge")]
    pub cases: Option<PathBuf>,
    /// A corpus: one folder per business with `knowledge/` and
    /// `cases.jsonl`. Each business is evaluated with the configured model,
    /// or with `--leave-one-out` by a model that never saw it.
    #[arg(long, required_unless_present = "knowledge")]
    pub corpus: Option<PathBuf>,
    /// Train and tune on every business but one, measure on that one, for
    /// each business.
    #[arg(long, requires = "corpus")]
    pub leave_one_out: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Passages retrieved per case.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}

pub use crate::corpus::Case;

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
    if let Some(corpus) = &args.corpus {
        return super::loo::run(config, corpus, &args).await;
    }
    let (Some(knowledge), Some(cases_path)) = (&args.knowledge, &args.cases) else {
        anyhow::bail!("give --knowledge and --cases, or --corpus");
    };
    let known = crate::corpus::article_ids(knowledge)?;
    let cases = crate::corpus::read_cases(cases_path, Some(&known))?;
    let scratch = super::folds::scratch_dir("eval");
    let config = super::folds::scratch_config(&config, knowledge, &scratch);
    let outcome = evaluate(&config, &cases, args.top).await;
    let _ = std::fs::remove_dir_all(&scratch);
    let evaluation = outcome?;
    let retrieval = retrieval_metrics(&evaluation.results, config.retrieval.min_confidence);
    let triage = triage_metrics(&evaluation.outcomes);
    if args.json {
        let mut report = report_json(&retrieval, triage.as_ref());
        report["knowledge"] = serde_json::json!(knowledge);
        report["articles"] = serde_json::json!(evaluation.articles);
        report["cases"] = serde_json::json!(cases.len());
        report["signals"] = signals(&config, evaluation.dense.as_ref(), &evaluation.results);
        report["results"] = serde_json::to_value(&evaluation.results)?;
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&evaluation.results, &retrieval, triage.as_ref());
    }
    Ok(ExitCode::SUCCESS)
}

/// The figures of one evaluated set as JSON: `retrieval`, `triage`,
/// `safety` and `answer`.
pub fn report_json(
    retrieval: &RetrievalMetrics,
    triage: Option<&TriageMetrics>,
) -> serde_json::Value {
    serde_json::json!({
        "retrieval": retrieval,
        "triage": triage.map(|m| serde_json::json!({
            "accuracy": m.accuracy,
            "macro_f1": m.macro_f1,
            "per_class": m.per_class,
            "confusion": m.confusion,
        })),
        "safety": triage.map(|m| &m.safety),
        "answer": triage.map(|m| &m.answer),
    })
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
    let evaluation = evaluate_with(&kb, &bot, cases, top).await;
    drop(kb);
    evaluation
}

/// [`evaluate`] with a knowledge base and a bot already built.
pub async fn evaluate_with(
    kb: &Arc<KnowledgeBase>,
    bot: &Bot,
    cases: &[Case],
    top: usize,
) -> anyhow::Result<Evaluation> {
    let mut results = Vec::with_capacity(cases.len());
    let mut outcomes = Vec::with_capacity(cases.len());
    for case in cases {
        let hits = kb.search_explained(&case.text, top).await?;
        let mut result = case_result(case, &hits);
        let decision = bot.respond(kb.as_ref(), &case.inbound()).await;
        let facts_matched = case
            .expect
            .facts_in(&decision.reply.text)
            .map(|ok| ok && !decision.is_escalated() && decision.reply.kind == ReplyKind::Answer);
        result.triage = Some(serde_json::json!({
            "class": decision.triage.class,
            "confidence": decision.triage.confidence,
            "lang": decision.triage.lang,
            "reason": decision.triage.reason,
            "source": decision.triage.source,
            "escalated": decision.is_escalated(),
            "answered_article": decision.answered_article(),
            "facts_matched": facts_matched,
        }));
        outcomes.push(case.expect.triage.map(|expected_class| CaseOutcome {
            expected_class,
            expected_article: case.expect.article.clone(),
            predicted_class: decision.triage.class,
            answered_article: decision.answered_article().map(str::to_owned),
            escalated: decision.is_escalated(),
            facts_matched,
        }));
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
        expected_triage: case.expect.triage.map(|c| c.to_string()),
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
        if t.answer.fact_cases > 0 {
            println!(
                "  fact rate: {:.3} of the answered FAQ replies contain every expected fact ({:.3} of all {} FAQ cases with facts)",
                t.answer.fact_rate, t.answer.fact_rate_all, t.answer.fact_cases
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_same_input_gives_the_same_figures_on_every_run() {
        let business = Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/corpus/fibra-ar");
        let knowledge = business.join("knowledge");
        let known = crate::corpus::article_ids(&knowledge).unwrap();
        let cases = crate::corpus::read_cases(&business.join("cases.jsonl"), Some(&known)).unwrap();
        let base = Config::load_from(None, Vec::<(String, String)>::new()).unwrap();
        let mut runs = Vec::new();
        for _ in 0..3 {
            let scratch = tempfile::tempdir().unwrap();
            let config = super::super::folds::scratch_config(&base, &knowledge, scratch.path());
            let evaluation = evaluate(&config, &cases, 5).await.unwrap();
            let retrieval = retrieval_metrics(&evaluation.results, config.retrieval.min_confidence);
            let triage = triage_metrics(&evaluation.outcomes);
            runs.push((
                report_json(&retrieval, triage.as_ref()).to_string(),
                serde_json::to_string(&evaluation.results).unwrap(),
            ));
        }
        assert!(runs[0].0.contains("fact_rate"), "{}", runs[0].0);
        assert_eq!(runs[0], runs[1]);
        assert_eq!(runs[1], runs[2]);
    }
}
