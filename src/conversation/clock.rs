//! Injected time. Window and deadline logic never reads the system clock
//! directly, so tests can move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// The source of "now": the system clock, or a manual one in tests.
#[derive(Clone, Debug)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    pub fn system() -> Self {
        Clock(None)
    }

    /// A clock that stands still at `at` until [`Clock::advance`] or [`Clock::set`].
    pub fn manual(at: DateTime<Utc>) -> Self {
        Clock(Some(Arc::new(AtomicI64::new(at.timestamp_micros()))))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now(),
            Some(micros) => DateTime::from_timestamp_micros(micros.load(Ordering::SeqCst))
                .expect("valid manual time"),
        }
    }

    pub fn is_manual(&self) -> bool {
        self.0.is_some()
    }

    /// Moves a manual clock forward; a no-op on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(micros) = &self.0 {
            micros.fetch_add(
                by.num_microseconds().unwrap_or(i64::MAX / 2),
                Ordering::SeqCst,
            );
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(micros) = &self.0 {
            micros.store(at.timestamp_micros(), Ordering::SeqCst);
        }
    }
}
