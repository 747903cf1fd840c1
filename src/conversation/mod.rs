//! Conversations and their messaging windows.
//!
//! One conversation per (channel, business number or page, customer). It
//! knows when the customer last wrote (out-of-order safe), when the 24-hour
//! customer service window closes, the click-to-WhatsApp free entry point
//! window, the Messenger human-agent tag limit, and who owns it (bot or human).
//! The rules are pure functions of time in [`window`]; the stored facts live
//! in [`crate::store`].

mod clock;
pub mod window;

pub use clock::Clock;
pub use window::{Window, WindowState, is_window_error};
