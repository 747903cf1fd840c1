//! Durable state on SQLite (embedded default, WAL) or PostgreSQL.
//!
//! Both backends share one schema (`migrations/sqlite`, `migrations/postgres`)
//! and the same SQL: times are Unix milliseconds in `BIGINT` columns,
//! parameters are `$n`, upserts use `ON CONFLICT`. The few statements that
//! differ (row claiming) branch on [`Backend`]. SQLite allows one writer at a
//! time, so on SQLite every write transaction first takes an in-process lock:
//! writers queue in Rust instead of failing with `SQLITE_BUSY`.

pub(crate) mod agent;
mod claim;
mod conversations;
pub mod escalations;
pub(crate) mod idempotency;
mod intake;
mod intake_batch;
mod intake_sql;
pub(crate) mod labelled;
pub(crate) mod notifications;
mod outbox;
pub(crate) mod timers;
mod turns;
mod unanswered;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use conversations::{
    ConversationRow, Owner, conversation_in, mark_window_closed, open_free_entry, set_owner,
};
pub use escalations::{
    EscalationEvent, EscalationFilter, EscalationRow, EscalationState, NewEscalation,
};
pub use intake::{IngestOutcome, NewDelivery};
pub use intake_batch::{GroupCommit, IntakeQueue, IntakeWriter};
pub use outbox::{
    NewOutbound, OutboxRow, OutboxState, SendFailure, agent_replied_since, count_held, enqueue,
    release_held,
};
pub use timers::{NewTimer, TimerRow};
pub use turns::{NewTurn, PendingMessage, TurnRecord, record_turn, set_turn_reply};
pub use unanswered::Asked;

/// How long a request waits for a pooled connection before failing; a
/// healthy pool answers in microseconds, so seconds mean the database is gone.
const POOL_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite waits this long for a lock held by another process (e.g. `ventana kb`
/// next to a running server) before reporting busy.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle: cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite's single-writer lock; `None` on PostgreSQL.
    write_lock: Option<Arc<Mutex<()>>>,
    /// The group-commit queue for webhook intake, when a writer runs
    /// ([`Store::with_group_commit`]).
    intake: Option<IntakeQueue>,
}

/// A write transaction; on SQLite it also holds the writer lock.
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }
}

impl Store {
    /// Connects, creating the SQLite file if needed, and runs migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let pool = match backend {
            Backend::Sqlite => {
                let url = sqlite_url_with_create(url)?;
                let options =
                    AnyConnectOptions::from_str(&url).context("parsing the SQLite URL")?;
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // WAL lets readers run beside the writer; NORMAL sync in
                            // WAL mode survives a process crash (the case we promise:
                            // "acknowledged means stored") and costs no fsync per commit.
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute(
                                format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").as_str(),
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .context("opening the SQLite database")?
            }
            Backend::Postgres => {
                let options =
                    AnyConnectOptions::from_str(url).context("parsing the PostgreSQL URL")?;
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .context("connecting to PostgreSQL")?
            }
        };
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .context("running database migrations")?;
        Ok(Store {
            pool,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            intake: None,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a write transaction (serialized with other writers on SQLite).
    ///
    /// On SQLite the transaction starts with `BEGIN IMMEDIATE`: it takes the
    /// database's write lock before its first read, so a transaction that
    /// reads and then writes can never fail with `SQLITE_BUSY_SNAPSHOT`
    /// (517) because another connection (a `ventana kb` next to the server)
    /// wrote in between; a busy database is waited for (`busy_timeout`).
    pub async fn begin_write(&self) -> sqlx::Result<WriteTx> {
        let guard = self.writer().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _guard: guard })
    }

    /// The writer lock for a single auto-committed statement: every write,
    /// even one statement outside a transaction, queues behind the other
    /// writers on SQLite instead of meeting them as "database is locked".
    /// `None` on PostgreSQL, which has row locks.
    pub(crate) async fn writer(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Unix milliseconds, the storage format of every time column.
pub fn to_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Makes sure the SQLite file's directory exists and the URL asks sqlx to
/// create the file.
fn sqlite_url_with_create(url: &str) -> anyhow::Result<String> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        anyhow::bail!(
            "database_url: SQLite needs a file path (in-memory databases are not durable)"
        );
    }
    if let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(if url.contains('?') {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    })
}
