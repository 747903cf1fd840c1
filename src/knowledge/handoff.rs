//! Handoff passages: sections of an article that say, in their own words,
//! that a person handles an operation ("este trámite lo gestiona un
//! asesor", "um atendente vai cuidar", "our team handles this"). A customer
//! whose best passage is one of them goes to a person, even though the
//! article is about the topic: the business's own policy says so.
//!
//! [`detect`] reads one passage: it splits it into sentences and list items
//! and flags those that match the vocabulary of [`patterns`]. Sentences that
//! only say how to reach a person ("los asesores atienden de 9 a 18",
//! "escribe 'asesor'") are contact details, not a policy, and do not count.
//! Editors settle what detection gets wrong with a marker on its own line
//! inside the section: `<!-- handoff -->` makes it a handoff passage,
//! `<!-- handoff: no -->` says it is not one. Markers are HTML comments, so
//! they never reach a customer (replies drop comment lines).
//!
//! Detection runs once per passage when an article is parsed (the result is
//! kept on [`Passage::handoff`](super::chunk::Passage::handoff)); the
//! sentences are found again only for editors ([`handoff_passages`]).

mod patterns;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::article::Article;
use patterns::PATTERNS;

/// Why a passage is, or is not, a handoff passage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandoffSource {
    /// Nothing says a person handles it.
    #[default]
    None,
    /// Its text says so.
    Detected,
    /// An editor marked it `<!-- handoff -->`.
    Marked,
    /// An editor marked it `<!-- handoff: no -->`, whatever its text says.
    Overridden,
}

impl HandoffSource {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffSource::None => "none",
            HandoffSource::Detected => "detected",
            HandoffSource::Marked => "marked",
            HandoffSource::Overridden => "overridden",
        }
    }

    /// A message answered by this passage needs a person.
    pub fn is_handoff(self) -> bool {
        matches!(self, HandoffSource::Detected | HandoffSource::Marked)
    }
}

/// What [`detect`] found in one passage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handoff {
    pub is_handoff: bool,
    pub source: HandoffSource,
    /// The sentences that say a person handles it, as written (Markdown
    /// emphasis and links removed). Also filled when a marker decided.
    pub sentences: Vec<String>,
}

/// A handoff passage of an article, for editors (`ventana kb check`, the
/// knowledge API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoffPassage {
    /// Position of the passage in the article (0 for the intro).
    pub passage: usize,
    /// Its `##` heading, `None` for the intro or an unsplit article.
    pub heading: Option<String>,
    pub source: HandoffSource,
    pub sentences: Vec<String>,
}

/// An editor's marker in a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Handoff,
    NotHandoff,
}

/// `<!-- handoff -->`, `<!-- handoff: yes -->` or `<!-- handoff: no -->`
/// (any case and spacing) alone on a line.
static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^<!--\s*handoff\s*(?::\s*(\w+)\s*)?-->$").expect("marker pattern")
});

/// `[label](url)`, whose label is what a reader sees.
static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([^\]]*)\]\([^)]*\)").expect("link pattern"));

/// A numbered list item's number.
static NUMBERED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{1,3}[.)]\s+").expect("numbered item pattern"));

/// Reads one passage (the Markdown of a section): its marker, if any, and
/// the sentences that say a person handles an operation.
pub fn detect(markdown: &str) -> Handoff {
    let sentences = flagged_sentences(&units(markdown));
    let source = match (find_marker(markdown), sentences.is_empty()) {
        (Some(Marker::Handoff), _) => HandoffSource::Marked,
        (Some(Marker::NotHandoff), _) => HandoffSource::Overridden,
        (None, false) => HandoffSource::Detected,
        (None, true) => HandoffSource::None,
    };
    Handoff {
        is_handoff: source.is_handoff(),
        source,
        sentences,
    }
}

/// The handoff passages of an article, with their sentences. Reads the
/// source computed when the article was parsed, so a passage is re-read
/// only if it is one.
pub fn handoff_passages(article: &Article) -> Vec<HandoffPassage> {
    article
        .passages
        .iter()
        .enumerate()
        .filter(|(_, p)| p.handoff.is_handoff())
        .map(|(i, p)| {
            let found = detect(article.passage_text(i));
            HandoffPassage {
                passage: i,
                heading: p.heading.clone(),
                source: found.source,
                sentences: found.sentences,
            }
        })
        .collect()
}

/// Whether a line is an HTML comment on its own (a marker or any other
/// editor's note): never a sentence.
pub fn is_comment_line(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("<!--") && line.ends_with("-->")
}

/// The last marker in the section wins.
fn find_marker(markdown: &str) -> Option<Marker> {
    markdown
        .lines()
        .rev()
        .filter_map(|line| MARKER.captures(line.trim()))
        .find_map(|caps| marker(caps.get(1).map(|v| v.as_str())))
}

/// `handoff` alone or with a yes means a handoff passage, with a no it is
/// not one; any other value is no marker.
fn marker(value: Option<&str>) -> Option<Marker> {
    let Some(value) = value else {
        return Some(Marker::Handoff);
    };
    match value.to_lowercase().as_str() {
        "yes" | "si" | "sí" | "sim" | "true" => Some(Marker::Handoff),
        "no" | "nao" | "não" | "false" => Some(Marker::NotHandoff),
        _ => None,
    }
}

/// The passage as sentences and list items, in order, in plain text.
/// Headings and table rows are units of their own; paragraph lines are
/// joined and cut after `.`, `?` and `!`.
fn units(markdown: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    let mut open = false;
    let mut in_fence = false;
    for raw in markdown.lines() {
        let line = raw.trim();
        if line.starts_with("```") || line.starts_with("~~~") {
            in_fence = !in_fence;
            open = false;
            continue;
        }
        if in_fence || is_comment_line(line) || is_table_separator(line) {
            continue;
        }
        if line.is_empty() {
            open = false;
            continue;
        }
        let (starts_block, text) = block_start(line);
        match blocks.last_mut() {
            Some(last) if open && !starts_block => {
                last.push(' ');
                last.push_str(text);
            }
            _ => blocks.push(text.to_owned()),
        }
        // A heading or a table row never continues.
        open = !(line.starts_with('#') || line.starts_with('|'));
    }
    blocks
        .iter()
        .flat_map(|block| split_sentences(&plain(block)))
        .collect()
}

/// Whether a line starts a new block (list item, heading, table row), and
/// its text without the marker.
fn block_start(line: &str) -> (bool, &str) {
    if let Some(rest) = ["- ", "* ", "+ "]
        .iter()
        .find_map(|bullet| line.strip_prefix(bullet))
    {
        return (true, rest);
    }
    if let Some(number) = NUMBERED.find(line) {
        return (true, &line[number.end()..]);
    }
    if line.starts_with('#') {
        return (true, line.trim_start_matches('#').trim_start());
    }
    if line.starts_with('|') {
        return (true, line.trim_matches('|'));
    }
    (false, line.trim_start_matches('>').trim_start())
}

fn is_table_separator(line: &str) -> bool {
    line.starts_with('|') && line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// Inline Markdown to what a reader sees: links become their label,
/// emphasis and code marks go, table cells are separated by " — ",
/// whitespace collapses.
fn plain(text: &str) -> String {
    let text = LINK.replace_all(text, "$1");
    let text = text
        .replace("**", "")
        .replace("__", "")
        .replace('`', "")
        .replace(" | ", " — ");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts after `.`, `?` or `!` followed by a space.
fn split_sentences(text: &str) -> Vec<String> {
    let mut sentences = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        if matches!(c, '.' | '?' | '!') && text[end..].starts_with(' ') {
            sentences.push(text[start..end].trim().to_owned());
            start = end;
        }
    }
    sentences.push(text[start..].trim().to_owned());
    sentences.retain(|s| !s.is_empty());
    sentences
}

/// The units that say a person handles an operation, as written.
fn flagged_sentences(units: &[String]) -> Vec<String> {
    let folded: Vec<String> = units.iter().map(|u| fold(u)).collect();
    let mut flagged = Vec::new();
    for (i, unit) in folded.iter().enumerate() {
        if says_a_person_handles_it(unit) {
            flagged.push(units[i].clone());
        } else if says_not_self_service(unit) {
            match folded.get(i + 1) {
                _ if names_a_person(unit) => flagged.push(units[i].clone()),
                // The person is in the next sentence: show both.
                Some(next) if names_a_person(next) && !says_a_person_handles_it(next) => {
                    flagged.push(format!("{} {}", units[i], units[i + 1]));
                }
                Some(next) if names_a_person(next) => flagged.push(units[i].clone()),
                _ => {}
            }
        }
    }
    flagged
}

/// A policy sentence, or a referral that is not a mere contact detail.
fn says_a_person_handles_it(folded: &str) -> bool {
    let p = &*PATTERNS;
    if !p.person_word.is_match(folded) || folded.ends_with('?') {
        return false;
    }
    p.policy.iter().any(|r| r.is_match(folded))
        || (p.referral.iter().any(|r| r.is_match(folded)) && !p.contact.is_match(folded))
}

fn says_not_self_service(folded: &str) -> bool {
    PATTERNS.not_self_service.is_match(folded)
}

fn names_a_person(folded: &str) -> bool {
    let p = &*PATTERNS;
    p.person_word.is_match(folded) && p.person.is_match(folded) && !p.contact.is_match(folded)
}

/// Drops accents (NFD without combining marks), keeping case and
/// punctuation: the patterns are written without accents.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.extend(c.nfd().filter(|c| !is_combining_mark(*c)));
        }
    }
    out
}
