//! Conversation context: the last few turns, used to understand short
//! follow-ups ("y cuanto cuesta?" after a shipping question) and rendered
//! for LLM prompts.
//!
//! The bot is stateless across conversations: only the history the caller
//! passes in is ever read, so one conversation's data cannot reach another.

use serde::{Deserialize, Serialize};

use crate::triage::normalize::tokens;

/// Who wrote a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Customer,
    Bot,
    Agent,
}

/// One previous turn of the conversation, oldest first in a history slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub speaker: Speaker,
    pub text: String,
}

impl Turn {
    pub fn customer(text: impl Into<String>) -> Self {
        Self {
            speaker: Speaker::Customer,
            text: text.into(),
        }
    }
    pub fn bot(text: impl Into<String>) -> Self {
        Self {
            speaker: Speaker::Bot,
            text: text.into(),
        }
    }
}

/// How many previous turns prompts and follow-up detection look at.
pub const CONTEXT_TURNS: usize = 6;

/// A follow-up this short (in words) may lean on the previous question.
const FOLLOW_UP_MAX_WORDS: usize = 6;

/// Words that open a follow-up ("and...", "also...", "what about...").
const CONTINUATIONS: &[&str] = &[
    "y", "e", "and", "tambien", "also", "o", "ou", "or", "pero", "mas", "but", "entonces", "then",
    "so", "what", "about", "igual", "ademas", "plus", "isso", "eso", "esto", "that", "it",
];

/// Whether the retrieval query combined the previous customer turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryScope {
    TurnOnly,
    WithPreviousTurn,
}

/// The text to retrieve with: the turn itself, or, for a short follow-up
/// without its own topic, the previous customer turn followed by it.
pub fn retrieval_query(text: &str, history: &[Turn]) -> (String, QueryScope) {
    let words = tokens(text);
    let previous = history
        .iter()
        .rev()
        .take(CONTEXT_TURNS)
        .find(|t| t.speaker == Speaker::Customer);
    let short = words.len() <= FOLLOW_UP_MAX_WORDS;
    let continues = words
        .first()
        .is_some_and(|w| CONTINUATIONS.contains(&w.as_str()))
        || words.len() <= 3;
    match previous {
        Some(prev) if short && continues && !words.is_empty() => (
            format!("{} {}", prev.text.trim(), text.trim()),
            QueryScope::WithPreviousTurn,
        ),
        _ => (text.to_owned(), QueryScope::TurnOnly),
    }
}

/// The customer's earlier words plus this turn, for language detection on
/// very short turns ("ok", "y?").
pub fn language_sample(text: &str, history: &[Turn]) -> String {
    if tokens(text).len() >= 3 {
        return text.to_owned();
    }
    let earlier: Vec<&str> = history
        .iter()
        .rev()
        .take(CONTEXT_TURNS)
        .filter(|t| t.speaker == Speaker::Customer)
        .map(|t| t.text.as_str())
        .collect();
    format!(
        "{} {}",
        earlier.into_iter().rev().collect::<Vec<_>>().join(" "),
        text
    )
}

/// The last turns as prompt text ("customer: ...", "assistant: ...").
pub fn render_history(history: &[Turn]) -> String {
    let start = history.len().saturating_sub(CONTEXT_TURNS);
    let lines: Vec<String> = history[start..]
        .iter()
        .map(|t| {
            let who = match t.speaker {
                Speaker::Customer => "customer",
                Speaker::Bot => "assistant",
                Speaker::Agent => "agent",
            };
            format!("{who}: {}", t.text.trim())
        })
        .collect();
    if lines.is_empty() {
        "(no earlier messages)".into()
    } else {
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_follow_up_joins_previous_question() {
        let history = [
            Turn::customer("cuanto tarda el envio a merida?"),
            Turn::bot("De 3 a 6 dias habiles."),
        ];
        let (query, scope) = retrieval_query("y cuanto cuesta?", &history);
        assert_eq!(scope, QueryScope::WithPreviousTurn);
        assert!(query.contains("envio") && query.contains("cuesta"));
    }

    #[test]
    fn a_full_question_stands_alone() {
        let history = [Turn::customer("cuanto tarda el envio a merida?")];
        let (query, scope) = retrieval_query(
            "aceptan pagos con tarjeta de credito de otro pais?",
            &history,
        );
        assert_eq!(
            (query.as_str(), scope),
            (
                "aceptan pagos con tarjeta de credito de otro pais?",
                QueryScope::TurnOnly
            )
        );
        let (_, scope) = retrieval_query("y cuanto cuesta?", &[]);
        assert_eq!(scope, QueryScope::TurnOnly);
    }

    #[test]
    fn history_is_bounded() {
        let history: Vec<Turn> = (0..20)
            .map(|i| Turn::customer(format!("turn {i}")))
            .collect();
        let rendered = render_history(&history);
        assert!(!rendered.contains("turn 13") && rendered.contains("turn 19"));
    }
}
