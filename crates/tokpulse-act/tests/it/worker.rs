//! `deliver_due`: the queue's worker, against the fake store.

use crate::fake_store::FakeStore;
use async_trait::async_trait;
use chrono::{DateTime, Duration as TimeDelta};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokpulse_act::{
    Delivered, DeliveryError, DeliveryReport, Outbox, Sink, deliver_due, plan_for_change,
    plan_for_resolution, retry_delay,
};
use tokpulse_core::{
    Evidence, Finding, FindingKind, FindingStatus, Fingerprint, Severity, StoredFinding, Timestamp,
    Window,
};
use tokpulse_store::{ActionStatus, FindingChange, Store};

fn t0() -> Timestamp {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn finding(id: i64, route: &str) -> StoredFinding {
    let now = t0();
    StoredFinding {
        id,
        finding: Finding {
            kind: FindingKind::ErrorSpike,
            severity: Severity::High,
            fingerprint: Fingerprint::of(FindingKind::ErrorSpike, &["web", route]),
            title: format!("Error rate of {route} on web at 8.0% (threshold 5.0%)"),
            service: "web".into(),
            route: Some(route.into()),
            window: Window {
                start: now - TimeDelta::minutes(30),
                end: now,
            },
            evidence: vec![Evidence {
                metric: "error rate".into(),
                current: 8.0,
                baseline: None,
                threshold: Some(5.0),
                unit: "%".into(),
            }],
            cause: None,
            suggestion: "Look at the logs.".into(),
        },
        status: FindingStatus::Open,
        first_seen: now,
        last_seen: now,
        occurrences: 1,
        resolved_at: None,
    }
}

async fn enqueue_new(store: &FakeStore, f: &StoredFinding, sinks: &[&str], at: Timestamp) {
    for a in plan_for_change(FindingChange::New { id: f.id }, f, sinks, at) {
        store.enqueue_action(&a).await.unwrap();
    }
}

/// A sink that answers from a script, then succeeds; it records the keys it was given.
struct Scripted {
    name: &'static str,
    script: Mutex<VecDeque<Result<Delivered, DeliveryError>>>,
    calls: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(name: &'static str, script: Vec<Result<Delivered, DeliveryError>>) -> Arc<Self> {
        Arc::new(Scripted {
            name,
            script: Mutex::new(script.into()),
            calls: Mutex::default(),
        })
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Sink for Scripted {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn deliver(
        &self,
        action: &tokpulse_store::ActionRow,
    ) -> Result<Delivered, DeliveryError> {
        self.calls
            .lock()
            .unwrap()
            .push(action.idempotency_key.clone());
        self.script.lock().unwrap().pop_front().unwrap_or_else(|| {
            Ok(Delivered {
                external_ref: format!("ref-{}", action.id),
            })
        })
    }
}

fn retryable(after: Option<Duration>) -> Result<Delivered, DeliveryError> {
    Err(DeliveryError::Retryable {
        after,
        reason: "503 from upstream".into(),
    })
}

#[tokio::test]
async fn open_then_resolve_through_the_outbox() {
    let store = FakeStore::default();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Arc::new(Outbox::new(tmp.path().join("outbox")));
    let sinks: Vec<Arc<dyn Sink>> = vec![outbox.clone()];
    let f = finding(1, "POST /checkout");
    let fp = f.finding.fingerprint.to_string();

    enqueue_new(&store, &f, &["outbox"], t0()).await;
    // Planning the same event again queues nothing.
    enqueue_new(&store, &f, &["outbox"], t0() + TimeDelta::seconds(5)).await;
    assert_eq!(store.all().len(), 1);

    let report = deliver_due(&store, &sinks, t0(), 5).await.unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            delivered: 1,
            ..DeliveryReport::default()
        }
    );
    let row = store.action(1);
    assert_eq!(row.status, ActionStatus::Delivered);
    assert_eq!(row.delivered_at, Some(t0()));
    let path = outbox.issue_path(&fp);
    assert_eq!(row.external_ref.as_deref(), Some(path.to_str().unwrap()));
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("| error rate | 8.0% | — | 5.0% |")
    );

    // Nothing is due any more.
    let again = deliver_due(&store, &sinks, t0() + TimeDelta::hours(1), 5)
        .await
        .unwrap();
    assert_eq!(again, DeliveryReport::default());

    let later = t0() + TimeDelta::hours(2);
    let mut resolved = f.clone();
    resolved.status = FindingStatus::Resolved;
    resolved.resolved_at = Some(later);
    for a in plan_for_resolution(&resolved, &["outbox"], later) {
        assert!(store.enqueue_action(&a).await.unwrap().is_some());
    }
    let report = deliver_due(&store, &sinks, later, 5).await.unwrap();
    assert_eq!(report.delivered, 1);
    let body = std::fs::read_to_string(&path).unwrap();
    assert!(
        body.contains("**Resolved** at 2023-11-15 00:13:20 UTC"),
        "{body}"
    );
    assert_eq!(outbox.entries().unwrap().len(), 2);
    assert_eq!(
        std::fs::read_dir(tmp.path().join("outbox/issues"))
            .unwrap()
            .count(),
        1
    );
}

#[tokio::test]
async fn retryable_failures_back_off_then_park() {
    let store = FakeStore::default();
    let after = Duration::from_secs(120);
    let sink = Scripted::new(
        "github",
        vec![retryable(Some(after)), retryable(None), retryable(None)],
    );
    let sinks: Vec<Arc<dyn Sink>> = vec![sink.clone()];
    enqueue_new(&store, &finding(1, "GET /a"), &["github"], t0()).await;

    let report = deliver_due(&store, &sinks, t0(), 3).await.unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            retrying: 1,
            ..DeliveryReport::default()
        }
    );
    let row = store.action(1);
    assert_eq!((row.status, row.attempts), (ActionStatus::Pending, 1));
    assert_eq!(
        row.next_attempt_at,
        t0() + TimeDelta::from_std(retry_delay(1, 1, Some(after))).unwrap()
    );
    assert!(
        row.next_attempt_at >= t0() + TimeDelta::seconds(120),
        "Retry-After honoured"
    );
    assert_eq!(
        row.last_error.as_deref(),
        Some("temporary failure: 503 from upstream")
    );

    // Not due before its time.
    let early = deliver_due(
        &store,
        &sinks,
        row.next_attempt_at - TimeDelta::seconds(1),
        3,
    )
    .await
    .unwrap();
    assert_eq!(early, DeliveryReport::default());
    assert_eq!(sink.calls().len(), 1);

    let second_at = row.next_attempt_at;
    let report = deliver_due(&store, &sinks, second_at, 3).await.unwrap();
    assert_eq!(report.retrying, 1);
    let row = store.action(1);
    assert_eq!(row.attempts, 2);
    let delay = row.next_attempt_at - second_at;
    assert!(
        delay >= TimeDelta::seconds(60) && delay <= TimeDelta::seconds(75),
        "{delay}"
    );

    // The third failure reaches max_attempts: parked, never tried again.
    let report = deliver_due(&store, &sinks, row.next_attempt_at, 3)
        .await
        .unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            parked: 1,
            ..DeliveryReport::default()
        }
    );
    assert_eq!(store.action(1).status, ActionStatus::Parked);
    let report = deliver_due(&store, &sinks, t0() + TimeDelta::days(30), 3)
        .await
        .unwrap();
    assert_eq!(report, DeliveryReport::default());
    assert_eq!(sink.calls().len(), 3);
}

#[tokio::test]
async fn permanent_failures_park_at_once() {
    let store = FakeStore::default();
    let sink = Scripted::new(
        "github",
        vec![Err(DeliveryError::Permanent("401 bad credentials".into()))],
    );
    let sinks: Vec<Arc<dyn Sink>> = vec![sink.clone()];
    enqueue_new(&store, &finding(1, "GET /a"), &["github"], t0()).await;
    let report = deliver_due(&store, &sinks, t0(), 10).await.unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            parked: 1,
            ..DeliveryReport::default()
        }
    );
    let row = store.action(1);
    assert_eq!(row.status, ActionStatus::Parked);
    assert_eq!(
        row.last_error.as_deref(),
        Some("permanent failure: 401 bad credentials")
    );
}

#[tokio::test]
async fn a_failed_action_holds_back_later_ones_for_the_same_finding() {
    let store = FakeStore::default();
    let sink = Scripted::new("outbox", vec![retryable(None)]);
    let sinks: Vec<Arc<dyn Sink>> = vec![sink.clone()];
    let a = finding(1, "GET /a");
    let b = finding(2, "GET /b");
    enqueue_new(&store, &a, &["outbox"], t0()).await;
    for r in plan_for_resolution(&a, &["outbox"], t0() + TimeDelta::seconds(1)) {
        store.enqueue_action(&r).await.unwrap();
    }
    enqueue_new(&store, &b, &["outbox"], t0() + TimeDelta::seconds(2)).await;

    let now = t0() + TimeDelta::seconds(3);
    let report = deliver_due(&store, &sinks, now, 5).await.unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            delivered: 1,
            retrying: 1,
            parked: 0,
            deferred: 1,
            held: 0,
        }
    );
    // The resolve was not attempted: it is still due, untouched.
    let resolve = store.action(2);
    assert_eq!(
        (resolve.status, resolve.attempts),
        (ActionStatus::Pending, 0)
    );
    assert_eq!(store.action(3).status, ActionStatus::Delivered);
    assert_eq!(sink.calls().len(), 2);

    // Once the open goes through, the resolve follows in the same pass.
    let retry_at = store.action(1).next_attempt_at;
    let report = deliver_due(&store, &sinks, retry_at, 5).await.unwrap();
    assert_eq!(report.delivered, 2);
    let calls = sink.calls();
    assert!(
        calls[2].ends_with(":open") && calls[3].contains(":resolve:"),
        "{calls:?}"
    );
}

#[tokio::test]
async fn each_sink_gets_only_its_actions_and_all_of_them() {
    let store = FakeStore::default();
    let outbox = Scripted::new("outbox", vec![]);
    let github = Scripted::new("github", vec![]);
    let sinks: Vec<Arc<dyn Sink>> = vec![outbox.clone(), github.clone()];
    // More than one batch of due actions.
    for i in 0..250 {
        enqueue_new(
            &store,
            &finding(i + 1, &format!("GET /r{i}")),
            &["outbox"],
            t0(),
        )
        .await;
    }
    enqueue_new(&store, &finding(999, "GET /gh"), &["github"], t0()).await;
    // A sink that is not configured: its actions wait.
    enqueue_new(&store, &finding(1000, "GET /slack"), &["slack"], t0()).await;

    let report = deliver_due(&store, &sinks, t0(), 5).await.unwrap();
    assert_eq!(report.delivered, 251);
    assert_eq!(outbox.calls().len(), 250);
    assert_eq!(github.calls().len(), 1);
    let pending: Vec<_> = store
        .all()
        .into_iter()
        .filter(|r| r.status == ActionStatus::Pending)
        .map(|r| r.sink)
        .collect();
    assert_eq!(pending, ["slack"]);
}

/// See issue 6 (quiet hours): held, not dropped, and no attempt counted.
#[tokio::test]
async fn quiet_hours_hold_notifications_until_the_window_ends_and_critical_breaks_through() {
    let hours: tokpulse_act::QuietHours = toml::from_str(
        "start = \"22:00\"\nend = \"07:00\"\ntz = \"UTC\"\nmin_severity_to_break = \"critical\"\n",
    )
    .unwrap();
    // The outbox stands in for a notification sink (Slack's own pace would interfere).
    let dir = tempfile::tempdir().unwrap();
    let outbox = Arc::new(Outbox::new(dir.path().to_path_buf()));
    let inner: Arc<dyn Sink> = outbox.clone();
    let sinks: Vec<Arc<dyn Sink>> = vec![Arc::new(tokpulse_act::Quiet::new(inner, hours))];
    let store = FakeStore::default();
    // t0 is 22:13 UTC: inside the window. A high finding waits.
    enqueue_new(&store, &finding(1, "GET /a"), &["outbox"], t0()).await;
    let r = deliver_due(&store, &sinks, t0(), 5).await.unwrap();
    assert_eq!((r.held, r.delivered), (1, 0));
    assert_eq!(store.action(1).attempts, 0);
    assert_eq!(store.action(1).status, ActionStatus::Pending);
    assert!(outbox.entries().unwrap().is_empty());
    // A critical one does not.
    let mut critical = finding(2, "GET /b");
    critical.finding.severity = Severity::Critical;
    enqueue_new(&store, &critical, &["outbox"], t0()).await;
    let r = deliver_due(&store, &sinks, t0() + TimeDelta::seconds(2), 5)
        .await
        .unwrap();
    assert_eq!((r.held, r.delivered), (1, 1));
    // At 07:00 the held one goes out.
    let morning = DateTime::parse_from_rfc3339("2023-11-15T07:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let r = deliver_due(&store, &sinks, morning, 5).await.unwrap();
    assert_eq!((r.held, r.delivered), (0, 1));
    assert_eq!(outbox.entries().unwrap().len(), 2);
}
