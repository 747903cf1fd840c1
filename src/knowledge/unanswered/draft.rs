//! A group of unanswered questions as a draft article: an id from its
//! topic words, a title from its most central message, its members as
//! `questions:`.

use std::collections::HashSet;

use super::{ArticleDraft, MAX_ID_WORDS, MAX_TITLE_CHARS, is_topic_word};
use crate::knowledge::editor::{ArticleInput, render};
use crate::knowledge::text::{normalize, words};

pub(super) fn draft_article(
    representative: &str,
    questions: Vec<String>,
    lang: Option<String>,
    taken: &mut HashSet<String>,
) -> ArticleDraft {
    let id = free_id(&slug(representative), taken);
    let title = title_from(representative);
    let markdown = render(&ArticleInput {
        title: title.clone(),
        questions: questions.clone(),
        lang: lang.clone(),
        ..ArticleInput::default()
    })
    .unwrap_or_default();
    ArticleDraft {
        id,
        title,
        questions,
        lang,
        markdown,
    }
}

/// The message as a title: first letter capitalised, cut at a word
/// boundary when long.
pub(super) fn title_from(text: &str) -> String {
    let mut title = String::with_capacity(text.len());
    let mut capitalised = false;
    for c in text.chars() {
        if !capitalised && c.is_alphabetic() {
            title.extend(c.to_uppercase());
            capitalised = true;
        } else {
            title.push(c);
        }
    }
    if title.chars().count() <= MAX_TITLE_CHARS {
        return title;
    }
    let cut: String = title.chars().take(MAX_TITLE_CHARS).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > 0 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', ' ']))
}

/// A file name from the message's topic words: ASCII, hyphenated.
pub(super) fn slug(text: &str) -> String {
    let normalized = normalize(text);
    let parts: Vec<String> = words(&normalized)
        .filter(|w| is_topic_word(w))
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .take(MAX_ID_WORDS)
        .collect();
    if parts.is_empty() {
        "article".to_owned()
    } else {
        parts.join("-")
    }
}

/// `base`, or `base-2`, `base-3`... whichever is not taken; marks it taken.
pub(super) fn free_id(base: &str, taken: &mut HashSet<String>) -> String {
    let mut id = base.to_owned();
    let mut n = 2;
    while taken.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(id.clone());
    id
}
