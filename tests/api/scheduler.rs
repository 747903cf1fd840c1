//! Timers and notifications: keep-alives once per window and never after an
//! agent replied, SLA warnings and breaches delivered as signed webhooks
//! (with a retry), follow-ups free-form inside the window and as a template
//! after it, timers that survive a restart, and several schedulers on one
//! database that never fire a timer twice. Time is a manual clock; the tests
//! drain the scheduler and notifier with `run_once`.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use ventana::case::{
    Fired, Scheduler, reschedule_for_window, schedule_escalation_timers, schedule_followup,
};
use ventana::channels::model::Channel;
use ventana::channels::outbound::OutboundBody;
use ventana::channels::signature::verify_signature;
use ventana::config::Config;
use ventana::escalation::templates::TemplateConfig;
use ventana::notify::Notifier;
use ventana::startup::Application;
use ventana::store::escalations::escalation_in;
use ventana::store::escalations::{add_event, insert_escalation, set_state};
use ventana::store::{
    ConversationRow, EscalationRow, EscalationState, NewEscalation, NewOutbound, OutboxState,
    Owner, Store, conversation_in, set_owner,
};
use ventana::testkit::fake_graph::FakeGraph;

use crate::helpers::{APP_SECRET, Db, Options, TestApp, test_config};
use crate::on_both_databases;
use crate::payloads::*;

const WAIT: StdDuration = StdDuration::from_secs(15);
const NOTIFY_SECRET: &str = "notify-secret";

/// Monday 2 March 2026, 15:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap()
}

fn options(db: Db, configure: impl FnOnce(&mut Config) + Send + 'static) -> Options {
    Options {
        start_at: Some(t0()),
        configure: Box::new(move |config: &mut Config| {
            // Cases are opened by the tests, not by the pipeline.
            config.pipeline.enabled = false;
            configure(config);
        }),
        ..Options::new(db)
    }
}

fn scheduler_of(app: &TestApp) -> Scheduler {
    Scheduler::from_config(
        &app.state.config,
        app.state.store.clone(),
        app.clock.clone(),
        app.state.signals.clone(),
    )
    .expect("scheduler builds")
}

fn notifier_of(app: &TestApp) -> Notifier {
    Notifier::new(
        app.state.store.clone(),
        app.state.config.notifications.clone(),
        app.clock.clone(),
    )
    .expect("notifier builds")
}

/// The customer writes at the clock's "now"; returns the conversation.
async fn customer_writes(app: &TestApp, customer: &str, wamid: &str) -> ConversationRow {
    let at = app.clock.now().timestamp();
    assert_eq!(
        app.post_whatsapp(&whatsapp_text(
            customer,
            wamid,
            at,
            "necesito hablar con alguien"
        ))
        .await
        .status(),
        200
    );
    app.state
        .store
        .find_conversation(Channel::Whatsapp, PHONE_NUMBER_ID, customer)
        .await
        .unwrap()
        .expect("the conversation was stored")
}

/// Opens a waiting case the way the pipeline does: escalation row, human
/// owner and its timers, in one transaction. Deadline: `sla` from now.
async fn open_case(
    app: &TestApp,
    customer: &str,
    lang: &str,
    sla: Duration,
) -> (EscalationRow, ConversationRow) {
    let conversation = customer_writes(app, customer, &format!("wamid.{customer}.1")).await;
    let store = &app.state.store;
    sqlx::query("UPDATE conversations SET lang = $1 WHERE id = $2")
        .bind(lang)
        .bind(conversation.id)
        .execute(store.pool())
        .await
        .unwrap();
    let now = app.clock.now();
    let policies = app.state.config.escalation.policies().unwrap();
    let mut tx = store.begin_write().await.unwrap();
    let new = NewEscalation {
        conversation_id: conversation.id,
        turn_id: None,
        queue: "support".into(),
        priority: "normal".into(),
        reason: "human".into(),
        triage_class: Some("human".into()),
        triage_confidence: Some(0.9),
        triage_reason: None,
        sla_due_at: now + sla,
        deadline_at: now + sla,
        deadline_bound: "sla".into(),
        window_closes_at: Some(now + Duration::hours(24)),
    };
    let id = insert_escalation(&mut tx.tx, &new, now).await.unwrap();
    set_owner(&mut tx.tx, conversation.id, Owner::Human)
        .await
        .unwrap();
    let escalation = escalation_in(&mut tx.tx, id).await.unwrap().unwrap();
    let conversation = conversation_in(&mut tx.tx, conversation.id)
        .await
        .unwrap()
        .unwrap();
    schedule_escalation_timers(&mut tx.tx, &escalation, &policies, &conversation, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (escalation, conversation)
}

/// Runs the scheduler until no timer is due (the app's own worker may take some).
async fn drain(scheduler: &Scheduler) {
    while scheduler.run_once().await.unwrap() > 0 {}
}

async fn outbox_purposes(store: &Store, conversation_id: i64) -> Vec<(String, OutboundBody)> {
    store
        .outbox_for_conversation(conversation_id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.purpose, r.message.body))
        .collect()
}

async fn event_kinds(store: &Store, escalation_id: i64) -> Vec<String> {
    store
        .escalation_events(escalation_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// Waits until `what` counted by `sql` reaches `n`, draining the scheduler meanwhile.
async fn wait_count(app: &TestApp, scheduler: &Scheduler, sql: &str, n: i64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        drain(scheduler).await;
        let count = app.scalar_i64(sql).await.unwrap_or(0);
        if count == n {
            return;
        }
        assert!(
            count < n && tokio::time::Instant::now() < deadline,
            "{sql}: expected {n}, got {count}"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

fn keepalive_text(lang: &str) -> &'static str {
    match lang {
        "pt" => include_str!("../../prompts/pt/keepalive.txt"),
        "en" => include_str!("../../prompts/en/keepalive.txt"),
        _ => include_str!("../../prompts/es/keepalive.txt"),
    }
    .trim()
}

on_both_databases! {
    async fn a_keepalive_goes_out_once_per_window_in_the_customers_language(db: Db) {
        let app = TestApp::spawn_with(options(db, |_| {})).await;
        let scheduler = scheduler_of(&app);
        let (escalation, conversation) = open_case(&app, "5511900000001", "pt", Duration::hours(30)).await;

        // 90 minutes before the window closes (24 h after the customer wrote).
        app.clock.advance(Duration::hours(24) - Duration::minutes(90));
        drain(&scheduler).await;
        let count_keepalives = format!("SELECT COUNT(*) FROM outbox WHERE purpose = 'keepalive' AND conversation_id = {}", conversation.id);
        wait_count(&app, &scheduler, &count_keepalives, 1).await;
        let sent = app.graph.wait_for_requests(1, WAIT).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].body["text"]["body"], keepalive_text("pt"));
        assert_eq!(sent[0].body["to"], "5511900000001");
        assert_eq!(
            app.scalar_str("SELECT event FROM notifications").await.as_deref(),
            Some("window_closing")
        );

        // Scheduling again for the same window adds nothing; a stray second
        // timer for the window finds the keep-alive already sent.
        let policies = scheduler.policies().clone();
        let now = app.clock.now();
        let mut tx = app.state.store.begin_write().await.unwrap();
        reschedule_for_window(&mut tx.tx, &escalation, &policies, &conversation, now - Duration::hours(1)).await.unwrap();
        sqlx::query(
            "INSERT INTO timers (kind, escalation_id, conversation_id, due_at, payload, created_at) \
             SELECT kind, escalation_id, conversation_id, due_at, payload, created_at FROM timers WHERE kind = 'keepalive'",
        )
        .execute(&mut *tx.tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        drain(&scheduler).await;
        wait_count(&app, &scheduler, "SELECT COUNT(*) FROM timers WHERE kind = 'keepalive' AND state = 'pending'", 0).await;
        assert_eq!(app.scalar_i64(&count_keepalives).await, Some(1));

        // The customer writes again: a new window, a new keep-alive.
        app.clock.advance(Duration::minutes(30));
        let conversation = customer_writes(&app, "5511900000001", "wamid.again").await;
        let escalation = app.state.store.escalation(escalation.id).await.unwrap().unwrap();
        let mut tx = app.state.store.begin_write().await.unwrap();
        reschedule_for_window(&mut tx.tx, &escalation, &policies, &conversation, app.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        app.clock.advance(Duration::hours(24) - Duration::minutes(90));
        wait_count(&app, &scheduler, &count_keepalives, 2).await;
        let kinds = event_kinds(&app.state.store, escalation.id).await;
        assert_eq!(kinds.iter().filter(|k| *k == "keepalive_sent").count(), 2, "{kinds:?}");
    }

    async fn no_keepalive_after_an_agent_replied(db: Db) {
        let app = TestApp::spawn_with(options(db, |_| {})).await;
        let scheduler = scheduler_of(&app);
        let (escalation, conversation) = open_case(&app, "5215510000002", "es", Duration::hours(30)).await;
        app.clock.advance(Duration::hours(2));
        let reply = NewOutbound {
            conversation_id: Some(conversation.id),
            message: ventana::channels::outbound::OutboundMessage {
                channel: Channel::Whatsapp,
                business_id: PHONE_NUMBER_ID.into(),
                recipient: "5215510000002".into(),
                body: OutboundBody::Text { text: "Hola, soy Ana del equipo.".into() },
                reply_to: None,
                messaging_type: None,
            },
            purpose: "agent".into(),
            dedupe_key: None,
            not_before: app.clock.now(),
            state: OutboxState::Pending,
        };
        app.state.store.enqueue(&reply, app.clock.now()).await.unwrap();

        app.clock.advance(Duration::hours(21));
        wait_count(&app, &scheduler, "SELECT COUNT(*) FROM timers WHERE kind = 'keepalive' AND state = 'done'", 1).await;
        let purposes: Vec<String> = outbox_purposes(&app.state.store, conversation.id).await.into_iter().map(|p| p.0).collect();
        assert_eq!(purposes, ["agent"]);
        assert!(!event_kinds(&app.state.store, escalation.id).await.contains(&"keepalive_sent".to_owned()));
    }

    async fn timers_survive_a_restart(db: Db) {
        let mut first = TestApp::spawn_with(options(db, |_| {})).await;
        let (escalation, _) = open_case(&first, "5215510000003", "es", Duration::minutes(30)).await;
        first.stop().await;

        // A second application on the same database, later.
        let dir = tempfile::tempdir().unwrap();
        let graph = FakeGraph::start().await;
        let mut config = test_config(dir.path(), &first.database_url, &graph.base_url(), Some(APP_SECRET));
        config.pipeline.enabled = false;
        let clock = ventana::conversation::Clock::manual(t0() + Duration::minutes(31));
        let second = Application::build_with_clock(config, clock).await.unwrap();
        let scheduler = second.scheduler().clone();
        let store = second.state().store.clone();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(second.run_until_stopped(shutdown.clone()));
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            drain(&scheduler).await;
            let kinds = event_kinds(&store, escalation.id).await;
            if kinds.contains(&"sla_breached".to_owned()) {
                // The warning was due before the breach: both fired, once each.
                assert_eq!(kinds, ["created", "sla_warning", "sla_breached"]);
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no breach after the restart: {kinds:?}");
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
        shutdown.cancel();
        server.await.unwrap().unwrap();
    }

    async fn a_timer_whose_lease_expired_is_fired_by_another_instance_once(db: Db) {
        let app = TestApp::spawn_with(options(db, |_| {})).await;
        let scheduler = scheduler_of(&app);
        let (escalation, _) = open_case(&app, "5215510000004", "es", Duration::minutes(5)).await;
        // An instance claims the breach and dies (never completes it).
        app.clock.advance(Duration::minutes(6));
        let store = &app.state.store;
        let mut claimed = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while claimed.is_empty() {
            claimed = store.claim_timers(app.clock.now(), 10, Duration::seconds(30)).await.unwrap();
            if claimed.is_empty() {
                // The app's own worker got it first: nothing left to prove here.
                let kinds = event_kinds(store, escalation.id).await;
                if kinds.contains(&"sla_breached".to_owned()) {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline);
                tokio::time::sleep(StdDuration::from_millis(5)).await;
            }
        }
        let stale = claimed.into_iter().find(|t| t.kind == "sla_breach").expect("the breach was claimed");
        // Its lease expires; another instance takes the timer over and fires it.
        app.clock.advance(Duration::seconds(31));
        wait_count(&app, &scheduler, "SELECT COUNT(*) FROM escalation_events WHERE kind = 'sla_breached'", 1).await;
        // The first instance wakes up: its late firing commits nothing.
        assert_eq!(scheduler.fire(&stale).await.unwrap(), Fired::Superseded);
        assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM escalation_events WHERE kind = 'sla_breached'").await, Some(1));
        assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM notifications WHERE event = 'sla_breach'").await, Some(1));
    }

    async fn followup_is_free_form_inside_the_window_and_a_template_after_it(db: Db) {
        let app = TestApp::spawn_with(options(db, |config| {
            config.escalation.templates.push(TemplateConfig {
                name: "case_followup".into(),
                language: "es_MX".into(),
                category: "utility".into(),
                body_params: vec!["customer_name".into()],
                purpose: "followup".into(),
            });
        }))
        .await;
        let scheduler = scheduler_of(&app);
        let store = &app.state.store;
        let app_ref = &app;
        let park = move |escalation: EscalationRow, due: DateTime<Utc>| async move {
            let now = app_ref.clock.now();
            let mut tx = app_ref.state.store.begin_write().await.unwrap();
            set_state(&mut tx.tx, escalation.id, EscalationState::WaitingCustomer, now).await.unwrap();
            add_event(&mut tx.tx, escalation.id, "waiting_customer", Some("ana"), None, now).await.unwrap();
            schedule_followup(&mut tx.tx, escalation.id, escalation.conversation_id, due, now).await.unwrap();
            tx.commit().await.unwrap();
        };

        // Parked an hour in, reminded an hour later: the window is open.
        let (inside, inside_conversation) = open_case(&app, "5215510000005", "es", Duration::hours(4)).await;
        app.clock.advance(Duration::hours(1));
        park(inside.clone(), app.clock.now() + Duration::hours(1)).await;
        app.clock.advance(Duration::hours(1));
        wait_count(&app, &scheduler, "SELECT COUNT(*) FROM outbox WHERE purpose = 'followup'", 1).await;
        let followups: Vec<OutboundBody> = outbox_purposes(store, inside_conversation.id)
            .await
            .into_iter()
            .filter(|(p, _)| p == "followup")
            .map(|(_, b)| b)
            .collect();
        assert_eq!(followups, [OutboundBody::Text { text: include_str!("../../prompts/es/followup.txt").trim().to_owned() }]);

        // Another case parked with a reminder due after its window closed.
        let (after, after_conversation) = open_case(&app, "5215510000006", "es", Duration::hours(4)).await;
        park(after.clone(), app.clock.now() + Duration::hours(25)).await;
        app.clock.advance(Duration::hours(25));
        wait_count(&app, &scheduler, "SELECT COUNT(*) FROM outbox WHERE purpose = 'followup'", 2).await;
        let followups: Vec<OutboundBody> = outbox_purposes(store, after_conversation.id)
            .await
            .into_iter()
            .filter(|(p, _)| p == "followup")
            .map(|(_, b)| b)
            .collect();
        assert_eq!(
            followups,
            [OutboundBody::Template {
                name: "case_followup".into(),
                language: "es_MX".into(),
                body_params: vec!["Cliente Prueba".into()],
                category: Some("utility".into()),
            }]
        );
        let kinds = event_kinds(store, after.id).await;
        assert!(kinds.ends_with(&["waiting_customer".to_owned(), "followup_sent".to_owned()]), "{kinds:?}");
    }

    async fn a_followup_after_the_window_without_a_template_is_recorded_as_skipped(db: Db) {
        let app = TestApp::spawn_with(options(db, |_| {})).await;
        let scheduler = scheduler_of(&app);
        let store = &app.state.store;
        let (escalation, conversation) = open_case(&app, "5215510000007", "en", Duration::hours(4)).await;
        let now = app.clock.now();
        let mut tx = store.begin_write().await.unwrap();
        set_state(&mut tx.tx, escalation.id, EscalationState::WaitingCustomer, now).await.unwrap();
        schedule_followup(&mut tx.tx, escalation.id, conversation.id, now + Duration::hours(30), now).await.unwrap();
        tx.commit().await.unwrap();
        app.clock.advance(Duration::hours(30));
        wait_count(&app, &scheduler, "SELECT COUNT(*) FROM escalation_events WHERE kind = 'followup_skipped'", 1).await;
        let events = store.escalation_events(escalation.id).await.unwrap();
        let skipped = events.iter().find(|e| e.kind == "followup_skipped").unwrap();
        assert_eq!(
            skipped.detail.as_ref().unwrap()["reason"],
            "the window is closed and no followup template is configured"
        );
        assert!(outbox_purposes(store, conversation.id).await.is_empty());
    }

    async fn a_batch_fired_concurrently_fires_each_timer_once_in_case_order(db: Db) {
        let app = TestApp::spawn_with(options(db, |_| {})).await;
        const CASES: usize = 24;
        let mut ids = Vec::new();
        for i in 0..CASES {
            let (escalation, _) = open_case(&app, &format!("52155300{i:05}"), "es", Duration::minutes(20)).await;
            ids.push(escalation.id);
        }
        // Another instance whose clock is past every warning and breach; the
        // app's own worker (still at t0) sees none due, so this one claims
        // them all in one batch and fires 16 at once.
        let later = ventana::conversation::Clock::manual(t0() + Duration::minutes(21));
        let scheduler = Scheduler::from_config(&app.state.config, app.state.store.clone(), later, app.state.signals.clone())
            .unwrap()
            .with_concurrency(16);
        assert_eq!(scheduler.run_once().await.unwrap(), 2 * CASES);
        assert_eq!(scheduler.run_once().await.unwrap(), 0);
        assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM timers WHERE state = 'done'").await, Some(2 * CASES as i64));
        assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM timers WHERE kind IN ('sla_warning', 'sla_breach') AND state <> 'done'").await, Some(0));
        // Each case's warning and breach once, the warning first.
        for id in ids {
            assert_eq!(event_kinds(&app.state.store, id).await, ["created", "sla_warning", "sla_breached"], "case {id}");
        }
        assert_eq!(app.count("notifications").await, 2 * CASES as i64);
    }
}

/// A receiver of notifications that records every request and answers 500
/// to the first `fail_first`.
/// Headers, body and the status answered, per request received.
type Seen = Arc<Mutex<Vec<(HeaderMap, Vec<u8>, StatusCode)>>>;

#[derive(Clone, Default)]
struct Receiver {
    seen: Seen,
    fail_first: usize,
}

impl Receiver {
    async fn start(fail_first: usize) -> (Receiver, String) {
        let receiver = Receiver {
            fail_first,
            ..Default::default()
        };
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    let mut seen = state.seen.lock().unwrap();
                    let status = if seen.len() < state.fail_first {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    };
                    seen.push((headers, body.to_vec(), status));
                    status
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn seen(&self) -> Vec<(HeaderMap, Vec<u8>, StatusCode)> {
        self.seen.lock().unwrap().clone()
    }
}

async fn wait_for_notifications(
    notifier: &Notifier,
    receiver: &Receiver,
    n: usize,
) -> Vec<(HeaderMap, Vec<u8>, StatusCode)> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        notifier.run_once().await.unwrap();
        let seen = receiver.seen();
        if seen.len() >= n {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} notifications, got {}",
            seen.len()
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

on_both_databases! {
    async fn sla_warning_and_breach_are_delivered_signed_with_a_retry(db: Db) {
        let (receiver, url) = Receiver::start(1).await;
        let app = TestApp::spawn_with(options(db, move |config| {
            config.notifications.url = Some(url);
            config.notifications.secret = Some(NOTIFY_SECRET.into());
            config.notifications.backoff_base_ms = 1_000;
            config.notifications.backoff_max_ms = 1_000;
        }))
        .await;
        let scheduler = scheduler_of(&app);
        let notifier = notifier_of(&app);
        let (escalation, _) = open_case(&app, "5215510000008", "es", Duration::minutes(60)).await;

        // Ten minutes before the deadline: the warning, refused once by the receiver.
        app.clock.advance(Duration::minutes(50));
        wait_count(&app, &scheduler, "SELECT COUNT(*) FROM notifications WHERE event = 'sla_warning'", 1).await;
        wait_for_notifications(&notifier, &receiver, 1).await;
        // The retry waits for its backoff (at most a second), then succeeds.
        app.clock.advance(Duration::seconds(1));
        wait_for_notifications(&notifier, &receiver, 2).await;

        // The deadline: the breach.
        app.clock.advance(Duration::minutes(10));
        wait_count(&app, &scheduler, "SELECT COUNT(*) FROM notifications WHERE event = 'sla_breach'", 1).await;
        let seen = wait_for_notifications(&notifier, &receiver, 3).await;
        assert_eq!(seen.len(), 3);

        let mut events = Vec::new();
        for (headers, body, status) in &seen {
            let signature = headers.get("x-ventana-signature-256").and_then(|v| v.to_str().ok());
            assert_eq!(verify_signature(NOTIFY_SECRET.as_bytes(), signature, body), Ok(()));
            let json: Value = serde_json::from_slice(body).unwrap();
            let event = headers.get("x-ventana-event").unwrap().to_str().unwrap().to_owned();
            assert_eq!(json["event"], event.as_str());
            assert_eq!(json["data"]["escalation_id"], escalation.id);
            assert_eq!(json["data"]["queue"], "support");
            events.push((event, status.as_u16()));
        }
        assert_eq!(
            events,
            [("sla_warning".to_owned(), 500), ("sla_warning".to_owned(), 204), ("sla_breach".to_owned(), 204)]
        );
        let rows: Vec<(String, String, i64)> = sqlx::query_as("SELECT event, state, attempts FROM notifications ORDER BY id")
            .fetch_all(app.state.store.pool())
            .await
            .unwrap();
        assert_eq!(
            rows,
            [("sla_warning".to_owned(), "delivered".to_owned(), 2), ("sla_breach".to_owned(), "delivered".to_owned(), 1)]
        );
        let kinds = event_kinds(&app.state.store, escalation.id).await;
        assert_eq!(kinds, ["created", "sla_warning", "sla_breached"]);
    }

    async fn without_a_url_notifications_are_skipped_not_retried(db: Db) {
        let app = TestApp::spawn_with(options(db, |_| {})).await;
        let scheduler = scheduler_of(&app);
        let notifier = notifier_of(&app);
        open_case(&app, "5215510000009", "es", Duration::minutes(5)).await;
        app.clock.advance(Duration::minutes(5));
        wait_count(&app, &scheduler, "SELECT COUNT(*) FROM notifications WHERE event = 'sla_breach'", 1).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while app.scalar_str("SELECT state FROM notifications").await.as_deref() != Some("skipped") {
            notifier.run_once().await.unwrap();
            assert!(tokio::time::Instant::now() < deadline, "the notification was not skipped");
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
        assert_eq!(notifier.run_once().await.unwrap(), 0);
    }
}

mod two_schedulers_on_postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_fire_a_timer_twice() {
        let app = TestApp::spawn_with(options(Db::Postgres, |_| {})).await;
        const CASES: usize = 40;
        let mut ids = Vec::new();
        for i in 0..CASES {
            let (escalation, _) = open_case(
                &app,
                &format!("52155200{i:05}"),
                "es",
                Duration::minutes(20),
            )
            .await;
            ids.push(escalation.id);
        }
        app.clock.advance(Duration::minutes(21));
        // Two more instances with their own connection pools, next to the app's own worker.
        let mut instances = Vec::new();
        for _ in 0..2 {
            let store = Store::connect(&app.database_url).await.unwrap();
            instances.push(
                Scheduler::from_config(
                    &app.state.config,
                    store,
                    app.clock.clone(),
                    app.state.signals.clone(),
                )
                .unwrap(),
            );
        }
        let (a, b) = (instances[0].clone(), instances[1].clone());
        let run = |s: Scheduler| async move {
            let mut fired = 0;
            loop {
                let n = s.run_once().await.unwrap();
                if n == 0 {
                    return fired;
                }
                fired += n;
            }
        };
        let (fired_a, fired_b) = tokio::join!(run(a), run(b));
        // Every warning and breach fired exactly once, whoever fired it.
        wait_count(
            &app,
            &instances[0],
            "SELECT COUNT(*) FROM timers WHERE state = 'done'",
            2 * CASES as i64,
        )
        .await;
        assert!(fired_a + fired_b <= 2 * CASES);
        let per_case: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT escalation_id, COUNT(*) FROM escalation_events WHERE kind IN ('sla_warning', 'sla_breached') \
             GROUP BY escalation_id ORDER BY escalation_id",
        )
        .fetch_all(app.state.store.pool())
        .await
        .unwrap();
        assert_eq!(per_case, ids.iter().map(|id| (*id, 2)).collect::<Vec<_>>());
        assert_eq!(app.count("notifications").await, 2 * CASES as i64);
    }
}
