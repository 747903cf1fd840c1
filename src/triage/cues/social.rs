//! Turns that are only social talk (greetings, thanks, "ok") and questions
//! about *how* to reach a person, which the help centre answers (hours,
//! channels) and which must not be mistaken for a transfer request.

use super::Cue;
use crate::triage::SmallTalk;

pub(super) const TABLE: &[(Cue, &[&str])] = &[(
    Cue::HowToReach,
    &[
        // es
        "como|donde .. hago|puedo|podria|hacer|me .. hablar|comunicar*|contactar*|marcar|llamar",
        "que|cual|cuales hora|horas|horario|horarios .. atienden|atencion|contestan|responden",
        "horario|horarios de atencion",
        "no urge",
        "no es urgente",
        "otro dia",
        // pt
        "como .. faco|posso|faz .. falar|contatar|contato|ligar",
        "que horas .. atend*|respond*",
        "horario de atendimento",
        // en
        "how .. can|do|could .. reach|contact|talk|speak|call",
        "what|when .. hours|time .. open|support|agents|available|answer",
        "your hours",
        "no rush",
    ],
)];

const GREETING_WORDS: &[&str] = &[
    "hola",
    "holi",
    "holis",
    "buenas",
    "buenos",
    "buen",
    "dia",
    "dias",
    "tarde",
    "tardes",
    "noche",
    "noches",
    "que",
    "tal",
    "hey",
    "hi",
    "hello",
    "hello",
    "oi",
    "ola",
    "bom",
    "boa",
    "noite",
    "good",
    "morning",
    "afternoon",
    "evening",
    "como",
    "estas",
    "esta",
    "estan",
    "tudo",
    "bem",
    "how",
    "are",
    "you",
    "there",
    "alo",
    "saludos",
    "buenass",
    "gente",
    "amigos",
];
const THANKS_WORDS: &[&str] = &[
    "gracias",
    "muchas",
    "mil",
    "muchisimas",
    "obrigado",
    "obrigada",
    "brigado",
    "brigada",
    "valeu",
    "vlw",
    "thanks",
    "thank",
    "you",
    "so",
    "much",
    "a",
    "lot",
    "muito",
    "amable",
    "muy",
    "te",
    "lo",
    "agradezco",
    "agradecido",
    "agradecida",
    "much",
    "appreciate",
    "it",
    "de",
    "nada",
    "por",
    "todo",
    "tu",
    "su",
    "ayuda",
    "help",
    "the",
    "pela",
    "ajuda",
    "for",
    "your",
];
const ACK_WORDS: &[&str] = &[
    "ok",
    "okay",
    "okey",
    "oki",
    "okis",
    "vale",
    "va",
    "sale",
    "listo",
    "perfecto",
    "entendido",
    "entiendo",
    "bueno",
    "dale",
    "sip",
    "si",
    "ya",
    "beleza",
    "blz",
    "certo",
    "esta",
    "bien",
    "got",
    "it",
    "cool",
    "great",
    "perfect",
    "k",
    "kk",
    "kkk",
    "jaja",
    "jajaja",
    "haha",
    "lol",
    "genial",
    "excelente",
    "super",
    "claro",
    "de",
    "acuerdo",
    "entendi",
    "nice",
    "alright",
    "sure",
    "yes",
    "sim",
    "show",
    "otimo",
    "top",
    "fine",
    "thumbs",
    "muy",
    "bom",
    "esta",
    "bem",
];

/// The kind of small talk, if every token of the turn is small talk.
/// Emoji-only turns (no tokens) count as an acknowledgement.
pub fn small_talk(tokens: &[String]) -> Option<SmallTalk> {
    if tokens.len() > 10 {
        return None;
    }
    let all_in = |list: &[&str]| tokens.iter().all(|t| list.contains(&t.as_str()));
    let any_in = |list: &[&str]| tokens.iter().any(|t| list.contains(&t.as_str()));
    let social = |t: &String| {
        GREETING_WORDS.contains(&t.as_str())
            || THANKS_WORDS.contains(&t.as_str())
            || ACK_WORDS.contains(&t.as_str())
    };
    if tokens.is_empty() {
        return Some(SmallTalk::Acknowledgement);
    }
    if !tokens.iter().all(social) {
        return None;
    }
    let thanks_core = [
        "gracias",
        "obrigado",
        "obrigada",
        "brigado",
        "valeu",
        "vlw",
        "thanks",
        "thank",
        "agradezco",
        "appreciate",
    ];
    if tokens.iter().any(|t| thanks_core.contains(&t.as_str())) {
        return Some(SmallTalk::Thanks);
    }
    if all_in(ACK_WORDS) {
        return Some(SmallTalk::Acknowledgement);
    }
    if any_in(GREETING_WORDS) {
        return Some(SmallTalk::Greeting);
    }
    Some(SmallTalk::Acknowledgement)
}

/// Leading greeting words, so "hola, cuanto cuesta el envio" is seen as a
/// question and a greeting prefix does not count as content.
pub fn strip_greeting(tokens: &[String]) -> &[String] {
    let n = tokens
        .iter()
        .take_while(|t| GREETING_WORDS.contains(&t.as_str()) && t.as_str() != "como")
        .count();
    &tokens[n..]
}

/// Words that, typed alone, ask for a person ("agente", "human please").
const PERSON_WORDS: &[&str] = &[
    "agente",
    "asesor",
    "asesora",
    "humano",
    "persona",
    "operador",
    "operadora",
    "ejecutivo",
    "atendente",
    "agent",
    "human",
    "representative",
    "operator",
    "person",
];

/// A turn that is only a person word, maybe with "please" or a greeting.
pub fn is_bare_person_request(tokens: &[String]) -> bool {
    let filler = [
        "por", "favor", "please", "un", "una", "a", "an", "um", "uma", "real",
    ];
    let rest = strip_greeting(tokens);
    rest.iter().any(|t| PERSON_WORDS.contains(&t.as_str()))
        && rest
            .iter()
            .all(|t| PERSON_WORDS.contains(&t.as_str()) || filler.contains(&t.as_str()))
}
