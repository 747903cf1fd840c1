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

use std::path::PathBuf;

use super::extractive::{DEFAULT_REPLY_CHARS, clean_markdown, trim_to};
use super::{AnswerSource, Prompts, Retriever, reply, translation};
use crate::config::Config;
use crate::corpus::{Business, Case};
use crate::knowledge::{Hit, KnowledgeBase};
use crate::prompts::TemplateId;
use crate::triage::{Lang, TriageClass, detect_language};

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
    let mut total = Tally::default();
    for business in crate::corpus::read_corpus(&corpus).unwrap() {
        let tally = measure(&business).await;
        println!("{}", tally.line(&business.name));
        total.add(&tally);
    }
    println!("{}", total.line("all"));
}

async fn measure(business: &Business) -> Tally {
    let data = tempfile::tempdir().unwrap();
    let env = [
        (
            "VENTANA_KNOWLEDGE_DIR".to_owned(),
            business.knowledge.display().to_string(),
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
    let mut tally = Tally::default();
    for case in &business.cases {
        let other = only
            .as_ref()
            .is_some_and(|prefix| !case.id.starts_with(prefix));
        if other || case.expect.triage != Some(TriageClass::Faq) || case.expect.facts.is_empty() {
            continue;
        }
        let hits = kb.search(&case.text, kb.top_k()).await.unwrap();
        let Some(top) = hits.first() else { continue };
        if Some(&top.article_id) != case.expect.article.as_ref() {
            continue;
        }
        let before = best_passage_reply(&prompts, detect_language(&case.text), top);
        let after = reply_now(kb.as_ref(), &prompts, case, top).await;
        tally.cases += 1;
        tally.chars_before += before.chars().count();
        tally.chars_after += after.chars().count();
        let was = case.expect.facts_in(&before) == Some(true);
        let ok = case.expect.facts_in(&after) == Some(true);
        tally.before += usize::from(was);
        tally.after += usize::from(ok);
        if verbose && !ok {
            let mark = if was { "LOST" } else { "MISS" };
            let facts: Vec<&str> = case
                .expect
                .facts
                .iter()
                .map(|f| f.pattern.as_str())
                .collect();
            println!(
                "{mark} {} {facts:?} | {}\n---\n{after}\n---",
                case.id, case.text
            );
        }
    }
    drop(kb);
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
    let inbound = case.inbound();
    let composer = reply::Composer::new(prompts, lang, &inbound, DEFAULT_REPLY_CHARS);
    let article = translation::answering_article(kb, top, lang);
    composer
        .extractive_answer(top, article.as_deref(), AnswerSource::Extractive)
        .text
}
