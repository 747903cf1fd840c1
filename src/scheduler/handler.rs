//! What the timer loop asks of the application: fire one claimed timer
//! inside the firing's transaction, then apply what it did once that
//! transaction committed.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use crate::store::TimerRow;

/// Fires the timers of the kinds an application schedules.
///
/// [`fire`](Self::fire) runs inside the firing's transaction: everything
/// it writes commits with the timer's completion, or not at all.
/// [`committed`](Self::committed) runs after the commit (metrics,
/// wake-ups) and gives the caller's report.
#[async_trait::async_trait]
pub trait TimerHandler: Send + Sync + 'static {
    /// What a firing did, to apply after commit.
    type Effects: Send;
    /// What a firing reports.
    type Outcome: std::fmt::Debug + Send;

    async fn fire(
        &self,
        conn: &mut AnyConnection,
        timer: &TimerRow,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Self::Effects>;

    fn committed(&self, effects: Self::Effects) -> Self::Outcome;

    /// The report when another instance took the timer over after this
    /// one's lease expired, and this firing was rolled back.
    fn superseded(&self) -> Self::Outcome;
}
