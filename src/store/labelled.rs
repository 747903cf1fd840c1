//! Messages the business has labelled by handling them, read back as
//! training cases: a resolved escalation labels the turn that opened it
//! (urgent when it ran at high priority, human otherwise), and an agent
//! reply within a day of a bot answer, with no other bot answer between,
//! marks that answer as wrong (the message needed a person).

use super::Store;
use super::escalations::EscalationState;
use crate::vocab::TriageClass;

/// How a stored turn got its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSource {
    /// The escalation this turn opened was resolved.
    ResolvedEscalation { escalation_id: i64 },
    /// The bot answered, and an agent replied within a day with no other
    /// bot answer between.
    AgentCorrectedBot,
}

/// One stored customer turn with the label its handling gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledTurn {
    pub turn_id: i64,
    pub business_id: String,
    pub channel: String,
    pub lang: Option<String>,
    pub text: String,
    pub class: TriageClass,
    /// The most relevant article the bot used, if any.
    pub article: Option<String>,
    pub source: LabelSource,
}

/// turns.id, customer_text, lang, articles, channel, business_id,
/// escalations.id, escalations.priority.
type ResolvedRow = (
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    String,
);
/// turns.id, customer_text, lang, articles, channel, business_id.
type CorrectedRow = (i64, String, Option<String>, String, String, String);

/// The purpose of an agent's message in the outbox.
const AGENT_PURPOSE: &str = "agent";
/// An agent reply this long after the bot's last answer still corrects it.
const CORRECTION_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// The stored priority of an urgent escalation (`escalation::Priority`).
const URGENT_PRIORITY: &str = "high";

impl Store {
    /// Every labelled turn, oldest first.
    pub async fn labelled_turns(&self) -> sqlx::Result<Vec<LabelledTurn>> {
        let resolved: Vec<ResolvedRow> = sqlx::query_as(
            "SELECT t.id, t.customer_text, t.lang, t.articles, c.channel, c.business_id, e.id, e.priority \
             FROM escalations e JOIN turns t ON t.id = e.turn_id \
             JOIN conversations c ON c.id = t.conversation_id \
             WHERE e.state = $1 ORDER BY t.id",
        )
        .bind(EscalationState::Resolved.as_str())
        .fetch_all(self.pool())
        .await?;
        let corrected: Vec<CorrectedRow> = sqlx::query_as(
            "SELECT t.id, t.customer_text, t.lang, t.articles, c.channel, c.business_id \
             FROM turns t JOIN conversations c ON c.id = t.conversation_id \
             WHERE t.escalate = 0 AND t.class = $1 AND t.reply_text IS NOT NULL \
             AND EXISTS (SELECT 1 FROM outbox o WHERE o.conversation_id = t.conversation_id \
                 AND o.purpose = $2 AND o.created_at >= t.created_at \
                 AND o.created_at <= t.created_at + $3 \
                 AND NOT EXISTS (SELECT 1 FROM turns n WHERE n.conversation_id = t.conversation_id \
                     AND n.id > t.id AND n.escalate = 0 AND n.class = $1 \
                     AND n.created_at <= o.created_at)) \
             ORDER BY t.id",
        )
        .bind(TriageClass::Faq.as_str())
        .bind(AGENT_PURPOSE)
        .bind(CORRECTION_WINDOW_MS)
        .fetch_all(self.pool())
        .await?;
        let mut turns: Vec<LabelledTurn> = resolved
            .into_iter()
            .map(
                |(turn_id, text, lang, articles, channel, business_id, escalation_id, priority)| {
                    LabelledTurn {
                        turn_id,
                        business_id,
                        channel,
                        lang,
                        text,
                        class: if priority == URGENT_PRIORITY {
                            TriageClass::Urgent
                        } else {
                            TriageClass::Human
                        },
                        article: first_article(&articles),
                        source: LabelSource::ResolvedEscalation { escalation_id },
                    }
                },
            )
            .chain(corrected.into_iter().map(
                |(turn_id, text, lang, articles, channel, business_id)| LabelledTurn {
                    turn_id,
                    business_id,
                    channel,
                    lang,
                    text,
                    class: TriageClass::Human,
                    article: first_article(&articles),
                    source: LabelSource::AgentCorrectedBot,
                },
            ))
            .collect();
        turns.sort_by_key(|t| t.turn_id);
        turns.dedup_by_key(|t| t.turn_id);
        Ok(turns)
    }
}

/// The first article id of a turn's stored `articles` JSON array.
fn first_article(articles: &str) -> Option<String> {
    serde_json::from_str::<Vec<String>>(articles)
        .ok()
        .and_then(|ids| ids.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_urgent_priority_is_the_one_escalations_store() {
        assert_eq!(
            crate::escalation::deadline::Priority::High.as_str(),
            URGENT_PRIORITY
        );
    }

    #[test]
    fn the_first_article_is_read_from_the_stored_list() {
        assert_eq!(
            first_article(r#"["envios","pagos"]"#).as_deref(),
            Some("envios")
        );
        assert_eq!(first_article("[]"), None);
        assert_eq!(first_article("not json"), None);
    }
}
