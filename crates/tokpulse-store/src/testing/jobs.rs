//! The conformance suite's automation part: job run claims and leases, webhook deliveries.

#![allow(clippy::unwrap_used)]

use super::records::at;
use crate::{JobClaim, JobStatus, JobTrigger, Store};
use std::sync::Arc;

fn claim<'a>(owner: &'a str, slot_ms: i64, now_ms: i64) -> JobClaim<'a> {
    JobClaim {
        job: "diagnosis",
        scheduled_for: at(slot_ms),
        trigger: JobTrigger::Schedule,
        owner,
        now: at(now_ms),
        lease_until: at(now_ms + 60_000),
    }
}

/// A slot is claimed once; a finished run stays taken; a running one is taken over only after
/// its lease expired, and then the old owner cannot finish it.
pub async fn job_runs_are_claimed_once_and_leases_expire(store: Arc<dyn Store>) {
    store.migrate().await.expect("migrate");
    let a = store.claim_job_run(&claim("a", 0, 1_000)).await.unwrap();
    assert!(a.is_some());
    assert_eq!(
        store.claim_job_run(&claim("b", 0, 2_000)).await.unwrap(),
        None
    );
    let a = a.unwrap();
    assert!(
        store
            .finish_job_run(a, "a", at(3_000), JobStatus::Ok, None, Some("5 findings"))
            .await
            .unwrap()
    );
    // Finished: taken for good, even long after.
    assert_eq!(
        store.claim_job_run(&claim("b", 0, 999_000)).await.unwrap(),
        None
    );

    // A run whose owner died: held until its lease expires, then taken over.
    let dead = store
        .claim_job_run(&claim("a", 300_000, 300_000))
        .await
        .unwrap();
    assert!(dead.is_some());
    assert_eq!(
        store
            .claim_job_run(&claim("b", 300_000, 330_000))
            .await
            .unwrap(),
        None
    );
    let taken = store
        .claim_job_run(&claim("b", 300_000, 400_000))
        .await
        .unwrap();
    assert_eq!(taken, dead, "the same row, taken over");
    let taken = taken.unwrap();
    assert!(
        !store
            .finish_job_run(taken, "a", at(401_000), JobStatus::Ok, None, None)
            .await
            .unwrap(),
        "the old owner no longer finishes it"
    );
    assert!(
        store
            .finish_job_run(
                taken,
                "b",
                at(402_000),
                JobStatus::Failed,
                Some("boom"),
                None
            )
            .await
            .unwrap()
    );

    let runs = store.job_runs(Some("diagnosis"), 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].scheduled_for, at(300_000));
    assert_eq!(runs[0].owner, "b");
    assert_eq!(runs[0].status, JobStatus::Failed);
    assert_eq!(runs[0].error.as_deref(), Some("boom"));
    assert_eq!(runs[1].summary.as_deref(), Some("5 findings"));
    assert_eq!(runs[1].finished_at, Some(at(3_000)));
    assert!(store.job_runs(Some("cost"), 10).await.unwrap().is_empty());
    assert_eq!(store.job_runs(None, 1).await.unwrap().len(), 1);
}

/// A delivery id is taken once per source; a forgotten one is taken again.
pub async fn webhook_deliveries_are_taken_once(store: Arc<dyn Store>) {
    store.migrate().await.expect("migrate");
    let now = at(1_000);
    assert!(
        store
            .record_webhook_delivery("github", "d-1", "push", now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_webhook_delivery("github", "d-1", "push", now)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_webhook_delivery("vercel", "d-1", "deployment.created", now)
            .await
            .unwrap()
    );
    store
        .forget_webhook_delivery("github", "d-1")
        .await
        .unwrap();
    assert!(
        store
            .record_webhook_delivery("github", "d-1", "push", now)
            .await
            .unwrap()
    );
}
