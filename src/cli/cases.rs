//! `ventana cases export`: the messages this business has labelled by
//! handling them, written as cases (`eval/corpus` format) so the triage
//! model can be retrained with them (see [`crate::store::labelled`]).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use crate::store::Store;
use crate::store::labelled::{LabelSource, LabelledTurn};

/// `ventana cases ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CasesCommand {
    /// Write the labelled messages of the store as JSON-lines cases.
    Export {
        /// The cases file to write (standard output when absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs a `cases` subcommand.
pub async fn run(config: Config, cmd: CasesCommand) -> anyhow::Result<ExitCode> {
    let CasesCommand::Export { out } = cmd;
    let store = Store::connect(&config.database_url()).await?;
    let turns = store.labelled_turns().await?;
    let mut lines = Vec::with_capacity(turns.len());
    for turn in &turns {
        lines.push(serde_json::to_string(&case_json(turn))?);
    }
    let text = if lines.is_empty() {
        String::new()
    } else {
        lines.join("\n") + "\n"
    };
    match &out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("--out {}: {e}", path.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    eprintln!("{} labelled messages exported", turns.len());
    Ok(ExitCode::SUCCESS)
}

/// One labelled turn as a case.
pub fn case_json(turn: &LabelledTurn) -> serde_json::Value {
    let note = match turn.source {
        LabelSource::ResolvedEscalation { escalation_id } => {
            format!("escalation {escalation_id} was resolved by an agent")
        }
        LabelSource::AgentCorrectedBot => {
            "an agent replied after the bot's answer: the message needed a person".to_owned()
        }
    };
    serde_json::json!({
        "id": format!("turn-{}", turn.turn_id),
        "business": turn.business_id,
        "channel": turn.channel,
        "lang": turn.lang,
        "text": turn.text,
        "expect": {"triage": turn.class, "article": turn.article, "facts": []},
        "note": note,
    })
}
