//! Conversation rows: identity, window facts and owner.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;

use super::{Store, from_ms, to_ms};
use crate::channels::model::Channel;
use crate::conversation::Window;

/// Who answers the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    Bot,
    Human,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Bot => "bot",
            Owner::Human => "human",
        }
    }

    fn parse(s: &str) -> Owner {
        if s == "human" {
            Owner::Human
        } else {
            Owner::Bot
        }
    }
}

/// One conversation as stored.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationRow {
    pub id: i64,
    pub channel: Channel,
    pub business_id: String,
    pub customer_id: String,
    pub customer_wa_id: Option<String>,
    pub customer_user_id: Option<String>,
    pub customer_name: Option<String>,
    pub last_customer_message_at: Option<DateTime<Utc>>,
    pub window_error_at: Option<DateTime<Utc>>,
    pub referral_at: Option<DateTime<Utc>>,
    pub free_entry_until: Option<DateTime<Utc>>,
    pub owner: Owner,
    pub lang: Option<String>,
}

impl ConversationRow {
    pub fn window(&self, now: DateTime<Utc>) -> Window {
        Window::at(
            self.channel,
            self.last_customer_message_at,
            self.window_error_at,
            self.free_entry_until,
            now,
        )
    }

    /// The address replies go to (phone-based id when known, else the BSUID/PSID).
    pub fn send_address(&self) -> &str {
        self.customer_wa_id.as_deref().unwrap_or(&self.customer_id)
    }
}

const COLUMNS: &str = "id, channel, business_id, customer_id, customer_wa_id, customer_user_id, customer_name, \
     last_customer_message_at, window_error_at, referral_at, free_entry_until, owner, lang";

type Raw = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
    Option<String>,
);

fn from_raw(r: Raw) -> ConversationRow {
    ConversationRow {
        id: r.0,
        channel: r.1.parse().unwrap_or(Channel::Sandbox),
        business_id: r.2,
        customer_id: r.3,
        customer_wa_id: r.4,
        customer_user_id: r.5,
        customer_name: r.6,
        last_customer_message_at: r.7.map(from_ms),
        window_error_at: r.8.map(from_ms),
        referral_at: r.9.map(from_ms),
        free_entry_until: r.10.map(from_ms),
        owner: Owner::parse(&r.11),
        lang: r.12,
    }
}

impl Store {
    pub async fn conversation(&self, id: i64) -> sqlx::Result<Option<ConversationRow>> {
        let row: Option<Raw> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM conversations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(from_raw))
    }

    pub async fn find_conversation(
        &self,
        channel: Channel,
        business_id: &str,
        customer_id: &str,
    ) -> sqlx::Result<Option<ConversationRow>> {
        let row: Option<Raw> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM conversations WHERE channel = $1 AND business_id = $2 AND customer_id = $3"
        ))
        .bind(channel.as_str())
        .bind(business_id)
        .bind(customer_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(from_raw))
    }
}

/// Inside a transaction: reads a conversation.
pub async fn conversation_in(
    conn: &mut AnyConnection,
    id: i64,
) -> sqlx::Result<Option<ConversationRow>> {
    let row: Option<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM conversations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(from_raw))
}

/// Meta said the window is closed (131047 / 10+2018278).
pub async fn mark_window_closed(
    conn: &mut AnyConnection,
    conversation_id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE conversations SET window_error_at = $1 WHERE id = $2")
        .bind(to_ms(at))
        .bind(conversation_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records the free entry point window opened by a timely reply to an ad.
pub async fn open_free_entry(
    conn: &mut AnyConnection,
    conversation_id: i64,
    until: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE conversations SET free_entry_until = $1 WHERE id = $2 AND free_entry_until IS NULL",
    )
    .bind(to_ms(until))
    .bind(conversation_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_owner(
    conn: &mut AnyConnection,
    conversation_id: i64,
    owner: Owner,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE conversations SET owner = $1 WHERE id = $2")
        .bind(owner.as_str())
        .bind(conversation_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
