//! What self-diagnosis keeps beside the raw records: CI runs and jobs, request rollups, the
//! detectors' state, and the reads the engine makes. Shared by both backends.

use serde::{Deserialize, Serialize};
use tokpulse_core::{CiJob, CiRun, CiStatus, RequestSample, Timestamp};
use tokpulse_guard::Guarded;

/// CI runs and jobs to store, each through the privacy guard. Stored by GitHub's id and
/// `run_attempt`: sending one again (a retry, or the next webhook of the same job) is a
/// duplicate, and replaces the stored one only if it is at least as far along (a `completed`
/// job is never overwritten by a late `queued` webhook).
#[derive(Debug, Default)]
pub struct CiBatch {
    /// `workflow_run` objects.
    pub runs: Vec<Guarded<CiRun>>,
    /// `workflow_job` objects.
    pub jobs: Vec<Guarded<CiJob>>,
}

impl CiBatch {
    /// How many runs and jobs.
    pub fn len(&self) -> usize {
        self.runs.len() + self.jobs.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How far along a run or job is, so a later webhook of the same attempt replaces an earlier
/// one and never the reverse.
pub(crate) fn status_rank(status: CiStatus) -> i32 {
    match status {
        CiStatus::Unknown => 0,
        CiStatus::Requested => 1,
        CiStatus::Pending | CiStatus::Waiting => 2,
        CiStatus::Queued => 3,
        CiStatus::InProgress => 4,
        CiStatus::Completed => 5,
    }
}

/// When a run happened, for ordering and retention.
pub(crate) fn run_time(r: &CiRun) -> Option<Timestamp> {
    r.updated_at.or(r.run_started_at).or(r.created_at)
}

/// The time a run or job is stored under: its own, or `fallback` (the time it was received)
/// when the payload has none.
pub(crate) fn ci_time(t: Option<Timestamp>, fallback: Timestamp) -> Timestamp {
    t.unwrap_or(fallback)
}

/// One rollup as stored: per service, route, resolution and bucket, the counts and the sketch
/// in `tokpulse-analyze`'s rollup byte format (the store does not read it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupRow {
    /// The service.
    pub service: String,
    /// `METHOD route`.
    pub route: String,
    /// `minute`, `hour` or `day`.
    pub resolution: String,
    /// The bucket's start.
    pub bucket_start: Timestamp,
    /// Requests.
    pub requests: i64,
    /// Errors (5xx).
    pub errors: i64,
    /// The latency sketch.
    pub sketch: Vec<u8>,
}

/// A rollup to write with [`Store::commit_rollups`](crate::Store::commit_rollups): the merged
/// row, and the request count the stored row had when it was read (`None`: there was none), so
/// that two writers never overwrite each other's merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupWrite {
    /// The merged rollup.
    pub row: RollupRow,
    /// The stored row's `requests` when it was read, or `None` if it did not exist.
    pub read_requests: Option<i64>,
}

/// A request not counted in the rollups yet, with its row id.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingSample {
    /// The `performance_metrics` row id.
    pub id: i64,
    /// The request.
    pub sample: RequestSample,
}

/// An error (or fatal) log line, for the template miner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorLog {
    /// When.
    pub timestamp: Timestamp,
    /// The service that logged it.
    pub service: String,
    /// The message, as guarded.
    pub message: String,
}
