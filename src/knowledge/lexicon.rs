//! A small cross-language glossary (Spanish, Portuguese, English) of
//! customer-service words, used to expand messages.
//!
//! Without embeddings, "refund" and "reembolso" share nothing. The glossary
//! in `lexicon.txt` lists general retail vocabulary by concept; a message's
//! word found there also searches for the other words of its concept, and
//! counts as covered when one of them is in the article. It is deliberately
//! generic (no business, product or article names) and editable.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::text::normalize;

static BUILTIN: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::parse(include_str!("lexicon.txt")));

/// Concepts and the words that name them.
#[derive(Debug, Default)]
pub struct Lexicon {
    groups: Vec<Vec<String>>,
    by_word: HashMap<String, Vec<usize>>,
}

impl Lexicon {
    /// The glossary shipped with ventana.
    pub fn builtin() -> &'static Lexicon {
        &BUILTIN
    }

    /// Parses `es, words | pt, words | en, words` lines; `#` starts a comment.
    pub fn parse(text: &str) -> Lexicon {
        let mut lexicon = Lexicon::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut group: Vec<String> = line
                .split(['|', ','])
                .map(normalize)
                .filter(|w| !w.is_empty() && !w.contains(' '))
                .collect();
            group.sort();
            group.dedup();
            if group.len() < 2 {
                continue;
            }
            let id = lexicon.groups.len();
            for word in &group {
                lexicon.by_word.entry(word.clone()).or_default().push(id);
            }
            lexicon.groups.push(group);
        }
        lexicon
    }

    /// The other words of every concept `word` (normalized) belongs to; a
    /// plural `-s`/`-es` is tried when the word itself is not listed.
    pub fn translations(&self, word: &str) -> Vec<&str> {
        let found = [Some(word), word.strip_suffix("es"), word.strip_suffix('s')]
            .into_iter()
            .flatten()
            .find_map(|key| self.by_word.get(key).map(|groups| (key, groups)));
        let Some((key, groups)) = found else {
            return Vec::new();
        };
        let mut out: Vec<&str> = groups
            .iter()
            .flat_map(|&g| self.groups[g].iter().map(String::as_str))
            .filter(|w| *w != key && *w != word)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_translate_both_ways_and_plurals_fold() {
        let lexicon = Lexicon::parse("reembolso | estorno | refund\n# comment\nsolo\n");
        assert_eq!(lexicon.translations("refunds"), ["estorno", "reembolso"]);
        assert_eq!(lexicon.translations("estorno"), ["reembolso", "refund"]);
        assert!(lexicon.translations("solo").is_empty());
    }

    #[test]
    fn the_builtin_glossary_parses() {
        let lexicon = Lexicon::builtin();
        assert!(lexicon.groups.len() > 50);
        assert!(lexicon.translations("refund").contains(&"reembolso"));
    }
}
