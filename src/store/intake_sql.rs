//! The multi-row statements behind batched intake (see `intake`).
//!
//! Each function writes every row of its kind for a whole batch with one
//! statement (more only past the bound-parameter limit), because on SQLite
//! each statement is a round trip to the connection's worker thread while
//! every other writer waits. Rows that were really inserted are learnt from
//! `RETURNING` with their keys, never from the order of the returned rows,
//! which neither SQLite nor PostgreSQL guarantees; the functions answer with
//! one `bool` per input row.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use sqlx::{AnyConnection, Row};

use super::intake::{
    Candidate, ConversationUpsert, EventKey, MessageRow, NewDelivery, OutboxAdvance, StatusRow,
    UnknownRow,
};
use super::{Backend, to_ms};
use crate::channels::model::{DeliveryStatus, Direction, Forwarded, StatusUpdate};

/// Bound parameters per statement. Far below SQLite's limit (32766 in the
/// bundled build) on purpose: binding looks each `$n` up by name
/// (`sqlite3_bind_parameter_name` walks the statement's list of names), so
/// one statement's binding time grows with the square of its parameters.
/// At 32,766 a 10,000-message delivery spent 11 to 19 s binding; at 999 the
/// same delivery takes well under a second, and a typical delivery still
/// fits in one statement per kind.
pub(super) const MAX_PARAMS: usize = 999;

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` parameters.
fn values(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            let _ = write!(
                sql,
                "{}${}",
                if c == 0 { "" } else { ", " },
                r * columns + c + 1
            );
        }
        sql.push(')');
    }
    sql
}

/// `$first, $first+1, ...` for `count` parameters.
fn list(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidates already stored, by key: one lookup per kind and channel
/// (the unique indexes lead with the channel).
pub(super) async fn known_keys(
    conn: &mut AnyConnection,
    candidates: &[Candidate<'_>],
) -> sqlx::Result<HashSet<EventKey>> {
    let mut message_ids: HashMap<&'static str, Vec<&str>> = HashMap::new();
    let mut status_ids: HashMap<&'static str, Vec<&str>> = HashMap::new();
    let mut unknown_keys: Vec<&str> = Vec::new();
    for c in candidates {
        match &c.key {
            EventKey::Message { channel, id } => message_ids.entry(channel).or_default().push(id),
            EventKey::Status { channel, id, .. } => {
                let ids = status_ids.entry(channel).or_default();
                // A message's statuses often travel together; ask once per id.
                if !ids.contains(&id.as_str()) {
                    ids.push(id);
                }
            }
            EventKey::Unknown { dedupe_key } => unknown_keys.push(dedupe_key),
        }
    }
    let mut known = HashSet::new();
    for (channel, ids) in message_ids {
        for chunk in ids.chunks(MAX_PARAMS - 1) {
            let sql = format!(
                "SELECT provider_message_id FROM messages WHERE channel = $1 AND provider_message_id IN ({})",
                list(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(channel);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *conn).await? {
                known.insert(EventKey::Message {
                    channel,
                    id: row.try_get(0)?,
                });
            }
        }
    }
    for (channel, ids) in status_ids {
        for chunk in ids.chunks(MAX_PARAMS - 1) {
            let sql = format!(
                "SELECT provider_message_id, status FROM statuses WHERE channel = $1 AND provider_message_id IN ({})",
                list(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(channel);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *conn).await? {
                let status: String = row.try_get(1)?;
                // Keys carry the status as a static label; map the stored text back.
                if let Some(status) = DeliveryStatus::parse(&status) {
                    known.insert(EventKey::Status {
                        channel,
                        id: row.try_get(0)?,
                        status: status.as_str(),
                    });
                }
            }
        }
    }
    for chunk in unknown_keys.chunks(MAX_PARAMS) {
        let sql = format!(
            "SELECT dedupe_key FROM unknown_events WHERE dedupe_key IN ({})",
            list(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(&mut *conn).await? {
            known.insert(EventKey::Unknown {
                dedupe_key: row.try_get(0)?,
            });
        }
    }
    Ok(known)
}

/// Inserts the raw deliveries and returns their ids, in order. The ids are
/// allocated first so that no mapping from `RETURNING` order is needed:
/// PostgreSQL draws them from the table's sequence; SQLite continues after
/// the largest id, which is safe because this runs under the writer lock
/// (and another process writing in between makes SQLite refuse the write,
/// never duplicate an id).
pub(super) async fn insert_deliveries<'a>(
    conn: &mut AnyConnection,
    backend: Backend,
    deliveries: impl ExactSizeIterator<Item = &'a NewDelivery>,
) -> sqlx::Result<Vec<i64>> {
    let count = deliveries.len();
    let ids: Vec<i64> = match backend {
        Backend::Sqlite => {
            let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM webhook_deliveries")
                .fetch_one(&mut *conn)
                .await?;
            (last + 1..=last + count as i64).collect()
        }
        Backend::Postgres => {
            sqlx::query_scalar(
                "SELECT nextval(pg_get_serial_sequence('webhook_deliveries', 'id')) FROM generate_series(1, $1)",
            )
            .bind(count as i64)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let rows: Vec<(i64, &NewDelivery)> = ids.iter().copied().zip(deliveries).collect();
    for chunk in rows.chunks(MAX_PARAMS / 4) {
        let sql = format!(
            "INSERT INTO webhook_deliveries (id, channel, received_at, body) VALUES {}",
            values(chunk.len(), 4)
        );
        let mut query = sqlx::query(&sql);
        for (id, d) in chunk {
            query = query
                .bind(*id)
                .bind(d.channel.as_str())
                .bind(to_ms(d.received_at))
                .bind(d.body.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(ids)
}

/// Upserts the conversations, out-of-order safe: the last customer time only
/// ever moves forward, and names are only filled in, never blanked by a
/// payload that lacks them. Answers each conversation's id by its key.
pub(super) async fn upsert_conversations<'a>(
    conn: &mut AnyConnection,
    rows: &[ConversationUpsert<'a>],
) -> anyhow::Result<HashMap<(&'static str, &'a str, &'a str), i64>> {
    let by_key: HashMap<(&str, &str, &str), &ConversationUpsert<'a>> = rows
        .iter()
        .map(|c| ((c.channel, c.business_id, c.customer_id), c))
        .collect();
    let mut ids = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(MAX_PARAMS / 10) {
        let sql = format!(
            "INSERT INTO conversations (channel, business_id, customer_id, customer_wa_id, customer_user_id, \
                 customer_name, last_customer_message_at, referral_at, created_at, updated_at) \
             VALUES {} \
             ON CONFLICT (channel, business_id, customer_id) DO UPDATE SET \
                 customer_wa_id = COALESCE(excluded.customer_wa_id, conversations.customer_wa_id), \
                 customer_user_id = COALESCE(excluded.customer_user_id, conversations.customer_user_id), \
                 customer_name = COALESCE(excluded.customer_name, conversations.customer_name), \
                 last_customer_message_at = CASE \
                     WHEN conversations.last_customer_message_at IS NULL \
                       OR excluded.last_customer_message_at > conversations.last_customer_message_at \
                     THEN COALESCE(excluded.last_customer_message_at, conversations.last_customer_message_at) \
                     ELSE conversations.last_customer_message_at END, \
                 referral_at = CASE \
                     WHEN conversations.referral_at IS NULL \
                       OR excluded.referral_at > conversations.referral_at \
                     THEN COALESCE(excluded.referral_at, conversations.referral_at) \
                     ELSE conversations.referral_at END, \
                 updated_at = excluded.updated_at \
             RETURNING id, channel, business_id, customer_id",
            values(chunk.len(), 10)
        );
        let mut query = sqlx::query(&sql);
        for c in chunk {
            query = query
                .bind(c.channel)
                .bind(c.business_id)
                .bind(c.customer_id)
                .bind(c.wa_id)
                .bind(c.user_id)
                .bind(c.name)
                .bind(c.last_customer_message_at)
                .bind(c.referral_at)
                .bind(c.created_at)
                .bind(c.updated_at);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let id: i64 = row.try_get(0)?;
            let (channel, business, customer): (String, String, String) =
                (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
            let upsert = by_key
                .get(&(channel.as_str(), business.as_str(), customer.as_str()))
                .ok_or_else(|| {
                    anyhow::anyhow!("the conversation upsert returned a row it was not given")
                })?;
            ids.insert((upsert.channel, upsert.business_id, upsert.customer_id), id);
        }
    }
    anyhow::ensure!(
        ids.len() == rows.len(),
        "the conversation upsert did not return every conversation"
    );
    Ok(ids)
}

/// Inserts the messages; `false` for one already stored (a concurrent
/// instance won the race between lookup and insert).
pub(super) async fn insert_messages(
    conn: &mut AnyConnection,
    rows: &[MessageRow<'_>],
    conversation_ids: &[i64],
) -> sqlx::Result<Vec<bool>> {
    let position: HashMap<(&str, &str), usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                (
                    r.message.channel.as_str(),
                    r.message.provider_message_id.as_str(),
                ),
                i,
            )
        })
        .collect();
    let mut inserted = vec![false; rows.len()];
    let per_chunk = MAX_PARAMS / 16;
    for (chunk, conversation_ids) in rows
        .chunks(per_chunk)
        .zip(conversation_ids.chunks(per_chunk))
    {
        let sql = format!(
            "INSERT INTO messages (conversation_id, channel, provider_message_id, direction, kind, body, payload, \
                 reply_to, forwarded, referral, standby, triggers_reply, sent_at, received_at, delivery_id, raw) \
             VALUES {} \
             ON CONFLICT (channel, provider_message_id) DO NOTHING RETURNING channel, provider_message_id",
            values(chunk.len(), 16)
        );
        let mut query = sqlx::query(&sql);
        for (r, conversation_id) in chunk.iter().zip(conversation_ids) {
            let m = r.message;
            query = query
                .bind(*conversation_id)
                .bind(m.channel.as_str())
                .bind(m.provider_message_id.as_str())
                .bind(match m.direction {
                    Direction::Inbound => "inbound",
                    Direction::Echo => "echo",
                })
                .bind(m.kind.as_str())
                .bind(m.text.as_deref())
                .bind(m.payload.as_deref())
                .bind(m.reply_to.as_deref())
                .bind(match m.forwarded {
                    Forwarded::No => "no",
                    Forwarded::Forwarded => "forwarded",
                    Forwarded::FrequentlyForwarded => "frequently_forwarded",
                })
                .bind(
                    m.referral
                        .as_ref()
                        .map(|r| serde_json::to_string(r).unwrap_or_default()),
                )
                .bind(m.standby)
                .bind(m.triggers_reply())
                .bind(to_ms(m.timestamp))
                .bind(r.received_at)
                .bind(r.delivery_id)
                .bind(m.raw.to_string());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let (channel, id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            if let Some(&i) = position.get(&(channel.as_str(), id.as_str())) {
                inserted[i] = true;
            }
        }
    }
    Ok(inserted)
}

/// Inserts the statuses; `false` for one already stored.
pub(super) async fn insert_statuses(
    conn: &mut AnyConnection,
    rows: &[StatusRow<'_>],
) -> sqlx::Result<Vec<bool>> {
    let position: HashMap<(&str, &str, &str), usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let s = r.status;
            (
                (
                    s.channel.as_str(),
                    s.provider_message_id.as_str(),
                    s.status.as_str(),
                ),
                i,
            )
        })
        .collect();
    let mut inserted = vec![false; rows.len()];
    for chunk in rows.chunks(MAX_PARAMS / 13) {
        let sql = format!(
            "INSERT INTO statuses (channel, business_id, provider_message_id, status, status_rank, at, recipient_id, \
                 error_code, errors, pricing_type, pricing_category, delivery_id, raw) \
             VALUES {} \
             ON CONFLICT (channel, provider_message_id, status) DO NOTHING \
             RETURNING channel, provider_message_id, status",
            values(chunk.len(), 13)
        );
        let mut query = sqlx::query(&sql);
        for r in chunk {
            let s = r.status;
            query = query
                .bind(s.channel.as_str())
                .bind(s.business_id.as_str())
                .bind(s.provider_message_id.as_str())
                .bind(s.status.as_str())
                .bind(s.status.rank())
                .bind(to_ms(s.timestamp))
                .bind(s.recipient_id.as_deref())
                .bind(s.errors.first().map(|e| e.code))
                .bind(
                    (!s.errors.is_empty())
                        .then(|| serde_json::to_string(&s.errors).unwrap_or_default()),
                )
                .bind(s.pricing.as_ref().and_then(|p| p.pricing_type.clone()))
                .bind(s.pricing.as_ref().and_then(|p| p.category.clone()))
                .bind(r.delivery_id)
                .bind(s.raw.to_string());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let (channel, id, status): (String, String, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if let Some(&i) = position.get(&(channel.as_str(), id.as_str(), status.as_str())) {
                inserted[i] = true;
            }
        }
    }
    Ok(inserted)
}

/// Moves each sent message's delivery state forward, one row per message.
/// `UPDATE ... FROM (VALUES ...)` works on both backends; the columns of a
/// `VALUES` list are named `column1`, `column2`, ... on both.
pub(super) async fn advance_outbox(
    conn: &mut AnyConnection,
    rows: &[OutboxAdvance<'_>],
) -> sqlx::Result<()> {
    for chunk in rows.chunks(MAX_PARAMS / 6) {
        let sql = format!(
            "UPDATE outbox SET delivery_status = v.column1, status_rank = v.column2, \
                 error_code = COALESCE(v.column3, outbox.error_code), \
                 error_detail = COALESCE(v.column4, outbox.error_detail) \
             FROM (VALUES {}) AS v \
             WHERE outbox.channel = v.column5 AND outbox.provider_message_id = v.column6 \
               AND outbox.status_rank < v.column2",
            values(chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for a in chunk {
            query = query
                .bind(a.status)
                .bind(a.rank)
                .bind(a.error_code)
                .bind(a.error_detail.as_deref())
                .bind(a.channel)
                .bind(a.provider_message_id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records the pricing type Meta reported, per (channel, message id).
pub(super) async fn set_pricing(
    conn: &mut AnyConnection,
    rows: &[(&'static str, &str, &str)],
) -> sqlx::Result<()> {
    for chunk in rows.chunks(MAX_PARAMS / 3) {
        let sql = format!(
            "UPDATE outbox SET pricing_type = v.column3 FROM (VALUES {}) AS v \
             WHERE outbox.channel = v.column1 AND outbox.provider_message_id = v.column2",
            values(chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for (channel, id, pricing_type) in chunk {
            query = query.bind(*channel).bind(*id).bind(*pricing_type);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A failed send with the window error closes the conversation's window.
pub(super) async fn close_window(conn: &mut AnyConnection, s: &StatusUpdate) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE conversations SET window_error_at = $1 WHERE id IN \
             (SELECT conversation_id FROM outbox WHERE channel = $2 AND provider_message_id = $3)",
    )
    .bind(to_ms(s.timestamp))
    .bind(s.channel.as_str())
    .bind(&s.provider_message_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts the unknown events; `false` for one already stored.
pub(super) async fn insert_unknowns(
    conn: &mut AnyConnection,
    rows: &[UnknownRow<'_>],
) -> sqlx::Result<Vec<bool>> {
    let position: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.dedupe_key, i))
        .collect();
    let mut inserted = vec![false; rows.len()];
    for chunk in rows.chunks(MAX_PARAMS / 6) {
        let sql = format!(
            "INSERT INTO unknown_events (channel, business_id, kind, dedupe_key, delivery_id, raw) \
             VALUES {} ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key",
            values(chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for r in chunk {
            let u = r.event;
            query = query
                .bind(u.channel.as_str())
                .bind(u.business_id.as_deref())
                .bind(u.kind.as_str())
                .bind(r.dedupe_key)
                .bind(r.delivery_id)
                .bind(u.raw.to_string());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let key: String = row.try_get(0)?;
            if let Some(&i) = position.get(key.as_str()) {
                inserted[i] = true;
            }
        }
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(list(2, 3), "$2, $3, $4");
    }

    #[test]
    fn every_chunk_stays_under_the_parameter_limit() {
        for columns in [3, 4, 6, 10, 13, 16] {
            assert!((MAX_PARAMS / columns) * columns <= MAX_PARAMS);
        }
    }
}
