//! The fake driven through the production [`GraphClient`]: both sides of the
//! wire are checked at once.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::FakeGraph;
use crate::channels::graph::{ErrorClass, GraphClient, TokenBook};
use crate::channels::model::Channel;
use crate::channels::outbound::{MessagingType, OutboundBody, OutboundMessage};

const NUMBER: &str = "106540352242922";
const PAGE: &str = "108236421990341";
const WA_TOKEN: &str = "wa-token";
const PAGE_TOKEN: &str = "page-token";

fn client(graph: &FakeGraph) -> GraphClient {
    let tokens = TokenBook::default()
        .with_whatsapp_default(WA_TOKEN)
        .with_page_default(PAGE_TOKEN);
    GraphClient::new(graph.base_url(), "v23.0", tokens).unwrap()
}

fn wa_text(to: &str, text: &str) -> OutboundMessage {
    OutboundMessage {
        channel: Channel::Whatsapp,
        business_id: NUMBER.into(),
        recipient: to.into(),
        body: OutboundBody::Text { text: text.into() },
        reply_to: None,
        messaging_type: None,
    }
}

fn wa_template(to: &str) -> OutboundMessage {
    OutboundMessage {
        body: OutboundBody::Template {
            name: "follow_up".into(),
            language: "es_MX".into(),
            body_params: vec!["Lucía".into()],
            category: Some("utility".into()),
        },
        ..wa_text(to, "")
    }
}

fn ms_text(psid: &str, text: &str, messaging_type: Option<MessagingType>) -> OutboundMessage {
    OutboundMessage {
        channel: Channel::Messenger,
        business_id: PAGE.into(),
        recipient: psid.into(),
        body: OutboundBody::Text { text: text.into() },
        reply_to: None,
        messaging_type,
    }
}

#[tokio::test]
async fn whatsapp_send_is_recorded_and_answered_like_meta() {
    let graph = FakeGraph::start().await;
    let receipt = client(&graph)
        .send(&wa_text("16505551234", "Hola"))
        .await
        .unwrap();
    let wamid = receipt.provider_message_id.expect("a wamid");
    assert!(wamid.starts_with("wamid."), "{wamid}");

    let requests = graph.wait_for_requests(1, Duration::from_secs(2)).await;
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/v23.0/{NUMBER}/messages"));
    assert_eq!(request.authorization.as_deref(), Some("Bearer wa-token"));
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.body["to"], "16505551234");
    assert_eq!(request.body["text"]["body"], "Hola");
    assert_eq!(request.status, 200);
    assert_eq!(request.message_id.as_deref(), Some(wamid.as_str()));
    assert_eq!(graph.sent_messages().len(), 1);
}

#[tokio::test]
async fn messenger_send_and_mark_read() {
    let graph = FakeGraph::start().await;
    let client = client(&graph);
    let receipt = client.send(&ms_text("PSID-1", "Hi", None)).await.unwrap();
    assert!(receipt.provider_message_id.unwrap().starts_with("m_"));

    let mark_read = OutboundMessage {
        body: OutboundBody::MarkRead {
            message_id: "wamid.IN".into(),
            typing: true,
        },
        ..wa_text("16505551234", "")
    };
    assert_eq!(
        client.send(&mark_read).await.unwrap().provider_message_id,
        None
    );

    let requests = graph.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, format!("/v23.0/{PAGE}/messages"));
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some("Bearer page-token")
    );
    assert_eq!(requests[0].body["messaging_type"], "RESPONSE");
    assert_eq!(requests[1].body["typing_indicator"]["type"], "text");
    assert_eq!(
        graph.sent_messages().len(),
        1,
        "a mark-read is not a sent message"
    );
}

#[tokio::test]
async fn scripted_failures_come_first_then_success() {
    let graph = FakeGraph::start().await;
    let client = client(&graph);
    graph.fail_next(1, 130429);
    graph.fail_next(1, 500);
    graph.fail_next(1, 131026);

    let throttled = client.send(&wa_text("1", "a")).await.unwrap_err();
    assert_eq!(
        (throttled.http_status, throttled.code),
        (Some(429), Some(130429))
    );
    assert!(matches!(throttled.class, ErrorClass::Retryable { .. }));
    assert!(throttled.fbtrace_id.is_some());
    assert!(throttled.details.is_some());

    let server = client.send(&wa_text("1", "a")).await.unwrap_err();
    assert_eq!((server.http_status, server.code), (Some(500), Some(1)));
    assert!(matches!(server.class, ErrorClass::Retryable { .. }));

    let undeliverable = client.send(&wa_text("1", "a")).await.unwrap_err();
    assert_eq!(undeliverable.class, ErrorClass::Permanent);

    client.send(&wa_text("1", "a")).await.unwrap();
    let statuses: Vec<u16> = graph.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 500, 400, 200]);
}

#[tokio::test]
async fn failures_per_recipient() {
    let graph = FakeGraph::start().await;
    let client = client(&graph);
    graph.fail_recipient("15550000000", 131026);
    assert_eq!(
        client
            .send(&wa_text("15550000000", "x"))
            .await
            .unwrap_err()
            .code,
        Some(131026)
    );
    assert!(client.send(&wa_text("16505551234", "x")).await.is_ok());
    graph.clear_failures();
    assert!(client.send(&wa_text("15550000000", "x")).await.is_ok());
}

#[tokio::test]
async fn wrong_token_is_190() {
    let graph = FakeGraph::start().await;
    graph.expect_token(NUMBER, "the-real-token");
    let error = client(&graph).send(&wa_text("1", "x")).await.unwrap_err();
    assert_eq!(
        (error.http_status, error.code, error.class),
        (Some(401), Some(190), ErrorClass::TokenInvalid)
    );
    let right = TokenBook::default().with_whatsapp_number(NUMBER, "the-real-token");
    let client = GraphClient::new(graph.base_url(), "v23.0", right).unwrap();
    assert!(client.send(&wa_text("1", "x")).await.is_ok());
}

#[tokio::test]
async fn whatsapp_window_on_the_fakes_clock() {
    let graph = FakeGraph::start().await;
    let client = client(&graph);
    // Whole seconds: the manual clock keeps microseconds.
    let start = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    graph.set_now(start);
    graph.customer_wrote(NUMBER, "16505551234", start);
    graph.advance(chrono::Duration::hours(23));
    assert!(
        client
            .send(&wa_text("16505551234", "still open"))
            .await
            .is_ok()
    );

    graph.advance(chrono::Duration::hours(2));
    let closed = client
        .send(&wa_text("16505551234", "too late"))
        .await
        .unwrap_err();
    assert_eq!(
        (closed.code, closed.class),
        (Some(131047), ErrorClass::WindowClosed)
    );
    assert!(
        client.send(&wa_template("16505551234")).await.is_ok(),
        "templates are always allowed"
    );
    assert!(
        client
            .send(&wa_text(
                "5215512345678",
                "unknown customers are not checked"
            ))
            .await
            .is_ok()
    );
    assert_eq!(graph.requests()[1].at, start + chrono::Duration::hours(25));
}

#[tokio::test]
async fn messenger_window_and_human_agent_tag() {
    let graph = FakeGraph::start().await;
    let client = client(&graph);
    let wrote = Utc::now() - chrono::Duration::days(3);
    graph.customer_wrote(PAGE, "PSID-1", wrote);

    let closed = client
        .send(&ms_text("PSID-1", "hello again", None))
        .await
        .unwrap_err();
    assert_eq!(
        (closed.code, closed.subcode, closed.class),
        (Some(10), Some(2018278), ErrorClass::WindowClosed)
    );
    let human = ms_text(
        "PSID-1",
        "An agent here",
        Some(MessagingType::MessageTag("HUMAN_AGENT".into())),
    );
    assert!(client.send(&human).await.is_ok());

    graph.advance(chrono::Duration::days(5));
    let expired = client.send(&human).await.unwrap_err();
    assert_eq!(expired.class, ErrorClass::WindowClosed);
}

#[tokio::test]
async fn delay_and_waiting() {
    let graph = FakeGraph::start().await;
    graph.set_delay(Duration::from_millis(150));
    let client = client(&graph);
    let send = tokio::spawn(async move { client.send(&wa_text("1", "slow")).await });
    let requests = graph.wait_for_requests(1, Duration::from_secs(2)).await;
    assert_eq!(
        requests[0].status, 200,
        "recorded before the delayed answer"
    );
    assert!(!send.is_finished());
    assert!(send.await.unwrap().is_ok());
}

#[tokio::test]
async fn malformed_requests_get_code_100() {
    let graph = FakeGraph::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/v23.0/{NUMBER}/messages", graph.base_url());
    let buttons: Vec<_> = (0..4)
        .map(|i| json!({"type": "reply", "reply": {"id": i.to_string(), "title": "ok"}}))
        .collect();
    let body = json!({"messaging_product": "whatsapp", "to": "1", "type": "interactive",
                      "interactive": {"type": "button", "body": {"text": "pick"}, "action": {"buttons": buttons}}});
    let response = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], 100);
    assert_eq!(error["error"]["type"], "OAuthException");

    let unknown = http
        .get(format!("{}/v23.0/me", graph.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    assert_eq!(graph.requests().len(), 2);
}

#[tokio::test]
async fn unreachable_graph_is_retryable() {
    let graph = FakeGraph::start().await;
    let base = graph.base_url();
    drop(graph);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let tokens = TokenBook::default().with_whatsapp_default(WA_TOKEN);
    let error = GraphClient::new(base, "v23.0", tokens)
        .unwrap()
        .send(&wa_text("1", "x"))
        .await
        .unwrap_err();
    assert_eq!(error.http_status, None);
    assert!(
        matches!(error.class, ErrorClass::Retryable { .. }),
        "{error}"
    );
}

/// Each injected fault reaches the production client as the class the
/// sender acts on: only what never reached Meta is retryable.
#[tokio::test]
async fn injected_faults_are_classified_by_whether_meta_may_have_the_message() {
    let graph = FakeGraph::start().await;
    let tokens = TokenBook::default().with_whatsapp_default(WA_TOKEN);
    let client = GraphClient::with_timeout(
        graph.base_url(),
        "v23.0",
        tokens,
        Duration::from_millis(400),
    )
    .unwrap();
    let message = wa_text("5215512345678", "hola");
    let send = || client.send(&message);

    graph.inject_next(1, super::Fault::RetryAfter(86_400));
    let throttled = send().await.unwrap_err();
    assert_eq!(
        throttled.class,
        ErrorClass::Retryable {
            retry_after: Some(Duration::from_secs(86_400))
        }
    );
    graph.inject_next(1, super::Fault::Code(503));
    assert!(matches!(
        send().await.unwrap_err().class,
        ErrorClass::Retryable { .. }
    ));
    for fault in [super::Fault::NoAnswer, super::Fault::ResetAfterRead] {
        graph.inject_next(1, fault);
        let error = send().await.unwrap_err();
        assert_eq!(error.class, ErrorClass::MaybeSent, "{fault:?}: {error}");
    }
    graph.inject_next(1, super::Fault::SlowBody(200));
    let receipt = send()
        .await
        .expect("a 200 whose body was cut short is a send");
    assert_eq!(receipt.provider_message_id, None);
    // Accepted by the fake: the three whose answer was lost, and none twice.
    assert_eq!(graph.sent_messages().len(), 3);
}

#[tokio::test]
async fn faults_at_a_rate_repeat_with_the_seed() {
    let run = |seed| async move {
        let graph = FakeGraph::start().await;
        graph.inject_at_rate(
            0.3,
            vec![super::Fault::Code(500), super::Fault::Code(130429)],
            seed,
        );
        let client = client(&graph);
        let mut failed = Vec::new();
        for i in 0..40 {
            failed.push(
                client
                    .send(&wa_text("5215512345678", &format!("m{i}")))
                    .await
                    .is_err(),
            );
        }
        failed
    };
    let first = run(7).await;
    assert_eq!(first, run(7).await);
    let failures = first.iter().filter(|f| **f).count();
    assert!((4..=24).contains(&failures), "about 30% of 40: {failures}");
}
