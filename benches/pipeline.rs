//! Pipeline benchmark: time from the webhook's acknowledgement to the Graph
//! API send request, at a steady rate of new conversations, quiet period 0.
//!
//! `cargo bench --bench pipeline` runs two phases against the real
//! application (SQLite, Qdrant Edge, the demo knowledge base) and in-process
//! fakes of the Graph API and an OpenAI-compatible server:
//! 1. no LLM (rules + extractive answers): p50/p99 ack → send;
//! 2. a fake LLM that answers every call in a fixed 300 ms: p50/p99 of the
//!    latency added over the LLM's own time (end to end minus the LLM calls
//!    of the turn times 300 ms).
//!
//! Each phase also prints the process's CPU time (all threads, from
//! `/proc/self/stat`) over its wall time: the cost of the work, and of any
//! polling while turns wait on the LLM.
//!
//! Options (env): `BENCH_RATE` (default 200 conversations/s),
//! `BENCH_SECONDS` (default 10).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use ventana::channels::signature::sign;
use ventana::config::Config;
use ventana::startup::Application;
use ventana::testkit::fake_graph::FakeGraph;
use ventana::testkit::fake_openai::{FakeOpenAi, Script};

const SECRET: &str = "bench-secret";
const LLM_DELAY: Duration = Duration::from_millis(300);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let rate = env_u64("BENCH_RATE", 200);
    let seconds = env_u64("BENCH_SECONDS", 10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "machine: {} cores; {rate} new conversations/s for {seconds}s per phase; quiet period 0\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    runtime.block_on(async {
        let plain = run_phase(rate, seconds, None).await?;
        println!("no LLM (rules + extractive)");
        print_latencies("ack → Graph send", &plain.latencies_ms);
        println!("  replies: {}/{}", plain.latencies_ms.len(), plain.sent);
        plain.print_cpu();
        println!();

        let llm = FakeOpenAi::start().await;
        llm.set_default(Script::slow(
            LLM_DELAY,
            Script::Compute(Arc::new(fake_llm_answer)),
        ));
        let with_llm = run_phase(rate, seconds, Some(llm.base_url())).await?;
        // LLM calls per turn, per question (a greeting needs one call, a
        // question two: triage and the answer), from what the fake received.
        let requests: Vec<String> = llm.chat_requests().iter().map(|r| r.to_string()).collect();
        let turns_per_question = with_llm.latencies_ms.len() as f64 / QUESTIONS.len() as f64;
        let calls: Vec<f64> = QUESTIONS
            .iter()
            .map(|q| requests.iter().filter(|r| r.contains(q)).count() as f64 / turns_per_question)
            .collect();
        println!(
            "fake LLM answering in {} ms per call ({} calls per turn by question)",
            LLM_DELAY.as_millis(),
            calls
                .iter()
                .map(|c| format!("{c:.1}"))
                .collect::<Vec<_>>()
                .join("/")
        );
        print_latencies("ack → Graph send", &with_llm.latencies_ms);
        let added: Vec<f64> = with_llm
            .latencies_ms
            .iter()
            .zip(&with_llm.questions)
            .map(|(l, q)| l - calls[*q].round() * LLM_DELAY.as_secs_f64() * 1000.0)
            .collect();
        print_latencies("added over the LLM's own time", &added);
        println!(
            "  replies: {}/{}",
            with_llm.latencies_ms.len(),
            with_llm.sent
        );
        with_llm.print_cpu();
        anyhow::Ok(())
    })?;
    Ok(())
}

/// Triage requests ask for JSON; answer requests get a short grounded text.
fn fake_llm_answer(body: &Value) -> String {
    if body.get("response_format").is_some() || body.to_string().contains("\\\"class\\\"") {
        json!({"class": "faq", "confidence": 0.9, "language": "es", "reason": "question covered by the knowledge base"}).to_string()
    } else {
        "Con gusto te ayudo, esto es lo que indica nuestro centro de ayuda sobre tu pregunta."
            .to_owned()
    }
}

struct Phase {
    latencies_ms: Vec<f64>,
    /// The question index of each latency.
    questions: Vec<usize>,
    sent: usize,
    /// CPU seconds of the whole process (server, fakes and load generator)
    /// and wall seconds, from the first request to the last reply.
    cpu_s: f64,
    wall_s: f64,
}

impl Phase {
    fn print_cpu(&self) {
        println!(
            "  process CPU: {:.1} s over {:.1} s ({:.2} cores busy)",
            self.cpu_s,
            self.wall_s,
            self.cpu_s / self.wall_s
        );
    }
}

/// User plus system CPU time of this process, all threads, in seconds
/// (`/proc/self/stat` counts in USER_HZ, 100 per second on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses: utime and
    // stime are the 12th and 13th of them.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

const QUESTIONS: [&str; 6] = [
    "cuanto cuesta el envio a monterrey?",
    "como pago en oxxo",
    "puedo devolver unos tenis que me quedaron chicos?",
    "a que hora abren la tienda de guadalajara",
    "como facturo mi compra",
    "hola buenas tardes",
];

async fn run_phase(rate: u64, seconds: u64, llm: Option<String>) -> anyhow::Result<Phase> {
    let dir = tempfile::tempdir()?;
    let graph = FakeGraph::start().await;
    let mut env = vec![
        ("VENTANA_LISTEN".to_string(), "127.0.0.1:0".to_string()),
        (
            "VENTANA_DATA_DIR".into(),
            dir.path().join("data").display().to_string(),
        ),
        (
            "VENTANA_KNOWLEDGE_DIR".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge").into(),
        ),
        (
            "VENTANA_PROMPTS_DIR".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/prompts").into(),
        ),
        ("VENTANA_META__APP_SECRET".into(), SECRET.into()),
        ("VENTANA_META__ACCESS_TOKEN".into(), "bench-token".into()),
        ("VENTANA_META__GRAPH_API_BASE".into(), graph.base_url()),
        ("VENTANA_PIPELINE__QUIET_PERIOD_MS".into(), "0".into()),
        ("VENTANA_PIPELINE__CONCURRENCY".into(), "256".into()),
        ("VENTANA_SENDER__CONCURRENCY".into(), "64".into()),
    ];
    if let Some(base) = llm {
        env.push(("VENTANA_LLM__BASE_URL".into(), base));
        env.push(("VENTANA_LLM__MODEL".into(), "fake".into()));
        env.push(("VENTANA_LLM__TIMEOUT_MS".into(), "5000".into()));
    }
    let config = Config::load_from(None, env)?;
    let app = Application::build(config).await?;
    let url = format!("http://{}/webhooks/whatsapp", app.local_addr());
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(stop.clone()));
    let client = reqwest::Client::new();

    let questions = QUESTIONS;
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now();
    let cpu_at_start = cpu_seconds();
    let mut acks = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until(start + interval * i as u32).await;
        let customer = format!("52199{i:07}");
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                "contacts": [{"profile": {"name": "Cliente"}, "wa_id": customer}],
                "messages": [{"from": customer, "id": format!("wamid.pipe.{i}"), "timestamp": Utc::now().timestamp().to_string(),
                              "type": "text", "text": {"body": questions[i % questions.len()]}}]
            }}]}]
        })
        .to_string();
        let client = client.clone();
        let url = url.clone();
        acks.push(tokio::spawn(async move {
            let response = client
                .post(&url)
                .header(
                    "x-hub-signature-256",
                    sign(SECRET.as_bytes(), body.as_bytes()),
                )
                .body(body)
                .send()
                .await
                .ok()?;
            (response.status() == 200).then(|| (customer, Utc::now()))
        }));
    }
    let mut acked: HashMap<String, DateTime<Utc>> = HashMap::new();
    for a in acks {
        if let Some((customer, at)) = a.await? {
            acked.insert(customer, at);
        }
    }
    // Wait for the replies to drain.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let replies = graph
            .requests()
            .iter()
            .filter(|r| r.body["type"] == "text")
            .count();
        if replies >= acked.len() || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_s = cpu_seconds() - cpu_at_start;
    let wall_s = start.elapsed().as_secs_f64();
    let mut latencies_ms = Vec::new();
    let mut question_of = Vec::new();
    for request in graph.requests().iter().filter(|r| r.body["type"] == "text") {
        let Some(to) = request.body["to"].as_str() else {
            continue;
        };
        if let Some(acked_at) = acked.get(to) {
            latencies_ms.push(
                (request.at - *acked_at)
                    .num_microseconds()
                    .unwrap_or_default() as f64
                    / 1000.0,
            );
            // Customers are numbered in send order; question = number mod 6.
            let n: usize = to[5..].parse().unwrap_or_default();
            question_of.push(n % QUESTIONS.len());
        }
    }
    stop.cancel();
    let _ = server.await;
    Ok(Phase {
        latencies_ms,
        questions: question_of,
        sent: acked.len(),
        cpu_s,
        wall_s,
    })
}

fn print_latencies(label: &str, values: &[f64]) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let p = |q: f64| {
        v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "  {label}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        p(0.5),
        p(0.99),
        p(1.0)
    );
}
