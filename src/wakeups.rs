//! Wake-ups between the parts of the application, so workers react at once
//! instead of waiting for their next poll. Every layer that commits work
//! for another (intake for the pipeline, anyone who queues an outbox row
//! for the sender) holds the same [`Wakeups`].

use tokio::sync::{Notify, broadcast};

use crate::store::OutboxRow;

/// The application's wake-ups, shared by every worker.
#[derive(Debug)]
pub struct Wakeups {
    /// New inbound messages were committed.
    pub inbox: Notify,
    /// New outbox rows were committed.
    pub outbox: Notify,
    /// Messages "sent" on the local sandbox channel (`ventana chat`).
    pub sandbox: broadcast::Sender<OutboxRow>,
}

impl Default for Wakeups {
    fn default() -> Self {
        Self {
            inbox: Notify::new(),
            outbox: Notify::new(),
            sandbox: broadcast::channel(256).0,
        }
    }
}
