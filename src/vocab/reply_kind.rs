//! What kind of reply a customer's turn got (the `turns.decision` column).

/// What kind of reply a turn gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnReply {
    /// An answer from the knowledge base.
    Answer,
    /// A greeting or thanks.
    Greeting,
    /// "A person will follow up" (urgent, human, low confidence).
    Acknowledge,
    /// No reply (a person owns the conversation).
    Silent,
}

impl TurnReply {
    pub const ALL: [TurnReply; 4] = [
        TurnReply::Answer,
        TurnReply::Greeting,
        TurnReply::Acknowledge,
        TurnReply::Silent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TurnReply::Answer => "answer",
            TurnReply::Greeting => "greeting",
            TurnReply::Acknowledge => "acknowledge",
            TurnReply::Silent => "silent",
        }
    }
}

impl std::str::FromStr for TurnReply {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TurnReply::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown turn reply {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_kind_reads_back_from_its_column() {
        for kind in TurnReply::ALL {
            assert_eq!(kind.as_str().parse::<TurnReply>(), Ok(kind));
        }
        assert!("shrug".parse::<TurnReply>().is_err());
    }
}
