//! Creating, updating and deleting articles for the editors' API.
//!
//! An edit is validated exactly like a file on disk (it is rendered to
//! Markdown and parsed with [`parse_article`]), then written atomically: a
//! hidden temporary file in the same folder renamed over the target, so the
//! watcher and the loader never see half a file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::article::{Article, parse_article, validate_id};
use super::loader::article_path;

/// An article as editors send it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArticleInput {
    pub title: String,
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub escalate: bool,
    /// The Markdown body.
    pub body: String,
}

impl From<&Article> for ArticleInput {
    fn from(article: &Article) -> Self {
        Self {
            title: article.title.clone(),
            questions: article.questions.clone(),
            tags: article.tags.clone(),
            lang: article.lang.clone(),
            queue: article.queue.clone(),
            escalate: article.escalate,
            body: article.body.clone(),
        }
    }
}

/// Why an edit was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    Invalid(String),
    #[error("article {0} already exists")]
    Exists(String),
    #[error("article {0} does not exist")]
    NotFound(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Create a new file, or replace an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Create,
    Update,
}

/// Renders the front matter and body as the Markdown file editors would write.
pub fn render(input: &ArticleInput) -> Result<String, EditError> {
    #[derive(Serialize)]
    struct Front<'a> {
        title: &'a str,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        questions: &'a [String],
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        tags: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        lang: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        queue: Option<&'a str>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        escalate: bool,
    }
    let front = Front {
        title: input.title.trim(),
        questions: &input.questions,
        tags: &input.tags,
        lang: input.lang.as_deref(),
        queue: input.queue.as_deref(),
        escalate: input.escalate,
    };
    let yaml = serde_yaml_ng::to_string(&front).map_err(|e| EditError::Invalid(e.to_string()))?;
    Ok(format!("---\n{}---\n\n{}\n", yaml, input.body.trim()))
}

/// Validates an edit without writing it.
pub fn validate(id: &str, input: &ArticleInput) -> Result<(Article, String), EditError> {
    validate_id(id).map_err(|e| EditError::Invalid(e.to_string()))?;
    let text = render(input)?;
    let article = parse_article(id, &text).map_err(|e| EditError::Invalid(e.to_string()))?;
    Ok((article, text))
}

/// Validates and writes an article below `dir`.
pub fn write_article(
    dir: &Path,
    id: &str,
    input: &ArticleInput,
    mode: WriteMode,
) -> Result<Article, EditError> {
    let (article, text) = validate(id, input)?;
    let path = article_path(dir, id);
    match (mode, path.exists()) {
        (WriteMode::Create, true) => return Err(EditError::Exists(id.to_owned())),
        (WriteMode::Update, false) => return Err(EditError::NotFound(id.to_owned())),
        _ => {}
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temp = temp_path(&path);
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, &path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })?;
    Ok(article)
}

/// Deletes an article's file.
pub fn delete_article(dir: &Path, id: &str) -> Result<(), EditError> {
    validate_id(id).map_err(|e| EditError::Invalid(e.to_string()))?;
    let path = article_path(dir, id);
    if !path.is_file() {
        return Err(EditError::NotFound(id.to_owned()));
    }
    std::fs::remove_file(path)?;
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("article");
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::loader::load_dir;

    fn input() -> ArticleInput {
        ArticleInput {
            title: "Envíos: tiempos".into(),
            questions: vec!["¿cuánto tarda?".into(), "how long: days?".into()],
            tags: vec!["envios".into()],
            queue: Some("logistica".into()),
            escalate: true,
            body: "Llega en 3 días.\n\n## Costos\n\n$129.".into(),
            ..Default::default()
        }
    }

    #[test]
    fn written_articles_load_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let written =
            write_article(dir.path(), "logistica/envios", &input(), WriteMode::Create).unwrap();
        let report = load_dir(dir.path()).unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(report.articles, vec![written]);
        assert_eq!(ArticleInput::from(&report.articles[0]), input());
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("logistica"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["envios.md"]);
    }

    #[test]
    fn create_update_delete_respect_existence() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            write_article(dir.path(), "a", &input(), WriteMode::Update),
            Err(EditError::NotFound(_))
        ));
        write_article(dir.path(), "a", &input(), WriteMode::Create).unwrap();
        assert!(matches!(
            write_article(dir.path(), "a", &input(), WriteMode::Create),
            Err(EditError::Exists(_))
        ));
        let mut changed = input();
        changed.body = "Nuevo texto.".into();
        assert_eq!(
            write_article(dir.path(), "a", &changed, WriteMode::Update)
                .unwrap()
                .body,
            "Nuevo texto."
        );
        delete_article(dir.path(), "a").unwrap();
        assert!(matches!(
            delete_article(dir.path(), "a"),
            Err(EditError::NotFound(_))
        ));
    }

    #[test]
    fn invalid_edits_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let no_title = ArticleInput {
            title: " ".into(),
            ..input()
        };
        let no_body = ArticleInput {
            body: "".into(),
            ..input()
        };
        for (id, bad) in [
            ("a", no_title),
            ("b", no_body),
            ("../escape", input()),
            (".hidden", input()),
        ] {
            assert!(
                matches!(
                    write_article(dir.path(), id, &bad, WriteMode::Create),
                    Err(EditError::Invalid(_))
                ),
                "{id}"
            );
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
