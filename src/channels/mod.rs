//! Meta's channels: webhook parsing for WhatsApp and Messenger, the signature
//! check, the Graph API send client with its error mapping, and the outbox
//! sender that delivers what the rest of ventana decided to say.

pub mod model;
pub mod outbound;
