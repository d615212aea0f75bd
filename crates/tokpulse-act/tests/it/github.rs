//! The GitHub issues sink against the local GitHub stand-in: one issue per fingerprint, found
//! again by its marker, comments once, closes and reopens, and GitHub's failures mapped to
//! retry-or-give-up; then through the queue with a real SQLite store.

use chrono::{DateTime, Duration as TimeDelta};
use std::sync::Arc;
use std::time::Duration;
use tokpulse_act::fake_github::{Failure, FakeGithub};
use tokpulse_act::{
    DeliveryError, GithubApi, GithubAuth, GithubIssues, GithubTarget, Sink, deliver_due,
    plan_for_change, plan_for_resolution,
};
use tokpulse_core::{
    Evidence, Finding, FindingKind, FindingStatus, Fingerprint, Severity, StoredFinding, Window,
};
use tokpulse_store::{ActionRow, ActionStatus, FindingChange, NewAction, SqliteStore, Store};

pub const TOKEN: &str = "ghp_test_token_for_the_stand_in";

pub fn t0() -> chrono::DateTime<chrono::Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

pub fn stored(route: &str, status: FindingStatus, occurrences: i64) -> StoredFinding {
    StoredFinding {
        id: 1,
        finding: Finding {
            kind: FindingKind::ErrorSpike,
            severity: Severity::High,
            fingerprint: Fingerprint::of(FindingKind::ErrorSpike, &["web", route]),
            title: format!("Error rate of {route} on web at 9.5% (baseline 0.4%)"),
            service: "web".into(),
            route: Some(route.into()),
            window: Window {
                start: t0() - TimeDelta::minutes(30),
                end: t0(),
            },
            evidence: vec![Evidence {
                metric: "error rate".into(),
                current: 9.5,
                baseline: Some(0.4),
                threshold: Some(5.0),
                unit: "%".into(),
            }],
            cause: None,
            suggestion: "Look at the 5xx responses in the logs.".into(),
        },
        status,
        first_seen: t0(),
        last_seen: t0(),
        occurrences,
        resolved_at: (status == FindingStatus::Resolved).then(t0),
    }
}

fn row(id: i64, a: &NewAction) -> ActionRow {
    a.queued_as(id)
}

pub fn api(gh: &FakeGithub, token: &str, repo: &str) -> Arc<GithubApi> {
    Arc::new(
        GithubApi::new(
            &gh.url,
            GithubAuth::Token(token.into()),
            GithubTarget::parse(repo).unwrap(),
        )
        .unwrap(),
    )
}

async fn sink(gh: &FakeGithub, token: &str, repo: &str) -> GithubIssues {
    GithubIssues::new(api(gh, token, repo))
}

#[tokio::test]
async fn one_issue_per_fingerprint_even_after_losing_the_database() {
    let gh = FakeGithub::start("acme", "shop", TOKEN).await;
    let s = sink(&gh, TOKEN, "acme/shop").await;
    let f = stored("POST /checkout", FindingStatus::Open, 1);
    let open = plan_for_change(FindingChange::New { id: 1 }, &f, &["github"], t0()).remove(0);
    let first = s.deliver(&row(1, &open)).await.unwrap();
    assert!(
        first.external_ref.ends_with("/acme/shop/issues/1"),
        "{first:?}"
    );
    // The same action again (a crash before it was marked delivered): no second issue.
    let again = s.deliver(&row(1, &open)).await.unwrap();
    assert_eq!(again, first);
    // A fresh sink and a fresh action id, as after a lost database: found by its marker.
    let s2 = sink(&gh, TOKEN, "acme/shop").await;
    s2.deliver(&row(99, &open)).await.unwrap();
    let issues = gh.issues();
    assert_eq!(issues.len(), 1);
    let issue = &issues[0];
    assert_eq!(issue.title, f.finding.title);
    assert_eq!(
        issue.labels,
        ["tokpulse", "severity:high", "kind:error_spike"]
    );
    assert!(issue.body.contains(&format!(
        "<!-- tokpulse:fingerprint={} -->",
        f.finding.fingerprint
    )));

    // A second fingerprint is a second issue.
    let other = stored("GET /", FindingStatus::Open, 1);
    let open2 = plan_for_change(FindingChange::New { id: 2 }, &other, &["github"], t0()).remove(0);
    s.deliver(&row(2, &open2)).await.unwrap();
    assert_eq!(gh.issues().len(), 2);
}

#[tokio::test]
async fn resolve_comments_once_and_closes_then_reopen_reopens() {
    let gh = FakeGithub::start("acme", "shop", TOKEN).await;
    let s = sink(&gh, TOKEN, "acme/shop").await;
    let f = stored("POST /checkout", FindingStatus::Open, 1);
    let open = plan_for_change(FindingChange::New { id: 1 }, &f, &["github"], t0()).remove(0);
    s.deliver(&row(1, &open)).await.unwrap();

    let resolved = stored("POST /checkout", FindingStatus::Resolved, 1);
    let resolve = plan_for_resolution(&resolved, &["github"], t0()).remove(0);
    s.deliver(&row(2, &resolve)).await.unwrap();
    s.deliver(&row(2, &resolve)).await.unwrap();
    let issue = gh.issues().remove(0);
    assert_eq!(issue.state, "closed");
    assert_eq!(issue.comments.len(), 1, "{:?}", issue.comments);

    let back = stored("POST /checkout", FindingStatus::Open, 2);
    let reopen = plan_for_change(
        FindingChange::Reopened {
            id: 1,
            occurrences: 2,
        },
        &back,
        &["github"],
        t0(),
    )
    .remove(0);
    assert_eq!(reopen.kind, "reopen");
    s.deliver(&row(3, &reopen)).await.unwrap();
    let issue = gh.issues().remove(0);
    assert_eq!(issue.state, "open");
    assert_eq!(issue.comments.len(), 2);
    assert_eq!(gh.issues().len(), 1);
}

#[tokio::test]
async fn github_failures_become_retry_or_give_up() {
    let gh = FakeGithub::start("acme", "shop", TOKEN).await;
    let f = stored("POST /checkout", FindingStatus::Open, 1);
    let open = plan_for_change(FindingChange::New { id: 1 }, &f, &["github"], t0()).remove(0);
    let action = row(1, &open);
    let s = sink(&gh, TOKEN, "acme/shop").await;

    gh.fail_next(Failure::Status(502));
    assert!(s.deliver(&action).await.unwrap_err().is_retryable());
    gh.fail_next(Failure::TooManyRequests { retry_after: 17 });
    match s.deliver(&action).await.unwrap_err() {
        DeliveryError::Retryable { after, .. } => assert_eq!(after, Some(Duration::from_secs(17))),
        e => panic!("{e}"),
    }
    gh.fail_next(Failure::SecondaryRateLimit);
    match s.deliver(&action).await.unwrap_err() {
        DeliveryError::Retryable { after, reason } => {
            assert!(after >= Some(Duration::from_secs(60)), "{reason}");
        }
        e => panic!("{e}"),
    }
    let wrong_token = sink(&gh, "ghp_wrong", "acme/shop").await;
    let e = wrong_token.deliver(&action).await.unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("Bad credentials"),
        "{e}"
    );
    let wrong_repo = sink(&gh, TOKEN, "acme/elsewhere").await;
    assert!(
        !wrong_repo
            .deliver(&action)
            .await
            .unwrap_err()
            .is_retryable()
    );
    assert!(gh.issues().is_empty(), "no failed attempt filed anything");
    s.deliver(&action).await.unwrap();
    assert_eq!(gh.issues().len(), 1);
}

#[tokio::test]
async fn the_queue_retries_through_an_outage_and_files_once() {
    let gh = FakeGithub::start("acme", "shop", TOKEN).await;
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&tmp.path().join("db")).await.unwrap();
    store.migrate().await.unwrap();
    let sinks: Vec<Arc<dyn Sink>> = vec![Arc::new(sink(&gh, TOKEN, "acme/shop").await)];
    let f = stored("POST /checkout", FindingStatus::Open, 1);
    let change = store.upsert_finding(&f.finding, t0()).await.unwrap();
    let stored = store
        .findings(Some(FindingStatus::Open), 1)
        .await
        .unwrap()
        .remove(0);
    for a in plan_for_change(change, &stored, &["github"], t0()) {
        store.enqueue_action(&a).await.unwrap();
    }
    // GitHub is down for the first two attempts.
    gh.fail_next(Failure::Status(500));
    let r = deliver_due(&store, &sinks, t0(), 5).await.unwrap();
    assert_eq!((r.delivered, r.retrying), (0, 1));
    gh.fail_next(Failure::Status(503));
    let r = deliver_due(&store, &sinks, t0() + TimeDelta::hours(2), 5)
        .await
        .unwrap();
    assert_eq!((r.delivered, r.retrying), (0, 1));
    let r = deliver_due(&store, &sinks, t0() + TimeDelta::hours(4), 5)
        .await
        .unwrap();
    assert_eq!(r.delivered, 1);
    let r = deliver_due(&store, &sinks, t0() + TimeDelta::hours(6), 5)
        .await
        .unwrap();
    assert_eq!(
        r.delivered, 0,
        "a delivered action is never delivered again"
    );
    assert_eq!(gh.issues().len(), 1);
    let action = store.actions(10).await.unwrap().remove(0);
    assert_eq!(action.status, ActionStatus::Delivered);
    assert_eq!(action.attempts, 3);
    assert!(action.external_ref.unwrap().ends_with("/issues/1"));
}
