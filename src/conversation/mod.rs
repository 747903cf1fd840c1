//! Conversations and their messaging windows.
//!
//! One conversation per (channel, business number or page, customer). It
//! knows when the customer last wrote (out-of-order safe), when the 24-hour
//! customer service window closes, the click-to-WhatsApp free entry point
//! window, the Messenger human-agent tag limit, and who owns it (bot or human).

mod clock;
pub use clock::Clock;
