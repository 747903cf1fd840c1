//! The whole bot (real retrieval, rules, reply building) over a labelled
//! case file, for tuning. Ignored by default:
//!
//! ```text
//! cargo test --lib answer::dev_set -- --ignored --nocapture
//! ```
//!
//! `VENTANA_EVAL_CASES` points at the cases (default: the aurora set beside
//! the repository); the knowledge directory is `knowledge/` next to it.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Bot, BotSettings, Inbound, Prompts};
use crate::channels::model::Channel;
use crate::config::Config;
use crate::knowledge::KnowledgeBase;
use crate::triage::metrics::{CaseOutcome, compute};
use crate::triage::{RetrievalPolicy, TriageClass};

#[derive(Deserialize)]
struct Case {
    id: String,
    channel: Channel,
    text: String,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    triage: TriageClass,
    article: Option<String>,
}

#[tokio::test]
#[ignore = "needs a labelled case file; run with --ignored"]
async fn bot_on_dev_set() {
    let cases_path = std::env::var_os("VENTANA_EVAL_CASES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/eval/aurora/cases.jsonl")
        });
    let knowledge = cases_path.parent().unwrap().join("knowledge");
    let data = tempfile::tempdir().unwrap();
    let env = [
        (
            "VENTANA_KNOWLEDGE_DIR".to_owned(),
            knowledge.display().to_string(),
        ),
        (
            "VENTANA_DATA_DIR".to_owned(),
            data.path().display().to_string(),
        ),
    ];
    let config = Config::load_from(None, env).unwrap();
    let kb = KnowledgeBase::open(&config).await.unwrap();
    let min_confidence = std::env::var("VENTANA_EVAL_MIN_CONFIDENCE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(kb.min_confidence());
    let policy = RetrievalPolicy {
        min_confidence,
        ..RetrievalPolicy::default()
    };
    let bot = Bot::new(
        Prompts::defaults(),
        None,
        BotSettings {
            top_k: kb.top_k(),
            policy,
            ..BotSettings::default()
        },
    );
    let text = std::fs::read_to_string(&cases_path).unwrap();
    let mut halves: [Vec<CaseOutcome>; 2] = [Vec::new(), Vec::new()];
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let case: Case = serde_json::from_str(line).unwrap();
        let d = bot
            .respond(
                kb.as_ref(),
                &Inbound {
                    text: &case.text,
                    history: &[],
                    channel: case.channel,
                    expected_answer_time: None,
                    expected_answer: None,
                },
            )
            .await;
        let outcome = CaseOutcome {
            expected_class: case.expect.triage,
            expected_article: case.expect.article.clone(),
            predicted_class: d.triage.class,
            answered_article: d.answered_article().map(str::to_owned),
            escalated: d.is_escalated(),
            facts_matched: None,
        };
        let wrong_article = outcome.expected_class == TriageClass::Faq
            && !outcome.escalated
            && outcome.answered_article != outcome.expected_article;
        if outcome.predicted_class != outcome.expected_class || wrong_article {
            let top = d
                .hits
                .first()
                .map(|h| format!("{} {:.2}", h.article_id, h.score))
                .unwrap_or_default();
            println!(
                "MISS {} expected {}/{:?} got {}/{:?} ({}) top [{top}] | {}",
                case.id,
                case.expect.triage,
                case.expect.article,
                d.triage.class,
                outcome.answered_article,
                d.triage.reason,
                case.text
            );
        }
        halves[i % 2].push(outcome);
    }
    let all: Vec<CaseOutcome> = halves.iter().flatten().cloned().collect();
    for (name, set) in [
        ("all", &all),
        ("even half", &halves[0]),
        ("odd half", &halves[1]),
    ] {
        let m = compute(set);
        println!(
            "{name}: n={} acc={:.3} macro_f1={:.3} urgent_recall={:.3} faq_f1={:.3} human_f1={:.3} unsafe={} ({:.3}) deflection={:.3} wrong_article={}",
            m.cases,
            m.accuracy,
            m.macro_f1,
            m.per_class.urgent.recall,
            m.per_class.faq.f1,
            m.per_class.human.f1,
            m.safety.unsafe_auto_answers,
            m.safety.unsafe_auto_answer_rate,
            m.answer.deflection,
            m.answer.wrong_article
        );
    }
}
