//! `ventana chat`: talk to the bot from a terminal.
//!
//! Each line typed is stored as a message on the local `sandbox` channel and
//! goes through the same pipeline as WhatsApp and Messenger (inbox, triage,
//! retrieval, answer, outbox); the sandbox "send" prints the reply, with the
//! triage decision and the sources under it. Works on the embedded defaults
//! with no key and no external service.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::channels::model::{
    Channel, CustomerRef, Direction, Event, Forwarded, InboundMessage, MessageKind,
};
use crate::config::Config;
use crate::startup::Application;
use crate::store::NewDelivery;

/// How long to wait for the bot's reply to one line.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// Quiet period in milliseconds (0 answers each line at once).
    #[arg(long, default_value_t = 0)]
    pub quiet_period_ms: u64,
    /// Customer id for this session (a new conversation per id).
    #[arg(long, default_value = "terminal")]
    pub customer: String,
}

pub async fn run(mut config: Config, args: ChatArgs) -> anyhow::Result<ExitCode> {
    // The HTTP server is not needed; a free port avoids clashing with `serve`.
    config.listen = "127.0.0.1:0".parse()?;
    config.pipeline.quiet_period_ms = args.quiet_period_ms;
    config.pipeline.enabled = true;
    let app = Application::build(config).await?;
    let state = app.state().clone();
    let mut replies = state.signals.sandbox.subscribe();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));

    let interactive = std::io::stdin().is_terminal();
    if interactive {
        println!("ventana chat: write as a customer would (Ctrl-D to quit).");
    }
    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let mut sequence = 0_u64;
    loop {
        if interactive {
            print!("tú> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines_rx.recv().await else {
            break;
        };
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        sequence += 1;
        let now = state.clock.now();
        let message = InboundMessage {
            channel: Channel::Sandbox,
            business_id: "sandbox".into(),
            customer: CustomerRef {
                id: args.customer.clone(),
                ..CustomerRef::default()
            },
            provider_message_id: format!(
                "sandbox-{}-{}-{sequence}",
                args.customer,
                now.timestamp_micros()
            ),
            timestamp: now,
            direction: Direction::Inbound,
            kind: MessageKind::Text,
            text: Some(text.to_owned()),
            payload: None,
            reply_to: None,
            forwarded: Forwarded::No,
            referral: None,
            standby: false,
            raw: serde_json::json!({ "text": text }),
        };
        let delivery = NewDelivery {
            channel: Channel::Sandbox,
            received_at: now,
            body: serde_json::json!({ "sandbox": text }).to_string(),
            events: vec![Event::Message(message)],
        };
        state.store.ingest(&delivery).await?;
        state.signals.inbox.notify_one();
        let reply = tokio::time::timeout(REPLY_TIMEOUT, replies.recv()).await;
        match reply {
            Ok(Ok(row)) => print_reply(&state.store, &row).await?,
            _ => println!("(no reply within {REPLY_TIMEOUT:?})"),
        }
    }
    shutdown.cancel();
    server.await??;
    Ok(ExitCode::SUCCESS)
}

/// class, confidence, lang, reason, decision, escalate (0/1), articles (JSON).
type TurnSummary = (
    Option<String>,
    Option<f64>,
    Option<String>,
    Option<String>,
    String,
    i64,
    String,
);

async fn print_reply(
    store: &crate::store::Store,
    row: &crate::store::OutboxRow,
) -> anyhow::Result<()> {
    use crate::channels::outbound::OutboundBody;
    let text = match &row.message.body {
        OutboundBody::Text { text } => text.clone(),
        other => format!("[{}]", other.kind()),
    };
    println!("ventana> {}", text.replace('\n', "\n         "));
    let turn: Option<TurnSummary> = sqlx::query_as(
        "SELECT class, confidence, lang, reason, decision, escalate, articles FROM turns WHERE reply_outbox_id = $1",
    )
    .bind(row.id)
    .fetch_optional(store.pool())
    .await?;
    if let Some((class, confidence, lang, reason, decision, escalate, articles)) = turn {
        let articles: Vec<String> = serde_json::from_str(&articles).unwrap_or_default();
        println!(
            "         [{} {:.2} · {} · {}{}] {}",
            class.as_deref().unwrap_or("-"),
            confidence.unwrap_or_default(),
            lang.as_deref().unwrap_or("-"),
            decision,
            if escalate != 0 { " · escalated" } else { "" },
            reason.as_deref().unwrap_or(""),
        );
        if !articles.is_empty() {
            println!("         sources: {}", articles.join(", "));
        }
    }
    Ok(())
}
