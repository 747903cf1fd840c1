//! Choosing the operating point, safety first, from out-of-fold
//! predictions: probabilities the model gave to messages of businesses it
//! was not trained on.
//!
//! Unsafe auto-answers (a message that needed a person, answered by the
//! bot) are the constraint, deflection the objective. `faq_min` is the
//! lowest threshold whose unsafe rate stays within [`UNSAFE_BUDGET`]; among
//! those, the one that deflects most. `urgent_share` is then the threshold
//! that maximises urgent F2 (recall weighs twice precision: a missed fraud
//! costs more than a fast look at a routine claim).

use serde::Serialize;

use super::{Gates, OperatingPoint, Probabilities, decide};
use crate::vocab::TriageClass;

/// Share of the messages that need a person the bot may answer, on the
/// tuning businesses. Below the 2 % target, to leave room for a business
/// the tuning never saw.
pub const UNSAFE_BUDGET: f64 = 0.015;

/// One out-of-fold prediction.
#[derive(Debug, Clone, Copy)]
pub struct ScoredCase {
    pub p: Probabilities,
    pub gates: Gates,
    pub expected: TriageClass,
    /// The best passage's article is the expected one (or the case expects
    /// none and is small talk): answering would deflect it.
    pub right_article: bool,
}

/// Figures at one operating point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    pub faq_min: f32,
    pub urgent_share: f32,
    pub unsafe_rate: f64,
    pub deflection: f64,
    pub urgent_recall: f64,
    pub macro_f1: f64,
}

const FAQ_GRID: std::ops::RangeInclusive<u32> = 10..=98;
const URGENT_GRID: std::ops::RangeInclusive<u32> = 10..=80;

/// The figures of `point` over `scored`.
pub fn evaluate(scored: &[ScoredCase], point: &OperatingPoint) -> CurvePoint {
    let mut needs_person = 0usize;
    let mut unsafe_answers = 0usize;
    let mut faq = 0usize;
    let mut deflected = 0usize;
    let mut confusion = [[0usize; 3]; 3];
    for s in scored {
        let (class, _) = decide(&s.p, s.gates, point);
        confusion[super::fit::class_index(s.expected)][super::fit::class_index(class)] += 1;
        if s.expected.needs_person() {
            needs_person += 1;
            unsafe_answers += usize::from(class == TriageClass::Faq);
        } else {
            faq += 1;
            deflected += usize::from(class == TriageClass::Faq && s.right_article);
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let f1 = |k: usize| {
        let tp = confusion[k][k];
        let predicted: usize = confusion.iter().map(|row| row[k]).sum();
        let support: usize = confusion[k].iter().sum();
        let (p, r) = (ratio(tp, predicted), ratio(tp, support));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    };
    let urgent = super::fit::class_index(TriageClass::Urgent);
    CurvePoint {
        faq_min: point.faq_min,
        urgent_share: point.urgent_share,
        unsafe_rate: ratio(unsafe_answers, needs_person),
        deflection: ratio(deflected, faq),
        urgent_recall: ratio(confusion[urgent][urgent], confusion[urgent].iter().sum()),
        macro_f1: (f1(0) + f1(1) + f1(2)) / 3.0,
    }
}

/// Urgent F2 at `point`.
fn urgent_f2(scored: &[ScoredCase], point: &OperatingPoint) -> f64 {
    let (mut tp, mut predicted, mut support) = (0usize, 0usize, 0usize);
    for s in scored {
        let (class, _) = decide(&s.p, s.gates, point);
        let is = class == TriageClass::Urgent;
        let should = s.expected == TriageClass::Urgent;
        tp += usize::from(is && should);
        predicted += usize::from(is);
        support += usize::from(should);
    }
    if tp == 0 {
        return 0.0;
    }
    let p = tp as f64 / predicted as f64;
    let r = tp as f64 / support as f64;
    5.0 * p * r / (4.0 * p + r)
}

/// The safety-first operating point for `scored` (see the module docs).
/// Ties go to the stricter threshold, so the choice is deterministic.
pub fn choose(scored: &[ScoredCase]) -> OperatingPoint {
    let mut best: Option<CurvePoint> = None;
    for step in FAQ_GRID {
        let point = OperatingPoint {
            faq_min: step as f32 / 100.0,
            urgent_share: 0.5,
        };
        let figures = evaluate(scored, &point);
        if figures.unsafe_rate > UNSAFE_BUDGET {
            continue;
        }
        if best.is_none_or(|b| figures.deflection > b.deflection) {
            best = Some(figures);
        }
    }
    let faq_min = best.map_or(*FAQ_GRID.end() as f32 / 100.0, |b| b.faq_min);
    let mut urgent_share = 0.5;
    let mut best_f2 = f64::MIN;
    for step in URGENT_GRID {
        let point = OperatingPoint {
            faq_min,
            urgent_share: step as f32 / 100.0,
        };
        let f2 = urgent_f2(scored, &point);
        if f2 > best_f2 {
            best_f2 = f2;
            urgent_share = point.urgent_share;
        }
    }
    OperatingPoint {
        faq_min,
        urgent_share,
    }
}

/// The trade-off curve over `faq_min` at the chosen `urgent_share`.
pub fn curve(scored: &[ScoredCase], urgent_share: f32) -> Vec<CurvePoint> {
    (2..=19)
        .map(|step| {
            evaluate(
                scored,
                &OperatingPoint {
                    faq_min: step as f32 * 0.05,
                    urgent_share,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(faq: f32, urgent: f32, expected: TriageClass) -> ScoredCase {
        ScoredCase {
            p: Probabilities {
                faq,
                urgent,
                human: 1.0 - faq - urgent,
            },
            gates: Gates {
                confident_article: true,
                ..Gates::default()
            },
            expected,
            right_article: true,
        }
    }

    #[test]
    fn the_chosen_point_keeps_unsafe_answers_within_budget_and_deflects_most() {
        let mut set = Vec::new();
        for i in 0..100 {
            set.push(scored(0.5 + i as f32 * 0.004, 0.05, TriageClass::Faq));
            set.push(scored(0.1 + i as f32 * 0.006, 0.1, TriageClass::Human));
        }
        let point = choose(&set);
        let figures = evaluate(&set, &point);
        assert!(figures.unsafe_rate <= UNSAFE_BUDGET, "{figures:?}");
        // One step lower lets more than the budget through.
        let lower = OperatingPoint {
            faq_min: point.faq_min - 0.01,
            ..point
        };
        assert!(evaluate(&set, &lower).unsafe_rate > UNSAFE_BUDGET);
        assert!(figures.deflection > 0.5, "{figures:?}");
        assert_eq!(choose(&set), point, "the choice is deterministic");
    }
}
