//! Labelled messages for training and evaluation: one business's cases
//! file, or a corpus of many businesses (`eval/corpus/<business>/` with a
//! `knowledge/` folder and a `cases.jsonl`).
//!
//! Every case is checked as it is read, and a bad one is refused with the
//! file and line: a label outside `faq`, `urgent` and `human`, an expected
//! article the business's knowledge base does not have, or a fact that is
//! not a valid regular expression. Training or measuring on a corpus that
//! silently lost cases would report figures nobody can trust.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

use crate::answer::Inbound;
use crate::channels::model::Channel;
use crate::vocab::TriageClass;

/// One labelled customer message.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub business: Option<String>,
    pub channel: Channel,
    /// The language the case was written in, as labelled.
    pub lang: Option<String>,
    pub text: String,
    pub expect: Expect,
}

/// What the case expects.
#[derive(Debug, Clone)]
pub struct Expect {
    pub triage: Option<TriageClass>,
    pub article: Option<String>,
    /// Case-insensitive patterns a correct reply contains.
    pub facts: Vec<Fact>,
}

/// A fact a correct reply must contain.
#[derive(Debug, Clone)]
pub struct Fact {
    pub pattern: String,
    regex: Regex,
}

impl Fact {
    pub fn is_in(&self, reply: &str) -> bool {
        self.regex.is_match(reply)
    }
}

impl Case {
    /// The case as a first customer turn (no history).
    pub fn inbound(&self) -> Inbound<'_> {
        Inbound {
            text: &self.text,
            history: &[],
            channel: self.channel,
            expected_answer_time: None,
            expected_answer: None,
        }
    }
}

impl Expect {
    /// Whether `reply` contains every fact (`None` when there are none).
    pub fn facts_in(&self, reply: &str) -> Option<bool> {
        (!self.facts.is_empty()).then(|| self.facts.iter().all(|f| f.is_in(reply)))
    }
}

/// One business of a corpus.
#[derive(Debug, Clone)]
pub struct Business {
    pub name: String,
    pub knowledge: PathBuf,
    pub cases_path: PathBuf,
    pub cases: Vec<Case>,
}

/// A case that cannot be used, with where it is.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {reason}")]
pub struct CaseError {
    pub path: PathBuf,
    pub line: usize,
    pub reason: String,
}

#[derive(Deserialize)]
struct RawCase {
    id: String,
    #[serde(default)]
    business: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    text: String,
    expect: RawExpect,
}

#[derive(Deserialize)]
struct RawExpect {
    #[serde(default)]
    triage: Option<String>,
    #[serde(default)]
    article: Option<String>,
    #[serde(default)]
    facts: Vec<String>,
}

/// The article ids of a knowledge folder (files that fail to load are
/// left out; `ventana kb check` reports them).
pub fn article_ids(knowledge: &Path) -> anyhow::Result<BTreeSet<String>> {
    let report = crate::knowledge::loader::load_dir(knowledge)
        .map_err(|e| anyhow::anyhow!("{}: {e}", knowledge.display()))?;
    Ok(report.articles.iter().map(|a| a.id.clone()).collect())
}

/// Reads and checks a JSON-lines cases file. With `articles`, every
/// expected article must be one of them.
pub fn read_cases(path: &Path, articles: Option<&BTreeSet<String>>) -> anyhow::Result<Vec<Case>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the cases: {e}", path.display()))?;
    let mut cases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |reason: String| CaseError {
            path: path.to_owned(),
            line: n + 1,
            reason,
        };
        cases.push(parse_case(line, articles).map_err(error)?);
    }
    Ok(cases)
}

fn parse_case(line: &str, articles: Option<&BTreeSet<String>>) -> Result<Case, String> {
    let raw: RawCase = serde_json::from_str(line).map_err(|e| format!("not a case: {e}"))?;
    let triage = raw
        .expect
        .triage
        .as_deref()
        .map(|label| {
            label.parse::<TriageClass>().map_err(|_| {
                format!(
                    "case {}: label {label:?} is not faq, urgent or human",
                    raw.id
                )
            })
        })
        .transpose()?;
    if let (Some(known), Some(article)) = (articles, raw.expect.article.as_deref())
        && !known.contains(article)
    {
        return Err(format!(
            "case {}: article {article:?} is not in the knowledge base",
            raw.id
        ));
    }
    let facts = raw
        .expect
        .facts
        .iter()
        .map(|pattern| {
            regex::RegexBuilder::new(pattern)
                .case_insensitive(true)
                .build()
                .map(|regex| Fact {
                    pattern: pattern.clone(),
                    regex,
                })
                .map_err(|e| {
                    format!(
                        "case {}: fact {pattern:?} is not a valid regular expression: {e}",
                        raw.id
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let channel = match raw.channel.as_deref() {
        None => Channel::Whatsapp,
        Some(c) => c
            .parse()
            .map_err(|_| format!("case {}: unknown channel {c:?}", raw.id))?,
    };
    Ok(Case {
        id: raw.id,
        business: raw.business,
        channel,
        lang: raw.lang,
        text: raw.text,
        expect: Expect {
            triage,
            article: raw.expect.article,
            facts,
        },
    })
}

/// Reads every business of a corpus folder, sorted by name. A business is
/// a folder with `knowledge/` and `cases.jsonl`.
pub fn read_corpus(dir: &Path) -> anyhow::Result<Vec<Business>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("--corpus {}: {e}", dir.display()))?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("knowledge").is_dir() && p.join("cases.jsonl").is_file())
        .collect();
    folders.sort();
    anyhow::ensure!(
        !folders.is_empty(),
        "--corpus {}: no business folder (with knowledge/ and cases.jsonl) in it",
        dir.display()
    );
    folders
        .into_iter()
        .map(|folder| {
            let knowledge = folder.join("knowledge");
            let cases_path = folder.join("cases.jsonl");
            let known = article_ids(&knowledge)?;
            let cases = read_cases(&cases_path, Some(&known))?;
            let name = folder
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            Ok(Business {
                name,
                knowledge,
                cases_path,
                cases,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn known() -> BTreeSet<String> {
        ["horarios".to_owned()].into_iter().collect()
    }

    const GOOD: &str = r#"{"id":"b-1","text":"a que hora abren","expect":{"triage":"faq","article":"horarios","facts":["9:00"]}}"#;

    #[test]
    fn a_good_file_reads_with_its_facts() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.jsonl", &format!("{GOOD}\n\n"));
        let cases = read_cases(&path, Some(&known())).unwrap();
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].expect.triage, Some(TriageClass::Faq));
        assert_eq!(cases[0].expect.facts_in("Abrimos a las 9:00."), Some(true));
        assert_eq!(cases[0].expect.facts_in("Abrimos temprano."), Some(false));
    }

    #[test]
    fn bad_labels_articles_and_facts_are_refused_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        for (bad, needle) in [
            (
                GOOD.replace("\"faq\"", "\"question\""),
                "label \"question\"",
            ),
            (
                GOOD.replace("\"horarios\"", "\"precios\""),
                "article \"precios\"",
            ),
            (
                GOOD.replace("9:00", "(9:00"),
                "not a valid regular expression",
            ),
        ] {
            let path = write(dir.path(), "bad.jsonl", &format!("{GOOD}\n{bad}\n"));
            let error = read_cases(&path, Some(&known())).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("{}:2: ", path.display())),
                "{error}"
            );
            assert!(error.contains(needle), "{error}");
        }
    }
}
