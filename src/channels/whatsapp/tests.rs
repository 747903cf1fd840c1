//! Every WhatsApp fixture under `tests/fixtures/meta/`, parsed and checked.

use serde_json::Value;

use super::parse;
use crate::channels::model::{
    DeliveryStatus, Direction, Event, Forwarded, InboundMessage, MessageKind, StatusUpdate,
    UnknownEvent,
};

fn events(fixture: &str) -> Vec<Event> {
    let body: Value = serde_json::from_str(fixture).expect("fixture is JSON");
    parse(&body).expect("fixture is a WhatsApp webhook")
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

fn statuses(events: &[Event]) -> Vec<&StatusUpdate> {
    events
        .iter()
        .filter_map(|e| {
            if let Event::Status(s) = e {
                Some(s)
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

fn by_id<'a>(messages: &[&'a InboundMessage], id: &str) -> &'a InboundMessage {
    messages
        .iter()
        .find(|m| m.provider_message_id == id)
        .unwrap_or_else(|| panic!("no message {id}"))
}

#[test]
fn text_message() {
    let events = events(include_str!("../../../tests/fixtures/meta/wa_text.json"));
    assert_eq!(events.len(), 1);
    let Event::Message(m) = &events[0] else {
        panic!("{:?}", events[0])
    };
    assert_eq!(
        m.provider_message_id,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    );
    assert_eq!(m.business_id, "106540352242922");
    assert_eq!(m.customer.id, "16505551234");
    assert_eq!(m.customer.wa_id.as_deref(), Some("16505551234"));
    assert_eq!(m.customer.user_id, None);
    assert_eq!(m.customer.name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(m.timestamp.timestamp(), 1749416383);
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.text.as_deref(), Some("Does it come in another color?"));
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.forwarded, Forwarded::No);
    assert_eq!(m.reply_to, None);
    assert!(!m.standby);
    assert_eq!(m.raw["text"]["body"], "Does it come in another color?");
    assert!(m.triggers_reply());
}

#[test]
fn every_message_type() {
    let events = events(include_str!(
        "../../../tests/fixtures/meta/wa_all_types.json"
    ));
    let all = messages(&events);
    assert_eq!(all.len(), 17, "{events:#?}");
    assert!(
        all.iter().all(|m| m.customer.id == "16505551234"
            && m.customer.name.as_deref() == Some("Sheena Nelson"))
    );

    let m = by_id(&all, "wamid.INTERACTIVE-BUTTON");
    assert_eq!(
        (m.kind.clone(), m.text.as_deref(), m.payload.as_deref()),
        (
            MessageKind::Interactive,
            Some("Track my order"),
            Some("track_order")
        )
    );
    assert_eq!(m.reply_to.as_deref(), Some("wamid.OUTBOUND-BUTTONS-1"));

    let m = by_id(&all, "wamid.INTERACTIVE-LIST");
    assert_eq!(
        (m.kind.clone(), m.text.as_deref(), m.payload.as_deref()),
        (MessageKind::Interactive, Some("Medium"), Some("size_m"))
    );

    let m = by_id(&all, "wamid.BUTTON");
    assert_eq!(
        (m.kind.clone(), m.text.as_deref(), m.payload.as_deref()),
        (
            MessageKind::Button,
            Some("Stop promotions"),
            Some("STOP_PROMOS")
        )
    );
    assert_eq!(m.reply_to.as_deref(), Some("wamid.TEMPLATE-1"));

    let media = [
        ("wamid.IMAGE", MessageKind::Image, Some("This one, in blue")),
        ("wamid.VIDEO", MessageKind::Video, None),
        ("wamid.AUDIO", MessageKind::Audio, None),
        ("wamid.DOCUMENT", MessageKind::Document, Some("My invoice")),
        ("wamid.STICKER", MessageKind::Sticker, None),
    ];
    for (id, kind, text) in media {
        let m = by_id(&all, id);
        assert_eq!((&m.kind, m.text.as_deref()), (&kind, text), "{id}");
    }

    let m = by_id(&all, "wamid.LOCATION");
    assert_eq!(m.kind, MessageKind::Location);
    assert_eq!(
        m.text.as_deref(),
        Some("Philz Coffee, 1 Hacker Way, Menlo Park, CA 94025")
    );
    let m = by_id(&all, "wamid.PIN");
    assert_eq!((&m.kind, m.text.as_deref()), (&MessageKind::Location, None));

    let m = by_id(&all, "wamid.CONTACTS");
    assert_eq!(
        (&m.kind, m.text.as_deref()),
        (&MessageKind::Contacts, Some("Barbara J. Johnson"))
    );
    // The shared card's phone must not be mistaken for the sender.
    assert_eq!(m.customer.wa_id.as_deref(), Some("16505551234"));

    let m = by_id(&all, "wamid.REACTION");
    assert_eq!(
        (&m.kind, m.text.as_deref()),
        (&MessageKind::Reaction, Some("👍"))
    );
    assert_eq!(m.reply_to.as_deref(), Some("wamid.OUTBOUND-ANSWER-7"));
    assert!(!m.triggers_reply());

    let m = by_id(&all, "wamid.ORDER");
    assert_eq!(
        (&m.kind, m.text.as_deref()),
        (&MessageKind::Order, Some("Is the blue one in stock?"))
    );
    assert_eq!(m.payload.as_deref(), Some("194836987003835"));

    let m = by_id(&all, "wamid.UNSUPPORTED");
    assert_eq!(
        (&m.kind, m.text.as_deref()),
        (&MessageKind::Unsupported, None)
    );

    assert_eq!(
        by_id(&all, "wamid.FORWARDED").forwarded,
        Forwarded::Forwarded
    );
    assert_eq!(
        by_id(&all, "wamid.FREQUENTLY-FORWARDED").forwarded,
        Forwarded::FrequentlyForwarded
    );
    assert_eq!(by_id(&all, "wamid.FORWARDED").reply_to, None);

    let m = by_id(&all, "wamid.REFERRAL");
    let referral = m.referral.as_ref().expect("referral");
    assert_eq!(referral.source_type.as_deref(), Some("ad"));
    assert_eq!(referral.source_id.as_deref(), Some("120226305854810726"));
    assert_eq!(referral.headline.as_deref(), Some("Summer sale: 30% off"));
    assert_eq!(referral.media_type.as_deref(), Some("image"));
    assert!(
        referral
            .ctwa_clid
            .as_deref()
            .unwrap()
            .starts_with("ARAkLkA8")
    );
    assert_eq!(m.text.as_deref(), Some("Hi! I saw your ad"));
}

#[test]
fn batch_with_several_entries_changes_messages_and_statuses() {
    let events = events(include_str!("../../../tests/fixtures/meta/wa_batch.json"));
    let ids: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::Message(m) => m.provider_message_id.clone(),
            Event::Status(s) => s.provider_message_id.clone(),
            Event::Unknown(u) => u.kind.clone(),
        })
        .collect();
    assert_eq!(
        ids,
        [
            "wamid.BATCH-1",
            "wamid.BATCH-2",
            "wamid.OUT-1",
            "wamid.OUT-2",
            "wamid.BATCH-3",
            "wamid.OUT-3"
        ]
    );

    let all = messages(&events);
    let marco = by_id(&all, "wamid.BATCH-1");
    assert_eq!(
        (marco.customer.id.as_str(), marco.customer.name.as_deref()),
        ("5215512345678", Some("Marco Ruiz"))
    );
    let sheena = by_id(&all, "wamid.BATCH-2");
    assert_eq!(sheena.customer.name.as_deref(), Some("Sheena Nelson"));
    let lucia = by_id(&all, "wamid.BATCH-3");
    assert_eq!(
        (lucia.business_id.as_str(), lucia.customer.name.as_deref()),
        ("330011223344556", Some("Lucía"))
    );

    let st = statuses(&events);
    assert_eq!(st.len(), 3);
    assert_eq!(
        (st[0].status, st[0].recipient_id.as_deref()),
        (DeliveryStatus::Delivered, Some("16505551234"))
    );
    assert_eq!(st[1].status, DeliveryStatus::Read);
    assert_eq!(
        (st[2].status, st[2].business_id.as_str()),
        (DeliveryStatus::Sent, "330011223344556")
    );
}

#[test]
fn statuses_with_pricing_and_errors() {
    let events = events(include_str!(
        "../../../tests/fixtures/meta/wa_statuses.json"
    ));
    let st = statuses(&events);
    assert_eq!(st.len(), 6);
    let kinds: Vec<DeliveryStatus> = st.iter().map(|s| s.status).collect();
    use DeliveryStatus::*;
    assert_eq!(kinds, [Sent, Delivered, Read, Played, Failed, Failed]);

    let pricing = st[0].pricing.as_ref().expect("pricing");
    assert_eq!(pricing.billable, Some(false));
    assert_eq!(pricing.pricing_model.as_deref(), Some("PMP"));
    assert_eq!(
        pricing.pricing_type.as_deref(),
        Some("free_customer_service")
    );
    assert_eq!(pricing.category.as_deref(), Some("service"));
    assert_eq!(
        st[1].pricing.as_ref().unwrap().category.as_deref(),
        Some("marketing")
    );
    assert_eq!(st[2].pricing, None);
    assert_eq!(st[0].timestamp.timestamp(), 1750263773);

    let failed = st[4];
    assert_eq!(failed.provider_message_id, "wamid.FAILED-OUTSIDE-WINDOW");
    assert_eq!(failed.errors.len(), 1);
    assert_eq!(failed.errors[0].code, 131047);
    assert_eq!(
        failed.errors[0].title.as_deref(),
        Some("Re-engagement message")
    );
    assert!(
        failed.errors[0]
            .details
            .as_deref()
            .unwrap()
            .contains("24 hours")
    );
    assert_eq!(
        st[5].recipient_id.as_deref(),
        Some("US.13491208655302741918")
    );
    assert_eq!(st[5].errors[0].code, 131026);
    assert_eq!(st[5].raw["id"], "wamid.FAILED-BSUID");
}

#[test]
fn bsuid_customers() {
    let events = events(include_str!("../../../tests/fixtures/meta/wa_bsuid.json"));
    let all = messages(&events);
    assert_eq!(all.len(), 2);

    let ana = &by_id(&all, "wamid.BSUID-ONLY").customer;
    assert_eq!(ana.id, "BR.99281726354410928374");
    assert_eq!(ana.user_id.as_deref(), Some("BR.99281726354410928374"));
    assert_eq!(ana.wa_id, None);
    assert_eq!(ana.name.as_deref(), Some("Ana Silva"));
    assert_eq!(ana.username.as_deref(), Some("ana.silva"));
    assert_eq!(ana.send_address(), "BR.99281726354410928374");

    let tom = &by_id(&all, "wamid.BSUID-AND-PHONE").customer;
    assert_eq!(tom.id, "GB.31415926535897932384");
    assert_eq!(tom.wa_id.as_deref(), Some("447700900123"));
    assert_eq!(tom.name.as_deref(), Some("Tom Baker"));
    assert_eq!(tom.send_address(), "447700900123");
}

#[test]
fn system_message_without_contacts() {
    let events = events(include_str!("../../../tests/fixtures/meta/wa_system.json"));
    let [Event::Message(m)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(m.kind, MessageKind::System);
    assert_eq!(m.customer.id, "16505551234");
    assert_eq!(m.customer.name, None);
    assert_eq!(
        m.text.as_deref(),
        Some("User Sheena Nelson changed from 16505551234 to 16505559876")
    );
    assert_eq!(m.raw["system"]["wa_id"], "16505559876");
    assert!(!m.triggers_reply());
    assert!(!m.is_customer_activity());
}

#[test]
fn unknown_message_type_is_kept() {
    let events = events(include_str!(
        "../../../tests/fixtures/meta/wa_unknown_type.json"
    ));
    let [Event::Message(m)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(m.kind, MessageKind::Other("poll_vote".into()));
    assert_eq!(m.kind.as_str(), "poll_vote");
    assert_eq!(m.provider_message_id, "wamid.POLL-VOTE");
    assert_eq!(m.text, None);
    assert_eq!(m.raw["poll_vote"]["poll_id"], "wamid.POLL-1");
}

#[test]
fn other_fields_become_unknown_events() {
    let events = events(include_str!(
        "../../../tests/fixtures/meta/wa_unknown_field.json"
    ));
    let un = unknowns(&events);
    assert_eq!(un.len(), 3);
    assert_eq!(un[0].kind, "field:account_update");
    assert_eq!(un[0].raw["value"]["event"], "ACCOUNT_VIOLATION");
    assert_eq!(un[0].business_id, None);
    assert_eq!(un[1].kind, "field:message_template_status_update");
    assert_eq!(
        un[1].raw["value"]["message_template_name"],
        "order_confirmation"
    );
    // A `messages` change carrying only errors has nothing to normalize.
    assert_eq!(un[2].kind, "field:messages");
    assert_eq!(un[2].business_id.as_deref(), Some("106540352242922"));
}

#[test]
fn malformed_messages_do_not_fail_the_delivery() {
    let events = events(include_str!(
        "../../../tests/fixtures/meta/wa_malformed.json"
    ));
    let kinds: Vec<&str> = unknowns(&events).iter().map(|u| u.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "malformed:message_without_id",
            "malformed:bad_timestamp",
            "malformed:no_customer_id"
        ]
    );
    assert_eq!(unknowns(&events)[1].raw["id"], "wamid.BAD-TIME");
    let good = messages(&events);
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].text.as_deref(), Some("still here"));
}

#[test]
fn broken_envelope_parts_are_kept() {
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1"},
            {"id": "2", "changes": [{"value": {}}, {"field": "messages", "value": {"messages": []}}]}
        ]
    });
    let events = parse(&body).unwrap();
    let kinds: Vec<&str> = unknowns(&events).iter().map(|u| u.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "malformed:entry_without_changes",
            "malformed:change_without_field",
            "malformed:no_phone_number_id"
        ]
    );
}

#[test]
fn wrong_object_is_refused() {
    let body = serde_json::json!({"object": "page", "entry": []});
    assert!(parse(&body).is_err());
}
