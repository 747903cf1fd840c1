//! The way people chat: abbreviations and filler words.
//!
//! Snowball stop-word lists are written for prose. Chat adds its own
//! function words ("porfa", "oigan", "vcs", "pls") and abbreviations ("q",
//! "xq", "tmb", "cel"). Abbreviations are expanded before anything else;
//! filler words are added to every language's stop words, so in a small
//! knowledge base a rare greeting cannot outweigh the topic of the message.
//! Both lists are general chat vocabulary for Spanish, Portuguese and English.

/// Common chat abbreviations and their written form (normalized).
pub const ABBREVIATIONS: &[(&str, &str)] = &[
    // Spanish
    ("q", "que"),
    ("k", "que"),
    ("xq", "porque"),
    ("pq", "porque"),
    ("porq", "porque"),
    ("x", "por"),
    ("xfa", "por favor"),
    ("pfa", "por favor"),
    ("pls", "please"),
    ("plz", "please"),
    ("tmb", "tambien"),
    ("tb", "tambien"),
    ("tmbn", "tambien"),
    ("dnd", "donde"),
    ("cel", "celular"),
    ("tel", "telefono"),
    ("msj", "mensaje"),
    ("info", "informacion"),
    ("pa", "para"),
    ("pal", "para el"),
    ("d", "de"),
    ("sta", "esta"),
    ("toy", "estoy"),
    ("bn", "bien"),
    ("hrs", "horas"),
    ("hr", "hora"),
    ("min", "minutos"),
    ("dir", "direccion"),
    ("cp", "codigo postal"),
    ("ntp", "no te preocupes"),
    // Portuguese
    ("vc", "voce"),
    ("vcs", "voces"),
    ("tbm", "tambem"),
    ("pq", "porque"),
    ("n", "nao"),
    ("to", "estou"),
    ("ta", "esta"),
    ("obg", "obrigado"),
    ("blz", "beleza"),
    // English
    ("u", "you"),
    ("ur", "your"),
    ("r", "are"),
    ("thx", "thanks"),
    ("ty", "thanks"),
    ("pls", "please"),
    ("asap", "soon"),
    ("acct", "account"),
    ("addr", "address"),
    ("pw", "password"),
];

/// Conversational words that carry no topic, in the three languages.
pub const FILLER: &[&str] = &[
    // Spanish
    "hola",
    "holi",
    "buenas",
    "buenos",
    "buen",
    "tardes",
    "noches",
    "oye",
    "oiga",
    "oigan",
    "disculpe",
    "disculpa",
    "perdon",
    "porfa",
    "porfavor",
    "favor",
    "gracias",
    "saludos",
    "ustedes",
    "usted",
    "alguien",
    "algo",
    "hago",
    "hacer",
    "quiero",
    "queria",
    "quisiera",
    "necesito",
    "puedo",
    "pueden",
    "puede",
    "saber",
    "pregunta",
    "duda",
    "ayer",
    "hoy",
    "manana",
    "ahorita",
    "ahora",
    "ya",
    "aun",
    "todavia",
    "solo",
    "bueno",
    "pues",
    "osea",
    "eh",
    "ah",
    "oh",
    "ok",
    "okay",
    "vale",
    "si",
    "no",
    "jaja",
    "jajaja",
    "xd",
    "amiga",
    "amigo",
    "senorita",
    "joven",
    "urge",
    "urgente",
    "favorcito",
    "porfis",
    "plis",
    // Portuguese
    "oi",
    "ola",
    "bom",
    "boa",
    "noite",
    "obrigado",
    "obrigada",
    "valeu",
    "gente",
    "voce",
    "voces",
    "queria",
    "preciso",
    "posso",
    "pode",
    "podem",
    "alguem",
    "tudo",
    "bem",
    "entao",
    "tipo",
    "sim",
    "nao",
    "hoje",
    "ontem",
    "amanha",
    "agora",
    "ja",
    "ainda",
    "kkk",
    "kkkk",
    "rs",
    // English
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank",
    "please",
    "pls",
    "guys",
    "yeah",
    "yes",
    "ok",
    "okay",
    "lol",
    "today",
    "yesterday",
    "tomorrow",
    "now",
    "still",
    "already",
    "just",
    "want",
    "need",
    "someone",
    "anyone",
    "something",
    "know",
    "quick",
    "question",
    "urgent",
    "asap",
    "soon",
];

/// Replaces chat abbreviations in normalized text.
pub fn expand_abbreviations(normalized: &str) -> String {
    normalized
        .split(' ')
        .map(|word| {
            ABBREVIATIONS
                .iter()
                .find(|(short, _)| *short == word)
                .map_or(word, |(_, long)| *long)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_expand_whole_words_only() {
        assert_eq!(
            expand_abbreviations("q hago x fa mi cel"),
            "que hago por fa mi celular"
        );
        assert_eq!(expand_abbreviations("quiero queso"), "quiero queso");
    }
}
