//! The worker and the outbox against the real SQLite store.

use chrono::{DateTime, Duration as TimeDelta};
use std::sync::Arc;
use tokpulse_act::{Outbox, Sink, deliver_due, plan_for_change, plan_for_resolution};
use tokpulse_core::{Evidence, Finding, FindingKind, FindingStatus, Fingerprint, Severity, Window};
use tokpulse_store::{ActionStatus, FindingChange, SqliteStore, Store};

#[tokio::test]
async fn a_finding_is_filed_once_resolved_and_reopened_through_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&tmp.path().join("db")).await.unwrap();
    store.migrate().await.unwrap();
    let outbox = Arc::new(Outbox::new(tmp.path().join("outbox")));
    let sinks: Vec<Arc<dyn Sink>> = vec![outbox.clone()];
    let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let finding = Finding {
        kind: FindingKind::LatencyRegression,
        severity: Severity::Warning,
        fingerprint: Fingerprint::of(FindingKind::LatencyRegression, &["api", "GET /x"]),
        title: "p95 latency of GET /x on api up 40% (500 ms → 700 ms)".into(),
        service: "api".into(),
        route: Some("GET /x".into()),
        window: Window {
            start: t0 - TimeDelta::minutes(30),
            end: t0,
        },
        evidence: vec![Evidence {
            metric: "p95 latency".into(),
            current: 700.0,
            baseline: Some(500.0),
            threshold: Some(1500.0),
            unit: "ms".into(),
        }],
        cause: None,
        suggestion: "Look at the slowest traces.".into(),
    };

    let mut queued = 0;
    for (i, at) in [t0, t0 + TimeDelta::minutes(5)].into_iter().enumerate() {
        let change = store.upsert_finding(&finding, at).await.unwrap();
        assert_eq!(matches!(change, FindingChange::New { .. }), i == 0);
        let stored = store
            .findings(Some(FindingStatus::Open), 10)
            .await
            .unwrap()
            .remove(0);
        for a in plan_for_change(change, &stored, &["outbox"], at) {
            queued += usize::from(store.enqueue_action(&a).await.unwrap().is_some());
        }
        // A retried run plans the same change again: nothing more is queued.
        for a in plan_for_change(change, &stored, &["outbox"], at) {
            assert_eq!(store.enqueue_action(&a).await.unwrap(), None);
        }
    }
    assert_eq!(queued, 1);
    let report = deliver_due(&store, &sinks, t0 + TimeDelta::minutes(5), 5)
        .await
        .unwrap();
    assert_eq!(report.delivered, 1);

    // Resolved, then happening again, then resolved again: each event lands once.
    let mut at = t0 + TimeDelta::minutes(10);
    for round in 0..2 {
        let stored = store
            .findings(Some(FindingStatus::Open), 10)
            .await
            .unwrap()
            .remove(0);
        assert!(store.resolve_finding(stored.id, at).await.unwrap());
        let resolved = store
            .findings(Some(FindingStatus::Resolved), 10)
            .await
            .unwrap()
            .remove(0);
        for a in plan_for_resolution(&resolved, &["outbox"], at) {
            assert!(
                store.enqueue_action(&a).await.unwrap().is_some(),
                "round {round}"
            );
        }
        at += TimeDelta::minutes(5);
        let change = store.upsert_finding(&finding, at).await.unwrap();
        assert!(
            matches!(change, FindingChange::Reopened { .. }),
            "{change:?}"
        );
        let stored = store
            .findings(Some(FindingStatus::Open), 10)
            .await
            .unwrap()
            .remove(0);
        for a in plan_for_change(change, &stored, &["outbox"], at) {
            assert!(
                store.enqueue_action(&a).await.unwrap().is_some(),
                "round {round}"
            );
        }
        let report = deliver_due(&store, &sinks, at, 5).await.unwrap();
        assert_eq!(report.delivered, 2, "round {round}");
        at += TimeDelta::minutes(5);
    }

    let actions = store.actions(100).await.unwrap();
    assert_eq!(actions.len(), 5);
    assert!(actions.iter().all(|a| a.status == ActionStatus::Delivered));
    let kinds: Vec<_> = outbox
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["open", "resolve", "reopen", "resolve", "reopen"]);
    let body = std::fs::read_to_string(outbox.issue_path(finding.fingerprint.as_str())).unwrap();
    assert_eq!(body.matches("**Resolved** at").count(), 2);
    assert_eq!(body.matches("**Reopened** at").count(), 2);
    store.close().await;
}
