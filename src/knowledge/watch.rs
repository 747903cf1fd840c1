//! Hot reload: watch the knowledge directory and reload after edits.
//!
//! Editors save files in bursts (an editor writes a temp file, renames it,
//! touches it again), so changes are debounced: the reload runs once the
//! directory has been quiet for `retrieval.reload_debounce_ms`. The reload
//! itself is incremental and keeps the last good version of an article
//! whose new text does not parse (see [`KnowledgeBase::reload`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::KnowledgeBase;
use super::loader::is_article_file;

impl KnowledgeBase {
    /// Starts watching the knowledge directory until `shutdown` fires.
    pub fn watch(
        self: &Arc<Self>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
                Ok(event) if event.paths.iter().any(|p| is_relevant(p)) => {
                    let _ = tx.send(());
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "knowledge watcher error"),
            })?;
        watcher.watch(self.knowledge_dir(), RecursiveMode::Recursive)?;
        let debounce = Duration::from_millis(self.retrieval_debounce_ms());
        let kb = self.clone();
        Ok(tokio::spawn(async move {
            // The watcher stops when dropped: keep it alive in the task.
            let _watcher = watcher;
            run(kb, rx, debounce, shutdown).await;
        }))
    }
}

fn is_relevant(path: &Path) -> bool {
    // Directories (renamed or removed folders) have no extension.
    is_article_file(path) || path.extension().is_none()
}

async fn run(
    kb: Arc<KnowledgeBase>,
    mut rx: mpsc::UnboundedReceiver<()>,
    debounce: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            event = rx.recv() => if event.is_none() { return },
        }
        // Wait for a quiet period.
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                more = tokio::time::timeout(debounce, rx.recv()) => match more {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                },
            }
        }
        match kb.reload().await {
            Ok(stats) => tracing::info!(
                embedded = stats.embedded,
                deleted = stats.deleted,
                errors = kb.load_errors().len(),
                "knowledge base reloaded"
            ),
            Err(e) => {
                tracing::error!(error = %e, "knowledge reload failed; keeping the previous version")
            }
        }
    }
}
