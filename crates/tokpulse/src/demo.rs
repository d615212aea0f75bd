//! `tokpulse demo`: a realistic day for a web app, an API and a mobile backend — diurnal
//! traffic over eleven routes, AI calls, logs with personal data in them, three deploys — of
//! which one makes `GET /api/search` slow and one makes `POST /checkout` fail; and, with no
//! deploy, `GET /v2/feed` steps up to a new, slower level ten hours before the end (a downstream
//! that got slower: only the level-shift check sees it by then), and in the last ninety minutes
//! `GET /v2/profile` gets slower and `POST /v2/events` fails. The day is turned into
//! NDJSON and goes through the same ingest path as the HTTP API (parse, validate, guard, store),
//! then diagnosis runs at the end of the day and the outbox gets the issues TokPulse would file.

use crate::app::{App, open_store};
use crate::cli::{DemoArgs, OutputFormat};
use crate::config::Config;
use anyhow::Context;
use chrono::{DurationRound, TimeDelta};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::fmt::Write as _;
use std::time::Instant;
use tokpulse_core::{RecordKind, Timestamp};
use tokpulse_ingest::{Format, IngestReport};
use tokpulse_store::StoreTarget;

/// One route of the simulated system.
struct Route {
    service: &'static str,
    method: &'static str,
    path: &'static str,
    platform: &'static str,
    /// Share of the day's requests.
    share: f64,
    /// Median latency, ms.
    median_ms: f64,
    /// Spread of the log-normal latency.
    sigma: f64,
    /// Share of 5xx answers.
    error_rate: f64,
}

const ROUTES: &[Route] = &[
    Route {
        service: "web",
        method: "GET",
        path: "/",
        platform: "web",
        share: 0.17,
        median_ms: 45.0,
        sigma: 0.45,
        error_rate: 0.001,
    },
    Route {
        service: "web",
        method: "GET",
        path: "/products/:id",
        platform: "web",
        share: 0.15,
        median_ms: 80.0,
        sigma: 0.5,
        error_rate: 0.002,
    },
    Route {
        service: "web",
        method: "POST",
        path: "/cart",
        platform: "web",
        share: 0.06,
        median_ms: 60.0,
        sigma: 0.4,
        error_rate: 0.002,
    },
    Route {
        service: "web",
        method: "POST",
        path: "/checkout",
        platform: "web",
        share: 0.035,
        median_ms: 220.0,
        sigma: 0.45,
        error_rate: 0.004,
    },
    Route {
        service: "api",
        method: "GET",
        path: "/api/search",
        platform: "api",
        share: 0.2,
        median_ms: 120.0,
        sigma: 0.5,
        error_rate: 0.002,
    },
    Route {
        service: "api",
        method: "GET",
        path: "/api/products",
        platform: "api",
        share: 0.14,
        median_ms: 60.0,
        sigma: 0.4,
        error_rate: 0.001,
    },
    Route {
        service: "api",
        method: "POST",
        path: "/api/orders",
        platform: "api",
        share: 0.05,
        median_ms: 150.0,
        sigma: 0.45,
        error_rate: 0.003,
    },
    Route {
        service: "api",
        method: "GET",
        path: "/api/users/:id",
        platform: "api",
        share: 0.08,
        median_ms: 40.0,
        sigma: 0.4,
        error_rate: 0.001,
    },
    Route {
        service: "mobile-bff",
        method: "GET",
        path: "/v2/feed",
        platform: "mobile",
        share: 0.075,
        median_ms: 110.0,
        sigma: 0.5,
        error_rate: 0.002,
    },
    Route {
        service: "mobile-bff",
        method: "GET",
        path: "/v2/profile",
        platform: "mobile",
        share: 0.04,
        median_ms: 70.0,
        sigma: 0.4,
        error_rate: 0.001,
    },
    Route {
        service: "mobile-bff",
        method: "POST",
        path: "/v2/events",
        platform: "mobile",
        share: 0.03,
        median_ms: 25.0,
        sigma: 0.35,
        error_rate: 0.001,
    },
];

/// A deploy of the simulated day and what it breaks.
struct Deploy {
    id: &'static str,
    service: &'static str,
    version: &'static str,
    commit: &'static str,
    author: &'static str,
    description: &'static str,
    /// Minutes before the end of the day.
    minutes_before_end: i64,
    /// The route it breaks, with the latency factor and the error rate after it.
    breaks: Option<(&'static str, f64, f64)>,
}

const DEPLOYS: &[Deploy] = &[
    Deploy {
        id: "deploy-mobile-118",
        service: "mobile-bff",
        version: "v1.18.0",
        commit: "4c1d2e9b7a",
        author: "mobile-ci",
        description: "feed ranking tweaks",
        // Breaks no route, but logs a new error (see `NEW_ERROR`).
        minutes_before_end: 6 * 60,
        breaks: None,
    },
    Deploy {
        id: "deploy-api-2140",
        service: "api",
        version: "v2.14.0",
        commit: "a1b2c3d4e5f6",
        author: "Priya Natarajan <priya.natarajan@shopfront.dev>",
        description: "search: switch ranking to the new embeddings index",
        minutes_before_end: 120,
        breaks: Some(("/api/search", 3.4, 0.002)),
    },
    Deploy {
        id: "deploy-web-531",
        service: "web",
        version: "v5.3.1",
        commit: "9f8e7d6c5b4a",
        author: "deploy-bot",
        description: "checkout: new payment provider client",
        minutes_before_end: 90,
        breaks: Some(("/checkout", 1.1, 0.17)),
    },
];

/// A route that moves to a new level with no deploy: its path, the latency factor, and how
/// many minutes before the end it starts.
const LEVEL_SHIFT: (&str, f64, i64) = ("/v2/feed", 1.6, 10 * 60);

/// Routes that go wrong in the last ninety minutes with no deploy behind them: the path, the
/// latency factor and the error rate from then on (a slow downstream, a failing upstream).
const UNDEPLOYED: &[(&str, f64, f64)] = &[("/v2/profile", 2.5, 0.001), ("/v2/events", 1.0, 0.08)];

/// When the [`UNDEPLOYED`] problems start, in minutes before the end.
const UNDEPLOYED_MINUTES: i64 = 90;

/// The error the mobile-bff deploy starts logging every few minutes: a pattern new since it.
const NEW_ERROR: &str = "feed ranker: NaN score for item";

/// The repository the CI runs are from.
const REPO: &str = "shopfront/app";

/// The day's CI jobs (`workflow_job` payloads, as the ingest API takes them): healthy jobs on
/// every push, `e2e` failing on `main` for the last four pushes with one failure message, and
/// `unit` failing then passing on a re-run of the same commit (flaky).
fn ci_jobs(end: Timestamp) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut id = 7_000_000u64;
    for push in 0..10u64 {
        let at = end - TimeDelta::minutes(30 + 60 * (9 - push as i64));
        let sha = format!("{:040x}", 0xc0ffee_u64 * (push + 1));
        let run_id = 9_100_000 + push;
        let mut job = |name: &str,
                       attempt: u32,
                       ok: bool,
                       message: Option<String>,
                       at: Timestamp| {
            id += 1;
            json!({
                "action": "completed",
                "workflow_job": {
                    "id": id, "run_id": run_id, "run_attempt": attempt, "workflow_name": "CI",
                    "name": name, "head_branch": "main", "head_sha": sha,
                    "status": "completed", "conclusion": if ok { "success" } else { "failure" },
                    "started_at": (at - TimeDelta::minutes(6)).to_rfc3339(),
                    "completed_at": at.to_rfc3339(),
                    "html_url": format!("https://github.com/{REPO}/actions/runs/{run_id}/job/{id}"),
                    "failure_message": message,
                },
                "repository": { "full_name": REPO },
            })
        };
        out.push(job("lint", 1, true, None, at));
        let e2e_ok = push < 6;
        out.push(job(
            "e2e",
            1,
            e2e_ok,
            (!e2e_ok).then(|| {
                format!(
                    "checkout.spec.ts:{}: expected status 201, got 502 from POST /checkout",
                    40 + push
                )
            }),
            at,
        ));
        if push == 4 {
            out.push(job(
                "unit",
                1,
                false,
                Some("cart_test.go:88: timeout waiting for redis after 5s".into()),
                at,
            ));
            out.push(job("unit", 2, true, None, at + TimeDelta::minutes(9)));
        } else {
            out.push(job("unit", 1, true, None, at));
        }
    }
    out
}

/// Relative traffic at hour `h` (UTC, fractional): a quiet night, a morning rise, an afternoon peak.
fn diurnal(h: f64) -> f64 {
    let bump = |centre: f64, width: f64| (-((h - centre).powi(2)) / (2.0 * width * width)).exp();
    0.15 + 0.55 * bump(10.0, 2.5) + 0.9 * bump(15.0, 3.0) + 0.35 * bump(20.5, 2.0)
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson draw (Knuth for small means, normal approximation above).
fn poisson(rng: &mut StdRng, mean: f64) -> u64 {
    if mean > 30.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as u64;
    }
    let l = (-mean).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

const CUSTOMERS: &[&str] = &[
    "jane.doe@example.org",
    "m.rossi@posteitaliane.it",
    "kenji.sato@mail.co.jp",
    "olga.ivanova@yandex.ru",
    "sam@startup.io",
];

/// The generated day, as NDJSON per record kind.
pub struct Day {
    /// When the day ends (diagnosis runs then).
    pub end: Timestamp,
    /// NDJSON bodies per kind, each at most `batch` records.
    pub bodies: Vec<(RecordKind, String)>,
    /// Records per kind.
    pub counts: [(RecordKind, u64); 4],
    /// CI jobs, NDJSON, for `POST /v1/ingest/ci-runs`.
    pub ci: String,
    /// How many CI jobs.
    pub ci_jobs: u64,
}

/// Generates the day ending at `end`.
pub fn generate(end: Timestamp, requests_per_day: u64, seed: u64, batch: usize) -> Day {
    let mut rng = StdRng::seed_from_u64(seed);
    let start = end - TimeDelta::days(1);
    let minutes = 24 * 60;
    let weights: Vec<f64> = (0..minutes)
        .map(|m| {
            let t = start + TimeDelta::minutes(m);
            let h = t
                .time()
                .signed_duration_since(chrono::NaiveTime::MIN)
                .num_seconds() as f64
                / 3600.0;
            diurnal(h)
        })
        .collect();
    let total_weight: f64 = weights.iter().sum();

    let mut perf = Batcher::new(RecordKind::Performance, batch);
    let mut ai = Batcher::new(RecordKind::AiUsage, batch);
    let mut logs = Batcher::new(RecordKind::Logs, batch);
    let mut deploys = Batcher::new(RecordKind::Deploys, batch);

    for d in DEPLOYS {
        let ts = end - TimeDelta::minutes(d.minutes_before_end);
        deploys.push(json!({
            "id": d.id, "timestamp": ts.to_rfc3339(), "service": d.service,
            "environment": "production", "version": d.version, "commit_sha": d.commit,
            "author": d.author, "description": d.description,
        }));
    }

    let mut seq = 0u64;
    for (m, w) in weights.iter().enumerate() {
        let minute_start = start + TimeDelta::minutes(m as i64);
        for route in ROUTES {
            let mean = requests_per_day as f64 * route.share * w / total_weight;
            for _ in 0..poisson(&mut rng, mean) {
                seq += 1;
                let ts = minute_start + TimeDelta::milliseconds(rng.random_range(0..60_000));
                let (mut factor, mut error_rate) = (1.0, route.error_rate);
                for d in DEPLOYS {
                    if let Some((path, f, e)) = d.breaks
                        && d.service == route.service
                        && path == route.path
                        && ts >= end - TimeDelta::minutes(d.minutes_before_end)
                    {
                        factor = f;
                        error_rate = e;
                    }
                }
                let (path, f, minutes) = LEVEL_SHIFT;
                if route.path == path && ts >= end - TimeDelta::minutes(minutes) {
                    factor = f;
                }
                for &(path, f, e) in UNDEPLOYED {
                    if route.path == path && ts >= end - TimeDelta::minutes(UNDEPLOYED_MINUTES) {
                        factor = f;
                        error_rate = e;
                    }
                }
                let duration = route.median_ms * factor * (route.sigma * normal(&mut rng)).exp();
                let status = if rng.random::<f64>() < error_rate {
                    [500, 502, 503][rng.random_range(0..3)]
                } else if rng.random::<f64>() < 0.02 {
                    404
                } else if route.method == "POST" {
                    201
                } else {
                    200
                };
                let region = ["eu-west-1", "us-east-1"][(seq % 2) as usize];
                let mut attributes = json!({ "region": region });
                if route.path == "/checkout" || route.path == "/api/orders" {
                    // Clients send what they have: the guard takes the email out before storage.
                    attributes["customer"] = json!(CUSTOMERS[(seq % 5) as usize]);
                }
                perf.push(json!({
                    "id": format!("req-{seq:08}"), "timestamp": ts.to_rfc3339(),
                    "service": route.service, "route": route.path, "method": route.method,
                    "status_code": status, "duration_ms": (duration * 10.0).round() / 10.0,
                    "platform": route.platform, "attributes": attributes,
                }));
                if status >= 500 {
                    let customer = CUSTOMERS[(seq % 5) as usize];
                    let message = if route.path == "/checkout" && factor != 1.0 {
                        format!(
                            "payment provider call failed: upstream timeout after 3000ms for order {} (customer {customer})",
                            40_000 + seq % 10_000
                        )
                    } else {
                        format!(
                            "unhandled error serving {} {}: connection reset by peer",
                            route.method, route.path
                        )
                    };
                    logs.push(json!({
                        "id": format!("log-{seq:08}"), "timestamp": ts.to_rfc3339(),
                        "service": route.service, "level": "error", "message": message,
                        "route": route.path, "attributes": { "status": status },
                    }));
                }
                if route.path == "/api/search" && seq.is_multiple_of(12) {
                    let prompt = 400 + rng.random_range(0..600);
                    ai.push(json!({
                        "id": format!("ai-{seq:08}"), "timestamp": ts.to_rfc3339(),
                        "service": "api", "feature": "search-summary", "provider": "openai",
                        "model": "gpt-4o-mini", "prompt_tokens": prompt,
                        "completion_tokens": 80 + rng.random_range(0..120),
                        "latency_ms": 600.0 + 900.0 * rng.random::<f64>(), "success": true,
                    }));
                }
                if route.service == "mobile-bff" && seq.is_multiple_of(40) {
                    let ok = rng.random::<f64>() > 0.01;
                    ai.push(json!({
                        "id": format!("ai-{seq:08}"), "timestamp": ts.to_rfc3339(),
                        "service": "mobile-bff", "feature": "support-chat", "provider": "openai",
                        "model": "gpt-4o", "prompt_tokens": 1200 + rng.random_range(0..800),
                        "completion_tokens": if ok { 250 + rng.random_range(0..200) } else { 0 },
                        "latency_ms": 1800.0 + 2500.0 * rng.random::<f64>(), "success": ok,
                        "error_message": if ok { None } else { Some("rate limited for org-key sk-proj-Zx81bQ0aVt7LmN3pR5sW9yK2 (429)") },
                    }));
                }
            }
        }
        let mobile_deploy = end - TimeDelta::minutes(DEPLOYS[0].minutes_before_end);
        if m.is_multiple_of(4) && minute_start >= mobile_deploy {
            seq += 1;
            logs.push(json!({
                "id": format!("log-{seq:08}"),
                "timestamp": (minute_start + TimeDelta::seconds(15)).to_rfc3339(),
                "service": "mobile-bff", "level": "error",
                "message": format!("{NEW_ERROR} {}", 880_000 + seq % 1000),
            }));
        }
        if m.is_multiple_of(3) {
            seq += 1;
            logs.push(json!({
                "id": format!("log-{seq:08}"),
                "timestamp": (minute_start + TimeDelta::seconds(30)).to_rfc3339(),
                "service": "api", "level": "info",
                "message": format!("cache warm: {} keys refreshed", 1000 + m),
            }));
        }
    }
    // A rarely used admin route with three very slow requests: too few to judge, so no finding.
    for i in 0..3 {
        seq += 1;
        perf.push(json!({
            "id": format!("req-{seq:08}"),
            "timestamp": (end - TimeDelta::minutes(5 + i)).to_rfc3339(),
            "service": "web", "route": "/admin/reports", "method": "GET",
            "status_code": 200, "duration_ms": 9000.0 + 100.0 * i as f64, "platform": "web",
        }));
    }

    let counts = [
        (RecordKind::Performance, perf.count),
        (RecordKind::AiUsage, ai.count),
        (RecordKind::Logs, logs.count),
        (RecordKind::Deploys, deploys.count),
    ];
    let mut bodies = Vec::new();
    // Deploys first, as a CD system would send them.
    for b in [deploys, perf, ai, logs] {
        bodies.extend(b.finish());
    }
    let jobs = ci_jobs(end);
    let ci = jobs.iter().map(|j| format!("{j}\n")).collect();
    Day {
        end,
        bodies,
        counts,
        ci,
        ci_jobs: jobs.len() as u64,
    }
}

/// Accumulates NDJSON records into bodies of at most `size` records.
struct Batcher {
    kind: RecordKind,
    size: usize,
    current: String,
    in_current: usize,
    done: Vec<(RecordKind, String)>,
    count: u64,
}

impl Batcher {
    fn new(kind: RecordKind, size: usize) -> Self {
        Batcher {
            kind,
            size,
            current: String::new(),
            in_current: 0,
            done: Vec::new(),
            count: 0,
        }
    }

    fn push(&mut self, v: serde_json::Value) {
        let _ = writeln!(self.current, "{v}");
        self.in_current += 1;
        self.count += 1;
        if self.in_current == self.size {
            self.done
                .push((self.kind, std::mem::take(&mut self.current)));
            self.in_current = 0;
        }
    }

    fn finish(mut self) -> Vec<(RecordKind, String)> {
        if self.in_current > 0 {
            self.done.push((self.kind, self.current));
        }
        self.done
    }
}

/// The demo's day ends at the most recent 15:30 UTC, the afternoon peak, so that every run
/// sees the same traffic shape whatever the hour it is started at.
pub fn demo_end(now: Timestamp) -> anyhow::Result<Timestamp> {
    let today = now
        .duration_trunc(TimeDelta::days(1))
        .context("truncating the clock")?
        + TimeDelta::minutes(15 * 60 + 30);
    Ok(if today <= now {
        today
    } else {
        today - TimeDelta::days(1)
    })
}

/// Runs the demo.
pub async fn run(config: &Config, args: &DemoArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let dir = config.data_dir.join("demo");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("clearing the previous demo in {}", dir.display()))?;
    }
    let mut config = config.clone();
    config.data_dir = dir.clone();
    let store = open_store(&StoreTarget::Sqlite {
        data_dir: dir.clone(),
    })
    .await?;
    let app = App::new(&config, store.clone());

    let end = demo_end(chrono::Utc::now())?;
    let day = generate(end, args.requests, args.seed, 5000);
    let human = args.format == OutputFormat::Table;
    if human {
        println!(
            "TokPulse demo: one day of traffic for web, api and mobile-bff, ending {}",
            end.format("%Y-%m-%d %H:%M UTC")
        );
    }

    let mut totals: Vec<(RecordKind, IngestReport)> = RecordKind::ALL
        .iter()
        .map(|k| (*k, IngestReport::default()))
        .collect();
    for (kind, body) in &day.bodies {
        let report = app
            .ingestor
            .ingest(*kind, Format::Ndjson, body.as_bytes())
            .await
            .with_context(|| format!("ingesting {kind} records"))?;
        if let Some(r) = report.rejected.first() {
            anyhow::bail!(
                "demo data was rejected: record {}: {}: {}",
                r.index,
                r.field,
                r.reason
            );
        }
        let t = &mut totals
            .iter_mut()
            .find(|(k, _)| k == kind)
            .expect("every kind has a total")
            .1;
        t.accepted += report.accepted;
        t.duplicates += report.duplicates;
    }
    // The month's spend: AI calls through the same ingest path (priced there), the deploy
    // that made one feature longer, and the Vercel and Supabase usage.
    let month = crate::demo_cost::generate(end, args.seed, 5000);
    for (kind, body) in std::iter::once((RecordKind::Deploys, &month.deploy_body))
        .chain(month.ai_bodies.iter().map(|b| (RecordKind::AiUsage, b)))
    {
        let report = app
            .ingestor
            .ingest(kind, Format::Ndjson, body.as_bytes())
            .await
            .with_context(|| format!("ingesting the month's {kind} records"))?;
        if let Some(r) = report.rejected.first() {
            anyhow::bail!(
                "demo data was rejected: record {}: {}: {}",
                r.index,
                r.field,
                r.reason
            );
        }
    }
    store.insert_infra_usage(&month.infra, end).await?;
    let ci = app
        .ingestor
        .ingest_ci(Format::Ndjson, day.ci.as_bytes())
        .await
        .context("ingesting CI jobs")?;
    if let Some(r) = ci.rejected.first() {
        anyhow::bail!("demo CI job was rejected: {r}");
    }
    let ingested = started.elapsed();

    let run = app.engine.run(end).await?;
    let open: Vec<_> = run.seen.iter().map(|(_, f)| f.clone()).collect();
    let cost = crate::cost_run::run(&app.engine, &config.cost, end).await?;
    store.close().await;

    if !human {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "data_dir": dir,
                "outbox": config.outbox_dir(),
                "ingested": totals.iter().map(|(k, r)| (k.as_str(), r.accepted)).chain([("ci-jobs", ci.accepted)]).collect::<std::collections::BTreeMap<_, _>>(),
                "findings": open,
                "actions_delivered": run.delivery.delivered,
                "cost": {
                    "ai_records": month.ai_records,
                    "summary": cost.summary,
                    "findings": cost.seen,
                    "predictions": cost.predictions,
                },
            }))?
        );
        return Ok(0);
    }
    println!(
        "ingested through the API path in {:.1}s: {}",
        ingested.as_secs_f64(),
        totals
            .iter()
            .map(|(k, r)| format!("{} {}", r.accepted, k))
            .chain([format!("{} ci jobs", ci.accepted)])
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "personal data and secrets (customer emails, an API key) were redacted before storage"
    );
    println!(
        "diagnosis at {}: routes over {}-minute windows from the rollups (open after {} bad \
         windows), level shifts in each route's hourly p95, deploys after they settle, CI jobs, \
         error-log patterns:",
        end.format("%H:%M"),
        config.analyzers.route_health.window_minutes,
        config.analyzers.hysteresis.open_after
    );
    if open.is_empty() {
        println!("no findings");
    } else {
        println!("{}", crate::commands::findings_table(&open));
    }
    println!(
        "\ncost: {} AI calls this month and last priced at ingest, with Vercel and Supabase usage",
        month.ai_records
    );
    crate::cost::print_demo(&cost.summary);
    if !cost.seen.is_empty() {
        println!("{}", crate::commands::findings_table(&cost.seen));
    }
    println!(
        "outbox: {} issue drafts in {}, actions logged in {}",
        run.delivery.delivered + cost.delivery.delivered,
        config.outbox_dir().join("issues").display(),
        config.outbox_dir().join("actions.jsonl").display()
    );
    println!("database: {}", dir.join("tokpulse.db").display());
    println!("done in {:.1}s", started.elapsed().as_secs_f64());
    println!(
        "the automation (signed webhooks, the scheduler through a simulated week, a pull \
         request's checks): tokpulse demo --flows"
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_is_deterministic_and_shaped() {
        let end = chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap();
        let a = generate(end, 20_000, 7, 1000);
        let b = generate(end, 20_000, 7, 1000);
        assert_eq!(a.bodies, b.bodies);
        let perf = a.counts[0].1;
        assert!((17_000..23_000).contains(&perf), "{perf}");
        assert_eq!(a.counts[3].1, DEPLOYS.len() as u64);
        assert!(a.bodies.iter().all(|(_, b)| b.lines().count() <= 1000));
    }

    #[test]
    fn the_day_ends_at_the_last_afternoon_peak() {
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert_eq!(
            demo_end(t("2026-11-25T13:00:00Z")).unwrap(),
            t("2026-11-24T15:30:00Z")
        );
        assert_eq!(
            demo_end(t("2026-11-25T15:30:00Z")).unwrap(),
            t("2026-11-25T15:30:00Z")
        );
        assert_eq!(
            demo_end(t("2026-11-25T23:59:00Z")).unwrap(),
            t("2026-11-25T15:30:00Z")
        );
    }

    #[test]
    fn traffic_peaks_in_the_afternoon() {
        assert!(diurnal(15.0) > 3.0 * diurnal(3.0));
    }
}
