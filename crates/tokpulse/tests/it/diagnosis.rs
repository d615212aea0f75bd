//! Self-diagnosis end to end: a generated week of traffic, deploys, CI jobs and logs goes in
//! through the HTTP ingest API, day by day, into a real store, and diagnosis runs every half
//! hour on a moving clock. Exactly the injected problems open, each with its cause, and they
//! resolve when they stop; one slow minute never pages.
//!
//! The week (from Monday 00:00 UTC):
//! - Tuesday 10:00 `api` deploys v2 (`GET /search` three times slower); v3 fixes it at 14:00.
//! - Thursday 10:00–12:00 `POST /checkout` fails 15% of the time (no deploy).
//! - Wednesday: `CI / e2e` fails on four pushes in a row on `main`; Friday it passes again.
//! - Friday: `CI / unit` fails and passes on a re-run of the same commit (flaky).
//! - Saturday 15:00: one minute in which `GET /products` takes five seconds.

use crate::common::{TestServer, client};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokpulse::app::App;
use tokpulse::config::Config;
use tokpulse_core::FindingKind;
use tokpulse_store::FindingChange;

fn monday() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-10-05T00:00:00Z")
        .unwrap()
        .to_utc()
}

/// Requests per route and minute.
const PER_MINUTE: u64 = 4;

struct Day {
    perf: Vec<serde_json::Value>,
    deploys: Vec<serde_json::Value>,
    logs: Vec<serde_json::Value>,
    ci: Vec<serde_json::Value>,
}

fn generate(day: i64, rng: &mut StdRng) -> Day {
    let start = monday() + Duration::days(day);
    let mut d = Day {
        perf: Vec::new(),
        deploys: Vec::new(),
        logs: Vec::new(),
        ci: Vec::new(),
    };
    let at = |h: i64, m: i64| start + Duration::hours(h) + Duration::minutes(m);
    if day == 1 {
        for (id, version, h) in [("api-v2", "v2.0.0", 10), ("api-v3", "v3.0.0", 14)] {
            d.deploys.push(json!({
                "id": id, "timestamp": at(h, 0).to_rfc3339(), "service": "api",
                "version": version, "commit_sha": format!("{id}-sha"), "author": "dana",
            }));
        }
    }
    let routes = [
        ("shop", "GET", "/products", 80.0),
        ("shop", "POST", "/checkout", 200.0),
        ("api", "GET", "/search", 120.0),
    ];
    for minute in 0..24 * 60 {
        let t0 = start + Duration::minutes(minute);
        for (service, method, path, median) in routes {
            let mut n = PER_MINUTE;
            let (mut factor, mut error_rate) = (1.0, 0.003);
            if day == 1 && path == "/search" && (10 * 60..14 * 60).contains(&minute) {
                factor = 3.0;
            }
            if day == 3 && path == "/checkout" && (10 * 60..12 * 60).contains(&minute) {
                error_rate = 0.15;
            }
            if day == 5 && path == "/products" && minute == 15 * 60 {
                // The slow minute, with a burst of traffic: its window's p95 is bad.
                factor = 60.0;
                n = 40;
            }
            for i in 0..n {
                let ts = t0 + Duration::milliseconds(rng.random_range(0..60_000));
                let z: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
                let ms = median * factor * (0.3 * z).exp();
                let error = rng.random::<f64>() < error_rate;
                let id = format!("r{day}-{minute}-{path}-{i}");
                d.perf.push(json!({
                    "id": id, "timestamp": ts.to_rfc3339(), "service": service,
                    "method": method, "route": path, "status_code": if error { 503 } else { 200 },
                    "duration_ms": (ms * 10.0).round() / 10.0,
                }));
                if error {
                    d.logs.push(json!({
                        "id": format!("log-{id}"), "timestamp": ts.to_rfc3339(),
                        "service": service, "level": "error",
                        "message": format!("upstream {} failed after {} ms", path, ms as u64),
                    }));
                }
            }
        }
    }
    // Four pushes a day, each running `lint`, `e2e` and `unit` on `main`.
    for push in 0..4i64 {
        let t = at(9 + 2 * push, 30);
        let n = day * 4 + push;
        let sha = format!("{:040x}", 0xabc000 + n);
        let run_id = 5_000_000 + n as u64;
        let e2e_fails = day == 2;
        let mut jobs = vec![("lint", 1, true, t), ("e2e", 1, !e2e_fails, t)];
        if day == 4 && push == 1 {
            jobs.push(("unit", 1, false, t));
            jobs.push(("unit", 2, true, t + Duration::minutes(10)));
        } else {
            jobs.push(("unit", 1, true, t));
        }
        for (j, (name, attempt, ok, t)) in jobs.into_iter().enumerate() {
            d.ci.push(json!({
                "action": "completed",
                "workflow_job": {
                    "id": run_id * 10 + j as u64, "run_id": run_id, "run_attempt": attempt,
                    "workflow_name": "CI", "name": name, "head_branch": "main",
                    "head_sha": sha, "status": "completed",
                    "conclusion": if ok { "success" } else { "failure" },
                    "completed_at": t.to_rfc3339(),
                    "failure_message": (!ok).then(|| format!("{name}: assertion failed in step {}", 3 + push)),
                },
                "repository": { "full_name": "acme/shop" },
            }));
        }
    }
    d
}

async fn post(s: &TestServer, path: &str, records: &[serde_json::Value]) {
    for chunk in records.chunks(5000) {
        let body: String = chunk.iter().map(|r| format!("{r}\n")).collect();
        let r = client()
            .post(s.url(path))
            .bearer_auth(&s.keys.service)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let report: serde_json::Value = r.json().await.unwrap();
        assert_eq!(report["rejected"], json!([]), "{path}: {report}");
    }
}

type Event = (String, FindingKind, String, String);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_with_injected_problems_opens_and_resolves_exactly_them() {
    let s = TestServer::sqlite(Config::default()).await;
    let mut config = Config::default();
    config.outbox.dir = s._dir.as_ref().unwrap().path().join("outbox");
    let app = App::new(&config, s.store.clone());
    let mut rng = StdRng::seed_from_u64(7);
    let mut events: Vec<Event> = Vec::new();
    let fmt = |t: DateTime<Utc>| t.format("%a %H:%M").to_string();
    for day in 0..7 {
        let d = generate(day, &mut rng);
        post(&s, "/v1/events/deploy", &d.deploys).await;
        post(&s, "/v1/ingest/performance", &d.perf).await;
        post(&s, "/v1/ingest/logs", &d.logs).await;
        post(&s, "/v1/ingest/ci-runs", &d.ci).await;
        for step in 1..=48 {
            let now = monday() + Duration::days(day) + Duration::minutes(30 * step);
            let run = app.engine.run(now).await.unwrap();
            for (change, f) in &run.seen {
                if matches!(
                    change,
                    FindingChange::New { .. } | FindingChange::Reopened { .. }
                ) {
                    events.push((
                        format!("open {}", fmt(now)),
                        f.finding.kind,
                        f.finding.service.clone(),
                        f.finding.route.clone().unwrap_or_default(),
                    ));
                }
            }
            for f in &run.resolved {
                events.push((
                    format!("resolve {}", fmt(now)),
                    f.finding.kind,
                    f.finding.service.clone(),
                    f.finding.route.clone().unwrap_or_default(),
                ));
            }
        }
    }
    let e = |what: &str, kind, service: &str, route: &str| -> Event {
        (what.into(), kind, service.into(), route.into())
    };
    assert_eq!(
        events,
        [
            // The deploy is checked once its after-window (5 + 30 minutes) has passed; the
            // route alerts that follow it are folded into its finding. The fix's deploy checks
            // clean at 14:35, and the finding resolves once nothing folded into it is bad.
            e(
                "open Tue 11:00",
                FindingKind::DeployRegression,
                "api",
                "GET /search"
            ),
            e(
                "resolve Tue 15:00",
                FindingKind::DeployRegression,
                "api",
                ""
            ),
            // The fourth failure in a row (15:30); the next success (Thursday 09:30).
            e(
                "open Wed 16:00",
                FindingKind::CiFailure,
                "acme/shop",
                "CI / e2e"
            ),
            e(
                "resolve Thu 10:00",
                FindingKind::CiFailure,
                "acme/shop",
                "CI / e2e"
            ),
            // Three bad half hours in a row open it; five good ones resolve it.
            e(
                "open Thu 11:30",
                FindingKind::ErrorSpike,
                "shop",
                "POST /checkout"
            ),
            e(
                "resolve Thu 14:30",
                FindingKind::ErrorSpike,
                "shop",
                "POST /checkout"
            ),
            // Flaky as long as the flaky commit is among the week's jobs.
            e(
                "open Fri 12:00",
                FindingKind::FlakyJob,
                "acme/shop",
                "CI / unit"
            ),
        ],
        "exactly the injected problems, opened and resolved"
    );
    // Each names its cause.
    let all = s.store.findings(None, 100).await.unwrap();
    let deploy = all
        .iter()
        .find(|f| f.finding.kind == FindingKind::DeployRegression)
        .unwrap();
    let cause = deploy.finding.cause.as_ref().unwrap();
    assert_eq!(
        (cause.version.as_str(), cause.commit_sha.as_deref()),
        ("v2.0.0", Some("api-v2-sha"))
    );
    let spike = all
        .iter()
        .find(|f| f.finding.kind == FindingKind::ErrorSpike)
        .unwrap();
    assert!(
        spike.finding.evidence.iter().any(|e| e
            .metric
            .starts_with("errors: upstream /checkout failed after")),
        "the top error pattern is evidence: {:?}",
        spike.finding.evidence
    );
}
