//! The rule-based classifier: cue families first, then the retrieval result.
//!
//! Order follows the labelling guide: urgent cues win, then the cues that
//! need a person, then social small talk, then retrieval: the top article
//! flagged `escalate` sends the turn to a person (the article may still be
//! shared), and when no article is confident enough the turn goes to a
//! person as "not covered" rather than risking a wrong answer.

use serde::{Deserialize, Serialize};

use super::cues::{Cue, Signals, scan};
use super::{Basis, Lang, Triage, TriageClass, TriageSource, detect_language};
use crate::knowledge::{self, Coverage, DEFAULT_MIN_CONFIDENCE, Hit};

/// How retrieval confidence feeds triage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetrievalPolicy {
    /// Below this top-hit score no article answers the turn: escalate as
    /// not covered.
    pub min_confidence: f32,
    /// A top hit at least this confident overrides the "usually not covered"
    /// request types (stock, wholesale, jobs, partnerships): this knowledge
    /// base evidently covers them.
    pub covered_override: f32,
}

impl Default for RetrievalPolicy {
    fn default() -> Self {
        Self {
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            covered_override: 0.85,
        }
    }
}

/// Waits longer than this (in days) on something that has "still not"
/// happened are treated as overdue beyond the usual stated times.
const OVERDUE_AFTER_DAYS: u32 = 5;

/// Classifies one customer turn from its text and the passages retrieved
/// for it (best first).
pub fn classify_with_rules(text: &str, hits: &[Hit], policy: &RetrievalPolicy) -> Triage {
    let lang = detect_language(text);
    let signals = scan(text);
    decide(&signals, lang, hits, policy)
}

/// The urgent reason, if a hard urgency cue is present.
pub fn urgent_reason(s: &Signals) -> Option<&'static str> {
    let phishing =
        s.has(Cue::SuspiciousSource) && s.any(&[Cue::SensitiveRequest, Cue::DataHandedOver]);
    let reason = if s.has(Cue::RepeatedCharge) {
        "urgent: repeated charge cue"
    } else if s.has(Cue::UnrecognisedCharge) {
        "urgent: unauthorised charge cue"
    } else if s.has(Cue::AccountTakeover) {
        "urgent: account takeover cue"
    } else if phishing {
        "urgent: impersonation or phishing cue"
    } else if s.has(Cue::PhysicalHazard) {
        "urgent: physical safety hazard cue"
    } else if s.has(Cue::Injury) {
        "urgent: injury cue"
    } else if s.has(Cue::ServiceOutage) {
        "urgent: complete loss of service cue"
    } else if s.has(Cue::SameDayDeadline) && s.has(Cue::DeadlineProblem) {
        "urgent: same-day deadline with a problem"
    } else {
        return None;
    };
    Some(reason)
}

/// The customer asks for a person or a call-back (not how to reach one).
pub fn asks_for_person(s: &Signals) -> bool {
    s.any(&[Cue::PersonRequest, Cue::CallBack]) && !s.has(Cue::HowToReach)
}

/// The reason a person is needed, if a human cue is present. The
/// "usually not covered" request types are reported separately because a
/// confident article may override them.
fn human_reason(s: &Signals) -> Option<&'static str> {
    let asks_person = asks_for_person(s);
    let overdue = s.has(Cue::Never)
        || (s.has(Cue::StillNot) && s.waited_days.is_some_and(|d| d >= OVERDUE_AFTER_DAYS));
    let reason = if asks_person {
        "human: explicit request for a person"
    } else if s.has(Cue::LegalThreat) {
        "human: legal or chargeback threat"
    } else if s.has(Cue::PublicShaming) {
        "human: public complaint threat"
    } else if s.has(Cue::RepeatedContact) {
        "human: repeated contact without resolution"
    } else if s.any(&[Cue::DamagedItem, Cue::WrongItem, Cue::MissingItem]) {
        "human: claim for a damaged, wrong or missing item"
    } else if s.has(Cue::MarkedDelivered) && s.has(Cue::NotReceived) {
        "human: marked delivered but not received"
    } else if overdue {
        "human: overdue beyond the stated times"
    } else if s.has(Cue::CancelAfterShipping) {
        "human: cancellation after shipping"
    } else if s.has(Cue::OrderEdit) || (s.has(Cue::ItemChange) && s.has(Cue::BeforeShipping)) {
        "human: change to an order's items"
    } else if s.has(Cue::InvoiceCorrection) {
        "human: invoice correction"
    } else if s.any(&[Cue::ChargeDispute, Cue::RefundDemand]) {
        "human: refund or charge claim"
    } else if s.has(Cue::PolicyException) {
        "human: exception to a policy"
    } else if s.has(Cue::PickupAtCustomer) {
        "human: special pickup request"
    } else {
        return None;
    };
    Some(reason)
}

fn uncovered_request(s: &Signals) -> Option<&'static str> {
    if s.has(Cue::StockQuestion) {
        Some("human: not covered (stock availability)")
    } else if s.has(Cue::Wholesale) {
        Some("human: not covered (wholesale or bulk order)")
    } else if s.has(Cue::Jobs) {
        Some("human: not covered (job enquiry)")
    } else if s.has(Cue::Partnership) {
        Some("human: not covered (partnership request)")
    } else {
        None
    }
}

/// Applies the labelling order to the signals and retrieval result.
pub fn decide(s: &Signals, lang: Lang, hits: &[Hit], policy: &RetrievalPolicy) -> Triage {
    let verdict = |class, confidence: f32, reason: String, basis| Triage {
        class,
        confidence: confidence.clamp(0.0, 1.0),
        lang,
        reason,
        source: TriageSource::Rules,
        basis,
        small_talk: None,
    };
    if let Some(reason) = urgent_reason(s) {
        return verdict(TriageClass::Urgent, 0.9, reason.to_owned(), Basis::Cue);
    }
    if let Some(reason) = human_reason(s) {
        return verdict(TriageClass::Human, 0.85, reason.to_owned(), Basis::Cue);
    }
    let top = hits.first();
    let top_score = top.map_or(0.0, |h| h.score);
    if let Some(reason) = uncovered_request(s)
        && top_score < policy.covered_override
    {
        return verdict(TriageClass::Human, 0.7, reason.to_owned(), Basis::Cue);
    }
    if let Some(kind) = s.small_talk {
        let mut t = verdict(
            TriageClass::Faq,
            0.95,
            "faq: small talk".to_owned(),
            Basis::SmallTalk,
        );
        t.small_talk = Some(kind);
        return t;
    }
    match (knowledge::decide(hits, policy.min_confidence), top) {
        (Coverage::AnswerAndEscalate { article_id, .. }, Some(hit)) => verdict(
            TriageClass::Human,
            hit.score,
            format!("human: article {article_id} requires a person"),
            Basis::EscalateArticle,
        ),
        (Coverage::Answer { article_id }, Some(hit)) => verdict(
            TriageClass::Faq,
            hit.score,
            format!("faq: answered by {article_id}"),
            Basis::Article,
        ),
        _ => verdict(
            TriageClass::Human,
            1.0 - top_score,
            "human: low confidence, not covered by the knowledge base".to_owned(),
            Basis::LowConfidence,
        ),
    }
}
