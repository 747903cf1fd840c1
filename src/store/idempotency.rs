//! Idempotency keys for agent actions that send to a customer.
//!
//! A key is claimed inside the action's own transaction, before anything
//! else is written, and its response is recorded in the same transaction:
//! a key is stored if and only if its action committed. Two concurrent
//! requests with one key meet at the primary key: on PostgreSQL the second
//! insert waits for the first transaction and then finds the key; on SQLite
//! the writer lock orders them. Keys live 24 hours.

use chrono::{DateTime, Duration, Utc};
use sqlx::AnyConnection;

use super::to_ms;

/// How long a key is remembered.
pub const KEY_LIFETIME: Duration = Duration::hours(24);

/// A caller's key for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The token's name: keys of different callers never meet.
    pub principal: String,
    pub key: String,
    /// A digest of the route and body: a key reused for another request is refused.
    pub request_hash: String,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First use: go ahead, then [`record_response`].
    New,
    /// Already used for the same request: its first response.
    Replay(serde_json::Value),
    /// Already used for another request.
    Mismatch,
}

/// Claims `key` in the caller's transaction (forgetting keys past their
/// lifetime first).
pub async fn claim_key(
    conn: &mut AnyConnection,
    key: &IdempotencyKey,
    now: DateTime<Utc>,
) -> anyhow::Result<Claim> {
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(to_ms(now - KEY_LIFETIME))
        .execute(&mut *conn)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (principal, key, request_hash, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (principal, key) DO NOTHING",
    )
    .bind(&key.principal)
    .bind(&key.key)
    .bind(&key.request_hash)
    .bind(to_ms(now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let (hash, response): (String, Option<String>) = sqlx::query_as(
        "SELECT request_hash, response FROM idempotency_keys WHERE principal = $1 AND key = $2",
    )
    .bind(&key.principal)
    .bind(&key.key)
    .fetch_one(&mut *conn)
    .await?;
    if hash != key.request_hash {
        return Ok(Claim::Mismatch);
    }
    let response = response.as_deref().map(serde_json::from_str).transpose()?;
    Ok(Claim::Replay(response.unwrap_or(serde_json::Value::Null)))
}

/// Records the response of a claimed key, in the same transaction.
pub async fn record_response(
    conn: &mut AnyConnection,
    key: &IdempotencyKey,
    response: &serde_json::Value,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE idempotency_keys SET response = $1 WHERE principal = $2 AND key = $3")
        .bind(response.to_string())
        .bind(&key.principal)
        .bind(&key.key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
