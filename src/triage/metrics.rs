//! Scoring predictions against labelled cases: accuracy, macro-F1,
//! per-class precision/recall/F1, the safety figure (urgent or human cases
//! the bot handled alone) and deflection (FAQ cases answered with the right
//! article and no escalation). Pure functions over [`CaseOutcome`]s, so
//! `ventana eval`, tests and notebooks compute the same numbers.

use std::collections::BTreeMap;

use serde::Serialize;

use super::TriageClass;

/// One evaluated case: what was expected and what the bot did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseOutcome {
    pub expected_class: TriageClass,
    /// `None` for greetings/thanks (faq) or uncovered topics.
    pub expected_article: Option<String>,
    pub predicted_class: TriageClass,
    /// The article the reply was built from, if the bot sent an answer.
    pub answered_article: Option<String>,
    /// Whether the bot handed the case to a person.
    pub escalated: bool,
    /// For a FAQ case that lists the facts a correct reply contains: whether
    /// the reply the customer got contains every one (`false` when the bot
    /// did not answer). `None` when the case lists no facts.
    pub facts_matched: Option<bool>,
}

/// Precision, recall and F1 for one class.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Cases labelled with this class.
    pub support: usize,
}

/// Per-class scores, one field per class.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PerClass {
    pub faq: ClassScores,
    pub urgent: ClassScores,
    pub human: ClassScores,
}

impl PerClass {
    pub fn get(&self, class: TriageClass) -> &ClassScores {
        match class {
            TriageClass::Faq => &self.faq,
            TriageClass::Urgent => &self.urgent,
            TriageClass::Human => &self.human,
        }
    }
}

/// Urgent or human cases the bot answered without escalating.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SafetyScores {
    /// Count of urgent/human cases not escalated.
    pub unsafe_auto_answers: usize,
    /// `unsafe_auto_answers` over the urgent/human cases.
    pub unsafe_auto_answer_rate: f64,
    /// Urgent/human cases in the set.
    pub needs_person_cases: usize,
    /// Urgent cases predicted as anything else.
    pub missed_urgent: usize,
}

/// How many FAQ cases the bot resolved on its own, correctly.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AnswerScores {
    /// FAQ cases answered with the expected article (or, for greetings, no
    /// article) and not escalated, over all FAQ cases.
    pub deflection: f64,
    pub deflected: usize,
    pub faq_cases: usize,
    /// FAQ cases answered with another article and not escalated.
    pub wrong_article: usize,
    /// Of the FAQ cases with facts that the bot answered alone, the share
    /// whose reply contains every expected fact.
    pub fact_rate: f64,
    /// Of all FAQ cases with facts, the share answered alone with every
    /// expected fact (escalated ones count as misses).
    pub fact_rate_all: f64,
    /// FAQ cases that list facts.
    pub fact_cases: usize,
}

/// Everything `ventana eval` reports about triage and answering.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TriageMetrics {
    pub cases: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class: PerClass,
    pub safety: SafetyScores,
    pub answer: AnswerScores,
    /// `confusion["expected"]["predicted"]` = count.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Precision/recall/F1 of one class.
pub fn class_scores(outcomes: &[CaseOutcome], class: TriageClass) -> ClassScores {
    let tp = outcomes
        .iter()
        .filter(|o| o.expected_class == class && o.predicted_class == class)
        .count();
    let predicted = outcomes
        .iter()
        .filter(|o| o.predicted_class == class)
        .count();
    let support = outcomes
        .iter()
        .filter(|o| o.expected_class == class)
        .count();
    let precision = ratio(tp, predicted);
    let recall = ratio(tp, support);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    ClassScores {
        precision,
        recall,
        f1,
        support,
    }
}

/// All metrics over a set of outcomes.
pub fn compute(outcomes: &[CaseOutcome]) -> TriageMetrics {
    let cases = outcomes.len();
    let correct = outcomes
        .iter()
        .filter(|o| o.expected_class == o.predicted_class)
        .count();
    let per_class = PerClass {
        faq: class_scores(outcomes, TriageClass::Faq),
        urgent: class_scores(outcomes, TriageClass::Urgent),
        human: class_scores(outcomes, TriageClass::Human),
    };
    let macro_f1 = (per_class.faq.f1 + per_class.urgent.f1 + per_class.human.f1) / 3.0;

    let needs_person: Vec<&CaseOutcome> = outcomes
        .iter()
        .filter(|o| o.expected_class.needs_person())
        .collect();
    let unsafe_auto_answers = needs_person.iter().filter(|o| !o.escalated).count();
    let missed_urgent = outcomes
        .iter()
        .filter(|o| {
            o.expected_class == TriageClass::Urgent && o.predicted_class != TriageClass::Urgent
        })
        .count();

    let faq: Vec<&CaseOutcome> = outcomes
        .iter()
        .filter(|o| o.expected_class == TriageClass::Faq)
        .collect();
    let deflected = faq
        .iter()
        .filter(|o| !o.escalated && o.answered_article == o.expected_article)
        .count();
    let wrong_article = faq
        .iter()
        .filter(|o| {
            !o.escalated && o.answered_article.is_some() && o.answered_article != o.expected_article
        })
        .count();

    let with_facts: Vec<&&CaseOutcome> = faq.iter().filter(|o| o.facts_matched.is_some()).collect();
    let answered_with_facts = with_facts.iter().filter(|o| !o.escalated).count();
    let facts_ok = with_facts
        .iter()
        .filter(|o| !o.escalated && o.facts_matched == Some(true))
        .count();

    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for o in outcomes {
        *confusion
            .entry(o.expected_class.to_string())
            .or_default()
            .entry(o.predicted_class.to_string())
            .or_default() += 1;
    }

    TriageMetrics {
        cases,
        accuracy: ratio(correct, cases),
        macro_f1,
        per_class,
        safety: SafetyScores {
            unsafe_auto_answers,
            unsafe_auto_answer_rate: ratio(unsafe_auto_answers, needs_person.len()),
            needs_person_cases: needs_person.len(),
            missed_urgent,
        },
        answer: AnswerScores {
            deflection: ratio(deflected, faq.len()),
            deflected,
            faq_cases: faq.len(),
            wrong_article,
            fact_rate: ratio(facts_ok, answered_with_facts),
            fact_rate_all: ratio(facts_ok, with_facts.len()),
            fact_cases: with_facts.len(),
        },
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TriageClass::*;

    fn case(
        expected: TriageClass,
        article: Option<&str>,
        predicted: TriageClass,
        answered: Option<&str>,
        escalated: bool,
    ) -> CaseOutcome {
        CaseOutcome {
            expected_class: expected,
            expected_article: article.map(str::to_owned),
            predicted_class: predicted,
            answered_article: answered.map(str::to_owned),
            escalated,
            facts_matched: None,
        }
    }

    #[test]
    fn perfect_predictions_score_one() {
        let outcomes = vec![
            case(Faq, Some("a"), Faq, Some("a"), false),
            case(Faq, None, Faq, None, false),
            case(Urgent, Some("b"), Urgent, None, true),
            case(Human, None, Human, None, true),
        ];
        let m = compute(&outcomes);
        assert_eq!(m.accuracy, 1.0);
        assert_eq!(m.macro_f1, 1.0);
        assert_eq!(m.safety.unsafe_auto_answers, 0);
        assert_eq!(m.answer.deflection, 1.0);
        assert_eq!(m.confusion["urgent"]["urgent"], 1);
    }

    #[test]
    fn mistakes_show_in_each_figure() {
        let outcomes = vec![
            case(Faq, Some("a"), Faq, Some("x"), false), // wrong article
            case(Faq, Some("a"), Human, None, true),     // over-escalated
            case(Urgent, None, Faq, Some("y"), false),   // unsafe, missed urgent
            case(Human, None, Human, None, true),
        ];
        let m = compute(&outcomes);
        assert_eq!(m.accuracy, 0.5);
        assert_eq!(m.safety.unsafe_auto_answers, 1);
        assert_eq!(m.safety.unsafe_auto_answer_rate, 0.5);
        assert_eq!(m.safety.missed_urgent, 1);
        assert_eq!(m.answer.deflected, 0);
        assert_eq!(m.answer.wrong_article, 1);
        assert_eq!(m.per_class.urgent.recall, 0.0);
        assert_eq!(m.per_class.human.precision, 0.5);
        assert!((m.per_class.faq.precision - 0.5).abs() < 1e-9);
        let json = serde_json::to_value(&m).unwrap();
        assert!(json["safety"]["unsafe_auto_answers"].is_number());
        assert!(json["answer"]["deflection"].is_number());
    }

    #[test]
    fn empty_input_is_all_zero() {
        let m = compute(&[]);
        assert_eq!(m.cases, 0);
        assert_eq!(m.accuracy, 0.0);
    }
}
