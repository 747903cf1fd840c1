//! The channels' settings: the Meta app and Graph API (`[meta]`) and the
//! sender (`[sender]`). Part of [`crate::config::Config`].

use secrecy::SecretString;
use serde::Deserialize;

/// Meta app and Graph API settings (`[meta]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaConfig {
    /// App secret used to check `X-Hub-Signature-256`. Without it every
    /// webhook POST is refused. `VENTANA_META__APP_SECRET`.
    #[serde(default)]
    pub app_secret: Option<SecretString>,
    /// Token echoed in the GET verification handshake. `VENTANA_META__VERIFY_TOKEN`.
    #[serde(default)]
    pub verify_token: Option<SecretString>,
    /// Default WhatsApp Cloud API token. `VENTANA_META__ACCESS_TOKEN`.
    #[serde(default)]
    pub access_token: Option<SecretString>,
    /// Default Messenger page token. `VENTANA_META__PAGE_TOKEN`.
    #[serde(default)]
    pub page_token: Option<SecretString>,
    /// `VENTANA_META__GRAPH_API_BASE`.
    #[serde(default = "default_graph_base")]
    pub graph_api_base: String,
    /// `VENTANA_META__GRAPH_API_VERSION`.
    #[serde(default = "default_graph_version")]
    pub graph_api_version: String,
    /// WhatsApp numbers with their own tokens (`[[meta.whatsapp_numbers]]`).
    #[serde(default)]
    pub whatsapp_numbers: Vec<WhatsappNumber>,
    /// Messenger / Instagram pages with their own tokens (`[[meta.pages]]`).
    #[serde(default)]
    pub pages: Vec<MessengerPage>,
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            app_secret: None,
            verify_token: None,
            access_token: None,
            page_token: None,
            graph_api_base: default_graph_base(),
            graph_api_version: default_graph_version(),
            whatsapp_numbers: Vec::new(),
            pages: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappNumber {
    pub phone_number_id: String,
    /// Falls back to `meta.access_token`.
    #[serde(default)]
    pub access_token: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessengerPage {
    pub page_id: String,
    /// Falls back to `meta.page_token`.
    #[serde(default)]
    pub page_token: Option<SecretString>,
}

/// Outbox delivery (`[sender]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SenderConfig {
    /// Concurrent sends. `VENTANA_SENDER__CONCURRENCY`.
    pub concurrency: usize,
    /// Attempts before a retryable failure becomes permanent.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt, with jitter.
    pub backoff_base_ms: u64,
    /// Longest retry delay.
    pub backoff_max_ms: u64,
    /// Minimum spacing between messages to one customer (Meta's pair rate
    /// limit is about one every 6 s) once the burst below is used up.
    pub pair_interval_ms: u64,
    /// Messages one customer may receive back to back before pacing applies.
    pub pair_burst: u32,
    /// Mark inbound WhatsApp messages as read (with typing indicator) before replying.
    pub mark_read: bool,
    /// How long a claimed row may stay in flight before it counts as
    /// interrupted; keep it above `request_timeout_ms`, or a slow send that
    /// then succeeds is first reported as interrupted.
    pub lease_ms: u64,
    /// Time limit for one Graph API request. A request that got no answer
    /// in time may have reached Meta: its row becomes `unknown`, never sent
    /// again. `VENTANA_SENDER__REQUEST_TIMEOUT_MS`.
    pub request_timeout_ms: u64,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            max_attempts: 8,
            backoff_base_ms: 500,
            backoff_max_ms: 5 * 60 * 1000,
            pair_interval_ms: 6_000,
            pair_burst: 5,
            mark_read: true,
            lease_ms: 60_000,
            request_timeout_ms: 30_000,
        }
    }
}

fn default_graph_base() -> String {
    "https://graph.facebook.com".to_owned()
}
fn default_graph_version() -> String {
    "v23.0".to_owned()
}
