//! The three triage classes (`LABELLING.md`), as labels, columns and
//! metric labels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The three triage classes, in labelling priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriageClass {
    /// The knowledge base answers it (including greetings and thanks).
    Faq,
    /// A person must act or decide, not time-critical.
    Human,
    /// Money or security at risk now, a physical hazard, or a same-day
    /// deadline that causes a loss.
    Urgent,
}

impl TriageClass {
    pub const ALL: [TriageClass; 3] = [TriageClass::Faq, TriageClass::Urgent, TriageClass::Human];

    pub fn as_str(self) -> &'static str {
        match self {
            TriageClass::Faq => "faq",
            TriageClass::Urgent => "urgent",
            TriageClass::Human => "human",
        }
    }

    /// Whether the class hands the conversation to a person.
    pub fn needs_person(self) -> bool {
        matches!(self, TriageClass::Urgent | TriageClass::Human)
    }
}

impl fmt::Display for TriageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TriageClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "faq" => Ok(TriageClass::Faq),
            "urgent" => Ok(TriageClass::Urgent),
            "human" => Ok(TriageClass::Human),
            other => Err(format!("unknown triage class {other:?}")),
        }
    }
}
