//! Escalations and timers at scale: 100,000 open escalations, each with
//! pending timers, on SQLite and on PostgreSQL. Measures how late due timers
//! fire (2,000 breaches coming due over 3 seconds while the rest wait;
//! lateness = fired_at − due_at, target p99 < 1 s) and the agents' list query
//! (`list_escalations` for one queue, waiting, 50 rows; target p99 < 20 ms).
//!
//! `cargo bench --bench escalations` (PostgreSQL at
//! `VENTANA_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! skipped when unreachable).

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;
use ventana::case::{CaseTimers, Scheduler, SchedulerTexts};
use ventana::conversation::Clock;
use ventana::escalation::EscalationConfig;
use ventana::store::{EscalationFilter, EscalationState, Store, to_ms};
use ventana::wakeups::Wakeups;

const ESCALATIONS: usize = 100_000;
const DUE: usize = 2_000;
const DUE_SPREAD: Duration = Duration::seconds(3);
const QUEUES: [&str; 5] = ["support", "billing", "returns", "tech", "sales"];
const ROWS_PER_STATEMENT: usize = 200;
const ROWS_PER_TRANSACTION: usize = 20_000;
const LIST_QUERIES: usize = 500;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    println!("machine: {}", machine());
    let dir = tempfile::tempdir()?;
    run(
        "SQLite",
        &format!("sqlite://{}", dir.path().join("bench.db").display()),
    )
    .await?;
    match postgres_url().await {
        Ok(url) => run("PostgreSQL", &url).await?,
        Err(e) => println!("PostgreSQL: skipped ({e})"),
    }
    Ok(())
}

async fn run(name: &str, url: &str) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    let t = Instant::now();
    insert(&store, Utc::now() + Duration::days(2)).await?;
    println!(
        "{name}: inserted {ESCALATIONS} conversations, escalations and {} timers in {:.1} s",
        ESCALATIONS * 2,
        t.elapsed().as_secs_f64()
    );

    let policies = Arc::new(
        EscalationConfig::default()
            .policies()
            .map_err(anyhow::Error::msg)?,
    );
    let handler = CaseTimers::new(
        policies,
        Arc::new(SchedulerTexts::defaults()),
        Arc::new(Wakeups::default()),
    );
    let scheduler = Scheduler::new(store.clone(), Arc::new(handler), Clock::system());
    // Fresh planner statistics, as autovacuum would have after a bulk load.
    if url.starts_with("postgres") {
        sqlx::query("ANALYZE").execute(store.pool()).await?;
    }
    // The first DUE breaches come due over DUE_SPREAD from two seconds on.
    let start = to_ms(Utc::now()) + 2_000;
    let mut tx = store.begin_write().await?;
    sqlx::query("UPDATE escalations SET deadline_at = $1 + (id - 1) * $2 / $3 WHERE id <= $3")
        .bind(start)
        .bind(DUE_SPREAD.num_milliseconds())
        .bind(DUE as i64)
        .execute(&mut *tx.tx)
        .await?;
    sqlx::query(
        "UPDATE timers SET due_at = $1 + (escalation_id - 1) * $2 / $3, payload = NULL \
         WHERE kind = 'sla_breach' AND escalation_id <= $3",
    )
    .bind(start)
    .bind(DUE_SPREAD.num_milliseconds())
    .bind(DUE as i64)
    .execute(&mut *tx.tx)
    .await?;
    tx.commit().await?;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(scheduler.run(shutdown.clone()));
    let waited = Instant::now();
    loop {
        let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM timers WHERE state = 'done'")
            .fetch_one(store.pool())
            .await?;
        if done as usize >= DUE {
            break;
        }
        anyhow::ensure!(
            waited.elapsed() < StdDuration::from_secs(120),
            "only {done} of {DUE} timers fired"
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    shutdown.cancel();
    worker.await?;
    let mut lateness: Vec<i64> =
        sqlx::query_scalar("SELECT fired_at - due_at FROM timers WHERE state = 'done' ORDER BY id")
            .fetch_all(store.pool())
            .await?;
    lateness.sort_unstable();
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM timers WHERE state = 'pending'")
        .fetch_one(store.pool())
        .await?;
    println!(
        "{name}: {} timers fired ({pending} still pending), lateness p50 {} ms, p99 {} ms, max {} ms",
        lateness.len(),
        percentile(&lateness, 50),
        percentile(&lateness, 99),
        lateness.last().copied().unwrap_or_default()
    );

    let mut micros = Vec::with_capacity(LIST_QUERIES);
    for i in 0..LIST_QUERIES {
        let filter = EscalationFilter {
            queue: Some(QUEUES[i % QUEUES.len()].to_owned()),
            state: Some(EscalationState::Waiting),
            include_resolved: false,
            limit: 50,
        };
        let t = Instant::now();
        let rows = store.list_escalations(&filter).await?;
        micros.push(t.elapsed().as_micros() as i64);
        anyhow::ensure!(rows.len() == 50, "expected 50 rows, got {}", rows.len());
    }
    micros.sort_unstable();
    println!(
        "{name}: list_escalations(queue, waiting, 50) over {LIST_QUERIES} queries: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&micros, 50) as f64 / 1000.0,
        percentile(&micros, 99) as f64 / 1000.0
    );
    store.close().await;
    Ok(())
}

/// Conversations, escalations (mostly waiting, deadlines over the next
/// day after `start`) and two timers each: a keep-alive and a breach.
async fn insert(store: &Store, start: DateTime<Utc>) -> anyhow::Result<()> {
    let now = to_ms(Utc::now());
    let start_ms = to_ms(start);
    let mut id = 0;
    while id < ESCALATIONS {
        let mut tx = store.begin_write().await?;
        let end = (id + ROWS_PER_TRANSACTION).min(ESCALATIONS);
        for chunk_start in (id..end).step_by(ROWS_PER_STATEMENT) {
            let ids: Vec<usize> =
                (chunk_start..(chunk_start + ROWS_PER_STATEMENT).min(end)).collect();
            let deadline = |i: usize| start_ms + (i as i64 * 7_919) % 86_400_000;

            let mut sql = String::from(
                "INSERT INTO conversations (id, channel, business_id, customer_id, customer_wa_id, \
                 last_customer_message_at, owner, lang, created_at, updated_at) VALUES ",
            );
            push_rows(&mut sql, ids.len(), 5, |_, p| {
                format!(
                    "({}, 'whatsapp', 'bench', {}, {}, {}, 'human', 'es', {}, {})",
                    p[0], p[1], p[1], p[2], p[3], p[4]
                )
            });
            let mut q = sqlx::query(&sql);
            for &i in &ids {
                q = q
                    .bind(i as i64 + 1)
                    .bind(format!("52155{i:08}"))
                    .bind(now)
                    .bind(now)
                    .bind(now);
            }
            q.execute(&mut *tx.tx).await?;

            let mut sql = String::from(
                "INSERT INTO escalations (id, conversation_id, queue, priority, reason, state, created_at, \
                 sla_due_at, deadline_at, deadline_bound, window_closes_at, updated_at) VALUES ",
            );
            push_rows(&mut sql, ids.len(), 6, |_, p| {
                format!(
                    "({}, {}, {}, 'normal', 'human', {}, {}, {}, {}, 'sla', {}, {})",
                    p[0], p[0], p[1], p[2], p[3], p[4], p[4], p[5], p[3]
                )
            });
            let mut q = sqlx::query(&sql);
            for &i in &ids {
                let state = if i % 10 == 9 { "assigned" } else { "waiting" };
                q = q
                    .bind(i as i64 + 1)
                    .bind(QUEUES[i % QUEUES.len()])
                    .bind(state)
                    .bind(now)
                    .bind(deadline(i))
                    .bind(now + 86_400_000);
            }
            q.execute(&mut *tx.tx).await?;

            let mut sql = String::from(
                "INSERT INTO timers (kind, escalation_id, conversation_id, due_at, dedupe_key, payload, created_at) VALUES ",
            );
            push_rows(&mut sql, ids.len() * 2, 5, |_, p| {
                format!(
                    "({}, {}, {}, {}, NULL, {}, {})",
                    p[0], p[1], p[1], p[2], p[3], p[4]
                )
            });
            let mut q = sqlx::query(&sql);
            for &i in &ids {
                let escalation = i as i64 + 1;
                q = q
                    .bind("sla_breach")
                    .bind(escalation)
                    .bind(deadline(i))
                    .bind(format!("{{\"deadline_ms\":{}}}", deadline(i)))
                    .bind(now);
                q = q
                    .bind("keepalive")
                    .bind(escalation)
                    .bind(start_ms + 86_400_000)
                    .bind(format!("{{\"window_closes_at_ms\":{}}}", now + 86_400_000))
                    .bind(now);
            }
            q.execute(&mut *tx.tx).await?;
        }
        tx.commit().await?;
        id = end;
    }
    Ok(())
}

/// Appends `rows` value tuples of `per_row` parameters each, numbered `$n`.
fn push_rows(
    sql: &mut String,
    rows: usize,
    per_row: usize,
    row: impl Fn(usize, &[String]) -> String,
) {
    for r in 0..rows {
        let params: Vec<String> = (0..per_row)
            .map(|k| format!("${}", r * per_row + k + 1))
            .collect();
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&row(r, &params));
    }
}

fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) * p) / 100]
}

/// A fresh schema on the local PostgreSQL server.
async fn postgres_url() -> anyhow::Result<String> {
    use sqlx::Connection;
    let admin = std::env::var("VENTANA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await?;
    let sep = if admin.contains('?') { '&' } else { '?' };
    Ok(format!("{admin}{sep}options=-c%20search_path%3D{schema}"))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!(
        "{cpu}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
