//! The HTTP surface: one file per resource, each with its own `router()`,
//! merged here. Every handler is thin: extract, convert, call the domain,
//! respond.

pub mod agent;
pub mod auth;
pub mod console;
pub mod error;
pub mod health;
pub mod kb;
pub mod serve;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::conversation::Clock;
use crate::knowledge::KnowledgeBase;
use crate::sender::SenderHealth;
use crate::store::Store;
use crate::wakeups::Wakeups;

/// Every request gets an answer within this time; webhooks answer in
/// milliseconds, so only a stuck database would reach it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub knowledge: Arc<KnowledgeBase>,
    pub clock: Clock,
    pub signals: Arc<Wakeups>,
    pub sender_health: Arc<SenderHealth>,
    /// Queues, SLAs, hours and templates, compiled once at start.
    pub policies: Arc<crate::escalation::Policies>,
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(webhooks::router())
        .merge(agent::router())
        .merge(kb::router())
        .merge(console::router())
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
}
