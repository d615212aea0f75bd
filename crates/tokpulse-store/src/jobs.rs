//! The scheduler's runs (`job_runs`) and the webhook deliveries already taken
//! (`webhook_deliveries`). Shared by both backends.
//!
//! A run is claimed by inserting its `(job, scheduled_for)` row: the unique key makes the insert
//! succeed on exactly one process, however many share the database. A claim carries a lease; a
//! `running` row whose lease has expired (its process died mid-run) can be claimed again, so a
//! dead replica never holds a slot for good.

use serde::{Deserialize, Serialize};
use tokpulse_core::Timestamp;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobTrigger {
    /// Its cron slot came.
    Schedule,
    /// `tokpulse jobs run NAME`.
    Manual,
    /// An event (a webhook) asked for it.
    Event,
}

impl JobTrigger {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobTrigger::Schedule => "schedule",
            JobTrigger::Manual => "manual",
            JobTrigger::Event => "event",
        }
    }
}

/// A claim on one slot of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobClaim<'a> {
    /// The job's name.
    pub job: &'a str,
    /// The slot: the cron time it was due (or the time a manual or event run was asked for).
    pub scheduled_for: Timestamp,
    /// Why it runs.
    pub trigger: JobTrigger,
    /// Who runs it (a replica id), to finish only one's own runs.
    pub owner: &'a str,
    /// The claimer's time now.
    pub now: Timestamp,
    /// Until when the claim holds while the run is `running`.
    pub lease_until: Timestamp,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Still running (or its process died; see `lease_until`).
    Running,
    /// Finished.
    Ok,
    /// Finished with an error.
    Failed,
}

impl JobStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Ok => "ok",
            JobStatus::Failed => "failed",
        }
    }

    pub(crate) fn parse(table: &'static str, s: &str) -> Result<Self, crate::StoreError> {
        match s {
            "running" => Ok(JobStatus::Running),
            "ok" => Ok(JobStatus::Ok),
            "failed" => Ok(JobStatus::Failed),
            other => Err(crate::StoreError::Corrupt {
                table,
                reason: format!("unknown job status {other:?}"),
            }),
        }
    }
}

/// One row of `job_runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRunRow {
    /// Row id.
    pub id: i64,
    /// The job's name.
    pub job: String,
    /// The slot.
    pub scheduled_for: Timestamp,
    /// What started it (`schedule`, `manual`, `event`).
    pub trigger: String,
    /// Who ran it.
    pub owner: String,
    /// When it started (or was last taken over).
    pub started_at: Timestamp,
    /// Until when its claim holds while running.
    pub lease_until: Timestamp,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
    /// How it ended.
    pub status: JobStatus,
    /// The error of a failed run.
    pub error: Option<String>,
    /// What it did, in a line.
    pub summary: Option<String>,
}

/// Longest error or summary stored; longer ones are cut at a character boundary.
pub(crate) const MAX_TEXT: usize = 4000;

/// `s` cut to at most [`MAX_TEXT`] bytes.
pub(crate) fn cut(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
