//! Fixtures for unit tests.

use chrono::{DateTime, Duration};
use tokpulse_core::{
    Cause, Evidence, Finding, FindingKind, FindingStatus, Fingerprint, Severity, StoredFinding,
    Window,
};

/// An open latency regression on `search-api GET /api/search`, seen 3 times, with a cause.
pub fn stored_finding() -> StoredFinding {
    let now = DateTime::from_timestamp(1_700_000_000, 0).expect("in range");
    let window = Window {
        start: now - Duration::minutes(30),
        end: now,
    };
    let ev = |metric: &str, current, baseline, threshold, unit: &str| Evidence {
        metric: metric.into(),
        current,
        baseline,
        threshold,
        unit: unit.into(),
    };
    StoredFinding {
        id: 7,
        finding: Finding {
            kind: FindingKind::LatencyRegression,
            severity: Severity::High,
            fingerprint: Fingerprint::of(
                FindingKind::LatencyRegression,
                &["search-api", "GET /api/search"],
            ),
            title: "p95 latency of GET /api/search on search-api up 142% (310 ms → 750 ms)".into(),
            service: "search-api".into(),
            route: Some("GET /api/search".into()),
            window,
            evidence: vec![
                ev("p95 latency", 750.0, Some(310.0), Some(1500.0), "ms"),
                ev("error rate", 0.4, Some(0.3), Some(5.0), "%"),
                ev("requests", 1200.0, Some(1100.0), None, "requests"),
            ],
            cause: Some(Cause {
                deployment_id: "d3".into(),
                version: "v3".into(),
                commit_sha: Some("d30123456789abcdef".into()),
                author: Some("alice".into()),
                deployed_at: window.start + Duration::minutes(4),
            }),
            suggestion: "Roll back v3 or bisect.".into(),
        },
        status: FindingStatus::Open,
        first_seen: now - Duration::hours(1),
        last_seen: now,
        occurrences: 3,
        resolved_at: None,
    }
}

/// The row the store would hold for `a` just after queueing it (id 1, no attempt yet).
pub fn row(a: &tokpulse_store::NewAction) -> tokpulse_store::ActionRow {
    a.queued_as(1)
}
