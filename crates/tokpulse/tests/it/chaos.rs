//! The chaos test of issue 6: a thousand findings over many fingerprints, delivered to the
//! GitHub stand-in by real `tokpulse diagnose` processes (the engine and the delivery worker,
//! as `tokpulse serve` runs them) that are killed with SIGKILL at random points, while the
//! stand-in fails at random (5xx, 429 with `Retry-After`, the secondary rate limit, a hang, an
//! answer lost after the request was carried out).
//!
//! Afterwards: exactly one issue per fingerprint, every reopen, recurrence and resolution
//! comment exactly once, every issue closed (every finding resolved), no action pending and
//! none parked. The seed is printed; `TOKPULSE_CHAOS_SEED=N` replays a run's traffic, failures
//! and kill points (the interleaving of requests still depends on timing).

use crate::common::{TestCommand, ndjson};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Stdio;
use std::time::Duration;
use tokpulse_act::fake_github::{Failure, FakeGithub};
use tokpulse_store::{ActionStatus, SqliteStore, Store};

/// Findings (a route bad in a window) to generate, over as many routes as it takes.
const FINDINGS: usize = 1000;
/// Diagnosis runs with traffic, 30 minutes apart (the route-health window).
const STEPS: usize = 30;
/// Slow requests per route in a bad window (over `min_requests`).
const PER_WINDOW: usize = 6;
/// Share of the stand-in's answers that are failures.
const FAILURE_RATE: f64 = 0.2;

/// What the traffic should lead to on one route's issue.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Expected {
    reopens: usize,
    updates: usize,
    resolves: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_every_finding_lands_once_despite_kills_and_github_failures() {
    let seed: u64 = std::env::var("TOKPULSE_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("chaos seed: {seed} (TOKPULSE_CHAOS_SEED={seed} replays it)");
    let mut rng = StdRng::seed_from_u64(seed);

    // Which route is bad in which window: a two-state chain, so routes open, recur, resolve
    // and come back.
    let mut bad: Vec<Vec<bool>> = Vec::new();
    let mut findings = 0;
    while findings < FINDINGS {
        let mut state = rng.random_bool(0.5);
        let row: Vec<bool> = (0..STEPS)
            .map(|_| {
                state = if state {
                    rng.random_bool(0.85)
                } else {
                    rng.random_bool(0.45)
                };
                state
            })
            .collect();
        findings += row.iter().filter(|b| **b).count();
        bad.push(row);
    }

    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
    for (r, row) in bad.iter().enumerate() {
        let mut e = Expected::default();
        let mut seen = false;
        for (s, &b) in row.iter().enumerate() {
            let before = s > 0 && row[s - 1];
            match (b, before) {
                (true, true) => e.updates += 1,
                (true, false) if seen => e.reopens += 1,
                (false, true) => e.resolves += 1,
                _ => {}
            }
            seen |= b;
        }
        if row[STEPS - 1] {
            e.resolves += 1; // by the first run after the traffic
        }
        if seen {
            expected.insert(route(r), e);
        }
    }

    let start = chrono::DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let at = |step: usize| start + chrono::Duration::minutes(30 * step as i64);
    let mut records = Vec::new();
    // Every route has traffic in every window (a window without any is skipped, not good):
    // slow in a bad one, fast otherwise, and fast in the last window, which resolves all.
    for (r, row) in bad.iter().enumerate() {
        for s in 0..=STEPS {
            let slow = row.get(s).copied().unwrap_or(false);
            for i in 0..PER_WINDOW {
                let ts = at(s) - chrono::Duration::seconds(60 + i as i64);
                records.push(serde_json::json!({
                    "id": format!("c{r}-{s}-{i}"),
                    "timestamp": ts.to_rfc3339(),
                    "service": "web",
                    "route": route(r),
                    "method": "POST",
                    "status_code": 200,
                    "duration_ms": if slow { 3000.0 } else { 20.0 } + i as f64,
                }));
            }
        }
    }

    let gh = FakeGithub::start("acme", "shop", "ghp_chaos").await;
    let mut t = TestCommand::new();
    for (k, v) in [
        ("TOKPULSE_GITHUB_ENABLED", "true"),
        ("TOKPULSE_GITHUB_REPO", "acme/shop"),
        ("TOKPULSE_GITHUB_API_URL", gh.url.as_str()),
        ("TOKPULSE_GITHUB_TOKEN_ENV", "TEST_GH_TOKEN"),
        ("TEST_GH_TOKEN", "ghp_chaos"),
        ("TOKPULSE_ANALYZERS_ROUTE_HEALTH_MIN_REQUESTS", "5"),
        // Open on the first bad window, resolve on the first good one.
        ("TOKPULSE_ANALYZERS_HYSTERESIS_OPEN_AFTER", "1"),
        ("TOKPULSE_ANALYZERS_HYSTERESIS_RESOLVE_AFTER", "1"),
        ("TOKPULSE_ANALYZERS_HYSTERESIS_MIN_VOLUME", "5"),
        // Only the route checks: hours-long slow runs would also be level shifts, which this
        // test's expected comments do not count (a segment longer than the week: none).
        ("TOKPULSE_ANALYZERS_LEVEL_SHIFTS_MIN_SEGMENT", "1000"),
        ("TOKPULSE_DIAGNOSIS_UPDATE_INTERVAL_MINUTES", "30"),
        // Enough attempts that a 20% failure rate parks nothing (0.2^40).
        ("TOKPULSE_DIAGNOSIS_MAX_DELIVERY_ATTEMPTS", "40"),
        ("TOKPULSE_LOG", "error"),
    ] {
        t.env.push((k.into(), v.into()));
    }
    let file = t.path().join("traffic.ndjson");
    std::fs::write(&file, ndjson(&records)).unwrap();
    t.expect(&["ingest", file.to_str().unwrap()], 0);

    gh.fail_at_random(
        seed,
        FAILURE_RATE,
        vec![
            Failure::Status(500),
            Failure::Status(502),
            Failure::TooManyRequests { retry_after: 5 },
            Failure::SecondaryRateLimit,
            Failure::Hang(Duration::from_millis(50)),
            Failure::Lost(502),
        ],
    );

    let mut kills = 0;
    let mut run = |now: chrono::DateTime<chrono::Utc>, rng: &mut StdRng| loop {
        let mut child = t
            .command(&["diagnose", "--at", &now.to_rfc3339(), "--format", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("diagnose starts");
        if rng.random_bool(0.35) {
            std::thread::sleep(Duration::from_millis(rng.random_range(0..500)));
            if child.try_wait().unwrap().is_none() {
                child.kill().expect("SIGKILL");
                child.wait().unwrap();
                kills += 1;
                continue;
            }
        }
        let status = child.wait().unwrap();
        if status.success() {
            break;
        }
        panic!("diagnose at {now} failed: {status}");
    };

    for step in 0..=STEPS {
        run(at(step), &mut rng);
    }
    // Later runs without traffic deliver what is still waiting for a retry.
    let data = t.path().join("tokpulse-data");
    let mut later = at(STEPS);
    let mut drained = false;
    for _ in 0..40 {
        later += chrono::Duration::hours(2);
        run(later, &mut rng);
        let store = SqliteStore::open(&data).await.unwrap();
        let actions = store.actions(1_000_000).await.unwrap();
        store.close().await;
        if actions.iter().all(|a| a.status != ActionStatus::Pending) {
            drained = true;
            break;
        }
    }
    gh.stop_failing();
    eprintln!(
        "chaos: {findings} findings on {} routes, {kills} processes killed, {} failures answered",
        expected.len(),
        gh.failures_answered()
    );
    assert!(drained, "actions still pending after the drain runs");

    // The store: nothing pending, nothing parked, every finding resolved.
    let store = SqliteStore::open(&data).await.unwrap();
    let actions = store.actions(1_000_000).await.unwrap();
    let stuck: Vec<_> = actions
        .iter()
        .filter(|a| a.status != ActionStatus::Delivered)
        .map(|a| (a.id, &a.idempotency_key, a.status, &a.last_error))
        .collect();
    assert!(stuck.is_empty(), "undelivered actions: {stuck:#?}");
    let open = store
        .findings(Some(tokpulse_core::FindingStatus::Open), 10_000)
        .await
        .unwrap();
    assert!(open.is_empty(), "{} findings still open", open.len());
    store.close().await;

    // GitHub: one issue per fingerprint, closed, with each comment once.
    let issues = gh.issues();
    let mut by_fingerprint: HashMap<String, u64> = HashMap::new();
    let mut by_route: HashMap<String, Vec<u64>> = HashMap::new();
    for issue in &issues {
        let fp = marker(&issue.body, "<!-- tokpulse:fingerprint=")
            .unwrap_or_else(|| panic!("issue #{} has no fingerprint marker", issue.number));
        if let Some(other) = by_fingerprint.insert(fp.clone(), issue.number) {
            panic!(
                "fingerprint {fp} has two issues: #{other} and #{}",
                issue.number
            );
        }
        let r = expected
            .keys()
            .find(|r| issue.title.contains(r.as_str()))
            .unwrap_or_else(|| {
                panic!("issue #{} is about no route: {}", issue.number, issue.title)
            });
        by_route.entry(r.clone()).or_default().push(issue.number);
    }
    let mut problems = Vec::new();
    for (r, e) in &expected {
        let Some(numbers) = by_route.get(r) else {
            problems.push(format!("{r}: no issue"));
            continue;
        };
        let issue = issues
            .iter()
            .find(|i| i.number == numbers[0])
            .expect("listed");
        if issue.state != "closed" {
            problems.push(format!("{r}: issue #{} is {}", issue.number, issue.state));
        }
        let mut keys = HashSet::new();
        let mut got = Expected::default();
        for c in &issue.comments {
            let Some(key) = marker(c, "<!-- tokpulse:action=") else {
                problems.push(format!("{r}: a comment without an action marker: {c}"));
                continue;
            };
            if !keys.insert(key.clone()) {
                problems.push(format!("{r}: comment {key} posted twice"));
            }
            match key.split(':').nth(2) {
                Some("reopen") => got.reopens += 1,
                Some("update") => got.updates += 1,
                Some("resolve") => got.resolves += 1,
                other => problems.push(format!("{r}: unexpected comment kind {other:?}")),
            }
        }
        if got != *e {
            problems.push(format!("{r}: expected {e:?}, got {got:?}"));
        }
    }
    assert_eq!(
        issues.len(),
        expected.len(),
        "one issue per fingerprint (seed {seed})"
    );
    assert!(
        problems.is_empty(),
        "seed {seed}: {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

fn route(r: usize) -> String {
    format!("/chaos-{r:03}")
}

/// The value of the hidden marker `<!-- name=VALUE -->` that starts with `prefix`.
fn marker(text: &str, prefix: &str) -> Option<String> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find(" -->")?].to_string())
}
