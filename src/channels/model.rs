//! The channel-neutral event model.
//!
//! Every webhook, whatever channel it came from, is normalized into these
//! types before anything is stored; everything downstream (inbox, pipeline,
//! agent API) speaks only this model. The `sandbox` channel used by
//! `ventana chat` produces the same types, so the terminal goes through the
//! same pipeline as WhatsApp and Messenger.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a conversation happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Whatsapp,
    Messenger,
    Instagram,
    /// The local terminal channel of `ventana chat`; never leaves the process.
    Sandbox,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Messenger => "messenger",
            Channel::Instagram => "instagram",
            Channel::Sandbox => "sandbox",
        }
    }

    /// Messenger and Instagram share the Messenger Platform send API and rules.
    pub fn is_messenger_platform(self) -> bool {
        matches!(self, Channel::Messenger | Channel::Instagram)
    }
}

impl std::str::FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "whatsapp" => Ok(Channel::Whatsapp),
            "messenger" => Ok(Channel::Messenger),
            "instagram" => Ok(Channel::Instagram),
            "sandbox" => Ok(Channel::Sandbox),
            other => Err(format!("unknown channel {other:?}")),
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One normalized event from a webhook delivery.
// Events live only between parsing and the insert, moved once each; boxing
// the large variant would buy nothing but an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Message(InboundMessage),
    Status(StatusUpdate),
    /// Anything we do not model (yet): stored with its raw JSON and acknowledged.
    Unknown(UnknownEvent),
}

impl Event {
    pub fn channel(&self) -> Channel {
        match self {
            Event::Message(m) => m.channel,
            Event::Status(s) => s.channel,
            Event::Unknown(u) => u.channel,
        }
    }

    /// The label used in metrics and the inbox `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Message(m) if m.direction == Direction::Echo => "echo",
            Event::Message(_) => "message",
            Event::Status(_) => "status",
            Event::Unknown(_) => "unknown",
        }
    }
}

/// Who a customer is. WhatsApp customers may have a phone-based `wa_id`, a
/// business-scoped user id (BSUID), or both; Messenger customers have a
/// page-scoped id (PSID). `id` is the stable key: the BSUID when present,
/// otherwise the `wa_id` or PSID.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomerRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl CustomerRef {
    /// The address a reply is sent to: the phone-based id when we have one
    /// (every send API accepts it), otherwise the stable id.
    pub fn send_address(&self) -> &str {
        self.wa_id.as_deref().unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Written by the customer.
    Inbound,
    /// The page's own message coming back (Messenger `is_echo`): stored, never answered.
    Echo,
}

/// What kind of message the customer sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    /// WhatsApp interactive button or list reply, Messenger quick reply.
    Interactive,
    /// WhatsApp template quick-reply button.
    Button,
    /// Messenger postback (a persistent menu or button tap).
    Postback,
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    /// Messenger attachments of other types (file, fallback, template...).
    Attachment,
    Location,
    Contacts,
    Reaction,
    Order,
    /// WhatsApp system message (e.g. `user_changed_number`).
    System,
    /// Meta could not render the message (`unsupported`).
    Unsupported,
    /// A type this build does not know; kept verbatim.
    Other(String),
}

impl MessageKind {
    pub fn as_str(&self) -> &str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Interactive => "interactive",
            MessageKind::Button => "button",
            MessageKind::Postback => "postback",
            MessageKind::Image => "image",
            MessageKind::Video => "video",
            MessageKind::Audio => "audio",
            MessageKind::Document => "document",
            MessageKind::Sticker => "sticker",
            MessageKind::Attachment => "attachment",
            MessageKind::Location => "location",
            MessageKind::Contacts => "contacts",
            MessageKind::Reaction => "reaction",
            MessageKind::Order => "order",
            MessageKind::System => "system",
            MessageKind::Unsupported => "unsupported",
            MessageKind::Other(s) => s,
        }
    }
}

/// How often a message was forwarded, from WhatsApp's `context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forwarded {
    #[default]
    No,
    Forwarded,
    FrequentlyForwarded,
}

/// Click-to-WhatsApp (or click-to-Messenger) ad data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Referral {
    pub source_url: Option<String>,
    pub source_id: Option<String>,
    pub source_type: Option<String>,
    pub headline: Option<String>,
    pub body: Option<String>,
    pub media_type: Option<String>,
    pub ctwa_clid: Option<String>,
}

/// A message in a conversation, as the business received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub channel: Channel,
    /// The business side: WhatsApp `phone_number_id` or the Messenger page id.
    pub business_id: String,
    pub customer: CustomerRef,
    /// wamid or mid: unique per channel, the deduplication key.
    pub provider_message_id: String,
    pub timestamp: DateTime<Utc>,
    pub direction: Direction,
    pub kind: MessageKind,
    /// The text a person would read: body, caption, button or postback title,
    /// reaction emoji. `None` when the message has no text at all.
    pub text: Option<String>,
    /// A machine payload: button/quick-reply/postback payload or reply id.
    pub payload: Option<String>,
    /// The provider id of the message this one replies to.
    pub reply_to: Option<String>,
    pub forwarded: Forwarded,
    pub referral: Option<Referral>,
    /// Messenger standby channel: another app owns the thread.
    pub standby: bool,
    /// The message object exactly as Meta sent it.
    pub raw: serde_json::Value,
}

impl InboundMessage {
    /// Whether this message may start or extend a bot turn. Echoes,
    /// reactions, standby events and system notices never get a reply.
    pub fn triggers_reply(&self) -> bool {
        self.direction == Direction::Inbound
            && !self.standby
            && !matches!(
                self.kind,
                MessageKind::Reaction | MessageKind::System | MessageKind::Unsupported
            )
    }

    /// Whether the message counts as the customer writing (opens or extends
    /// the customer service window). Echoes are the business writing.
    pub fn is_customer_activity(&self) -> bool {
        self.direction == Direction::Inbound && !matches!(self.kind, MessageKind::System)
    }
}

/// Delivery progress of a message the business sent. Ordered: a status
/// never moves backwards (`read` stays `read` when a late `delivered` comes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Accepted,
    Sent,
    Delivered,
    Read,
    Played,
    /// Terminal: ranks above everything so nothing overwrites it.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Accepted => "accepted",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Played => "played",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Rank used to keep statuses monotonic in storage.
    pub fn rank(self) -> i64 {
        self as i64
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "accepted" => DeliveryStatus::Accepted,
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "read" => DeliveryStatus::Read,
            "played" => DeliveryStatus::Played,
            "failed" => DeliveryStatus::Failed,
            _ => return None,
        })
    }
}

/// An error Meta attached to a failed status or a send response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProviderError {
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcode: Option<i64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
}

/// WhatsApp per-message pricing as reported on status webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pricing {
    pub billable: Option<bool>,
    pub pricing_model: Option<String>,
    /// `regular`, `free_customer_service` or `free_entry_point`.
    #[serde(rename = "type")]
    pub pricing_type: Option<String>,
    pub category: Option<String>,
}

/// A delivery status for a message the business sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub channel: Channel,
    pub business_id: String,
    pub provider_message_id: String,
    pub status: DeliveryStatus,
    pub timestamp: DateTime<Utc>,
    /// wa_id or BSUID of the recipient.
    pub recipient_id: Option<String>,
    pub errors: Vec<ProviderError>,
    pub pricing: Option<Pricing>,
    pub raw: serde_json::Value,
}

/// An event we store and acknowledge without understanding it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnknownEvent {
    pub channel: Channel,
    pub business_id: Option<String>,
    /// A short description such as `field:account_update` or `messaging:delivery`.
    pub kind: String,
    pub raw: serde_json::Value,
}
