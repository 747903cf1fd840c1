//! Queries behind the agent API: the queue view (escalations joined with
//! their conversation and the customer's last message), a conversation's
//! thread (messages, turns with triage and sources, outbound rows, the
//! escalation history, notes included, in time order). The agent actions'
//! row-level writes live with their tables (`escalations`, `outbox`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::escalations::{COLUMNS, EscalationFilter, EscalationRow, from_row};
use super::{Store, from_ms};
use crate::channels::model::Channel;
use crate::channels::outbound::{MessagingType, OutboundBody, OutboundMessage};

/// Longest preview of the customer's last message in the queue view.
const PREVIEW_CHARS: usize = 140;

/// One escalation as the queue shows it.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub escalation: EscalationRow,
    pub channel: Channel,
    pub customer_name: Option<String>,
    pub last_customer_message_at: Option<DateTime<Utc>>,
    pub window_error_at: Option<DateTime<Utc>>,
    pub free_entry_until: Option<DateTime<Utc>>,
    /// The start of the customer's latest message (text, or `[kind]`).
    pub last_message_preview: Option<String>,
}

/// One entry of a conversation's thread.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ThreadEntry {
    /// A stored customer message (or a page echo on Messenger).
    Message {
        id: i64,
        at: DateTime<Utc>,
        direction: String,
        kind: String,
        text: Option<String>,
        provider_message_id: String,
    },
    /// The bot's decision on a customer turn: triage and sources.
    Turn {
        id: i64,
        at: DateTime<Utc>,
        customer_text: String,
        lang: Option<String>,
        class: Option<String>,
        confidence: Option<f64>,
        reason: Option<String>,
        triage_source: Option<String>,
        decision: String,
        escalate: bool,
        queue: Option<String>,
        /// Ids of the knowledge articles the reply drew on.
        articles: Vec<String>,
        reply_text: Option<String>,
    },
    /// Something ventana sent or will send (bot reply, agent reply, template).
    Outbound {
        id: i64,
        at: DateTime<Utc>,
        purpose: String,
        state: String,
        body: OutboundBody,
        #[serde(skip_serializing_if = "Option::is_none")]
        messaging_type: Option<MessagingType>,
        delivery_status: Option<String>,
        error_code: Option<i64>,
        sent_at: Option<DateTime<Utc>>,
    },
    /// An escalation event: created, claimed, note, replied, resolved, ...
    Event {
        id: i64,
        at: DateTime<Utc>,
        escalation_id: i64,
        kind: String,
        actor: Option<String>,
        detail: Option<serde_json::Value>,
    },
}

impl ThreadEntry {
    fn at(&self) -> DateTime<Utc> {
        match self {
            ThreadEntry::Message { at, .. }
            | ThreadEntry::Turn { at, .. }
            | ThreadEntry::Outbound { at, .. }
            | ThreadEntry::Event { at, .. } => *at,
        }
    }

    /// At equal times: what the customer said, then what was decided, then
    /// what was sent, then the history.
    fn rank(&self) -> u8 {
        match self {
            ThreadEntry::Message { .. } => 0,
            ThreadEntry::Turn { .. } => 1,
            ThreadEntry::Outbound { .. } => 2,
            ThreadEntry::Event { .. } => 3,
        }
    }
}

impl Store {
    /// Escalations for the agents' queue, soonest deadline first, with what
    /// the list shows about their conversation.
    pub async fn agent_queue(&self, filter: &EscalationFilter) -> sqlx::Result<Vec<QueueItem>> {
        let sql = super::escalations::filtered_sql(&queue_select(), "e.", filter);
        let rows = super::escalations::bind_filter(sqlx::query(&sql), filter)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(queue_item).collect()
    }

    /// One escalation with what the queue shows about its conversation.
    pub async fn queue_item(&self, escalation_id: i64) -> sqlx::Result<Option<QueueItem>> {
        let row = sqlx::query(&format!("{} WHERE e.id = $1", queue_select()))
            .bind(escalation_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(queue_item).transpose()
    }

    /// Every escalation of a conversation, newest first.
    pub async fn escalations_of_conversation(
        &self,
        conversation_id: i64,
    ) -> sqlx::Result<Vec<EscalationRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM escalations WHERE conversation_id = $1 ORDER BY id DESC"
        ))
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The conversation's thread in time order.
    pub async fn conversation_thread(
        &self,
        conversation_id: i64,
    ) -> anyhow::Result<Vec<ThreadEntry>> {
        let mut entries = Vec::new();
        entries.extend(self.thread_messages(conversation_id).await?);
        entries.extend(self.thread_turns(conversation_id).await?);
        entries.extend(self.thread_outbound(conversation_id).await?);
        entries.extend(self.thread_events(conversation_id).await?);
        entries.sort_by_key(|e| (e.at(), e.rank()));
        Ok(entries)
    }

    async fn thread_messages(&self, conversation_id: i64) -> sqlx::Result<Vec<ThreadEntry>> {
        let rows: Vec<(i64, i64, String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT id, sent_at, direction, kind, body, provider_message_id FROM messages \
             WHERE conversation_id = $1 ORDER BY sent_at, id",
        )
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ThreadEntry::Message {
                id: r.0,
                at: from_ms(r.1),
                direction: r.2,
                kind: r.3,
                text: r.4,
                provider_message_id: r.5,
            })
            .collect())
    }

    async fn thread_turns(&self, conversation_id: i64) -> anyhow::Result<Vec<ThreadEntry>> {
        let rows = sqlx::query(
            "SELECT id, created_at, customer_text, lang, class, confidence, reason, triage_source, decision, \
                 escalate, queue, articles, reply_text FROM turns WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let articles: String = row.try_get("articles")?;
                Ok(ThreadEntry::Turn {
                    id: row.try_get("id")?,
                    at: from_ms(row.try_get("created_at")?),
                    customer_text: row.try_get("customer_text")?,
                    lang: row.try_get("lang")?,
                    class: row.try_get("class")?,
                    confidence: row.try_get("confidence")?,
                    reason: row.try_get("reason")?,
                    triage_source: row.try_get("triage_source")?,
                    decision: row.try_get("decision")?,
                    escalate: row.try_get::<i64, _>("escalate")? != 0,
                    queue: row.try_get("queue")?,
                    articles: serde_json::from_str(&articles)?,
                    reply_text: row.try_get("reply_text")?,
                })
            })
            .collect()
    }

    async fn thread_outbound(&self, conversation_id: i64) -> anyhow::Result<Vec<ThreadEntry>> {
        type Raw = (
            i64,
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<Raw> = sqlx::query_as(
            "SELECT id, created_at, purpose, state, payload, delivery_status, error_code, sent_at FROM outbox \
             WHERE conversation_id = $1 AND kind <> 'mark_read' ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                let message: OutboundMessage = serde_json::from_str(&r.4)?;
                Ok(ThreadEntry::Outbound {
                    id: r.0,
                    at: from_ms(r.1),
                    purpose: r.2,
                    state: r.3,
                    body: message.body,
                    messaging_type: message.messaging_type,
                    delivery_status: r.5,
                    error_code: r.6,
                    sent_at: r.7.map(from_ms),
                })
            })
            .collect()
    }

    async fn thread_events(&self, conversation_id: i64) -> sqlx::Result<Vec<ThreadEntry>> {
        type Raw = (i64, i64, i64, String, Option<String>, Option<String>);
        let rows: Vec<Raw> = sqlx::query_as(
            "SELECT v.id, v.at, v.escalation_id, v.kind, v.actor, v.detail FROM escalation_events v \
             JOIN escalations e ON e.id = v.escalation_id WHERE e.conversation_id = $1 ORDER BY v.id",
        )
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ThreadEntry::Event {
                id: r.0,
                at: from_ms(r.1),
                escalation_id: r.2,
                kind: r.3,
                actor: r.4,
                detail: r.5.and_then(|d| serde_json::from_str(&d).ok()),
            })
            .collect())
    }
}

/// Escalations joined with their conversation and the customer's latest message.
fn queue_select() -> String {
    let columns = COLUMNS
        .split(',')
        .map(|c| format!("e.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns}, c.channel, c.customer_name, c.last_customer_message_at, c.window_error_at, \
             c.free_entry_until, \
             (SELECT COALESCE(m.body, '[' || m.kind || ']') FROM messages m \
               WHERE m.conversation_id = e.conversation_id AND m.direction = 'inbound' \
               ORDER BY m.sent_at DESC, m.id DESC LIMIT 1) AS preview \
         FROM escalations e JOIN conversations c ON c.id = e.conversation_id"
    )
}

fn queue_item(row: &sqlx::any::AnyRow) -> sqlx::Result<QueueItem> {
    let channel: String = row.try_get("channel")?;
    let preview: Option<String> = row.try_get("preview")?;
    Ok(QueueItem {
        escalation: from_row(row)?,
        channel: channel.parse().unwrap_or(Channel::Sandbox),
        customer_name: row.try_get("customer_name")?,
        last_customer_message_at: row
            .try_get::<Option<i64>, _>("last_customer_message_at")?
            .map(from_ms),
        window_error_at: row
            .try_get::<Option<i64>, _>("window_error_at")?
            .map(from_ms),
        free_entry_until: row
            .try_get::<Option<i64>, _>("free_entry_until")?
            .map(from_ms),
        last_message_preview: preview.map(|p| shorten(&p)),
    })
}

fn shorten(text: &str) -> String {
    let mut chars = text.chars();
    let short: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        format!("{short}…")
    } else {
        short
    }
}
