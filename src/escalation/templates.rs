//! Approved WhatsApp message templates (`[[escalation.templates]]`): what
//! ventana may send when free-form messages are not allowed.
//!
//! Templates are created and approved in Meta's WhatsApp Manager; the
//! configuration only tells ventana which exist, in which language, with
//! which body parameters, and what each is for (re-engaging after the
//! window closed, following up, the out-of-hours notice). They are checked
//! at start because a wrong name, language or parameter count is a
//! permanent send error (132000 / 132001) discovered only when a customer is
//! already waiting.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use super::config::Policies;
use crate::vocab::Lang;

/// One template as configured; checked by [`validate_templates`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// The template's name in WhatsApp Manager (lowercase, digits, `_`).
    pub name: String,
    /// Meta language code, e.g. `es_MX`, `pt_BR`, `en`.
    pub language: String,
    /// `utility`, `marketing` or `authentication`.
    pub category: String,
    /// Names of the body parameters, in order (`{{1}}`, `{{2}}`… or named).
    #[serde(default)]
    pub body_params: Vec<String>,
    /// `reengagement`, `followup` or `out_of_hours`.
    pub purpose: String,
}

/// Meta's template categories (they set the price).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateCategory {
    Utility,
    Marketing,
    Authentication,
}

impl TemplateCategory {
    /// Meta's name of the category.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateCategory::Utility => "utility",
            TemplateCategory::Marketing => "marketing",
            TemplateCategory::Authentication => "authentication",
        }
    }
}

/// What ventana sends a template for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplatePurpose {
    /// Reopen a conversation whose window closed before an agent answered.
    Reengagement,
    /// Remind a customer who has not replied to an agent.
    Followup,
    /// Tell the customer nobody is on before the window closes.
    OutOfHours,
}

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Template {
    pub name: String,
    pub language: String,
    pub category: TemplateCategory,
    pub body_params: Vec<String>,
    pub purpose: TemplatePurpose,
}

/// One body parameter, ready for the Graph API (`{"type":"text","text":…}`,
/// plus `parameter_name` for templates with named parameters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BodyParameter {
    pub name: String,
    pub text: String,
}

/// A template that cannot be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template {template}: no value for body parameter {parameter}")]
    MissingParameter { template: String, parameter: String },
    #[error("template {template}: body parameter {parameter} is empty")]
    EmptyParameter { template: String, parameter: String },
}

impl Template {
    /// Whether the template is in the customer's language: `es_MX` and `es`
    /// both match Spanish.
    pub fn is_in(&self, lang: Lang) -> bool {
        base_language(&self.language).eq_ignore_ascii_case(lang.code())
    }

    /// The body parameters in declared order, from `values` by name.
    ///
    /// Meta refuses parameter text with line breaks, tabs or more than four
    /// spaces in a row, so whitespace is folded to single spaces; a value
    /// that is missing or blank is an error rather than a failed send.
    pub fn body_parameters<K, V>(
        &self,
        values: &HashMap<K, V>,
    ) -> Result<Vec<BodyParameter>, TemplateError>
    where
        K: Borrow<str> + Hash + Eq,
        V: AsRef<str>,
    {
        self.body_params
            .iter()
            .map(|name| {
                let value =
                    values
                        .get(name.as_str())
                        .ok_or_else(|| TemplateError::MissingParameter {
                            template: self.name.clone(),
                            parameter: name.clone(),
                        })?;
                let text = value
                    .as_ref()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if text.is_empty() {
                    return Err(TemplateError::EmptyParameter {
                        template: self.name.clone(),
                        parameter: name.clone(),
                    });
                }
                Ok(BodyParameter {
                    name: name.clone(),
                    text,
                })
            })
            .collect()
    }
}

fn base_language(code: &str) -> &str {
    code.split('_').next().unwrap_or(code)
}

/// Templates for `purpose`, those in the customer's language first, then
/// the others in configuration order: the first is the one to send, the
/// rest are fallbacks (a template in another language still reopens a
/// window; none at all leaves the case waiting for the customer).
pub fn templates_for(
    templates: &[Template],
    purpose: TemplatePurpose,
    lang: Lang,
) -> Vec<&Template> {
    let (mut matching, others): (Vec<&Template>, Vec<&Template>) = templates
        .iter()
        .filter(|t| t.purpose == purpose)
        .partition(|t| t.is_in(lang));
    matching.extend(others);
    matching
}

impl Policies {
    /// [`templates_for`] over the configured templates.
    pub fn templates_for(&self, purpose: TemplatePurpose, lang: Lang) -> Vec<&Template> {
        templates_for(&self.templates, purpose, lang)
    }
}

/// Checks `[[escalation.templates]]`; the error names the exact key.
pub fn validate_templates(configs: &[TemplateConfig]) -> Result<Vec<Template>, String> {
    let mut seen = HashSet::new();
    let mut templates = Vec::with_capacity(configs.len());
    for (i, config) in configs.iter().enumerate() {
        let key = format!("escalation.templates[{i}]");
        let template = check_template(&key, config)?;
        if !seen.insert((template.name.clone(), template.language.clone())) {
            return Err(format!(
                "{key}: template {:?} in {:?} is listed twice",
                template.name, template.language
            ));
        }
        templates.push(template);
    }
    Ok(templates)
}

fn check_template(key: &str, config: &TemplateConfig) -> Result<Template, String> {
    let name = config.name.trim();
    if name.is_empty()
        || name.len() > 512
        || !name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
    {
        return Err(format!(
            "{key}.name: {:?} is not a WhatsApp template name (lowercase letters, digits and _)",
            config.name
        ));
    }
    let language = config.language.trim();
    if !is_language_code(language) {
        return Err(format!(
            "{key}.language: {:?} is not a language code like es, es_MX or pt_BR",
            config.language
        ));
    }
    let category = match config.category.trim() {
        "utility" => TemplateCategory::Utility,
        "marketing" => TemplateCategory::Marketing,
        "authentication" => TemplateCategory::Authentication,
        other => {
            return Err(format!(
                "{key}.category: {other:?} is not one of utility, marketing, authentication"
            ));
        }
    };
    let purpose = match config.purpose.trim() {
        "reengagement" => TemplatePurpose::Reengagement,
        "followup" => TemplatePurpose::Followup,
        "out_of_hours" => TemplatePurpose::OutOfHours,
        other => {
            return Err(format!(
                "{key}.purpose: {other:?} is not one of reengagement, followup, out_of_hours"
            ));
        }
    };
    // Authentication templates carry a one-time code and nothing else; a
    // template about the customer's open case is utility (and free inside
    // an open window), only a follow-up may be worded as marketing.
    let allowed = match purpose {
        TemplatePurpose::Reengagement | TemplatePurpose::OutOfHours => {
            category == TemplateCategory::Utility
        }
        TemplatePurpose::Followup => category != TemplateCategory::Authentication,
    };
    if !allowed {
        let expected = match purpose {
            TemplatePurpose::Followup => "utility or marketing",
            _ => "utility",
        };
        return Err(format!(
            "{key}.category: a {} template must be {expected}, not {}",
            config.purpose.trim(),
            config.category.trim()
        ));
    }
    let mut params = HashSet::new();
    for (j, param) in config.body_params.iter().enumerate() {
        if param.is_empty()
            || !param
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        {
            return Err(format!(
                "{key}.body_params[{j}]: {param:?} must be lowercase letters, digits and _"
            ));
        }
        if !params.insert(param.as_str()) {
            return Err(format!("{key}.body_params[{j}]: {param:?} is listed twice"));
        }
    }
    Ok(Template {
        name: name.to_owned(),
        language: language.to_owned(),
        category,
        body_params: config.body_params.clone(),
        purpose,
    })
}

/// `es`, `fil`, `es_MX`, `es_419`-style codes as Meta lists them.
fn is_language_code(code: &str) -> bool {
    let (base, region) = match code.split_once('_') {
        Some((base, region)) => (base, Some(region)),
        None => (code, None),
    };
    let base_ok = (2..=3).contains(&base.len()) && base.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok = region.is_none_or(|r| {
        (r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
            || (r.len() == 3 && r.bytes().all(|b| b.is_ascii_digit()))
    });
    base_ok && region_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(
        name: &str,
        language: &str,
        category: &str,
        purpose: &str,
        params: &[&str],
    ) -> TemplateConfig {
        TemplateConfig {
            name: name.into(),
            language: language.into(),
            category: category.into(),
            body_params: params.iter().map(|p| p.to_string()).collect(),
            purpose: purpose.into(),
        }
    }

    fn sample() -> Vec<Template> {
        validate_templates(&[
            config(
                "reopen",
                "en_US",
                "utility",
                "reengagement",
                &["customer_name"],
            ),
            config(
                "reabrir",
                "es_MX",
                "utility",
                "reengagement",
                &["customer_name", "case_id"],
            ),
            config(
                "reabrir",
                "pt_BR",
                "utility",
                "reengagement",
                &["customer_name"],
            ),
            config("seguimiento", "es", "marketing", "followup", &[]),
        ])
        .unwrap()
    }

    fn names(templates: Vec<&Template>) -> Vec<String> {
        templates
            .iter()
            .map(|t| format!("{}/{}", t.name, t.language))
            .collect()
    }

    #[test]
    fn the_customers_language_comes_first() {
        let all = sample();
        assert_eq!(
            names(templates_for(&all, TemplatePurpose::Reengagement, Lang::Es)),
            ["reabrir/es_MX", "reopen/en_US", "reabrir/pt_BR"]
        );
        assert_eq!(
            names(templates_for(&all, TemplatePurpose::Reengagement, Lang::Pt)),
            ["reabrir/pt_BR", "reopen/en_US", "reabrir/es_MX"]
        );
        assert_eq!(
            names(templates_for(&all, TemplatePurpose::Followup, Lang::En)),
            ["seguimiento/es"]
        );
        assert!(templates_for(&all, TemplatePurpose::OutOfHours, Lang::Es).is_empty());
    }

    #[test]
    fn body_parameters_come_in_order_and_must_all_be_there() {
        let all = sample();
        let values = HashMap::from([
            ("case_id", "  A-17 "),
            ("customer_name", "Ana\nMaría   López"),
        ]);
        assert_eq!(
            all[1].body_parameters(&values).unwrap(),
            [
                BodyParameter {
                    name: "customer_name".into(),
                    text: "Ana María López".into()
                },
                BodyParameter {
                    name: "case_id".into(),
                    text: "A-17".into()
                },
            ]
        );
        let missing = HashMap::from([("customer_name".to_string(), "Ana".to_string())]);
        assert_eq!(
            all[1].body_parameters(&missing),
            Err(TemplateError::MissingParameter {
                template: "reabrir".into(),
                parameter: "case_id".into()
            })
        );
        let blank = HashMap::from([("customer_name", " \t")]);
        assert!(matches!(
            all[0].body_parameters(&blank),
            Err(TemplateError::EmptyParameter { .. })
        ));
        assert_eq!(
            all[3]
                .body_parameters(&HashMap::<&str, &str>::new())
                .unwrap(),
            []
        );
    }

    #[test]
    fn mistakes_name_the_exact_key() {
        let ok = || config("reopen", "es_MX", "utility", "reengagement", &["name"]);
        let cases = [
            (
                config("Reopen Case", "es", "utility", "followup", &[]),
                "escalation.templates[1].name:",
            ),
            (
                config("reopen", "spanish", "utility", "followup", &[]),
                "escalation.templates[1].language:",
            ),
            (
                config("reopen", "es", "promo", "followup", &[]),
                "escalation.templates[1].category: \"promo\"",
            ),
            (
                config("reopen", "es", "utility", "reminder", &[]),
                "escalation.templates[1].purpose: \"reminder\"",
            ),
            (
                config("reopen", "es", "marketing", "reengagement", &[]),
                "escalation.templates[1].category: a reengagement template must be utility, not marketing",
            ),
            (
                config("code", "es", "authentication", "followup", &[]),
                "escalation.templates[1].category: a followup template must be utility or marketing",
            ),
            (
                config("x", "es", "utility", "followup", &["Name"]),
                "escalation.templates[1].body_params[0]:",
            ),
            (
                config("x", "es", "utility", "followup", &["a", "a"]),
                "escalation.templates[1].body_params[1]:",
            ),
            (
                ok(),
                "escalation.templates[1]: template \"reopen\" in \"es_MX\" is listed twice",
            ),
        ];
        for (bad, expected) in cases {
            let err = validate_templates(&[ok(), bad]).unwrap_err();
            assert!(
                err.starts_with(expected),
                "expected {expected:?}, got {err:?}"
            );
        }
        // The same name in another language is a different template.
        assert!(
            validate_templates(&[
                ok(),
                config("reopen", "es_419", "utility", "reengagement", &[])
            ])
            .is_ok()
        );
    }
}
