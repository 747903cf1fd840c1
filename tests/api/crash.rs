//! Crash safety with the real binary: the process is aborted at chosen
//! points (fail points) and restarted on the same database. Nothing
//! acknowledged is lost and nothing is sent twice.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use ventana::channels::model::Channel;
use ventana::channels::outbound::{OutboundBody, OutboundMessage};
use ventana::channels::signature::sign;
use ventana::store::{NewOutbound, OutboxState, Store};
use ventana::testkit::fake_graph::FakeGraph;

use crate::helpers::{APP_SECRET, WA_TOKEN};
use crate::payloads::*;

/// The `ventana` binary running as a child process.
pub(crate) struct Service {
    child: Child,
    pub(crate) url: String,
}

impl Service {
    pub(crate) fn start(
        dir: &std::path::Path,
        graph: &FakeGraph,
        extra_env: &[(&str, &str)],
    ) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_ventana"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("VENTANA_LISTEN", format!("127.0.0.1:{port}"))
            .env("VENTANA_DATA_DIR", dir.join("data"))
            .env(
                "VENTANA_KNOWLEDGE_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge"),
            )
            .env(
                "VENTANA_PROMPTS_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/prompts"),
            )
            .env("VENTANA_META__APP_SECRET", APP_SECRET)
            .env("VENTANA_META__ACCESS_TOKEN", WA_TOKEN)
            .env("VENTANA_META__GRAPH_API_BASE", graph.base_url())
            .env("VENTANA_PIPELINE__QUIET_PERIOD_MS", "0")
            .env("VENTANA_SENDER__LEASE_MS", "500")
            .env("VENTANA_PIPELINE__LEASE_MS", "500")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let child = command.spawn().expect("ventana starts");
        let service = Service {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return service;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("ventana did not start listening");
    }

    /// `kill -9`: the process gets no chance to finish anything.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to die (it aborts at the fail point).
    fn wait_for_crash(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    !status.success(),
                    "the process was aborted, not stopped cleanly"
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the fail point was never reached");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(url: &str, body: &[u8]) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(format!("{url}/webhooks/whatsapp"))
        .header("x-hub-signature-256", sign(APP_SECRET.as_bytes(), body))
        .body(body.to_vec())
        .send()
        .await
}

async fn store(dir: &std::path::Path) -> Store {
    Store::connect(&format!(
        "sqlite://{}",
        dir.join("data/ventana.db").display()
    ))
    .await
    .unwrap()
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_commit_and_response_loses_nothing_and_meta_s_retry_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start().await;
    let body = whatsapp_text("5215512345678", "wamid.CRASH1", now_secs(), "hola").to_string();

    let mut service = Service::start(
        dir.path(),
        &graph,
        &[("FAILPOINTS", "webhook-after-commit=return")],
    );
    let first = post(&service.url, body.as_bytes()).await;
    assert!(
        first.is_err() || first.unwrap().status() != 200,
        "no acknowledgement before the crash"
    );
    service.wait_for_crash();
    drop(service);

    // The event was committed before the crash.
    let db = store(dir.path()).await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM messages").await, 1);

    // Meta retries because it got no 200: the retry is acknowledged and stores nothing new.
    let service = Service::start(dir.path(), &graph, &[]);
    let retry = post(&service.url, body.as_bytes()).await.unwrap();
    assert_eq!(retry.status(), 200);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM messages").await, 1);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM webhook_deliveries").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_send_never_sends_the_message_twice() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start().await;
    let mut service = Service::start(
        dir.path(),
        &graph,
        &[
            ("FAILPOINTS", "sender-after-send=return"),
            ("VENTANA_PIPELINE__ENABLED", "false"),
        ],
    );
    let db = store(dir.path()).await;
    let row = NewOutbound {
        conversation_id: None,
        message: OutboundMessage {
            channel: Channel::Whatsapp,
            business_id: PHONE_NUMBER_ID.into(),
            recipient: "5215512345678".into(),
            body: OutboundBody::Text {
                text: "una sola vez".into(),
            },
            reply_to: None,
            messaging_type: None,
        },
        purpose: "reply".into(),
        dedupe_key: Some("crash-test".into()),
        not_before: Utc::now(),
        state: OutboxState::Pending,
    };
    let id = db.enqueue(&row, Utc::now()).await.unwrap().unwrap();
    service.wait_for_crash();
    drop(service);
    assert_eq!(
        graph.requests().len(),
        1,
        "Meta received the message before the crash"
    );

    let _service = Service::start(
        dir.path(),
        &graph,
        &[("VENTANA_PIPELINE__ENABLED", "false")],
    );
    // After the lease expires the interrupted row is flagged, not resent.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state: String =
            sqlx::query_scalar(&format!("SELECT state FROM outbox WHERE id = {id}"))
                .fetch_one(db.pool())
                .await
                .unwrap();
        if state == "unknown" {
            break;
        }
        assert!(Instant::now() < deadline, "row still {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A new message still goes out: the sender works after the restart.
    let mut next = row.clone();
    next.dedupe_key = Some("crash-test-2".into());
    next.message.body = OutboundBody::Text {
        text: "siguiente".into(),
    };
    db.enqueue(&next, Utc::now()).await.unwrap();
    let requests = graph.wait_for_requests(2, Duration::from_secs(10)).await;
    let texts: Vec<_> = requests
        .iter()
        .map(|r| {
            r.body["text"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        texts,
        ["una sola vez", "siguiente"],
        "nothing was sent twice"
    );
}

/// The customer's message is acknowledged, the process dies at `point` in
/// the pipeline, and after a restart the customer gets exactly one reply.
async fn crash_in_the_pipeline_then_one_reply(point: &str) {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start().await;
    let failpoint = format!("{point}=return");
    let mut service = Service::start(
        dir.path(),
        &graph,
        &[
            ("FAILPOINTS", failpoint.as_str()),
            ("VENTANA_SENDER__MARK_READ", "false"),
        ],
    );
    let body = whatsapp_text(
        "5215512345678",
        "wamid.PIPE1",
        now_secs(),
        "hola, como puedo rastrear mi pedido?",
    )
    .to_string();
    assert_eq!(
        post(&service.url, body.as_bytes()).await.unwrap().status(),
        200
    );
    service.wait_for_crash();
    drop(service);
    assert_eq!(
        graph.requests().len(),
        0,
        "nothing was sent before the crash"
    );

    let _service = Service::start(
        dir.path(),
        &graph,
        &[("VENTANA_SENDER__MARK_READ", "false")],
    );
    let requests = graph.wait_for_requests(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(graph.requests().len(), 1, "exactly one reply: {requests:?}");
    let db = store(dir.path()).await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM turns").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_turn_is_committed_recomputes_it_and_replies_once() {
    crash_in_the_pipeline_then_one_reply("pipeline-before-commit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_turn_is_committed_still_replies_once() {
    crash_in_the_pipeline_then_one_reply("pipeline-after-commit").await;
}
