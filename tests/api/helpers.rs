//! Test harness: the real application on port 0 with a fresh database
//! (SQLite file or PostgreSQL schema), an in-process fake Graph API, and
//! helpers that sign webhooks the way Meta does.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use ventana::channels::signature::sign;
use ventana::config::{ApiToken, Config, Role};
use ventana::conversation::Clock;
use ventana::http::AppState;
use ventana::startup::Application;
use ventana::testkit::fake_graph::FakeGraph;

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const WA_TOKEN: &str = "test-wa-token";
pub const PAGE_TOKEN: &str = "test-page-token";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs each named test once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($db:ident: Db) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let $db = $crate::helpers::Db::Sqlite;
                    $body
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let $db = $crate::helpers::Db::Postgres;
                    $body
                }
            }
        )*
    };
}

/// PostgreSQL server used by the tests (CI starts the machine's local one).
pub fn postgres_admin_url() -> String {
    std::env::var("VENTANA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database(db: Db, dir: &std::path::Path) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}", dir.join("ventana.db").display()),
        Db::Postgres => {
            use sqlx::Connection;
            let admin = postgres_admin_url();
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("PostgreSQL must be running for the test suite (see .ci/run)");
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .await
                .expect("creating a test schema");
            let sep = if admin.contains('?') { '&' } else { '?' };
            format!("{admin}{sep}options=-c%20search_path%3D{schema}")
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub graph: FakeGraph,
    pub state: AppState,
    /// The app's clock (manual when the test gave a start time).
    pub clock: Clock,
    pub database_url: String,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// Options for [`TestApp::spawn_with`].
pub struct Options {
    pub db: Db,
    /// `None`: the system clock; `Some(t)`: a manual clock starting at `t`.
    pub start_at: Option<DateTime<Utc>>,
    pub app_secret: Option<&'static str>,
    /// Extra adjustments to the configuration.
    pub configure: Box<dyn FnOnce(&mut Config) + Send>,
}

impl Options {
    pub fn new(db: Db) -> Self {
        Options {
            db,
            start_at: None,
            app_secret: Some(APP_SECRET),
            configure: Box::new(|_| {}),
        }
    }
}

/// A private copy of the repository's demo knowledge base (edits never
/// touch the repository).
pub fn demo_knowledge_copy() -> tempfile::TempDir {
    let kb = tempfile::tempdir().expect("temp dir");
    copy_dir(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge")),
        kb.path(),
    );
    kb
}

/// Copies a directory's files and subdirectories into an existing one.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("source directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            std::fs::create_dir_all(&target).expect("create directory");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Bearer tokens for `auth.tokens`, stored hashed: (name, role, token).
pub fn api_tokens(tokens: &[(&str, Role, &str)]) -> Vec<ApiToken> {
    tokens
        .iter()
        .map(|(name, role, token)| ApiToken {
            name: (*name).into(),
            role: *role,
            sha256: ventana::http::auth::hash_token(token),
        })
        .collect()
}

/// The configuration every test starts from: everything local.
pub fn test_config(
    dir: &std::path::Path,
    database_url: &str,
    graph_base: &str,
    app_secret: Option<&str>,
) -> Config {
    let mut env = vec![
        ("VENTANA_LISTEN".to_string(), "127.0.0.1:0".to_string()),
        (
            "VENTANA_DATA_DIR".into(),
            dir.join("data").display().to_string(),
        ),
        ("VENTANA_DATABASE_URL".into(), database_url.to_string()),
        (
            "VENTANA_KNOWLEDGE_DIR".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge").into(),
        ),
        (
            "VENTANA_PROMPTS_DIR".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/prompts").into(),
        ),
        ("VENTANA_META__VERIFY_TOKEN".into(), VERIFY_TOKEN.into()),
        ("VENTANA_META__ACCESS_TOKEN".into(), WA_TOKEN.into()),
        ("VENTANA_META__PAGE_TOKEN".into(), PAGE_TOKEN.into()),
        (
            "VENTANA_META__GRAPH_API_BASE".into(),
            graph_base.to_string(),
        ),
        ("VENTANA_PIPELINE__QUIET_PERIOD_MS".into(), "0".into()),
        ("VENTANA_SENDER__BACKOFF_BASE_MS".into(), "20".into()),
        ("VENTANA_SENDER__BACKOFF_MAX_MS".into(), "200".into()),
    ];
    if let Some(secret) = app_secret {
        env.push(("VENTANA_META__APP_SECRET".into(), secret.into()));
    }
    Config::load_from(None, env).expect("test configuration is valid")
}

impl TestApp {
    pub async fn spawn(db: Db) -> TestApp {
        Self::spawn_with(Options::new(db)).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let graph = FakeGraph::start().await;
        let database_url = fresh_database(options.db, dir.path()).await;
        let mut config = test_config(
            dir.path(),
            &database_url,
            &graph.base_url(),
            options.app_secret,
        );
        (options.configure)(&mut config);
        let clock = match options.start_at {
            Some(t) => Clock::manual(t),
            None => Clock::system(),
        };
        let app = Application::build_with_clock(config, clock.clone())
            .await
            .expect("the app builds");
        let address = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        TestApp {
            address,
            client: reqwest::Client::new(),
            graph,
            state,
            clock,
            database_url,
            shutdown,
            server: Some(server),
            _dir: dir,
        }
    }

    /// POSTs `body` to a webhook path, signed with the app secret.
    pub async fn post_signed(&self, path: &str, body: &[u8]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sign(APP_SECRET.as_bytes(), body))
            .body(body.to_vec())
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_whatsapp(&self, body: &Value) -> reqwest::Response {
        self.post_signed("/webhooks/whatsapp", body.to_string().as_bytes())
            .await
    }

    pub async fn post_messenger(&self, body: &Value) -> reqwest::Response {
        self.post_signed("/webhooks/messenger", body.to_string().as_bytes())
            .await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    /// Rows in a table (counts what was stored).
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.state.store.pool())
            .await
            .expect("count query")
    }

    pub async fn scalar_i64(&self, sql: &str) -> Option<i64> {
        sqlx::query_scalar(sql)
            .fetch_one(self.state.store.pool())
            .await
            .expect("scalar query")
    }

    pub async fn scalar_str(&self, sql: &str) -> Option<String> {
        sqlx::query_scalar(sql)
            .fetch_one(self.state.store.pool())
            .await
            .expect("scalar query")
    }

    /// Waits until `check` holds, polling; panics with `what` after `timeout`.
    pub async fn eventually<F, Fut>(&self, what: &str, timeout: Duration, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check().await {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for: {what}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the app gracefully and waits for it.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("clean shutdown");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
