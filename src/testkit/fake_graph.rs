//! An in-process fake of Meta's Graph API send endpoint, for integration
//! tests and benchmarks.
//!
//! It is a real HTTP server on `127.0.0.1:0`, so the production client, its
//! timeouts and its error mapping are exercised unchanged. It answers with
//! Meta's success and error shapes, records every request, and can be
//! scripted: queued failures, failures per recipient, a response delay, a
//! bearer token check and the messaging windows (24 h, WhatsApp templates
//! always allowed, Messenger `HUMAN_AGENT` up to 7 days) on its own clock,
//! which tests can set or advance.

mod meta;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

use crate::conversation::Clock;
use meta::{Rejection, SendRequest};

/// One request the fake received, with what it answered.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// E.g. `/v23.0/106540352242922/messages`.
    pub path: String,
    pub headers: HeaderMap,
    /// The `Authorization` header, e.g. `Bearer <token>`.
    pub authorization: Option<String>,
    /// The JSON body (`Value::Null` when it was not JSON).
    pub body: Value,
    /// When it arrived, on the fake's clock.
    pub at: DateTime<Utc>,
    /// The HTTP status the fake answered.
    pub status: u16,
    /// The wamid or mid the fake assigned, for accepted messages.
    pub message_id: Option<String>,
}

impl RecordedRequest {
    /// Whether this was an accepted message (not a mark-read or a failure).
    pub fn is_sent_message(&self) -> bool {
        self.status == 200 && self.message_id.is_some()
    }
}

/// A running fake Graph API; it stops when dropped.
pub struct FakeGraph {
    base_url: String,
    state: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Shared {
    script: Mutex<Script>,
    recorded: Mutex<Vec<RecordedRequest>>,
    arrived: Notify,
}

/// Everything a test can program.
#[derive(Default)]
struct Script {
    clock: Clock,
    fail_next: VecDeque<i64>,
    fail_recipient: HashMap<String, i64>,
    delay: Duration,
    /// Expected bearer token per business id; others are not checked.
    tokens: HashMap<String, String>,
    /// When each (business id, customer) last wrote.
    last_inbound: HashMap<(String, String), DateTime<Utc>>,
}

impl FakeGraph {
    /// Starts the fake on a free local port, on the system clock.
    pub async fn start() -> FakeGraph {
        Self::start_with_clock(Clock::system()).await
    }

    /// Starts the fake on `clock` (share the application's manual clock to
    /// move both at once).
    pub async fn start_with_clock(clock: Clock) -> FakeGraph {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Graph API");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Shared::default());
        state.script.lock().expect("script lock").clock = clock;
        let app = Router::new()
            .route("/{version}/{business_id}/messages", post(messages))
            .fallback(unsupported)
            .with_state(state.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stopped.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "fake Graph API stopped");
            }
        });
        FakeGraph {
            base_url: format!("http://{addr}"),
            state,
            shutdown: Some(shutdown),
        }
    }

    /// `http://127.0.0.1:<port>`: the value for `meta.graph_api_base`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorded.lock().expect("recorded lock").clone()
    }

    /// The accepted messages so far (failures and mark-reads left out).
    pub fn sent_messages(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_sent_message)
            .collect()
    }

    /// Waits until at least `n` requests arrived and returns them all.
    /// Panics after `timeout`, listing what did arrive.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.state.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let paths: Vec<_> = requests.iter().map(|r| (&r.path, r.status)).collect();
                panic!(
                    "expected {n} Graph API requests within {timeout:?}, got {}: {paths:?}",
                    requests.len()
                );
            }
        }
    }

    /// The next `n` messages fail with `code` (a Graph error code, or an
    /// HTTP status 500–599 for a server error). Mark-reads are not counted.
    pub fn fail_next(&self, n: usize, code: i64) {
        self.script().fail_next.extend(std::iter::repeat_n(code, n));
    }

    /// Every send to `recipient` fails with `code` until [`FakeGraph::clear_failures`].
    pub fn fail_recipient(&self, recipient: impl Into<String>, code: i64) {
        self.script().fail_recipient.insert(recipient.into(), code);
    }

    pub fn clear_failures(&self) {
        let mut script = self.script();
        script.fail_next.clear();
        script.fail_recipient.clear();
    }

    /// Answers every request after `delay` (the request is recorded at once).
    pub fn set_delay(&self, delay: Duration) {
        self.script().delay = delay;
    }

    /// Requires `Bearer <token>` for sends from `business_id`; anything else gets 190.
    pub fn expect_token(&self, business_id: impl Into<String>, token: impl Into<String>) {
        self.script()
            .tokens
            .insert(business_id.into(), token.into());
    }

    /// Tells the fake that `customer` last wrote to `business_id` at `at`.
    /// Windows are enforced only for customers the fake was told about.
    pub fn customer_wrote(
        &self,
        business_id: impl Into<String>,
        customer: impl Into<String>,
        at: DateTime<Utc>,
    ) {
        self.script()
            .last_inbound
            .insert((business_id.into(), customer.into()), at);
    }

    /// The fake's "now".
    pub fn now(&self) -> DateTime<Utc> {
        self.script().clock.now()
    }

    /// Moves the fake's clock to `at` (switching it to a manual clock).
    pub fn set_now(&self, at: DateTime<Utc>) {
        let mut script = self.script();
        if script.clock.is_manual() {
            script.clock.set(at);
        } else {
            script.clock = Clock::manual(at);
        }
    }

    /// Moves the fake's clock forward (switching it to a manual clock).
    pub fn advance(&self, by: chrono::Duration) {
        let now = self.now();
        self.set_now(now + by);
    }

    fn script(&self) -> MutexGuard<'_, Script> {
        self.state.script()
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl Shared {
    fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().expect("script lock")
    }

    fn record(&self, request: RecordedRequest) {
        self.recorded.lock().expect("recorded lock").push(request);
        self.arrived.notify_waiters();
    }
}

async fn messages(
    State(state): State<Arc<Shared>>,
    Path((_version, business_id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (at, delay, outcome) = {
        let mut script = state.script();
        let at = script.clock.now();
        let outcome = decide(
            &mut script,
            &business_id,
            authorization.as_deref(),
            &json,
            at,
        );
        (at, script.delay, outcome)
    };
    let (status, response, message_id) = match outcome {
        Ok(send) => {
            let (body, id) = send.success_body();
            (StatusCode::OK, body, id)
        }
        Err(rejection) => {
            let (status, body) = rejection.error_body();
            (status, body, None)
        }
    };
    state.record(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers,
        authorization,
        body: json,
        at,
        status: status.as_u16(),
        message_id,
    });
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    (status, axum::Json(response)).into_response()
}

/// Meta's checks, in Meta's order: token, request shape, scripted
/// failures, then the messaging window.
fn decide(
    script: &mut Script,
    business_id: &str,
    authorization: Option<&str>,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<SendRequest, Rejection> {
    if let Some(expected) = script.tokens.get(business_id) {
        let given = authorization.and_then(|a| a.strip_prefix("Bearer "));
        if given != Some(expected.as_str()) {
            return Err(Rejection::code(190));
        }
    }
    let send = SendRequest::parse(body)?;
    // Mark-reads are not messages: scripted failures and windows skip them.
    let Some(recipient) = send.recipient() else {
        return Ok(send);
    };
    if let Some(code) = script.fail_next.pop_front() {
        return Err(Rejection::code(code));
    }
    if let Some(&code) = script.fail_recipient.get(recipient) {
        return Err(Rejection::code(code));
    }
    let key = (business_id.to_owned(), recipient.to_owned());
    if let Some(&last) = script.last_inbound.get(&key) {
        send.check_window(now - last)?;
    }
    Ok(send)
}

/// Anything but `POST /{version}/{id}/messages`: Meta's answer to an unknown edge.
async fn unsupported(
    State(state): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, response) = Rejection::unsupported(method.as_str(), uri.path()).error_body();
    let at = state.script().clock.now();
    state.record(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at,
        status: status.as_u16(),
        message_id: None,
    });
    (status, axum::Json(response)).into_response()
}

#[cfg(test)]
mod tests;
