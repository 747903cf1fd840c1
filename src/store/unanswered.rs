//! Turns the knowledge base could not answer: the bot acknowledged them and
//! escalated because no passage was confident enough (escalation reason
//! `low_confidence`, which also covers topics no article mentions). Read by
//! the editors' list of unanswered questions.

use chrono::{DateTime, Utc};

use super::{Store, from_ms, to_ms};
use crate::vocab::{EscalationReason, TurnReply};

/// One customer turn the bot could not answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    pub turn_id: i64,
    /// The turn's text (one line per coalesced message).
    pub text: String,
    /// The language triage detected, if any.
    pub lang: Option<String>,
    pub at: DateTime<Utc>,
}

/// turns.id, customer_text, lang, created_at.
type AskedRow = (i64, String, Option<String>, i64);

impl Store {
    /// The most recent turns since `since` (newest first, at most `limit`)
    /// that the bot escalated for low retrieval confidence. The escalation
    /// row holds the reason; the turn's stored decision and flag confirm it
    /// was the bot's own acknowledgement.
    pub async fn unanswered_questions(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> sqlx::Result<Vec<Asked>> {
        let rows: Vec<AskedRow> = sqlx::query_as(
            "SELECT t.id, t.customer_text, t.lang, t.created_at \
             FROM escalations e JOIN turns t ON t.id = e.turn_id \
             WHERE e.reason = $1 AND t.decision = $2 AND t.escalate = 1 AND t.created_at >= $3 \
             ORDER BY t.created_at DESC, t.id DESC LIMIT $4",
        )
        .bind(low_confidence_reason())
        .bind(TurnReply::Acknowledge.as_str())
        .bind(to_ms(since))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(turn_id, text, lang, at)| Asked {
                turn_id,
                text,
                lang,
                at: from_ms(at),
            })
            .collect())
    }
}

/// `low_confidence`, as the pipeline stores [`EscalationReason::LowConfidence`].
fn low_confidence_reason() -> String {
    serde_json::to_value(EscalationReason::LowConfidence)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reason_is_the_stored_spelling() {
        assert_eq!(super::low_confidence_reason(), "low_confidence");
    }
}
