//! The in-memory side of the knowledge base: the loaded articles, the
//! points they become in the index, and the per-article term profiles the
//! confidence is computed from.
//!
//! A catalog is immutable; a reload builds a new one and swaps it in, so a
//! search always sees one consistent version. Each passage is one point (its
//! text includes the article's questions, so they are matched with it); the
//! point id is derived from the article id and the passage's position, and
//! every point carries a hash of exactly what its vectors were computed
//! from: the indexer only re-embeds points whose hash changed.
//!
//! A catalog is made in two steps: a [`Plan`] (the articles, their points
//! and the knowledge base's stop-grams: what the indexer needs), then
//! [`Catalog::from_plan`] adds the term profiles (what searches need). The
//! knowledge base indexes between the two. Before a bulk load the plan
//! forgets the words it has stemmed ([`Plan::forget_words`]), so neither
//! they nor the profiles are in memory while Qdrant builds segments; the
//! profiles then take a second pass over the articles' words. Otherwise
//! they reuse the plan's words.
//!
//! Memory: a catalog of 10,000 articles holds millions of terms, so profiles
//! live in a few flat arrays (one row per article, see [`Rows`]) instead of
//! a `Vec` per article and per question word, trigrams as small dense ids
//! stored as varint gaps (about one byte each instead of four), document
//! frequencies in a sorted array, and a planned point keeps only its article
//! and position: its text and payload are made again when (and only if) it
//! is embedded.

mod compact;

pub use compact::Rows;
use compact::{decode_gaps, encode_gaps, sorted};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::article::Article;
use super::sparse::SparseEncoder;
use super::text::{normalize, words};

/// Bump when the way vectors are computed changes: every hash changes and
/// the whole index is re-embedded on the next start.
pub const ENCODER_VERSION: &str = "ventana-sparse-v5";

/// Trigrams in at most this many articles are never stop-grams.
const STOP_GRAM_MIN_DF: usize = 100;

/// Where a point leads: an article and the passage to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointRef {
    pub article: usize,
    pub passage: usize,
}

/// A point as the catalog wants it stored.
#[derive(Debug, Clone)]
pub struct PlannedPoint {
    pub id: u64,
    pub article: Arc<Article>,
    pub passage: usize,
    /// The knowledge base's stop-grams (shared by all points): left out of
    /// the trigram vector; those found in the text are part of its hash.
    pub stop_grams: Arc<HashSet<u32>>,
    pub hash: String,
}

impl PlannedPoint {
    /// The text its vectors are computed from.
    pub fn text(&self) -> String {
        passage_text(&self.article, self.passage)
    }

    /// What the index stores with it, hash included.
    pub fn payload(&self) -> serde_json::Map<String, serde_json::Value> {
        let payload = json!({
            "article_id": self.article.id,
            "kind": "passage",
            "passage": self.passage,
            "title": self.article.title,
            "heading": self.article.passages[self.passage].heading,
            "lang": self.article.lang,
            "hash": self.hash,
        });
        let serde_json::Value::Object(payload) = payload else {
            unreachable!("json! object")
        };
        payload
    }
}

/// One article's terms, borrowed from the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    /// Stem hashes of all its text (all languages), sorted.
    pub stems: &'a [u32],
    /// Trigram ids of all its text (see [`Catalog::gram_id`]), as varint
    /// gaps; [`Profile::gram_ids`] decodes them.
    grams: &'a [u8],
    /// Stems of title and questions only, sorted: the article's own
    /// summary of what it answers.
    pub head_stems: &'a [u32],
    /// The title and each question: ranges of [`Profile::words`] rows.
    heads: &'a [(u32, u32)],
    words: &'a HeadWords,
}

impl<'a> Profile<'a> {
    /// The article's trigram ids, sorted.
    pub fn gram_ids(&self) -> Vec<u32> {
        decode_gaps(self.grams)
    }

    /// The title and each question as lists of content words, each word
    /// as its sorted stems and IDF.
    pub fn heads(&self) -> impl Iterator<Item = impl Iterator<Item = HeadWord<'a>>> + 'a {
        let words = self.words;
        self.heads.iter().map(move |&(start, end)| {
            (start as usize..end as usize).map(move |w| HeadWord {
                stems: words.stems.row(w),
                idf: words.idf[w],
            })
        })
    }
}

/// A content word of a title or question.
#[derive(Debug, Clone, Copy)]
pub struct HeadWord<'a> {
    pub stems: &'a [u32],
    /// IDF of its most common stem in this catalog.
    pub idf: f32,
}

/// The content words of all titles and questions.
#[derive(Debug, Clone, Default)]
struct HeadWords {
    stems: Rows<u32>,
    idf: Vec<f32>,
}

/// One consistent version of the knowledge base.
#[derive(Debug, Default)]
pub struct Catalog {
    pub articles: Vec<Arc<Article>>,
    pub by_id: HashMap<String, usize>,
    /// Articles by the id they declare as `translation_of`.
    translations: HashMap<String, Vec<usize>>,
    pub points: HashMap<u64, PointRef>,
    stems: Rows<u32>,
    grams: Rows<u8>,
    /// Dense id of every trigram hash found in an article.
    gram_ids: HashMap<u32, u32>,
    head_stems: Rows<u32>,
    heads: Rows<(u32, u32)>,
    head_words: HeadWords,
    /// Number of articles containing each stem, sorted by stem.
    df: Vec<(u32, u32)>,
    /// Trigrams in more than a tenth of a large knowledge base.
    stop_grams: Arc<HashSet<u32>>,
}

/// The distinct words seen while building, with their stems and trigrams
/// computed once (stemming in three languages is most of the build's work).
#[derive(Default)]
struct Vocabulary {
    ids: HashMap<Box<str>, Option<u32>>,
    stems: Rows<u32>,
    /// Trigram ids (see [`Catalog::gram_id`]).
    grams: Rows<u32>,
    /// The hash of each trigram id.
    gram_hashes: Vec<u32>,
}

impl Vocabulary {
    /// The word's id, or `None` for a stop word.
    fn id(
        &mut self,
        encoder: &SparseEncoder,
        gram_ids: &mut HashMap<u32, u32>,
        word: &str,
    ) -> Option<u32> {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = encoder.document_word(word).map(|terms| {
            self.stems.push(terms.stems);
            let hashes = &mut self.gram_hashes;
            self.grams.push(terms.grams.into_iter().map(|hash| {
                *gram_ids.entry(hash).or_insert_with(|| {
                    hashes.push(hash);
                    hashes.len() as u32 - 1
                })
            })) as u32
        });
        self.ids.insert(word.into(), id);
        id
    }

    /// Ids of the content words of a normalized text, sorted, distinct.
    fn content_ids(
        &mut self,
        encoder: &SparseEncoder,
        gram_ids: &mut HashMap<u32, u32>,
        normalized: &str,
    ) -> Vec<u32> {
        let mut ids: Vec<u32> = words(normalized)
            .filter_map(|w| self.id(encoder, gram_ids, w))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// The articles and the points they become, before the term profiles: what
/// the indexer needs. [`Catalog::from_plan`] adds the profiles, which only
/// searches need.
pub struct Plan {
    articles: Vec<Arc<Article>>,
    by_id: HashMap<String, usize>,
    points: HashMap<u64, PointRef>,
    stop_grams: Arc<HashSet<u32>>,
    /// The words stemmed while planning, with the trigram ids their rows
    /// use, until forgotten.
    words: Option<(Vocabulary, HashMap<u32, u32>)>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("articles", &self.articles.len())
            .field("points", &self.points.len())
            .field("stop_grams", &self.stop_grams.len())
            .field("words", &self.words.is_some())
            .finish()
    }
}

impl Plan {
    /// Plans the points for `articles`: ids, and hashes that cover the text,
    /// the encoder, the dense model and the knowledge base's stop-grams found
    /// in the text.
    pub fn new(
        articles: Vec<Article>,
        encoder: &SparseEncoder,
        dense_model: Option<&str>,
    ) -> (Plan, Vec<PlannedPoint>) {
        let mut plan = Plan {
            articles: Vec::with_capacity(articles.len()),
            by_id: HashMap::with_capacity(articles.len()),
            points: HashMap::new(),
            stop_grams: Arc::default(),
            words: None,
        };
        let mut planned = Vec::new();
        let mut vocab = Vocabulary::default();
        let mut gram_ids: HashMap<u32, u32> = HashMap::new();
        // Content words of every planned point, for its stop-gram list.
        let mut point_words: Rows<u32> = Rows::default();
        // Articles containing each trigram id.
        let mut gram_df: Vec<u32> = Vec::new();
        for (index, article) in articles.into_iter().enumerate() {
            let article = Arc::new(article);
            let ids = vocab.content_ids(encoder, &mut gram_ids, &normalize(&all_text(&article)));
            let grams = sorted(
                ids.iter()
                    .flat_map(|&id| vocab.grams.row(id as usize))
                    .copied()
                    .collect(),
            );
            gram_df.resize(vocab.gram_hashes.len(), 0);
            for gram in grams {
                gram_df[gram as usize] += 1;
            }
            for passage in 0..article.passages.len() {
                let text = passage_text(&article, passage);
                let normalized = normalize(&text);
                point_words.push(vocab.content_ids(encoder, &mut gram_ids, &normalized));
                let id = point_id(&article.id, passage);
                plan.points.insert(
                    id,
                    PointRef {
                        article: index,
                        passage,
                    },
                );
                // The hash is completed once the knowledge base's
                // stop-grams are known.
                let hash = content_hash(&[
                    ENCODER_VERSION,
                    dense_model.unwrap_or(""),
                    &article.id,
                    &text,
                ]);
                planned.push(PlannedPoint {
                    id,
                    article: article.clone(),
                    passage,
                    stop_grams: Arc::default(),
                    hash,
                });
            }
            plan.by_id.insert(article.id.clone(), index);
            plan.articles.push(article);
        }
        let limit = stop_gram_limit(plan.articles.len());
        let is_stop: Vec<bool> = gram_df.iter().map(|&n| n > limit).collect();
        plan.stop_grams = Arc::new(
            (0..is_stop.len())
                .filter(|&g| is_stop[g])
                .map(|g| vocab.gram_hashes[g])
                .collect(),
        );
        for (i, point) in planned.iter_mut().enumerate() {
            let mut found: Vec<u32> = point_words
                .row(i)
                .iter()
                .flat_map(|&w| vocab.grams.row(w as usize))
                .filter(|&&g| is_stop[g as usize])
                .map(|&g| vocab.gram_hashes[g as usize])
                .collect();
            found.sort_unstable();
            found.dedup();
            let listed: String = found.iter().map(|g| format!("{g:x},")).collect();
            point.hash = content_hash(&[&point.hash, &listed]);
            point.stop_grams = plan.stop_grams.clone();
        }
        plan.points.shrink_to_fit();
        plan.words = Some((vocab, gram_ids));
        (plan, planned)
    }

    /// Drops the words stemmed while planning: [`Catalog::from_plan`] then
    /// stems them again. For a bulk load, where Qdrant's segment building
    /// needs the memory.
    pub fn forget_words(&mut self) {
        self.words = None;
    }
}

impl Catalog {
    /// Adds the articles' term profiles to a plan, from the plan's words
    /// unless it forgot them.
    pub fn from_plan(plan: Plan, encoder: &SparseEncoder) -> Catalog {
        let (mut vocab, gram_ids) = plan.words.unwrap_or_default();
        let mut catalog = Catalog {
            articles: plan.articles,
            by_id: plan.by_id,
            points: plan.points,
            stop_grams: plan.stop_grams,
            gram_ids,
            ..Catalog::default()
        };
        for (index, article) in catalog.articles.iter().enumerate() {
            if let Some(original) = &article.translation_of {
                catalog
                    .translations
                    .entry(original.clone())
                    .or_default()
                    .push(index);
            }
        }
        let mut df: HashMap<u32, u32> = HashMap::new();
        for index in 0..catalog.articles.len() {
            let article = catalog.articles[index].clone();
            catalog.add_profile(&article, encoder, &mut vocab);
            for stem in catalog.stems.row(index) {
                *df.entry(*stem).or_insert(0) += 1;
            }
        }
        drop(vocab);
        catalog.df = df.into_iter().collect();
        catalog.df.sort_unstable();
        catalog.head_words.idf = (0..catalog.head_words.stems.len())
            .map(|w| {
                let stems = catalog.head_words.stems.row(w);
                catalog.idf(stems.iter().map(|s| catalog.df(*s)).max().unwrap_or(0))
            })
            .collect();
        catalog.stems.shrink_to_fit();
        catalog.grams.shrink_to_fit();
        catalog.head_stems.shrink_to_fit();
        catalog.heads.shrink_to_fit();
        catalog.head_words.stems.shrink_to_fit();
        catalog.gram_ids.shrink_to_fit();
        catalog
    }

    /// Appends the profile rows of the next article.
    fn add_profile(&mut self, article: &Article, encoder: &SparseEncoder, vocab: &mut Vocabulary) {
        let mut head: Vec<u32> = Vec::new();
        let mut heads = Vec::new();
        for text in std::iter::once(&article.title).chain(&article.questions) {
            let start = self.head_words.stems.len();
            for word in words(&normalize(text)) {
                let Some(id) = vocab.id(encoder, &mut self.gram_ids, word) else {
                    continue;
                };
                let stems = vocab.stems.row(id as usize);
                head.extend_from_slice(stems);
                let known = (start..self.head_words.stems.len())
                    .any(|w| self.head_words.stems.row(w) == stems);
                if !stems.is_empty() && !known {
                    self.head_words.stems.push(stems.iter().copied());
                }
            }
            heads.push((start as u32, self.head_words.stems.len() as u32));
        }
        let ids = vocab.content_ids(encoder, &mut self.gram_ids, &normalize(&all_text(article)));
        let mut stems = head.clone();
        let mut grams = Vec::new();
        for &id in &ids {
            stems.extend_from_slice(vocab.stems.row(id as usize));
            grams.extend_from_slice(vocab.grams.row(id as usize));
        }
        self.stems.push(sorted(stems));
        self.grams.push(encode_gaps(&sorted(grams)));
        self.head_stems.push(sorted(head));
        self.heads.push(heads);
    }

    /// The term profile of an article.
    pub fn profile(&self, article: usize) -> Profile<'_> {
        Profile {
            stems: self.stems.row(article),
            grams: self.grams.row(article),
            head_stems: self.head_stems.row(article),
            heads: self.heads.row(article),
            words: &self.head_words,
        }
    }

    /// The dense id of a trigram hash, if some article contains it.
    pub fn gram_id(&self, hash: u32) -> Option<u32> {
        self.gram_ids.get(&hash).copied()
    }

    /// Number of articles containing a stem.
    pub fn df(&self, stem: u32) -> u32 {
        self.df
            .binary_search_by_key(&stem, |&(s, _)| s)
            .map_or(0, |i| self.df[i].1)
    }

    /// Whether a trigram is in more than a tenth of a large knowledge base
    /// (at least [`STOP_GRAM_MIN_DF`] articles). Stop-grams (such as `cio`)
    /// barely move IDF-weighted scores but have the longest posting lists:
    /// queries leave them out, so documents do not store them either.
    pub fn is_stop_gram(&self, gram: u32) -> bool {
        self.stop_grams.contains(&gram)
    }

    pub fn article(&self, id: &str) -> Option<&Arc<Article>> {
        self.by_id.get(id).map(|&i| &self.articles[i])
    }

    /// The articles that declare `translation_of: id`, in catalog order.
    pub fn translations_of(&self, id: &str) -> Vec<Arc<Article>> {
        self.translations
            .get(id)
            .map(|indices| indices.iter().map(|&i| self.articles[i].clone()).collect())
            .unwrap_or_default()
    }

    /// Inverse document frequency of a stem, in nats; unseen stems get the
    /// highest value.
    pub fn idf(&self, df: u32) -> f32 {
        let n = self.articles.len().max(1) as f32;
        (1.0 + n / (df as f32 + 0.5)).ln()
    }
}

fn stop_gram_limit(articles: usize) -> u32 {
    (articles / 10).max(STOP_GRAM_MIN_DF) as u32
}

/// Everything an article says: title, questions, tags and body.
fn all_text(article: &Article) -> String {
    let mut all = String::with_capacity(article.body.len() + 256);
    all.push_str(&article.title);
    all.push('\n');
    all.push_str(&article.questions.join("\n"));
    all.push('\n');
    all.push_str(&article.tags.join(" "));
    all.push('\n');
    all.push_str(&article.body);
    all
}

/// The text a passage is indexed with: title, heading, body and the
/// article's questions (a section rarely repeats the words customers use;
/// the questions do).
pub fn passage_text(article: &Article, passage: usize) -> String {
    let heading = article.passages[passage].heading.as_deref().unwrap_or("");
    format!(
        "{}\n{}\n{}\n{}",
        article.title,
        heading,
        article.passage_text(passage),
        article.questions.join("\n")
    )
}

/// A stable 64-bit id for an article's `passage`-th passage.
pub fn point_id(article_id: &str, passage: usize) -> u64 {
    let digest = Sha256::digest(format!("{article_id}\0passage\0{passage}").as_bytes());
    // Qdrant accepts any u64; keep ids below 2^63 for clients that use i64.
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) >> 1
}

fn content_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: &str, title: &str, body: &str) -> Article {
        let text = format!("---\ntitle: {title}\n---\n\n{body}\n");
        crate::knowledge::article::parse_article(id, &text).unwrap()
    }

    /// A large base where one word is in every article.
    fn large_base(shared: &str) -> Vec<Article> {
        (0..STOP_GRAM_MIN_DF * 2)
            .map(|i| {
                // Distinct letters per article: no other trigram is common.
                let own: String = format!("{i:04}")
                    .chars()
                    .map(|d| char::from(b'k' + d.to_digit(10).unwrap() as u8))
                    .collect();
                article(
                    &format!("a{i}"),
                    &format!("Tema {own}"),
                    &format!("{shared} {own}xy"),
                )
            })
            .collect()
    }

    #[test]
    fn trigrams_in_more_than_a_tenth_of_a_large_base_are_stop_grams() {
        let encoder = SparseEncoder::new().unwrap();
        let (plan, planned) = Plan::new(large_base("devolucion"), &encoder, None);
        let catalog = Catalog::from_plan(plan, &encoder);
        let grams = |word: &str| {
            let mut out = Vec::new();
            crate::knowledge::text::char_ngrams(word, |g| {
                out.push(crate::knowledge::text::hash32(g))
            });
            out
        };
        assert!(grams("devolucion").iter().all(|g| catalog.is_stop_gram(*g)));
        assert!(grams("kkkkxy").iter().any(|g| !catalog.is_stop_gram(*g)));
        assert!(
            planned
                .iter()
                .all(|p| p.stop_grams.len() == catalog.stop_grams.len())
        );
        // Below the minimum size nothing is a stop-gram.
        let few: Vec<Article> = large_base("devolucion").into_iter().take(50).collect();
        let (plan, _) = Plan::new(few, &encoder, None);
        assert!(Catalog::from_plan(plan, &encoder).stop_grams.is_empty());
    }

    #[test]
    fn a_point_hash_covers_the_stop_grams_in_its_text() {
        let encoder = SparseEncoder::new().unwrap();
        let hash_of_first = |shared: &str| {
            Plan::new(large_base(shared), &encoder, None).1[0]
                .hash
                .clone()
        };
        let one = hash_of_first("devolucion");
        assert_eq!(one, hash_of_first("devolucion"));
        // Another shared word changes both the text and the stop-grams.
        assert_ne!(one, hash_of_first("garantia"));
        // The same first article in a small base: same text, no stop-grams.
        let small: Vec<Article> = large_base("devolucion").into_iter().take(50).collect();
        assert_ne!(one, Plan::new(small, &encoder, None).1[0].hash);
    }

    #[test]
    fn profiles_come_from_the_plan_articles() {
        let encoder = SparseEncoder::new().unwrap();
        let articles = vec![
            article("envios", "Envíos", "Enviamos en tres días hábiles."),
            article("pagos", "Pagos", "Aceptamos tarjeta y transferencia."),
        ];
        let (plan, planned) = Plan::new(articles, &encoder, None);
        let catalog = Catalog::from_plan(plan, &encoder);
        assert_eq!(planned.len(), catalog.points.len());
        for point in &planned {
            assert_eq!(
                catalog.points[&point.id].article,
                catalog.by_id[&point.article.id]
            );
        }
        let envios = catalog.profile(catalog.by_id["envios"]);
        let pagos = catalog.profile(catalog.by_id["pagos"]);
        let stems = encoder.query_word("envios").stems;
        assert!(!stems.is_empty());
        for stem in &stems {
            assert!(envios.stems.contains(stem));
            assert!(envios.head_stems.contains(stem));
            assert!(!pagos.stems.contains(stem));
            assert_eq!(catalog.df(*stem), 1);
        }
    }

    #[test]
    fn profiles_are_the_same_from_remembered_or_forgotten_words() {
        let encoder = SparseEncoder::new().unwrap();
        let articles = || {
            vec![
                article("envios", "Envíos", "Enviamos en tres días hábiles."),
                article("pagos", "Pagos y reembolsos", "Reembolsamos en cinco días."),
            ]
        };
        let kept = Catalog::from_plan(Plan::new(articles(), &encoder, None).0, &encoder);
        let (mut plan, _) = Plan::new(articles(), &encoder, None);
        plan.forget_words();
        let again = Catalog::from_plan(plan, &encoder);
        let gram_hashes = |catalog: &Catalog, article: usize| {
            let by_id: HashMap<u32, u32> = catalog.gram_ids.iter().map(|(h, i)| (*i, *h)).collect();
            sorted(
                catalog
                    .profile(article)
                    .gram_ids()
                    .iter()
                    .map(|i| by_id[i])
                    .collect(),
            )
        };
        for article in 0..2 {
            let (a, b) = (kept.profile(article), again.profile(article));
            assert_eq!(a.stems, b.stems);
            assert_eq!(a.head_stems, b.head_stems);
            assert!(!a.stems.is_empty());
            assert_eq!(gram_hashes(&kept, article), gram_hashes(&again, article));
        }
        assert_eq!(kept.df, again.df);
        assert_eq!(kept.head_words.idf, again.head_words.idf);
    }
}
