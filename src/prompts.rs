//! Prompt and reply templates: plain-text files under `prompts/`, editable
//! by the operator, with defaults compiled into the binary.
//!
//! [`Prompts::load`] reads each template from the configured directory when
//! the file exists there and from the compiled-in copy otherwise, then checks
//! that every template has the placeholders it needs and no unknown ones, so
//! a typo stops the start with the file and placeholder named instead of
//! producing broken replies later. Rendering is a single pass: values are
//! never re-scanned, so a customer typing `{passage}` stays literal text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::vocab::Lang;

/// Every template the bot uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateId {
    TriageSystem,
    TriageUser,
    AnswerSystem,
    AnswerUser,
    AnswerExtractive,
    AnswerEscalated,
    Greeting,
    Thanks,
    Acknowledgement,
    AckUrgent,
    AckHuman,
    AckNotCovered,
    FollowUpDefault,
}

impl TemplateId {
    pub const SHARED: [TemplateId; 4] = [
        TemplateId::TriageSystem,
        TemplateId::TriageUser,
        TemplateId::AnswerSystem,
        TemplateId::AnswerUser,
    ];
    pub const PER_LANGUAGE: [TemplateId; 9] = [
        TemplateId::AnswerExtractive,
        TemplateId::AnswerEscalated,
        TemplateId::Greeting,
        TemplateId::Thanks,
        TemplateId::Acknowledgement,
        TemplateId::AckUrgent,
        TemplateId::AckHuman,
        TemplateId::AckNotCovered,
        TemplateId::FollowUpDefault,
    ];

    fn stem(self) -> &'static str {
        match self {
            TemplateId::TriageSystem => "triage_system",
            TemplateId::TriageUser => "triage_user",
            TemplateId::AnswerSystem => "answer_system",
            TemplateId::AnswerUser => "answer_user",
            TemplateId::AnswerExtractive => "answer_extractive",
            TemplateId::AnswerEscalated => "answer_escalated",
            TemplateId::Greeting => "greeting",
            TemplateId::Thanks => "thanks",
            TemplateId::Acknowledgement => "acknowledgement",
            TemplateId::AckUrgent => "ack_urgent",
            TemplateId::AckHuman => "ack_human",
            TemplateId::AckNotCovered => "ack_not_covered",
            TemplateId::FollowUpDefault => "follow_up_default",
        }
    }

    /// The file's path relative to the prompts directory.
    pub fn relative_path(self, lang: Option<Lang>) -> PathBuf {
        match lang {
            Some(lang) => PathBuf::from(lang.code()).join(format!("{}.txt", self.stem())),
            None => PathBuf::from(format!("{}.txt", self.stem())),
        }
    }

    /// Placeholders that must appear.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            TemplateId::TriageSystem => &["topics"],
            TemplateId::TriageUser | TemplateId::AnswerUser => &["history", "message"],
            TemplateId::AnswerSystem => &["language", "passages"],
            TemplateId::AnswerExtractive => &["passage"],
            TemplateId::AnswerEscalated => &["passage", "follow_up"],
            TemplateId::AckUrgent | TemplateId::AckHuman | TemplateId::AckNotCovered => {
                &["follow_up"]
            }
            TemplateId::Greeting
            | TemplateId::Thanks
            | TemplateId::Acknowledgement
            | TemplateId::FollowUpDefault => &[],
        }
    }

    /// Placeholders that may appear in addition to the required ones.
    pub fn optional(self) -> &'static [&'static str] {
        match self {
            TemplateId::AnswerExtractive | TemplateId::AnswerEscalated => &["title"],
            _ => &[],
        }
    }
}

macro_rules! default_template {
    ($path:literal) => {
        (
            $path,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/", $path)),
        )
    };
}

/// The compiled-in defaults, by relative path.
const DEFAULTS: &[(&str, &str)] = &[
    default_template!("triage_system.txt"),
    default_template!("triage_user.txt"),
    default_template!("answer_system.txt"),
    default_template!("answer_user.txt"),
    default_template!("es/answer_extractive.txt"),
    default_template!("es/answer_escalated.txt"),
    default_template!("es/greeting.txt"),
    default_template!("es/thanks.txt"),
    default_template!("es/acknowledgement.txt"),
    default_template!("es/ack_urgent.txt"),
    default_template!("es/ack_human.txt"),
    default_template!("es/ack_not_covered.txt"),
    default_template!("es/follow_up_default.txt"),
    default_template!("pt/answer_extractive.txt"),
    default_template!("pt/answer_escalated.txt"),
    default_template!("pt/greeting.txt"),
    default_template!("pt/thanks.txt"),
    default_template!("pt/acknowledgement.txt"),
    default_template!("pt/ack_urgent.txt"),
    default_template!("pt/ack_human.txt"),
    default_template!("pt/ack_not_covered.txt"),
    default_template!("pt/follow_up_default.txt"),
    default_template!("en/answer_extractive.txt"),
    default_template!("en/answer_escalated.txt"),
    default_template!("en/greeting.txt"),
    default_template!("en/thanks.txt"),
    default_template!("en/acknowledgement.txt"),
    default_template!("en/ack_urgent.txt"),
    default_template!("en/ack_human.txt"),
    default_template!("en/ack_not_covered.txt"),
    default_template!("en/follow_up_default.txt"),
];

/// A template that failed its check or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt template {file}: missing placeholder {{{placeholder}}}")]
    MissingPlaceholder { file: PathBuf, placeholder: String },
    #[error("prompt template {file}: unknown placeholder {{{placeholder}}} (allowed: {allowed})")]
    UnknownPlaceholder {
        file: PathBuf,
        placeholder: String,
        allowed: String,
    },
    #[error("prompt template {file}: unbalanced brace (write {{{{ or }}}} for a literal brace)")]
    UnbalancedBrace { file: PathBuf },
    #[error("prompt template {file}: {source}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("prompt template {file}: no compiled-in default")]
    NoDefault { file: PathBuf },
}

/// A template with a stray `{` or `}` or an empty placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unbalanced brace")]
pub struct UnbalancedBrace;

/// One parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Placeholder(String),
}

impl PromptTemplate {
    /// Parses `{name}` placeholders; `{{` and `}}` are literal braces.
    pub fn parse(text: &str) -> Result<Self, UnbalancedBrace> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() || c == '_' => name.push(c),
                            _ => return Err(UnbalancedBrace),
                        }
                    }
                    if name.is_empty() {
                        return Err(UnbalancedBrace);
                    }
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                    parts.push(Part::Placeholder(name));
                }
                '}' => return Err(UnbalancedBrace),
                c => literal.push(c),
            }
        }
        parts.push(Part::Text(literal));
        Ok(Self { parts })
    }

    /// The placeholder names used, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Placeholder(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Substitutes the values (missing ones render empty), trimmed.
    pub fn render(&self, values: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Placeholder(name) => {
                    if let Some((_, v)) = values.iter().find(|(k, _)| k == name) {
                        out.push_str(v);
                    }
                }
            }
        }
        out.trim().to_owned()
    }
}

/// All templates, checked.
#[derive(Debug, Clone)]
pub struct Prompts {
    templates: HashMap<(TemplateId, Option<Lang>), PromptTemplate>,
}

impl Prompts {
    /// The compiled-in templates only.
    pub fn defaults() -> Self {
        Self::load_from(None).expect("compiled-in prompt templates are valid")
    }

    /// Reads templates from `dir`, falling back to the compiled-in copy for
    /// each file that does not exist there (or for all, if `dir` does not
    /// exist).
    pub fn load(dir: &Path) -> Result<Self, PromptError> {
        if !dir.is_dir() {
            tracing::info!(dir = %dir.display(), "prompts directory not found; using compiled-in templates");
            return Self::load_from(None);
        }
        Self::load_from(Some(dir))
    }

    fn load_from(dir: Option<&Path>) -> Result<Self, PromptError> {
        let mut templates = HashMap::new();
        let keys = TemplateId::SHARED.iter().map(|id| (*id, None)).chain(
            TemplateId::PER_LANGUAGE
                .iter()
                .flat_map(|id| Lang::ALL.iter().map(|l| (*id, Some(*l)))),
        );
        for (id, lang) in keys {
            let relative = id.relative_path(lang);
            let on_disk = dir.map(|d| d.join(&relative)).filter(|p| p.is_file());
            let (file, text) = match on_disk {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(&path).map_err(|source| PromptError::Io {
                            file: path.clone(),
                            source,
                        })?;
                    (path, text)
                }
                None => {
                    let key = relative.to_string_lossy().replace('\\', "/");
                    let text = DEFAULTS
                        .iter()
                        .find(|(p, _)| *p == key)
                        .map(|(_, t)| (*t).to_owned())
                        .ok_or_else(|| PromptError::NoDefault {
                            file: relative.clone(),
                        })?;
                    (relative.clone(), text)
                }
            };
            let template = check(id, &file, &text)?;
            templates.insert((id, lang), template);
        }
        Ok(Self { templates })
    }

    /// A template; `lang` is ignored for the shared (system/user) ones.
    pub fn get(&self, id: TemplateId, lang: Lang) -> &PromptTemplate {
        let key = if TemplateId::SHARED.contains(&id) {
            (id, None)
        } else {
            (id, Some(lang))
        };
        &self.templates[&key]
    }
}

/// Parses and checks one template's placeholders.
pub fn check(id: TemplateId, file: &Path, text: &str) -> Result<PromptTemplate, PromptError> {
    let template =
        PromptTemplate::parse(text).map_err(|UnbalancedBrace| PromptError::UnbalancedBrace {
            file: file.to_owned(),
        })?;
    for placeholder in template.placeholders() {
        if !id.required().contains(&placeholder) && !id.optional().contains(&placeholder) {
            let allowed: Vec<&str> = id.required().iter().chain(id.optional()).copied().collect();
            return Err(PromptError::UnknownPlaceholder {
                file: file.to_owned(),
                placeholder: placeholder.to_owned(),
                allowed: if allowed.is_empty() {
                    "none".into()
                } else {
                    allowed.join(", ")
                },
            });
        }
    }
    for required in id.required() {
        if !template.placeholders().any(|p| p == *required) {
            return Err(PromptError::MissingPlaceholder {
                file: file.to_owned(),
                placeholder: (*required).to_owned(),
            });
        }
    }
    Ok(template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_localized() {
        let prompts = Prompts::defaults();
        let es = prompts
            .get(TemplateId::AckHuman, Lang::Es)
            .render(&[("follow_up", "pronto")]);
        let en = prompts
            .get(TemplateId::AckHuman, Lang::En)
            .render(&[("follow_up", "soon")]);
        assert!(es.contains("pronto") && en.contains("soon"));
        assert_ne!(es, en);
    }

    #[test]
    fn render_is_single_pass() {
        let t = PromptTemplate::parse("A {passage} B {{literal}}").unwrap();
        assert_eq!(
            t.render(&[("passage", "{passage} and {title}")]),
            "A {passage} and {title} B {literal}"
        );
    }

    #[test]
    fn missing_placeholder_names_file_and_placeholder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pt")).unwrap();
        std::fs::write(dir.path().join("pt/ack_urgent.txt"), "Já vamos responder.").unwrap();
        let err = Prompts::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("ack_urgent.txt") && err.contains("{follow_up}"),
            "{err}"
        );
    }

    #[test]
    fn unknown_placeholder_and_bad_braces_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("answer_system.txt"),
            "{language} {passages} {secret}",
        )
        .unwrap();
        let err = Prompts::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("answer_system.txt") && err.contains("{secret}"),
            "{err}"
        );
        std::fs::write(
            dir.path().join("answer_system.txt"),
            "{language} {passages} {",
        )
        .unwrap();
        let err = Prompts::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("unbalanced"), "{err}");
    }

    #[test]
    fn files_on_disk_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("en")).unwrap();
        std::fs::write(dir.path().join("en/greeting.txt"), "Howdy!").unwrap();
        let prompts = Prompts::load(dir.path()).unwrap();
        assert_eq!(
            prompts.get(TemplateId::Greeting, Lang::En).render(&[]),
            "Howdy!"
        );
        assert_ne!(
            prompts.get(TemplateId::Greeting, Lang::Es).render(&[]),
            "Howdy!"
        );
        assert!(Prompts::load(&dir.path().join("nope")).is_ok());
    }
}
