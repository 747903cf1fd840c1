//! An article as answer units: the sentences of its paragraphs, its list
//! items and its table rows, each remembering the section it came from.
//!
//! The extractive reply quotes units, not sections: the fact a customer
//! asks for (a price in one table row, a time span in the third section)
//! is rarely in the first lines of the best section. Each unit keeps what
//! a reader needs to understand it alone: a table row is rendered with its
//! header ("Plan: Básico — Precio: $10"), a list item knows the sentence
//! that introduced its list ("Necesitas:"), a numbered step knows its block
//! so a "how do I" question gets every step. HTML comments (editors'
//! notes such as `<!-- handoff -->`) never become units.

use super::extractive::{is_table_separator, strip_inline, without_comments};

/// What a unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnitKind {
    /// A sentence of a paragraph.
    Sentence,
    /// An item of a bulleted list.
    Item,
    /// An item of a numbered list.
    Step,
    /// A data row of a table.
    Row,
}

/// One quotable piece of an article.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Unit {
    pub kind: UnitKind,
    /// The section (passage index) it belongs to.
    pub section: usize,
    /// The paragraph, list or table it belongs to (numbered in article
    /// order across sections).
    pub block: usize,
    /// Chat text: Markdown removed, items with "• ", steps with "1. ".
    pub text: String,
    /// Words that describe the unit without being in it: its section and
    /// subsection headings, a row's table header.
    pub context: String,
    /// The index of the sentence that introduced an item's list, when it
    /// ends with ":".
    pub lead: Option<usize>,
}

/// One section of Markdown to split: an article passage, or a retrieved
/// passage when the article is not at hand.
#[derive(Debug, Clone, Copy)]
pub(super) struct Section<'a> {
    pub heading: Option<&'a str>,
    pub markdown: &'a str,
}

/// A block of Markdown lines.
#[derive(Debug, Default)]
enum Block {
    #[default]
    None,
    Paragraph(Vec<String>),
    List {
        ordered: bool,
        items: Vec<String>,
    },
    Table(Vec<String>),
}

/// The units of `sections`, in article order.
pub(super) fn split_units(sections: &[Section<'_>]) -> Vec<Unit> {
    let mut splitter = Splitter::default();
    for (index, section) in sections.iter().enumerate() {
        splitter.section(index, section);
    }
    splitter.units
}

#[derive(Default)]
struct Splitter {
    units: Vec<Unit>,
    blocks: usize,
    section: usize,
    context: String,
    block: Block,
}

impl Splitter {
    fn section(&mut self, index: usize, section: &Section<'_>) {
        self.section = index;
        let heading = section.heading.unwrap_or("").trim().to_owned();
        self.context = heading.clone();
        let markdown = without_comments(section.markdown);
        let mut in_fence = false;
        for raw in markdown.lines() {
            let line = raw.trim();
            if line.starts_with("```") || line.starts_with("~~~") {
                self.flush();
                in_fence = !in_fence;
                continue;
            }
            if in_fence {
                self.paragraph_line(line);
            } else {
                self.line(raw, line, &heading);
            }
        }
        self.flush();
    }

    fn line(&mut self, raw: &str, line: &str, heading: &str) {
        if line.is_empty() {
            self.flush();
        } else if line.starts_with('#') {
            self.flush();
            let sub = line.trim_start_matches('#').trim();
            self.context = format!("{heading} {}", strip_inline(sub));
        } else if line.starts_with('|') {
            if !matches!(self.block, Block::Table(_)) {
                self.flush();
            }
            if let Block::Table(rows) = &mut self.block {
                rows.push(line.to_owned());
            } else {
                self.block = Block::Table(vec![line.to_owned()]);
            }
        } else if let Some((ordered, item)) = list_item(line) {
            self.list_item(ordered, item);
        } else if let Block::List { items, .. } = &mut self.block
            && (raw.starts_with([' ', '\t']) || !items.is_empty())
        {
            // A continuation line of the last item.
            if let Some(last) = items.last_mut() {
                last.push(' ');
                last.push_str(line);
            }
        } else {
            self.paragraph_line(line.trim_start_matches('>').trim());
        }
    }

    fn list_item(&mut self, ordered: bool, item: &str) {
        match &mut self.block {
            Block::List { ordered: o, items } if *o == ordered => items.push(item.to_owned()),
            _ => {
                self.flush();
                self.block = Block::List {
                    ordered,
                    items: vec![item.to_owned()],
                };
            }
        }
    }

    fn paragraph_line(&mut self, line: &str) {
        if let Block::Paragraph(lines) = &mut self.block {
            lines.push(line.to_owned());
        } else {
            self.flush();
            self.block = Block::Paragraph(vec![line.to_owned()]);
        }
    }

    fn flush(&mut self) {
        match std::mem::take(&mut self.block) {
            Block::None => return,
            Block::Paragraph(lines) => self.push_sentences(&lines.join(" ")),
            Block::List { ordered, items } => self.push_items(ordered, &items),
            Block::Table(rows) => self.push_rows(&rows),
        }
        self.blocks += 1;
    }

    fn push(&mut self, kind: UnitKind, text: String, context: String, lead: Option<usize>) {
        if text.trim().is_empty() {
            return;
        }
        self.units.push(Unit {
            kind,
            section: self.section,
            block: self.blocks,
            text,
            context,
            lead,
        });
    }

    fn push_sentences(&mut self, paragraph: &str) {
        for sentence in sentences(&strip_inline(paragraph)) {
            self.push(UnitKind::Sentence, sentence, self.context.clone(), None);
        }
    }

    fn push_items(&mut self, ordered: bool, items: &[String]) {
        let lead = self.lead();
        for (n, item) in items.iter().enumerate() {
            let (kind, text) = if ordered {
                (UnitKind::Step, format!("{}. {}", n + 1, strip_inline(item)))
            } else {
                (UnitKind::Item, format!("• {}", strip_inline(item)))
            };
            self.push(kind, text, self.context.clone(), lead);
        }
    }

    /// The unit just before a list when it is a sentence of the same
    /// section ending with ":".
    fn lead(&self) -> Option<usize> {
        let last = self.units.len().checked_sub(1)?;
        let unit = &self.units[last];
        (unit.kind == UnitKind::Sentence
            && unit.section == self.section
            && unit.text.ends_with(':'))
        .then_some(last)
    }

    fn push_rows(&mut self, rows: &[String]) {
        let has_header = rows.get(1).is_some_and(|r| is_table_separator(r));
        let header: Vec<String> = if has_header {
            cells(&rows[0])
        } else {
            Vec::new()
        };
        let context = format!("{} {}", self.context, header.join(" "));
        let data = rows
            .iter()
            .skip(if has_header { 2 } else { 0 })
            .filter(|r| !is_table_separator(r));
        for row in data {
            let text = render_row(&header, &cells(row));
            self.push(UnitKind::Row, text, context.clone(), None);
        }
    }
}

/// `- a`, `* a`, `+ a`, `• a` (unordered) or `1. a`, `1) a` (ordered).
fn list_item(line: &str) -> Option<(bool, &str)> {
    for marker in ["- ", "* ", "+ ", "• "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return Some((false, rest.trim()));
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some((true, rest.trim()));
        }
    }
    None
}

fn cells(row: &str) -> Vec<String> {
    row.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| strip_inline(c.trim()))
        .collect()
}

/// "• Hasta 3 km — Envío: $19": every cell after the first under its
/// column's header; the first cell names the row.
fn render_row(header: &[String], cells: &[String]) -> String {
    let parts: Vec<String> = cells
        .iter()
        .enumerate()
        .filter(|(_, cell)| !cell.is_empty())
        .map(|(i, cell)| match header.get(i).filter(|h| !h.is_empty()) {
            Some(h) if i > 0 => format!("{h}: {cell}"),
            _ => cell.clone(),
        })
        .collect();
    format!("• {}", parts.join(" — "))
}

/// Splits a paragraph after `.`, `!`, `?` or `…` (and any closing quote)
/// when whitespace and a capital letter, `¿`, `¡` or an opening quote
/// follow: "1.5 %", "x.example/guia" and "aprox. 3 días" stay whole.
pub(super) fn sentences(paragraph: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = paragraph.char_indices().collect();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &(_, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?' | '…') {
            continue;
        }
        let mut j = i + 1;
        while chars
            .get(j)
            .is_some_and(|(_, c)| matches!(c, '"' | '»' | ')' | '”' | '\''))
        {
            j += 1;
        }
        let Some(&(end, space)) = chars.get(j) else {
            continue;
        };
        let mut k = j;
        while chars.get(k).is_some_and(|(_, c)| c.is_whitespace()) {
            k += 1;
        }
        let starts_sentence = chars.get(k).is_some_and(|&(_, next)| {
            next.is_uppercase() || matches!(next, '¿' | '¡' | '"' | '«' | '“')
        });
        if space.is_whitespace() && starts_sentence {
            out.push(paragraph[start..end].trim().to_owned());
            start = chars[k].0;
        }
    }
    out.push(paragraph[start..].trim().to_owned());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(units: &[Unit]) -> Vec<&str> {
        units.iter().map(|u| u.text.as_str()).collect()
    }

    #[test]
    fn paragraphs_split_into_sentences() {
        assert_eq!(
            sentences("Llega en 3 días. ¿Y si no? Escríbenos a x.example/ayuda. Cuesta 1.5 %."),
            [
                "Llega en 3 días.",
                "¿Y si no?",
                "Escríbenos a x.example/ayuda.",
                "Cuesta 1.5 %."
            ]
        );
        assert_eq!(sentences("aprox. 3 días"), ["aprox. 3 días"]);
    }

    #[test]
    fn rows_carry_their_header_and_items_their_lead() {
        let md = "Tarifas por zona:\n\n| Zona | Precio |\n|---|---|\n| **Centro** | $19 |\n\nNecesitas:\n- tu INE\n- tu CURP\n\n1. Abre la app.\n2. Toca Ayuda.";
        let units = split_units(&[Section {
            heading: Some("Costos"),
            markdown: md,
        }]);
        assert_eq!(
            texts(&units),
            [
                "Tarifas por zona:",
                "• Centro — Precio: $19",
                "Necesitas:",
                "• tu INE",
                "• tu CURP",
                "1. Abre la app.",
                "2. Toca Ayuda."
            ]
        );
        assert!(units[1].context.contains("Zona Precio"));
        assert_eq!(units[3].lead, Some(2));
        assert_eq!(units[4].lead, Some(2));
        assert_eq!(units[5].kind, UnitKind::Step);
        assert_eq!(units[5].block, units[6].block);
        assert!(units.iter().all(|u| u.context.starts_with("Costos")));
    }

    #[test]
    fn comments_and_subheadings_never_become_units() {
        let md = "<!-- handoff -->\nHola.\n<!--\nnota interna\n-->\n### Plazos\nTres días.";
        let units = split_units(&[Section {
            heading: None,
            markdown: md,
        }]);
        assert_eq!(texts(&units), ["Hola.", "Tres días."]);
        assert!(units[1].context.contains("Plazos"));
    }

    #[test]
    fn sections_are_remembered() {
        let units = split_units(&[
            Section {
                heading: None,
                markdown: "Intro.",
            },
            Section {
                heading: Some("Plazos"),
                markdown: "Uno. Dos.",
            },
        ]);
        let sections: Vec<usize> = units.iter().map(|u| u.section).collect();
        assert_eq!(sections, [0, 1, 1]);
    }
}
