//! The article to answer from, in the customer's language when the
//! knowledge base has it.
//!
//! An article may declare `lang:` and `translation_of: <original id>` in
//! its front matter. Retrieval finds whichever version matches the words
//! best (often the original, since the glossary bridges languages); the
//! reply then quotes the version written in the customer's language: the
//! retrieved article itself if it is, otherwise its original or one of the
//! original's translations. Without such a version the retrieved article
//! is used as it is.

use std::sync::Arc;

use super::Retriever;
use crate::knowledge::{Article, Hit};
use crate::vocab::Lang;

/// The article to quote for `hit` when the customer writes in `lang`;
/// `None` when the retriever cannot show whole articles.
pub(super) fn answering_article(
    retriever: &dyn Retriever,
    hit: &Hit,
    lang: Lang,
) -> Option<Arc<Article>> {
    let article = retriever.article(&hit.article_id)?;
    if is_in(&article, lang) {
        return Some(article);
    }
    let original = article
        .translation_of
        .clone()
        .unwrap_or_else(|| article.id.clone());
    let family = retriever
        .article(&original)
        .into_iter()
        .chain(retriever.translations(&original));
    family
        .filter(|other| other.id != article.id)
        .find(|other| is_in(other, lang))
        .or(Some(article))
}

/// The article declares `lang` as its language.
fn is_in(article: &Article, lang: Lang) -> bool {
    article.lang.as_deref().and_then(Lang::parse) == Some(lang)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::article::parse_article;

    /// Articles by id, with the reverse `translation_of` lookup.
    struct Shelf(Vec<Arc<Article>>);

    #[async_trait::async_trait]
    impl Retriever for Shelf {
        async fn search(&self, _: &str, _: usize) -> anyhow::Result<Vec<Hit>> {
            Ok(Vec::new())
        }
        fn article(&self, id: &str) -> Option<Arc<Article>> {
            self.0.iter().find(|a| a.id == id).cloned()
        }
        fn translations(&self, id: &str) -> Vec<Arc<Article>> {
            self.0
                .iter()
                .filter(|a| a.translation_of.as_deref() == Some(id))
                .cloned()
                .collect()
        }
    }

    fn article(id: &str, front: &str) -> Arc<Article> {
        let text = format!("---\ntitle: {id}\n{front}\n---\nTexto.\n");
        Arc::new(parse_article(id, &text).unwrap())
    }

    fn shelf() -> Shelf {
        Shelf(vec![
            article("envios", "lang: es"),
            article("en/shipping", "lang: en\ntranslation_of: envios"),
            article("pt/frete", "lang: pt\ntranslation_of: envios"),
            article("solo", ""),
        ])
    }

    fn hit(id: &str) -> Hit {
        Hit {
            article_id: id.into(),
            title: id.into(),
            heading: None,
            text: "Texto.".into(),
            score: 0.9,
            escalate: false,
            handoff: false,
            queue: None,
            lang: None,
        }
    }

    fn answer(id: &str, lang: Lang) -> Option<String> {
        answering_article(&shelf(), &hit(id), lang).map(|a| a.id.clone())
    }

    #[test]
    fn the_version_in_the_customers_language_answers() {
        assert_eq!(answer("envios", Lang::En).as_deref(), Some("en/shipping"));
        assert_eq!(answer("envios", Lang::Es).as_deref(), Some("envios"));
        // From one translation to the original or to a sibling.
        assert_eq!(answer("en/shipping", Lang::Es).as_deref(), Some("envios"));
        assert_eq!(answer("en/shipping", Lang::Pt).as_deref(), Some("pt/frete"));
    }

    #[test]
    fn without_a_translation_the_retrieved_article_answers() {
        assert_eq!(answer("solo", Lang::En).as_deref(), Some("solo"));
        assert_eq!(answer("missing", Lang::En), None);
    }
}
