//! The outbox and the sender: at most one successful send per row, retries
//! with backoff, permanent and window errors recorded, token errors halting,
//! per-customer order and pacing, statuses moving forward only.

use std::time::Duration;

use chrono::Utc;
use ventana::channels::model::Channel;
use ventana::channels::outbound::{MessagingType, OutboundBody, OutboundMessage};
use ventana::store::{NewOutbound, OutboxState};
use ventana::testkit::fake_graph::Fault;

use crate::helpers::{Db, Options, PAGE_TOKEN, TestApp, WA_TOKEN};
use crate::on_both_databases;
use crate::payloads::*;

const CUSTOMER: &str = "5215512345678";

/// The app with its pipeline off: these tests put rows in the outbox themselves.
async fn spawn(db: Db) -> TestApp {
    spawn_configured(db, |_| {}).await
}

async fn spawn_configured(
    db: Db,
    configure: impl FnOnce(&mut ventana::config::Config) + Send + 'static,
) -> TestApp {
    let mut options = Options::new(db);
    options.configure = Box::new(move |c| {
        c.pipeline.enabled = false;
        configure(c);
    });
    TestApp::spawn_with(options).await
}

/// Posts an inbound message so the conversation exists with an open window.
async fn conversation(app: &TestApp, wamid: &str) -> i64 {
    assert_eq!(
        app.post_whatsapp(&whatsapp_text(CUSTOMER, wamid, now_secs(), "hola"))
            .await
            .status(),
        200
    );
    app.scalar_i64("SELECT id FROM conversations")
        .await
        .unwrap()
}

fn text(conversation_id: i64, body: &str) -> NewOutbound {
    NewOutbound {
        conversation_id: Some(conversation_id),
        message: OutboundMessage {
            channel: Channel::Whatsapp,
            business_id: PHONE_NUMBER_ID.into(),
            recipient: CUSTOMER.into(),
            body: OutboundBody::Text { text: body.into() },
            reply_to: None,
            messaging_type: None,
        },
        purpose: "reply".into(),
        dedupe_key: None,
        not_before: Utc::now(),
        state: OutboxState::Pending,
    }
}

async fn enqueue(app: &TestApp, new: NewOutbound) -> i64 {
    let id = app
        .state
        .store
        .enqueue(&new, Utc::now())
        .await
        .unwrap()
        .unwrap();
    app.state.signals.outbox.notify_one();
    id
}

async fn state_of(app: &TestApp, id: i64) -> String {
    app.scalar_str(&format!("SELECT state FROM outbox WHERE id = {id}"))
        .await
        .unwrap()
}

on_both_databases! {
    async fn a_reply_reaches_the_graph_api_once_with_the_numbers_token(db: Db) {
        let app = spawn(db).await;
        let conversation = conversation(&app, "wamid.IN1").await;
        let id = enqueue(&app, text(conversation, "Hola, ¿en qué te ayudo?")).await;
        let requests = app.graph.wait_for_requests(1, Duration::from_secs(5)).await;
        let request = &requests[0];
        assert_eq!(request.path, format!("/v23.0/{PHONE_NUMBER_ID}/messages"));
        assert_eq!(request.authorization.as_deref(), Some(format!("Bearer {WA_TOKEN}").as_str()));
        assert_eq!(request.body["to"], CUSTOMER);
        assert_eq!(request.body["text"]["body"], "Hola, ¿en qué te ayudo?");
        app.eventually("row marked sent", Duration::from_secs(5), || async { state_of(&app, id).await == "sent" }).await;
        let wamid = app.scalar_str(&format!("SELECT provider_message_id FROM outbox WHERE id = {id}")).await.unwrap();
        assert!(wamid.starts_with("wamid."), "{wamid}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.graph.requests().len(), 1, "sent exactly once");
    }

    async fn server_errors_are_retried_until_the_send_succeeds(db: Db) {
        let app = spawn(db).await;
        let conversation = conversation(&app, "wamid.IN2").await;
        app.graph.fail_next(2, 130429);
        let id = enqueue(&app, text(conversation, "reintento")).await;
        app.eventually("sent after retries", Duration::from_secs(10), || async { state_of(&app, id).await == "sent" }).await;
        assert_eq!(app.graph.requests().len(), 3);
        assert_eq!(app.scalar_i64(&format!("SELECT attempts FROM outbox WHERE id = {id}")).await, Some(3));
    }

    async fn permanent_errors_are_recorded_and_not_retried(db: Db) {
        let app = spawn(db).await;
        let conversation = conversation(&app, "wamid.IN3").await;
        app.graph.fail_next(1, 131026);
        let id = enqueue(&app, text(conversation, "no llega")).await;
        app.eventually("failed", Duration::from_secs(5), || async { state_of(&app, id).await == "failed" }).await;
        assert_eq!(app.scalar_i64(&format!("SELECT error_code FROM outbox WHERE id = {id}")).await, Some(131026));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.graph.requests().len(), 1);
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("ventana_outbox_failed_total{code=\"131026\"}"), "{metrics}");
    }

    async fn a_window_error_marks_the_window_closed_whatever_the_clock_says(db: Db) {
        let app = spawn(db).await;
        let conversation = conversation(&app, "wamid.IN4").await;
        app.graph.fail_next(1, 131047);
        let id = enqueue(&app, text(conversation, "fuera de ventana")).await;
        app.eventually("window_closed", Duration::from_secs(5), || async { state_of(&app, id).await == "window_closed" }).await;
        let row = app.state.store.conversation(conversation).await.unwrap().unwrap();
        let window = row.window(Utc::now());
        assert!(!window.is_open());
        assert!(window.closed_by_error);
    }

    async fn an_expired_token_halts_sending_and_shows_in_readiness(db: Db) {
        let app = spawn_configured(db, |c| {
            c.auth.tokens = crate::helpers::api_tokens(&[("root", ventana::config::Role::Admin, "tok-root")]);
        })
        .await;
        let conversation = conversation(&app, "wamid.IN5").await;
        app.graph.fail_next(1, 190);
        let first = enqueue(&app, text(conversation, "uno")).await;
        app.eventually("readyz reports the halt", Duration::from_secs(5), || async {
            app.get("/readyz").await.status() == 503
        })
        .await;
        let _second = enqueue(&app, text(conversation, "dos")).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(app.graph.requests().len(), 1, "nothing else is sent while halted");
        assert_eq!(state_of(&app, first).await, "pending", "the message waits for a fixed token");
        let public = app.get("/readyz").await.text().await.unwrap();
        assert!(public.contains("halted") && !public.contains("190"), "only the state is public: {public}");
        let body = app
            .client
            .get(format!("{}/readyz", app.address))
            .bearer_auth("tok-root")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.contains("190"), "an admin sees why: {body}");
        assert!(!body.contains(WA_TOKEN), "the token never shows");
    }

    async fn messages_to_one_customer_leave_in_order_and_are_paced(db: Db) {
        let app = spawn_configured(db, |c| {
            c.sender.pair_burst = 2;
            c.sender.pair_interval_ms = 600;
        })
        .await;
        let conversation = conversation(&app, "wamid.IN6").await;
        app.graph.fail_next(1, 500);
        for i in 0..4 {
            enqueue(&app, text(conversation, &format!("parte {i}"))).await;
        }
        let requests = app.graph.wait_for_requests(5, Duration::from_secs(10)).await;
        let successful: Vec<_> = requests
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| r.body["text"]["body"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(successful, ["parte 0", "parte 1", "parte 2", "parte 3"]);
        // Two at once, then one per interval.
        let ok: Vec<_> = requests.iter().filter(|r| r.status == 200).collect();
        let gap = ok[2].at - ok[0].at;
        assert!(gap >= chrono::Duration::milliseconds(1100), "paced: third send {gap:?} after the first");
    }

    async fn statuses_never_move_a_message_backwards(db: Db) {
        let app = spawn(db).await;
        let conversation = conversation(&app, "wamid.IN7").await;
        let id = enqueue(&app, text(conversation, "estado")).await;
        app.eventually("sent", Duration::from_secs(5), || async { state_of(&app, id).await == "sent" }).await;
        let wamid = app.scalar_str(&format!("SELECT provider_message_id FROM outbox WHERE id = {id}")).await.unwrap();
        let t = now_secs();
        let mut read = wa_status(&wamid, "read", t + 5, CUSTOMER);
        read["pricing"] = serde_json::json!({"billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"});
        app.post_whatsapp(&whatsapp_statuses(vec![read])).await;
        app.post_whatsapp(&whatsapp_statuses(vec![wa_status(&wamid, "delivered", t + 2, CUSTOMER)])).await;
        let status = app.scalar_str(&format!("SELECT delivery_status FROM outbox WHERE id = {id}")).await;
        assert_eq!(status.as_deref(), Some("read"));
        let pricing = app.scalar_str(&format!("SELECT pricing_type FROM outbox WHERE id = {id}")).await;
        assert_eq!(pricing.as_deref(), Some("free_customer_service"));
        assert_eq!(app.count("statuses").await, 2);
    }

    async fn a_failed_status_with_a_window_error_closes_the_window(db: Db) {
        let app = spawn(db).await;
        let conversation = conversation(&app, "wamid.IN8").await;
        let id = enqueue(&app, text(conversation, "tarde")).await;
        app.eventually("sent", Duration::from_secs(5), || async { state_of(&app, id).await == "sent" }).await;
        let wamid = app.scalar_str(&format!("SELECT provider_message_id FROM outbox WHERE id = {id}")).await.unwrap();
        let mut failed = wa_status(&wamid, "failed", now_secs(), CUSTOMER);
        failed["errors"] = serde_json::json!([{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message", "error_data": {"details": "Message failed to send because more than 24 hours have passed"}}]);
        app.post_whatsapp(&whatsapp_statuses(vec![failed])).await;
        assert_eq!(app.scalar_str(&format!("SELECT delivery_status FROM outbox WHERE id = {id}")).await.as_deref(), Some("failed"));
        assert_eq!(app.scalar_i64(&format!("SELECT error_code FROM outbox WHERE id = {id}")).await, Some(131047));
        let row = app.state.store.conversation(conversation).await.unwrap().unwrap();
        assert!(!row.window(Utc::now()).is_open());
    }

    async fn messenger_sends_use_the_page_token_and_the_message_tag(db: Db) {
        let app = spawn(db).await;
        let t = Utc::now().timestamp_millis();
        app.post_messenger(&messenger_text("PSID-1", "m_in1", t, "hola")).await;
        let conversation = app.scalar_i64("SELECT id FROM conversations").await.unwrap();
        let mut new = text(conversation, "Te respondo en persona");
        new.message.channel = Channel::Messenger;
        new.message.business_id = PAGE_ID.into();
        new.message.recipient = "PSID-1".into();
        new.message.messaging_type = Some(MessagingType::MessageTag("HUMAN_AGENT".into()));
        enqueue(&app, new).await;
        let requests = app.graph.wait_for_requests(1, Duration::from_secs(5)).await;
        let request = &requests[0];
        assert_eq!(request.authorization.as_deref(), Some(format!("Bearer {PAGE_TOKEN}").as_str()));
        assert_eq!(request.body["recipient"]["id"], "PSID-1");
        assert_eq!(request.body["messaging_type"], "MESSAGE_TAG");
        assert_eq!(request.body["tag"], "HUMAN_AGENT");
        assert_eq!(request.body["message"]["text"], "Te respondo en persona");
    }
}

on_both_databases! {
    async fn shutdown_waits_for_a_send_in_flight(db: Db) {
        let mut app = spawn(db).await;
        let conversation = conversation(&app, "wamid.IN9").await;
        app.graph.set_delay(Duration::from_millis(600));
        let id = enqueue(&app, text(conversation, "en vuelo")).await;
        // Wait until the request is in flight, then ask the app to stop.
        app.eventually("claimed", Duration::from_secs(5), || async { state_of(&app, id).await == "sending" }).await;
        let database_url = app.database_url.clone();
        let url = app.address.clone();
        app.stop().await;
        assert!(reqwest::get(format!("{url}/healthz")).await.is_err(), "no longer accepting");
        // The send finished and was recorded before the app exited.
        let store = ventana::store::Store::connect(&database_url).await.unwrap();
        let state: String = sqlx::query_scalar(&format!("SELECT state FROM outbox WHERE id = {id}"))
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(state, "sent");
    }

    async fn a_send_that_may_have_reached_meta_is_never_sent_again(db: Db) {
        let app = spawn_configured(db, |c| {
            c.sender.request_timeout_ms = 300;
            c.sender.lease_ms = 5_000;
        })
        .await;
        let conversation = conversation(&app, "wamid.IN10").await;
        // No answer, a reset after the request was read: Meta may have both.
        app.graph.inject_next(1, Fault::NoAnswer);
        let hung = enqueue(&app, text(conversation, "sin respuesta")).await;
        app.eventually("no answer: unknown", Duration::from_secs(5), || async { state_of(&app, hung).await == "unknown" }).await;
        app.graph.inject_next(1, Fault::ResetAfterRead);
        let reset = enqueue(&app, text(conversation, "conexion cortada")).await;
        app.eventually("reset: unknown", Duration::from_secs(5), || async { state_of(&app, reset).await == "unknown" }).await;
        // A body cut short after a 200 is a send Meta accepted.
        app.graph.inject_next(1, Fault::SlowBody(100));
        let slow = enqueue(&app, text(conversation, "cuerpo lento")).await;
        app.eventually("slow body: sent", Duration::from_secs(5), || async { state_of(&app, slow).await == "sent" }).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let accepted = app.graph.sent_messages();
        assert_eq!(accepted.len(), 3, "each message reached Meta exactly once: {accepted:?}");
        assert_eq!(app.graph.requests().len(), 3, "nothing was sent twice");
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("ventana_outbox_unknown_total"), "{metrics}");
    }

    async fn one_hung_request_does_not_hold_up_another_customers_reply(db: Db) {
        let app = spawn_configured(db, |c| {
            c.sender.request_timeout_ms = 4_000;
            c.sender.lease_ms = 10_000;
            c.sender.concurrency = 4;
        })
        .await;
        let conversation = conversation(&app, "wamid.IN11").await;
        app.graph.inject_next(1, Fault::NoAnswer);
        let hung = enqueue(&app, text(conversation, "colgado")).await;
        app.eventually("the first send is in flight", Duration::from_secs(5), || async { state_of(&app, hung).await == "sending" }).await;
        let mut other = text(conversation, "para otra persona");
        other.conversation_id = None;
        other.message.recipient = "5215599999999".into();
        let other = enqueue(&app, other).await;
        app.eventually("the other reply is sent", Duration::from_secs(3), || async { state_of(&app, other).await == "sent" }).await;
        assert_eq!(state_of(&app, hung).await, "sending", "sent while the hung request was still in flight");
    }

    async fn retry_after_is_capped_by_the_longest_backoff(db: Db) {
        let app = spawn_configured(db, |c| c.sender.backoff_max_ms = 300).await;
        let conversation = conversation(&app, "wamid.IN12").await;
        app.graph.inject_next(1, Fault::RetryAfter(86_400));
        let id = enqueue(&app, text(conversation, "despues del 429")).await;
        app.eventually("sent after a capped wait", Duration::from_secs(5), || async { state_of(&app, id).await == "sent" }).await;
        let requests = app.graph.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].status, 429);
    }
}
