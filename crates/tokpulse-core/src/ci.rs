//! CI runs and jobs, shaped like GitHub Actions' `workflow_run` and `workflow_job` webhook
//! objects: every field has the name and meaning of the payload field it comes from, so the
//! webhook receiver deserializes `payload["workflow_run"]` / `payload["workflow_job"]` straight
//! into [`CiRun`] / [`CiJob`] (unknown payload fields are ignored), and the ingest API takes the
//! same JSON.
//!
//! Two fields are not inside those objects: `repository` (the payload's top-level
//! `repository.full_name`) and [`CiJob::failure_message`] (the failed step's annotation or log
//! excerpt, which GitHub only gives through the API). Free text (`failure_message`,
//! `display_title`) must pass the privacy guard before it is stored.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a run or job stands: GitHub's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CiStatus {
    /// Requested, not queued yet (runs).
    Requested,
    /// Waiting for a runner.
    Queued,
    /// Waiting for a deployment protection rule.
    Waiting,
    /// Pending a concurrency group.
    Pending,
    /// Running.
    InProgress,
    /// Finished: see the conclusion.
    Completed,
    /// A status this version does not know.
    #[serde(other)]
    Unknown,
}

/// How a completed run or job ended: GitHub's `conclusion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CiConclusion {
    /// Passed.
    Success,
    /// Failed.
    Failure,
    /// Neither passed nor failed.
    Neutral,
    /// Cancelled by someone or by a newer run.
    Cancelled,
    /// Skipped by a condition.
    Skipped,
    /// Ran out of time.
    TimedOut,
    /// Needs someone to approve it.
    ActionRequired,
    /// Superseded.
    Stale,
    /// The workflow could not start (bad YAML, missing permissions).
    StartupFailure,
    /// A conclusion this version does not know.
    #[serde(other)]
    Unknown,
}

impl CiConclusion {
    /// The payload's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CiConclusion::Success => "success",
            CiConclusion::Failure => "failure",
            CiConclusion::Neutral => "neutral",
            CiConclusion::Cancelled => "cancelled",
            CiConclusion::Skipped => "skipped",
            CiConclusion::TimedOut => "timed_out",
            CiConclusion::ActionRequired => "action_required",
            CiConclusion::Stale => "stale",
            CiConclusion::StartupFailure => "startup_failure",
            CiConclusion::Unknown => "unknown",
        }
    }

    /// A failure of the code or the pipeline: `failure`, `timed_out`, `startup_failure`.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            CiConclusion::Failure | CiConclusion::TimedOut | CiConclusion::StartupFailure
        )
    }
}

impl fmt::Display for CiConclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One workflow run: `payload.workflow_run` of GitHub's `workflow_run` webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CiRun {
    /// `id`: the run's id.
    pub id: u64,
    /// `name`: the workflow's name.
    #[serde(default)]
    pub name: String,
    /// `workflow_id`.
    #[serde(default)]
    pub workflow_id: Option<u64>,
    /// `path`: the workflow file (`.github/workflows/ci.yml`).
    #[serde(default)]
    pub path: Option<String>,
    /// `head_branch`: the branch, when the run has one.
    #[serde(default)]
    pub head_branch: Option<String>,
    /// `head_sha`: the commit.
    pub head_sha: String,
    /// `display_title`: the commit message or PR title. Free text: guarded.
    #[serde(default)]
    pub display_title: Option<String>,
    /// `event`: `push`, `pull_request`…
    #[serde(default)]
    pub event: Option<String>,
    /// `run_number`.
    #[serde(default)]
    pub run_number: Option<u64>,
    /// `run_attempt`: 1, then 2… for each re-run.
    #[serde(default = "first_attempt")]
    pub run_attempt: u32,
    /// `status`.
    pub status: CiStatus,
    /// `conclusion`, once completed.
    #[serde(default)]
    pub conclusion: Option<CiConclusion>,
    /// `created_at`.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// `run_started_at`.
    #[serde(default)]
    pub run_started_at: Option<Timestamp>,
    /// `updated_at`: for a completed run, when it completed.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    /// `html_url`.
    #[serde(default)]
    pub html_url: Option<String>,
    /// `repository.full_name` (`owner/name`). Read from `repository` as GitHub sends it (an
    /// object) or as a plain string; written as a string.
    #[serde(default, deserialize_with = "full_name")]
    pub repository: Option<String>,
}

/// One job of a run: `payload.workflow_job` of GitHub's `workflow_job` webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CiJob {
    /// `id`: the job's id.
    pub id: u64,
    /// `run_id`: the [`CiRun::id`] it belongs to.
    pub run_id: u64,
    /// `run_attempt`: the attempt of the run it belongs to.
    #[serde(default = "first_attempt")]
    pub run_attempt: u32,
    /// `workflow_name`: the workflow's name.
    #[serde(default)]
    pub workflow_name: Option<String>,
    /// `name`: the job's name.
    pub name: String,
    /// `head_branch`.
    #[serde(default)]
    pub head_branch: Option<String>,
    /// `head_sha`: the commit.
    pub head_sha: String,
    /// `status`.
    pub status: CiStatus,
    /// `conclusion`, once completed.
    #[serde(default)]
    pub conclusion: Option<CiConclusion>,
    /// `created_at`.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// `started_at`.
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// `completed_at`.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    /// `html_url`.
    #[serde(default)]
    pub html_url: Option<String>,
    /// The payload's `repository.full_name` (`owner/name`), which is outside `workflow_job`: the
    /// receiver copies it in. Read as a string or as GitHub's repository object.
    #[serde(default, deserialize_with = "full_name")]
    pub repository: Option<String>,
    /// Why it failed: the failed step's error annotation or the end of its log. Not in the
    /// webhook payload. Free text: guarded.
    #[serde(default)]
    pub failure_message: Option<String>,
}

impl CiJob {
    /// When the job ended, or failing that started or was created: the time it is ordered by.
    pub fn time(&self) -> Option<Timestamp> {
        self.completed_at.or(self.started_at).or(self.created_at)
    }

    /// The workflow's name, or `""` when the payload had none.
    pub fn workflow(&self) -> &str {
        self.workflow_name.as_deref().unwrap_or("")
    }
}

fn first_attempt() -> u32 {
    1
}

/// A repository as `"owner/name"` or as GitHub's object with `full_name`.
fn full_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repo {
        Name(String),
        Object { full_name: String },
    }
    Ok(Option::<Repo>::deserialize(d)?.map(|r| match r {
        Repo::Name(n) | Repo::Object { full_name: n } => n,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn payload(name: &str) -> Option<Value> {
        let path = format!(
            "{}/../../../shared/datasets/github/webhooks/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).ok()?;
        Some(serde_json::from_str(&text).expect("GitHub's example payloads are JSON"))
    }

    #[test]
    fn github_workflow_job_payloads_deserialize() {
        let Some(p) = payload("workflow_job.completed.failure.json") else {
            eprintln!("skipped: shared/datasets/github is not here");
            return;
        };
        let job: CiJob = serde_json::from_value(p["workflow_job"].clone()).unwrap();
        assert_eq!(job.id, 289782451);
        assert_eq!(job.run_id, 2202229078);
        assert_eq!(job.name, "linters");
        assert_eq!(job.workflow(), "CodeQL");
        assert_eq!(job.head_branch.as_deref(), Some("main"));
        assert_eq!(job.status, CiStatus::Completed);
        assert_eq!(job.conclusion, Some(CiConclusion::Failure));
        assert_eq!(
            job.completed_at.unwrap().to_rfc3339(),
            "2021-08-05T10:38:16+00:00"
        );
        assert_eq!(job.time(), job.completed_at);
        assert_eq!(job.failure_message, None);
        // The receiver copies the top-level repository in; both shapes are read.
        let mut object = p["workflow_job"].clone();
        object["repository"] = p["repository"].clone();
        let job: CiJob = serde_json::from_value(object).unwrap();
        assert_eq!(job.repository.as_deref(), Some("Codertocat/Hello-World"));
        let back: CiJob = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        assert_eq!(back, job);

        let p = payload("workflow_job.queued.json").unwrap();
        let job: CiJob = serde_json::from_value(p["workflow_job"].clone()).unwrap();
        assert_eq!(job.status, CiStatus::Queued);
        assert_eq!(job.conclusion, None);
    }

    #[test]
    fn github_workflow_run_payloads_deserialize() {
        let Some(p) = payload("workflow_run.completed.success.json") else {
            return;
        };
        let run: CiRun = serde_json::from_value(p["workflow_run"].clone()).unwrap();
        assert_eq!(run.id, 289782451);
        assert_eq!(run.head_branch.as_deref(), Some("master"));
        assert_eq!(run.conclusion, Some(CiConclusion::Success));
        assert_eq!(run.run_attempt, 1);
        assert_eq!(run.repository.as_deref(), Some("octo-org/octo-repo"));
        let p = payload("workflow_run.requested.json").unwrap();
        let run: CiRun = serde_json::from_value(p["workflow_run"].clone()).unwrap();
        assert_eq!(run.conclusion, None);
    }

    #[test]
    fn unknown_values_and_failures() {
        let c: CiConclusion = serde_json::from_str("\"exploded\"").unwrap();
        assert_eq!(c, CiConclusion::Unknown);
        let s: CiStatus = serde_json::from_str("\"in_progress\"").unwrap();
        assert_eq!(s, CiStatus::InProgress);
        assert!(CiConclusion::TimedOut.is_failure());
        assert!(!CiConclusion::Cancelled.is_failure());
        assert_eq!(CiConclusion::TimedOut.to_string(), "timed_out");
    }
}
