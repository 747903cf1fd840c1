//! The life of a case: everything that happens to an escalation after the
//! bot decides a person is needed, each step in the transaction of the
//! event that causes it.
//!
//! - [`open`]: the case the bot's decision opens (queue, priority,
//!   deadline, acknowledgement, out-of-hours notice);
//! - [`actions`]: what an agent does with it (claim, reply, note, wait for
//!   the customer, hand back, resolve, reassign);
//! - [`plan`]: which timers a case needs (SLA warning and breach,
//!   keep-alive before the window closes, follow-up), and scheduling them
//!   inside the caller's transaction;
//! - [`timers`]: the typed timer jobs and the handler the timer loop
//!   ([`crate::scheduler`]) fires them with;
//! - [`texts`]: the keep-alive and follow-up wording (`prompts/<lang>/`);
//! - [`outbound`]: the one builder of a message to the case's customer.
//!
//! The pure rules (hours, deadlines, SLA, notices, wording) live in
//! [`crate::escalation`]; the rows in [`crate::store`].

pub mod actions;
pub mod open;
pub mod outbound;
pub mod plan;
pub mod texts;
pub mod timers;

pub use plan::{
    plan_escalation_timers, reschedule_for_window, schedule_escalation_timers, schedule_followup,
};
pub use texts::SchedulerTexts;
pub use timers::{CaseTimer, CaseTimers, Fired, Scheduler, TimerKind};
