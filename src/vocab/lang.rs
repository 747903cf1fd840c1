//! The customers' languages (es, pt, en), as codes in columns, prompts
//! and payloads. Detecting one is triage's job (`triage::detect_language`).

use serde::{Deserialize, Serialize};

/// A customer's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Es,
    Pt,
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Es, Lang::Pt, Lang::En];

    /// The language for an ISO 639-1 code (`es`, `pt`, `en`; `es_MX` too).
    pub fn parse(code: &str) -> Option<Lang> {
        match code.get(..2)?.to_ascii_lowercase().as_str() {
            "es" => Some(Lang::Es),
            "pt" => Some(Lang::Pt),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::Pt => "pt",
            Lang::En => "en",
        }
    }

    /// The language's name in English, for prompts.
    pub fn english_name(self) -> &'static str {
        match self {
            Lang::Es => "Spanish",
            Lang::Pt => "Portuguese",
            Lang::En => "English",
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().to_ascii_lowercase();
        match code.get(..2) {
            Some("es") => Ok(Lang::Es),
            Some("pt") => Ok(Lang::Pt),
            Some("en") => Ok(Lang::En),
            _ => Err(format!("unsupported language {s:?}")),
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
