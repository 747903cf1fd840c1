//! The pipeline's hold on a conversation while it decides a turn: a slow
//! turn keeps its lease, a failed one pauses before it is tried again, and
//! a held conversation does not wake the worker before its hold ends.
//! These drive [`Pipeline`] directly with a scripted responder.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use ventana::channels::graph::GraphClient;
use ventana::config::Config;
use ventana::pipeline::{Pipeline, RETRY_PAUSE, Responder, TurnContext, TurnOutcome, TurnPlan};

use crate::helpers::{Db, Options, TestApp};
use crate::on_both_databases;
use crate::payloads::*;

/// Fails its first `failures` turns, takes `delay` over each, then stays silent.
struct Scripted {
    delay: Duration,
    failures: usize,
    calls: AtomicUsize,
}

#[async_trait]
impl Responder for Scripted {
    async fn respond(&self, _turn: &TurnContext<'_>) -> anyhow::Result<TurnPlan> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        if call < self.failures {
            anyhow::bail!("scripted failure {call}");
        }
        Ok(TurnPlan::silent("scripted"))
    }
}

/// The app with its own pipeline off, one waiting message, and a pipeline
/// over `responder` on the app's store and clock.
async fn setup(
    db: Db,
    start_at: Option<chrono::DateTime<Utc>>,
    lease_ms: u64,
    responder: Arc<Scripted>,
) -> (TestApp, Pipeline, i64) {
    let mut options = Options::new(db);
    options.start_at = start_at;
    options.configure = Box::new(move |c: &mut Config| {
        c.pipeline.enabled = false;
        c.pipeline.lease_ms = lease_ms;
    });
    let app = TestApp::spawn_with(options).await;
    let sent = app.clock.now().timestamp();
    let response = app
        .post_whatsapp(&whatsapp_text(
            "5215511110000",
            "wamid.turns-1",
            sent,
            "hola",
        ))
        .await;
    assert_eq!(response.status(), 200);
    let conversation = app
        .scalar_i64("SELECT id FROM conversations")
        .await
        .unwrap();
    let state = &app.state;
    let pipeline = Pipeline::new(
        state.store.clone(),
        responder,
        &state.config,
        app.clock.clone(),
        state.signals.clone(),
        state.policies.clone(),
        Arc::new(GraphClient::from_config(&state.config.meta, &state.config.sender).unwrap()),
    );
    (app, pipeline, conversation)
}

on_both_databases! {
    async fn a_turn_slower_than_the_lease_keeps_it(db: Db) {
        let responder = Arc::new(Scripted {
            delay: Duration::from_millis(1_500),
            failures: 0,
            calls: AtomicUsize::new(0),
        });
        let (app, pipeline, conversation) = setup(db, None, 300, responder.clone()).await;
        let worker = {
            let pipeline = pipeline.clone();
            tokio::spawn(async move { pipeline.process(conversation).await })
        };
        // Three leases into the turn, another worker still finds it held.
        tokio::time::sleep(Duration::from_millis(900)).await;
        let store = &app.state.store;
        let lease = chrono::Duration::milliseconds(300);
        assert!(
            !store.claim_conversation(conversation, app.clock.now(), lease).await.unwrap(),
            "a live turn's lease lapsed"
        );
        assert_eq!(worker.await.unwrap().unwrap(), TurnOutcome::Silent);
        assert_eq!(responder.calls.load(Ordering::SeqCst), 1);
        assert_eq!(app.count("turns").await, 1);
        // The commit released it: nothing renews it afterwards.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT processing_until FROM conversations WHERE id = $1",
        )
        .bind(conversation)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(held, None);
    }

    async fn a_failed_turn_is_tried_again_after_a_pause(db: Db) {
        let responder = Arc::new(Scripted {
            delay: Duration::ZERO,
            failures: 1,
            calls: AtomicUsize::new(0),
        });
        let start = Utc::now();
        let (app, pipeline, conversation) =
            setup(db, Some(start), 60_000, responder.clone()).await;
        let quiet = chrono::Duration::milliseconds(app.state.config.pipeline.quiet_period_ms as i64);
        let pause = chrono::Duration::from_std(RETRY_PAUSE).unwrap();
        app.clock.advance(quiet);
        let store = &app.state.store;

        assert!(pipeline.process(conversation).await.is_err());
        // Held for the pause: neither a claim nor the idle wake-up sees it
        // as ready before then.
        assert_eq!(pipeline.process(conversation).await.unwrap(), TurnOutcome::Skipped);
        let ready = store
            .next_conversation_ready(quiet)
            .await
            .unwrap()
            .expect("a conversation waits");
        assert!(ready >= app.clock.now() + pause - chrono::Duration::seconds(1), "{ready}");
        app.clock.advance(pause - chrono::Duration::milliseconds(100));
        assert_eq!(pipeline.process(conversation).await.unwrap(), TurnOutcome::Skipped);
        assert_eq!(responder.calls.load(Ordering::SeqCst), 1);

        app.clock.advance(chrono::Duration::milliseconds(200));
        assert_eq!(pipeline.process(conversation).await.unwrap(), TurnOutcome::Silent);
        assert_eq!(responder.calls.load(Ordering::SeqCst), 2);
        assert_eq!(app.count("turns").await, 1);
    }
}

#[test]
fn a_turn_may_take_as_long_as_its_remote_calls_may() {
    let mut config = Config::load_from(None, Vec::<(String, String)>::new()).unwrap();
    let local = config.turn_time_limit();
    config.llm.base_url = Some("http://127.0.0.1:1/v1".into());
    config.llm.model = Some("m".into());
    config.llm.timeout_ms = 60_000;
    config.embeddings.base_url = Some("http://127.0.0.1:1/v1".into());
    config.embeddings.query_timeout_ms = Some(7_000);
    // Triage and answer completions, one query embedding, the local work.
    assert_eq!(
        config.turn_time_limit(),
        local + Duration::from_secs(2 * 60 + 7)
    );
}
