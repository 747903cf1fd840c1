//! The `messaging[]` items that become messages: customer messages and the
//! page's echoes, postbacks and reactions.

use serde_json::Value;

use super::{Context, Envelope, attachments, referral_of, synthetic_id};
use crate::channels::model::{Direction, Event, Forwarded, InboundMessage, MessageKind};
use crate::channels::parse::{malformed, str_at, string_at, unknown};

/// What the event says, independent of its envelope.
struct Content {
    id: String,
    direction: Direction,
    kind: MessageKind,
    text: Option<String>,
    payload: Option<String>,
    reply_to: Option<String>,
}

pub(super) fn message(ctx: &Context, envelope: &Envelope, item: &Value) -> Event {
    let message = &item["message"];
    let Some(id) = string_at(message, "mid") else {
        return malformed(ctx.channel, ctx.page_id(item), "message_without_mid", item);
    };
    let flag = |key: &str| message.get(key).and_then(Value::as_bool).unwrap_or(false);
    // Instagram "unsend": nothing to read or answer, but worth keeping.
    if flag("is_deleted") {
        return unknown(
            ctx.channel,
            ctx.page_id(item),
            "messaging:message_deleted",
            item,
        );
    }
    let is_echo = flag("is_echo");
    let quick_reply = message
        .get("quick_reply")
        .and_then(|q| string_at(q, "payload"));
    let attachment = attachments(message).first();
    let kind = match (&quick_reply, attachment) {
        (Some(_), _) => MessageKind::Interactive,
        (None, Some(attachment)) => attachment_kind(attachment),
        (None, None) if message.get("text").is_some() => MessageKind::Text,
        // No text and no attachment (`is_unsupported`, or a shape Meta has
        // not documented): nothing a reply could answer.
        (None, None) => MessageKind::Unsupported,
    };
    let text = string_at(message, "text").or_else(|| attachment.and_then(attachment_title));
    let content = Content {
        id,
        direction: if is_echo {
            Direction::Echo
        } else {
            Direction::Inbound
        },
        kind,
        text,
        payload: quick_reply,
        reply_to: message.get("reply_to").and_then(|r| string_at(r, "mid")),
    };
    build(ctx, envelope, item, content)
}

pub(super) fn postback(ctx: &Context, envelope: &Envelope, item: &Value) -> Event {
    let postback = &item["postback"];
    let payload = string_at(postback, "payload");
    let id = string_at(postback, "mid").unwrap_or_else(|| {
        let millis = envelope.timestamp.timestamp_millis().to_string();
        synthetic_id(
            "postback",
            &[
                &envelope.sender,
                &millis,
                payload.as_deref().unwrap_or_default(),
            ],
        )
    });
    let content = Content {
        id,
        direction: Direction::Inbound,
        kind: MessageKind::Postback,
        text: string_at(postback, "title"),
        payload,
        reply_to: None,
    };
    build(ctx, envelope, item, content)
}

/// A reaction to a message; `unreact` has no emoji.
pub(super) fn reaction(ctx: &Context, envelope: &Envelope, item: &Value) -> Event {
    let reaction = &item["reaction"];
    let target = string_at(reaction, "mid");
    let action = str_at(reaction, "action").unwrap_or("react");
    let emoji = string_at(reaction, "emoji").filter(|_| action == "react");
    let millis = envelope.timestamp.timestamp_millis().to_string();
    let id = synthetic_id(
        "reaction",
        &[
            &envelope.sender,
            &millis,
            target.as_deref().unwrap_or_default(),
            action,
        ],
    );
    let content = Content {
        id,
        direction: Direction::Inbound,
        kind: MessageKind::Reaction,
        text: emoji,
        payload: string_at(reaction, "reaction"),
        reply_to: target,
    };
    build(ctx, envelope, item, content)
}

fn build(ctx: &Context, envelope: &Envelope, item: &Value, content: Content) -> Event {
    let Some((business_id, customer)) = ctx.parties(envelope, content.direction) else {
        return malformed(ctx.channel, ctx.page_id(item), "no_page_or_customer", item);
    };
    Event::Message(InboundMessage {
        channel: ctx.channel,
        business_id,
        customer,
        provider_message_id: content.id,
        timestamp: envelope.timestamp,
        direction: content.direction,
        kind: content.kind,
        text: content.text,
        payload: content.payload,
        reply_to: content.reply_to,
        forwarded: Forwarded::No,
        referral: referral_of(item),
        standby: ctx.standby,
        raw: item.clone(),
    })
}

/// Messenger stickers are images with a `sticker_id`; files are documents;
/// templates, fallbacks, shares and story mentions are generic attachments.
fn attachment_kind(attachment: &Value) -> MessageKind {
    let is_sticker = attachment
        .get("payload")
        .is_some_and(|p| p.get("sticker_id").is_some());
    match str_at(attachment, "type").unwrap_or_default() {
        "image" if is_sticker => MessageKind::Sticker,
        "image" => MessageKind::Image,
        "video" => MessageKind::Video,
        "audio" => MessageKind::Audio,
        "file" => MessageKind::Document,
        "location" => MessageKind::Location,
        _ => MessageKind::Attachment,
    }
}

/// The title Meta gives some attachments (shared links, pinned locations).
fn attachment_title(attachment: &Value) -> Option<String> {
    string_at(attachment, "title").or_else(|| {
        attachment
            .get("payload")
            .and_then(|p| string_at(p, "title"))
    })
}
