//! LLM triage: a structured verdict (class, confidence, language, reason)
//! from the configured model, with the rules as fall-back and safety floor.
//!
//! The rule verdict is always computed first (it is cheap). Then:
//!
//! - on timeout, HTTP error or output that does not validate, the rule
//!   verdict stands (`ventana_llm_fallbacks_total{task="triage"}`);
//! - the rules are a floor, never a ceiling: when the rules found an urgency
//!   or needs-a-person cue, or the top article is flagged `escalate`, an LLM
//!   that says something *less* severe is overruled (safety first: a model
//!   talked out of "urgent" by a calm or manipulative message must not
//!   auto-answer a fraud report). The LLM may always raise the severity;
//! - small talk keeps the rule verdict when the LLM agrees it is FAQ.

use serde_json::{Value, json};

use super::{Basis, Lang, Triage, TriageClass, TriageSource};
use crate::knowledge::Hit;
use crate::llm::{
    ChatMessage, LlmClient, LlmError, OutputSchema, neutralize_delimiters, record_fallback,
};
use crate::prompts::{Prompts, TemplateId};

/// The JSON schema the model must follow.
pub fn schema() -> OutputSchema {
    OutputSchema {
        name: "triage",
        schema: json!({
            "type": "object",
            "properties": {
                "class": {"type": "string", "enum": ["faq", "urgent", "human"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "language": {"type": "string", "enum": ["es", "pt", "en"]},
                "reason": {"type": "string"}
            },
            "required": ["class", "confidence", "language", "reason"],
            "additionalProperties": false
        }),
    }
}

/// A validated model verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVerdict {
    pub class: TriageClass,
    pub confidence: f32,
    pub lang: Option<Lang>,
    pub reason: String,
}

/// Checks the model's JSON on our side (the endpoint may not enforce the
/// schema): class required and valid; confidence a number or numeric string,
/// clamped; language optional; reason optional and shortened.
pub fn validate(value: &Value) -> Result<ModelVerdict, LlmError> {
    let class = value["class"]
        .as_str()
        .ok_or_else(|| LlmError::InvalidOutput("missing class".into()))?
        .parse::<TriageClass>()
        .map_err(LlmError::InvalidOutput)?;
    let confidence = match &value["confidence"] {
        Value::Number(n) => n.as_f64().unwrap_or(0.5),
        Value::String(s) => s.trim().parse().unwrap_or(0.5),
        _ => 0.5,
    };
    let lang = value["language"].as_str().and_then(|l| l.parse().ok());
    let reason: String = value["reason"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(160)
        .collect();
    Ok(ModelVerdict {
        class,
        confidence: (confidence as f32).clamp(0.0, 1.0),
        lang,
        reason,
    })
}

/// The retrieved topics as the prompt lists them.
fn topics(hits: &[Hit]) -> String {
    if hits.is_empty() {
        return "(none found)".into();
    }
    hits.iter()
        .take(5)
        .map(|h| {
            let person = if h.escalate {
                "always needs a person"
            } else {
                "self-service"
            };
            format!("- {} ({person}, match {:.2})", h.title, h.score)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The messages sent for triage.
pub fn messages(prompts: &Prompts, text: &str, history: &str, hits: &[Hit]) -> Vec<ChatMessage> {
    let system = prompts
        .get(TemplateId::TriageSystem, Lang::Es)
        .render(&[("topics", &topics(hits))]);
    let user = prompts.get(TemplateId::TriageUser, Lang::Es).render(&[
        ("history", &neutralize_delimiters(history)),
        ("message", &neutralize_delimiters(text)),
    ]);
    vec![ChatMessage::system(system), ChatMessage::user(user)]
}

/// Combines the rule verdict with the model's, as documented above.
pub fn merge(rules: Triage, model: ModelVerdict) -> Triage {
    let rules_is_floor = matches!(
        rules.basis,
        Basis::Cue | Basis::EscalateArticle | Basis::Learned
    );
    if rules_is_floor && model.class < rules.class {
        return Triage {
            reason: format!("{} (llm said {}: overruled)", rules.reason, model.class),
            source: TriageSource::LlmOverriddenByRules,
            ..rules
        };
    }
    if rules.basis == Basis::SmallTalk && model.class == TriageClass::Faq {
        return rules;
    }
    Triage {
        class: model.class,
        confidence: model.confidence,
        lang: model.lang.unwrap_or(rules.lang),
        reason: format!(
            "{}: {}",
            model.class,
            if model.reason.is_empty() {
                "llm verdict"
            } else {
                &model.reason
            }
        ),
        source: TriageSource::Llm,
        basis: Basis::Model,
        small_talk: None,
    }
}

/// Triage with the model, falling back to `rules` on any failure.
pub async fn classify_with_llm(
    client: &LlmClient,
    prompts: &Prompts,
    text: &str,
    history: &str,
    hits: &[Hit],
    rules: Triage,
) -> Triage {
    let result = client
        .chat_json(&messages(prompts, text, history, hits), &schema())
        .await
        .and_then(|v| validate(&v));
    match result {
        Ok(model) => merge(rules, model),
        Err(error) => {
            record_fallback("triage", error.reason());
            tracing::debug!(%error, "llm triage failed; using rules");
            rules
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(class: TriageClass, basis: Basis) -> Triage {
        Triage {
            class,
            confidence: 0.9,
            lang: Lang::Es,
            reason: format!("{class}: rule"),
            source: TriageSource::Rules,
            basis,
            small_talk: None,
        }
    }

    fn model(class: TriageClass) -> ModelVerdict {
        ModelVerdict {
            class,
            confidence: 0.8,
            lang: Some(Lang::Pt),
            reason: "model".into(),
        }
    }

    #[test]
    fn hard_rule_cues_are_a_floor() {
        let t = merge(
            rules(TriageClass::Urgent, Basis::Cue),
            model(TriageClass::Faq),
        );
        assert_eq!(t.class, TriageClass::Urgent);
        assert_eq!(t.source, TriageSource::LlmOverriddenByRules);
        let t = merge(
            rules(TriageClass::Human, Basis::EscalateArticle),
            model(TriageClass::Faq),
        );
        assert_eq!(t.class, TriageClass::Human);
    }

    #[test]
    fn the_model_may_raise_severity_or_settle_retrieval_verdicts() {
        let t = merge(
            rules(TriageClass::Faq, Basis::Article),
            model(TriageClass::Urgent),
        );
        assert_eq!(
            (t.class, t.source, t.lang),
            (TriageClass::Urgent, TriageSource::Llm, Lang::Pt)
        );
        let t = merge(
            rules(TriageClass::Human, Basis::Cue),
            model(TriageClass::Urgent),
        );
        assert_eq!(t.class, TriageClass::Urgent);
        let t = merge(
            rules(TriageClass::Human, Basis::LowConfidence),
            model(TriageClass::Faq),
        );
        assert_eq!(t.class, TriageClass::Faq);
    }

    #[test]
    fn validation_is_lenient_but_needs_a_class() {
        let v = validate(&json!({"class": "URGENT", "confidence": "0.7", "extra": true})).unwrap();
        assert_eq!(v.class, TriageClass::Urgent);
        assert!((v.confidence - 0.7).abs() < 1e-6);
        assert_eq!(v.lang, None);
        let v = validate(&json!({"class": "faq", "confidence": 7, "language": "pt-BR"})).unwrap();
        assert_eq!((v.confidence, v.lang), (1.0, Some(Lang::Pt)));
        assert!(validate(&json!({"class": "maybe"})).is_err());
        assert!(validate(&json!({"confidence": 1})).is_err());
    }
}
