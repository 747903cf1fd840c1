//! Text normalization for cue matching and language detection.
//!
//! Chat text arrives without accents, with typos, stretched letters
//! ("holaaa"), emojis and WhatsApp abbreviations ("q", "xq", "vc", "u").
//! Everything the rules look at goes through [`tokens`]: lowercase, accents
//! stripped, punctuation and emojis dropped, stretched letters collapsed and
//! the common abbreviations expanded, so one cue spelling covers them all.

use unicode_normalization::UnicodeNormalization;

/// Lowercases and strips accents (`ñ` becomes `n`, `ç` becomes `c`).
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The normalized word tokens of `text`.
pub fn tokens(text: &str) -> Vec<String> {
    let folded = fold(text);
    let mut words = Vec::new();
    let mut current = String::new();
    for c in folded.chars() {
        if c.is_alphanumeric() {
            current.push(c);
        } else if c == '\'' || c == '’' {
            // "didn't" -> "didnt", "wasn't" -> "wasnt".
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
        .into_iter()
        .map(|w| collapse_stretched(&w))
        .flat_map(|w| expand_abbreviation(&w))
        .collect()
}

/// "holaaaa" -> "hola", "siiii" -> "si"; double letters ("llamar", "carro",
/// "too") and digits are kept as written.
fn collapse_stretched(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        let kept = if c.is_ascii_digit() || run < 3 {
            run
        } else {
            1
        };
        out.extend(std::iter::repeat_n(c, kept));
        i += run;
    }
    out
}

/// Chat abbreviations expanded to the word the cues are written with.
fn expand_abbreviation(word: &str) -> Vec<String> {
    let expanded: &[&str] = match word {
        "q" | "k" | "ke" | "qe" => &["que"],
        "x" => &["por"],
        "xq" | "pq" | "porq" | "xk" | "pk" => &["porque"],
        "tmb" | "tb" | "tbm" | "tbn" => &["tambien"],
        "d" => &["de"],
        "pa" | "pra" => &["para"],
        "pro" => &["para", "o"],
        "vc" | "vce" => &["voce"],
        "vcs" => &["voces"],
        "ta" | "tá" => &["esta"],
        "u" => &["you"],
        "ur" => &["your"],
        "pls" | "plz" | "plis" => &["please"],
        "msg" | "msgs" => &["message"],
        "obg" | "obgd" | "obrigadao" => &["obrigado"],
        "thx" | "ty" | "tks" | "thnx" | "thanx" => &["thanks"],
        "im" => &["i", "am"],
        "ive" => &["i", "have"],
        "dont" => &["do", "not"],
        "didnt" => &["did", "not"],
        "wasnt" => &["was", "not"],
        "isnt" => &["is", "not"],
        "cant" => &["can", "not"],
        "hasnt" => &["has", "not"],
        "havent" => &["have", "not"],
        "nao" => &["nao"],
        "n" => &["nao"],
        "rembolso" => &["reembolso"],
        "porfa" | "porfavor" | "xfa" | "xfavor" => &["por", "favor"],
        _ => return vec![word.to_owned()],
    };
    expanded.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_and_case() {
        assert_eq!(fold("Ñandú CORAÇÃO"), "nandu coracao");
    }

    #[test]
    fn tokens_expand_chat_abbreviations() {
        assert_eq!(tokens("q onda, xq no?"), ["que", "onda", "porque", "no"]);
        assert_eq!(
            tokens("I didn't order this"),
            ["i", "did", "not", "order", "this"]
        );
        assert_eq!(tokens("vc tá aí?"), ["voce", "esta", "ai"]);
    }

    #[test]
    fn tokens_collapse_stretched_letters() {
        assert_eq!(tokens("holaaaa!!! 😀"), ["hola"]);
        assert_eq!(tokens("llamar carro"), ["llamar", "carro"]);
        assert_eq!(tokens("1000 pesos"), ["1000", "pesos"]);
    }
}
