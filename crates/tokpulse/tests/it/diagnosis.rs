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
//! - From Wednesday 00:00 `GET /reports` on `api` slows down a little every minute (a slow
//!   drift: twice as slow by Sunday night); no window differs much from the one before.
//! - All week, `GET /recommendations` on `shop` is noisy but healthy: a wide latency spread
//!   and traffic that comes in bursts.

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
        ("api", "GET", "/reports", 150.0),
        ("shop", "GET", "/recommendations", 60.0),
    ];
    for minute in 0..24 * 60 {
        let t0 = start + Duration::minutes(minute);
        for (service, method, path, median) in routes {
            let mut n = PER_MINUTE;
            let (mut factor, mut error_rate, mut spread) = (1.0, 0.003, 0.3);
            if path == "/reports" && day >= 2 {
                factor = 1.0 + ((day - 2) * 24 * 60 + minute) as f64 / (5.0 * 24.0 * 60.0);
            }
            if path == "/recommendations" {
                spread = 0.8;
                n = if rng.random_bool(0.1) {
                    20
                } else {
                    rng.random_range(1..=4)
                };
            }
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
                let ms = median * factor * (spread * z).exp();
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
            // The drift that began Wednesday 00:00, once its hourly p95 has held a new level
            // (no half-hour window ever differs much from the three hours before it); it
            // keeps drifting, so it stays open.
            e(
                "open Thu 09:00",
                FindingKind::LevelShift,
                "api",
                "GET /reports"
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
    let drift = all
        .iter()
        .find(|f| f.finding.kind == FindingKind::LevelShift)
        .unwrap();
    let p95 = &drift.finding.evidence[0];
    let (before, after) = (p95.baseline.unwrap(), p95.current);
    assert!(
        // The route's p95 is about 250 ms before the drift; the finding names the latest step.
        after > 1.2 * before && after > 350.0,
        "p95 {before} → {after}: {}",
        drift.finding.title
    );
    assert!(
        drift.finding.window.start >= monday() + Duration::days(2),
        "the new level began after the drift did: {:?}",
        drift.finding.window
    );
}

/// `GET /feed` peaks every Monday 09:00–09:30 at twice its usual p95. With four weeks of
/// history the seasonal baseline knows the peak, so the rise over the three hours before pages
/// nobody; a peak twice as high as usual still does, with the seasonal median as evidence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_peak_is_usual_but_a_higher_one_is_not() {
    let s = TestServer::sqlite(Config::default()).await;
    let mut config = Config::default();
    config.outbox.dir = s._dir.as_ref().unwrap().path().join("outbox");
    config.analyzers.hysteresis.open_after = 1;
    config.analyzers.hysteresis.resolve_after = 1;
    let app = App::new(&config, s.store.clone());
    let mut rng = StdRng::seed_from_u64(11);
    let this_monday = monday() + Duration::weeks(4);
    // Mondays 06:00–09:30: 100 ms, then 200 ms from 09:00 (400 ms this week on `GET /spiky`).
    let mut perf = Vec::new();
    for week in 0..=4 {
        let day = monday() + Duration::weeks(week);
        for minute in 6 * 60..9 * 60 + 30 {
            let t0 = day + Duration::minutes(minute);
            for (path, peak) in [
                ("/feed", 2.0),
                ("/spiky", if week == 4 { 4.0 } else { 2.0 }),
            ] {
                let factor = if minute >= 9 * 60 { peak } else { 1.0 };
                for i in 0..10 {
                    let z: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
                    let ts = t0 + Duration::milliseconds(rng.random_range(0..60_000));
                    perf.push(json!({
                        "id": format!("w{week}-{minute}-{path}-{i}"), "timestamp": ts.to_rfc3339(),
                        "service": "app", "method": "GET", "route": path, "status_code": 200,
                        "duration_ms": ((100.0 * factor * (0.2 * z).exp()) * 10.0f64).round() / 10.0,
                    }));
                }
            }
        }
    }
    post(&s, "/v1/ingest/performance", &perf).await;
    let run = app
        .engine
        .run(this_monday + Duration::minutes(9 * 60 + 30))
        .await
        .unwrap();
    let latency: Vec<_> = run
        .seen
        .iter()
        .map(|(_, f)| &f.finding)
        .filter(|f| f.kind == FindingKind::LatencyRegression)
        .collect();
    assert_eq!(
        latency
            .iter()
            .map(|f| f.route.as_deref().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["GET /spiky"],
        "the usual peak is quiet; {:?}",
        latency.iter().map(|f| &f.title).collect::<Vec<_>>()
    );
    let seasonal = latency[0]
        .evidence
        .iter()
        .find(|e| {
            e.metric
                .starts_with("p95 latency, same window of the last 4 weeks")
        })
        .unwrap_or_else(|| panic!("seasonal evidence: {:?}", latency[0].evidence));
    let usual = seasonal.baseline.unwrap();
    assert!(
        (200.0..300.0).contains(&usual) && seasonal.current > 1.5 * usual,
        "{seasonal:?}"
    );
}
