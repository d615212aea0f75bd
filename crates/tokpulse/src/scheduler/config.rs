//! `[scheduler]`: the time zone cron expressions are read in, one cron expression per job, the
//! lease a run holds, and how long after a deploy its regression check runs.
//!
//! ```toml
//! [scheduler]
//! time_zone = "Europe/Paris"
//! lease_minutes = 30
//! deploy_check_after_minutes = 35
//!
//! [scheduler.jobs]
//! diagnosis = "*/5 * * * *"
//! cost = "0 * * * *"
//! watchers = "0 3 * * *"
//! insights = "0 9 * * MON"
//! retention = "30 4 * * *"
//! ```
//!
//! A job left out keeps its default; `"off"` turns it off (`tokpulse jobs run NAME` still runs
//! it).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The scheduler's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Whether `serve` runs scheduled jobs (webhooks still store their records).
    pub enabled: bool,
    /// IANA time zone the cron expressions are read in (`UTC`, `Europe/Paris`).
    pub time_zone: String,
    /// How long a run's claim holds before another replica may take the slot over (a replica
    /// that died mid-run). Longer than the longest run.
    pub lease_minutes: u32,
    /// Minutes after a deploy goes live that a diagnosis run checks it (settle window plus the
    /// after-window of `[analyzers.deploy_regression]`: 5 + 30 by default).
    pub deploy_check_after_minutes: u32,
    /// Cron expression per job name (5 fields, or 6 with seconds first), or `"off"`.
    pub jobs: BTreeMap<String, String>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            time_zone: "UTC".into(),
            lease_minutes: 30,
            deploy_check_after_minutes: 35,
            jobs: super::jobs::builtin()
                .iter()
                .map(|j| (j.name().to_string(), j.default_cron().to_string()))
                .collect(),
        }
    }
}

/// The value that turns a job's schedule off.
pub const OFF: &str = "off";

impl SchedulerConfig {
    /// The time zone, if it names one.
    pub fn tz(&self) -> Result<chrono_tz::Tz, String> {
        chrono_tz::Tz::from_str(&self.time_zone).map_err(|_| {
            format!(
                "scheduler.time_zone: expected an IANA time zone such as \"UTC\" or \"Europe/Paris\", got {:?}",
                self.time_zone
            )
        })
    }

    /// Every problem, with its path; `known` are the registered jobs' names.
    pub fn validate(&self, known: &[&str]) -> Vec<String> {
        let mut errors = Vec::new();
        if let Err(e) = self.tz() {
            errors.push(e);
        }
        if self.lease_minutes == 0 {
            errors.push("scheduler.lease_minutes: must be at least 1".into());
        }
        for (name, expr) in &self.jobs {
            if !known.contains(&name.as_str()) {
                errors.push(format!(
                    "scheduler.jobs.{name}: no such job; the jobs are {}",
                    known.join(", ")
                ));
            } else if expr != OFF
                && let Err(e) = parse_cron(expr)
            {
                errors.push(format!("scheduler.jobs.{name}: {e}"));
            }
        }
        errors
    }
}

/// Parses a cron expression (5 fields, or 6 with seconds first).
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(expr)
        .map_err(|e| {
            format!("expected a cron expression such as \"*/5 * * * *\", got {expr:?} ({e})")
        })
}
