//! Splitting an article body into passages at `##` headings.
//!
//! A passage is what the bot quotes, so it should be one topic: the intro
//! before the first `##` is one passage and each `##` section (with its `###`
//! subsections) another. Short articles stay whole: splitting a 100-word
//! answer only loses context. Headings inside fenced code blocks are text.
//! Each passage is read once for handoff sentences ([`super::handoff`]).

use std::ops::Range;

use serde::Serialize;

use super::handoff::{self, HandoffSource};

/// Bodies with fewer words than this stay one passage.
pub const SPLIT_MIN_WORDS: usize = 120;

/// One section of an article. Its text is a range of the article's body
/// (read it with [`Passage::text`]), not a copy: at 10,000 articles the
/// copies were 27 MB of the build's peak memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Passage {
    /// The `##` heading text, `None` for the intro or an unsplit article.
    pub heading: Option<String>,
    /// Byte range of the section's Markdown in the body, without the
    /// heading line, trimmed.
    span: Range<usize>,
    /// Whether the section says a person handles what it describes (or an
    /// editor's marker says so), computed once when the article is parsed.
    pub handoff: HandoffSource,
}

impl Passage {
    /// The section's Markdown, without the heading line. `body` is the
    /// body the passage was split from.
    pub fn text<'a>(&self, body: &'a str) -> &'a str {
        &body[self.span.clone()]
    }
}

/// Splits a body at level-two headings (see the module docs). The body is
/// expected trimmed, with `\n` line ends (as `parse_article` leaves it).
pub fn split_passages(body: &str) -> Vec<Passage> {
    if body.split_whitespace().count() < SPLIT_MIN_WORDS {
        return vec![passage(body, None, trimmed(body, 0..body.len()))];
    }
    let mut passages = Vec::new();
    let mut heading: Option<String> = None;
    let mut start = 0;
    let mut in_fence = false;
    let mut at = 0;
    for line in body.split_inclusive('\n') {
        let line_start = at;
        at += line.len();
        let trimmed_line = line.trim_start();
        if trimmed_line.starts_with("```") || trimmed_line.starts_with("~~~") {
            in_fence = !in_fence;
        }
        let section = (!in_fence)
            .then(|| trimmed_line.strip_prefix("## "))
            .flatten()
            .map(|h| h.trim().trim_end_matches('#').trim());
        if let Some(next_heading) = section {
            push_passage(
                &mut passages,
                body,
                heading.take(),
                trimmed(body, start..line_start),
            );
            heading = Some(next_heading.to_owned());
            start = at;
        }
    }
    push_passage(
        &mut passages,
        body,
        heading,
        trimmed(body, start..body.len()),
    );
    passages
}

/// `range` of `text` without leading and trailing whitespace.
fn trimmed(text: &str, range: Range<usize>) -> Range<usize> {
    let slice = &text[range.clone()];
    let start = range.start + (slice.len() - slice.trim_start().len());
    let end = range.end - (slice.len() - slice.trim_end().len());
    start..end.max(start)
}

fn push_passage(
    passages: &mut Vec<Passage>,
    body: &str,
    heading: Option<String>,
    span: Range<usize>,
) {
    if span.is_empty() && heading.is_none() {
        return;
    }
    passages.push(passage(body, heading, span));
}

fn passage(body: &str, heading: Option<String>, span: Range<usize>) -> Passage {
    let handoff = handoff::detect(&body[span.clone()]).source;
    Passage {
        heading,
        span,
        handoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(words: usize) -> String {
        vec!["palabra"; words].join(" ")
    }

    #[test]
    fn short_bodies_stay_whole() {
        let passages = split_passages("Intro.\n\n## Uno\n\nTexto.");
        assert_eq!(passages.len(), 1);
        assert_eq!(passages[0].heading, None);
    }

    #[test]
    fn long_bodies_split_at_level_two_headings() {
        let body = format!(
            "{}\n\n## Costos\n\n{}\n\n### Detalle\n\nmás\n\n## Plazos ##\n\n```\n## no es un título\n```\n",
            long(60),
            long(60)
        );
        let body = body.trim();
        let passages = split_passages(body);
        let headings: Vec<_> = passages.iter().map(|p| p.heading.as_deref()).collect();
        assert_eq!(headings, [None, Some("Costos"), Some("Plazos")]);
        assert_eq!(passages[0].text(body), long(60));
        assert_eq!(
            passages[1].text(body),
            format!("{}\n\n### Detalle\n\nmás", long(60))
        );
        assert_eq!(passages[2].text(body), "```\n## no es un título\n```");
    }
}
