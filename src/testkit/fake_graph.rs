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
//!
//! It also injects the network's and Meta's faults ([`Fault`]): error codes,
//! 429 with `Retry-After`, a request accepted and never answered, a
//! connection reset after the request was read, an answer whose body
//! trickles. The last three accept the message first, as Meta may have:
//! a client that sends it again shows up as two accepted messages. Faults
//! are queued for the next messages or drawn at a rate (seeded, so a run
//! repeats).

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
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
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

/// A fault the fake can inject into one message request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Meta's error answer for this Graph code, or a server error for an
    /// HTTP status 500–599.
    Code(i64),
    /// 429 with code 130429 and `Retry-After: <seconds>`.
    RetryAfter(u64),
    /// The message is accepted and no answer ever comes.
    NoAnswer,
    /// The message is accepted, then the connection is closed without an answer.
    ResetAfterRead,
    /// The message is accepted; the answer's head comes at once, its body
    /// one byte per this many milliseconds.
    SlowBody(u64),
}

impl Fault {
    /// Whether Meta kept the message although the client may not know it.
    fn accepts(self) -> bool {
        matches!(
            self,
            Fault::NoAnswer | Fault::ResetAfterRead | Fault::SlowBody(_)
        )
    }
}

/// Everything a test can program.
#[derive(Default)]
struct Script {
    clock: Clock,
    fail_next: VecDeque<Fault>,
    /// Faults drawn at a rate, seeded.
    random: Option<(f64, Vec<Fault>, StdRng)>,
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
        tokio::spawn(serve(listener, app, stopped));
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
        self.inject_next(n, Fault::Code(code));
    }

    /// The next `n` messages meet `fault`. Mark-reads are not counted.
    pub fn inject_next(&self, n: usize, fault: Fault) {
        self.script()
            .fail_next
            .extend(std::iter::repeat_n(fault, n));
    }

    /// From now on each message meets one of `faults` (chosen evenly) with
    /// probability `rate`, drawn from a generator seeded with `seed`.
    pub fn inject_at_rate(&self, rate: f64, faults: Vec<Fault>, seed: u64) {
        self.script().random =
            (!faults.is_empty()).then(|| (rate, faults, StdRng::seed_from_u64(seed)));
    }

    /// Every send to `recipient` fails with `code` until [`FakeGraph::clear_failures`].
    pub fn fail_recipient(&self, recipient: impl Into<String>, code: i64) {
        self.script().fail_recipient.insert(recipient.into(), code);
    }

    pub fn clear_failures(&self) {
        let mut script = self.script();
        script.fail_next.clear();
        script.fail_recipient.clear();
        script.random = None;
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
    kill: Option<axum::Extension<KillConnection>>,
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
    let (status, response, message_id, fault) = match outcome {
        Ok((send, fault)) => {
            let (body, id) = send.success_body();
            (StatusCode::OK, body, id, fault)
        }
        Err((rejection, fault)) => {
            let (status, body) = rejection.error_body();
            (status, body, None, fault)
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
    match fault {
        Some(Fault::NoAnswer) => std::future::pending().await,
        Some(Fault::ResetAfterRead) => {
            if let Some(axum::Extension(kill)) = kill {
                kill.0.notify_one();
            }
            std::future::pending().await
        }
        Some(Fault::SlowBody(every_ms)) => slow_body(status, response, every_ms),
        Some(Fault::RetryAfter(seconds)) => (
            status,
            [("retry-after", seconds.to_string())],
            axum::Json(response),
        )
            .into_response(),
        Some(Fault::Code(_)) | None => (status, axum::Json(response)).into_response(),
    }
}

/// An answer whose body arrives one byte at a time.
fn slow_body(status: StatusCode, body: Value, every_ms: u64) -> Response {
    let bytes = body.to_string().into_bytes();
    let length = bytes.len();
    let stream = futures::stream::iter(bytes).then(move |byte| async move {
        tokio::time::sleep(Duration::from_millis(every_ms)).await;
        Ok::<_, std::io::Error>(Bytes::from(vec![byte]))
    });
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("content-length", length)
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_default()
}

/// Closes the connection a request came on, without an answer.
#[derive(Clone)]
struct KillConnection(Arc<Notify>);

/// Serves the fake until `stopped`, one task per connection, each able to
/// be closed by its handler ([`Fault::ResetAfterRead`]).
async fn serve(listener: TcpListener, app: Router, stopped: oneshot::Receiver<()>) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tower::ServiceExt;
    tokio::pin!(stopped);
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let kill = KillConnection(Arc::new(Notify::new()));
        let app = app.clone().layer(axum::Extension(kill.clone()));
        let service = hyper::service::service_fn(
            move |request: axum::extract::Request<hyper::body::Incoming>| {
                app.clone().oneshot(request.map(axum::body::Body::new))
            },
        );
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                // Dropping the connection closes the socket mid-request.
                _ = kill.0.notified() => {}
            }
        });
    }
}

/// Meta's checks, in Meta's order: token, request shape, scripted
/// failures, then the messaging window.
/// Meta's answer, with the fault injected into it, if any.
type Decision = Result<(SendRequest, Option<Fault>), (Rejection, Option<Fault>)>;

fn decide(
    script: &mut Script,
    business_id: &str,
    authorization: Option<&str>,
    body: &Value,
    now: DateTime<Utc>,
) -> Decision {
    if let Some(expected) = script.tokens.get(business_id) {
        let given = authorization.and_then(|a| a.strip_prefix("Bearer "));
        if given != Some(expected.as_str()) {
            return Err((Rejection::code(190), None));
        }
    }
    let send = SendRequest::parse(body).map_err(|r| (r, None))?;
    // Mark-reads are not messages: scripted failures and windows skip them.
    let Some(recipient) = send.recipient() else {
        return Ok((send, None));
    };
    let fault = script.fail_next.pop_front().or_else(|| script.draw_fault());
    match fault {
        Some(Fault::Code(code)) => return Err((Rejection::code(code), fault)),
        Some(Fault::RetryAfter(_)) => return Err((Rejection::code(130429), fault)),
        _ => {}
    }
    if let Some(&code) = script.fail_recipient.get(recipient) {
        return Err((Rejection::code(code), None));
    }
    let key = (business_id.to_owned(), recipient.to_owned());
    if let Some(&last) = script.last_inbound.get(&key) {
        send.check_window(now - last).map_err(|r| (r, None))?;
    }
    Ok((send, fault.filter(|f| f.accepts())))
}

impl Script {
    fn draw_fault(&mut self) -> Option<Fault> {
        let (rate, faults, rng) = self.random.as_mut()?;
        if !rng.random_bool(rate.clamp(0.0, 1.0)) {
            return None;
        }
        Some(faults[rng.random_range(0..faults.len())])
    }
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
