//! Quiet hours: notifications (Slack by default) wait until the window ends instead of waking
//! people, unless the finding is severe enough to break through. Nothing is dropped: a held
//! action stays queued and goes out on the first delivery pass after the window
//! ([`Sink::hold_until`]). GitHub issues are filed whatever the hour.

use crate::{Delivered, DeliveryError, Sink};
use async_trait::async_trait;
use chrono::{NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokpulse_core::{Severity, Timestamp};
use tokpulse_store::{ActionRow, Store, StoreError};

/// `[routing.quiet_hours]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Local time the window opens, `HH:MM`.
    pub start: String,
    /// Local time it closes, `HH:MM`; before `start` means the next day.
    pub end: String,
    /// An IANA time zone (`Europe/Paris`); UTC when absent.
    #[serde(default = "utc")]
    pub tz: String,
    /// Findings at or above this severity are sent at once.
    #[serde(default = "critical")]
    pub min_severity_to_break: Severity,
    /// The sinks that keep quiet.
    #[serde(default = "slack")]
    pub sinks: Vec<String>,
}

fn utc() -> String {
    "UTC".into()
}
fn critical() -> Severity {
    Severity::Critical
}
fn slack() -> Vec<String> {
    vec!["slack".into()]
}

fn hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

impl QuietHours {
    /// Every problem, as `routing.quiet_hours.field: reason`.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, v) in [("start", &self.start), ("end", &self.end)] {
            if hhmm(v).is_none() {
                problems.push(format!(
                    "routing.quiet_hours.{key}: expected a time such as \"22:00\", got {v:?}"
                ));
            }
        }
        if self.start == self.end {
            problems.push("routing.quiet_hours: start and end are the same".into());
        }
        if self.tz.parse::<Tz>().is_err() {
            problems.push(format!(
                "routing.quiet_hours.tz: unknown time zone {:?}; expected an IANA name such as \"Europe/Paris\"",
                self.tz
            ));
        }
        for s in &self.sinks {
            if !crate::routing::SINKS.contains(&s.as_str()) {
                problems.push(format!("routing.quiet_hours.sinks: unknown sink {s:?}"));
            } else if s == "github" || s == "outbox" {
                problems.push(format!(
                    "routing.quiet_hours.sinks: {s:?} keeps no quiet hours (issues and the outbox are written whatever the hour)"
                ));
            }
        }
        problems
    }

    /// When an action of `severity` may go at `now`: `None` for now, else the end of the
    /// window it falls in.
    pub fn hold_until(&self, severity: Severity, now: Timestamp) -> Option<Timestamp> {
        if severity >= self.min_severity_to_break {
            return None;
        }
        let (start, end) = (hhmm(&self.start)?, hhmm(&self.end)?);
        let tz: Tz = self.tz.parse().ok()?;
        let local = now.with_timezone(&tz);
        let t = local.time();
        let inside = if start < end {
            t >= start && t < end
        } else {
            t >= start || t < end
        };
        if !inside {
            return None;
        }
        // The window's end: today if it is still ahead, else tomorrow.
        let day = if t < end {
            local.date_naive()
        } else {
            local.date_naive().succ_opt()?
        };
        let at = day.and_time(end);
        // A wall time skipped by a DST change: an hour later exists.
        let local_end = tz.from_local_datetime(&at).earliest().or_else(|| {
            tz.from_local_datetime(&(at + chrono::TimeDelta::hours(1)))
                .earliest()
        })?;
        Some(local_end.with_timezone(&Utc))
    }
}

/// A sink that keeps quiet hours: actions below the breaking severity are held until the
/// window ends; everything else is the inner sink's.
pub struct Quiet {
    inner: Arc<dyn Sink>,
    hours: QuietHours,
}

impl Quiet {
    /// `inner`, keeping `hours`.
    pub fn new(inner: Arc<dyn Sink>, hours: QuietHours) -> Self {
        Quiet { inner, hours }
    }
}

#[async_trait]
impl Sink for Quiet {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn deliver(&self, action: &ActionRow) -> Result<Delivered, DeliveryError> {
        self.inner.deliver(action).await
    }

    async fn warm_up(&self, store: &dyn Store) -> Result<(), StoreError> {
        self.inner.warm_up(store).await
    }

    fn hold_until(&self, action: &ActionRow, now: Timestamp) -> Option<Timestamp> {
        // An unreadable severity is not held: the sink will report the payload itself.
        let severity: Severity = serde_json::from_value(action.payload["severity"].clone()).ok()?;
        self.hours
            .hold_until(severity, now)
            .or_else(|| self.inner.hold_until(action, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn paris() -> QuietHours {
        toml::from_str("start = \"22:00\"\nend = \"07:00\"\ntz = \"Europe/Paris\"\n").unwrap()
    }

    #[test]
    fn the_night_in_paris_is_held_until_seven_local() {
        let q = paris();
        assert!(q.validate().is_empty());
        // 23:30 in Paris in winter (UTC+1) is 22:30 UTC: held until 07:00 Paris = 06:00 UTC.
        assert_eq!(
            q.hold_until(Severity::High, at("2026-01-15T22:30:00Z")),
            Some(at("2026-01-16T06:00:00Z"))
        );
        // 05:00 Paris in summer (UTC+2) = 03:00 UTC: held until 05:00 UTC the same day.
        assert_eq!(
            q.hold_until(Severity::Warning, at("2026-07-15T03:00:00Z")),
            Some(at("2026-07-15T05:00:00Z"))
        );
        // Daytime, or critical: sent now.
        assert_eq!(
            q.hold_until(Severity::High, at("2026-01-15T12:00:00Z")),
            None
        );
        assert_eq!(
            q.hold_until(Severity::Critical, at("2026-01-15T22:30:00Z")),
            None
        );
        // The window's end is exclusive.
        assert_eq!(
            q.hold_until(Severity::Info, at("2026-01-16T06:00:00Z")),
            None
        );
    }

    #[test]
    fn a_window_within_one_day_and_bad_values() {
        let q: QuietHours = toml::from_str(
            "start = \"12:00\"\nend = \"14:00\"\nmin_severity_to_break = \"high\"\n",
        )
        .unwrap();
        assert_eq!(q.tz, "UTC");
        assert_eq!(
            q.hold_until(Severity::Warning, at("2026-03-01T13:00:00Z")),
            Some(at("2026-03-01T14:00:00Z"))
        );
        assert_eq!(
            q.hold_until(Severity::High, at("2026-03-01T13:00:00Z")),
            None
        );
        let bad: QuietHours = toml::from_str(
            "start = \"25:00\"\nend = \"7\"\ntz = \"Mars/Olympus\"\nsinks = [\"pager\", \"github\"]\n",
        )
        .unwrap();
        assert_eq!(bad.validate().len(), 5, "{:?}", bad.validate());
    }
}
