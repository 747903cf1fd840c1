//! Intake benchmark: signed webhooks with unique message ids against the
//! real `ventana` binary on SQLite, beside a bare axum endpoint that only
//! answers 200 (the ceiling), measured in the same run.
//!
//! `cargo bench --bench intake` prints, for each server: acknowledged
//! messages per second at full speed, p50/p99 acknowledgement latency at a
//! fixed rate, and the service's peak resident memory. Options (env):
//! `BENCH_SECONDS` (default 10), `BENCH_RATE` (default 1000),
//! `BENCH_CONCURRENCY` (default 32).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ventana::channels::signature::sign;

const SECRET: &str = "bench-secret";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--serve-ceiling") {
        return serve_ceiling();
    }
    let seconds = env_u64("BENCH_SECONDS", 10);
    let rate = env_u64("BENCH_RATE", 1000);
    let concurrency = env_u64("BENCH_CONCURRENCY", 32) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;

    println!("machine: {} cores, {}", num_cpus(), cpu_model());
    println!(
        "duration {seconds}s per phase, fixed rate {rate}/s, {concurrency} connections at full speed\n"
    );

    let ceiling = Server::ceiling()?;
    let ceiling_report = runtime.block_on(measure(&ceiling, seconds, rate, concurrency))?;
    print_report("bare axum (200 only)", &ceiling_report, None);
    drop(ceiling);

    let dir = tempfile::tempdir()?;
    let service = Server::ventana(dir.path())?;
    let report = runtime.block_on(measure(&service, seconds, rate, concurrency))?;
    let stored = count_messages(dir.path())?;
    print_report("ventana (SQLite, durable)", &report, service.peak_rss_kib());
    println!(
        "  stored messages: {stored} (acknowledged {}), every acknowledged message is in the database: {}",
        report.acked_total,
        // A request the client gave up on may still have been stored:
        // more stored than acknowledged loses nothing, fewer would.
        stored >= report.acked_total
    );
    Ok(())
}

struct Report {
    full_speed_per_sec: f64,
    full_p50_ms: f64,
    full_p99_ms: f64,
    fixed_p50_ms: f64,
    fixed_p99_ms: f64,
    fixed_achieved: f64,
    errors: u64,
    acked_total: u64,
}

fn print_report(name: &str, r: &Report, rss_kib: Option<u64>) {
    println!("{name}");
    println!(
        "  full speed: {:.0} acknowledged messages/s (p50 {:.2} ms, p99 {:.2} ms)",
        r.full_speed_per_sec, r.full_p50_ms, r.full_p99_ms
    );
    println!(
        "  fixed rate: {:.0} messages/s achieved, acknowledgement latency p50 {:.2} ms, p99 {:.2} ms",
        r.fixed_achieved, r.fixed_p50_ms, r.fixed_p99_ms
    );
    println!("  errors: {}", r.errors);
    if let Some(kib) = rss_kib {
        println!("  peak resident memory: {:.1} MB", kib as f64 / 1024.0);
    }
}

/// A server under test, in its own process.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn ceiling() -> anyhow::Result<Server> {
        let port = free_port()?;
        let child = Command::new(std::env::current_exe()?)
            .arg("--serve-ceiling")
            .env("CEILING_PORT", port.to_string())
            .stdout(Stdio::null())
            .spawn()?;
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}/webhooks/whatsapp"),
        };
        server.wait_ready(&format!("http://127.0.0.1:{port}/healthz"))?;
        Ok(server)
    }

    fn ventana(dir: &std::path::Path) -> anyhow::Result<Server> {
        let port = free_port()?;
        let child = Command::new(env!("CARGO_BIN_EXE_ventana"))
            .arg("serve")
            .env("VENTANA_LISTEN", format!("127.0.0.1:{port}"))
            .env("VENTANA_DATA_DIR", dir.join("data"))
            .env(
                "VENTANA_KNOWLEDGE_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge"),
            )
            .env("VENTANA_META__APP_SECRET", SECRET)
            .env("VENTANA_META__GRAPH_API_BASE", "http://127.0.0.1:9")
            // Intake alone: the pipeline would compete for the same 2 cores.
            .env("VENTANA_PIPELINE__ENABLED", "false")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}/webhooks/whatsapp"),
        };
        server.wait_ready(&format!("http://127.0.0.1:{port}/healthz"))?;
        Ok(server)
    }

    fn wait_ready(&self, health: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = reqwest::blocking::Client::new();
        while Instant::now() < deadline {
            if client
                .get(health)
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        anyhow::bail!("server at {health} did not become ready")
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A signed single-message WhatsApp delivery with a unique wamid.
fn next_delivery() -> (Vec<u8>, String) {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let customer = format!("52155{:08}", n % 1000);
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Cliente"}, "wa_id": customer}],
            "messages": [{"from": customer, "id": format!("wamid.bench.{n}"), "timestamp": "1767225600",
                          "type": "text", "text": {"body": "hola, cuanto cuesta el envio a monterrey?"}}]
        }}]}]
    })
    .to_string()
    .into_bytes();
    let signature = sign(SECRET.as_bytes(), &body);
    (body, signature)
}

async fn post(client: &reqwest::Client, url: &str) -> Result<Duration, ()> {
    let (body, signature) = next_delivery();
    let started = Instant::now();
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .map_err(|_| ())?;
    if response.status() != 200 {
        return Err(());
    }
    let _ = response.bytes().await;
    Ok(started.elapsed())
}

async fn measure(
    server: &Server,
    seconds: u64,
    rate: u64,
    concurrency: usize,
) -> anyhow::Result<Report> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;
    let errors = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));

    // Warm-up.
    for _ in 0..200 {
        let _ = post(&client, &server.url).await;
        acked.fetch_add(1, Ordering::Relaxed);
    }

    // Full speed: closed loop, `concurrency` connections.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = server.url.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                match post(&client, &url).await {
                    Ok(d) => latencies.push(d),
                    Err(()) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut full = Vec::new();
    for t in tasks {
        full.extend(t.await?);
    }
    let full_elapsed = started.elapsed().as_secs_f64();
    acked.fetch_add(full.len() as u64, Ordering::Relaxed);

    // Fixed rate: open loop; latency counts from the scheduled send time.
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut handles = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = started + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let client = client.clone();
        let url = server.url.clone();
        let errors = errors.clone();
        handles.push(tokio::spawn(async move {
            match post(&client, &url).await {
                Ok(_) => Some(scheduled.elapsed()),
                Err(()) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    None
                }
            }
        }));
    }
    let mut fixed = Vec::new();
    for h in handles {
        if let Some(d) = h.await? {
            fixed.push(d);
        }
    }
    let fixed_elapsed = started.elapsed().as_secs_f64();
    acked.fetch_add(fixed.len() as u64, Ordering::Relaxed);

    Ok(Report {
        full_speed_per_sec: full.len() as f64 / full_elapsed,
        full_p50_ms: percentile(&mut full, 0.50),
        full_p99_ms: percentile(&mut full, 0.99),
        fixed_achieved: fixed.len() as f64 / fixed_elapsed,
        fixed_p50_ms: percentile(&mut fixed, 0.50),
        fixed_p99_ms: percentile(&mut fixed, 0.99),
        errors: errors.load(Ordering::Relaxed),
        acked_total: acked.load(Ordering::Relaxed) - errors.load(Ordering::Relaxed).min(200),
    })
}

fn percentile(values: &mut [Duration], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable();
    let index = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[index].as_secs_f64() * 1000.0
}

fn count_messages(dir: &std::path::Path) -> anyhow::Result<u64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let url = format!("sqlite://{}", dir.join("data/ventana.db").display());
        let store = ventana::store::Store::connect(&url).await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
            .fetch_one(store.pool())
            .await?;
        Ok(n as u64)
    })
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The ceiling: a bare axum endpoint that reads the body and answers 200.
fn serve_ceiling() -> anyhow::Result<()> {
    let port: u16 = std::env::var("CEILING_PORT")?.parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = axum::Router::new()
            .route(
                "/webhooks/whatsapp",
                axum::routing::post(|_body: axum::body::Bytes| async { "EVENT_RECEIVED" }),
            )
            .route("/healthz", axum::routing::get(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}
