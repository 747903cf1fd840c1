//! An in-process fake of an OpenAI-compatible server (real HTTP on
//! 127.0.0.1, port 0) for tests and benchmarks.
//!
//! `POST /v1/chat/completions` answers from a script: queued one-shot
//! [`Script`]s first, then a default. With `response_format: json_schema`
//! and no script, it returns an object that satisfies the schema; it can be
//! told to reject `json_schema` (or `json_object`) with a 400 in llama.cpp's
//! error shape, to exercise negotiation. Without `response_format`, JSON
//! content is wrapped in prose and a code fence, like a chatty model.
//! `POST /v1/embeddings` returns deterministic, normalized vectors (hashed
//! character trigrams), honouring `dimensions` and accepting `input_type`.
//! Every request is recorded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Computes the reply content from the request body.
pub type Responder = Arc<dyn Fn(&Value) -> String + Send + Sync>;

/// What the fake does for one chat request.
#[derive(Clone)]
pub enum Script {
    /// Reply with this content.
    Reply(String),
    /// Reply with content computed from the request (e.g. a classifier).
    Compute(Responder),
    /// Reply with content that is not JSON.
    InvalidJson,
    /// Wait, then behave like the inner script.
    Slow(Duration, Box<Script>),
    /// An HTTP error with OpenAI's error body.
    HttpError { status: u16, message: String },
}

impl Script {
    /// An answer that invents a price, a time span and a link.
    pub fn ungrounded() -> Self {
        Script::Reply(
            "¡Claro! El envío cuesta $349 MXN y llega en 2 horas. Detalles en https://promo.example.invalid".into(),
        )
    }
    pub fn slow(delay: Duration, then: Script) -> Self {
        Script::Slow(delay, Box::new(then))
    }
    pub fn rate_limited() -> Self {
        Script::HttpError {
            status: 429,
            message: "Rate limit reached".into(),
        }
    }
    pub fn server_error() -> Self {
        Script::HttpError {
            status: 500,
            message: "The server had an error".into(),
        }
    }
    /// Content computed from the last user message.
    pub fn from_prompt(f: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        Script::Compute(Arc::new(move |body: &Value| f(&last_user_message(body))))
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Script>>,
    default: Mutex<Option<Script>>,
    reject_json_schema: AtomicBool,
    /// Reject `json_schema` as llama-cpp-python 0.3's server does: a 500
    /// whose message is a validation error naming `response_format`.
    reject_json_schema_with_500: AtomicBool,
    reject_json_object: AtomicBool,
    requests: Mutex<Vec<Recorded>>,
}

/// A running fake server; stops when dropped.
pub struct FakeOpenAi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeOpenAi {
    /// Starts the server on a free local port.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake openai");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            addr,
            shared,
            shutdown: Some(tx),
        }
    }

    /// The base URL to configure, ending in `/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues a one-shot script for the next chat request.
    pub fn push(&self, script: Script) {
        self.shared.queue.lock().unwrap().push_back(script);
    }

    /// The script used when the queue is empty.
    pub fn set_default(&self, script: Script) {
        *self.shared.default.lock().unwrap() = Some(script);
    }

    /// Answer `json_schema` response formats with a 400, as llama.cpp does.
    pub fn reject_json_schema(&self, reject: bool) {
        self.shared
            .reject_json_schema
            .store(reject, Ordering::Relaxed);
    }

    /// Reject `json_schema` with llama-cpp-python 0.3's 500 instead of a 400.
    pub fn reject_json_schema_with_500(&self, reject: bool) {
        self.shared
            .reject_json_schema_with_500
            .store(reject, Ordering::Relaxed);
    }

    /// Answer `json_object` response formats with a 400 too.
    pub fn reject_json_object(&self, reject: bool) {
        self.shared
            .reject_json_object
            .store(reject, Ordering::Relaxed);
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The bodies of the chat requests received, in order.
    pub fn chat_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("chat/completions"))
            .map(|r| r.body)
            .collect()
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The text of the last user message of a chat request.
pub fn last_user_message(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned()
}

fn error_body(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = if status == 429 {
        "rate_limit_error"
    } else {
        "server_error"
    };
    (
        code,
        Json(json!({"error": {"message": message, "type": kind, "param": null, "code": null}})),
    )
        .into_response()
}

/// llama.cpp's rejection: note the numeric `code`.
fn llama_rejection(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"code": 400, "message": message, "type": "invalid_request_error"}})),
    )
        .into_response()
}

async fn chat(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    shared.requests.lock().unwrap().push(Recorded {
        path: "/v1/chat/completions".into(),
        body: body.clone(),
    });
    let format = body["response_format"]["type"].as_str().map(str::to_owned);
    match format.as_deref() {
        Some("json_schema") if shared.reject_json_schema.load(Ordering::Relaxed) => {
            return llama_rejection("response_format type json_schema is not supported");
        }
        Some("json_schema") if shared.reject_json_schema_with_500.load(Ordering::Relaxed) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": {
                    "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}\n\n  File \"llama_cpp/server/app.py\", line 376, in create_chat_completion\n    POST /v1/chat/completions",
                    "type": "internal_server_error",
                    "param": null,
                    "code": null,
                }})),
            )
                .into_response();
        }
        Some("json_object") if shared.reject_json_object.load(Ordering::Relaxed) => {
            return llama_rejection("response_format type json_object is not supported");
        }
        _ => {}
    }
    let script = shared
        .queue
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| shared.default.lock().unwrap().clone());
    let mut script = script;
    loop {
        let content = match script {
            Some(Script::Slow(delay, then)) => {
                tokio::time::sleep(delay).await;
                script = Some(*then);
                continue;
            }
            Some(Script::HttpError { status, message }) => return error_body(status, &message),
            Some(Script::Reply(text)) => text,
            Some(Script::Compute(f)) => f(&body),
            Some(Script::InvalidJson) => {
                "Sure thing! I'd say this one is probably an faq :)".to_owned()
            }
            None => match body["response_format"]["json_schema"]["schema"].clone() {
                Value::Null => "OK".to_owned(),
                schema => sample_for_schema(&schema).to_string(),
            },
        };
        let content = if format.is_none()
            && serde_json::from_str::<Value>(&content).is_ok_and(|v| v.is_object())
        {
            format!("Here is the result:\n```json\n{content}\n```")
        } else {
            content
        };
        return Json(json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            "timings": {"predicted_ms": 1.0},
        }))
        .into_response();
    }
}

/// A minimal object satisfying a JSON schema (first enum value, 0.5 for
/// numbers, empty strings).
fn sample_for_schema(schema: &Value) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("object") => {
            let mut out = serde_json::Map::new();
            if let Some(props) = schema["properties"].as_object() {
                for (k, v) in props {
                    out.insert(k.clone(), sample_for_schema(v));
                }
            }
            Value::Object(out)
        }
        Some("array") => json!([]),
        Some("number") => json!(0.5),
        Some("integer") => json!(0),
        Some("boolean") => json!(false),
        _ => json!(""),
    }
}

const DEFAULT_DIMENSIONS: usize = 64;
const INPUT_TYPES: &[&str] = &[
    "query",
    "document",
    "passage",
    "search_query",
    "search_document",
];

async fn embeddings(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    shared.requests.lock().unwrap().push(Recorded {
        path: "/v1/embeddings".into(),
        body: body.clone(),
    });
    if let Some(kind) = body.get("input_type").and_then(Value::as_str)
        && !INPUT_TYPES.contains(&kind)
    {
        return error_body(400, "unknown input_type");
    }
    let dims = body["dimensions"]
        .as_u64()
        .map_or(DEFAULT_DIMENSIONS, |d| d.clamp(1, 4096) as usize);
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_owned())
            .collect(),
        _ => return error_body(400, "input must be a string or an array of strings"),
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": embed(text, dims)}))
        .collect();
    Json(json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}))
        .into_response()
}

/// Deterministic embedding: hashed character trigrams, L2-normalized.
pub fn embed(text: &str, dims: usize) -> Vec<f32> {
    let padded: Vec<char> = format!("  {}  ", text.to_lowercase()).chars().collect();
    let mut v = vec![0f32; dims];
    for window in padded.windows(3) {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for c in window {
            hash ^= *c as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        v[(hash % dims as u64) as usize] += sign;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn embeddings_are_deterministic_and_normalized() {
        let fake = FakeOpenAi::start().await;
        let client = reqwest::Client::new();
        let url = format!("{}/embeddings", fake.base_url());
        let body = json!({"model": "e", "input": ["envio gratis", "envio gratis"], "dimensions": 32, "input_type": "query"});
        let r: Value = client
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let a: Vec<f64> = serde_json::from_value(r["data"][0]["embedding"].clone()).unwrap();
        let b: Vec<f64> = serde_json::from_value(r["data"][1]["embedding"].clone()).unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(a, b);
        assert!((a.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-4);
        assert_eq!(fake.requests()[0].body["input_type"], "query");
        let bad = client
            .post(&url)
            .json(&json!({"input": "x", "input_type": "nope"}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
    }
}
