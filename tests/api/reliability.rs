//! Defects found by fuzzing, fault injection and load, each held by a test
//! that fails without its fix: text PostgreSQL refuses, invalid escapes,
//! a huge delivery, "database is locked", and connections that never
//! finish their request. (Sends that may have reached Meta, a hung request,
//! `Retry-After`, idempotent agent replies and article ids are tested with
//! their neighbours in `outbox.rs`, `agent.rs` and `kb.rs`.)

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Db, Options, TestApp};
use crate::on_both_databases;
use crate::payloads::*;

/// The app with its pipeline off: intake only.
async fn intake_only(db: Db) -> TestApp {
    let mut options = Options::new(db);
    options.configure = Box::new(|c| c.pipeline.enabled = false);
    TestApp::spawn_with(options).await
}

on_both_databases! {
    async fn nul_characters_are_dropped_and_the_rest_of_the_delivery_is_stored(db: Db) {
        let app = intake_only(db).await;
        let now = now_secs();
        let body = whatsapp_messages("5215500000001", "A\u{0}na", vec![
            wa_text("5215500000001", "wamid.NUL1", now, "ho\u{0}la"),
            wa_text("5215500000001", "wamid.NUL2", now, "buenas tardes"),
        ]);
        for _ in 0..2 {
            let response = app.post_whatsapp(&body).await;
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        }
        assert_eq!(app.count("messages").await, 2);
        assert_eq!(app.scalar_str("SELECT body FROM messages WHERE provider_message_id = 'wamid.NUL1'").await.as_deref(), Some("hola"));
        assert_eq!(app.scalar_str("SELECT customer_name FROM conversations").await.as_deref(), Some("Ana"));
        // The raw body is kept as Meta sent it: the escape, not the character.
        let raw = app.scalar_str("SELECT body FROM webhook_deliveries").await.unwrap();
        assert!(raw.contains("\\u0000"), "{raw}");
    }

    async fn a_signed_delivery_with_a_lone_surrogate_is_stored_raw_and_acknowledged(db: Db) {
        let app = intake_only(db).await;
        let body = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{WABA_ID}","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"1","phone_number_id":"{PHONE_NUMBER_ID}"}},"messages":[{{"from":"52155","id":"wamid.SUR","timestamp":"1749416383","type":"text","text":{{"body":"roto \ud800 aqui"}}}}]}}}}]}}]}}"#
        );
        for _ in 0..2 {
            let response = app.post_signed("/webhooks/whatsapp", body.as_bytes()).await;
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        }
        assert_eq!(app.scalar_str("SELECT body FROM webhook_deliveries").await.as_deref(), Some(body.as_str()));
        assert_eq!(app.count("unknown_events").await, 1, "a redelivery stores nothing new");
        assert_eq!(app.scalar_str("SELECT kind FROM unknown_events").await.as_deref(), Some("malformed:invalid-escape"));
    }

    async fn a_delivery_of_ten_thousand_messages_is_acknowledged_within_metas_timeout(db: Db) {
        let app = intake_only(db).await;
        let now = now_secs();
        let messages: Vec<_> = (0..10_000)
            .map(|i| wa_text("5215500000002", &format!("wamid.BIG{i}"), now, "mensaje de una entrega enorme"))
            .collect();
        let body = whatsapp_messages("5215500000002", "Mucho", messages).to_string();
        // Meta gives up after 20 s; a debug build on a busy 2-core machine
        // must still be far inside it (the release figure is in BENCHMARKS.md).
        let started = std::time::Instant::now();
        let response = app
            .client
            .post(format!("{}/webhooks/whatsapp", app.address))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", ventana::channels::signature::sign(crate::helpers::APP_SECRET.as_bytes(), body.as_bytes()))
            .body(body)
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .expect("acknowledged before Meta's timeout");
        assert_eq!(response.status(), 200);
        println!("10,000-message delivery on {db:?}: acknowledged in {:?}", started.elapsed());
        assert_eq!(app.count("messages").await, 10_000);
    }

    async fn a_connection_that_never_finishes_its_headers_or_stays_idle_is_closed(db: Db) {
        let mut options = Options::new(db);
        options.configure = Box::new(|c| {
            c.pipeline.enabled = false;
            c.http.header_read_timeout_ms = 300;
            c.http.idle_timeout_ms = 600;
        });
        let app = TestApp::spawn_with(options).await;
        let address = app.address.trim_start_matches("http://").to_owned();
        let closed_within = |mut stream: tokio::net::TcpStream| async move {
            let mut buffer = vec![0_u8; 4096];
            let mut seen = Vec::new();
            loop {
                match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
                    Err(_) => return (false, seen),
                    Ok(Ok(0)) | Ok(Err(_)) => return (true, seen),
                    Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
                }
            }
        };
        // Slow headers: half a request head, then nothing.
        let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        assert!(closed_within(slow).await.0, "a connection stuck in its headers is closed");
        // Idle keep-alive: one request answered, then silence.
        let mut idle = tokio::net::TcpStream::connect(&address).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let (closed, seen) = closed_within(idle).await;
        assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"), "answered first");
        assert!(closed, "an idle connection is closed");
        // Nothing else is affected.
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
}

/// SQLite: every write queues behind the writer lock, and transactions that
/// write start immediate, so intake never meets "database is locked" while
/// the sender reschedules rows and another process writes to the same file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_intake_never_meets_a_locked_database() {
    let app = intake_only(Db::Sqlite).await;
    let store = app.state.store.clone();
    // A second process's connections (`ventana kb`, an operator's script).
    let other = ventana::store::Store::connect(&app.database_url)
        .await
        .unwrap();
    let outbox_id = {
        let now = chrono::Utc::now();
        let new = ventana::store::NewOutbound {
            conversation_id: None,
            message: ventana::channels::outbound::OutboundMessage {
                channel: ventana::channels::model::Channel::Whatsapp,
                business_id: PHONE_NUMBER_ID.into(),
                recipient: "5215500000003".into(),
                body: ventana::channels::outbound::OutboundBody::Text { text: "x".into() },
                reply_to: None,
                messaging_type: None,
            },
            purpose: "test".into(),
            dedupe_key: None,
            not_before: now + chrono::Duration::days(1),
            state: ventana::store::OutboxState::Pending,
        };
        store.enqueue(&new, now).await.unwrap().unwrap()
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let mut writers = tokio::task::JoinSet::new();
    for (i, writer) in [store.clone(), other.clone()].into_iter().enumerate() {
        let stop = stop.clone();
        writers.spawn(async move {
            let mut n = 0_u64;
            while !stop.is_cancelled() {
                let at = chrono::Utc::now() + chrono::Duration::days(1);
                writer
                    .release(outbox_id, at)
                    .await
                    .unwrap_or_else(|e| panic!("writer {i}: {e:?}"));
                n += 1;
            }
            n
        });
    }
    let now = now_secs();
    let mut failures = Vec::new();
    for i in 0..300 {
        let body = whatsapp_text(
            &format!("52155{i:08}"),
            &format!("wamid.LOCK{i}"),
            now,
            "hola",
        );
        let response = app.post_whatsapp(&body).await;
        if response.status() != 200 {
            failures.push((i, response.status(), response.text().await.unwrap()));
        }
    }
    stop.cancel();
    while let Some(done) = writers.join_next().await {
        assert!(done.unwrap() > 0);
    }
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(app.count("messages").await, 300);
}
