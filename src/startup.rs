//! Builds the application from a configuration: store, knowledge base,
//! workers and HTTP server. `main` and the tests go through the same code:
//! [`Application::build`] binds the listener (port 0 in tests) and
//! [`Application::run_until_stopped`] serves until the shutdown token fires,
//! then lets in-flight requests and sends finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::answer::Bot;
use crate::case::Scheduler;
use crate::channels::graph::GraphClient;
use crate::config::Config;
use crate::conversation::Clock;
use crate::http::AppState;
use crate::knowledge::KnowledgeBase;
use crate::notify::Notifier;
use crate::pipeline::{BotResponder, Pipeline};
use crate::sender::{Sender, SenderHealth};
use crate::store::{GroupCommit, IntakeWriter, Store};
use crate::wakeups::Wakeups;

/// How long shutdown waits for workers to finish what they started.
const WORKER_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A built application, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    sender: Sender,
    pipeline: Pipeline,
    scheduler: Scheduler,
    notifier: Notifier,
    /// Commits webhook deliveries in groups (see `store::intake_batch`).
    intake: IntakeWriter,
}

impl Application {
    /// Builds on the system clock.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// Builds with an injected clock (tests move time instead of sleeping).
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<Application> {
        crate::telemetry::metrics_handle();
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("data_dir: cannot create {}", config.data_dir.display()))?;
        let (store, intake) = Store::connect(&config.database_url())
            .await?
            .with_group_commit(GroupCommit::default());
        let knowledge = KnowledgeBase::open(&config).await?;
        let graph = Arc::new(GraphClient::from_config(&config.meta, &config.sender)?);
        let signals = Arc::new(Wakeups::default());
        let sender_health = Arc::new(SenderHealth::default());
        let config = Arc::new(config);
        let sender = Sender::new(
            store.clone(),
            graph.clone(),
            config.sender.clone(),
            clock.clone(),
            sender_health.clone(),
            signals.clone(),
        );
        let bot = Bot::from_config(&config)?;
        let responder = Arc::new(BotResponder {
            bot,
            knowledge: knowledge.clone(),
        });
        let policies = Arc::new(config.escalation.policies().map_err(anyhow::Error::msg)?);
        let pipeline = Pipeline::new(
            store.clone(),
            responder,
            &config,
            clock.clone(),
            signals.clone(),
            policies.clone(),
            graph.clone(),
        );
        let scheduler = Scheduler::for_cases(
            &config,
            store.clone(),
            policies.clone(),
            clock.clone(),
            signals.clone(),
        )?;
        let notifier = Notifier::new(store.clone(), config.notifications.clone(), clock.clone())?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listen: cannot bind {}", config.listen))?;
        let state = AppState {
            config,
            store,
            knowledge,
            clock,
            signals,
            sender_health,
            policies,
        };
        Ok(Application {
            listener,
            state,
            sender,
            pipeline,
            scheduler,
            notifier,
            intake,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Serves and runs the workers until `shutdown` fires, then stops
    /// accepting, finishes in-flight requests and sends, and returns.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Application {
            listener,
            state,
            sender,
            pipeline,
            scheduler,
            notifier,
            intake,
        } = self;
        let intake_stop = CancellationToken::new();
        let intake = tokio::spawn(intake.run(intake_stop.clone()));
        let workers = CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(sender.run(workers.clone()));
        tasks.spawn(scheduler.run(workers.clone()));
        tasks.spawn(notifier.run(workers.clone()));
        if state.config.pipeline.enabled {
            tasks.spawn(pipeline.run(workers.clone()));
        }
        // Editors' changes to the knowledge directory are picked up live.
        let watcher = state.knowledge.watch(workers.clone())?;
        tasks.spawn(async move {
            let _ = watcher.await;
        });
        tracing::info!(address = %listener.local_addr()?, "ventana is listening");
        let app = crate::http::router(state.clone());
        crate::http::serve::serve(listener, app, &state.config.http, shutdown).await;
        tracing::info!("HTTP server stopped; draining workers");
        workers.cancel();
        let drained = tokio::time::timeout(WORKER_DRAIN_TIMEOUT, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("workers did not finish in time; stopping anyway");
        }
        // Every webhook request has been answered: nothing is left waiting
        // on the intake writer, which commits what is queued and stops.
        intake_stop.cancel();
        if intake.await.is_err() {
            tracing::error!("the intake writer panicked");
        }
        state.store.close().await;
        Ok(())
    }
}

/// A token cancelled on Ctrl-C or SIGTERM.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        cancel.cancel();
    });
    token
}
