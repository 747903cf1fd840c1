//! Text normalization shared by indexing and querying.
//!
//! Customers type without accents, stretch words ("porfaaa") and mix
//! emojis in; articles are written properly. Both sides go through the same
//! [`normalize`] (lowercase, accents folded, letter runs collapsed) before any
//! signal is computed, so "envío" and "envio" are one word everywhere. The
//! character n-grams of [`char_ngrams`] are the typo-tolerant signal: a
//! misspelt word still shares most of its trigrams with the right one.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lowercases, folds accents (NFD then drops combining marks, `ñ` → `n`),
/// reduces runs of three or more equal letters to one ("porfaaaa" →
/// "porfa"; doubled letters such as "reembolso" stay) and turns every
/// character that is not a letter or digit into a single space.
pub fn normalize(text: &str) -> String {
    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    for c in text.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = if c.is_alphanumeric() {
            c.to_lowercase().next().unwrap_or(c)
        } else {
            ' '
        };
        if c == ' ' && matches!(chars.last(), Some(' ') | None) {
            continue;
        }
        chars.push(c);
    }
    while chars.last() == Some(&' ') {
        chars.pop();
    }
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run = j - i;
        let keep = if run >= 3 && c.is_alphabetic() {
            1
        } else {
            run
        };
        out.extend(std::iter::repeat_n(c, keep));
        i = j;
    }
    out
}

/// The words of already [`normalize`]d text.
pub fn words(normalized: &str) -> impl Iterator<Item = &str> {
    normalized.split(' ').filter(|w| !w.is_empty())
}

/// Character trigrams of one normalized word, with `^`/`$` word boundaries,
/// so short words still yield grams ("iva" → `^iv`, `iva`, `va$`). Words of
/// one letter yield nothing.
pub fn char_ngrams(word: &str, mut each: impl FnMut(&str)) {
    if word.chars().count() < 2 {
        return;
    }
    let padded: Vec<char> = std::iter::once('^')
        .chain(word.chars())
        .chain(std::iter::once('$'))
        .collect();
    let mut buf = String::with_capacity(12);
    for window in padded.windows(3) {
        buf.clear();
        buf.extend(window);
        each(&buf);
    }
}

/// A stable 32-bit hash (FNV-1a) used for character n-gram dimensions.
pub fn hash32(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_case_and_punctuation() {
        assert_eq!(
            normalize("¿Cuánto tarda el ENVÍO?"),
            "cuanto tarda el envio"
        );
        assert_eq!(normalize("Devolução  já!!"), "devolucao ja");
        assert_eq!(normalize("niño 🙂 año"), "nino ano");
    }

    #[test]
    fn collapses_stretched_letters_but_keeps_double_letters() {
        assert_eq!(normalize("porfaaaa"), "porfa");
        assert_eq!(normalize("siiii graaacias"), "si gracias");
        assert_eq!(normalize("reembolso llegar"), "reembolso llegar");
    }

    #[test]
    fn trigrams_have_boundaries() {
        let mut grams = Vec::new();
        char_ngrams("iva", |g| grams.push(g.to_owned()));
        assert_eq!(grams, ["^iv", "iva", "va$"]);
        let mut none = 0;
        char_ngrams("q", |_| none += 1);
        assert_eq!(none, 0);
    }
}
