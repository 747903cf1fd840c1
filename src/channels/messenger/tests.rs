//! Every Messenger and Instagram fixture under `tests/fixtures/meta/`, parsed and checked.

use serde_json::Value;

use super::parse;
use crate::channels::model::{
    Channel, Direction, Event, InboundMessage, MessageKind, UnknownEvent,
};

fn events(fixture: &str) -> Vec<Event> {
    let body: Value = serde_json::from_str(fixture).expect("fixture is JSON");
    parse(&body).expect("fixture is a Messenger webhook")
}

fn messages(events: &[Event]) -> Vec<&InboundMessage> {
    events
        .iter()
        .filter_map(|e| {
            if let Event::Message(m) = e {
                Some(m)
            } else {
                None
            }
        })
        .collect()
}

fn unknowns(events: &[Event]) -> Vec<&UnknownEvent> {
    events
        .iter()
        .filter_map(|e| {
            if let Event::Unknown(u) = e {
                Some(u)
            } else {
                None
            }
        })
        .collect()
}

const PAGE: &str = "108236421990341";
const PSID: &str = "6912345678901234";

#[test]
fn text_message() {
    let events = events(include_str!("../../../tests/fixtures/meta/ms_text.json"));
    let [Event::Message(m)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(m.channel, Channel::Messenger);
    assert_eq!(m.business_id, PAGE);
    assert_eq!(m.customer.id, PSID);
    assert_eq!(m.customer.wa_id, None);
    assert_eq!(
        m.provider_message_id,
        "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"
    );
    assert_eq!(m.timestamp.timestamp_millis(), 1749416383211);
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.text.as_deref(), Some("Hi, are you open on Sunday?"));
    assert_eq!(m.reply_to.as_deref(), Some("m_PREVIOUS-PAGE-ANSWER"));
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.raw["sender"]["id"], PSID);
    assert!(m.triggers_reply());
}

#[test]
fn quick_reply() {
    let events = events(include_str!(
        "../../../tests/fixtures/meta/ms_quick_reply.json"
    ));
    let [Event::Message(m)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(m.kind, MessageKind::Interactive);
    assert_eq!(m.text.as_deref(), Some("Track my order"));
    assert_eq!(m.payload.as_deref(), Some("track_order"));
    assert_eq!(m.provider_message_id, "m_QUICK-REPLY-1");
}

#[test]
fn attachments() {
    let events = events(include_str!(
        "../../../tests/fixtures/meta/ms_attachment.json"
    ));
    let got: Vec<(&str, MessageKind, Option<&str>)> = messages(&events)
        .iter()
        .map(|m| {
            (
                m.provider_message_id.as_str(),
                m.kind.clone(),
                m.text.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("m_IMAGE-1", MessageKind::Image, None),
            ("m_STICKER-1", MessageKind::Sticker, None),
            ("m_FILE-1", MessageKind::Document, None),
            (
                "m_LOCATION-1",
                MessageKind::Location,
                Some("Pinned Location")
            ),
            (
                "m_FALLBACK-1",
                MessageKind::Attachment,
                Some("https://example.com/blue-shirt")
            ),
            ("m_AUDIO-1", MessageKind::Audio, None),
        ]
    );
    assert!(
        messages(&events)
            .iter()
            .all(|m| m.customer.id == PSID && m.business_id == PAGE)
    );
}

#[test]
fn postbacks_and_reactions() {
    let events = events(include_str!(
        "../../../tests/fixtures/meta/ms_postback.json"
    ));
    let all = messages(&events);
    assert_eq!(all.len(), 4, "{events:#?}");

    let human = all[0];
    assert_eq!(
        (&human.kind, human.text.as_deref(), human.payload.as_deref()),
        (
            &MessageKind::Postback,
            Some("Talk to a person"),
            Some("HUMAN_AGENT")
        )
    );
    assert_eq!(human.provider_message_id, "m_POSTBACK-1");

    let started = all[1];
    assert_eq!(started.payload.as_deref(), Some("GET_STARTED"));
    assert!(
        started.provider_message_id.starts_with("postback."),
        "{}",
        started.provider_message_id
    );
    let referral = started.referral.as_ref().expect("referral");
    assert_eq!(referral.source_type.as_deref(), Some("ad"));
    assert_eq!(referral.source_id.as_deref(), Some("120226305854810999"));
    assert_eq!(referral.headline.as_deref(), Some("Summer sale: 30% off"));
    assert_eq!(referral.body.as_deref(), Some("summer_sale"));
    assert_eq!(referral.media_type.as_deref(), Some("image"));
    // Redelivery of the same postback gets the same synthetic id.
    let again = messages(&self::events(include_str!(
        "../../../tests/fixtures/meta/ms_postback.json"
    )))[1]
        .provider_message_id
        .clone();
    assert_eq!(started.provider_message_id, again);

    let love = all[2];
    assert_eq!(
        (&love.kind, love.text.as_deref(), love.payload.as_deref()),
        (&MessageKind::Reaction, Some("❤️"), Some("love"))
    );
    assert_eq!(love.reply_to.as_deref(), Some("m_PAGE-ANSWER-3"));
    assert!(!love.triggers_reply());
    let unreact = all[3];
    assert_eq!(
        (&unreact.kind, unreact.text.as_deref()),
        (&MessageKind::Reaction, None)
    );
    assert_ne!(love.provider_message_id, unreact.provider_message_id);
}

#[test]
fn echo_is_the_page_writing_to_the_customer() {
    let events = events(include_str!("../../../tests/fixtures/meta/ms_echo.json"));
    let [Event::Message(m)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(m.direction, Direction::Echo);
    assert_eq!(m.customer.id, PSID);
    assert_eq!(m.business_id, PAGE);
    assert_eq!(m.text.as_deref(), Some("We are open Sunday 10:00-18:00."));
    assert_eq!(events[0].kind(), "echo");
    assert!(!m.triggers_reply());
    assert!(!m.is_customer_activity());
}

#[test]
fn standby_events() {
    let events = events(include_str!("../../../tests/fixtures/meta/ms_standby.json"));
    let [Event::Message(m)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert!(m.standby);
    assert_eq!(m.provider_message_id, "m_STANDBY-1");
    assert_eq!(m.text.as_deref(), Some("Is anyone there?"));
    assert!(!m.triggers_reply());
    assert!(m.is_customer_activity());
}

#[test]
fn instagram() {
    let events = events(include_str!(
        "../../../tests/fixtures/meta/ms_instagram.json"
    ));
    let all = messages(&events);
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|m| m.channel == Channel::Instagram
        && m.business_id == "17841400008460056"
        && m.customer.id == "1253467891234567"));
    assert_eq!(all[0].text.as_deref(), Some("Do you ship to Monterrey?"));
    assert_eq!(all[1].kind, MessageKind::Attachment);
    assert_eq!(
        all[1].raw["message"]["attachments"][0]["type"],
        "story_mention"
    );
    assert_eq!(all[2].kind, MessageKind::Unsupported);
    assert!(!all[2].triggers_reply());
    let deleted = unknowns(&events);
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].kind, "messaging:message_deleted");
    assert_eq!(deleted[0].channel, Channel::Instagram);
}

#[test]
fn receipts_and_standalone_referrals_are_unknown() {
    let events = events(include_str!(
        "../../../tests/fixtures/meta/ms_delivery_read.json"
    ));
    assert!(messages(&events).is_empty());
    assert!(!events.iter().any(|e| matches!(e, Event::Status(_))));
    let un = unknowns(&events);
    let kinds: Vec<&str> = un.iter().map(|u| u.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "messaging:delivery",
            "messaging:read",
            "messaging:referral",
            "malformed:message_without_mid"
        ]
    );
    assert!(un.iter().all(|u| u.business_id.as_deref() == Some(PAGE)));
    assert_eq!(un[0].raw["delivery"]["mids"][0], "m_ECHO-1");
}

#[test]
fn broken_items_are_kept() {
    let body = serde_json::json!({
        "object": "page",
        "entry": [
            {"id": PAGE, "messaging": [
                {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": "soon", "message": {"mid": "m_1", "text": "x"}},
                {"recipient": {"id": PAGE}, "timestamp": 1, "message": {"mid": "m_2", "text": "x"}},
                {"sender": {"id": PSID}, "timestamp": 1749416383211_i64, "message": {"mid": "m_3", "text": "no recipient"}}
            ]},
            {"id": PAGE, "time": 1},
            {"id": PAGE, "changes": [{"field": "feed", "value": {"item": "comment"}}]}
        ]
    });
    let events = parse(&body).unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::Unknown(u) => u.kind.as_str(),
            Event::Message(m) => m.provider_message_id.as_str(),
            Event::Status(_) => "status",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "malformed:bad_timestamp",
            "malformed:no_sender",
            "m_3",
            "malformed:entry_without_messaging",
            "field:feed"
        ]
    );
    // Without a recipient the entry id names the page.
    assert_eq!(messages(&events)[0].business_id, PAGE);
}
