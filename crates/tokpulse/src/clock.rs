//! The clock the scheduler, the webhook receivers and the jobs read: the system's in `serve`, a
//! [`ManualClock`] in tests and in `tokpulse demo --flows`, which move time forward without
//! sleeping. The engine itself takes the time as an argument (`Engine::run(now)`); whoever calls
//! it reads this clock.
//!
//! ```
//! use tokpulse::clock::{Clock, ManualClock};
//!
//! let start = chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z").unwrap().to_utc();
//! let clock = ManualClock::new(start);
//! clock.advance(chrono::TimeDelta::days(7));
//! assert_eq!(clock.now(), start + chrono::TimeDelta::days(7));
//! ```

use std::sync::{Arc, Mutex};
use tokpulse_core::Timestamp;

/// Tells the time.
pub trait Clock: Send + Sync + 'static {
    /// The time now.
    fn now(&self) -> Timestamp;
}

/// A clock shared by the pieces of one process.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(at)))
    }

    /// Sets the time (it may go back: tests of clock skew).
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves the time forward by `by`; returns the new time.
    pub fn advance(&self, by: chrono::TimeDelta) -> Timestamp {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
        *t
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
