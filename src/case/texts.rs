//! The scheduler's customer-facing wording: the keep-alive sent before the
//! window closes and the follow-up reminder, one file per language under
//! `prompts/<lang>/` (`keepalive.txt`, `followup.txt`), editable by the
//! operator like the bot's other texts, with the shipped files compiled in as
//! defaults. They take no placeholders; a file with one (or a stray brace)
//! stops the start with the file named. Kept apart from
//! [`crate::answer::Prompts`] because these are the scheduler's messages,
//! not the bot's, but parsed with the same [`PromptTemplate`] rules.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::prompts::PromptTemplate;
use crate::vocab::Lang;

/// Which scheduler message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextId {
    Keepalive,
    Followup,
}

impl TextId {
    const ALL: [TextId; 2] = [TextId::Keepalive, TextId::Followup];

    fn file_name(self) -> &'static str {
        match self {
            TextId::Keepalive => "keepalive.txt",
            TextId::Followup => "followup.txt",
        }
    }
}

macro_rules! default_text {
    ($lang:literal, $file:literal) => {
        (
            concat!($lang, "/", $file),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/prompts/",
                $lang,
                "/",
                $file
            )),
        )
    };
}

/// The shipped files, by path relative to the prompts directory.
const DEFAULTS: &[(&str, &str)] = &[
    default_text!("es", "keepalive.txt"),
    default_text!("pt", "keepalive.txt"),
    default_text!("en", "keepalive.txt"),
    default_text!("es", "followup.txt"),
    default_text!("pt", "followup.txt"),
    default_text!("en", "followup.txt"),
];

/// The keep-alive and follow-up texts in every language, checked.
#[derive(Debug, Clone)]
pub struct SchedulerTexts {
    texts: HashMap<(TextId, Lang), String>,
}

impl SchedulerTexts {
    /// The compiled-in texts only.
    pub fn defaults() -> Self {
        Self::load_from(None).expect("compiled-in scheduler texts are valid")
    }

    /// Reads each text from `dir` when the file exists there, else the
    /// compiled-in copy; the error names the file.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        Self::load_from(Some(dir).filter(|d| d.is_dir()))
    }

    fn load_from(dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut texts = HashMap::new();
        for id in TextId::ALL {
            for lang in Lang::ALL {
                let relative = PathBuf::from(lang.code()).join(id.file_name());
                let key = format!("{}/{}", lang.code(), id.file_name());
                let on_disk = dir.map(|d| d.join(&relative)).filter(|p| p.is_file());
                let (file, text) = match on_disk {
                    Some(path) => {
                        let text = std::fs::read_to_string(&path).map_err(|e| {
                            anyhow::anyhow!("prompt template {}: {e}", path.display())
                        })?;
                        (path, text)
                    }
                    None => {
                        let text = DEFAULTS
                            .iter()
                            .find(|(p, _)| *p == key)
                            .map(|(_, t)| (*t).to_owned())
                            .ok_or_else(|| {
                                anyhow::anyhow!("prompt template {key}: no compiled-in default")
                            })?;
                        (relative, text)
                    }
                };
                texts.insert((id, lang), check(&file, &text)?);
            }
        }
        Ok(Self { texts })
    }

    /// The text of `id` in `lang`.
    pub fn get(&self, id: TextId, lang: Lang) -> &str {
        &self.texts[&(id, lang)]
    }
}

/// Parses one text: no placeholders, balanced braces, not empty.
fn check(file: &Path, text: &str) -> anyhow::Result<String> {
    let template = PromptTemplate::parse(text).map_err(|_| {
        anyhow::anyhow!(
            "prompt template {}: unbalanced brace (write {{{{ or }}}} for a literal brace)",
            file.display()
        )
    })?;
    if let Some(placeholder) = template.placeholders().next() {
        anyhow::bail!(
            "prompt template {}: unknown placeholder {{{placeholder}}} (allowed: none)",
            file.display()
        );
    }
    let rendered = template.render(&[]);
    if rendered.is_empty() {
        anyhow::bail!("prompt template {}: is empty", file.display());
    }
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_exist_in_every_language_and_differ() {
        let texts = SchedulerTexts::defaults();
        for id in TextId::ALL {
            let all: Vec<&str> = Lang::ALL.iter().map(|l| texts.get(id, *l)).collect();
            assert!(all.iter().all(|t| !t.is_empty() && !t.ends_with('\n')));
            assert_ne!(all[0], all[1]);
            assert_ne!(all[1], all[2]);
        }
        assert!(
            texts
                .get(TextId::Keepalive, Lang::Es)
                .starts_with("Seguimos con tu caso")
        );
    }

    #[test]
    fn a_file_in_the_directory_overrides_its_default_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pt")).unwrap();
        std::fs::write(
            dir.path().join("pt/keepalive.txt"),
            "Ainda estamos aqui {{:\n",
        )
        .unwrap();
        let texts = SchedulerTexts::load(dir.path()).unwrap();
        assert_eq!(
            texts.get(TextId::Keepalive, Lang::Pt),
            "Ainda estamos aqui {:"
        );
        assert_eq!(
            texts.get(TextId::Keepalive, Lang::Es),
            SchedulerTexts::defaults().get(TextId::Keepalive, Lang::Es)
        );
    }

    #[test]
    fn placeholders_and_empty_files_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("en")).unwrap();
        std::fs::write(dir.path().join("en/followup.txt"), "Hi {name}").unwrap();
        let err = SchedulerTexts::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("en/followup.txt") && err.contains("{name}"),
            "{err}"
        );
        std::fs::write(dir.path().join("en/followup.txt"), "  \n").unwrap();
        let err = SchedulerTexts::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("en/followup.txt") && err.ends_with("is empty"),
            "{err}"
        );
    }
}
