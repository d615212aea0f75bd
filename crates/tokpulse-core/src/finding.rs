//! What analyzers produce: [`Finding`]s, identified across runs by their [`Fingerprint`].

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// What kind of problem a finding describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A route's p95 latency is above its threshold or well above its baseline.
    LatencyRegression,
    /// A route's error rate is above its threshold or well above its baseline.
    ErrorSpike,
    /// A deploy made a route slower or more error-prone: after vs before, tested.
    DeployRegression,
    /// A CI job keeps failing on a branch (more than 3 times in a row), or several jobs fail
    /// with the same message.
    CiFailure,
    /// A CI job failed and passed on the same commit.
    FlakyJob,
    /// An error log pattern that was not seen before a given time (the last deploy).
    NewErrorPattern,
    /// A metric moved to a new level and stayed there.
    LevelShift,
    /// The month's projected spend is 10% or more over a budget; severity follows the tier.
    BudgetOverrun,
    /// AI calls to a model the pricing catalog does not know: stored unpriced.
    UnknownModel,
    /// Tokens or cost per request of a feature, route or model changed for good at a deploy.
    CostRegression,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: [FindingKind; 10] = [
        FindingKind::LatencyRegression,
        FindingKind::ErrorSpike,
        FindingKind::DeployRegression,
        FindingKind::CiFailure,
        FindingKind::FlakyJob,
        FindingKind::NewErrorPattern,
        FindingKind::LevelShift,
        FindingKind::BudgetOverrun,
        FindingKind::UnknownModel,
        FindingKind::CostRegression,
    ];

    /// The stored name; also a GitHub label.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::LatencyRegression => "latency_regression",
            FindingKind::ErrorSpike => "error_spike",
            FindingKind::DeployRegression => "deploy_regression",
            FindingKind::CiFailure => "ci_failure",
            FindingKind::FlakyJob => "flaky_job",
            FindingKind::NewErrorPattern => "new_error_pattern",
            FindingKind::LevelShift => "level_shift",
            FindingKind::BudgetOverrun => "budget_overrun",
            FindingKind::UnknownModel => "unknown_model",
            FindingKind::CostRegression => "cost_regression",
        }
    }
}

impl FromStr for FindingKind {
    type Err = crate::ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FindingKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| crate::ValueError(format!("unknown finding kind {s:?}")))
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Needs a look soon.
    Warning,
    /// Users are affected.
    High,
    /// Users are badly affected; act now.
    Critical,
}

impl Severity {
    /// The stored name; also a GitHub label (`severity:high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl FromStr for Severity {
    type Err = crate::ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(crate::ValueError(format!("unknown severity {other:?}"))),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stable identity for "the same problem": the kind plus what it is about (service, route…),
/// hashed. Seeing the same problem again gives the same fingerprint, so the open finding is
/// updated instead of a second one being filed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of a problem of `kind` about `parts`.
    pub fn of(kind: FindingKind, parts: &[&str]) -> Self {
        let mut h = Sha256::new();
        h.update(kind.as_str().as_bytes());
        for p in parts {
            // Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
        Fingerprint(hex::encode(&h.finalize()[..12]))
    }

    /// Wraps a fingerprint read back from the store.
    pub fn from_stored(s: String) -> Self {
        Fingerprint(s)
    }

    /// The fingerprint as 24 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A half-open time range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First instant inside.
    pub start: Timestamp,
    /// First instant after.
    pub end: Timestamp,
}

impl Window {
    /// The window of the same length just before this one.
    pub fn previous(&self) -> Window {
        let len = self.end - self.start;
        Window {
            start: self.start - len,
            end: self.start,
        }
    }

    /// Whether `t` falls inside.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}

/// One number behind a finding, with what it is compared against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was measured (`p95 latency`, `error rate`, `requests`).
    pub metric: String,
    /// Its value in the window examined.
    pub current: f64,
    /// Its value in the baseline window, when there was enough data.
    pub baseline: Option<f64>,
    /// The configured limit, when one applies.
    pub threshold: Option<f64>,
    /// `ms`, `%`, `requests`.
    pub unit: String,
}

/// The likely cause of a finding: a deployment of the same service shortly before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    /// The deployment's record id.
    pub deployment_id: String,
    /// Its version.
    pub version: String,
    /// The commit deployed, when known.
    pub commit_sha: Option<String>,
    /// Who deployed it, when known (already guarded).
    pub author: Option<String>,
    /// When it was deployed.
    pub deployed_at: Timestamp,
}

/// A problem an analyzer found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// How urgent.
    pub severity: Severity,
    /// Its identity across runs.
    pub fingerprint: Fingerprint,
    /// One line for a human.
    pub title: String,
    /// The service affected.
    pub service: String,
    /// The route affected, if the problem is about one.
    pub route: Option<String>,
    /// The window examined.
    pub window: Window,
    /// The numbers.
    pub evidence: Vec<Evidence>,
    /// The likely cause, when one was found.
    pub cause: Option<Cause>,
    /// What to do next.
    pub suggestion: String,
}

/// Whether a stored finding is still happening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    /// Seen in the latest diagnosis run.
    Open,
    /// Not seen any more.
    Resolved,
}

impl FindingStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Resolved => "resolved",
        }
    }
}

impl FromStr for FindingStatus {
    type Err = crate::ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(FindingStatus::Open),
            "resolved" => Ok(FindingStatus::Resolved),
            other => Err(crate::ValueError(format!(
                "unknown finding status {other:?}"
            ))),
        }
    }
}

/// A finding as the store keeps it: the latest occurrence plus its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFinding {
    /// Row id.
    pub id: i64,
    /// The latest occurrence.
    pub finding: Finding,
    /// Open or resolved.
    pub status: FindingStatus,
    /// When it was first seen.
    pub first_seen: Timestamp,
    /// When it was last seen.
    pub last_seen: Timestamp,
    /// How many diagnosis runs saw it.
    pub occurrences: i64,
    /// When it was resolved, if it is.
    pub resolved_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_separate_parts() {
        let a = Fingerprint::of(FindingKind::ErrorSpike, &["api", "GET /x"]);
        assert_eq!(a.as_str().len(), 24);
        assert_eq!(
            a,
            Fingerprint::of(FindingKind::ErrorSpike, &["api", "GET /x"])
        );
        assert_ne!(
            a,
            Fingerprint::of(FindingKind::LatencyRegression, &["api", "GET /x"])
        );
        assert_ne!(
            Fingerprint::of(FindingKind::ErrorSpike, &["ab", "c"]),
            Fingerprint::of(FindingKind::ErrorSpike, &["a", "bc"])
        );
        // Pinned: stored fingerprints must not change between versions.
        assert_eq!(
            Fingerprint::of(FindingKind::LatencyRegression, &["api", "GET /api/search"]).as_str(),
            "66c0369636fa1d7b789eb4ee"
        );
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in FindingKind::ALL {
            assert_eq!(k.as_str().parse::<FindingKind>(), Ok(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        // Pinned like the first kinds': stored fingerprints must not change.
        assert_eq!(
            Fingerprint::of(FindingKind::CiFailure, &["o/r", "CI", "test", "main"]).as_str(),
            "6ddcfdbc060584ccf701696b"
        );
    }

    #[test]
    fn previous_window_has_the_same_length() {
        let end = chrono::DateTime::from_timestamp(3600, 0).unwrap();
        let w = Window {
            start: end - chrono::Duration::minutes(30),
            end,
        };
        let p = w.previous();
        assert_eq!(p.end, w.start);
        assert_eq!(p.end - p.start, w.end - w.start);
        assert!(w.contains(w.start) && !w.contains(w.end));
    }
}
