//! What ventana sends: the channel-neutral outbound message stored in the
//! outbox and turned into a Graph API request by [`super::graph`].

use serde::{Deserialize, Serialize};

use super::model::Channel;

/// One outbound message, exactly as stored in an outbox row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub channel: Channel,
    /// The number (`phone_number_id`) or page the message leaves from: always
    /// the one the customer wrote to.
    pub business_id: String,
    /// wa_id, BSUID or PSID.
    pub recipient: String,
    pub body: OutboundBody,
    /// Quote a customer message (WhatsApp `context.message_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Messenger only: defaults to `RESPONSE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_type: Option<MessagingType>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboundBody {
    Text {
        text: String,
    },
    /// WhatsApp template message (the only kind allowed outside the window).
    Template {
        name: String,
        language: String,
        #[serde(default)]
        body_params: Vec<String>,
        /// utility, marketing or authentication: recorded for pricing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
    },
    /// Up to three reply buttons (WhatsApp interactive, Messenger quick replies).
    Buttons {
        text: String,
        buttons: Vec<Choice>,
    },
    /// A WhatsApp list message (Messenger: quick replies).
    List {
        text: String,
        button: String,
        rows: Vec<Choice>,
    },
    /// WhatsApp mark-as-read, optionally with the typing indicator.
    MarkRead {
        message_id: String,
        typing: bool,
    },
}

impl OutboundBody {
    pub fn kind(&self) -> &'static str {
        match self {
            OutboundBody::Text { .. } => "text",
            OutboundBody::Template { .. } => "template",
            OutboundBody::Buttons { .. } => "buttons",
            OutboundBody::List { .. } => "list",
            OutboundBody::MarkRead { .. } => "mark_read",
        }
    }
}

/// A button or list row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Messenger `messaging_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "tag", rename_all = "snake_case")]
pub enum MessagingType {
    Response,
    Update,
    /// `MESSAGE_TAG` with a tag such as `HUMAN_AGENT`.
    MessageTag(String),
}
