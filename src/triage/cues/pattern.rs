//! A tiny pattern language over normalized tokens, so cue families read as
//! vocabulary rather than regular expressions.
//!
//! A pattern is a space-separated sequence of elements:
//!
//! - `word` matches that token exactly; `stem*` matches tokens starting with
//!   `stem`; `a|b*|c` matches any alternative; `#` matches a number.
//! - `..` allows up to 4 other tokens in between, `...` up to 10.
//!
//! Tokens come from [`crate::triage::normalize::tokens`], so patterns are
//! written lowercase, without accents, with abbreviations expanded ("que",
//! not "q").

/// One element of a compiled pattern.
#[derive(Debug, Clone)]
enum Element {
    /// Alternatives: (text, is_prefix).
    Word(Vec<(String, bool)>),
    Gap(usize),
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    elements: Vec<Element>,
}

const SHORT_GAP: usize = 4;
const LONG_GAP: usize = 10;

impl Pattern {
    /// Compiles a pattern; panics on an empty one (patterns are constants).
    pub fn new(source: &str) -> Self {
        let elements: Vec<Element> = source
            .split_whitespace()
            .map(|part| match part {
                ".." => Element::Gap(SHORT_GAP),
                "..." => Element::Gap(LONG_GAP),
                alts => Element::Word(
                    alts.split('|')
                        .map(|a| match a.strip_suffix('*') {
                            Some(stem) => (stem.to_owned(), true),
                            None => (a.to_owned(), false),
                        })
                        .collect(),
                ),
            })
            .collect();
        assert!(
            matches!(elements.first(), Some(Element::Word(_))),
            "pattern must start with a word: {source:?}"
        );
        Self { elements }
    }

    /// Whether the pattern occurs anywhere in `tokens`.
    pub fn is_match(&self, tokens: &[String]) -> bool {
        (0..tokens.len()).any(|start| self.match_from(tokens, start, 0, 0))
    }

    /// Matches element `e` at token `t`, allowing `slack` skipped tokens
    /// before it (from a preceding gap).
    fn match_from(&self, tokens: &[String], t: usize, e: usize, slack: usize) -> bool {
        let Some(element) = self.elements.get(e) else {
            return true;
        };
        match element {
            Element::Gap(n) => self.match_from(tokens, t, e + 1, *n),
            Element::Word(alts) => (t..=(t + slack).min(tokens.len().saturating_sub(1)))
                .take_while(|&i| i < tokens.len())
                .any(|i| {
                    word_matches(alts, &tokens[i]) && self.match_from(tokens, i + 1, e + 1, 0)
                }),
        }
    }
}

fn word_matches(alts: &[(String, bool)], token: &str) -> bool {
    alts.iter().any(|(text, prefix)| {
        if text == "#" {
            token.chars().all(|c| c.is_ascii_digit())
        } else if *prefix {
            token.starts_with(text.as_str())
        } else {
            token == text
        }
    })
}

/// Whether any of `patterns` matches.
pub fn any_match(patterns: &[Pattern], tokens: &[String]) -> bool {
    patterns.iter().any(|p| p.is_match(tokens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::normalize::tokens;

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern).is_match(&tokens(text))
    }

    #[test]
    fn exact_prefix_alternatives_and_numbers() {
        assert!(m("cobr* dos|# veces", "me cobraron 2 veces"));
        assert!(m("cobr* dos|# veces", "cobraron dos veces"));
        assert!(!m("cobr* dos|# veces", "me cobraron el envio"));
    }

    #[test]
    fn gaps_are_bounded() {
        assert!(m("hablar .. persona", "quiero hablar con una persona"));
        assert!(!m(
            "hablar .. persona",
            "hablar de lo que sea con cualquier otra buena persona"
        ));
        assert!(m(
            "hablar ... persona",
            "hablar de lo que sea con cualquier otra buena persona"
        ));
    }

    #[test]
    fn sequence_must_be_in_order() {
        assert!(!m("persona .. hablar", "quiero hablar con una persona"));
    }
}
