//! The integration suite: the real application on port 0, driven over HTTP
//! like Meta, agents and editors drive it, against fakes of the outside APIs.

mod helpers;
mod payloads;

mod agent;
mod chaos;
mod console;
mod conversations;
mod crash;
mod escalation;
mod handoff;
mod intake;
mod kb;
mod load;
mod models;
mod outbox;
mod reliability;
mod scheduler;
mod turns;
mod unanswered;
