//! One typed configuration, read from a TOML file with environment overrides.
//!
//! Top-level keys are overridden by `VENTANA_<KEY>` and section keys by
//! `VENTANA_<SECTION>__<KEY>` (for example `VENTANA_META__APP_SECRET`).
//! Everything has an embedded default, so `ventana serve` with no file and no
//! variables runs on SQLite, Qdrant Edge and extractive answers. Secrets are
//! `SecretString`s: they never print, in logs or in error messages. A wrong
//! value stops the start with a message that names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Deserialize;

pub use crate::channels::config::{MessengerPage, MetaConfig, SenderConfig, WhatsappNumber};
use crate::escalation::EscalationConfig;
use crate::knowledge::{EmbeddingsConfig, QdrantConfig, RetrievalConfig};
pub use crate::llm::LlmConfig;
pub use crate::telemetry::LogFormat;

/// The whole configuration. Field docs are the reference; the README lists
/// the same keys with their environment names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on. `VENTANA_LISTEN`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the embedded Qdrant index.
    /// `VENTANA_DATA_DIR`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty means `<data_dir>/ventana.db`.
    /// `VENTANA_DATABASE_URL`.
    #[serde(default)]
    pub database_url: Option<String>,
    /// The Markdown knowledge base. `VENTANA_KNOWLEDGE_DIR`.
    #[serde(default = "default_knowledge_dir")]
    pub knowledge_dir: PathBuf,
    /// Editable prompt and reply templates. `VENTANA_PROMPTS_DIR`.
    #[serde(default = "default_prompts_dir")]
    pub prompts_dir: PathBuf,
    /// `pretty` (terminal) or `json` (production). `VENTANA_LOG_FORMAT`.
    #[serde(default)]
    pub log_format: LogFormat,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub meta: MetaConfig,
    #[serde(default)]
    pub sender: SenderConfig,
    #[serde(default)]
    pub pipeline: PipelineConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub retrieval: RetrievalConfig,
    #[serde(default)]
    pub triage: crate::triage::model::TriageConfig,
    #[serde(default)]
    pub qdrant: QdrantConfig,
    #[serde(default)]
    pub embeddings: EmbeddingsConfig,
    #[serde(default)]
    pub llm: LlmConfig,
    #[serde(default)]
    pub escalation: EscalationConfig,
    /// Signed webhooks to the business's systems (`[notifications]`).
    #[serde(default)]
    pub notifications: crate::notify::NotificationsConfig,
}

/// The HTTP listener's connection limits (`[http]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// A connection must send a whole request head within this time once it
    /// starts one, or it is closed. `VENTANA_HTTP__HEADER_READ_TIMEOUT_MS`.
    pub header_read_timeout_ms: u64,
    /// A connection with no request in flight for this long is closed.
    /// `VENTANA_HTTP__IDLE_TIMEOUT_MS`.
    pub idle_timeout_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
        }
    }
}

/// The conversation pipeline (`[pipeline]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Run the pipeline worker in this process. `VENTANA_PIPELINE__ENABLED`.
    pub enabled: bool,
    /// Quiet period that coalesces a burst of short messages into one turn;
    /// 0 answers every message at once. `VENTANA_PIPELINE__QUIET_PERIOD_MS`.
    pub quiet_period_ms: u64,
    /// Conversations processed in parallel.
    pub concurrency: usize,
    /// Previous turns given to triage and answering.
    pub context_turns: usize,
    /// How long one worker may hold a conversation before another may take
    /// it over (a worker that died mid-turn).
    pub lease_ms: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            quiet_period_ms: 1_500,
            concurrency: 8,
            context_turns: 6,
            lease_ms: 60_000,
        }
    }
}

/// API tokens (`[[auth.tokens]]`). Only SHA-256 hashes are configured; make
/// one with `ventana token hash`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Who holds the token (the agent's id in escalations).
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the bearer token.
    pub sha256: String,
}

/// What a token may do. `admin` may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Editor,
    Admin,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
fn default_knowledge_dir() -> PathBuf {
    PathBuf::from("./knowledge")
}
fn default_prompts_dir() -> PathBuf {
    PathBuf::from("./prompts")
}
/// What one turn may take beyond its remote calls: retrieval, rules and
/// reading the conversation, with room for a busy machine.
pub const TURN_LOCAL_WORK: Duration = Duration::from_secs(20);

/// `VENTANA_*` variables that are not configuration keys: the `--config`
/// file's own variable and the test suite's settings.
const NOT_CONFIG_KEYS: &[&str] = &["VENTANA_CONFIG", "VENTANA_TEST_"];

/// A configuration that could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl crate::knowledge::KnowledgeSource for Config {
    fn knowledge_settings(&self) -> crate::knowledge::KnowledgeSettings {
        crate::knowledge::KnowledgeSettings {
            knowledge_dir: self.knowledge_dir.clone(),
            data_dir: self.data_dir.clone(),
            retrieval: self.retrieval.clone(),
            embeddings: self.embeddings.clone(),
            qdrant: self.qdrant.clone(),
        }
    }
}

impl Config {
    /// Reads the optional TOML file, then `VENTANA_*` variables, and checks
    /// the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Config::load`] with an explicit environment (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "--config: file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| {
                k.starts_with("VENTANA_") && !NOT_CONFIG_KEYS.iter().any(|p| k.starts_with(p))
            })
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("VENTANA")
                .prefix_separator("_")
                .separator("__")
                .source(Some(env)),
        );
        let raw = builder
            .build()
            .map_err(|e| ConfigError(redact(e.to_string())))?;
        let config: Config = raw
            .try_deserialize()
            .map_err(|e| ConfigError(redact(e.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    /// The longest the bot may take to decide one turn: its own work
    /// ([`TURN_LOCAL_WORK`]) plus every remote call it makes in a turn
    /// running into its time limit: one query embedding, then the triage
    /// and the answer completions. The pipeline abandons a turn only past
    /// this, so a slow model always ends in the bot's own fall-back first.
    pub fn turn_time_limit(&self) -> Duration {
        let mut limit = TURN_LOCAL_WORK;
        if self.llm.endpoint().is_some() {
            limit += 2 * Duration::from_millis(self.llm.timeout_ms);
        }
        if self.embeddings.base_url.is_some() {
            limit += self.embeddings.query_timeout_ms.map_or(
                crate::knowledge::dense::QUERY_TIMEOUT,
                Duration::from_millis,
            );
        }
        limit
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match self.database_url.as_deref() {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => format!("sqlite://{}", self.data_dir.join("ventana.db").display()),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = self.database_url();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "database_url (VENTANA_DATABASE_URL): must start with sqlite: or postgres://"
                    .into(),
            ));
        }
        if !self.meta.graph_api_base.starts_with("http://")
            && !self.meta.graph_api_base.starts_with("https://")
        {
            return Err(ConfigError(
                "meta.graph_api_base (VENTANA_META__GRAPH_API_BASE): must be an http(s) URL".into(),
            ));
        }
        if !self.meta.graph_api_version.starts_with('v') {
            return Err(ConfigError(
                "meta.graph_api_version (VENTANA_META__GRAPH_API_VERSION): must look like v23.0"
                    .into(),
            ));
        }
        for (i, token) in self.auth.tokens.iter().enumerate() {
            let ok =
                token.sha256.len() == 64 && token.sha256.chars().all(|c| c.is_ascii_hexdigit());
            if !ok {
                return Err(ConfigError(format!(
                    "auth.tokens[{i}].sha256: must be 64 hex characters (use `ventana token hash`)"
                )));
            }
        }
        if self.http.header_read_timeout_ms == 0 || self.http.idle_timeout_ms == 0 {
            return Err(ConfigError(
                "http.header_read_timeout_ms / http.idle_timeout_ms: must be above 0".into(),
            ));
        }
        if self.llm.base_url.is_some() && self.llm.model.is_none() {
            return Err(ConfigError(
                "llm.model (VENTANA_LLM__MODEL): required when llm.base_url is set".into(),
            ));
        }
        for secret in [&self.meta.app_secret, &self.meta.verify_token] {
            if let Some(s) = secret
                && s.expose_secret().is_empty()
            {
                return Err(ConfigError("meta: secrets may not be empty strings".into()));
            }
        }
        self.retrieval.validate().map_err(ConfigError)?;
        self.embeddings.validate().map_err(ConfigError)?;
        self.escalation.validate().map_err(ConfigError)?;
        Ok(())
    }
}

/// Deserialization errors quote the offending value; for secrets that would
/// leak them, so values are cut from every message.
fn redact(message: String) -> String {
    // config-rs formats type errors as `invalid type: string "VALUE", expected ...`.
    let mut out = String::with_capacity(message.len());
    let mut in_quote = false;
    for c in message.chars() {
        match c {
            '"' if !in_quote => {
                in_quote = true;
                out.push_str("\"…");
            }
            '"' => {
                in_quote = false;
                out.push('"');
            }
            _ if in_quote => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_nothing() {
        let config = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(config.database_url().starts_with("sqlite://"));
        assert!(config.meta.app_secret.is_none());
    }

    #[test]
    fn environment_overrides_top_level_and_sections() {
        let config = Config::load_from(
            None,
            env(&[
                ("VENTANA_LISTEN", "0.0.0.0:9000"),
                ("VENTANA_DATA_DIR", "/tmp/x"),
                ("VENTANA_META__APP_SECRET", "12345"),
                ("VENTANA_META__GRAPH_API_VERSION", "v99.0"),
                ("VENTANA_PIPELINE__QUIET_PERIOD_MS", "0"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.meta.app_secret.unwrap().expose_secret(), "12345");
        assert_eq!(config.meta.graph_api_version, "v99.0");
        assert_eq!(config.pipeline.quiet_period_ms, 0);
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:7000\"\n[meta]\nverify_token = \"file\"\n[[meta.whatsapp_numbers]]\nphone_number_id = \"111\"\naccess_token = \"t1\"\n",
        )
        .unwrap();
        let config =
            Config::load_from(Some(&path), env(&[("VENTANA_META__VERIFY_TOKEN", "env")])).unwrap();
        assert_eq!(config.listen.port(), 7000);
        assert_eq!(config.meta.verify_token.unwrap().expose_secret(), "env");
        assert_eq!(config.meta.whatsapp_numbers[0].phone_number_id, "111");
    }

    #[test]
    fn invalid_value_names_the_key_and_hides_secrets() {
        let err =
            Config::load_from(None, env(&[("VENTANA_LISTEN", "not-an-address")])).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let err = Config::load_from(None, env(&[("VENTANA_DATABASE_URL", "mysql://secret@x")]))
            .unwrap_err();
        assert!(err.to_string().contains("database_url"), "{err}");
        assert!(!err.to_string().contains("secret@"), "{err}");
    }

    #[test]
    fn the_config_file_variable_is_not_a_key() {
        let config = Config::load_from(
            None,
            env(&[
                ("VENTANA_CONFIG", "/nonexistent.toml"),
                ("VENTANA_TEST_X", "1"),
            ]),
        );
        assert!(config.is_ok(), "{:?}", config.err());
    }

    #[test]
    fn secrets_do_not_print() {
        let config =
            Config::load_from(None, env(&[("VENTANA_META__APP_SECRET", "hunter2")])).unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_example_configuration_loads() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/ventana.example.toml"));
        let config =
            Config::load_from(Some(path), Vec::new()).expect("ventana.example.toml is valid");
        assert_eq!(config.sender.pair_interval_ms, 6000);
    }
}
