//! Meta's channels: webhook parsing for WhatsApp and Messenger, the signature
//! check, the Graph API send client with its error mapping, and the outbox
//! sender that delivers what the rest of ventana decided to say.

pub mod config;
pub mod graph;
pub mod messenger;
pub mod model;
pub mod outbound;
mod parse;
pub mod signature;
pub mod whatsapp;

pub use parse::{ParseError, parse_webhook};
