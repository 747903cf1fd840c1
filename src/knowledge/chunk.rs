//! Splitting an article body into passages at `##` headings.
//!
//! A passage is what the bot quotes, so it should be one topic: the intro
//! before the first `##` is one passage and each `##` section (with its `###`
//! subsections) another. Short articles stay whole: splitting a 100-word
//! answer only loses context. Headings inside fenced code blocks are text.

use serde::Serialize;

/// Bodies with fewer words than this stay one passage.
pub const SPLIT_MIN_WORDS: usize = 120;

/// One section of an article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Passage {
    /// The `##` heading text, `None` for the intro or an unsplit article.
    pub heading: Option<String>,
    /// The section's Markdown, without the heading line.
    pub text: String,
}

/// Splits a body at level-two headings (see the module docs).
pub fn split_passages(body: &str) -> Vec<Passage> {
    let body = body.trim();
    if body.split_whitespace().count() < SPLIT_MIN_WORDS {
        return vec![Passage {
            heading: None,
            text: body.to_owned(),
        }];
    }
    let mut passages = Vec::new();
    let mut heading: Option<String> = None;
    let mut text = String::new();
    let mut in_fence = false;
    for line in body.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        }
        let section = (!in_fence)
            .then(|| trimmed.strip_prefix("## "))
            .flatten()
            .map(|h| h.trim().trim_end_matches('#').trim());
        if let Some(next_heading) = section {
            push_passage(&mut passages, heading.take(), &text);
            heading = Some(next_heading.to_owned());
            text.clear();
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    push_passage(&mut passages, heading, &text);
    passages
}

fn push_passage(passages: &mut Vec<Passage>, heading: Option<String>, text: &str) {
    let text = text.trim();
    if text.is_empty() && heading.is_none() {
        return;
    }
    passages.push(Passage {
        heading,
        text: text.to_owned(),
    });
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
        let passages = split_passages(&body);
        let headings: Vec<_> = passages.iter().map(|p| p.heading.as_deref()).collect();
        assert_eq!(headings, [None, Some("Costos"), Some("Plazos")]);
        assert!(passages[1].text.contains("### Detalle"));
        assert!(passages[2].text.contains("## no es un título"));
    }
}
