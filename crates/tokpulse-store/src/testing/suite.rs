//! The conformance suite: what every [`Store`] backend must do. Each function takes a new,
//! empty, unmigrated store and panics on failure; [`store_conformance!`](crate::store_conformance)
//! turns them into tests.
//!
//! One property is checked by the compiler rather than here: unredacted text cannot be written.
//! [`Batch`] holds `Guarded<R>` records and only the privacy guard can make one (see the
//! `compile_fail` example in the crate documentation).

// This module is test code compiled into the library (feature `testing`): a failed call is a
// failed test, and `unwrap` says so as well as anything.
#![allow(clippy::unwrap_used)]

use super::records::{
    ai_usage, at, deploy, email_token, hashed_deploy, hashed_log, hashed_request, log, perf,
    request,
};
use crate::{
    ActionStatus, AiUsageDay, AuditRow, Batch, BlockedRecord, FindingChange, NewAction, NewApiKey,
    RequestKind, RollupRow, RollupWrite, Store, StoreError, Table, embedded_migrations,
};
use std::sync::Arc;
use tokpulse_core::{
    Cause, Evidence, Finding, FindingKind, FindingStatus, Fingerprint, RecordKind, Role, Severity,
    Window,
};
use tokpulse_guard::Entity;

pub use super::cost::{
    ai_usage_daily_counts_each_call_once, ai_usage_daily_is_read_by_window,
    ai_usage_is_read_back_with_its_cost, cost_predictions_are_kept_newest_first,
    infra_usage_is_idempotent_by_id, retention_keeps_ai_usage_not_rolled_up,
};
pub use super::diagnosis::{
    ci_runs_and_jobs_are_idempotent, detector_state_and_error_logs, rollups_are_committed_once,
};
pub use super::jobs::{
    job_runs_are_claimed_once_and_leases_expire, webhook_deliveries_are_taken_once,
};

async fn migrated(store: &Arc<dyn Store>) {
    store.migrate().await.expect("migrate");
}

fn window(start_ms: i64, end_ms: i64) -> Window {
    Window {
        start: at(start_ms),
        end: at(end_ms),
    }
}

/// The first `migrate` applies every embedded migration, the second nothing.
pub async fn migrate_is_idempotent(store: Arc<dyn Store>) {
    let all: Vec<i64> = embedded_migrations(store.backend())
        .iter()
        .map(|m| m.version)
        .collect();
    assert!(!all.is_empty());
    assert_eq!(store.migrate().await.unwrap(), all);
    assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());
    assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());
}

/// Every table exists after migrating and is empty.
pub async fn every_table_starts_empty(store: Arc<dyn Store>) {
    migrated(&store).await;
    for table in Table::ALL {
        assert_eq!(store.count(table).await.unwrap(), 0, "{}", table.name());
    }
}

/// A retried batch is counted as duplicates, and a partly new batch writes only the new rows.
pub async fn insert_batch_counts_duplicates(store: Arc<dyn Store>) {
    migrated(&store).await;
    let batch = Batch::Performance(vec![perf("a", 1_000), perf("b", 2_000), perf("c", 3_000)]);
    let first = store.insert_batch(&batch).await.unwrap();
    assert_eq!((first.inserted, first.duplicates), (3, 0));
    let retry = store.insert_batch(&batch).await.unwrap();
    assert_eq!((retry.inserted, retry.duplicates), (0, 3));
    let overlap = Batch::Performance(vec![perf("c", 3_000), perf("d", 4_000)]);
    let o = store.insert_batch(&overlap).await.unwrap();
    assert_eq!((o.inserted, o.duplicates), (1, 1));
    assert_eq!(store.count(Table::PerformanceMetrics).await.unwrap(), 4);
}

/// An id repeated inside one batch is stored once and counted as a duplicate.
pub async fn duplicates_within_one_batch(store: Arc<dyn Store>) {
    migrated(&store).await;
    let batch = Batch::Logs(vec![
        log("x", 1_000),
        log("y", 1_000),
        log("x", 1_500),
        log("x", 2_000),
    ]);
    let out = store.insert_batch(&batch).await.unwrap();
    assert_eq!((out.inserted, out.duplicates), (2, 2));
    assert_eq!(store.count(Table::ApplicationLogs).await.unwrap(), 2);
}

/// Batches bigger than one INSERT statement are split, still in one transaction, and a
/// duplicate across the split is still found.
pub async fn large_batches_are_chunked(store: Arc<dyn Store>) {
    migrated(&store).await;
    let mut rows: Vec<_> = (0..2_600)
        .map(|i| perf(&format!("r{i}"), 1_000 + i))
        .collect();
    rows.push(perf("r7", 99));
    let out = store.insert_batch(&Batch::Performance(rows)).await.unwrap();
    assert_eq!((out.inserted, out.duplicates), (2_600, 1));
    assert_eq!(store.count(Table::PerformanceMetrics).await.unwrap(), 2_600);
    let samples = store.request_samples(window(0, 10_000)).await.unwrap();
    assert_eq!(samples.len(), 2_600);
}

/// Each batch kind lands in its own table.
pub async fn every_kind_is_stored(store: Arc<dyn Store>) {
    migrated(&store).await;
    let batches = [
        Batch::Performance(vec![perf("p1", 1)]),
        Batch::AiUsage(vec![ai_usage("u1", 1), ai_usage("u2", 2)]),
        Batch::Logs(vec![log("l1", 1), log("l2", 2), log("l3", 3)]),
        Batch::Deploys(vec![deploy("d1", 1, "api", "v1")]),
    ];
    for b in &batches {
        let out = store.insert_batch(b).await.unwrap();
        assert_eq!(out.inserted, b.len() as u64);
    }
    for (table, n) in [
        (Table::PerformanceMetrics, 1),
        (Table::AiUsageMetrics, 2),
        (Table::ApplicationLogs, 3),
        (Table::Deployments, 1),
        (Table::Findings, 0),
    ] {
        assert_eq!(store.count(table).await.unwrap(), n, "{}", table.name());
    }
}

/// An empty batch writes nothing and succeeds.
pub async fn empty_batch_is_a_no_op(store: Arc<dyn Store>) {
    migrated(&store).await;
    let out = store.insert_batch(&Batch::Deploys(vec![])).await.unwrap();
    assert_eq!((out.inserted, out.duplicates), (0, 0));
}

/// `has_record` looks in the table of the kind asked for.
pub async fn has_record_is_per_kind(store: Arc<dyn Store>) {
    migrated(&store).await;
    store
        .insert_batch(&Batch::AiUsage(vec![ai_usage("same-id", 1)]))
        .await
        .unwrap();
    assert!(
        store
            .has_record(RecordKind::AiUsage, "same-id")
            .await
            .unwrap()
    );
    assert!(
        !store
            .has_record(RecordKind::AiUsage, "other")
            .await
            .unwrap()
    );
    assert!(
        !store
            .has_record(RecordKind::Performance, "same-id")
            .await
            .unwrap()
    );
    assert!(!store.has_record(RecordKind::Logs, "same-id").await.unwrap());
    assert!(
        !store
            .has_record(RecordKind::Deploys, "same-id")
            .await
            .unwrap()
    );
}

/// A window includes its start and excludes its end; samples carry `METHOD route` and 5xx.
pub async fn request_samples_window_is_half_open(store: Arc<dyn Store>) {
    migrated(&store).await;
    let rows = vec![
        request("before", 9_999, "api", "GET", "/a", 200, 1.0),
        request("start", 10_000, "api", "GET", "/a", 200, 2.0),
        request("mid", 15_000, "web", "POST", "/users/:id", 503, 3.5),
        request("client-error", 16_000, "api", "GET", "/a", 404, 4.0),
        request("last", 19_999, "api", "GET", "/a", 500, 5.0),
        request("end", 20_000, "api", "GET", "/a", 200, 6.0),
    ];
    store.insert_batch(&Batch::Performance(rows)).await.unwrap();
    let samples = store.request_samples(window(10_000, 20_000)).await.unwrap();
    let got: Vec<_> = samples
        .iter()
        .map(|s| {
            (
                s.timestamp.timestamp_millis(),
                s.service.as_str(),
                s.route.as_str(),
                s.duration_ms,
                s.is_error,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (10_000, "api", "GET /a", 2.0, false),
            (15_000, "web", "POST /users/:id", 3.5, true),
            (16_000, "api", "GET /a", 4.0, false),
            (19_999, "api", "GET /a", 5.0, true),
        ]
    );
    assert!(
        store
            .request_samples(window(0, 9_999))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Deployments come back whole, inside the window, oldest first.
pub async fn deployments_oldest_first(store: Arc<dyn Store>) {
    migrated(&store).await;
    let rows = vec![
        deploy("d3", 30_000, "api", "v3"),
        deploy("d1", 10_000, "api", "v1"),
        deploy("d0", 5_000, "api", "v0"),
        deploy("d2", 20_000, "web", "v2"),
        deploy("d4", 40_000, "api", "v4"),
    ];
    let expected_d1 = rows[1].get().clone();
    store.insert_batch(&Batch::Deploys(rows)).await.unwrap();
    let got = store.deployments(window(10_000, 40_000)).await.unwrap();
    let ids: Vec<&str> = got.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["d1", "d2", "d3"]);
    assert_eq!(got[0], expected_d1);
    assert_eq!(got[1].service.as_str(), "web");
}

fn finding(title: &str, severity: Severity, window_ms: (i64, i64)) -> Finding {
    Finding {
        kind: FindingKind::LatencyRegression,
        severity,
        fingerprint: Fingerprint::of(FindingKind::LatencyRegression, &["api", "GET /cart"]),
        title: title.into(),
        service: "api".into(),
        route: Some("GET /cart".into()),
        window: window(window_ms.0, window_ms.1),
        evidence: vec![Evidence {
            metric: "p95 latency".into(),
            current: 870.5,
            baseline: Some(310.0),
            threshold: Some(500.0),
            unit: "ms".into(),
        }],
        cause: Some(Cause {
            deployment_id: "d1".into(),
            version: "v1".into(),
            commit_sha: Some("0123abcd".into()),
            author: None,
            deployed_at: at(9_000),
        }),
        suggestion: "roll back v1".into(),
    }
}

/// New → Updated (occurrences 2, latest fields) → resolved → Reopened (occurrences 3).
pub async fn findings_new_updated_resolved_reopened(store: Arc<dyn Store>) {
    migrated(&store).await;
    let first = finding("p95 of GET /cart is 870 ms", Severity::Warning, (0, 60_000));
    let id = match store.upsert_finding(&first, at(60_000)).await.unwrap() {
        FindingChange::New { id } => id,
        other => panic!("expected New, got {other:?}"),
    };
    let stored = store.findings(None, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, id);
    assert_eq!(stored[0].finding, first);
    assert_eq!(stored[0].status, FindingStatus::Open);
    assert_eq!(stored[0].occurrences, 1);
    assert_eq!(
        (stored[0].first_seen, stored[0].last_seen),
        (at(60_000), at(60_000))
    );
    assert_eq!(stored[0].resolved_at, None);

    let mut second = finding(
        "p95 of GET /cart is 1.2 s",
        Severity::High,
        (60_000, 120_000),
    );
    second.cause = None;
    assert_eq!(
        store.upsert_finding(&second, at(120_000)).await.unwrap(),
        FindingChange::Updated { id, occurrences: 2 }
    );
    let stored = store.findings(Some(FindingStatus::Open), 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].finding, second);
    assert_eq!(stored[0].occurrences, 2);
    assert_eq!(
        (stored[0].first_seen, stored[0].last_seen),
        (at(60_000), at(120_000))
    );

    assert!(store.resolve_finding(id, at(180_000)).await.unwrap());
    assert!(
        !store.resolve_finding(id, at(190_000)).await.unwrap(),
        "already resolved"
    );
    assert!(
        !store
            .resolve_finding(id + 1_000, at(190_000))
            .await
            .unwrap(),
        "no such finding"
    );
    assert!(
        store
            .findings(Some(FindingStatus::Open), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let resolved = store
        .findings(Some(FindingStatus::Resolved), 10)
        .await
        .unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].resolved_at, Some(at(180_000)));

    assert_eq!(
        store.upsert_finding(&first, at(240_000)).await.unwrap(),
        FindingChange::Reopened { id, occurrences: 3 }
    );
    let stored = store.findings(None, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, FindingStatus::Open);
    assert_eq!(stored[0].resolved_at, None);
    assert_eq!(stored[0].occurrences, 3);
    assert_eq!(stored[0].finding, first);
    assert_eq!(
        (stored[0].first_seen, stored[0].last_seen),
        (at(60_000), at(240_000))
    );
    assert_eq!(store.count(Table::Findings).await.unwrap(), 1);
}

/// Listing is newest `last_seen` first, filtered by status, limited.
pub async fn findings_listing_filters_and_orders(store: Arc<dyn Store>) {
    migrated(&store).await;
    let mut ids = Vec::new();
    for (i, route) in ["GET /a", "GET /b", "GET /c"].iter().enumerate() {
        let mut f = finding(route, Severity::Info, (0, 1_000));
        f.kind = FindingKind::ErrorSpike;
        f.fingerprint = Fingerprint::of(FindingKind::ErrorSpike, &["api", route]);
        f.route = Some((*route).into());
        let change = store
            .upsert_finding(&f, at(1_000 * (i as i64 + 1)))
            .await
            .unwrap();
        ids.push(change.id());
    }
    assert!(store.resolve_finding(ids[1], at(10_000)).await.unwrap());
    let all: Vec<i64> = store
        .findings(None, 10)
        .await
        .unwrap()
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(all, [ids[2], ids[1], ids[0]]);
    let open: Vec<i64> = store
        .findings(Some(FindingStatus::Open), 10)
        .await
        .unwrap()
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(open, [ids[2], ids[0]]);
    assert_eq!(store.findings(None, 1).await.unwrap().len(), 1);
    assert!(store.findings(None, 0).await.unwrap().is_empty());
}

async fn some_finding(store: &Arc<dyn Store>) -> i64 {
    store
        .upsert_finding(&finding("t", Severity::High, (0, 1_000)), at(1_000))
        .await
        .unwrap()
        .id()
}

fn action(finding_id: i64, sink: &str, key: &str, created_ms: i64) -> NewAction {
    NewAction {
        finding_id,
        sink: sink.into(),
        kind: "open".into(),
        idempotency_key: key.into(),
        payload: serde_json::json!({ "title": "p95 regression", "labels": ["severity:high"] }),
        created_at: at(created_ms),
    }
}

/// The same idempotency key is queued once.
pub async fn actions_are_idempotent_by_key(store: Arc<dyn Store>) {
    migrated(&store).await;
    let f = some_finding(&store).await;
    let id = store
        .enqueue_action(&action(f, "github", "k1", 1_000))
        .await
        .unwrap()
        .expect("a new key is queued");
    let mut again = action(f, "slack", "k1", 2_000);
    again.payload = serde_json::json!({ "other": true });
    assert_eq!(store.enqueue_action(&again).await.unwrap(), None);
    assert_eq!(store.count(Table::Actions).await.unwrap(), 1);
    let rows = store.actions(10).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.id, id);
    assert_eq!(row.finding_id, f);
    assert_eq!((row.sink.as_str(), row.kind.as_str()), ("github", "open"));
    assert_eq!(row.idempotency_key, "k1");
    assert_eq!(row.payload, action(f, "github", "k1", 1_000).payload);
    assert_eq!(row.status, ActionStatus::Pending);
    assert_eq!(row.attempts, 0);
    assert_eq!(
        (row.created_at, row.next_attempt_at),
        (at(1_000), at(1_000))
    );
    assert_eq!(
        (row.delivered_at, row.external_ref.as_deref()),
        (None, None)
    );
    assert_eq!(row.last_error, None);
}

/// Claims: each due action goes to one pass until its lease ends; a finding's later actions
/// wait behind its first pending one; released actions are due again.
pub async fn actions_are_claimed_once_in_queue_order(store: Arc<dyn Store>) {
    migrated(&store).await;
    let f = some_finding(&store).await;
    let mut other = finding("u", Severity::High, (0, 1_000));
    other.fingerprint = Fingerprint::of(FindingKind::LatencyRegression, &["api", "GET /other"]);
    let g = store.upsert_finding(&other, at(1_000)).await.unwrap().id();
    let enqueue = |finding: i64, key: &'static str, created: i64| {
        let store = Arc::clone(&store);
        async move {
            store
                .enqueue_action(&action(finding, "github", key, created))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let a1 = enqueue(f, "a1", 1_000).await;
    let a2 = enqueue(f, "a2", 2_000).await;
    let b1 = enqueue(g, "b1", 1_500).await;
    let claim = |now: i64, lease: i64| {
        let store = Arc::clone(&store);
        async move {
            store
                .claim_due_actions("github", at(now), at(lease), 10)
                .await
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect::<Vec<i64>>()
        }
    };

    assert_eq!(
        claim(999, 60_000).await,
        Vec::<i64>::new(),
        "nothing due yet"
    );
    assert_eq!(
        claim(5_000, 60_000).await,
        [a1, b1],
        "oldest first; a2 waits behind a1"
    );
    assert_eq!(claim(5_000, 60_000).await, Vec::<i64>::new(), "claimed");
    let due: Vec<i64> = store
        .due_actions("github", at(5_000), 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        due,
        [a2],
        "claimed ones are not due; a2 is due but waits behind a1"
    );

    store
        .mark_action_delivered(a1, at(6_000), "https://github.com/acme/shop/issues/1")
        .await
        .unwrap();
    assert_eq!(claim(6_000, 60_000).await, [a2], "a1 delivered: a2 is next");
    store.release_action(b1, at(6_000)).await.unwrap();
    assert_eq!(claim(6_000, 60_000).await, [b1], "released: due again");
    store.release_action(a1, at(6_000)).await.unwrap();
    let delivered = store.actions(10).await.unwrap();
    let a1_row = delivered.iter().find(|r| r.id == a1).unwrap();
    assert_eq!(a1_row.status, ActionStatus::Delivered, "release leaves it");

    // A pass that died: its lease ends and the actions are due again, attempts unchanged.
    assert_eq!(claim(59_999, 120_000).await, Vec::<i64>::new());
    assert_eq!(claim(60_000, 120_000).await, [b1, a2]);
    let rows = store.actions(10).await.unwrap();
    assert!(rows.iter().all(|r| r.attempts == i64::from(r.id == a1)));
    store
        .mark_action_delivered(b1, at(61_000), "https://github.com/acme/shop/issues/2")
        .await
        .unwrap();

    // A failed attempt's retry time replaces the lease; the finding's later actions wait.
    let a3 = enqueue(f, "a3", 3_000).await;
    store
        .mark_action_failed(a2, "502", Some(at(200_000)))
        .await
        .unwrap();
    assert_eq!(
        claim(130_000, 190_000).await,
        Vec::<i64>::new(),
        "a3 waits for a2"
    );
    assert_eq!(claim(200_000, 260_000).await, [a2]);

    // Two passes at once get disjoint sets that cover every due action.
    let mut ids = Vec::new();
    for i in 0..40 {
        let mut each = finding("many", Severity::High, (0, 1_000));
        each.fingerprint = Fingerprint::of(
            FindingKind::LatencyRegression,
            &["api", &format!("GET /{i}")],
        );
        let id = store.upsert_finding(&each, at(1_000)).await.unwrap().id();
        let key: &'static str = Box::leak(format!("many-{i}").into_boxed_str());
        ids.push(enqueue(id, key, 10_000 + i).await);
    }
    let (x, y) = tokio::join!(
        store.claim_due_actions("github", at(300_000), at(400_000), 25),
        store.claim_due_actions("github", at(300_000), at(400_000), 25),
    );
    let mut got: Vec<i64> = x
        .unwrap()
        .into_iter()
        .chain(y.unwrap())
        .map(|r| r.id)
        .collect();
    let claimed = got.len();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), claimed, "an action claimed by two passes");
    // a2's lease from 200_000 has ended; a3 still waits behind it.
    ids.push(a2);
    ids.sort_unstable();
    let mut rest = claim(300_000, 400_000).await;
    got.append(&mut rest);
    got.sort_unstable();
    assert_eq!(got, ids, "every due action claimed once");
    store
        .mark_action_delivered(a2, at(300_001), "x")
        .await
        .unwrap();
    assert_eq!(claim(300_002, 400_000).await, [a3]);
}

/// Due actions per sink, retries, parking and delivery.
pub async fn actions_due_failed_parked_delivered(store: Arc<dyn Store>) {
    migrated(&store).await;
    let f = some_finding(&store).await;
    let a = store
        .enqueue_action(&action(f, "github", "a", 1_000))
        .await
        .unwrap()
        .unwrap();
    let b = store
        .enqueue_action(&action(f, "github", "b", 2_000))
        .await
        .unwrap()
        .unwrap();
    let c = store
        .enqueue_action(&action(f, "github", "c", 3_000))
        .await
        .unwrap()
        .unwrap();
    let s = store
        .enqueue_action(&action(f, "slack", "s", 1_000))
        .await
        .unwrap()
        .unwrap();

    let due = |now: i64| {
        let store = Arc::clone(&store);
        async move {
            store
                .due_actions("github", at(now), 10)
                .await
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect::<Vec<i64>>()
        }
    };
    assert_eq!(due(999).await, Vec::<i64>::new());
    assert_eq!(
        due(2_000).await,
        [a, b],
        "due at their creation, oldest first"
    );
    assert_eq!(due(5_000).await, [a, b, c]);
    assert_eq!(
        store
            .due_actions("github", at(5_000), 2)
            .await
            .unwrap()
            .len(),
        2
    );
    let slack = store.due_actions("slack", at(5_000), 10).await.unwrap();
    assert_eq!(slack.iter().map(|r| r.id).collect::<Vec<_>>(), [s]);

    // a fails and is retried later; b fails for good; c is delivered.
    store
        .mark_action_failed(a, "502 from api.github.com", Some(at(60_000)))
        .await
        .unwrap();
    store
        .mark_action_failed(b, "422 validation failed", None)
        .await
        .unwrap();
    store
        .mark_action_delivered(c, at(5_500), "https://github.com/o/r/issues/7")
        .await
        .unwrap();
    assert_eq!(due(5_000).await, Vec::<i64>::new());
    assert_eq!(due(59_999).await, Vec::<i64>::new());
    assert_eq!(due(60_000).await, [a]);

    let rows = store.actions(10).await.unwrap();
    let row = |id: i64| rows.iter().find(|r| r.id == id).unwrap().clone();
    let (ra, rb, rc) = (row(a), row(b), row(c));
    assert_eq!((ra.status, ra.attempts), (ActionStatus::Pending, 1));
    assert_eq!(ra.last_error.as_deref(), Some("502 from api.github.com"));
    assert_eq!(ra.next_attempt_at, at(60_000));

    // A parked action can be revived by hand; others are left alone.
    assert!(
        !store.retry_action(a, at(61_000)).await.unwrap(),
        "pending, not parked"
    );
    assert!(
        !store.retry_action(c, at(61_000)).await.unwrap(),
        "delivered stays delivered"
    );
    assert!(
        !store.retry_action(9_999, at(61_000)).await.unwrap(),
        "no such action"
    );
    assert_eq!((rb.status, rb.attempts), (ActionStatus::Parked, 1));
    assert_eq!(rb.last_error.as_deref(), Some("422 validation failed"));
    assert_eq!((rc.status, rc.attempts), (ActionStatus::Delivered, 1));
    assert_eq!(rc.delivered_at, Some(at(5_500)));
    assert_eq!(
        rc.external_ref.as_deref(),
        Some("https://github.com/o/r/issues/7")
    );

    // Revived by hand, b is due again at once with its attempts reset.
    assert!(store.retry_action(b, at(61_000)).await.unwrap());
    assert_eq!(due(61_000).await, [a, b]);
    assert!(
        !store.retry_action(b, at(61_000)).await.unwrap(),
        "already pending"
    );
    store
        .mark_action_delivered(b, at(61_500), "issue 9")
        .await
        .unwrap();

    // A second failure counts; then delivery.
    store
        .mark_action_failed(a, "timeout", Some(at(120_000)))
        .await
        .unwrap();
    assert_eq!(due(60_000).await, Vec::<i64>::new());
    store
        .mark_action_delivered(a, at(120_500), "issue 8")
        .await
        .unwrap();
    assert_eq!(due(1_000_000).await, Vec::<i64>::new());
    let ra = store
        .actions(10)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == a)
        .unwrap();
    assert_eq!((ra.status, ra.attempts), (ActionStatus::Delivered, 3));

    // A late failure report does not undo a delivery.
    store
        .mark_action_failed(c, "late", Some(at(200_000)))
        .await
        .unwrap();
    let rc = store
        .actions(10)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == c)
        .unwrap();
    assert_eq!(rc.status, ActionStatus::Delivered);
    assert_eq!(due(1_000_000).await, Vec::<i64>::new());

    // Newest first.
    let all: Vec<i64> = store
        .actions(10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(all, [c, b, s, a]);
}

/// Marking an action that does not exist is an error that says so.
pub async fn marking_a_missing_action_fails(store: Arc<dyn Store>) {
    migrated(&store).await;
    let err = store
        .mark_action_delivered(4242, at(1), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                table: "actions",
                id: 4242
            }
        ),
        "{err}"
    );
    let err = store.mark_action_failed(4242, "e", None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

fn key(name: &str, hash: &str, role: Role, created_ms: i64) -> NewApiKey {
    NewApiKey {
        name: name.into(),
        prefix: format!("tp_{}", &hash[..4]),
        key_hash: hash.into(),
        role,
        created_at: at(created_ms),
    }
}

/// Keys are found by hash, stamped when used, and dead once revoked.
pub async fn api_keys_create_authenticate_revoke(store: Arc<dyn Store>) {
    migrated(&store).await;
    let ci = store
        .create_api_key(&key("ci", "aaaa1111", Role::Service, 1_000))
        .await
        .unwrap();
    let dash = store
        .create_api_key(&key("dashboard", "bbbb2222", Role::Authenticated, 2_000))
        .await
        .unwrap();
    assert_ne!(ci, dash);
    assert!(
        store
            .create_api_key(&key("dup", "aaaa1111", Role::Anon, 3_000))
            .await
            .is_err(),
        "key hashes are unique"
    );

    let row = store
        .authenticate("aaaa1111", at(5_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.id, ci);
    assert_eq!((row.name.as_str(), row.prefix.as_str()), ("ci", "tp_aaaa"));
    assert_eq!(row.role, Role::Service);
    assert_eq!(row.created_at, at(1_000));
    assert_eq!(row.last_used_at, Some(at(5_000)));
    assert_eq!(row.revoked_at, None);
    assert_eq!(store.authenticate("nope", at(5_000)).await.unwrap(), None);

    let later = store
        .authenticate("aaaa1111", at(6_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        later.last_used_at,
        Some(at(5_000)),
        "stamped at most once a minute: checking a key is a read"
    );
    let much_later = store
        .authenticate("aaaa1111", at(65_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(much_later.last_used_at, Some(at(65_000)));

    assert!(store.revoke_api_key(ci, at(70_000)).await.unwrap());
    assert!(
        !store.revoke_api_key(ci, at(80_000)).await.unwrap(),
        "already revoked"
    );
    assert!(
        !store.revoke_api_key(9_999, at(80_000)).await.unwrap(),
        "no such key"
    );
    assert_eq!(
        store.authenticate("aaaa1111", at(190_000)).await.unwrap(),
        None
    );
    assert!(
        store
            .authenticate("bbbb2222", at(190_000))
            .await
            .unwrap()
            .is_some()
    );

    let keys = store.api_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].id, ci);
    assert_eq!(keys[0].revoked_at, Some(at(70_000)));
    assert_eq!(
        keys[0].last_used_at,
        Some(at(65_000)),
        "a refused key is not stamped"
    );
    assert_eq!(keys[1].role, Role::Authenticated);
    assert_eq!(keys[1].last_used_at, Some(at(190_000)));
    assert_eq!(store.count(Table::ApiKeys).await.unwrap(), 2);
}

/// Many tasks writing at once (as concurrent HTTP requests do) all succeed: no `SQLITE_BUSY`,
/// no lost rows.
pub async fn concurrent_writers_all_succeed(store: Arc<dyn Store>) {
    migrated(&store).await;
    let f = some_finding(&store).await;
    store
        .create_api_key(&key("ci", "cccc3333", Role::Service, 1))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for b in 0..10 {
                    let base = (t * 10 + b) * 50;
                    let rows = (0..50)
                        .map(|i| perf(&format!("c{}", base + i), i64::from(base + i)))
                        .collect();
                    let out = store.insert_batch(&Batch::Performance(rows)).await.unwrap();
                    assert_eq!(out.inserted, 50);
                    // Retries of a batch another task may be writing right now.
                    let logs = (0..5).map(|i| log(&format!("l{b}-{i}"), 1)).collect();
                    store.insert_batch(&Batch::Logs(logs)).await.unwrap();
                    store
                        .authenticate("cccc3333", at(i64::from(t * 100 + b)))
                        .await
                        .unwrap()
                        .unwrap();
                    store
                        .upsert_finding(&finding("t", Severity::High, (0, 1_000)), at(2_000))
                        .await
                        .unwrap();
                    store
                        .enqueue_action(&action(f, "outbox", &format!("k{t}-{b}"), 1))
                        .await
                        .unwrap()
                        .unwrap();
                    store.count(Table::PerformanceMetrics).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a writer task panicked");
    }
    assert_eq!(store.count(Table::PerformanceMetrics).await.unwrap(), 4_000);
    assert_eq!(store.count(Table::ApplicationLogs).await.unwrap(), 50);
    assert_eq!(store.count(Table::Actions).await.unwrap(), 80);
    let stored = store.findings(None, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].occurrences, 81);
}

// --- Privacy: audit, data-subject requests, retention (issue 3) ---

const DAY_MS: i64 = 86_400_000;

fn day(ms: i64) -> chrono::NaiveDate {
    at(ms).date_naive()
}

fn audit_row(ms: i64, source: &str, entity: &str, action: &str, count: i64) -> AuditRow {
    AuditRow {
        day: day(ms),
        source: source.into(),
        entity: entity.into(),
        action: action.into(),
        count,
    }
}

/// `insert_batch` adds the guard's counts of the rows it writes, per day, source, entity and
/// action; a retried batch, an id repeated in a batch and a clean batch add nothing.
pub async fn audit_counts_written_records_once(store: Arc<dyn Store>) {
    migrated(&store).await;
    let since = day(0);
    assert!(store.privacy_audit(since).await.unwrap().is_empty());
    let batch = Batch::Logs(vec![log("l1", 1_000), log("l2", DAY_MS + 1)]);
    store.insert_batch(&batch).await.unwrap();
    store.insert_batch(&batch).await.unwrap();
    store
        .insert_batch(&Batch::Logs(vec![
            log("l2", DAY_MS + 1),
            log("l3", 2_000),
            log("l3", 3_000),
        ]))
        .await
        .unwrap();
    store
        .insert_batch(&Batch::Performance(vec![perf("p1", 1_000)]))
        .await
        .unwrap();
    store
        .insert_batch(&Batch::AiUsage(vec![ai_usage("u1", 1_000)]))
        .await
        .unwrap();
    // The first record with an id is the one kept: a later copy's counts are not added.
    store
        .insert_batch(&Batch::Logs(vec![
            hashed_log("dup", 1_000, "nothing here"),
            hashed_log("dup", 1_000, "from c@corp.io"),
        ]))
        .await
        .unwrap();
    let hashed = hashed_log("h1", 1_000, "from a@corp.io and b@corp.io, 10.1.2.3");
    store
        .insert_batch(&Batch::Logs(vec![hashed]))
        .await
        .unwrap();
    assert_eq!(
        store.privacy_audit(since).await.unwrap(),
        [
            audit_row(0, "ai-usage", "EMAIL", "redacted", 1),
            audit_row(0, "logs", "EMAIL", "hashed", 2),
            audit_row(0, "logs", "EMAIL", "redacted", 2),
            audit_row(0, "logs", "IPV4", "redacted", 1),
            audit_row(DAY_MS, "logs", "EMAIL", "redacted", 1),
        ]
    );
    assert_eq!(
        store.privacy_audit(day(DAY_MS)).await.unwrap(),
        [audit_row(DAY_MS, "logs", "EMAIL", "redacted", 1)]
    );
}

/// Blocked records are counted once per source and id, however often a batch is retried.
pub async fn blocked_records_are_counted_once(store: Arc<dyn Store>) {
    migrated(&store).await;
    let blocked = |id: &str, ms: i64, entity| BlockedRecord {
        record_id: id.into(),
        timestamp: at(ms),
        entity,
    };
    let first = [
        blocked("b1", 1_000, Entity::UsSsn),
        blocked("b2", 2_000, Entity::UsSsn),
        blocked("b3", 3_000, Entity::CreditCard),
    ];
    assert_eq!(
        store
            .record_blocked(RecordKind::Logs, &first)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .record_blocked(RecordKind::Logs, &first)
            .await
            .unwrap(),
        0
    );
    // The same id from another source is another record.
    assert_eq!(
        store
            .record_blocked(RecordKind::Performance, &first[..1])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.privacy_audit(day(0)).await.unwrap(),
        [
            audit_row(0, "logs", "CREDIT_CARD", "blocked", 1),
            audit_row(0, "logs", "US_SSN", "blocked", 2),
            audit_row(0, "performance", "US_SSN", "blocked", 1),
        ]
    );
}

/// A new request rollup of service `api`.
fn rollup(route: &str, resolution: &str, ms: i64, requests: i64) -> RollupWrite {
    RollupWrite {
        row: RollupRow {
            service: "api".into(),
            route: route.into(),
            resolution: resolution.into(),
            bucket_start: at(ms),
            requests,
            errors: 0,
            sketch: b"\x01sketch".to_vec(),
        },
        read_requests: None,
    }
}

/// The AI calls of service `api` with `model` on the day of `ms`, summed.
fn ai_day(ms: i64, feature: &str, route: Option<&str>, calls: u64) -> AiUsageDay {
    AiUsageDay {
        day: day(ms),
        service: "api".into(),
        feature: Some(feature.into()),
        model: "gpt-4o".into(),
        route: route.map(Into::into),
        calls,
        failed_calls: 0,
        prompt_tokens: 100 * calls,
        cached_prompt_tokens: 0,
        completion_tokens: 10 * calls,
    }
}

/// The route of the first person's requests in [`two_people`]: not templated by the client,
/// so it holds their token.
fn route_of(token: &str) -> String {
    format!("GET /users/{token}/orders")
}

/// Rows about two people, through the hashing guard, plus a finding and an action that name
/// the first, and request rollups and daily AI usage under a route (and a feature) naming the
/// first, beside the second's under `/account`.
async fn two_people(store: &Arc<dyn Store>, jane: &str, bob: &str) -> (i64, i64) {
    for (who, n) in [(jane, 1), (bob, 2)] {
        store
            .insert_batch(&Batch::Logs(vec![hashed_log(
                &format!("log-{n}"),
                1_000,
                &format!("payment failed for {who}"),
            )]))
            .await
            .unwrap();
        store
            .insert_batch(&Batch::Performance(vec![hashed_request(
                &format!("req-{n}"),
                1_000,
                "/account",
                serde_json::json!({ "user": { "email": who } }),
            )]))
            .await
            .unwrap();
        store
            .insert_batch(&Batch::Deploys(vec![hashed_deploy(
                &format!("dep-{n}"),
                1_000,
                who,
            )]))
            .await
            .unwrap();
    }
    store
        .insert_batch(&Batch::Logs(vec![hashed_log("log-3", 1_000, "both")]))
        .await
        .unwrap();
    let token = email_token(jane);
    let jane_route = route_of(&token);
    let rollups = [
        rollup(&jane_route, "minute", 0, 1),
        rollup(&jane_route, "hour", 0, 1),
        rollup("GET /account", "minute", 0, 2),
    ];
    assert!(store.commit_rollups(&[], &rollups).await.unwrap());
    let days = [
        ai_day(1_000, "chat", Some(&jane_route), 2),
        ai_day(DAY_MS, &format!("digest for {token}"), None, 1),
        ai_day(1_000, "chat", Some("GET /account"), 3),
    ];
    assert!(store.commit_ai_usage_daily(&[], &days).await.unwrap());
    let mut f = finding(&format!("errors for {token}"), Severity::High, (0, 1_000));
    f.evidence[0].metric = format!("errors of {token}");
    let finding_id = store.upsert_finding(&f, at(1_000)).await.unwrap().id();
    let mut a = action(finding_id, "outbox", "k-jane", 1_000);
    a.payload = serde_json::json!({ "title": format!("errors for {token}") });
    let action_id = store.enqueue_action(&a).await.unwrap().unwrap();
    (finding_id, action_id)
}

/// `forget_subject` deletes the telemetry that holds the token, anonymises findings and
/// actions, leaves everyone else's rows alone, and records the request.
pub async fn forget_deletes_and_anonymises_one_person(store: Arc<dyn Store>) {
    migrated(&store).await;
    let (jane, bob) = ("jane@corp.io", "bob@corp.io");
    let (finding_id, _) = two_people(&store, jane, bob).await;
    let token = email_token(jane);
    let outcome = store.forget_subject(&token, at(5_000)).await.unwrap();
    let by_table: Vec<(&str, u64, u64)> = outcome
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.deleted, t.anonymised))
        .collect();
    assert_eq!(
        by_table,
        [
            ("performance_metrics", 1, 0),
            ("application_logs", 1, 0),
            ("ai_usage_metrics", 0, 0),
            ("deployments", 1, 0),
            ("request_rollups", 2, 0),
            ("ai_usage_daily", 2, 0),
            ("ai_embeddings", 0, 0),
            ("findings", 0, 1),
            ("actions", 0, 1),
        ]
    );
    assert_eq!((outcome.deleted(), outcome.anonymised()), (7, 2));
    for (kind, id) in [
        (RecordKind::Logs, "log-2"),
        (RecordKind::Logs, "log-3"),
        (RecordKind::Performance, "req-2"),
        (RecordKind::Deploys, "dep-2"),
    ] {
        assert!(store.has_record(kind, id).await.unwrap(), "{id} stays");
    }
    for (kind, id) in [
        (RecordKind::Logs, "log-1"),
        (RecordKind::Performance, "req-1"),
        (RecordKind::Deploys, "dep-1"),
    ] {
        assert!(!store.has_record(kind, id).await.unwrap(), "{id} is gone");
    }
    // Bob's rollups stay, under his route.
    let rollups = store
        .rollups("minute", window(0, DAY_MS), None)
        .await
        .unwrap();
    let routes: Vec<&str> = rollups.iter().map(|r| r.route.as_str()).collect();
    assert_eq!(routes, ["GET /account"]);
    assert!(
        store
            .rollups("hour", window(0, DAY_MS), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count(Table::RequestRollups).await.unwrap(), 1);
    let days = store.ai_usage_daily(day(0), day(2 * DAY_MS)).await.unwrap();
    assert_eq!(
        days,
        [ai_day(1_000, "chat", Some("GET /account"), 3)],
        "Bob's daily AI usage stays"
    );
    let f = store.findings(None, 10).await.unwrap();
    assert_eq!(f[0].id, finding_id);
    assert_eq!(f[0].finding.title, "errors for [FORGOTTEN]");
    assert_eq!(f[0].finding.evidence[0].metric, "errors of [FORGOTTEN]");
    let a = store.actions(10).await.unwrap();
    assert_eq!(a[0].payload["title"], "errors for [FORGOTTEN]");
    // Nothing is left to find, and the second request says so.
    let again = store.forget_subject(&token, at(6_000)).await.unwrap();
    assert_eq!((again.deleted(), again.anonymised()), (0, 0));
    let requests = store.privacy_requests(10).await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].kind, RequestKind::Forget);
    assert_eq!(requests[1].token, token);
    assert_eq!(requests[1].at, at(5_000));
    assert_eq!(requests[1].counts[1]["table"], "application_logs");
    assert_eq!(requests[1].counts[1]["deleted"], 1);
    assert!(
        !serde_json::to_string(&requests).unwrap().contains("jane"),
        "requests hold the token, never the value"
    );
}

/// `export_subject` returns every row holding the token, grouped by table, and records it.
pub async fn export_returns_one_persons_rows(store: Arc<dyn Store>) {
    migrated(&store).await;
    let (jane, bob) = ("jane@corp.io", "bob@corp.io");
    two_people(&store, jane, bob).await;
    let token = email_token(jane);
    let rows = store.export_subject(&token, at(7_000)).await.unwrap();
    let counts: Vec<(&str, usize)> = rows.iter().map(|(t, r)| (t.as_str(), r.len())).collect();
    assert_eq!(
        counts,
        [
            ("actions", 1),
            ("ai_embeddings", 0),
            ("ai_usage_daily", 2),
            ("ai_usage_metrics", 0),
            ("application_logs", 1),
            ("deployments", 1),
            ("findings", 1),
            ("performance_metrics", 1),
            ("request_rollups", 2),
        ]
    );
    let log = &rows["application_logs"][0];
    assert_eq!(log["record_id"], "log-1");
    assert_eq!(log["message"], format!("payment failed for {token}"));
    // Times read the same from every backend.
    assert_eq!(log["ts"], "1970-01-01T00:00:01.000Z");
    let req = &rows["performance_metrics"][0];
    assert_eq!(req["attributes"]["user"]["email"], token.as_str());
    assert_eq!(rows["deployments"][0]["author"], token.as_str());
    assert_eq!(
        rows["findings"][0]["evidence"][0]["metric"],
        format!("errors of {token}")
    );
    // Rollups: every column but the latency sketch, the same fields from every backend, by
    // key (`hour` before `minute`).
    let keys = |row: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<String> = row.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    // The listed columns only, from every backend: no internal flag such as `rolled_up`.
    assert_eq!(
        keys(req),
        [
            "attributes",
            "duration_ms",
            "environment",
            "id",
            "method",
            "platform",
            "record_id",
            "route",
            "service",
            "status_code",
            "ts"
        ]
    );
    let rollups = &rows["request_rollups"];
    assert_eq!(
        keys(&rollups[0]),
        [
            "bucket_start",
            "errors",
            "requests",
            "resolution",
            "route",
            "service"
        ]
    );
    let resolutions: Vec<&str> = rollups
        .iter()
        .map(|r| r["resolution"].as_str().unwrap())
        .collect();
    assert_eq!(resolutions, ["hour", "minute"]);
    assert_eq!(rollups[1]["route"], route_of(&token));
    assert_eq!(rollups[1]["service"], "api");
    assert_eq!(rollups[1]["requests"], 1);
    assert_eq!(rollups[1]["errors"], 0);
    assert_eq!(rollups[1]["bucket_start"], "1970-01-01T00:00:00.000Z");
    let days = &rows["ai_usage_daily"];
    assert_eq!(
        keys(&days[0]),
        [
            "cached_prompt_tokens",
            "calls",
            "completion_tokens",
            "day",
            "failed_calls",
            "feature",
            "model",
            "prompt_tokens",
            "route",
            "service"
        ]
    );
    assert_eq!(days[0]["day"], "1970-01-01");
    assert_eq!(days[0]["route"], route_of(&token));
    assert_eq!(days[0]["feature"], "chat");
    assert_eq!(days[0]["calls"], 2);
    assert_eq!(days[0]["prompt_tokens"], 200);
    assert_eq!(days[1]["day"], "1970-01-02");
    assert_eq!(days[1]["feature"], format!("digest for {token}"));
    assert_eq!(days[1]["route"], "", "no route");
    assert!(
        !serde_json::to_string(&rows)
            .unwrap()
            .contains(&email_token(bob))
    );
    for table in ["request_rollups", "ai_usage_daily"] {
        assert!(
            rows[table].iter().all(|r| r["route"] != "GET /account"),
            "Bob's {table} are not exported"
        );
    }
    let requests = store.privacy_requests(10).await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].kind, RequestKind::Export);
    assert_eq!(requests[0].counts["application_logs"]["exported"], 1);
    assert_eq!(requests[0].counts["request_rollups"]["exported"], 2);
    assert_eq!(requests[0].counts["ai_usage_daily"]["exported"], 2);
    // Exporting changes nothing.
    assert_eq!(store.count(Table::ApplicationLogs).await.unwrap(), 3);
    assert_eq!(store.count(Table::RequestRollups).await.unwrap(), 3);
    assert_eq!(store.count(Table::AiUsageDaily).await.unwrap(), 3);
}

/// Forget and export take hash tokens only: never a raw value or a pattern.
pub async fn subject_requests_take_tokens_only(store: Arc<dyn Store>) {
    migrated(&store).await;
    for bad in ["jane@corp.io", "%", "[EMAIL]", ""] {
        assert!(matches!(
            store.forget_subject(bad, at(0)).await,
            Err(StoreError::InvalidArgument(_))
        ));
        assert!(matches!(
            store.export_subject(bad, at(0)).await,
            Err(StoreError::InvalidArgument(_))
        ));
    }
    assert!(store.privacy_requests(10).await.unwrap().is_empty());
}

/// Retention deletes rows older than the cutoff in chunks, keeps newer ones, open findings and
/// pending actions, and counts what it would delete first.
pub async fn retention_deletes_old_rows_in_chunks(store: Arc<dyn Store>) {
    migrated(&store).await;
    let old: Vec<_> = (0..5)
        .map(|i| perf(&format!("old{i}"), 1_000 + i))
        .collect();
    let new: Vec<_> = (0..2)
        .map(|i| perf(&format!("new{i}"), 3 * DAY_MS + i))
        .collect();
    store.insert_batch(&Batch::Performance(old)).await.unwrap();
    store.insert_batch(&Batch::Performance(new)).await.unwrap();
    store
        .insert_batch(&Batch::Logs(vec![
            log("l-old", 1_000),
            log("l-new", 3 * DAY_MS),
        ]))
        .await
        .unwrap();
    let cutoff = at(2 * DAY_MS);
    let t = Table::PerformanceMetrics;
    assert_eq!(store.count_older_than(t, cutoff).await.unwrap(), 5);
    assert_eq!(store.delete_older_than(t, cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.delete_older_than(t, cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.delete_older_than(t, cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.delete_older_than(t, cutoff, 2).await.unwrap(), 0);
    assert_eq!(store.count(t).await.unwrap(), 2);
    assert!(
        store
            .has_record(RecordKind::Performance, "new0")
            .await
            .unwrap()
    );
    assert_eq!(store.count(Table::ApplicationLogs).await.unwrap(), 2);

    // The audit goes by day: the old day's rows only.
    let audit = Table::PrivacyAudit;
    assert_eq!(store.count_older_than(audit, cutoff).await.unwrap(), 1);
    assert_eq!(
        store.delete_older_than(audit, cutoff, 100).await.unwrap(),
        1
    );
    assert_eq!(
        store.privacy_audit(day(0)).await.unwrap(),
        [audit_row(3 * DAY_MS, "logs", "EMAIL", "redacted", 1)]
    );

    // An open finding stays, however old; a resolved one goes, with its delivered actions.
    let open = some_finding(&store).await;
    let mut other = finding("other", Severity::High, (0, 1_000));
    other.fingerprint = Fingerprint::of(FindingKind::LatencyRegression, &["web", "GET /"]);
    let resolved = store.upsert_finding(&other, at(1_000)).await.unwrap().id();
    store.resolve_finding(resolved, at(1_000)).await.unwrap();
    let pending = store
        .enqueue_action(&action(open, "outbox", "k-pending", 1_000))
        .await
        .unwrap()
        .unwrap();
    let delivered = store
        .enqueue_action(&action(open, "outbox", "k-done", 1_000))
        .await
        .unwrap()
        .unwrap();
    store
        .mark_action_delivered(delivered, at(1_000), "outbox/x.md")
        .await
        .unwrap();
    assert_eq!(
        store
            .count_older_than(Table::Findings, cutoff)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_older_than(Table::Findings, cutoff, 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_older_than(Table::Actions, cutoff, 100)
            .await
            .unwrap(),
        1
    );
    let left: Vec<i64> = store
        .findings(None, 10)
        .await
        .unwrap()
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(left, [open]);
    let actions: Vec<i64> = store
        .actions(10)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(actions, [pending]);
    // API keys are never subject to retention.
    assert_eq!(
        store
            .delete_older_than(Table::ApiKeys, at(i64::from(i32::MAX) * 1000), 100)
            .await
            .unwrap(),
        0
    );
}
