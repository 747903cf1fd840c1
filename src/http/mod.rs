//! The HTTP surface: one file per resource, each with its own `router()`,
//! merged here. Every handler is thin: extract, convert, call the domain,
//! respond.

pub mod auth;
pub mod error;

use std::sync::Arc;

use crate::config::Config;
use crate::conversation::Clock;
use crate::knowledge::KnowledgeBase;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub knowledge: Arc<KnowledgeBase>,
    pub clock: Clock,
    pub signals: Arc<crate::startup::Signals>,
}
