//! The shared vocabulary at the bottom of the house: small typed values
//! every layer speaks, from the store's columns up to the HTTP answers,
//! each with `as_str` and `FromStr` so no layer compares strings.
//! Nothing here imports another module of the crate.

mod escalation_reason;
mod lang;
mod priority;
mod reply_kind;
mod triage_class;

pub use escalation_reason::EscalationReason;
pub use lang::Lang;
pub use priority::Priority;
pub use reply_kind::TurnReply;
pub use triage_class::TriageClass;
