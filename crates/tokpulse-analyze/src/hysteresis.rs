//! Hysteresis: a problem opens after K bad windows in a row and resolves after M good ones, and
//! windows with too little traffic count for neither, so one slow minute neither pages nor
//! flaps.
//!
//! [`Hysteresis`] holds the settings; [`HysteresisState`] is the state of one problem (one
//! fingerprint), small and serialisable so the engine can keep it between runs (in the store,
//! as JSON). [`HysteresisState::observe`] takes one window's verdict and says what changed.
//!
//! ```
//! use chrono::DateTime;
//! use tokpulse_analyze::hysteresis::{Hysteresis, HysteresisState, Transition};
//!
//! let h = Hysteresis { open_after: 2, resolve_after: 2, min_volume: 10 };
//! let mut s = HysteresisState::default();
//! let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
//! assert_eq!(s.observe(&h, t, true, 100), Transition::None); // one bad window: not yet
//! assert_eq!(s.observe(&h, t, true, 3), Transition::Skipped); // too quiet to judge
//! assert_eq!(s.observe(&h, t, true, 100), Transition::Opened);
//! assert_eq!(s.observe(&h, t, false, 100), Transition::None); // one good window: still open
//! assert!(s.open);
//! assert_eq!(s.observe(&h, t, false, 100), Transition::Resolved);
//! ```

use serde::{Deserialize, Serialize};
use tokpulse_core::Timestamp;

/// The settings. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hysteresis {
    /// Bad windows in a row that open a problem (K). Default 3.
    pub open_after: u32,
    /// Good windows in a row that resolve an open problem (M). Default 5.
    pub resolve_after: u32,
    /// Windows with fewer requests (or events) are skipped: neither bad nor good. Default 50.
    pub min_volume: u64,
}

impl Default for Hysteresis {
    fn default() -> Self {
        Hysteresis {
            open_after: 3,
            resolve_after: 5,
            min_volume: 50,
        }
    }
}

impl Hysteresis {
    /// Every problem in the settings, as `field: reason, got value`. Empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.open_after == 0 {
            problems.push("open_after: must be at least 1, got 0".to_owned());
        }
        if self.resolve_after == 0 {
            problems.push("resolve_after: must be at least 1, got 0".to_owned());
        }
        problems
    }
}

/// What one window changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// The problem opened with this window (K bad in a row).
    Opened,
    /// The problem resolved with this window (M good in a row).
    Resolved,
    /// Counted, but the state (open or not) did not change.
    None,
    /// Too little volume: not counted at all.
    Skipped,
}

/// One problem's state between windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HysteresisState {
    /// Whether the problem is open.
    pub open: bool,
    /// Bad windows in a row (counted windows only).
    pub bad_in_a_row: u32,
    /// Good windows in a row (counted windows only).
    pub good_in_a_row: u32,
    /// When it last opened.
    pub opened_at: Option<Timestamp>,
    /// The end of the last window counted.
    pub last_counted: Option<Timestamp>,
}

impl HysteresisState {
    /// Takes the verdict on the window ending at `at` (`bad`) with `volume` requests.
    pub fn observe(
        &mut self,
        config: &Hysteresis,
        at: Timestamp,
        bad: bool,
        volume: u64,
    ) -> Transition {
        if volume < config.min_volume {
            return Transition::Skipped;
        }
        self.last_counted = Some(at);
        if bad {
            self.bad_in_a_row = self.bad_in_a_row.saturating_add(1);
            self.good_in_a_row = 0;
            if !self.open && self.bad_in_a_row >= config.open_after {
                self.open = true;
                self.opened_at = Some(at);
                return Transition::Opened;
            }
        } else {
            self.good_in_a_row = self.good_in_a_row.saturating_add(1);
            self.bad_in_a_row = 0;
            if self.open && self.good_in_a_row >= config.resolve_after {
                self.open = false;
                return Transition::Resolved;
            }
        }
        Transition::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta};

    fn t(i: i64) -> Timestamp {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + TimeDelta::minutes(i)
    }

    /// Runs a sequence of (bad, volume) windows and returns the transitions that changed state.
    fn run(h: &Hysteresis, windows: &[(bool, u64)]) -> (Vec<(usize, Transition)>, HysteresisState) {
        let mut s = HysteresisState::default();
        let changes = windows
            .iter()
            .enumerate()
            .filter_map(|(i, &(bad, v))| {
                let tr = s.observe(h, t(i as i64), bad, v);
                matches!(tr, Transition::Opened | Transition::Resolved).then_some((i, tr))
            })
            .collect();
        (changes, s)
    }

    #[test]
    fn opens_after_k_bad_and_resolves_after_m_good() {
        let h = Hysteresis::default(); // K = 3, M = 5
        let b = (true, 100);
        let g = (false, 100);
        // One slow minute, then two: no page.
        let (changes, s) = run(&h, &[g, b, g, b, b, g]);
        assert!(changes.is_empty());
        assert!(!s.open);
        // Three in a row: opens on the third.
        let (changes, s) = run(&h, &[g, b, b, b, b]);
        assert_eq!(changes, vec![(3, Transition::Opened)]);
        assert_eq!(s.opened_at, Some(t(3)));
        // Flapping good/bad while open does not resolve it; five good in a row do.
        let (changes, s) = run(&h, &[b, b, b, g, g, b, g, g, g, g, g]);
        assert_eq!(
            changes,
            vec![(2, Transition::Opened), (10, Transition::Resolved)]
        );
        assert!(!s.open && s.good_in_a_row == 5);
    }

    #[test]
    fn quiet_windows_are_skipped_not_counted() {
        let h = Hysteresis {
            open_after: 2,
            resolve_after: 1,
            min_volume: 10,
        };
        // A quiet window between two bad ones neither breaks nor extends the streak.
        let (changes, _) = run(&h, &[(true, 100), (false, 2), (true, 100)]);
        assert_eq!(changes, vec![(2, Transition::Opened)]);
        // Bad but quiet windows never open anything.
        let (changes, s) = run(&h, &[(true, 9); 20]);
        assert!(changes.is_empty());
        assert_eq!(s, HysteresisState::default());
    }

    #[test]
    fn state_survives_serialisation_between_runs() {
        let h = Hysteresis::default();
        let mut s = HysteresisState::default();
        s.observe(&h, t(0), true, 100);
        s.observe(&h, t(1), true, 100);
        let saved = toml::to_string(&s).unwrap();
        let mut back: HysteresisState = toml::from_str(&saved).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.observe(&h, t(2), true, 100), Transition::Opened);
        // A state saved by an older version with fewer fields still reads.
        let old: HysteresisState = toml::from_str("open = true\n").unwrap();
        assert!(old.open && old.bad_in_a_row == 0);
        // Settings are validated.
        assert!(h.validate().is_empty());
        let bad = Hysteresis {
            open_after: 0,
            resolve_after: 0,
            min_volume: 0,
        };
        assert_eq!(bad.validate().len(), 2);
    }
}
