//! Extractive replies' text tools: Markdown to chat text (editors' HTML
//! comments never reach a customer) and cutting on sentence boundaries to
//! a chat-sized length that also respects the channel's hard limit. Which
//! parts of an article a reply quotes is decided in `pick`.

use crate::channels::model::Channel;

/// A chat-sized reply body: long enough for a table row or two, short
/// enough to read on a phone without scrolling.
pub const DEFAULT_REPLY_CHARS: usize = 700;

/// The most text one message may carry on a channel.
pub fn channel_limit(channel: Channel) -> usize {
    match channel {
        // WhatsApp Cloud API text body limit.
        Channel::Whatsapp | Channel::Sandbox => 4096,
        // Messenger Send API text limit (Instagram shares it).
        Channel::Messenger | Channel::Instagram => 2000,
    }
}

/// Markdown to chat text: HTML comments go, headings become plain lines,
/// emphasis and code marks go, links become "text (url)", bullets become
/// "•", table rows become "a — b — c" (header and separator rows dropped),
/// runs of blank lines collapse.
pub fn clean_markdown(markdown: &str) -> String {
    let markdown = without_comments(markdown);
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out: Vec<String> = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        if line.starts_with('|') {
            if is_table_separator(line) {
                continue;
            }
            // A header row is followed by a separator row.
            if lines
                .get(i + 1)
                .is_some_and(|next| is_table_separator(next.trim()))
            {
                continue;
            }
            let cells: Vec<String> = line
                .trim_matches('|')
                .split('|')
                .map(|c| strip_inline(c.trim()))
                .filter(|c| !c.is_empty())
                .collect();
            out.push(format!("• {}", cells.join(" — ")));
            continue;
        }
        let line = line.trim_start_matches('>').trim();
        let line = if line.starts_with('#') {
            line.trim_start_matches('#').trim()
        } else {
            line
        };
        let line = if let Some(rest) = line
            .strip_prefix("- ")
            .or_else(|| line.strip_prefix("* "))
            .or_else(|| line.strip_prefix("+ "))
        {
            format!("• {}", rest.trim())
        } else {
            line.to_owned()
        };
        let line = strip_inline(&line);
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// `text` without `<!-- ... -->` comments (an unclosed one runs to the
/// end): editors' notes such as `<!-- handoff -->`.
pub fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = match rest[start..].find("-->") {
            Some(end) => &rest[start + end + 3..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// `|---|:--:|`: the row under a table's header.
pub(super) fn is_table_separator(line: &str) -> bool {
    line.starts_with('|') && line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// Inline Markdown: `**b**`, `__b__`, `*i*`, `` `c` ``, `[t](u)`, `<br>`.
pub(super) fn strip_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '['
            && let Some(close) = chars[i..].iter().position(|&c| c == ']').map(|p| p + i)
            && chars.get(close + 1) == Some(&'(')
            && let Some(end) = chars[close..]
                .iter()
                .position(|&c| c == ')')
                .map(|p| p + close)
        {
            let label: String = chars[i + 1..close].iter().collect();
            let url: String = chars[close + 2..end].iter().collect();
            if label.trim() == url.trim() || label.trim().is_empty() {
                out.push_str(url.trim());
            } else {
                out.push_str(&format!("{} ({})", label.trim(), url.trim()));
            }
            i = end + 1;
            continue;
        }
        match c {
            '*' | '`' => {}
            '_' if chars.get(i + 1) == Some(&'_') => i += 1,
            _ => out.push(c),
        }
        i += 1;
    }
    out.replace("<br>", " ")
        .replace("<br/>", " ")
        .trim()
        .to_owned()
}

/// Cuts `text` to at most `max_chars` characters, ending at a sentence or
/// line boundary when one exists in the second half; otherwise at a word
/// boundary with an ellipsis.
pub fn trim_to(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let prefix: String = text.chars().take(max_chars).collect();
    let boundary = prefix
        .char_indices()
        .filter(|(i, c)| {
            *c == '\n'
                || (matches!(c, '.' | '?' | '!' | ';')
                    && prefix[i + c.len_utf8()..].starts_with([' ', '\n']))
        })
        .map(|(i, c)| i + c.len_utf8())
        .next_back();
    let min_keep = prefix.len() / 2;
    match boundary {
        Some(end) if end >= min_keep => prefix[..end].trim_end().to_owned(),
        _ => {
            let cut = prefix
                .rfind(char::is_whitespace)
                .filter(|&i| i >= min_keep)
                .unwrap_or(prefix.len());
            let mut out: String = prefix[..cut].trim_end().to_owned();
            // Leave room for the ellipsis within the limit.
            while out.chars().count() + 1 > max_chars {
                out.pop();
            }
            out.push('…');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_noise_is_removed() {
        let md = "## Costos\n\n- Envío estándar: **$129 MXN**.\n- Ver [la guía](https://x.example/guia).\n\n\n| Zona | Tiempo |\n|---|---|\n| Centro | 2 a 4 días |\n> nota `importante`";
        let clean = clean_markdown(md);
        assert_eq!(
            clean,
            "Costos\n\n• Envío estándar: $129 MXN.\n• Ver la guía (https://x.example/guia).\n\n• Centro — 2 a 4 días\nnota importante"
        );
    }

    #[test]
    fn html_comments_never_reach_the_customer() {
        let md = "<!-- handoff -->\nHola.\n<!-- nota\ninterna -->\nAdiós. <!-- x -->";
        assert_eq!(clean_markdown(md), "Hola.\n\nAdiós.");
        assert_eq!(clean_markdown("Texto <!-- sin cerrar"), "Texto");
    }

    #[test]
    fn trims_on_sentence_boundaries() {
        let text = "Primera frase corta. Segunda frase también corta. Tercera frase que ya no cabe en el límite.";
        let out = trim_to(text, 60);
        assert_eq!(out, "Primera frase corta. Segunda frase también corta.");
        assert!(out.chars().count() <= 60);
        assert_eq!(trim_to("corto", 60), "corto");
    }

    #[test]
    fn trims_long_sentences_on_words() {
        let text = "palabra ".repeat(100);
        let out = trim_to(&text, 50);
        assert!(out.ends_with('…') && out.chars().count() <= 50, "{out}");
    }

    #[test]
    fn channel_limits() {
        assert_eq!(channel_limit(Channel::Whatsapp), 4096);
        assert_eq!(channel_limit(Channel::Messenger), 2000);
    }
}
