//! What kind of fact a question asks for, and which kinds a piece of text
//! holds, in Spanish, Portuguese and English.
//!
//! "¿Cuánto cuesta?" wants an amount, "¿hasta cuándo?" a date or a time
//! span, "¿dónde / cómo lo hago?" a place, a menu path or steps. The
//! question side reads generic question words; the text side looks for
//! the shapes those facts take (a currency next to a number, a number next
//! to a time unit, `App > Menú`, a street and a number, a link). Both are
//! deliberately coarse: they only tip the choice between units that match
//! the question's words about equally.

use crate::knowledge::chat::expand_abbreviations;
use crate::knowledge::text::normalize;
use crate::triage::normalize::fold;

/// A kind of fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AnswerType {
    /// A price, fee, percentage or "free".
    Amount,
    /// A date, an hour, a day of the week or a time span.
    Time,
    /// A place, a menu path, a link, a contact or the steps to follow.
    Way,
    /// Any number ("how many", "the maximum").
    Quantity,
}

/// Question phrases (normalized) asking for an amount.
const AMOUNT_CUES: &[&str] = &[
    // es
    "cuanto cuesta",
    "cuanto cuestan",
    "cuanto sale",
    "cuanto cobran",
    "cuanto me cobran",
    "cuanto pago",
    "cuanto vale",
    "cuesta",
    "cuestan",
    "precio",
    "precios",
    "costo",
    "costos",
    "coste",
    "tarifa",
    "tarifas",
    "cobran",
    "cobra",
    "cobro",
    "comision",
    "cargo",
    "gratis",
    "costaria",
    "costara",
    "cobraria",
    "cobrarian",
    // pt
    "quanto custa",
    "quanto custam",
    "quanto cobram",
    "custa",
    "custo",
    "preco",
    "precos",
    "taxa",
    "taxas",
    "valor",
    "gratuito",
    // en
    "how much",
    "price",
    "prices",
    "cost",
    "costs",
    "fee",
    "fees",
    "charge",
    "charged",
    "free",
];

/// Verbs of paying: an amount is asked unless the question asks when
/// ("¿tengo que pagar?" but not "¿hasta cuándo puedo pagar?").
const PAYING_CUES: &[&str] = &["pagar", "cobrar", "pago", "pagam", "pay"];

/// Question phrases asking for a date, an hour or a time span.
const TIME_CUES: &[&str] = &[
    // es
    "cuando",
    "hasta cuando",
    "plazo",
    "plazos",
    "cuanto tarda",
    "cuanto tardan",
    "cuanto demora",
    "cuanto tiempo",
    "tarda",
    "tardan",
    "demora",
    "demoran",
    "horario",
    "horarios",
    "a que hora",
    "que dia",
    "fecha",
    "vence",
    "vencimiento",
    "horas",
    "dias",
    // pt
    "quando",
    "ate quando",
    "prazo",
    "prazos",
    "quanto tempo",
    "demoram",
    "que horas",
    // en
    "when",
    "how long",
    "deadline",
    "what time",
    "until",
    "due",
    "hours",
    "days",
];

/// Question phrases asking where or how.
const WAY_CUES: &[&str] = &[
    // es
    "donde",
    "como",
    "como hago",
    "como puedo",
    "que hago",
    "que tengo que hacer",
    "pasos",
    "contacto",
    "contactar",
    "llamar",
    "telefono",
    // pt
    "onde",
    "o que faco",
    "passos",
    "contato",
    "ligar",
    // en
    "where",
    "how do",
    "how can",
    "how to",
    "what do i do",
    "steps",
    "contact",
    "call",
    "phone",
];

/// Question words asking for a number of something.
const QUANTITY_CUES: &[&str] = &[
    "cuanto", "cuanta", "cuantos", "cuantas", "maximo", "minimo", "limite", "quanto", "quanta",
    "quantos", "quantas", "how many", "maximum", "minimum", "limit", "max", "min",
];

/// What `question` asks for, most specific first.
pub(super) fn asked(question: &str) -> Vec<AnswerType> {
    let words = format!(" {} ", expand_abbreviations(&normalize(question)));
    let has = |cues: &[&str]| cues.iter().any(|c| words.contains(&format!(" {c} ")));
    let time = has(TIME_CUES);
    let amount = has(AMOUNT_CUES) || (has(PAYING_CUES) && !time);
    [
        (AnswerType::Amount, amount),
        (AnswerType::Time, time),
        (AnswerType::Way, has(WAY_CUES)),
        (AnswerType::Quantity, has(QUANTITY_CUES)),
    ]
    .into_iter()
    .filter(|(_, asked)| *asked)
    .map(|(kind, _)| kind)
    .collect()
}

/// Currency codes, names and signs written around an amount (folded).
const CURRENCIES: &[&str] = &[
    "mxn", "usd", "eur", "cop", "clp", "ars", "pen", "brl", "uyu", "pesos", "peso", "soles", "sol",
    "euros", "euro", "reais", "real", "dolares", "dolar", "dollars", "dollar", "uf", "s/", "r$",
    "us$", "$", "€",
];

/// Words that say "no charge".
const FREE_WORDS: &[&str] = &[
    "gratis",
    "gratuito",
    "gratuita",
    "free",
    "sin costo",
    "sem custo",
];

/// Time units written after a number (folded).
const TIME_UNITS: &[&str] = &[
    "min", "minuto", "minutos", "minutes", "minute", "h", "hs", "hrs", "hora", "horas", "hour",
    "hours", "dia", "dias", "day", "days", "semana", "semanas", "week", "weeks", "mes", "meses",
    "month", "months", "ano", "anos", "year", "years", "habiles", "uteis", "am", "pm", "a.m.",
    "p.m.",
];

/// Days of the week and months (folded); "may" and "march" are left out
/// (English verbs).
const CALENDAR: &[&str] = &[
    "lunes",
    "martes",
    "miercoles",
    "jueves",
    "viernes",
    "sabado",
    "sabados",
    "domingo",
    "domingos",
    "feriados",
    "festivos",
    "segunda-feira",
    "terca-feira",
    "quarta-feira",
    "quinta-feira",
    "sexta-feira",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
    "janeiro",
    "fevereiro",
    "marco",
    "maio",
    "junho",
    "julho",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
    "january",
    "february",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "inmediato",
    "inmediata",
    "inmediatamente",
    "imediato",
    "imediatamente",
    "immediately",
    "24/7",
];

/// Words that start a street address (folded).
const STREET_WORDS: &[&str] = &[
    "av.", "avenida", "calle", "jr.", "jiron", "carrera", "cra.", "rua", "street", "st.", "avenue",
    "paseo", "blvd.", "bulevar", "calzada",
];

/// The kinds of fact `text` holds.
pub(super) fn holds(text: &str) -> Vec<AnswerType> {
    let folded = fold(text);
    let tokens: Vec<&str> = folded
        .split_whitespace()
        .map(|t| t.trim_matches(|c: char| matches!(c, ',' | ';' | '(' | ')' | '"' | '«' | '»')))
        .collect();
    let mut kinds = Vec::new();
    if has_amount(&folded, &tokens) {
        kinds.push(AnswerType::Amount);
    }
    if has_time(&tokens) {
        kinds.push(AnswerType::Time);
    }
    if has_way(&folded, &tokens) {
        kinds.push(AnswerType::Way);
    }
    if tokens.iter().any(|t| t.chars().any(|c| c.is_ascii_digit())) {
        kinds.push(AnswerType::Quantity);
    }
    kinds
}

fn has_digit(token: &str) -> bool {
    token.chars().any(|c| c.is_ascii_digit())
}

fn is_currency(token: &str) -> bool {
    let token = token.trim_end_matches(['.', ':']);
    CURRENCIES.contains(&token)
}

fn has_amount(folded: &str, tokens: &[&str]) -> bool {
    let signed = tokens.iter().any(|t| {
        has_digit(t) && (t.contains(['$', '€', '%']) || t.starts_with("s/") || t.starts_with("r$"))
    });
    let named = tokens.windows(2).any(|w| {
        (has_digit(w[0]) && (is_currency(w[1]) || w[1] == "%"))
            || (is_currency(w[0]) && has_digit(w[1]))
    });
    let free = FREE_WORDS.iter().any(|w| contains_words(folded, w));
    signed || named || free
}

fn has_time(tokens: &[&str]) -> bool {
    let clock = tokens.iter().any(|t| is_clock(t));
    let span = tokens.iter().enumerate().any(|(i, t)| {
        has_digit(t)
            && tokens[i + 1..]
                .iter()
                .take(3)
                .any(|u| TIME_UNITS.contains(&u.trim_end_matches(['.', ':'])))
    });
    let unit_glued = tokens.iter().any(|t| {
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && TIME_UNITS.contains(&t[digits..].trim_end_matches(['.', ':']))
    });
    let calendar = tokens
        .iter()
        .any(|t| CALENDAR.contains(&t.trim_end_matches(['.', ':'])));
    clock || span || unit_glued || calendar
}

/// `9:00`, `18:30`, `9:00-18:00`.
fn is_clock(token: &str) -> bool {
    let chars: Vec<char> = token.chars().collect();
    chars.windows(4).any(|w| {
        w[0].is_ascii_digit() && w[1] == ':' && w[2].is_ascii_digit() && w[3].is_ascii_digit()
    })
}

fn has_way(folded: &str, tokens: &[&str]) -> bool {
    let path = folded.contains(" > ") || folded.contains('›') || folded.contains('→');
    let link = tokens
        .iter()
        .any(|t| t.starts_with("http") || t.starts_with("www.") || t.contains('@'));
    let street = tokens
        .windows(2)
        .any(|w| STREET_WORDS.contains(&w[0]) && w[1].starts_with(char::is_alphanumeric));
    let phone = tokens
        .windows(2)
        .any(|w| digit_count(w[0]) + digit_count(w[1]) >= 7)
        || tokens.iter().any(|t| digit_count(t) >= 7);
    path || link || street || phone
}

fn digit_count(token: &str) -> usize {
    if token
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')'))
    {
        token.chars().filter(char::is_ascii_digit).count()
    } else {
        0
    }
}

/// Whether `phrase` occurs in `text` as whole words.
fn contains_words(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use AnswerType::*;

    #[test]
    fn questions_say_what_they_ask_for() {
        assert_eq!(asked("¿Cuánto cuesta el envío?"), [Amount, Quantity]);
        assert_eq!(asked("how much is the fee"), [Amount]);
        assert_eq!(asked("quanto tempo demora?"), [Time, Quantity]);
        assert_eq!(asked("hasta cuando puedo pagar"), [Time]);
        assert_eq!(asked("tengo que pagar el asiento?"), [Amount]);
        assert_eq!(asked("donde descargo la factura"), [Way]);
        assert_eq!(asked("how do I reset my password"), [Way]);
        assert!(asked("mi pedido llegó frío").is_empty());
    }

    #[test]
    fn text_shows_what_it_holds() {
        assert!(holds("Envío: $129 MXN").contains(&Amount));
        assert!(holds("cuesta S/ 80 por tramo").contains(&Amount));
        assert!(holds("8 % del subtotal").contains(&Amount));
        assert!(holds("Es gratis para socios").contains(&Amount));
        assert!(holds("Llega en 5 a 10 días hábiles.").contains(&Time));
        assert!(holds("Atendemos de 9:00 a 18:00").contains(&Time));
        assert!(holds("vence el 15 de marzo").contains(&Time));
        assert!(holds("en 24h").contains(&Time));
        assert!(holds("Entra a App > Perfil > Pagos").contains(&Way));
        assert!(holds("Llámanos al 55 1234 5678").contains(&Way));
        assert!(holds("Av. Reforma 123, CDMX").contains(&Way));
        assert!(!holds("• Hasta 3 km — Envío: $19 MXN").contains(&Way));
        let plain = holds("Revisa que los datos sean correctos.");
        assert!(plain.is_empty(), "{plain:?}");
    }
}
