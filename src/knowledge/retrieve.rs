//! From a customer message to ranked, scored articles.
//!
//! 1. [`prepare`]: normalize the message and keep its content words.
//! 2. The index runs one RRF-fused query over the sparse (and dense)
//!    vectors and returns points: passages and questions.
//! 3. [`rank`]: points are grouped by article (its best-ranked point picks
//!    the passage to show), each candidate article gets its
//!    [`Features`](super::confidence::Features), and candidates are ordered
//!    by the resulting confidence, so the score order and the best-first
//!    order are the same thing.

use std::collections::HashMap;

use super::catalog::Catalog;
use super::chat::expand_abbreviations;
use super::confidence::{
    Features, article_coverage, query_stems, question_features, with_gram_ids, word_weights,
};
use super::index::Scored;
use super::lexicon::Lexicon;
use super::sparse::{CHAR_SIGNAL, NamedSparse, QueryWord, SparseEncoder, query_prefetches};
use super::text::normalize;

/// Query weight of a glossary translation relative to the customer's own
/// word: a hint, not a second copy of the word.
const TRANSLATION_WEIGHT: f32 = 0.7;

/// Candidates taken from each signal before fusion. Only the first dozen
/// fused articles are scored, and with RRF's `k = 5` a rank beyond 40 adds
/// less than a seventh of a first place; every candidate costs Qdrant an id
/// lookup per segment and vector. On the dev set 40 ranks like 50 (30 lost
/// a little MRR).
pub const PREFETCH_LIMIT: usize = 40;
/// Fused points considered (several per article).
pub const FUSED_LIMIT: usize = 50;
/// Candidate articles scored after grouping.
const CANDIDATES: usize = 12;

/// A message ready to be matched.
#[derive(Debug, Clone)]
pub struct PreparedQuery {
    pub normalized: String,
    /// Content words (weight 1) and their glossary translations (lower).
    pub terms: Vec<(String, f32)>,
    /// Content words; each word's stems include its translations' stems.
    pub words: Vec<QueryWord>,
}

impl PreparedQuery {
    /// Nothing to match: only stop words, emojis or punctuation.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// Normalizes a message, extracts its content words and expands them with
/// the cross-language glossary.
pub fn prepare(encoder: &SparseEncoder, message: &str) -> PreparedQuery {
    let normalized = expand_abbreviations(&normalize(message));
    let mut words = encoder.content_words(&normalized);
    let mut terms: Vec<(String, f32)> = words.iter().map(|w| (w.word.clone(), 1.0)).collect();
    let lexicon = Lexicon::builtin();
    for word in words.iter_mut() {
        for translation in lexicon.translations(&word.word) {
            terms.push((translation.to_owned(), TRANSLATION_WEIGHT));
            word.stems.extend(encoder.query_word(translation).stems);
        }
        word.stems.sort_unstable();
        word.stems.dedup();
    }
    PreparedQuery {
        normalized,
        terms,
        words,
    }
}

/// The sparse query vectors of a prepared message, one per signal.
/// Trigrams found in more than a tenth of a large knowledge base
/// ("stop-grams" such as `cio`) are left out: they barely move IDF-weighted
/// scores but have the longest posting lists, so they would dominate the
/// query's cost.
pub fn query_vectors(
    encoder: &SparseEncoder,
    catalog: &Catalog,
    query: &PreparedQuery,
) -> NamedSparse {
    let mut vectors = encoder.encode_query(&query.terms, &query.words);
    for (name, vector) in vectors.iter_mut() {
        if *name != CHAR_SIGNAL {
            continue;
        }
        let keep: Vec<bool> = vector
            .indices
            .iter()
            .map(|g| !catalog.is_stop_gram(*g))
            .collect();
        let mut i = 0;
        vector.indices.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let mut j = 0;
        vector.values.retain(|_| {
            j += 1;
            keep[j - 1]
        });
    }
    query_prefetches(&vectors)
}

/// One ranked article.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub article: usize,
    pub passage: usize,
    pub features: Features,
    pub confidence: f32,
}

/// Groups fused points by article, scores the candidates and orders them.
pub fn rank(
    catalog: &Catalog,
    query: &PreparedQuery,
    fused: &[Scored],
    limit: usize,
) -> Vec<Ranked> {
    let mut order: Vec<(usize, usize)> = Vec::new();
    // An article's best point stands for it (summing its points favours
    // long articles with many sections over the one that answers).
    let mut fused_best: HashMap<usize, f32> = HashMap::new();
    // The index may return equal scores in any order: break ties by point
    // id so the same query always ranks the same way.
    let mut fused: Vec<&Scored> = fused.iter().collect();
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    for point in fused {
        let Some(target) = catalog.points.get(&point.id) else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = fused_best.entry(target.article) {
            slot.insert(point.score);
            order.push((target.article, target.passage));
        }
    }
    order.truncate(CANDIDATES);
    let top_fused = order.first().map_or(1.0, |(a, _)| fused_best[a]);
    if order.is_empty() {
        return Vec::new();
    }
    let weights = word_weights(catalog, &query.words);
    let stems = query_stems(&query.words);
    let gram_words = with_gram_ids(catalog, &query.words);
    let coverages: Vec<(f32, f32)> = order
        .iter()
        .map(|(article, _)| article_coverage(&gram_words, &weights, &catalog.profile(*article)))
        .collect();
    let questions: Vec<(f32, f32)> = order
        .iter()
        .map(|(article, _)| {
            question_features(&query.words, &weights, &stems, &catalog.profile(*article))
        })
        .collect();
    let mut ranked: Vec<Ranked> = order
        .iter()
        .enumerate()
        .map(|(position, &(article, passage))| {
            let (coverage, head_coverage) = coverages[position];
            let best_other = coverages
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != position)
                .map(|(_, c)| c.0)
                .fold(0.0f32, f32::max);
            let features = Features {
                coverage,
                head_coverage,
                rank: 1.0 / (1.0 + position as f32),
                margin: coverage - best_other,
                fused: fused_best[&article] / top_fused,
                question_coverage: questions[position].0,
                question_match: questions[position].1,
            };
            Ranked {
                article,
                passage,
                confidence: features.confidence(),
                features,
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.article.cmp(&b.article))
    });
    ranked.truncate(limit);
    ranked
}
