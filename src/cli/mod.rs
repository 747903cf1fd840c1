//! The command line: `serve`, `chat`, `kb`, `eval`, `train`, `cases`,
//! `token`.
//!
//! Each subcommand loads the one configuration (`--config FILE` plus
//! `VENTANA_*` variables) and calls into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod cases;
pub mod chat;
pub mod eval;
pub mod folds;
pub mod kb;
pub mod loo;
pub mod train;

use crate::config::Config;
use crate::startup::{Application, shutdown_on_signals};

#[derive(Debug, Parser)]
#[command(
    name = "ventana",
    version,
    about = "Auto-responder for WhatsApp and Messenger"
)]
pub struct Cli {
    /// TOML configuration file; `VENTANA_*` environment variables override it.
    #[arg(long, global = true, env = "VENTANA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Talk to the bot from the terminal through the full pipeline.
    Chat(chat::ChatArgs),
    /// Knowledge base: check, ask, index.
    #[command(subcommand)]
    Kb(kb::KbCommand),
    /// Measure retrieval and triage on labelled cases.
    Eval(eval::EvalArgs),
    /// Train the triage model on a corpus of labelled businesses.
    Train(train::TrainArgs),
    /// Labelled messages from the store, as training cases.
    #[command(subcommand)]
    Cases(cases::CasesCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print the SHA-256 to put in `[[auth.tokens]]` for a bearer token.
    Hash { token: String },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Chat(args) => {
            crate::telemetry::init_tracing_quiet();
            chat::run(config, args).await
        }
        Command::Kb(cmd) => kb::run(config, cmd).await,
        Command::Eval(args) => eval::run(config, args).await,
        Command::Train(args) => train::run(config, args).await,
        Command::Cases(cmd) => cases::run(config, cmd).await,
        Command::Token(TokenCommand::Hash { token }) => {
            println!("{}", crate::http::auth::hash_token(&token));
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    crate::telemetry::init_tracing(config.log_format);
    if config.meta.app_secret.is_none() {
        tracing::warn!(
            "no meta.app_secret (VENTANA_META__APP_SECRET): webhook POSTs will be refused until one is configured"
        );
    }
    let app = Application::build(config).await?;
    app.run_until_stopped(shutdown_on_signals()).await?;
    Ok(ExitCode::SUCCESS)
}
