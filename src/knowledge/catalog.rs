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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::article::Article;
use super::sparse::{QueryWord, SparseEncoder};
use super::text::{normalize, words};

/// Bump when the way vectors are computed changes: every hash changes and
/// the whole index is re-embedded on the next start.
pub const ENCODER_VERSION: &str = "ventana-sparse-v4";

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
    /// The text its vectors are computed from.
    pub text: String,
    /// The knowledge base's stop-grams (shared by all points): left out of
    /// the trigram vector; those found in `text` are part of its hash.
    pub stop_grams: Arc<HashSet<u32>>,
    pub hash: String,
    pub payload: serde_json::Map<String, serde_json::Value>,
}

/// An article's terms: stem hashes (all languages) and trigram hashes, sorted.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub stems: Vec<u32>,
    pub grams: Vec<u32>,
    /// Stems of title and questions only: the article's own summary of
    /// what it answers.
    pub head_stems: Vec<u32>,
    /// The title and each question as lists of content words, each word
    /// as its sorted stems.
    pub heads: Vec<Vec<Vec<u32>>>,
}

/// One consistent version of the knowledge base.
#[derive(Debug, Default)]
pub struct Catalog {
    pub articles: Vec<Arc<Article>>,
    pub by_id: HashMap<String, usize>,
    pub profiles: Vec<Profile>,
    pub points: HashMap<u64, PointRef>,
    /// Number of articles containing each stem.
    pub df: HashMap<u32, u32>,
    /// Number of articles containing each trigram.
    pub gram_df: HashMap<u32, u32>,
}

impl Catalog {
    /// Builds the catalog and the points it wants stored.
    pub fn build(
        articles: Vec<Article>,
        encoder: &SparseEncoder,
        dense_model: Option<&str>,
    ) -> (Catalog, Vec<PlannedPoint>) {
        let mut catalog = Catalog::default();
        let mut planned = Vec::new();
        let mut words_cache: HashMap<String, QueryWord> = HashMap::new();
        for (index, article) in articles.into_iter().enumerate() {
            let profile = profile_of(&article, encoder, &mut words_cache);
            for stem in &profile.stems {
                *catalog.df.entry(*stem).or_insert(0) += 1;
            }
            for gram in &profile.grams {
                *catalog.gram_df.entry(*gram).or_insert(0) += 1;
            }
            plan_points(
                index,
                &article,
                dense_model,
                &mut catalog.points,
                &mut planned,
            );
            catalog.by_id.insert(article.id.clone(), index);
            catalog.profiles.push(profile);
            catalog.articles.push(Arc::new(article));
        }
        let all_stop_grams: Arc<HashSet<u32>> = Arc::new(
            catalog
                .gram_df
                .keys()
                .copied()
                .filter(|g| catalog.is_stop_gram(*g))
                .collect(),
        );
        for point in planned.iter_mut() {
            let mut found = HashSet::new();
            for word in words(&normalize(&point.text)) {
                if encoder.is_stopword(word) {
                    continue;
                }
                let entry = word_entry(&mut words_cache, encoder, word);
                found.extend(
                    entry
                        .grams
                        .iter()
                        .copied()
                        .filter(|g| all_stop_grams.contains(g)),
                );
            }
            let stop_grams = sorted(found);
            let listed: String = stop_grams.iter().map(|g| format!("{g:x},")).collect();
            point.hash = content_hash(&[&point.hash, &listed]);
            point
                .payload
                .insert("hash".into(), point.hash.clone().into());
            point.stop_grams = all_stop_grams.clone();
        }
        (catalog, planned)
    }

    /// Whether a trigram is in more than a tenth of a large knowledge base
    /// (at least [`STOP_GRAM_MIN_DF`] articles). Stop-grams (such as `cio`)
    /// barely move IDF-weighted scores but have the longest posting lists:
    /// queries leave them out, so documents do not store them either.
    pub fn is_stop_gram(&self, gram: u32) -> bool {
        let limit = (self.articles.len() / 10).max(STOP_GRAM_MIN_DF) as u32;
        self.gram_df.get(&gram).copied().unwrap_or(0) > limit
    }

    pub fn article(&self, id: &str) -> Option<&Arc<Article>> {
        self.by_id.get(id).map(|&i| &self.articles[i])
    }

    /// Inverse document frequency of a stem, in nats; unseen stems get the
    /// highest value.
    pub fn idf(&self, df: u32) -> f32 {
        let n = self.articles.len().max(1) as f32;
        (1.0 + n / (df as f32 + 0.5)).ln()
    }
}

fn word_entry<'a>(
    cache: &'a mut HashMap<String, QueryWord>,
    encoder: &SparseEncoder,
    word: &str,
) -> &'a QueryWord {
    if !cache.contains_key(word) {
        cache.insert(word.to_owned(), encoder.query_word(word));
    }
    &cache[word]
}

fn terms_of(
    text: &str,
    encoder: &SparseEncoder,
    cache: &mut HashMap<String, QueryWord>,
    stems: &mut HashSet<u32>,
    grams: Option<&mut HashSet<u32>>,
) {
    let normalized = normalize(text);
    let mut grams = grams;
    for word in words(&normalized) {
        if encoder.is_stopword(word) {
            continue;
        }
        let entry = word_entry(cache, encoder, word);
        stems.extend(entry.stems.iter().copied());
        if let Some(grams) = grams.as_deref_mut() {
            grams.extend(entry.grams.iter().copied());
        }
    }
}

fn sorted(set: HashSet<u32>) -> Vec<u32> {
    let mut v: Vec<u32> = set.into_iter().collect();
    v.sort_unstable();
    v
}

fn head_words(
    text: &str,
    encoder: &SparseEncoder,
    cache: &mut HashMap<String, QueryWord>,
) -> Vec<Vec<u32>> {
    let normalized = normalize(text);
    let mut out: Vec<Vec<u32>> = Vec::new();
    for word in words(&normalized) {
        if encoder.is_stopword(word) {
            continue;
        }
        let stems = word_entry(cache, encoder, word).stems.clone();
        if !stems.is_empty() && !out.contains(&stems) {
            out.push(stems);
        }
    }
    out
}

fn profile_of(
    article: &Article,
    encoder: &SparseEncoder,
    cache: &mut HashMap<String, QueryWord>,
) -> Profile {
    let mut head = HashSet::new();
    let mut heads = Vec::new();
    for text in std::iter::once(&article.title).chain(&article.questions) {
        terms_of(text, encoder, cache, &mut head, None);
        heads.push(head_words(text, encoder, cache));
    }
    let mut stems = head.clone();
    let mut grams = HashSet::new();
    let mut all = String::with_capacity(article.body.len() + 256);
    all.push_str(&article.title);
    all.push('\n');
    all.push_str(&article.questions.join("\n"));
    all.push('\n');
    all.push_str(&article.tags.join(" "));
    all.push('\n');
    all.push_str(&article.body);
    terms_of(&all, encoder, cache, &mut stems, Some(&mut grams));
    Profile {
        stems: sorted(stems),
        grams: sorted(grams),
        head_stems: sorted(head),
        heads,
    }
}

/// The text a passage is indexed with: title, heading, body and the
/// article's questions (a section rarely repeats the words customers use;
/// the questions do).
pub fn passage_text(article: &Article, passage: usize) -> String {
    let p = &article.passages[passage];
    let heading = p.heading.as_deref().unwrap_or("");
    format!(
        "{}\n{}\n{}\n{}",
        article.title,
        heading,
        p.text,
        article.questions.join("\n")
    )
}

fn plan_points(
    index: usize,
    article: &Article,
    dense_model: Option<&str>,
    points: &mut HashMap<u64, PointRef>,
    planned: &mut Vec<PlannedPoint>,
) {
    for passage in 0..article.passages.len() {
        let text = passage_text(article, passage);
        let id = point_id(&article.id, passage);
        let hash = content_hash(&[
            ENCODER_VERSION,
            dense_model.unwrap_or(""),
            &article.id,
            &text,
        ]);
        let payload = json!({
            "article_id": article.id,
            "kind": "passage",
            "passage": passage,
            "title": article.title,
            "heading": article.passages[passage].heading,
            "lang": article.lang,
        });
        let serde_json::Value::Object(payload) = payload else {
            unreachable!("json! object")
        };
        points.insert(
            id,
            PointRef {
                article: index,
                passage,
            },
        );
        // The hash is completed (and stored in the payload) once the
        // knowledge base's stop-grams are known.
        planned.push(PlannedPoint {
            id,
            text,
            stop_grams: Arc::default(),
            hash,
            payload,
        });
    }
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
