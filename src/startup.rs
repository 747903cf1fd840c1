//! Builds the application from a configuration: store, knowledge base,
//! workers and HTTP server. `main` and the tests go through the same code.

use tokio::sync::Notify;

/// Wake-ups between the parts of the application, so workers react at once
/// instead of waiting for their next poll.
#[derive(Debug, Default)]
pub struct Signals {
    /// New inbound messages were committed.
    pub inbox: Notify,
    /// New outbox rows were committed.
    pub outbox: Notify,
}
