//! LLM answers: a short reply written only from the retrieved passages, in
//! the customer's language, accepted only if it passes the grounding check
//! and does not echo the prompt; otherwise the caller sends the extractive
//! reply (`ventana_llm_fallbacks_total{task="answer"}`).

use super::context::{Turn, render_history};
use super::extractive::{clean_markdown, trim_to};
use super::grounding::{Grounding, check_grounding};
use crate::knowledge::Hit;
use crate::llm::{ChatMessage, LlmClient, LlmError, neutralize_delimiters};
use crate::prompts::{Prompts, TemplateId};
use crate::vocab::Lang;

/// Passages given to the model at most.
pub const MAX_PASSAGES: usize = 3;

/// Tokens the model may write: a chat reply, not an essay.
const MAX_ANSWER_TOKENS: u32 = 350;

/// Why a generated answer was not used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerRejected {
    #[error("llm call failed: {0}")]
    Llm(#[from] LlmError),
    #[error("ungrounded facts: {0:?}")]
    Ungrounded(Vec<String>),
    #[error("reply echoes the prompt")]
    PromptLeak,
}

impl AnswerRejected {
    /// The `reason` label of `ventana_llm_fallbacks_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            AnswerRejected::Llm(e) => e.reason(),
            AnswerRejected::Ungrounded(_) => "ungrounded",
            AnswerRejected::PromptLeak => "prompt_leak",
        }
    }
}

/// The passages block of the system prompt.
pub fn passages_block(hits: &[&Hit]) -> String {
    hits.iter()
        .map(|h| {
            let heading = h
                .heading
                .as_deref()
                .map(|s| format!(" — {s}"))
                .unwrap_or_default();
            format!(
                "[{}] {}{}\n{}",
                h.article_id,
                h.title,
                heading,
                clean_markdown(&h.text)
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The messages sent to generate an answer.
pub fn messages(
    prompts: &Prompts,
    lang: Lang,
    text: &str,
    history: &[Turn],
    hits: &[&Hit],
) -> Vec<ChatMessage> {
    let system = prompts.get(TemplateId::AnswerSystem, lang).render(&[
        ("language", lang.english_name()),
        ("passages", &passages_block(hits)),
    ]);
    let user = prompts.get(TemplateId::AnswerUser, lang).render(&[
        ("history", &neutralize_delimiters(&render_history(history))),
        ("message", &neutralize_delimiters(text)),
    ]);
    vec![ChatMessage::system(system), ChatMessage::user(user)]
}

/// Whether the reply repeats a sizeable piece of the instructions.
fn leaks_prompt(reply: &str, prompts: &Prompts, lang: Lang) -> bool {
    let lower = reply.to_lowercase();
    if ["<passages>", "<customer_message>", "<history>"]
        .iter()
        .any(|t| lower.contains(t))
    {
        return true;
    }
    let instructions = prompts
        .get(TemplateId::AnswerSystem, lang)
        .render(&[("language", ""), ("passages", "")]);
    instructions
        .lines()
        .map(|l| l.trim().trim_start_matches("- ").to_lowercase())
        .filter(|l| l.chars().count() >= 40)
        .any(|l| lower.contains(&l))
}

/// Generates and checks an answer from `hits`; the reply is trimmed to
/// `max_chars`.
pub async fn generate(
    client: &LlmClient,
    prompts: &Prompts,
    lang: Lang,
    text: &str,
    history: &[Turn],
    hits: &[&Hit],
    max_chars: usize,
) -> Result<String, AnswerRejected> {
    let reply = client
        .chat_text(
            &messages(prompts, lang, text, history, hits),
            MAX_ANSWER_TOKENS,
        )
        .await?;
    let reply = trim_to(reply.trim(), max_chars);
    if leaks_prompt(&reply, prompts, lang) {
        return Err(AnswerRejected::PromptLeak);
    }
    let passages: Vec<&str> = hits.iter().map(|h| h.text.as_str()).collect();
    match check_grounding(&reply, &passages) {
        Grounding::Grounded => Ok(reply),
        Grounding::Ungrounded { unsupported } => Err(AnswerRejected::Ungrounded(unsupported)),
    }
}
