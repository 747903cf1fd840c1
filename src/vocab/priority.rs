//! How soon a case needs a person (the `escalations.priority` column).

use serde::{Deserialize, Serialize};

use super::TriageClass;

/// How soon a case needs a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Triage class `urgent`.
    High,
    /// Triage class `human`, and articles that always escalate.
    Normal,
}

impl Priority {
    /// The priority of a case triaged as `class` (an escalating FAQ article
    /// is normal).
    pub fn for_class(class: TriageClass) -> Priority {
        match class {
            TriageClass::Urgent => Priority::High,
            TriageClass::Human | TriageClass::Faq => Priority::Normal,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
        }
    }
}

impl std::str::FromStr for Priority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "high" => Ok(Priority::High),
            "normal" => Ok(Priority::Normal),
            other => Err(format!("unknown priority {other:?}")),
        }
    }
}
