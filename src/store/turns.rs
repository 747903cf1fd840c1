//! Customer turns: which stored messages are waiting for the bot, the
//! per-conversation processing lease, and the record of each turn.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::AnyConnection;

use super::{Store, from_ms, to_ms};

/// A stored customer message not yet part of a turn.
#[derive(Debug, Clone)]
pub struct PendingMessage {
    pub id: i64,
    pub provider_message_id: String,
    pub kind: String,
    pub body: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

/// A past turn, as context for the next one.
#[derive(Debug, Clone, Serialize)]
pub struct TurnRecord {
    pub id: i64,
    pub customer_text: String,
    pub reply_text: Option<String>,
    pub class: Option<String>,
    pub decision: String,
    pub articles: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// id, customer_text, reply_text, class, decision, articles (JSON), created_at.
type TurnRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
);

/// A turn to record, with the triage and reply decided for it.
#[derive(Debug, Clone, Default)]
pub struct NewTurn {
    pub conversation_id: i64,
    /// The messages the turn covers, oldest first.
    pub message_ids: Vec<i64>,
    pub customer_text: String,
    pub lang: Option<String>,
    pub class: Option<String>,
    pub confidence: Option<f64>,
    pub reason: Option<String>,
    pub triage_source: Option<String>,
    /// `answer`, `greeting`, `acknowledge` or `silent`.
    pub decision: String,
    pub escalate: bool,
    pub queue: Option<String>,
    pub articles: Vec<String>,
    pub reply_text: Option<String>,
}

impl Store {
    /// Conversations with waiting messages whose newest message is older
    /// than the quiet period (so a burst becomes one turn), oldest first.
    pub async fn conversations_ready(
        &self,
        now: DateTime<Utc>,
        quiet: Duration,
        limit: i64,
    ) -> sqlx::Result<Vec<i64>> {
        sqlx::query_scalar(
            "SELECT m.conversation_id FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.triggers_reply AND m.turn_id IS NULL \
               AND (c.processing_until IS NULL OR c.processing_until < $1) \
             GROUP BY m.conversation_id HAVING MAX(m.received_at) <= $2 \
             ORDER BY MIN(m.received_at) LIMIT $3",
        )
        .bind(to_ms(now))
        .bind(to_ms(now - quiet))
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// Lists and claims in one statement up to `limit` ready conversations
    /// (see [`Store::conversations_ready`]) for `lease`: the worker that gets
    /// an id owns that conversation until it commits the turn or the lease
    /// runs out. The re-check of `processing_until` in the outer `WHERE`
    /// makes concurrent claimers on PostgreSQL skip each other's rows.
    pub async fn claim_ready_conversations(
        &self,
        now: DateTime<Utc>,
        quiet: Duration,
        lease: Duration,
        limit: i64,
    ) -> sqlx::Result<Vec<i64>> {
        let mut tx = self.begin_write().await?;
        let ids = sqlx::query_scalar(
            "UPDATE conversations SET processing_until = $1 \
             WHERE (processing_until IS NULL OR processing_until < $2) AND id IN ( \
                 SELECT m.conversation_id FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.triggers_reply AND m.turn_id IS NULL \
                   AND (c.processing_until IS NULL OR c.processing_until < $2) \
                 GROUP BY m.conversation_id HAVING MAX(m.received_at) <= $3 \
                 ORDER BY MIN(m.received_at) LIMIT $4) \
             RETURNING id",
        )
        .bind(to_ms(now + lease))
        .bind(to_ms(now))
        .bind(to_ms(now - quiet))
        .bind(limit)
        .fetch_all(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// The earliest time a waiting conversation becomes ready, if any.
    pub async fn next_conversation_ready(
        &self,
        quiet: Duration,
    ) -> sqlx::Result<Option<DateTime<Utc>>> {
        // A held conversation (a turn in progress, a failed turn's pause)
        // is ready when its hold ends, not before.
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(CASE WHEN c.processing_until > w.last + $1 THEN c.processing_until \
                             ELSE w.last + $1 END) \
             FROM (SELECT conversation_id, MAX(received_at) AS last FROM messages \
                   WHERE triggers_reply AND turn_id IS NULL GROUP BY conversation_id) AS w \
             JOIN conversations c ON c.id = w.conversation_id",
        )
        .bind(quiet.num_milliseconds())
        .fetch_one(self.pool())
        .await?;
        Ok(at.map(from_ms))
    }

    /// Takes the conversation for one worker until `now + lease`; `false`
    /// when another worker holds it.
    pub async fn claim_conversation(
        &self,
        id: i64,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> sqlx::Result<bool> {
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "UPDATE conversations SET processing_until = $1 \
             WHERE id = $2 AND (processing_until IS NULL OR processing_until < $3)",
        )
        .bind(to_ms(now + lease))
        .bind(id)
        .bind(to_ms(now))
        .execute(&mut *tx.tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Extends a held lease to `until`; a conversation nobody holds stays
    /// free (its turn was committed and released it meanwhile).
    pub async fn renew_conversation_lease(
        &self,
        id: i64,
        until: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        let _writer = self.writer().await;
        sqlx::query(
            "UPDATE conversations SET processing_until = $1 \
             WHERE id = $2 AND processing_until IS NOT NULL",
        )
        .bind(to_ms(until))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Gives the conversation up: to any worker at once (`None`), or from
    /// `until` on (a failed turn's pause before its retry).
    pub async fn release_conversation(
        &self,
        id: i64,
        until: Option<DateTime<Utc>>,
    ) -> sqlx::Result<()> {
        let _writer = self.writer().await;
        sqlx::query("UPDATE conversations SET processing_until = $1 WHERE id = $2")
            .bind(until.map(to_ms))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The conversation's waiting messages, oldest first.
    pub async fn pending_messages(
        &self,
        conversation_id: i64,
    ) -> sqlx::Result<Vec<PendingMessage>> {
        let rows: Vec<(i64, String, String, Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT id, provider_message_id, kind, body, sent_at, received_at FROM messages \
             WHERE conversation_id = $1 AND triggers_reply AND turn_id IS NULL ORDER BY sent_at, id",
        )
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| PendingMessage {
                id: r.0,
                provider_message_id: r.1,
                kind: r.2,
                body: r.3,
                sent_at: from_ms(r.4),
                received_at: from_ms(r.5),
            })
            .collect())
    }

    /// The last `n` turns of a conversation, oldest first.
    pub async fn recent_turns(
        &self,
        conversation_id: i64,
        n: i64,
    ) -> anyhow::Result<Vec<TurnRecord>> {
        let rows: Vec<TurnRow> = sqlx::query_as(
            "SELECT id, customer_text, reply_text, class, decision, articles, created_at FROM turns \
             WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(conversation_id)
        .bind(n)
        .fetch_all(self.pool())
        .await?;
        let mut turns = rows
            .into_iter()
            .map(|r| {
                Ok(TurnRecord {
                    id: r.0,
                    customer_text: r.1,
                    reply_text: r.2,
                    class: r.3,
                    decision: r.4,
                    articles: serde_json::from_str(&r.5)?,
                    created_at: from_ms(r.6),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        turns.reverse();
        Ok(turns)
    }
}

/// Inside the caller's transaction: records the turn and attaches its
/// messages. `None` when the messages were already taken by another turn
/// (a worker whose lease expired finished after all): the caller rolls back.
pub async fn record_turn(
    conn: &mut AnyConnection,
    turn: &NewTurn,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let Some(first) = turn.message_ids.first().copied() else {
        anyhow::bail!("a turn needs at least one message");
    };
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO turns (conversation_id, first_message_id, customer_text, lang, class, confidence, reason, \
             triage_source, decision, escalate, queue, articles, reply_text, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (first_message_id) DO NOTHING RETURNING id",
    )
    .bind(turn.conversation_id)
    .bind(first)
    .bind(&turn.customer_text)
    .bind(turn.lang.as_deref())
    .bind(turn.class.as_deref())
    .bind(turn.confidence)
    .bind(turn.reason.as_deref())
    .bind(turn.triage_source.as_deref())
    .bind(&turn.decision)
    .bind(i64::from(turn.escalate))
    .bind(turn.queue.as_deref())
    .bind(serde_json::to_string(&turn.articles)?)
    .bind(turn.reply_text.as_deref())
    .bind(to_ms(now))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else { return Ok(None) };
    let mut attached = 0;
    for message_id in &turn.message_ids {
        attached +=
            sqlx::query("UPDATE messages SET turn_id = $1 WHERE id = $2 AND turn_id IS NULL")
                .bind(id)
                .bind(message_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
    }
    if attached != turn.message_ids.len() as u64 {
        return Ok(None);
    }
    Ok(Some(id))
}

/// Links the turn to the outbox row carrying its reply.
pub async fn set_turn_reply(
    conn: &mut AnyConnection,
    turn_id: i64,
    outbox_id: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE turns SET reply_outbox_id = $1 WHERE id = $2")
        .bind(outbox_id)
        .bind(turn_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
