//! End to end, on SQLite and on a throwaway PostgreSQL: `serve` on loopback with the GitHub
//! stand-in, signed webhooks (and forged, replayed and malformed ones), and a manual clock moved
//! through a week. Checks every issue that lands on GitHub, the PR check's comment and statuses,
//! the week's runs, and that nothing else lands.

use crate::common::client;
use chrono::{Datelike, DurationRound, TimeDelta};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokpulse::app::App;
use tokpulse::clock::{Clock, ManualClock};
use tokpulse::config::Config;
use tokpulse::serve::{ServeOptions, serve_with};
use tokpulse::server::webhooks::{WebhookSecrets, sign_github};
use tokpulse_core::{RecordKind, Timestamp};
use tokpulse_ingest::Format;
use tokpulse_store::JobStatus;

const SECRET: &[u8] = b"e2e-secret";

async fn post(
    base: &str,
    event: &str,
    delivery: &str,
    body: &serde_json::Value,
    sign: bool,
) -> u16 {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut req = client()
        .post(format!("{base}/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery);
    req = req.header(
        "x-hub-signature-256",
        if sign {
            sign_github(SECRET, &bytes)
        } else {
            sign_github(b"forged", &bytes)
        },
    );
    req.body(bytes).send().await.unwrap().status().as_u16()
}

/// Waits (without a timing assertion beyond a generous deadline) until `done` holds.
async fn until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "waited too long for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn traffic(deploy: Timestamp) -> String {
    let mut out = String::new();
    for minute in -35i64..40 {
        for i in 0..40i64 {
            let slow = minute >= 0;
            let ms = if slow {
                600.0 + (i * 7) as f64
            } else {
                100.0 + i as f64
            };
            let at = deploy + TimeDelta::minutes(minute) + TimeDelta::milliseconds(i * 1400);
            out.push_str(
                &serde_json::json!({
                    "id": format!("e2e-{minute}-{i}"), "timestamp": at.to_rfc3339(),
                    "service": "shop", "route": "/checkout", "method": "POST",
                    "status_code": 200, "duration_ms": ms,
                })
                .to_string(),
            );
            out.push('\n');
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_webhooks_and_a_week_land_exactly_what_they_should() {
    let dir = tempfile::tempdir().unwrap();
    let target = tokpulse_store::StoreTarget::Sqlite {
        data_dir: dir.path().to_path_buf(),
    };
    scenario(&target, dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_webhooks_and_a_week_land_exactly_what_they_should() {
    let url = tokpulse_store::testing::PgCluster::shared()
        .fresh_database("automation_week")
        .await;
    let target = tokpulse_store::StoreTarget::Postgres {
        url,
        max_connections: 4,
    };
    scenario(&target, tempfile::tempdir().unwrap()).await;
}

async fn scenario(target: &tokpulse_store::StoreTarget, dir: tempfile::TempDir) {
    let gh = tokpulse_act::fake_github::FakeGithub::start("acme", "shop", "ghp_e2e").await;
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.github.enabled = true;
    config.github.repo = "acme/shop".into();
    config.github.api_url = gh.url.clone();
    config.github.token_env = "E2E_GH_TOKEN".into();
    config.github.discussions_category = "General".into();
    let env = BTreeMap::from([("E2E_GH_TOKEN".to_string(), "ghp_e2e".to_string())]);
    let store = tokpulse::app::open_store(target).await.unwrap();
    let app = App::with_sinks(
        &config,
        store.clone(),
        tokpulse::app::sinks(&config, &env).unwrap(),
    );
    let ingestor = app.ingestor.clone();

    // Monday 08:00 two weeks ago: the simulated week ends before the real now.
    let today = chrono::Utc::now()
        .duration_trunc(TimeDelta::days(1))
        .unwrap();
    let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let deploy = monday - TimeDelta::days(14) + TimeDelta::hours(8);
    let clock = ManualClock::new(deploy - TimeDelta::minutes(40));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions {
        secrets: WebhookSecrets::new(std::str::from_utf8(SECRET).ok(), None),
        clock: Arc::new(clock.clone()),
        poll: Duration::from_millis(10),
        pr_publisher: tokpulse::scheduler::pr_checks::publisher(&config, &env).unwrap(),
    };
    let server = {
        let config = config.clone();
        tokio::spawn(async move {
            serve_with(&config, app, &listen, options, async {
                let _ = stop_rx.await;
            })
            .await
        })
    };
    until("the server", || async {
        client().get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;

    // Traffic around the deploy, then the deploy's webhook.
    ingestor
        .ingest(
            RecordKind::Performance,
            Format::Ndjson,
            traffic(deploy).as_bytes(),
        )
        .await
        .unwrap();
    clock.set(deploy);
    let deployment = serde_json::json!({
        "action": "created",
        "deployment_status": { "id": 1, "state": "success", "environment": "production",
                               "created_at": deploy.to_rfc3339() },
        "deployment": { "id": 77, "sha": "9f3c2a7e5b1d4c8a0e6f2b7d3a9c1e5f7b2d4a6c", "ref": "v3.1.0",
                        "environment": "production", "creator": { "login": "dana" } },
        "repository": { "id": 1, "name": "shop", "full_name": "acme/shop" }
    });
    assert_eq!(
        post(&base, "deployment_status", "d-1", &deployment, false).await,
        401
    );
    assert_eq!(
        post(&base, "deployment_status", "d-1", &deployment, true).await,
        200
    );
    assert_eq!(
        post(&base, "deployment_status", "d-1", &deployment, true).await,
        200
    );
    assert_eq!(
        store
            .count(tokpulse_store::Table::WebhookDeliveries)
            .await
            .unwrap(),
        1,
        "the replay was not taken"
    );

    // After the settle window: the deploy-regression issue, naming the deploy.
    clock.set(deploy + TimeDelta::minutes(36));
    until("the deploy issue", || async { !gh.issues().is_empty() }).await;
    let issues = gh.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(issues[0].title.contains("v3.1.0"), "{}", issues[0].title);

    // A CI job failing four times: an issue after the fourth.
    for i in 0..4i64 {
        let at = deploy + TimeDelta::hours(1) + TimeDelta::minutes(10 * i);
        clock.set(at);
        let job = serde_json::json!({
            "action": "completed",
            "workflow_job": {
                "id": 500 + i, "run_id": 600 + i, "run_attempt": 1, "workflow_name": "CI",
                "name": "e2e", "head_branch": "main", "head_sha": format!("{:040x}", 0xbeef + i),
                "status": "completed", "conclusion": "failure",
                "completed_at": at.to_rfc3339(), "steps": []
            },
            "repository": { "id": 1, "name": "shop", "full_name": "acme/shop" }
        });
        assert_eq!(
            post(&base, "workflow_job", &format!("ci-{i}"), &job, true).await,
            200
        );
        clock.set(at + TimeDelta::minutes(1));
        let slot = at + TimeDelta::minutes(1);
        let slot = slot.duration_trunc(TimeDelta::minutes(1)).unwrap();
        until("the CI diagnosis run", || async {
            store
                .job_runs(Some("diagnosis"), 20)
                .await
                .unwrap()
                .iter()
                .any(|r| r.scheduled_for >= slot && r.status != JobStatus::Running)
        })
        .await;
        let expected = if i < 3 { 1 } else { 2 };
        until("the CI issue", || async { gh.issues().len() == expected }).await;
    }
    assert!(
        gh.issues()[1].title.contains("4 times"),
        "{}",
        gh.issues()[1].title
    );

    // A malformed payload: 400, nothing lands.
    let bad = serde_json::json!({ "action": "completed", "workflow_job": { "id": 1 } });
    assert_eq!(post(&base, "workflow_job", "ci-bad", &bad, true).await, 400);

    // The week, in 6-hour steps: every step's runs finish before the next.
    let mut at = deploy + TimeDelta::hours(3);
    while at <= deploy + TimeDelta::days(7) + TimeDelta::hours(3) {
        clock.set(at);
        let slot = at.duration_trunc(TimeDelta::minutes(5)).unwrap();
        until("the step's diagnosis run", || async {
            store
                .job_runs(Some("diagnosis"), 1)
                .await
                .unwrap()
                .first()
                .is_some_and(|r| r.scheduled_for == slot && r.status != JobStatus::Running)
        })
        .await;
        at += TimeDelta::hours(6);
    }
    // Monday 09:00 came round: the insights report.
    until("the insights run", || async {
        store
            .job_runs(Some("insights"), 5)
            .await
            .unwrap()
            .iter()
            .any(|r| {
                r.scheduled_for == deploy + TimeDelta::days(7) + TimeDelta::hours(1)
                    && r.status != JobStatus::Running
            })
    })
    .await;
    let runs = store.job_runs(None, 10_000).await.unwrap();
    let failed: Vec<_> = runs
        .iter()
        .filter(|r| r.status == JobStatus::Failed)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    for job in ["diagnosis", "cost", "watchers", "insights", "retention"] {
        assert!(runs.iter().any(|r| r.job == job), "{job} never ran");
    }

    // A pull request, opened then updated: one sticky comment, edited in place, and a
    // commit status on each head commit.
    let number = gh.open_pull_request("Retry the payment client");
    let sha1 = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    let sha2 = "5c9e1a0f3b2d4e6a8c0b1d3f5a7c9e1b3d5f7a9c";
    for (i, (action, sha)) in [("opened", sha1), ("synchronize", sha2)]
        .into_iter()
        .enumerate()
    {
        let pr = serde_json::json!({
            "action": action, "number": number,
            "pull_request": { "number": number, "title": "Retry the payment client",
                              "head": { "sha": sha, "ref": "fix/retry" }, "base": { "ref": "main" } },
            "repository": { "id": 1, "name": "shop", "full_name": "acme/shop" }
        });
        assert_eq!(
            post(&base, "pull_request", &format!("pr-{i}"), &pr, true).await,
            200
        );
        until("the commit status", || async {
            gh.statuses().len() == i + 1
        })
        .await;
    }
    let statuses = gh.statuses();
    assert_eq!(
        statuses
            .iter()
            .map(|s| (s.sha.as_str(), s.context.as_str()))
            .collect::<Vec<_>>(),
        [(sha1, "tokpulse"), (sha2, "tokpulse")]
    );
    // The deploy regression is still open and high: the check fails.
    assert_eq!(statuses[1].state, "failure", "{statuses:?}");
    let prs = gh.pull_requests();
    assert_eq!(
        prs[0].comments.len(),
        1,
        "one sticky comment: {:?}",
        prs[0].comments
    );
    assert!(
        prs[0].comments[0].contains("5c9e1a0"),
        "edited for the new head"
    );

    // Both Mondays' insights reports (09:00 right after the start, and a week later), each
    // one Discussion in the category.
    let discussions = gh.discussions();
    let titles: Vec<String> = discussions.iter().map(|d| d.title.clone()).collect();
    let week = |monday: Timestamp| {
        format!(
            "TokPulse weekly insights: {} to {}",
            (monday - TimeDelta::days(7)).format("%Y-%m-%d"),
            monday.format("%Y-%m-%d")
        )
    };
    let first = deploy - TimeDelta::hours(8);
    assert_eq!(
        titles,
        [week(first), week(first + TimeDelta::days(7))],
        "one Discussion per week"
    );
    for d in &discussions {
        assert_eq!(d.category_id, "DIC_kwDOgeneral");
        assert!(d.body.contains("<!-- tokpulse:fingerprint=insights-"));
        assert!(d.body.contains("findings were active this week"));
    }

    // Nothing else landed on GitHub.
    assert_eq!(gh.issues().len(), 2, "{:?}", gh.issues());
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());

    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    let _ = clock.now();
}
