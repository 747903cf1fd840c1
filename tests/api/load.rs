//! Mixed load with the Graph API failing: WhatsApp messages, WhatsApp
//! statuses and Messenger messages arrive at a fixed rate while 30 % of the
//! sends fail (5xx, throttling, Meta's transient codes, `Retry-After`), the
//! bot answering all the while. No webhook may get a 500, and every
//! acknowledged message is stored.
//!
//! `VENTANA_LOAD_RATE` (requests per second, 100 by default) and
//! `VENTANA_LOAD_SECONDS` (5 by default) size the run; the documented long
//! run is 500 req/s for 60 s on a release build.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ventana::testkit::fake_graph::Fault;

use crate::helpers::{Db, TestApp};
use crate::on_both_databases;
use crate::payloads::*;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `i`-th request of the mix: path and body.
fn request(i: usize) -> (&'static str, serde_json::Value) {
    let customer = format!("52166{:08}", i % 5_000);
    match i % 10 {
        0..=5 => (
            "/webhooks/whatsapp",
            whatsapp_text(
                &customer,
                &format!("wamid.LOAD{i}"),
                now_secs(),
                "cuanto tarda el envio?",
            ),
        ),
        6 | 7 => (
            "/webhooks/whatsapp",
            whatsapp_statuses(vec![wa_status(
                &format!("wamid.OUT{}", i / 2),
                "delivered",
                now_secs(),
                &customer,
            )]),
        ),
        _ => (
            "/webhooks/messenger",
            messenger_text(
                &format!("psid-load-{}", i % 500),
                &format!("m_LOAD{i}"),
                now_secs() * 1000,
                "hola, horario?",
            ),
        ),
    }
}

async fn mixed_load(db: Db) {
    let rate = setting("VENTANA_LOAD_RATE", 100).max(1);
    let seconds = setting("VENTANA_LOAD_SECONDS", 5).max(1);
    let app = Arc::new(TestApp::spawn(db).await);
    app.graph.inject_at_rate(
        0.3,
        vec![
            Fault::Code(500),
            Fault::Code(503),
            Fault::Code(130429),
            Fault::Code(131000),
            Fault::RetryAfter(1),
        ],
        42,
    );
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let server_errors = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let app = app.clone();
        let server_errors = server_errors.clone();
        tasks.spawn(async move {
            let (path, body) = request(i);
            let sent = Instant::now();
            let response = app.post_signed(path, body.to_string().as_bytes()).await;
            let status = response.status().as_u16();
            if status >= 500 {
                server_errors.fetch_add(1, Ordering::Relaxed);
            }
            (i, status, sent.elapsed())
        });
    }
    let mut latencies = Vec::new();
    let mut acked_messages = 0_i64;
    while let Some(done) = tasks.join_next().await {
        let (i, status, latency) = done.unwrap();
        assert_eq!(status, 200, "request {i}");
        latencies.push(latency);
        if !matches!(i % 10, 6 | 7) {
            acked_messages += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "load: {total} requests in {elapsed:.1} s ({:.0}/s), ack p50 {:?} p99 {:?}, graph requests {}",
        total as f64 / elapsed,
        p(0.5),
        p(0.99),
        app.graph.requests().len()
    );
    assert_eq!(server_errors.load(Ordering::Relaxed), 0);
    assert_eq!(
        app.count("messages").await,
        acked_messages,
        "every acknowledged message is stored"
    );
    if let Ok(mut app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
}

on_both_databases! {
    async fn mixed_webhooks_with_a_failing_graph_api_never_get_a_500(db: Db) {
        mixed_load(db).await;
    }
}
