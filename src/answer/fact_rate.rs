//! "Fact rate given the right article": for every business of
//! `eval/corpus`, the FAQ cases whose expected article is retrieved first,
//! and the share of them whose extractive reply contains every expected
//! fact (case-insensitive regular expressions). Ignored by default:
//!
//! ```text
//! cargo test --lib answer::fact_rate -- --ignored --nocapture
//! ```
//!
//! `before` is the reply as it was built up to the unit picker: the best
//! passage, cleaned and cut to the chat-sized length. `after` is the reply
//! the bot sends now. `VENTANA_FACTS_VERBOSE=1` prints every miss,
//! `VENTANA_FACTS_ONLY=<prefix>` keeps the cases whose id starts with it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::extractive::{DEFAULT_REPLY_CHARS, clean_markdown, trim_to};
use super::prompts::TemplateId;
use super::{AnswerSource, Inbound, Prompts, Retriever, reply, translation};
use crate::channels::model::Channel;
use crate::config::Config;
use crate::knowledge::{Hit, KnowledgeBase};
use crate::triage::{Lang, detect_language};

#[derive(Deserialize)]
struct Case {
    id: String,
    channel: Channel,
    text: String,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    triage: String,
    article: Option<String>,
    #[serde(default)]
    facts: Vec<String>,
}

/// Cases counted and replies with every fact, before and after.
#[derive(Default)]
struct Tally {
    cases: usize,
    before: usize,
    after: usize,
    /// Characters of all the replies, before and after.
    chars_before: usize,
    chars_after: usize,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.cases += other.cases;
        self.before += other.before;
        self.after += other.after;
        self.chars_before += other.chars_before;
        self.chars_after += other.chars_after;
    }

    fn line(&self, name: &str) -> String {
        let share = |n: usize| n as f64 / self.cases.max(1) as f64;
        format!(
            "{name:<14} cases {:>3}   before {:.3} ({} chars)   after {:.3} ({} chars)",
            self.cases,
            share(self.before),
            self.chars_before / self.cases.max(1),
            share(self.after),
            self.chars_after / self.cases.max(1)
        )
    }
}

#[tokio::test]
#[ignore = "indexes every corpus business; run with --ignored"]
async fn fact_rate_given_the_right_article() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("eval/corpus");
    let mut businesses: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("cases.jsonl").exists())
        .collect();
    businesses.sort();
    let mut total = Tally::default();
    for business in &businesses {
        let name = business.file_name().unwrap().to_string_lossy().into_owned();
        let tally = measure(business).await;
        println!("{}", tally.line(&name));
        total.add(&tally);
    }
    println!("{}", total.line("all"));
}

async fn measure(business: &Path) -> Tally {
    let data = tempfile::tempdir().unwrap();
    let env = [
        (
            "VENTANA_KNOWLEDGE_DIR".to_owned(),
            business.join("knowledge").display().to_string(),
        ),
        (
            "VENTANA_DATA_DIR".to_owned(),
            data.path().display().to_string(),
        ),
    ];
    let config = Config::load_from(None, env).unwrap();
    let kb = KnowledgeBase::open(&config).await.unwrap();
    let prompts = Prompts::defaults();
    let verbose = std::env::var_os("VENTANA_FACTS_VERBOSE").is_some();
    let only = std::env::var("VENTANA_FACTS_ONLY").ok();
    let text = std::fs::read_to_string(business.join("cases.jsonl")).unwrap();
    let mut tally = Tally::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Case = serde_json::from_str(line).unwrap();
        let other = only
            .as_ref()
            .is_some_and(|prefix| !case.id.starts_with(prefix));
        if other || case.expect.triage != "faq" || case.expect.facts.is_empty() {
            continue;
        }
        let hits = kb.search(&case.text, kb.top_k()).await.unwrap();
        let Some(top) = hits.first() else { continue };
        if Some(&top.article_id) != case.expect.article.as_ref() {
            continue;
        }
        let before = best_passage_reply(&prompts, detect_language(&case.text), top);
        let after = reply_now(kb.as_ref(), &prompts, &case, top).await;
        tally.cases += 1;
        tally.chars_before += before.chars().count();
        tally.chars_after += after.chars().count();
        let was = has_facts(&before, &case.expect.facts);
        let ok = has_facts(&after, &case.expect.facts);
        tally.before += usize::from(was);
        tally.after += usize::from(ok);
        if verbose && !ok {
            let mark = if was { "LOST" } else { "MISS" };
            println!(
                "{mark} {} {:?} | {}\n---\n{after}\n---",
                case.id, case.expect.facts, case.text
            );
        }
    }
    tally
}

/// The reply as it was: the template with the best passage, cleaned and
/// cut.
fn best_passage_reply(prompts: &Prompts, lang: Lang, hit: &Hit) -> String {
    let title = match &hit.heading {
        Some(h) => format!("{} — {h}", hit.title),
        None => hit.title.clone(),
    };
    let passage = trim_to(&clean_markdown(&hit.text), DEFAULT_REPLY_CHARS);
    prompts
        .get(TemplateId::AnswerExtractive, lang)
        .render(&[("title", &title), ("passage", &passage)])
}

/// The extractive reply exactly as the bot builds it.
async fn reply_now(kb: &dyn Retriever, prompts: &Prompts, case: &Case, top: &Hit) -> String {
    let lang = detect_language(&case.text);
    let inbound = Inbound {
        text: &case.text,
        history: &[],
        channel: case.channel,
        expected_answer_time: None,
        expected_answer: None,
    };
    let composer = reply::Composer::new(prompts, lang, &inbound, DEFAULT_REPLY_CHARS);
    let article = translation::answering_article(kb, top, lang);
    composer
        .extractive_answer(top, article.as_deref(), AnswerSource::Extractive)
        .text
}

fn has_facts(text: &str, facts: &[String]) -> bool {
    facts.iter().all(|fact| {
        regex::RegexBuilder::new(fact)
            .case_insensitive(true)
            .build()
            .unwrap()
            .is_match(text)
    })
}
