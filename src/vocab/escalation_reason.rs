//! Why a person must take over a conversation (the `escalations.reason`
//! column and the turn's decision).

use serde::Serialize;

/// Why a person must take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    Urgent,
    /// A cue says a person must act (request, claim, threat...).
    NeedsPerson,
    /// The answering article is flagged `escalate: true`.
    ArticleRequiresPerson,
    /// No article is confident enough.
    LowConfidence,
}

impl EscalationReason {
    pub const ALL: [EscalationReason; 4] = [
        EscalationReason::Urgent,
        EscalationReason::NeedsPerson,
        EscalationReason::ArticleRequiresPerson,
        EscalationReason::LowConfidence,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EscalationReason::Urgent => "urgent",
            EscalationReason::NeedsPerson => "needs_person",
            EscalationReason::ArticleRequiresPerson => "article_requires_person",
            EscalationReason::LowConfidence => "low_confidence",
        }
    }
}

impl std::str::FromStr for EscalationReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EscalationReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown escalation reason {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_column_value_is_the_serialized_name() {
        for reason in EscalationReason::ALL {
            let json = serde_json::to_value(reason).unwrap();
            assert_eq!(json.as_str(), Some(reason.as_str()));
            assert_eq!(reason.as_str().parse::<EscalationReason>(), Ok(reason));
        }
    }
}
