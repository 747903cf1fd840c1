//! Picking what an extractive reply quotes: the units of the article (see
//! `units`) that answer the customer's question, in article order, within
//! the reply's length.
//!
//! Each unit is scored by the share of the question's words and figures it
//! contains, words matched the way retrieval matches them (stems in three
//! languages, the cross-language glossary, trigrams for typos), all
//! weighted by how rare they are within the article, so the word that
//! singles out one row or one sentence counts more than the article's topic
//! word. Words found only in its headings count less. A unit holding the
//! kind of fact the question asks for (an amount for "how much", a date or
//! a span for "when", a path or steps for "where / how") gets a bonus, and
//! the best passage's first sentence a small one, as the default answer.
//! Units scoring at least half the best are quoted, best first while they
//! fit, then put back in article order; a list item brings the sentence
//! that introduced its list, and a step of a "how do I" answer brings its
//! whole block. A question none of the article's words match quotes the
//! best passage, as before.
//!
//! The constants were set on the corpus's "fact rate given the right
//! article" (`fact_rate`), keeping replies about as long as the old
//! best-passage replies: a lower cutoff quotes more and finds more facts
//! in longer replies.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::answer_type::{self, AnswerType};
use super::extractive::trim_to;
use super::units::{Section, Unit, UnitKind, split_units};
use crate::knowledge::confidence::coverage;
use crate::knowledge::retrieve::prepare;
use crate::knowledge::sparse::{QueryWord, SparseEncoder};
use crate::knowledge::text::{normalize, words};

/// The stemmers and stop words retrieval uses; `None` only if they could
/// not be built, and then units are matched by the answer type alone.
static ENCODER: LazyLock<Option<SparseEncoder>> = LazyLock::new(|| SparseEncoder::new().ok());

/// Weight of a word found only in a unit's headings.
const CONTEXT_WEIGHT: f32 = 0.7;
/// Bonus of a unit holding the kind of fact asked for (amount, time, way).
const TYPE_BONUS: f32 = 0.5;
/// Bonus of a unit holding a number when the question asks "how many".
const QUANTITY_BONUS: f32 = 0.1;
/// Bonus of every unit of the best passage.
const BEST_SECTION_BONUS: f32 = 0.05;
/// Extra bonus of the best passage's first unit: the default answer.
const FIRST_UNIT_BONUS: f32 = 0.15;
/// Units scoring at least this share of the best one are quoted.
const RELATIVE_CUTOFF: f32 = 0.5;
/// A step scoring at least this share of the best one brings its whole
/// block when the question asks how.
const STEPS_CUTOFF: f32 = 0.8;

/// A customer's question, ready to score units.
#[derive(Debug, Clone)]
pub(super) struct Question {
    words: Vec<QueryWord>,
    /// Figures the customer wrote ("300 megas", "5,75"): retrieval ignores
    /// them, but they single out a table row or a tier.
    numbers: Vec<String>,
    asked: Vec<AnswerType>,
}

impl Question {
    /// `turn` is the customer's message, `query` what was retrieved for
    /// (the turn, or a short follow-up with the previous question). The
    /// kind of fact asked comes from the turn first: "¿y cuánto cuesta?"
    /// asks for an amount whatever the previous question was.
    pub(super) fn new(turn: &str, query: &str) -> Self {
        let words = ENCODER
            .as_ref()
            .map(|encoder| prepare(encoder, query).words)
            .unwrap_or_default();
        let mut asked = answer_type::asked(turn);
        if asked.is_empty() {
            asked = answer_type::asked(query);
        }
        let mut numbers = numbers(query);
        numbers.sort();
        numbers.dedup();
        Self {
            words,
            numbers,
            asked,
        }
    }

    fn wants_steps(&self) -> bool {
        self.asked.contains(&AnswerType::Way)
    }
}

/// What to quote.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Quote {
    pub text: String,
    /// The section heading when every quoted unit comes from one section.
    pub heading: Option<String>,
}

/// The units of `sections` that answer `question`, rendered within
/// `max_chars`. `best` is the section retrieval ranked first, if known.
pub(super) fn quote(
    sections: &[Section<'_>],
    question: &Question,
    best: Option<usize>,
    max_chars: usize,
) -> Quote {
    let units = split_units(sections);
    if units.is_empty() {
        return Quote {
            text: String::new(),
            heading: None,
        };
    }
    let scores = score_units(&units, question, best);
    let chosen = choose(&units, sections, &scores, question, best, max_chars);
    render(&units, &chosen, sections, max_chars)
}

/// Matched stems and trigrams of one text, sorted and distinct.
struct Terms {
    stems: Vec<u32>,
    grams: Vec<u32>,
}

fn terms(encoder: &SparseEncoder, text: &str) -> Terms {
    let normalized = normalize(text);
    let mut stems = Vec::new();
    let mut grams = Vec::new();
    for word in words(&normalized) {
        if let Some(t) = encoder.document_word(word) {
            stems.extend(t.stems);
            grams.extend(t.grams);
        }
    }
    stems.sort_unstable();
    stems.dedup();
    grams.sort_unstable();
    grams.dedup();
    Terms { stems, grams }
}

/// The figures of a text, with a decimal comma read as a point: "5,75 kW"
/// → `5.75`, "$24.500" → `24.500`.
fn numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .map(|t| t.trim_matches([',', '.']).replace(',', "."))
        .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .collect()
}

/// How much of each question word, then each question figure, each unit
/// holds: `[term][unit]`, in [0, 1], headings counting [`CONTEXT_WEIGHT`].
fn occurrences(units: &[Unit], question: &Question) -> Vec<Vec<f32>> {
    let mut rows = word_occurrences(units, question);
    let figures: Vec<(Vec<String>, Vec<String>)> = units
        .iter()
        .map(|u| (numbers(&u.text), numbers(&u.context)))
        .collect();
    for number in &question.numbers {
        let row = figures
            .iter()
            .map(|(inside, around)| {
                if inside.contains(number) {
                    1.0
                } else if around.contains(number) {
                    CONTEXT_WEIGHT
                } else {
                    0.0
                }
            })
            .collect();
        rows.push(row);
    }
    rows
}

fn word_occurrences(units: &[Unit], question: &Question) -> Vec<Vec<f32>> {
    let Some(encoder) = ENCODER.as_ref() else {
        return Vec::new();
    };
    let unit_terms: Vec<(Terms, Terms)> = units
        .iter()
        .map(|u| (terms(encoder, &u.text), terms(encoder, &u.context)))
        .collect();
    question
        .words
        .iter()
        .map(|word| {
            let one = std::slice::from_ref(word);
            unit_terms
                .iter()
                .map(|(text, context)| {
                    let inside = coverage(one, &[1.0], &text.stems, Some(&text.grams));
                    let around = coverage(one, &[1.0], &context.stems, Some(&context.grams));
                    inside.max(CONTEXT_WEIGHT * around)
                })
                .collect()
        })
        .collect()
}

/// Each unit's score (see the module docs).
fn score_units(units: &[Unit], question: &Question, best: Option<usize>) -> Vec<f32> {
    let occurrences = occurrences(units, question);
    let n = units.len() as f32;
    // Rarity within the article; a word the article lacks weighs nothing.
    let weights: Vec<f32> = occurrences
        .iter()
        .map(|row| {
            let df = row.iter().filter(|&&o| o > 0.0).count() as f32;
            if df > 0.0 { (1.0 + n / df).ln() } else { 0.0 }
        })
        .collect();
    let total: f32 = weights.iter().sum();
    let first_of_best = best.and_then(|s| units.iter().position(|u| u.section == s));
    units
        .iter()
        .enumerate()
        .map(|(i, unit)| {
            let matched: f32 = occurrences
                .iter()
                .zip(&weights)
                .map(|(row, w)| w * row[i])
                .sum();
            let share = if total > 0.0 { matched / total } else { 0.0 };
            let mut score = share + type_bonus(unit, question);
            if Some(unit.section) == best {
                score += BEST_SECTION_BONUS;
            }
            if Some(i) == first_of_best {
                score += FIRST_UNIT_BONUS;
            }
            score
        })
        .collect()
}

fn type_bonus(unit: &Unit, question: &Question) -> f32 {
    if question.asked.is_empty() {
        return 0.0;
    }
    let mut held = answer_type::holds(&unit.text);
    if unit.kind == UnitKind::Step {
        held.push(AnswerType::Way);
    }
    question
        .asked
        .iter()
        .filter(|kind| held.contains(kind))
        .map(|kind| match kind {
            AnswerType::Quantity => QUANTITY_BONUS,
            _ => TYPE_BONUS,
        })
        .fold(0.0, f32::max)
}

/// The indices to quote.
fn choose(
    units: &[Unit],
    sections: &[Section<'_>],
    scores: &[f32],
    question: &Question,
    best: Option<usize>,
    max_chars: usize,
) -> BTreeSet<usize> {
    let top = scores.iter().copied().fold(0.0, f32::max);
    let evidence = top > BEST_SECTION_BONUS + FIRST_UNIT_BONUS;
    if !evidence {
        let section = best.unwrap_or(units[0].section);
        return best_section(units, sections, section, max_chars);
    }
    let mut ranked: Vec<usize> = (0..units.len()).collect();
    ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut chosen = BTreeSet::new();
    for i in ranked {
        if scores[i] < top * RELATIVE_CUTOFF {
            break;
        }
        let near_top = scores[i] >= top * STEPS_CUTOFF;
        let mut with = with_companions(units, i, question.wants_steps() && near_top);
        with.extend(chosen.iter().copied());
        if rendered_len(units, &with, sections) <= max_chars {
            chosen = with;
            continue;
        }
        let mut alone = chosen.clone();
        alone.insert(i);
        if rendered_len(units, &alone, sections) <= max_chars {
            chosen = alone;
        }
    }
    if chosen.is_empty() {
        chosen.insert(best_scoring(scores));
    }
    chosen
}

fn best_scoring(scores: &[f32]) -> usize {
    (0..scores.len())
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// The unit with what it needs to be understood: the sentence that
/// introduced its list and, when `all_steps`, every step of its block.
fn with_companions(units: &[Unit], i: usize, all_steps: bool) -> BTreeSet<usize> {
    let unit = &units[i];
    let mut set = BTreeSet::from([i]);
    if unit.kind == UnitKind::Step && all_steps {
        set.extend(
            units
                .iter()
                .enumerate()
                .filter(|(_, u)| u.block == unit.block)
                .map(|(j, _)| j),
        );
    }
    let leads: Vec<usize> = set.iter().filter_map(|&j| units[j].lead).collect();
    set.extend(leads);
    set
}

/// The first units of one section, as many as fit: the best passage.
fn best_section(
    units: &[Unit],
    sections: &[Section<'_>],
    section: usize,
    max_chars: usize,
) -> BTreeSet<usize> {
    let mut chosen = BTreeSet::new();
    for (i, _) in units
        .iter()
        .enumerate()
        .filter(|(_, u)| u.section == section)
    {
        chosen.insert(i);
        if rendered_len(units, &chosen, sections) > max_chars {
            chosen.remove(&i);
            break;
        }
    }
    if chosen.is_empty() {
        chosen.insert(units.iter().position(|u| u.section == section).unwrap_or(0));
    }
    chosen
}

fn rendered_len(units: &[Unit], chosen: &BTreeSet<usize>, sections: &[Section<'_>]) -> usize {
    let (text, _) = rendered(units, chosen, sections);
    text.chars().count()
}

/// Sentences of one paragraph run on, other units start a line, sections
/// are separated by a blank line and, when several are quoted, named by
/// their heading (`headings`).
fn layout(units: &[Unit], chosen: &BTreeSet<usize>, headings: Option<&[Section<'_>]>) -> String {
    let mut out = String::new();
    let mut previous: Option<&Unit> = None;
    for unit in chosen.iter().map(|&i| &units[i]) {
        match previous {
            None => {}
            Some(p) if p.section != unit.section => out.push_str("\n\n"),
            Some(p) if p.block == unit.block && unit.kind == UnitKind::Sentence => out.push(' '),
            Some(_) => out.push('\n'),
        }
        let new_section = previous.is_none_or(|p| p.section != unit.section);
        if new_section && let Some(heading) = headings.and_then(|s| s[unit.section].heading) {
            out.push_str(heading.trim());
            out.push('\n');
        }
        out.push_str(&unit.text);
        previous = Some(unit);
    }
    out
}

/// The quoted text and, when it all comes from one section, that
/// section's heading (for the title line); several sections are named
/// inside the text.
fn rendered(
    units: &[Unit],
    chosen: &BTreeSet<usize>,
    sections: &[Section<'_>],
) -> (String, Option<String>) {
    let used: BTreeSet<usize> = chosen.iter().map(|&i| units[i].section).collect();
    let single = (used.len() == 1).then(|| *used.first().unwrap_or(&0));
    let headings = single.is_none().then_some(sections);
    let heading = single
        .and_then(|s| sections[s].heading)
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    (layout(units, chosen, headings), heading)
}

fn render(
    units: &[Unit],
    chosen: &BTreeSet<usize>,
    sections: &[Section<'_>],
    max_chars: usize,
) -> Quote {
    let (text, heading) = rendered(units, chosen, sections);
    Quote {
        text: trim_to(&text, max_chars),
        heading,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEES: &str = "Operamos en tres ciudades y el carrito muestra cada cargo antes de pagar.";
    const TABLE: &str =
        "| Distancia | Envío |\n|---|---|\n| Hasta 3 km | $19 MXN |\n| De 3 a 5 km | $29 MXN |";
    const TIMES: &str = "Los pedidos de restaurante llegan en un rango que la app calcula según la distancia y el tiempo de preparación de cada cocina, que varía mucho entre locales y horarios de la semana, y que puedes seguir en el mapa. El reembolso de un pedido cancelado llega en 5 a 10 días hábiles.";

    fn sections() -> Vec<Section<'static>> {
        vec![
            Section {
                heading: None,
                markdown: FEES,
            },
            Section {
                heading: Some("Costo de envío"),
                markdown: TABLE,
            },
            Section {
                heading: Some("Tiempos"),
                markdown: TIMES,
            },
        ]
    }

    fn ask(text: &str, best: Option<usize>) -> Quote {
        quote(&sections(), &Question::new(text, text), best, 700)
    }

    #[test]
    fn a_fact_in_a_later_section_is_picked() {
        let q = ask("en cuanto tiempo llega el reembolso si cancelo?", Some(0));
        assert!(q.text.contains("5 a 10 días hábiles"), "{q:?}");
        assert!(!q.text.contains("$19"), "{q:?}");
    }

    #[test]
    fn a_price_in_a_table_row_comes_with_its_header() {
        let q = ask("cuanto cuesta el envio de 4 km?", Some(0));
        assert!(q.text.contains("De 3 a 5 km — Envío: $29 MXN"), "{q:?}");
        assert_eq!(q.heading.as_deref(), Some("Costo de envío"), "{q:?}");
    }

    #[test]
    fn a_when_question_picks_the_date_over_a_longer_paragraph() {
        let q = ask("cuando me devuelven el dinero del pedido?", Some(2));
        assert!(q.text.starts_with("El reembolso"), "{q:?}");
        assert!(!q.text.contains("mapa"), "{q:?}");
    }

    #[test]
    fn unmatched_questions_quote_the_best_passage() {
        let q = ask("zzz qqq", Some(1));
        assert!(q.text.contains("$19") && q.text.contains("$29"), "{q:?}");
    }

    #[test]
    fn quotes_stay_within_the_limit() {
        let long = "Una frase sobre el envío gratis. ".repeat(60);
        let sections = [Section {
            heading: None,
            markdown: &long,
        }];
        let q = quote(
            &sections,
            &Question::new("envio gratis", "envio gratis"),
            None,
            120,
        );
        assert!(q.text.chars().count() <= 120, "{q:?}");
        assert!(!q.text.is_empty());
    }

    #[test]
    fn steps_come_as_a_block_for_how_questions() {
        let md = "Puedes cambiarla cuando quieras.\n\n1. Abre la app.\n2. Entra a Perfil > Seguridad.\n3. Toca Cambiar contraseña.";
        let sections = [Section {
            heading: None,
            markdown: md,
        }];
        let text = "como cambio la contraseña?";
        let q = quote(&sections, &Question::new(text, text), Some(0), 700);
        assert!(
            q.text.contains("1. Abre la app.") && q.text.contains("3. Toca Cambiar contraseña."),
            "{q:?}"
        );
    }
}
