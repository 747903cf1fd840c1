//! Questions the knowledge base could not answer, grouped for editors.
//!
//! When no passage is confident enough the bot hands the turn to a person
//! (`low_confidence`); those turns are the editors' to-do list. Customers ask
//! for the same missing thing in many ways, so the list is grouped: each
//! message becomes a set of weighted topic words, two messages are similar
//! when the words of each find a match in the other, and a message joins a
//! group when it is similar to any member (single-link, with a threshold high
//! enough that chains across topics are rare). Each group becomes a draft
//! article titled after its most central message, with the members as its
//! `questions:`.
//!
//! Words are weighed by how rare they are in the knowledge base itself
//! ([`Corpus`]): words every article uses ("que", "para", "pedido") say little
//! about a topic, while the words of a missing topic are, by definition, rare
//! there; stop words and chat filler count for nothing, as in retrieval.
//! Matching is forgiving the way customers write: accents and case are
//! folded ([`normalize`]), chat abbreviations expanded, the glossary maps words of one concept to one
//! key ("tienda", "sucursal", "store"), and words sharing most character
//! trigrams match partly ("perro", "perros", "perrro").

mod draft;

pub use crate::store::Asked;
use draft::draft_article;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::article::Article;
use super::chat::{FILLER, expand_abbreviations};
use super::lexicon::Lexicon;
use super::sparse::SparseEncoder;
use super::text::{char_ngrams, hash32, normalize, words};
use super::{Coverage, KnowledgeBase, decide};

/// Two messages at least this similar (0 to 1) belong to one group. Tuned on
/// paraphrases that share the topic's words but not their function words;
/// two questions that share only one common word stay well below it.
pub const SIMILARITY_THRESHOLD: f32 = 0.4;
/// Two different words match partly when this share of their character
/// trigrams is common (plurals, typos, conjugations).
const FUZZY_MIN: f32 = 0.5;
/// Shorter words ("de", "la", "mi", "to") are function words.
const MIN_WORD_CHARS: usize = 3;
/// Retrieval's notion of a word without topic: the stop words of Spanish,
/// Portuguese and English plus chat filler.
static STOP_WORDS: LazyLock<Option<SparseEncoder>> = LazyLock::new(|| {
    SparseEncoder::new()
        .inspect_err(
            |error| tracing::warn!(%error, "stop words unavailable; using chat filler only"),
        )
        .ok()
});
/// A floor for the weight of words the whole knowledge base uses, so a
/// message made only of them still compares.
const MIN_WEIGHT: f32 = 0.05;
/// Member messages shown per group.
pub const MAX_EXAMPLES: usize = 5;
/// Member messages proposed as the draft's `questions:`.
const MAX_DRAFT_QUESTIONS: usize = 10;
/// Longest proposed title, in characters.
const MAX_TITLE_CHARS: usize = 80;
/// Most words in a proposed article id.
const MAX_ID_WORDS: usize = 5;

/// Similar unanswered messages and the article they suggest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionGroup {
    /// The member most similar to the others.
    pub representative: String,
    /// Turns in the group (a message asked twice counts twice).
    pub count: usize,
    /// Detected languages, most frequent first.
    pub languages: Vec<String>,
    pub latest_at: DateTime<Utc>,
    /// A few distinct member messages, the representative first.
    pub examples: Vec<String>,
    /// The article that answers the representative now, if one was added
    /// since (filled in by [`note_answered`]).
    pub answered_by: Option<String>,
    pub draft: ArticleDraft,
}

/// A new article proposed from a group, for the editor to complete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleDraft {
    /// A free article id derived from the representative.
    pub id: String,
    pub title: String,
    pub questions: Vec<String>,
    pub lang: Option<String>,
    /// The same as a Markdown file (front matter; the answer is to be written).
    pub markdown: String,
}

/// What the knowledge base already says: how many articles use each topic
/// word, and which article ids are taken.
#[derive(Debug, Default)]
pub struct Corpus {
    articles: usize,
    document_frequency: HashMap<String, u32>,
    ids: HashSet<String>,
}

impl Corpus {
    pub fn from_articles(articles: &[Arc<Article>]) -> Corpus {
        let lexicon = Lexicon::builtin();
        let mut document_frequency: HashMap<String, u32> = HashMap::new();
        for article in articles {
            let text = format!(
                "{}\n{}\n{}",
                article.title,
                article.questions.join("\n"),
                article.body
            );
            let keys: HashSet<String> = topic_words(&text, lexicon)
                .into_iter()
                .map(|(key, _)| key)
                .collect();
            for key in keys {
                *document_frequency.entry(key).or_default() += 1;
            }
        }
        Corpus {
            articles: articles.len(),
            document_frequency,
            ids: articles.iter().map(|a| a.id.clone()).collect(),
        }
    }

    /// Inverse document frequency: near 0 for a word every article uses,
    /// highest for a word none uses.
    fn weight(&self, key: &str) -> f32 {
        let df = self.document_frequency.get(key).copied().unwrap_or(0) as f32;
        let n = self.articles as f32;
        ((n + 1.0) / (df + 0.5)).ln().max(MIN_WEIGHT)
    }
}

/// A topic word of a message: its concept key, the trigrams of the word as
/// written (for partial matches), and its weight.
#[derive(Debug, Clone)]
struct Word {
    key: String,
    grams: Vec<u32>,
    weight: f32,
}

/// One distinct message (after normalization) and the turns that sent it.
#[derive(Debug)]
struct Message<'a> {
    text: String,
    words: Vec<Word>,
    turns: Vec<&'a Asked>,
}

/// Groups unanswered turns by similarity, largest and most recent groups
/// first. Messages without any topic word ("¿y eso?", an emoji) cannot
/// seed an article and are left out.
pub fn group_questions(asked: &[Asked], corpus: &Corpus) -> Vec<QuestionGroup> {
    let messages = distinct_messages(asked, corpus);
    let n = messages.len();
    let mut sets = DisjointSets::new(n);
    for i in 0..n {
        for j in i + 1..n {
            if similarity(&messages[i].words, &messages[j].words) >= SIMILARITY_THRESHOLD {
                sets.union(i, j);
            }
        }
    }
    let mut clusters: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..n {
        clusters.entry(sets.find(i)).or_default().push(i);
    }
    let mut taken = corpus.ids.clone();
    let mut clusters: Vec<Vec<usize>> = clusters.into_values().collect();
    // Newest member first, so the order below (and the ids taken) is stable.
    clusters.sort_by_key(|members| members[0]);
    let mut groups: Vec<QuestionGroup> = clusters
        .iter()
        .map(|members| describe_group(&messages, members, &mut taken))
        .collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| b.latest_at.cmp(&a.latest_at))
    });
    groups
}

/// Fills in [`QuestionGroup::answered_by`]: what the bot's retrieval would
/// answer each representative with now (the same decision as the editors'
/// preview), so groups covered since by a new article show it.
pub async fn note_answered(
    groups: &mut [QuestionGroup],
    knowledge: &KnowledgeBase,
) -> anyhow::Result<()> {
    for group in groups {
        let hits = knowledge
            .search(&group.representative, knowledge.top_k())
            .await?;
        group.answered_by = match decide(&hits, knowledge.min_confidence()) {
            Coverage::Answer { article_id } | Coverage::AnswerAndEscalate { article_id, .. } => {
                Some(article_id)
            }
            Coverage::DontKnow => None,
        };
    }
    Ok(())
}

/// Messages newest first, one entry per normalized text.
fn distinct_messages<'a>(asked: &'a [Asked], corpus: &Corpus) -> Vec<Message<'a>> {
    let lexicon = Lexicon::builtin();
    let mut newest_first: Vec<&Asked> = asked.iter().collect();
    newest_first.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.turn_id.cmp(&a.turn_id)));
    let mut by_text: HashMap<String, usize> = HashMap::new();
    let mut messages: Vec<Message> = Vec::new();
    for turn in newest_first {
        let text = one_line(&turn.text);
        let normalized = normalize(&text);
        if let Some(&i) = by_text.get(&normalized) {
            messages[i].turns.push(turn);
            continue;
        }
        let words = weighted_words(&text, lexicon, corpus);
        if words.is_empty() {
            continue;
        }
        by_text.insert(normalized, messages.len());
        messages.push(Message {
            text,
            words,
            turns: vec![turn],
        });
    }
    messages
}

/// The topic words of a message, one per concept key, with their weights.
fn weighted_words(text: &str, lexicon: &Lexicon, corpus: &Corpus) -> Vec<Word> {
    let mut seen = HashSet::new();
    topic_words(text, lexicon)
        .into_iter()
        .filter(|(key, _)| seen.insert(key.clone()))
        .map(|(key, word)| {
            let mut grams = Vec::new();
            char_ngrams(&word, |g| grams.push(hash32(g)));
            grams.sort_unstable();
            grams.dedup();
            Word {
                weight: corpus.weight(&key),
                key,
                grams,
            }
        })
        .collect()
}

/// (concept key, normalized word) of every word that can carry a topic:
/// not filler, not a number, at least [`MIN_WORD_CHARS`] long.
fn topic_words(text: &str, lexicon: &Lexicon) -> Vec<(String, String)> {
    let expanded = expand_abbreviations(&normalize(text));
    words(&expanded)
        .filter(|w| is_topic_word(w))
        .map(|w| (concept_key(w, lexicon), w.to_owned()))
        .collect()
}

fn is_topic_word(word: &str) -> bool {
    word.chars().count() >= MIN_WORD_CHARS
        && !word.chars().all(|c| c.is_ascii_digit())
        && !FILLER.contains(&word)
        && !STOP_WORDS.as_ref().is_some_and(|s| s.is_stopword(word))
}

/// One key per concept of the glossary (the smallest of its words), so
/// synonyms and translations match; other words lose a plural `-s`.
fn concept_key(word: &str, lexicon: &Lexicon) -> String {
    let others = lexicon.translations(word);
    match others.into_iter().chain([word]).min() {
        Some(key) if key != word => key.to_owned(),
        _ => match word.strip_suffix('s') {
            Some(stem) if stem.chars().count() >= MIN_WORD_CHARS => stem.to_owned(),
            _ => word.to_owned(),
        },
    }
}

/// How similar two messages are, 0 to 1: the mean of how much of each
/// one's weight finds a match in the other.
fn similarity(a: &[Word], b: &[Word]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    (coverage(a, b) + coverage(b, a)) / 2.0
}

/// The weighted share of `from`'s words matched in `to`.
fn coverage(from: &[Word], to: &[Word]) -> f32 {
    let total: f32 = from.iter().map(|w| w.weight).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let matched: f32 = from
        .iter()
        .map(|w| w.weight * to.iter().map(|o| word_match(w, o)).fold(0.0, f32::max))
        .sum();
    matched / total
}

fn word_match(a: &Word, b: &Word) -> f32 {
    if a.key == b.key {
        return 1.0;
    }
    let j = jaccard(&a.grams, &b.grams);
    if j >= FUZZY_MIN { j } else { 0.0 }
}

/// Jaccard index of two sorted, deduplicated lists.
fn jaccard(a: &[u32], b: &[u32]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f32 / (a.len() + b.len() - common) as f32
}

fn describe_group(
    messages: &[Message],
    members: &[usize],
    taken: &mut HashSet<String>,
) -> QuestionGroup {
    let central = most_central(messages, members);
    // The representative first, then the others newest first (members are
    // in message order, which is newest first).
    let ordered: Vec<&Message> = std::iter::once(central)
        .chain(members.iter().copied().filter(|&m| m != central))
        .map(|m| &messages[m])
        .collect();
    let turns: Vec<&Asked> = ordered
        .iter()
        .flat_map(|m| m.turns.iter().copied())
        .collect();
    let languages = languages_by_frequency(&turns);
    let representative = ordered[0].text.clone();
    let questions: Vec<String> = ordered
        .iter()
        .take(MAX_DRAFT_QUESTIONS)
        .map(|m| m.text.clone())
        .collect();
    let draft = draft_article(
        &representative,
        questions,
        languages.first().cloned(),
        taken,
    );
    QuestionGroup {
        count: turns.len(),
        latest_at: turns.iter().map(|t| t.at).max().unwrap_or_default(),
        examples: ordered
            .iter()
            .take(MAX_EXAMPLES)
            .map(|m| m.text.clone())
            .collect(),
        representative,
        languages,
        answered_by: None,
        draft,
    }
}

/// The member with the highest similarity to the others (each weighed by
/// how many turns sent it); ties go to the most asked, then the newest.
fn most_central(messages: &[Message], members: &[usize]) -> usize {
    let score = |m: usize| -> f32 {
        members
            .iter()
            .filter(|&&o| o != m)
            .map(|&o| {
                similarity(&messages[m].words, &messages[o].words) * messages[o].turns.len() as f32
            })
            .sum()
    };
    let mut best = members[0];
    let mut best_score = score(best);
    for &m in &members[1..] {
        let s = score(m);
        let more_asked = messages[m].turns.len() > messages[best].turns.len();
        if s > best_score + f32::EPSILON || ((s - best_score).abs() <= f32::EPSILON && more_asked) {
            best = m;
            best_score = s;
        }
    }
    best
}

fn languages_by_frequency(turns: &[&Asked]) -> Vec<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for lang in turns.iter().filter_map(|t| t.lang.as_deref()) {
        match counts.iter_mut().find(|(l, _)| l == lang) {
            Some((_, n)) => *n += 1,
            None => counts.push((lang.to_owned(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.into_iter().map(|(l, _)| l).collect()
}

/// Whitespace (line breaks of coalesced messages included) as single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Union-find over message indices.
struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Joins two sets; the smaller index (the newer message) stays the root.
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            let (root, child) = if a < b { (a, b) } else { (b, a) };
            self.parent[child] = root;
        }
    }
}

#[cfg(test)]
mod tests;
