//! The conformance suite's self-diagnosis part: CI runs and jobs, request rollups, detector
//! state and error logs.

#![allow(clippy::unwrap_used)]

use super::records::{at, guarded, log, request};
use crate::{Batch, CiBatch, RollupRow, RollupWrite, Store, Table};
use std::sync::Arc;
use tokpulse_core::{CiConclusion, CiJob, CiRun, CiStatus, LogLevel, Window};

fn window(start_ms: i64, end_ms: i64) -> Window {
    Window {
        start: at(start_ms),
        end: at(end_ms),
    }
}

fn job(id: u64, attempt: u32, status: CiStatus, ms: i64) -> CiJob {
    CiJob {
        id,
        run_id: 900 + id,
        run_attempt: attempt,
        workflow_name: Some("CI".into()),
        name: "test".into(),
        head_branch: Some("main".into()),
        head_sha: format!("sha{id}"),
        status,
        conclusion: (status == CiStatus::Completed).then_some(CiConclusion::Failure),
        created_at: Some(at(ms - 1000)),
        started_at: None,
        completed_at: (status == CiStatus::Completed).then(|| at(ms)),
        html_url: None,
        repository: Some("acme/shop".into()),
        failure_message: Some("assertion failed for jane@corp.io".into()),
    }
}

fn run(id: u64, status: CiStatus) -> CiRun {
    CiRun {
        id,
        name: "CI".into(),
        workflow_id: Some(7),
        path: None,
        head_branch: Some("main".into()),
        head_sha: "abc".into(),
        display_title: None,
        event: Some("push".into()),
        run_number: Some(1),
        run_attempt: 1,
        status,
        conclusion: None,
        created_at: Some(at(1_000)),
        run_started_at: None,
        updated_at: None,
        html_url: None,
        repository: Some("acme/shop".into()),
    }
}

/// CI runs and jobs are stored once per id and attempt; a later webhook of the same attempt
/// replaces an earlier one, never the reverse; the guard's redaction is what is stored.
pub async fn ci_runs_and_jobs_are_idempotent(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    let received = at(50_000);
    let batch = CiBatch {
        runs: vec![guarded(run(1, CiStatus::Queued))],
        jobs: vec![
            guarded(job(1, 1, CiStatus::InProgress, 10_000)),
            guarded(job(2, 1, CiStatus::Completed, 20_000)),
        ],
    };
    let first = store.insert_ci(&batch, received).await.unwrap();
    assert_eq!((first.inserted, first.duplicates), (3, 0));
    let again = store.insert_ci(&batch, received).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 3));
    // Job 1 completes; job 2's late `queued` webhook must not undo its completion; job 2's
    // re-run is a new row.
    let later = CiBatch {
        runs: vec![guarded(run(1, CiStatus::Completed))],
        jobs: vec![
            guarded(job(1, 1, CiStatus::Completed, 30_000)),
            guarded(job(2, 1, CiStatus::Queued, 5_000)),
            guarded(job(2, 2, CiStatus::Completed, 40_000)),
        ],
    };
    let o = store.insert_ci(&later, received).await.unwrap();
    assert_eq!((o.inserted, o.duplicates), (1, 3));
    assert_eq!(store.count(Table::CiRuns).await.unwrap(), 1);
    assert_eq!(store.count(Table::CiJobs).await.unwrap(), 3);
    let jobs = store.ci_jobs(window(0, 100_000)).await.unwrap();
    let got: Vec<(u64, u32, CiStatus)> = jobs
        .iter()
        .map(|j| (j.id, j.run_attempt, j.status))
        .collect();
    assert_eq!(
        got,
        [
            (2, 1, CiStatus::Completed),
            (1, 1, CiStatus::Completed),
            (2, 2, CiStatus::Completed)
        ]
    );
    let message = jobs[0].failure_message.as_deref().unwrap();
    assert!(!message.contains("jane@corp.io"), "{message}");
    // The window is half-open on the job's time.
    assert_eq!(
        store.ci_jobs(window(20_000, 30_000)).await.unwrap().len(),
        1
    );
}

fn row(route: &str, resolution: &str, ms: i64, requests: i64, sketch: &[u8]) -> RollupRow {
    RollupRow {
        service: "api".into(),
        route: route.into(),
        resolution: resolution.into(),
        bucket_start: at(ms),
        requests,
        errors: 1,
        sketch: sketch.to_vec(),
    }
}

/// Requests are handed out for rolling up until committed; a commit is all or nothing, and
/// refuses to count a request twice or to overwrite a rollup that changed since it was read.
pub async fn rollups_are_committed_once(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    let batch = Batch::Performance(vec![
        request("r1", 60_000, "api", "GET", "/a", 200, 10.0),
        request("r2", 61_000, "api", "GET", "/a", 500, 30.0),
        request("r3", 120_000, "api", "POST", "/b", 200, 5.0),
    ]);
    store.insert_batch(&batch).await.unwrap();
    let pending = store.pending_rollup_samples(2).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].sample.route, "GET /a");
    assert!(pending[1].sample.is_error);
    let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
    let write = RollupWrite {
        row: row("GET /a", "minute", 60_000, 2, b"\x01ab"),
        read_requests: None,
    };
    assert!(
        store
            .commit_rollups(&ids, std::slice::from_ref(&write))
            .await
            .unwrap()
    );
    // Twice: refused, nothing changes.
    assert!(!store.commit_rollups(&ids, &[]).await.unwrap());
    let rest = store.pending_rollup_samples(10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].sample.route, "POST /b");
    // Inserting a rollup that now exists, or updating from a stale read: refused, and the
    // request stays pending.
    let ids = [rest[0].id];
    assert!(
        !store
            .commit_rollups(&ids, std::slice::from_ref(&write))
            .await
            .unwrap()
    );
    let stale = RollupWrite {
        row: row("GET /a", "minute", 60_000, 3, b"\x01abc"),
        read_requests: Some(7),
    };
    assert!(!store.commit_rollups(&ids, &[stale]).await.unwrap());
    assert_eq!(store.pending_rollup_samples(10).await.unwrap().len(), 1);
    let fresh = RollupWrite {
        row: row("GET /a", "minute", 60_000, 3, b"\x01abc"),
        read_requests: Some(2),
    };
    let hour = RollupWrite {
        row: row("POST /b", "hour", 0, 1, b"\x01z"),
        read_requests: None,
    };
    assert!(store.commit_rollups(&ids, &[fresh, hour]).await.unwrap());
    assert!(store.pending_rollup_samples(10).await.unwrap().is_empty());

    let minutes = store
        .rollups("minute", window(0, 3_600_000), None)
        .await
        .unwrap();
    assert_eq!(minutes, [row("GET /a", "minute", 60_000, 3, b"\x01abc")]);
    assert!(
        store
            .rollups("minute", window(0, 60_000), None)
            .await
            .unwrap()
            .is_empty()
    );
    let hours = store
        .rollups("hour", window(0, 3_600_000), Some(("api", "POST /b")))
        .await
        .unwrap();
    assert_eq!(hours.len(), 1);
    assert!(
        store
            .rollups("hour", window(0, 3_600_000), Some(("api", "GET /a")))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count(Table::RequestRollups).await.unwrap(), 2);

    // Retention goes by bucket start (SQLite keeps rollups WITHOUT ROWID: chunked by key).
    let t = Table::RequestRollups;
    assert_eq!(store.count_older_than(t, at(30_000)).await.unwrap(), 1);
    assert_eq!(store.delete_older_than(t, at(30_000), 10).await.unwrap(), 1);
    assert_eq!(store.delete_older_than(t, at(30_000), 10).await.unwrap(), 0);
    assert_eq!(
        store
            .rollups("minute", window(0, 3_600_000), None)
            .await
            .unwrap(),
        [row("GET /a", "minute", 60_000, 3, b"\x01abc")]
    );
}

/// Detector state by key and prefix; `None` deletes. Error logs are the error and fatal lines
/// of a window.
pub async fn detector_state_and_error_logs(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    let now = at(1_000);
    store
        .put_detector_states(
            &[
                ("hyst:a".into(), Some(serde_json::json!({"open": true}))),
                ("hyst:b".into(), Some(serde_json::json!({"open": false}))),
                ("deploy:1".into(), Some(serde_json::json!("checked"))),
            ],
            now,
        )
        .await
        .unwrap();
    store
        .put_detector_states(
            &[
                ("hyst:a".into(), None),
                ("hyst:b".into(), Some(serde_json::json!({"open": true}))),
            ],
            now,
        )
        .await
        .unwrap();
    let h = store.detector_states("hyst:").await.unwrap();
    assert_eq!(
        h,
        [("hyst:b".to_string(), serde_json::json!({"open": true}))]
    );
    assert_eq!(store.detector_states("").await.unwrap().len(), 2);
    assert!(store.detector_states("hyst:%").await.unwrap().is_empty());

    let mut info = log("l3", 3_000).get().clone();
    info.level = LogLevel::Info;
    let batch = Batch::Logs(vec![log("l1", 1_000), log("l2", 2_000), guarded(info)]);
    store.insert_batch(&batch).await.unwrap();
    let errors = store.error_logs(window(0, 10_000), 100).await.unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].service, "api");
    assert!(!errors[0].message.contains("jane@corp.io"));
    assert_eq!(
        store.error_logs(window(0, 10_000), 1).await.unwrap().len(),
        1
    );
    assert_eq!(
        store
            .error_logs(window(1_500, 10_000), 100)
            .await
            .unwrap()
            .len(),
        1
    );
}
