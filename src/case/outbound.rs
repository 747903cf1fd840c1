//! The one builder of a message to a case's customer.

use chrono::{DateTime, Utc};

use crate::channels::outbound::{OutboundBody, OutboundMessage};
use crate::store::{ConversationRow, NewOutbound, OutboxState};

/// A pending message to the customer of `conversation`, from the number or
/// page they wrote to, without a dedupe key; set `dedupe_key`,
/// `message.messaging_type` or `state` with struct update syntax.
pub fn to_customer(
    conversation: &ConversationRow,
    body: OutboundBody,
    purpose: &str,
    now: DateTime<Utc>,
) -> NewOutbound {
    NewOutbound {
        conversation_id: Some(conversation.id),
        message: OutboundMessage {
            channel: conversation.channel,
            business_id: conversation.business_id.clone(),
            recipient: conversation.send_address().to_owned(),
            body,
            reply_to: None,
            messaging_type: None,
        },
        purpose: purpose.to_owned(),
        dedupe_key: None,
        not_before: now,
        state: OutboxState::Pending,
    }
}

/// [`to_customer`] with a dedupe key: at most one such row ever.
pub fn to_customer_once(
    conversation: &ConversationRow,
    body: OutboundBody,
    purpose: &str,
    dedupe_key: String,
    now: DateTime<Utc>,
) -> NewOutbound {
    NewOutbound {
        dedupe_key: Some(dedupe_key),
        ..to_customer(conversation, body, purpose, now)
    }
}
