//! An OpenAI-compatible chat client for triage and answers.
//!
//! Built on async-openai's "bring your own types" calls so that requests and
//! responses are our own lenient JSON: servers that add fields, omit
//! optional ones or report odd `finish_reason`s (llama.cpp, vLLM, Ollama,
//! gateways) still work. Structured output is negotiated per endpoint: the
//! first call tries `response_format: json_schema`; a 4xx that rejects it
//! falls back to `json_object` (with the schema attached, as llama.cpp
//! accepts), then to a plain request whose JSON is extracted and validated
//! on our side. The form that worked is remembered for the client's
//! lifetime (one client per endpoint).
//!
//! async-openai itself retries 429 and 5xx responses and failed connects
//! (three times, with a short exponential backoff). A request that dies
//! with its connection before any answer is sent once more
//! ([`once_more_if_lost`]). Every call, retries included, runs under the
//! configured time limit. Callers fall back to
//! rules or extractive answers on any [`LlmError`]; [`record_fallback`]
//! counts that in `ventana_llm_fallbacks_total{reason}` and logs it.

mod wire;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::{Config as _, OpenAIConfig};
use async_openai::error::OpenAIError;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

pub use wire::extract_json_object;

/// Connecting to the endpoint should be quick; a slow connect is a dead
/// endpoint, and the overall call limit (`llm.timeout_ms`) still applies.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Who says a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::User,
            content: content.into(),
        }
    }
}

/// A JSON schema for structured output.
#[derive(Debug, Clone)]
pub struct OutputSchema {
    /// Schema name (letters, digits, `_`), sent as `json_schema.name`.
    pub name: &'static str,
    pub schema: serde_json::Value,
}

/// How the endpoint is asked for JSON, in negotiation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredMode {
    /// `response_format: {"type": "json_schema", "json_schema": {...}}`.
    JsonSchema = 0,
    /// `response_format: {"type": "json_object", "schema": {...}}`.
    JsonObject = 1,
    /// No `response_format`; the prompt asks for JSON.
    PromptOnly = 2,
}

impl StructuredMode {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => StructuredMode::JsonSchema,
            1 => StructuredMode::JsonObject,
            _ => StructuredMode::PromptOnly,
        }
    }

    fn next(self) -> Option<Self> {
        match self {
            StructuredMode::JsonSchema => Some(StructuredMode::JsonObject),
            StructuredMode::JsonObject => Some(StructuredMode::PromptOnly),
            StructuredMode::PromptOnly => None,
        }
    }
}

/// Why an LLM call gave no usable result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("rate limited (429)")]
    RateLimited,
    #[error("server error {0}")]
    Server(u16),
    #[error("request rejected ({status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("transport error: {0}")]
    Transport(String),
    #[error("invalid output: {0}")]
    InvalidOutput(String),
}

impl LlmError {
    /// The `reason` label of `ventana_llm_fallbacks_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            LlmError::Timeout(_) => "timeout",
            LlmError::RateLimited => "rate_limited",
            LlmError::Server(_) => "server_error",
            LlmError::Rejected { .. } => "rejected",
            LlmError::Transport(_) => "transport",
            LlmError::InvalidOutput(_) => "invalid_output",
        }
    }

    /// A 4xx that may be about `response_format` (not auth, not rate limit),
    /// or any error whose message names it: llama-cpp-python's server
    /// (0.3.x) answers a `json_schema` it does not know with a 500 whose
    /// validation message points at `response_format`.
    fn rejects_format(&self) -> bool {
        match self {
            LlmError::Rejected { status, message } => {
                matches!(status, 400 | 415 | 422 | 501) || names_response_format(message)
            }
            _ => false,
        }
    }
}

/// Counts and logs a fall-back from the LLM to rules or extractive answers.
pub fn record_fallback(task: &'static str, reason: &'static str) {
    metrics::counter!("ventana_llm_fallbacks_total", "reason" => reason, "task" => task)
        .increment(1);
    tracing::warn!(task, reason, "llm fallback");
}

/// An OpenAI-compatible chat endpoint.
pub struct LlmClient {
    client: Client<OpenAIConfig>,
    model: String,
    timeout: Duration,
    mode: AtomicU8,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient")
            .field("base_url", &self.client.config().api_base())
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("mode", &self.structured_mode())
            .finish()
    }
}

impl LlmClient {
    /// The configured client, or `None` when `llm.base_url` is unset.
    pub fn from_config(config: &LlmConfig) -> anyhow::Result<Option<Self>> {
        let Some(base_url) = config.endpoint() else {
            return Ok(None);
        };
        let model = config
            .model
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("llm.model: required when llm.base_url is set"))?;
        let key = config
            .api_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned());
        Self::new(
            base_url,
            model,
            key.as_deref(),
            Duration::from_millis(config.timeout_ms),
        )
        .map(Some)
    }

    /// A client for `base_url` (e.g. `http://localhost:8080/v1`).
    pub fn new(
        base_url: &str,
        model: &str,
        api_key: Option<&str>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(timeout)
            .build()?;
        let config = OpenAIConfig::new()
            .with_api_base(base_url.trim_end_matches('/'))
            .with_api_key(api_key.unwrap_or("none"));
        Ok(Self {
            client: Client::with_config(config).with_http_client(http),
            model: model.to_owned(),
            timeout,
            mode: AtomicU8::new(StructuredMode::JsonSchema as u8),
        })
    }

    /// The structured-output form this endpoint is currently asked with.
    pub fn structured_mode(&self) -> StructuredMode {
        StructuredMode::from_u8(self.mode.load(Ordering::Relaxed))
    }

    /// A free-text completion (the answer), trimmed.
    pub async fn chat_text(
        &self,
        messages: &[ChatMessage],
        max_tokens: u32,
    ) -> Result<String, LlmError> {
        let body = wire::request(&self.model, messages, max_tokens, None);
        self.with_deadline(self.send(body)).await
    }

    /// A JSON object conforming (as far as the endpoint allows) to `schema`,
    /// negotiating the structured-output form. The object is parsed
    /// leniently (code fences and surrounding prose are stripped); checking
    /// its fields is the caller's job.
    pub async fn chat_json(
        &self,
        messages: &[ChatMessage],
        schema: &OutputSchema,
    ) -> Result<serde_json::Value, LlmError> {
        self.with_deadline(self.negotiate(messages, schema)).await
    }

    async fn negotiate(
        &self,
        messages: &[ChatMessage],
        schema: &OutputSchema,
    ) -> Result<serde_json::Value, LlmError> {
        let mut mode = self.structured_mode();
        loop {
            let body = wire::request(&self.model, messages, 300, Some((mode, schema)));
            match self.send(body).await {
                Ok(content) => {
                    return extract_json_object(&content).ok_or_else(|| {
                        LlmError::InvalidOutput("no JSON object in the reply".into())
                    });
                }
                Err(e) if e.rejects_format() => match mode.next() {
                    Some(next) => {
                        tracing::info!(from = ?mode, to = ?next, error = %e, "llm endpoint rejected structured output form; falling back");
                        self.mode.store(next as u8, Ordering::Relaxed);
                        mode = next;
                    }
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }

    async fn with_deadline<T>(
        &self,
        call: impl Future<Output = Result<T, LlmError>>,
    ) -> Result<T, LlmError> {
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Err(LlmError::Timeout(self.timeout)))
    }

    /// One chat completion; returns the first choice's content.
    async fn send(&self, body: serde_json::Value) -> Result<String, LlmError> {
        let response: serde_json::Value = once_more_if_lost("llm", || async {
            self.client.chat().create_byot(&body).await
        })
        .await
        .map_err(classify_error)?;
        wire::first_content(&response)
    }
}

/// Runs an OpenAI-compatible call, and runs it once more if the request died
/// with its connection before any response: the server closed a kept-alive
/// connection just as the request went out on it. Servers close idle
/// connections much sooner than reqwest's pool forgets them (uvicorn, which
/// serves llama-cpp-python and vLLM, after 5 s; the pool keeps them 90 s),
/// and proxies drop them too, while the server itself is up. async-openai
/// retries failed connects, not these; the second attempt gets a fresh
/// connection from the pool. `what` names the endpoint in the log line.
pub async fn once_more_if_lost<T, F, Fut>(what: &'static str, call: F) -> Result<T, OpenAIError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, OpenAIError>>,
{
    match call().await {
        Err(OpenAIError::Reqwest(error))
            if error.is_request() && !error.is_timeout() && !error.is_connect() =>
        {
            tracing::info!(endpoint = what, %error, "request lost with its connection; sending it once more");
            call().await
        }
        other => other,
    }
}

/// Maps async-openai's errors onto ours. Non-standard error bodies (e.g. a
/// numeric `code`) surface as deserialization errors; they are still
/// rejections by the endpoint.
fn classify_error(error: OpenAIError) -> LlmError {
    match error {
        OpenAIError::ApiError(e) => {
            let status = e.status_code.as_u16();
            match status {
                429 => LlmError::RateLimited,
                // A server error about the request's shape is a rejection.
                500..=599 if names_response_format(&e.api_error.message) => LlmError::Rejected {
                    status,
                    message: e.api_error.message,
                },
                500..=599 => LlmError::Server(status),
                _ => LlmError::Rejected {
                    status,
                    message: e.api_error.message,
                },
            }
        }
        OpenAIError::Reqwest(e) if e.is_timeout() => LlmError::Timeout(Duration::ZERO),
        OpenAIError::Reqwest(e) => match e.status() {
            Some(s) if s.as_u16() == 429 => LlmError::RateLimited,
            Some(s) if s.is_server_error() => LlmError::Server(s.as_u16()),
            // reqwest's own message stops at "error sending request".
            _ => LlmError::Transport(format!("{:#}", anyhow::Error::from(e))),
        },
        OpenAIError::JSONDeserialize(_, content) => match wire::error_in_body(&content) {
            Some((status, message)) => LlmError::Rejected { status, message },
            None => LlmError::InvalidOutput("response is not JSON".into()),
        },
        other => LlmError::Transport(other.to_string()),
    }
}

/// Whether an error message is about the `response_format` field.
fn names_response_format(message: &str) -> bool {
    message.contains("response_format") || message.contains("json_schema")
}

/// The tags prompts use to delimit untrusted text.
const DELIMITERS: &[&str] = &["customer_message", "history", "passages"];

/// Customer text is data: strips anything that looks like the prompt's
/// delimiter tags, so a message cannot close its block and pose as
/// instructions.
pub fn neutralize_delimiters(text: &str) -> String {
    let mut out = text.to_owned();
    for tag in DELIMITERS {
        for form in [format!("</{tag}>"), format!("<{tag}>")] {
            loop {
                let lower = out.to_ascii_lowercase();
                let Some(at) = lower.find(&form) else { break };
                out.replace_range(at..at + form.len(), "");
            }
        }
    }
    out
}

/// An OpenAI-compatible chat model (`[llm]`). Unset `base_url` means no LLM:
/// rule-based triage and extractive answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// `VENTANA_LLM__BASE_URL`, e.g. `https://api.openai.com/v1`.
    pub base_url: Option<String>,
    /// `VENTANA_LLM__MODEL`.
    pub model: Option<String>,
    /// `VENTANA_LLM__API_KEY`.
    pub api_key: Option<secrecy::SecretString>,
    /// Time limit for one LLM call before falling back to rules.
    pub timeout_ms: u64,
}

impl LlmConfig {
    /// The endpoint, when one is configured (an empty value counts as unset).
    pub fn endpoint(&self) -> Option<&str> {
        self.base_url.as_deref().filter(|u| !u.trim().is_empty())
    }
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            model: None,
            api_key: None,
            timeout_ms: 8_000,
        }
    }
}

#[cfg(test)]
mod tests;
