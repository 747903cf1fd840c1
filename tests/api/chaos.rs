//! Chaos: the real binary is killed with SIGKILL at random moments while
//! signed webhooks keep arriving and the fake Graph API fails some sends,
//! then restarted on the same database. At the end the invariants hold:
//! every acknowledged message is stored, no reply reached Meta twice, and
//! every acknowledged customer got a reply row that was sent (or marked
//! `unknown`: a send cut by the kill, never repeated).
//!
//! `VENTANA_CHAOS_KILLS` sets the number of kills (3 by default, the
//! bounded run of the test suite; the documented long run uses 20) and
//! `VENTANA_CHAOS_SEED` the random moments (printed, so a failure repeats).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ventana::channels::signature::sign;
use ventana::store::Store;
use ventana::testkit::fake_graph::{FakeGraph, Fault};

use crate::crash::Service;
use crate::helpers::{APP_SECRET, Db, fresh_database};
use crate::on_both_databases;
use crate::payloads::*;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Posts one-message deliveries from new customers until `stop`; records
/// the customers whose delivery was acknowledged.
async fn load(
    url: String,
    first: usize,
    acked: Arc<Mutex<Vec<String>>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut n = first;
    while !stop.is_cancelled() {
        let customer = format!("52155{n:08}");
        let body = whatsapp_text(
            &customer,
            &format!("wamid.CHAOS{n}"),
            now_secs(),
            "hola buenas",
        )
        .to_string();
        let response = client
            .post(format!("{url}/webhooks/whatsapp"))
            .header(
                "x-hub-signature-256",
                sign(APP_SECRET.as_bytes(), body.as_bytes()),
            )
            .body(body)
            .send()
            .await;
        if matches!(&response, Ok(r) if r.status() == 200) {
            acked.lock().unwrap().push(customer);
        } else if response.is_err() {
            // The process is gone: wait for the restart.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        n += 1000;
    }
}

async fn chaos(db: Db) {
    let kills = setting("VENTANA_CHAOS_KILLS", 3) as usize;
    let seed = setting("VENTANA_CHAOS_SEED", rand::rng().random());
    println!("chaos: {kills} kills, VENTANA_CHAOS_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start().await;
    graph.inject_at_rate(0.1, vec![Fault::Code(500), Fault::Code(130429)], seed);
    let database_url = fresh_database(db, dir.path()).await;
    let env = [
        ("VENTANA_DATABASE_URL", database_url.as_str()),
        ("VENTANA_SENDER__MARK_READ", "false"),
        ("VENTANA_SENDER__REQUEST_TIMEOUT_MS", "400"),
        ("VENTANA_SENDER__BACKOFF_BASE_MS", "20"),
        ("VENTANA_SENDER__BACKOFF_MAX_MS", "200"),
    ];
    let acked = Arc::new(Mutex::new(Vec::new()));
    for round in 0..=kills {
        let service = Service::start(dir.path(), &graph, &env);
        let stop = tokio_util::sync::CancellationToken::new();
        let mut loaders = tokio::task::JoinSet::new();
        for worker in 0..8 {
            loaders.spawn(load(
                service.url.clone(),
                round * 100_000 + worker,
                acked.clone(),
                stop.clone(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1500))).await;
        if round < kills {
            service.kill();
            stop.cancel();
            while loaders.join_next().await.is_some() {}
            continue;
        }
        stop.cancel();
        while loaders.join_next().await.is_some() {}
        let store = Store::connect(&database_url).await.unwrap();
        let customers: Vec<String> = acked.lock().unwrap().clone();
        assert!(!customers.is_empty(), "the load reached the service");
        // Every acknowledged customer's reply reaches a final state (a
        // customer stored but not acknowledged before a kill counts too,
        // but is not waited for).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            let settled = strings(
                &store,
                "SELECT recipient FROM outbox WHERE state IN ('sent', 'unknown', 'failed')",
            )
            .await;
            let waiting = customers.iter().filter(|c| !settled.contains(*c)).count();
            if waiting == 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "replies still unsettled: {waiting} of {}",
                customers.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        check(&store, &graph, &customers).await;
        drop(service);
    }
}

/// The distinct values of a one-column query.
async fn strings(store: &Store, sql: &str) -> HashSet<String> {
    sqlx::query_scalar::<_, String>(sql)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn check(store: &Store, graph: &FakeGraph, customers: &[String]) {
    let stored = strings(
        store,
        "SELECT c.customer_id FROM messages m JOIN conversations c ON c.id = m.conversation_id",
    )
    .await;
    let lost: Vec<_> = customers.iter().filter(|c| !stored.contains(*c)).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for request in graph.sent_messages() {
        *accepted
            .entry(request.body["to"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let twice: Vec<_> = accepted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "replies that reached Meta twice: {twice:?}"
    );
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT recipient, state FROM outbox")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let states: HashMap<String, String> = rows.into_iter().collect();
    let missing: Vec<_> = customers
        .iter()
        .filter(|c| !matches!(states.get(*c).map(String::as_str), Some("sent" | "unknown")))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged without a reply sent: {missing:?}"
    );
    for (customer, state) in &states {
        if state == "sent" {
            assert_eq!(
                accepted.get(customer),
                Some(&1),
                "{customer}: a row marked sent reached Meta once"
            );
        }
    }
    println!(
        "chaos: {} acknowledged, {} replies sent, {} unknown (cut by a kill)",
        customers.len(),
        states.values().filter(|s| *s == "sent").count(),
        states.values().filter(|s| *s == "unknown").count()
    );
}

on_both_databases! {
    async fn kill_nine_under_load_loses_nothing_and_sends_nothing_twice(db: Db) {
        chaos(db).await;
    }
}
