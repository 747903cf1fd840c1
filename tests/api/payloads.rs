//! Webhook bodies shaped exactly like Meta's (see shared/META.md).

use serde_json::{Value, json};

pub const WABA_ID: &str = "102290129340398";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const PAGE_ID: &str = "1234567890";

/// A WhatsApp delivery with the given `messages` (and matching contacts).
pub fn whatsapp_messages(wa_id: &str, name: &str, messages: Vec<Value>) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": WABA_ID,
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                    "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                    "messages": messages
                }
            }]
        }]
    })
}

/// A WhatsApp text message object.
pub fn wa_text(from: &str, id: &str, unix_seconds: i64, body: &str) -> Value {
    json!({"from": from, "id": id, "timestamp": unix_seconds.to_string(), "type": "text", "text": {"body": body}})
}

/// A one-message WhatsApp text delivery.
pub fn whatsapp_text(wa_id: &str, id: &str, unix_seconds: i64, body: &str) -> Value {
    whatsapp_messages(
        wa_id,
        "Cliente Prueba",
        vec![wa_text(wa_id, id, unix_seconds, body)],
    )
}

/// A WhatsApp delivery with statuses.
pub fn whatsapp_statuses(statuses: Vec<Value>) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": WABA_ID,
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                    "statuses": statuses
                }
            }]
        }]
    })
}

pub fn wa_status(wamid: &str, status: &str, unix_seconds: i64, recipient: &str) -> Value {
    json!({"id": wamid, "status": status, "timestamp": unix_seconds.to_string(), "recipient_id": recipient})
}

/// A Messenger delivery with one text message from `psid`.
pub fn messenger_text(psid: &str, mid: &str, millis: i64, text: &str) -> Value {
    json!({
        "object": "page",
        "entry": [{
            "id": PAGE_ID,
            "time": millis,
            "messaging": [{
                "sender": {"id": psid},
                "recipient": {"id": PAGE_ID},
                "timestamp": millis,
                "message": {"mid": mid, "text": text}
            }]
        }]
    })
}

/// The page's own message coming back as an echo.
pub fn messenger_echo(psid: &str, mid: &str, millis: i64, text: &str) -> Value {
    json!({
        "object": "page",
        "entry": [{
            "id": PAGE_ID,
            "time": millis,
            "messaging": [{
                "sender": {"id": PAGE_ID},
                "recipient": {"id": psid},
                "timestamp": millis,
                "message": {"mid": mid, "text": text, "is_echo": true, "app_id": 1517776481860111_i64}
            }]
        }]
    })
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
