//! Cue families: general vocabulary (stems and short patterns in Spanish,
//! Portuguese and English) that signals urgency, the need for a person, or
//! plain small talk. [`scan`] turns a message into [`Signals`]; the decision
//! of what the signals mean lives in [`crate::triage::rules`].
//!
//! The vocabulary is written from the labelling guide's categories, not from
//! any evaluation message: no phrase, article id or business name appears
//! here.

mod human;
pub mod pattern;
mod social;
mod urgent;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use pattern::Pattern;

use super::SmallTalk;
use super::normalize::tokens;

/// One primitive cue. Some are decisive alone (a double charge), others only
/// in combination (a suspicious source *and* data handed over).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cue {
    // urgent
    RepeatedCharge,
    UnrecognisedCharge,
    AccountTakeover,
    SuspiciousSource,
    SensitiveRequest,
    DataHandedOver,
    PhysicalHazard,
    Injury,
    ServiceOutage,
    SameDayDeadline,
    DeadlineProblem,
    // human
    PersonRequest,
    CallBack,
    DamagedItem,
    WrongItem,
    MissingItem,
    MarkedDelivered,
    NotReceived,
    StillNot,
    Never,
    LegalThreat,
    PublicShaming,
    RepeatedContact,
    OrderEdit,
    ItemChange,
    BeforeShipping,
    CancelAfterShipping,
    InvoiceCorrection,
    ChargeDispute,
    RefundDemand,
    PolicyException,
    PickupAtCustomer,
    StockQuestion,
    Wholesale,
    Jobs,
    Partnership,
    // faq markers
    HowToReach,
}

impl Cue {
    /// Every cue family, in declaration order (the learned model's feature order).
    pub const ALL: [Cue; 37] = [
        Cue::RepeatedCharge,
        Cue::UnrecognisedCharge,
        Cue::AccountTakeover,
        Cue::SuspiciousSource,
        Cue::SensitiveRequest,
        Cue::DataHandedOver,
        Cue::PhysicalHazard,
        Cue::Injury,
        Cue::ServiceOutage,
        Cue::SameDayDeadline,
        Cue::DeadlineProblem,
        Cue::PersonRequest,
        Cue::CallBack,
        Cue::DamagedItem,
        Cue::WrongItem,
        Cue::MissingItem,
        Cue::MarkedDelivered,
        Cue::NotReceived,
        Cue::StillNot,
        Cue::Never,
        Cue::LegalThreat,
        Cue::PublicShaming,
        Cue::RepeatedContact,
        Cue::OrderEdit,
        Cue::ItemChange,
        Cue::BeforeShipping,
        Cue::CancelAfterShipping,
        Cue::InvoiceCorrection,
        Cue::ChargeDispute,
        Cue::RefundDemand,
        Cue::PolicyException,
        Cue::PickupAtCustomer,
        Cue::StockQuestion,
        Cue::Wholesale,
        Cue::Jobs,
        Cue::Partnership,
        Cue::HowToReach,
    ];
}

static COMPILED: LazyLock<Vec<(Cue, Vec<Pattern>)>> = LazyLock::new(|| {
    urgent::TABLE
        .iter()
        .chain(human::TABLE)
        .chain(social::TABLE)
        .map(|(cue, sources)| (*cue, sources.iter().map(|s| Pattern::new(s)).collect()))
        .collect()
});

/// What the cue scan found in one message.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    pub cues: BTreeSet<Cue>,
    /// The longest elapsed wait the customer mentions ("hace 3 semanas",
    /// "5 days ago"), in days.
    pub waited_days: Option<u32>,
    pub small_talk: Option<SmallTalk>,
    /// Normalized tokens without a leading greeting.
    pub content_tokens: usize,
}

impl Signals {
    pub fn has(&self, cue: Cue) -> bool {
        self.cues.contains(&cue)
    }

    pub fn any(&self, cues: &[Cue]) -> bool {
        cues.iter().any(|c| self.has(*c))
    }
}

/// Scans a message for every cue family.
pub fn scan(text: &str) -> Signals {
    let tokens = tokens(text);
    let mut cues: BTreeSet<Cue> = COMPILED
        .iter()
        .filter(|(_, patterns)| pattern::any_match(patterns, &tokens))
        .map(|(cue, _)| *cue)
        .collect();
    if social::is_bare_person_request(&tokens) {
        cues.insert(Cue::PersonRequest);
    }
    Signals {
        cues,
        waited_days: waited_days(&tokens),
        small_talk: social::small_talk(&tokens),
        content_tokens: social::strip_greeting(&tokens).len(),
    }
}

fn number_word(token: &str) -> Option<u32> {
    if let Ok(n) = token.parse::<u32>() {
        return Some(n);
    }
    Some(match token {
        "un" | "una" | "uno" | "um" | "uma" | "a" | "an" | "one" => 1,
        "dos" | "dois" | "duas" | "two" | "couple" => 2,
        "tres" | "three" => 3,
        "cuatro" | "quatro" | "four" => 4,
        "cinco" | "five" => 5,
        "seis" | "six" => 6,
        "siete" | "sete" | "seven" => 7,
        "ocho" | "oito" | "eight" => 8,
        "diez" | "dez" | "ten" => 10,
        "quince" | "quinze" | "fifteen" => 15,
        "veinte" | "vinte" | "twenty" => 20,
        "treinta" | "trinta" | "thirty" => 30,
        _ => return None,
    })
}

fn unit_days(token: &str) -> Option<u32> {
    match token {
        "dia" | "dias" | "day" | "days" => Some(1),
        "semana" | "semanas" | "week" | "weeks" => Some(7),
        "mes" | "meses" | "month" | "months" => Some(30),
        _ => None,
    }
}

/// Words that make a duration an elapsed wait rather than a policy figure.
const ELAPSED_BEFORE: &[&str] = &[
    "hace",
    "van",
    "lleva",
    "llevo",
    "llevamos",
    "llevan",
    "tiene",
    "tengo",
    "desde",
    "faz",
    "ha",
    "ja",
    "since",
    "for",
    "already",
    "ya",
    "esperando",
    "waiting",
    "mas",
    "more",
    "over",
];
const ELAPSED_AFTER: &[&str] = &[
    "ago",
    "atras",
    "esperando",
    "waiting",
    "sin",
    "sem",
    "y",
    "e",
    "and",
    "que",
    "later",
];

/// The longest elapsed wait mentioned, in days.
fn waited_days(tokens: &[String]) -> Option<u32> {
    let mut best: Option<u32> = None;
    for (i, token) in tokens.iter().enumerate() {
        let Some(unit) = unit_days(token) else {
            continue;
        };
        let count = match i.checked_sub(1).and_then(|j| number_word(&tokens[j])) {
            Some(n) => n,
            // "llevo semanas esperando": an unnumbered plural is a long wait.
            None if token.ends_with('s') => 2,
            None => continue,
        };
        let before = &tokens[i.saturating_sub(4)..i];
        let after = &tokens[(i + 1).min(tokens.len())..(i + 3).min(tokens.len())];
        let elapsed = before.iter().any(|t| ELAPSED_BEFORE.contains(&t.as_str()))
            || after.iter().any(|t| ELAPSED_AFTER.contains(&t.as_str()));
        if elapsed {
            let days = count.saturating_mul(unit);
            best = Some(best.map_or(days, |b| b.max(days)));
        }
    }
    best
}

#[cfg(test)]
mod tests;
