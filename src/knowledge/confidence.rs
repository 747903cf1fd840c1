//! The confidence in [0, 1] that a retrieved article answers a message.
//!
//! Raw BM25 and RRF scores grow with the number of articles and the length
//! of the message, so they cannot be compared with a fixed threshold. The
//! confidence is instead a logistic function of features that mean the same
//! thing in any knowledge base:
//!
//! - **coverage**: the share of the message's informative words (weighted
//!   by IDF, so "envío" counts more than "pedido") that the article contains,
//!   exactly after stemming or, for typos, through most of their trigrams;
//! - **head coverage**: the same share against the article's title and
//!   listed questions only, its own summary of what it answers;
//! - **rank**: `1 / (1 + r)` for the article's position `r` in Qdrant's
//!   fused ranking;
//! - **fused**: its RRF score relative to the best candidate's;
//! - **margin**: how much better covered it is than the best other
//!   candidate (an ambiguous message gets a lower confidence);
//! - **question coverage / question match**: how much of the message one
//!   of its listed questions (or its title) covers, and how much of that
//!   question the message contains.
//!
//! The weights were fitted by logistic regression on a labelled dev set
//! (outcome: "this top article is the expected one"), so the score reads as
//! a probability; `docs/retrieval.md` has the procedure and the figures.

use serde::Serialize;

use super::catalog::{Catalog, Profile};
use super::sparse::QueryWord;

/// Below this confidence the bot should say it does not know. On the dev
/// set, top passages scoring at least this are right about four times in
/// five, and above 0.8 more than nine times in ten (see `docs/retrieval.md`);
/// override with `retrieval.min_confidence`.
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.6;

/// A word whose trigrams are at least this much inside an article counts as
/// a (typo'd) occurrence.
const FUZZY_MIN: f32 = 0.7;
/// Credit of a fuzzy occurrence relative to an exact one.
const FUZZY_WEIGHT: f32 = 0.8;
/// Words shorter than this never match fuzzily (too many accidental hits).
const FUZZY_MIN_LEN: usize = 4;

/// Logistic weights, fitted on the Aurora dev set (see `docs/retrieval.md`):
/// intercept, then rank, fused, coverage, head coverage, margin, question
/// coverage, question match.
const WEIGHTS: [f32; 8] = [-6.46, 3.37, 2.89, 0.36, 0.89, 1.52, 0.72, 1.1];

/// The features of one candidate article.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Features {
    pub coverage: f32,
    pub head_coverage: f32,
    pub rank: f32,
    pub margin: f32,
    pub fused: f32,
    /// Best share of the message covered by one question (or the title).
    pub question_coverage: f32,
    /// Best share of one question's words (IDF-weighted) found in the message.
    pub question_match: f32,
}

impl Features {
    /// The calibrated confidence.
    pub fn confidence(&self) -> f32 {
        let [b0, rank, fused, coverage, head, margin, q_cov, q_match] = WEIGHTS;
        let z = b0
            + rank * self.rank
            + fused * self.fused
            + coverage * self.coverage
            + head * self.head_coverage
            + margin * self.margin
            + q_cov * self.question_coverage
            + q_match * self.question_match;
        1.0 / (1.0 + (-z).exp())
    }
}

/// IDF weight of each query word in this catalog.
pub fn word_weights(catalog: &Catalog, words: &[QueryWord]) -> Vec<f32> {
    words
        .iter()
        .map(|w| {
            // The most common of the word's forms (stems in each language,
            // translations) sets its weight: it is what will match.
            let df = w.stems.iter().map(|s| catalog.df(*s)).max().unwrap_or(0);
            catalog.idf(df)
        })
        .collect()
}

/// Weighted share of the words found in a sorted stem list (and, if given,
/// fuzzily in a sorted trigram list).
pub fn coverage(words: &[QueryWord], weights: &[f32], stems: &[u32], grams: Option<&[u32]>) -> f32 {
    let total: f32 = weights.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut found = 0.0;
    for (word, weight) in words.iter().zip(weights) {
        found += weight * occurrence(word, stems, grams);
    }
    (found / total).clamp(0.0, 1.0)
}

fn occurrence(word: &QueryWord, stems: &[u32], grams: Option<&[u32]>) -> f32 {
    if word.stems.iter().any(|s| stems.binary_search(s).is_ok()) {
        return 1.0;
    }
    let Some(grams) = grams else { return 0.0 };
    if word.word.chars().count() < FUZZY_MIN_LEN || word.grams.is_empty() {
        return 0.0;
    }
    let inside = word
        .grams
        .iter()
        .filter(|g| grams.binary_search(g).is_ok())
        .count();
    let share = inside as f32 / word.grams.len() as f32;
    if share >= FUZZY_MIN {
        share * FUZZY_WEIGHT
    } else {
        0.0
    }
}

/// The stems of all query words, sorted and distinct (for
/// [`question_features`]).
pub fn query_stems(words: &[QueryWord]) -> Vec<u32> {
    let mut stems: Vec<u32> = words.iter().flat_map(|w| w.stems.iter().copied()).collect();
    stems.sort_unstable();
    stems.dedup();
    stems
}

/// Best question coverage and best question match of one article (see
/// [`Features`]). `query_stems` comes from [`query_stems`].
pub fn question_features(
    words: &[QueryWord],
    weights: &[f32],
    query_stems: &[u32],
    profile: &Profile<'_>,
) -> (f32, f32) {
    let total_weight: f32 = weights.iter().sum();
    let mut best_cov = 0.0f32;
    let mut best_match = 0.0f32;
    for head in profile.heads() {
        let head: Vec<_> = head.collect();
        if total_weight > 0.0 {
            // Coverage of the message by this question's words.
            let mut found = 0.0;
            for (word, weight) in words.iter().zip(weights) {
                let inside = head
                    .iter()
                    .any(|h| word.stems.iter().any(|s| h.stems.contains(s)));
                if inside {
                    found += weight;
                }
            }
            best_cov = best_cov.max((found / total_weight).clamp(0.0, 1.0));
        }
        let (mut found, mut total) = (0.0f32, 0.0f32);
        for word in &head {
            total += word.idf;
            if word
                .stems
                .iter()
                .any(|s| query_stems.binary_search(s).is_ok())
            {
                found += word.idf;
            }
        }
        if total > 0.0 {
            best_match = best_match.max(found / total);
        }
    }
    (best_cov, best_match)
}

/// The query words with each trigram hash replaced by the catalog's id for
/// it (`u32::MAX`, found nowhere, when no article has it), as
/// [`article_coverage`] wants them.
pub fn with_gram_ids(catalog: &Catalog, words: &[QueryWord]) -> Vec<QueryWord> {
    words
        .iter()
        .map(|w| QueryWord {
            grams: w
                .grams
                .iter()
                .map(|g| catalog.gram_id(*g).unwrap_or(u32::MAX))
                .collect(),
            ..w.clone()
        })
        .collect()
}

/// Coverage and head coverage of one article; `words` from
/// [`with_gram_ids`].
pub fn article_coverage(words: &[QueryWord], weights: &[f32], profile: &Profile<'_>) -> (f32, f32) {
    let grams = profile.gram_ids();
    (
        coverage(words, weights, profile.stems, Some(&grams)),
        coverage(words, weights, profile.head_stems, None),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_is_a_probability() {
        for coverage in [0.0, 0.3, 1.0] {
            for margin in [-1.0, 0.0, 1.0] {
                let f = Features {
                    coverage,
                    head_coverage: coverage,
                    rank: 1.0,
                    margin,
                    fused: 1.0,
                    ..Default::default()
                };
                let c = f.confidence();
                assert!((0.0..=1.0).contains(&c), "{c}");
            }
        }
        let strong = Features {
            coverage: 1.0,
            head_coverage: 1.0,
            rank: 1.0,
            margin: 0.5,
            fused: 1.0,
            question_coverage: 1.0,
            question_match: 1.0,
        };
        let weak = Features {
            coverage: 0.1,
            head_coverage: 0.0,
            rank: 0.2,
            margin: -0.3,
            fused: 0.2,
            ..Default::default()
        };
        assert!(strong.confidence() > DEFAULT_MIN_CONFIDENCE);
        assert!(weak.confidence() < DEFAULT_MIN_CONFIDENCE);
    }

    #[test]
    fn typos_count_partly() {
        let encoder = crate::knowledge::sparse::SparseEncoder::new().unwrap();
        let doc = encoder.query_word("reembolso");
        let mut stems = doc.stems.clone();
        stems.sort_unstable();
        let typo = encoder.query_word("rembolso");
        let exact = coverage(std::slice::from_ref(&doc), &[1.0], &stems, Some(&doc.grams));
        let fuzzy = coverage(
            std::slice::from_ref(&typo),
            &[1.0],
            &stems,
            Some(&doc.grams),
        );
        assert_eq!(exact, 1.0);
        assert!(fuzzy > 0.5 && fuzzy < 1.0, "{fuzzy}");
    }
}
