//! The sparse signals: BM25 over words, once per language, and character
//! trigrams for typos.
//!
//! Articles are written in one language and customers write in Spanish,
//! Portuguese or English, so every text is embedded three times with Qdrant
//! Edge's BM25 embedder (Snowball stemmer and stop words of that language,
//! accents folded): whichever language the message is in, one of the three
//! signals stems it the way its words were stemmed in the article. The
//! fourth signal, `chars`, holds the boundary-marked trigrams of the content
//! words, so "rembolso" still meets "reembolso". Qdrant applies IDF
//! (`Modifier::Idf`), which is why only term frequencies are stored.
//!
//! The four signals share one sparse vector in the index,
//! [`SPARSE_VECTOR`]: each keeps its terms under its own two high bits (see
//! [`tag`]), a document stores the union, and a query asks the vector once
//! per signal, so each prefetch ranks exactly as a vector of its own would
//! (a term's IDF counts only documents holding that signal's term). One
//! vector instead of four means one storage file per segment instead of
//! four: Qdrant faults in a whole 32 MB page file per sparse vector when it
//! seals a segment, which was most of a large build's peak memory.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::NotNan;

use super::chat::FILLER;
use super::text::{char_ngrams, hash32, normalize, words};

/// Languages with their own BM25 signal: `(signal name, Snowball language)`.
pub const WORD_SIGNALS: [(&str, &str); 3] = [
    ("words_es", "spanish"),
    ("words_pt", "portuguese"),
    ("words_en", "english"),
];

/// The character trigram signal.
pub const CHAR_SIGNAL: &str = "chars";

/// The index's one sparse vector, holding every signal's terms.
pub const SPARSE_VECTOR: &str = "terms";

/// The term id of `index` in the signal at `position` (in the order of
/// [`WORD_SIGNALS`] then [`CHAR_SIGNAL`]): the hash's low 30 bits under the
/// signal's two high bits, so no two signals ever share a term.
fn tag(position: usize, index: u32) -> u32 {
    debug_assert!(position < 4, "two bits hold four signals");
    (index & 0x3FFF_FFFF) | ((position as u32) << 30)
}

/// The position of a signal in the tag order.
fn position(signal: &str) -> usize {
    WORD_SIGNALS
        .iter()
        .map(|(name, _)| *name)
        .chain([CHAR_SIGNAL])
        .position(|name| name == signal)
        .unwrap_or_else(|| unreachable!("unknown sparse signal {signal}"))
}

/// One signal's terms as term ids of the index vector.
fn tagged<'a>(signal: &str, sparse: &'a Sparse) -> impl Iterator<Item = (u32, f32)> + 'a {
    let at = position(signal);
    sparse
        .indices
        .iter()
        .zip(&sparse.values)
        .map(move |(&index, &value)| (tag(at, index), value))
}

/// The query vectors of per-signal terms: one per non-empty signal, all
/// against [`SPARSE_VECTOR`], each its own prefetch in the fused query.
pub fn query_prefetches(signals: &[(&'static str, Sparse)]) -> NamedSparse {
    signals
        .iter()
        .filter(|(_, sparse)| !sparse.indices.is_empty())
        .map(|(signal, sparse)| (SPARSE_VECTOR, Sparse::from_pairs(tagged(signal, sparse))))
        .collect()
}

/// Expected passage length in tokens for BM25 length normalization; close
/// to the real average of help-centre sections after stop words.
const AVG_DOC_TOKENS: f64 = 40.0;

/// BM25 term-frequency saturation, used for the trigram vector too.
const K1: f64 = 1.2;
/// BM25 length normalization.
const B: f64 = 0.75;

/// Words whose stop-word status is remembered (about 50 bytes each); the
/// cache starts over when full. Messages repeat a small vocabulary; the
/// catalog keeps its own vocabulary while it is built.
const STOPWORD_CACHE: usize = 20_000;

/// A sparse vector: sorted unique indices with their weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sparse {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Sparse {
    /// Sorted by index; the weights of a repeated index (two hashes that
    /// agree in their low 30 bits) are added.
    fn from_pairs(pairs: impl IntoIterator<Item = (u32, f32)>) -> Self {
        let mut pairs: Vec<(u32, f32)> = pairs.into_iter().collect();
        pairs.sort_unstable_by_key(|(i, _)| *i);
        let mut out = Sparse {
            indices: Vec::with_capacity(pairs.len()),
            values: Vec::with_capacity(pairs.len()),
        };
        for (index, value) in pairs {
            match out.values.last_mut() {
                Some(last) if out.indices.last() == Some(&index) => *last += value,
                _ => {
                    out.indices.push(index);
                    out.values.push(value);
                }
            }
        }
        out
    }
}

/// Sparse vectors by signal (from the encoder) or by index vector name
/// (what the index stores and is asked).
pub type NamedSparse = Vec<(&'static str, Sparse)>;

/// One content word of a query with what it matches.
#[derive(Debug, Clone)]
pub struct QueryWord {
    /// The normalized word.
    pub word: String,
    /// Its stem hashes, one per language vector (deduplicated).
    pub stems: Vec<u32>,
    /// Its trigram hashes.
    pub grams: Vec<u32>,
}

/// Embeds documents and queries into the named sparse vectors.
pub struct SparseEncoder {
    bm25: Vec<(&'static str, EdgeBm25)>,
    /// Words known to be stop words in some language (true) or not (false).
    stopwords: Mutex<HashMap<String, bool>>,
}

impl std::fmt::Debug for SparseEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparseEncoder").finish_non_exhaustive()
    }
}

impl SparseEncoder {
    pub fn new() -> anyhow::Result<Self> {
        let mut bm25 = Vec::new();
        for (name, language) in WORD_SIGNALS {
            // The stop words of the language plus chat filler (see `chat`).
            let stopwords = serde_json::json!({ "languages": [language], "custom": FILLER });
            let mut config: EdgeBm25Config = serde_json::from_value(serde_json::json!({
                "language": language,
                "ascii_folding": true,
                "min_token_len": 2,
                "stopwords": stopwords,
            }))?;
            config.k = NotNan::new(K1)?;
            config.b = NotNan::new(B)?;
            config.avg_len = NotNan::new(AVG_DOC_TOKENS)?;
            let model =
                EdgeBm25::new(config).map_err(|e| anyhow::anyhow!("BM25 {language}: {e}"))?;
            bm25.push((name, model));
        }
        Ok(Self {
            bm25,
            stopwords: Mutex::new(HashMap::new()),
        })
    }

    /// Whether a normalized word carries no topic: a stop word in any of the
    /// languages, a single character, or a number.
    pub fn is_stopword(&self, word: &str) -> bool {
        if never_content(word) {
            return true;
        }
        if let Some(&known) = self.stopwords.lock().expect("stopword cache").get(word) {
            return known;
        }
        let stop = self
            .bm25
            .iter()
            .any(|(_, model)| model.embed_query(word).indices.is_empty());
        let mut cache = self.stopwords.lock().expect("stopword cache");
        if cache.len() > STOPWORD_CACHE {
            cache.clear();
        }
        cache.insert(word.to_owned(), stop);
        stop
    }

    /// The index vector of a passage's text: every signal's terms, tagged
    /// (see the module docs). `stop_grams` are left out of the trigrams:
    /// the knowledge base's stop-grams, which queries never ask for (see
    /// `Catalog::is_stop_gram`).
    pub fn encode_document(&self, text: &str, stop_grams: &HashSet<u32>) -> NamedSparse {
        let normalized = normalize(text);
        let mut signals: NamedSparse = self
            .bm25
            .iter()
            .map(|(name, model)| {
                let v = model.embed_document(&normalized);
                (
                    *name,
                    Sparse {
                        indices: v.indices,
                        values: v.values,
                    },
                )
            })
            .collect();
        signals.push((CHAR_SIGNAL, self.document_grams(&normalized, stop_grams)));
        let terms = signals
            .iter()
            .flat_map(|(signal, sparse)| tagged(signal, sparse));
        vec![(SPARSE_VECTOR, Sparse::from_pairs(terms))]
    }

    fn document_grams(&self, normalized: &str, stop_grams: &HashSet<u32>) -> Sparse {
        let mut counts: HashMap<u32, f32> = HashMap::new();
        let mut total = 0usize;
        for word in words(normalized) {
            if self.is_stopword(word) {
                continue;
            }
            total += 1;
            char_ngrams(word, |g| {
                let g = hash32(g);
                if !stop_grams.contains(&g) {
                    *counts.entry(g).or_insert(0.0) += 1.0;
                }
            });
        }
        let norm = 1.0 - B + B * total as f64 / AVG_DOC_TOKENS;
        for tf in counts.values_mut() {
            let n = f64::from(*tf);
            *tf = (n * (K1 + 1.0) / (n + K1 * norm)) as f32;
        }
        Sparse::from_pairs(counts)
    }

    /// The per-signal query terms of weighted query terms (a message's
    /// content words at 1.0, their translations lower) and the content
    /// words' grams, by signal name; [`query_prefetches`] turns them into
    /// index vectors.
    pub fn encode_query(&self, terms: &[(String, f32)], content: &[QueryWord]) -> NamedSparse {
        let mut out: NamedSparse = self
            .bm25
            .iter()
            .map(|(name, model)| {
                let mut weights: HashMap<u32, f32> = HashMap::new();
                for (term, weight) in terms {
                    for index in model.embed_query(term).indices {
                        let w = weights.entry(index).or_insert(0.0);
                        *w = w.max(*weight);
                    }
                }
                (*name, Sparse::from_pairs(weights))
            })
            .collect();
        let grams: HashMap<u32, f32> = content
            .iter()
            .flat_map(|w| w.grams.iter().map(|&g| (g, 1.0)))
            .collect();
        out.push((CHAR_SIGNAL, Sparse::from_pairs(grams)));
        out
    }

    /// The content words of a normalized text with their stems and grams.
    pub fn content_words(&self, normalized: &str) -> Vec<QueryWord> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for word in words(normalized) {
            if self.is_stopword(word) || !seen.insert(word) {
                continue;
            }
            out.push(self.query_word(word));
        }
        out
    }

    /// Stems and grams of one normalized word.
    pub fn query_word(&self, word: &str) -> QueryWord {
        let mut stems: Vec<u32> = self
            .bm25
            .iter()
            .flat_map(|(_, model)| model.embed_query(word).indices)
            .collect();
        stems.sort_unstable();
        stems.dedup();
        QueryWord {
            word: word.to_owned(),
            stems,
            grams: word_grams(word),
        }
    }

    /// Stems and grams of one normalized word of an article, `None` for a
    /// stop word ([`is_stopword`](Self::is_stopword) without its cache: the
    /// catalog keeps its own vocabulary while it is built).
    pub fn document_word(&self, word: &str) -> Option<WordTerms> {
        if never_content(word) {
            return None;
        }
        let mut stems = Vec::new();
        for (_, model) in &self.bm25 {
            let indices = model.embed_query(word).indices;
            if indices.is_empty() {
                return None;
            }
            stems.extend(indices);
        }
        stems.sort_unstable();
        stems.dedup();
        Some(WordTerms {
            stems,
            grams: word_grams(word),
        })
    }
}

/// A content word's stem and trigram hashes, sorted and distinct.
#[derive(Debug, Clone)]
pub struct WordTerms {
    pub stems: Vec<u32>,
    pub grams: Vec<u32>,
}

/// A single character or a number: never a content word, in any language.
fn never_content(word: &str) -> bool {
    word.chars().count() < 2 || word.chars().all(|c| c.is_ascii_digit())
}

fn word_grams(word: &str) -> Vec<u32> {
    let mut grams = Vec::new();
    char_ngrams(word, |g| grams.push(hash32(g)));
    grams.sort_unstable();
    grams.dedup();
    grams
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_meet_across_accents_and_inflection() {
        let encoder = SparseEncoder::new().unwrap();
        let a = encoder.query_word(&normalize("envíos"));
        let b = encoder.query_word(&normalize("envio"));
        assert!(a.stems.iter().any(|s| b.stems.contains(s)), "{a:?} {b:?}");
    }

    #[test]
    fn stop_words_are_dropped_in_every_language() {
        let encoder = SparseEncoder::new().unwrap();
        let words: Vec<_> = encoder
            .content_words(&normalize(
                "¿Cuánto tarda el envío? how long does the shipping take",
            ))
            .into_iter()
            .map(|w| w.word)
            .collect();
        assert!(words.contains(&"envio".to_owned()));
        assert!(words.contains(&"shipping".to_owned()));
        assert!(!words.contains(&"el".to_owned()) && !words.contains(&"the".to_owned()));
    }

    #[test]
    fn a_document_holds_every_signal_in_one_vector() {
        let encoder = SparseEncoder::new().unwrap();
        let vectors = encoder.encode_document("Reembolsos en 5 días hábiles", &HashSet::new());
        let [(name, vector)] = vectors.as_slice() else {
            panic!("one index vector: {vectors:?}");
        };
        assert_eq!(*name, SPARSE_VECTOR);
        let mut signals: Vec<u32> = vector.indices.iter().map(|i| i >> 30).collect();
        signals.dedup();
        assert_eq!(signals, [0, 1, 2, 3], "every signal has terms, in order");
        assert!(vector.indices.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn each_signal_of_a_query_asks_for_its_own_terms_only() {
        let encoder = SparseEncoder::new().unwrap();
        let text = "Reembolsos en 5 días hábiles";
        let document = &encoder.encode_document(text, &HashSet::new())[0].1;
        let words = encoder.content_words(&normalize(text));
        let terms: Vec<(String, f32)> = words.iter().map(|w| (w.word.clone(), 1.0)).collect();
        let signals = encoder.encode_query(&terms, &words);
        let prefetches = query_prefetches(&signals);
        assert_eq!(prefetches.len(), 4);
        for ((signal, raw), (name, vector)) in signals.iter().zip(&prefetches) {
            assert_eq!(*name, SPARSE_VECTOR);
            let at = position(signal) as u32;
            assert!(vector.indices.iter().all(|i| i >> 30 == at), "{signal}");
            assert_eq!(vector.indices.len(), raw.indices.len(), "{signal}");
            // The same word is the same term in the document.
            assert!(
                vector.indices.iter().all(|i| document.indices.contains(i)),
                "{signal}"
            );
        }
    }

    #[test]
    fn indices_that_agree_in_their_low_bits_add_up() {
        let merged = Sparse::from_pairs([
            (tag(0, 7), 1.0),
            (tag(0, 7 | 1 << 31), 0.5),
            (tag(1, 7), 2.0),
        ]);
        assert_eq!(merged.indices, [7, 7 | 1 << 30]);
        assert_eq!(merged.values, [1.5, 2.0]);
    }
}
