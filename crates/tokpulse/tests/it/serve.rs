//! `tokpulse serve` as a process: diagnosis on its interval, SIGTERM, and SIGKILL while clients stream batches.

use crate::common::{TestCommand, client, ndjson, perf};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokpulse_core::RecordKind;
use tokpulse_store::{SqliteStore, Store};

/// Starts `tokpulse serve` on a free port; returns the child and its base URL.
fn start(t: &TestCommand) -> (Child, String) {
    let mut child = t
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    let line = lines
        .next()
        .expect("serve prints its address")
        .expect("readable");
    let base = line
        .strip_prefix("tokpulse listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_loses_no_acknowledged_batch() {
    let t = TestCommand::new();
    let key = t.create_key("service");
    let (mut child, base) = start(&t);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();

    let mut clients = Vec::new();
    for c in 0..4 {
        let (base, key, acked) = (base.clone(), key.clone(), acked.clone());
        clients.push(tokio::spawn(async move {
            for b in 0.. {
                let ids: Vec<String> = (0..200).map(|i| format!("k{c}-{b}-{i}")).collect();
                let body = ndjson(&ids.iter().map(|id| perf(id, 200, 5.0)).collect::<Vec<_>>());
                let resp = client()
                    .post(format!("{base}/v1/ingest/performance"))
                    .bearer_auth(&key)
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == 200 => {
                        // Acknowledged only when the body says so.
                        if let Ok(v) = r.json::<serde_json::Value>().await
                            && v["accepted"] == 200
                        {
                            acked.lock().unwrap().extend(ids);
                        }
                    }
                    _ => break,
                }
            }
        }));
    }
    // Let batches flow, then kill the server without warning.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 20_000 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    for c in clients {
        let _ = c.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 1000,
        "too few batches acknowledged: {}",
        acked.len()
    );

    // The database opens cleanly and holds every acknowledged record.
    let store = SqliteStore::open(&t.path().join("tokpulse-data"))
        .await
        .expect("reopens");
    store.migrate().await.expect("migrations are fine");
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
    for id in &acked {
        assert!(
            store.has_record(RecordKind::Performance, id).await.unwrap(),
            "acknowledged record {id} was lost"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn sigterm_finishes_cleanly() {
    let t = TestCommand::new();
    let key = t.create_key("service");
    let (mut child, base) = start(&t);
    let r = client()
        .post(format!("{base}/v1/ingest/performance"))
        .bearer_auth(&key)
        .json(&serde_json::json!([perf("t1", 200, 1.0)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY-free: plain kill(2) through the command line tool.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "serve exits 0 on SIGTERM");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let store = SqliteStore::open(&t.path().join("tokpulse-data"))
        .await
        .unwrap();
    assert!(
        store
            .has_record(RecordKind::Performance, "t1")
            .await
            .unwrap()
    );
    store.close().await;
}

#[tokio::test]
async fn serve_runs_diagnosis_on_its_interval_and_delivers_to_every_sink() {
    let gh = tokpulse_act::fake_github::FakeGithub::start("acme", "shop", "ghp_serve_test").await;
    let slack = tokpulse_act::fake_slack::FakeSlack::start().await;
    let mut t = TestCommand::new();
    for (k, v) in [
        ("TOKPULSE_GITHUB_ENABLED", "true"),
        ("TOKPULSE_GITHUB_REPO", "acme/shop"),
        ("TOKPULSE_GITHUB_API_URL", gh.url.as_str()),
        ("TOKPULSE_GITHUB_TOKEN_ENV", "TEST_GH_TOKEN"),
        ("TEST_GH_TOKEN", "ghp_serve_test"),
        ("TOKPULSE_SLACK_ENABLED", "true"),
        ("TOKPULSE_SLACK_WEBHOOK_URL", slack.webhook_url.as_str()),
    ] {
        t.env.push((k.into(), v.into()));
    }
    // Diagnosis every second (a 6-field cron: seconds first).
    t.env.push((
        "TOKPULSE_SCHEDULER_JOBS_DIAGNOSIS".into(),
        "\"* * * * * *\"".into(),
    ));
    // One bad window opens a problem here (the default waits for three).
    t.env.push((
        "TOKPULSE_ANALYZERS_HYSTERESIS_OPEN_AFTER".into(),
        "1".into(),
    ));
    let key = t.create_key("service");
    let (mut child, base) = start(&t);
    // 60 slow requests in the last minute: over the 1500 ms p95 threshold.
    let now = chrono::Utc::now();
    let records: Vec<serde_json::Value> = (0..60)
        .map(|i| {
            let mut r = perf(&format!("slow{i}"), 200, 3000.0 + f64::from(i));
            r["timestamp"] = serde_json::json!((now - chrono::Duration::seconds(30)).to_rfc3339());
            r["route"] = serde_json::json!("/reports/export");
            r
        })
        .collect();
    let r = client()
        .post(format!("{base}/v1/ingest/performance"))
        .bearer_auth(&key)
        .json(&records)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Generous: a loaded 2-core machine runs the whole suite at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let finding = loop {
        let v: serde_json::Value = client()
            .get(format!("{base}/v1/findings?status=open"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(f) = v["findings"].as_array().and_then(|f| f.first()) {
            break f.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no finding after 90 s: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        finding["finding"]["kind"], "latency_regression",
        "{finding}"
    );
    assert_eq!(
        finding["finding"]["route"], "POST /reports/export",
        "{finding}"
    );
    let issues = t.path().join("tokpulse-data/outbox/issues");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&issues).map_or(0, |d| d.count()) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no issue in {}",
            issues.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while gh.issues().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing filed on GitHub"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let issues = gh.issues();
    assert_eq!(issues.len(), 1);
    assert!(
        issues[0].title.contains("/reports/export"),
        "{:?}",
        issues[0]
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
