//! The timer loop: every deadline is a `timers` row, fired by a worker that
//! claims due rows with a lease, so a restart loses none and several
//! instances share the work without firing one twice.
//!
//! This module knows nothing of what a timer is for. The application
//! registers a [`TimerHandler`] (the case layer's, [`crate::case::timers`])
//! that turns a claimed row into its typed job and runs it inside the
//! firing's transaction; the [`TimerLoop`] claims, leases, retries with
//! backoff, gives up after [`MAX_TIMER_ATTEMPTS`], catches panics and time
//! limits, and commits each firing with its completion.

pub mod handler;
pub mod worker;

pub use handler::TimerHandler;
pub use worker::{
    DEFAULT_LEASE, MAX_TIMER_ATTEMPTS, POSTGRES_CONCURRENCY, SQLITE_CONCURRENCY, TimerLoop,
};
