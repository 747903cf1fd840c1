//! A local harness over a labelled case file (the format of
//! `eval/aurora/cases.jsonl`), for tuning the rules. Ignored by default:
//!
//! ```text
//! VENTANA_EVAL_CASES=../shared/eval/aurora/cases.jsonl \
//!   cargo test --lib triage::dev_set -- --ignored --nocapture
//! ```
//!
//! Retrieval is simulated by an oracle (the expected article as the only hit,
//! with a middling score; no hit when the label has no article), so the
//! figures isolate the cue families. `ventana eval` measures the real thing.

use std::path::PathBuf;

use serde::Deserialize;

use super::metrics::{CaseOutcome, compute};
use super::{RetrievalPolicy, TriageClass, classify_with_rules};
use crate::knowledge::Hit;

#[derive(Deserialize)]
struct Case {
    id: String,
    text: String,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    triage: TriageClass,
    article: Option<String>,
}

fn cases_path() -> PathBuf {
    std::env::var_os("VENTANA_EVAL_CASES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/eval/aurora/cases.jsonl")
        })
}

/// Whether the article's front matter says `escalate: true`.
fn escalates(knowledge: &std::path::Path, article: &str) -> bool {
    std::fs::read_to_string(knowledge.join(format!("{article}.md")))
        .map(|s| s.lines().take(20).any(|l| l.trim() == "escalate: true"))
        .unwrap_or(false)
}

#[test]
#[ignore = "needs a labelled case file; run with --ignored"]
fn rules_on_dev_set() {
    let path = cases_path();
    let knowledge = path.parent().unwrap().join("knowledge");
    let text = std::fs::read_to_string(&path).expect("case file");
    let cases: Vec<Case> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let policy = RetrievalPolicy::default();
    let mut halves: [Vec<CaseOutcome>; 2] = [Vec::new(), Vec::new()];
    for (i, case) in cases.iter().enumerate() {
        let hits: Vec<Hit> = case
            .expect
            .article
            .iter()
            .map(|a| Hit {
                article_id: a.clone(),
                title: a.clone(),
                heading: None,
                text: String::new(),
                score: 0.6,
                escalate: escalates(&knowledge, a),
                handoff: false,
                queue: None,
                lang: None,
            })
            .collect();
        let verdict = classify_with_rules(&case.text, &hits, &policy);
        if std::env::var_os("VENTANA_EVAL_VERBOSE").is_some() {
            println!(
                "{} {} -> {} ({})",
                case.id, case.expect.triage, verdict.class, verdict.reason
            );
        }
        if verdict.class != case.expect.triage {
            println!(
                "MISS {} expected {} got {} ({}) | {}",
                case.id, case.expect.triage, verdict.class, verdict.reason, case.text
            );
        }
        let escalated = verdict.class.needs_person();
        halves[i % 2].push(CaseOutcome {
            expected_class: case.expect.triage,
            expected_article: case.expect.article.clone(),
            predicted_class: verdict.class,
            answered_article: if escalated || verdict.small_talk.is_some() {
                None
            } else {
                hits.first().map(|h| h.article_id.clone())
            },
            escalated,
            facts_matched: None,
        });
    }
    let all: Vec<CaseOutcome> = halves.iter().flatten().cloned().collect();
    for (name, set) in [
        ("all", &all),
        ("even half", &halves[0]),
        ("odd half", &halves[1]),
    ] {
        let m = compute(set);
        println!(
            "{name}: n={} acc={:.3} macro_f1={:.3} urgent_recall={:.3} human_f1={:.3} unsafe={} ({:.3}) deflection={:.3}",
            m.cases,
            m.accuracy,
            m.macro_f1,
            m.per_class.urgent.recall,
            m.per_class.human.f1,
            m.safety.unsafe_auto_answers,
            m.safety.unsafe_auto_answer_rate,
            m.answer.deflection
        );
    }
}
