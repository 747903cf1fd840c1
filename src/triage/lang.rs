//! Language detection for short, accentless, typo-ridden chat.
//!
//! No model: each language scores points for its function words, chat
//! abbreviations, characteristic letters (`ñ`, `¿`, `ã`, `ç`) and word
//! endings (`-cion` / `-cao`, `-ing`). The highest score wins; ties and
//! messages with no signal at all fall back to Spanish, the most common
//! language of the customers.

use super::normalize::{fold, tokens};
pub use crate::vocab::Lang;

/// Words (after normalization) that are strong evidence for one language.
const ES_WORDS: &[&str] = &[
    "el", "la", "los", "las", "que", "y", "en", "mi", "mis", "por", "pero", "es", "hola",
    "gracias", "quiero", "tengo", "cuanto", "cuando", "donde", "porque", "ya", "me", "se", "lo",
    "le", "un", "una", "del", "al", "muy", "si", "hay", "hoy", "ayer", "ustedes", "tienen",
    "puedo", "pedido", "buenas", "buenos", "dias", "tardes", "noches", "su", "sus", "esta", "este",
    "necesito", "cual", "como", "llego", "pague", "compre", "favor", "tambien", "nada", "aqui",
    "yo", "hace", "son", "con", "sin", "todo", "cuenta", "tarjeta", "envio", "ni", "pues", "oigan",
    "fijese", "neta", "ahorita", "vale", "vez", "veces", "algo", "mucho", "ahora", "eso",
];
const PT_WORDS: &[&str] = &[
    "o", "os", "um", "uma", "do", "da", "dos", "das", "na", "nao", "voce", "voces", "com", "meu",
    "minha", "seu", "sua", "eu", "ele", "ela", "isso", "esse", "essa", "ja", "mas", "muito",
    "obrigado", "obrigada", "oi", "ola", "quero", "tem", "ainda", "ontem", "hoje", "chegou",
    "quanto", "qual", "fiz", "comprei", "paguei", "tudo", "bem", "gente", "aparece", "entregue",
    "recebi", "posso", "preciso", "estou", "vcs", "fazer", "faco", "pedi", "cartao", "conta",
    "entrar", "consigo", "pelo", "pela", "numa", "num", "entao", "aqui", "agora", "tambem", "nada",
    "mesmo", "pode", "vou", "sim", "dia", "loja", "compra", "vale",
];
const EN_WORDS: &[&str] = &[
    "the", "you", "my", "is", "i", "and", "to", "it", "what", "how", "do", "can", "your", "for",
    "this", "thanks", "thank", "hi", "hello", "please", "am", "of", "in", "on", "was", "not",
    "did", "have", "has", "be", "are", "with", "order", "where", "when", "why", "who", "get",
    "got", "ship", "there", "any", "just", "but", "if", "its", "need", "want", "guys", "hey",
    "from", "at", "an", "long", "much", "does", "says", "still", "buy", "bought", "card",
    "account", "size", "ago", "yes", "im", "that", "here", "will", "would",
];

/// Words shared by two languages score for both, weakly; the lists above
/// are checked in this order and a word may appear in several.
fn word_scores(word: &str) -> [f32; 3] {
    let mut s = [0.0; 3];
    if ES_WORDS.contains(&word) {
        s[0] += 1.0;
    }
    if PT_WORDS.contains(&word) {
        s[1] += 1.0;
    }
    if EN_WORDS.contains(&word) {
        s[2] += 1.0;
    }
    // Endings characteristic of one language.
    if word.len() > 4 {
        if word.ends_with("cion")
            || word.ends_with("ciones")
            || word.ends_with("mente") && !word.ends_with("ment")
        {
            s[0] += 0.5;
        }
        if word.ends_with("cao")
            || word.ends_with("coes")
            || word.ends_with("oes")
            || word.contains("nh")
            || word.contains("lh")
        {
            s[1] += 0.7;
        }
        if word.ends_with("ing")
            || word.ends_with("tion")
            || word.contains("th")
            || word.ends_with("ly")
        {
            s[2] += 0.7;
        }
    }
    s
}

/// Guesses the language of a chat message; Spanish when unsure.
pub fn detect_language(text: &str) -> Lang {
    let mut score = [0.0f32; 3];
    // Letters that only one of the three languages uses.
    let lower = text.to_lowercase();
    for c in lower.chars() {
        match c {
            'ñ' | '¿' | '¡' => score[0] += 2.0,
            'ã' | 'õ' | 'ç' | 'ê' | 'ô' => score[1] += 2.0,
            _ => {}
        }
    }
    let folded = fold(text);
    let raw_words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // Chat abbreviations before expansion tell the language apart too.
    for w in &raw_words {
        match *w {
            "q" | "xq" | "pq" | "porfa" | "tmb" | "x" | "ntp" | "jaja" | "jajaja" => {
                score[0] += 1.0
            }
            "vc" | "vcs" | "obg" | "pra" | "pro" | "kkk" | "kkkk" | "tb" => score[1] += 1.5,
            "u" | "ur" | "pls" | "thx" | "lol" | "im" | "dont" | "didnt" | "cant" | "wasnt"
            | "whats" => score[2] += 1.5,
            _ => {}
        }
    }
    for word in tokens(text) {
        let s = word_scores(&word);
        for i in 0..3 {
            score[i] += s[i];
        }
    }
    let best = (0..3).fold(0, |best, i| if score[i] > score[best] { i } else { best });
    if score[best] <= 0.0 {
        return Lang::Es;
    }
    // Spanish wins ties with either other language.
    if score[0] >= score[best] {
        return Lang::Es;
    }
    [Lang::Es, Lang::Pt, Lang::En][best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_chat_without_accents() {
        for text in [
            "oye cuanto sale mandar algo a oaxaca?",
            "ya pague y no me aparece nada, q hago",
            "buenas, tienen tienda fisica en el centro?",
            "nesecito saber si ya salio mi paquete xfa",
        ] {
            assert_eq!(detect_language(text), Lang::Es, "{text}");
        }
    }

    #[test]
    fn portuguese_chat() {
        for text in [
            "oi, vcs entregam no interior?",
            "nao consegui pagar com meu cartao",
            "quero trocar o tamanho da camiseta",
            "obg pela ajuda!",
        ] {
            assert_eq!(detect_language(text), Lang::Pt, "{text}");
        }
    }

    #[test]
    fn english_chat_with_typos() {
        for text in [
            "hey how long does shiping take to my place",
            "where is my order??",
            "thx!",
            "cant log into my acount",
        ] {
            assert_eq!(detect_language(text), Lang::En, "{text}");
        }
    }

    #[test]
    fn defaults_to_spanish_when_unsure() {
        assert_eq!(detect_language("ok"), Lang::Es);
        assert_eq!(detect_language("👍"), Lang::Es);
        assert_eq!(detect_language("AUR-123456"), Lang::Es);
    }
}
