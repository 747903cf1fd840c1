//! One knowledge-base article: YAML front matter plus a Markdown body.
//!
//! [`parse_article`] is the single place that decides whether a file is a
//! valid article, used by the loader, the hot-reload watcher, `ventana kb
//! check` and the editors' API alike, so all of them report the same reason
//! for the same mistake.

use serde::{Deserialize, Serialize};

use super::chunk::{Passage, split_passages};

/// A parsed, valid article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Article {
    /// The file's path below the knowledge directory, without `.md`, with
    /// `/` separators.
    pub id: String,
    pub title: String,
    /// Typical customer phrasings; matched along with the text.
    pub questions: Vec<String>,
    pub tags: Vec<String>,
    pub lang: Option<String>,
    /// The id of the article this one translates (front matter
    /// `translation_of`); the bot answers from the translation in the
    /// customer's language.
    pub translation_of: Option<String>,
    /// The human queue for this topic.
    pub queue: Option<String>,
    /// The topic always needs a person.
    pub escalate: bool,
    /// The Markdown body (after the front matter).
    pub body: String,
    /// The body split at `##` headings.
    pub passages: Vec<Passage>,
}

impl Article {
    /// The Markdown of its `passage`-th section, without the heading line.
    pub fn passage_text(&self, passage: usize) -> &str {
        self.passages[passage].text(&self.body)
    }
}

/// Why a file is not a valid article. The message is shown to editors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArticleError {
    #[error(
        "no front matter: the file must start with a line `---`, the YAML fields, and a closing `---`"
    )]
    NoFrontMatter,
    #[error("front matter is not closed: add a line `---` after the YAML fields")]
    UnclosedFrontMatter,
    #[error("bad front matter: {0}")]
    BadYaml(String),
    #[error("front matter has no `title`")]
    MissingTitle,
    #[error("the body is empty: write the answer after the front matter")]
    EmptyBody,
    #[error(
        "invalid article id {0:?}: use letters, digits, `-` and `_`, in names separated by `/` (no dots, no extension)"
    )]
    BadId(String),
    #[error(
        "invalid `translation_of` {0:?}: name the original article's id (letters, digits, `-` and `_`, in names separated by `/`)"
    )]
    BadTranslationOf(String),
}

/// The YAML fields. Unknown fields are ignored so knowledge bases written
/// for other tools still load.
#[derive(Debug, Default, Deserialize)]
struct FrontMatter {
    title: Option<String>,
    #[serde(default)]
    questions: OneOrMany,
    #[serde(default)]
    tags: OneOrMany,
    lang: Option<String>,
    translation_of: Option<String>,
    queue: Option<String>,
    #[serde(default)]
    escalate: bool,
}

/// `tags: envios` and `tags: [envios]` both work.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        let items = match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        };
        items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Checks that an article id is a safe relative path: non-empty names of
/// letters, digits, `-` and `_`, separated by `/`. No dot anywhere, so an id
/// can neither climb out of the directory nor name another article's file
/// through an extension (`cancelar-pedido.bak` is not `cancelar-pedido`).
pub fn validate_id(id: &str) -> Result<(), ArticleError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && id.split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
        });
    if ok {
        Ok(())
    } else {
        Err(ArticleError::BadId(id.to_owned()))
    }
}

/// Parses a whole file's text into an article with the given id.
pub fn parse_article(id: &str, source: &str) -> Result<Article, ArticleError> {
    validate_id(id)?;
    let (yaml, body) = split_front_matter(source)?;
    let front: FrontMatter = if yaml.trim().is_empty() {
        FrontMatter::default()
    } else {
        serde_yaml_ng::from_str(yaml).map_err(|e| ArticleError::BadYaml(e.to_string()))?
    };
    let title = front
        .title
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(ArticleError::MissingTitle)?;
    let body = body.trim().replace("\r\n", "\n");
    if body.is_empty() {
        return Err(ArticleError::EmptyBody);
    }
    let translation_of = parse_translation_of(front.translation_of)?;
    let passages = split_passages(&body);
    Ok(Article {
        id: id.to_owned(),
        title,
        questions: front.questions.into_vec(),
        tags: front.tags.into_vec(),
        lang: front
            .lang
            .map(|l| l.trim().to_lowercase())
            .filter(|l| !l.is_empty()),
        translation_of,
        queue: front
            .queue
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty()),
        escalate: front.escalate,
        body,
        passages,
    })
}

/// `translation_of`, trimmed, must be a valid article id when given.
fn parse_translation_of(value: Option<String>) -> Result<Option<String>, ArticleError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(id) if validate_id(&id).is_ok() => Ok(Some(id)),
        Some(id) => Err(ArticleError::BadTranslationOf(id)),
        None => Ok(None),
    }
}

/// Splits `---\n<yaml>\n---\n<body>`; a UTF-8 BOM and CRLF line ends are fine.
fn split_front_matter(source: &str) -> Result<(&str, &str), ArticleError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut lines = source.split_inclusive('\n');
    let first = lines.next().ok_or(ArticleError::NoFrontMatter)?;
    if first.trim_end() != "---" {
        return Err(ArticleError::NoFrontMatter);
    }
    let yaml_start = first.len();
    let mut offset = yaml_start;
    for line in lines {
        if line.trim_end() == "---" {
            let yaml = &source[yaml_start..offset];
            let body = &source[offset + line.len()..];
            return Ok((yaml, body));
        }
        offset += line.len();
    }
    Err(ArticleError::UnclosedFrontMatter)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\ntitle: Envíos\nquestions:\n  - ¿Cuánto tarda?\ntags: envios\nqueue: logistica\nescalate: true\n---\n\nLlega en 3 días.\n";

    #[test]
    fn parses_fields_and_body() {
        let article = parse_article("envios", GOOD).unwrap();
        assert_eq!(article.title, "Envíos");
        assert_eq!(article.questions, ["¿Cuánto tarda?"]);
        assert_eq!(article.tags, ["envios"]);
        assert_eq!(article.queue.as_deref(), Some("logistica"));
        assert!(article.escalate);
        assert_eq!(article.body, "Llega en 3 días.");
        assert_eq!(article.passages.len(), 1);
    }

    #[test]
    fn translations_name_their_original() {
        let text = GOOD.replace("tags:", "lang: en\ntranslation_of: ' envios '\ntags:");
        let article = parse_article("en/shipping", &text).unwrap();
        assert_eq!(article.translation_of.as_deref(), Some("envios"));
        assert_eq!(article.lang.as_deref(), Some("en"));
        assert_eq!(parse_article("envios", GOOD).unwrap().translation_of, None);
        let bad = GOOD.replace("tags:", "translation_of: envios.md\ntags:");
        assert_eq!(
            parse_article("en/shipping", &bad),
            Err(ArticleError::BadTranslationOf("envios.md".into()))
        );
    }

    #[test]
    fn crlf_and_bom_are_accepted() {
        let text = format!("\u{feff}{}", GOOD.replace('\n', "\r\n"));
        let article = parse_article("a", &text).unwrap();
        assert_eq!(article.title, "Envíos");
        assert_eq!(article.passage_text(0), "Llega en 3 días.");
    }

    #[test]
    fn broken_files_have_reasons() {
        assert_eq!(parse_article("a", "Hola"), Err(ArticleError::NoFrontMatter));
        assert_eq!(
            parse_article("a", "---\ntitle: x\n"),
            Err(ArticleError::UnclosedFrontMatter)
        );
        assert_eq!(
            parse_article("a", "---\ntags: [a]\n---\nbody"),
            Err(ArticleError::MissingTitle)
        );
        assert_eq!(
            parse_article("a", "---\ntitle: x\n---\n  \n"),
            Err(ArticleError::EmptyBody)
        );
        assert!(matches!(
            parse_article("a", "---\ntitle: [unclosed\n---\nbody"),
            Err(ArticleError::BadYaml(_))
        ));
        for bad in [
            "../etc",
            "cancelar-pedido.bak",
            "cambiar-direccion.anything",
            "a.md",
            "a/./b",
            "a//b",
            "/a",
            "a b",
            "a\\b",
        ] {
            assert!(
                matches!(parse_article(bad, GOOD), Err(ArticleError::BadId(_))),
                "{bad}"
            );
        }
        for good in ["envios", "pagos/Tarjetas", "faq_2", "envío-rápido"] {
            assert!(parse_article(good, GOOD).is_ok(), "{good}");
        }
    }
}
