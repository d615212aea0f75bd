//! `tokpulse demo --flows`: the automated flows on a simulated clock, in a fresh `demo-flows`
//! folder of the data dir. The webhook receivers listen on loopback and get signed deliveries;
//! the scheduler ticks on a [`ManualClock`] moved forward step by step, never sleeping:
//!
//! 1. a deploy (`deployment_status` webhook) that makes `POST /checkout` slow → a diagnosis run
//!    once the deploy has settled → a deploy-regression issue naming the deploy;
//! 2. a CI job failing four times in a row (`workflow_job` webhooks) → diagnosis after each →
//!    an issue after the fourth failure;
//! 3. a night → the watchers job; a week → diagnosis, cost hourly, the Monday insights report;
//! 4. a pull request (`pull_request` webhook) → the PR checks → sticky comment and status.
//!
//! Each step is printed; every action lands in the outbox.

use crate::app::{App, open_store};
use crate::clock::{Clock, ManualClock};
use crate::config::Config;
use crate::scheduler::{Outcome, RunOutcome, Scheduler};
use crate::server::webhooks::{AutomationEvent, WebhookSecrets, WebhookState, router, sign_github};
use anyhow::Context;
use chrono::{Datelike, DurationRound, TimeDelta};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;
use tokpulse_core::{RecordKind, Timestamp};
use tokpulse_ingest::Format;
use tokpulse_store::StoreTarget;

const SECRET: &[u8] = b"demo-webhook-secret";

struct Flows {
    scheduler: Arc<Scheduler>,
    clock: ManualClock,
    events: UnboundedReceiver<AutomationEvent>,
    base: String,
    client: reqwest::Client,
    deliveries: u32,
}

impl Flows {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Posts a signed GitHub delivery; hands what it asks for to the scheduler.
    async fn github(&mut self, event: &str, payload: &serde_json::Value) -> anyhow::Result<()> {
        let body = serde_json::to_vec(payload)?;
        self.deliveries += 1;
        let resp = self
            .client
            .post(format!("{}/webhooks/github", self.base))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", format!("demo-{}", self.deliveries))
            .header("x-hub-signature-256", sign_github(SECRET, &body))
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let answer: serde_json::Value = resp.json().await.unwrap_or_default();
        println!(
            "  webhook {event}: {status} {}",
            answer["status"].as_str().unwrap_or("")
        );
        while let Ok(e) = self.events.try_recv() {
            if let Some(pr) = self.scheduler.on_event(e, self.now()) {
                let ctx = self.scheduler.context().clone();
                let state = self
                    .scheduler
                    .pr_checks()
                    .run(&ctx, &pr, self.now())
                    .await?;
                println!(
                    "  PR checks on #{} ({}): {}; sticky comment and commit status written",
                    pr.number,
                    &pr.head_sha[..7.min(pr.head_sha.len())],
                    state.as_str()
                );
            }
        }
        Ok(())
    }

    /// Moves the clock to `at` and ticks; prints each run.
    async fn tick_at(&mut self, at: Timestamp) -> anyhow::Result<Vec<RunOutcome>> {
        self.clock.set(at);
        let runs = self.scheduler.tick(at).await?;
        for r in &runs {
            if let Outcome::Ran { status, detail, .. } = &r.outcome {
                println!(
                    "  {} {:<9} ({}, {:?}): {detail}",
                    at.format("%a %H:%M"),
                    r.job,
                    r.trigger.as_str(),
                    status
                );
            }
        }
        Ok(runs)
    }
}

/// Runs the flows; returns the exit code.
pub async fn run(config: &Config) -> anyhow::Result<u8> {
    let dir = config.data_dir.join("demo-flows");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("clearing the previous demo in {}", dir.display()))?;
    }
    let mut config = config.clone();
    config.data_dir = dir.clone();
    config.outbox.enabled = true;
    let store = open_store(&StoreTarget::Sqlite {
        data_dir: dir.clone(),
    })
    .await?;
    let app = App::new(&config, store.clone());

    // Monday 08:00 UTC two weeks ago: the simulated week ends before the real now, so no
    // record is "in the future".
    let today = chrono::Utc::now()
        .duration_trunc(TimeDelta::days(1))
        .context("truncating the clock")?;
    let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let start = monday - TimeDelta::days(14) + TimeDelta::hours(8);
    let clock = ManualClock::new(start - TimeDelta::minutes(40));
    let scheduler = Arc::new(Scheduler::for_app(
        &config,
        &app,
        Arc::new(clock.clone()),
        None,
    )?);
    let (tx, events) = tokio::sync::mpsc::unbounded_channel();
    let hooks = Arc::new(WebhookState {
        ingestor: app.ingestor.clone(),
        store: store.clone(),
        secrets: WebhookSecrets::new(std::str::from_utf8(SECRET).ok(), None),
        clock: Arc::new(clock.clone()),
        events: tx,
        max_body_bytes: config.server.max_body_bytes,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router(hooks)).await;
    });
    let mut f = Flows {
        scheduler,
        clock,
        events,
        base,
        client: reqwest::Client::new(),
        deliveries: 0,
    };
    println!(
        "TokPulse flows demo: a simulated week from {} (clock moved by hand, nothing sleeps)",
        start.format("%a %Y-%m-%d %H:%M UTC")
    );

    // 1. A deploy that makes checkout slow.
    println!(
        "\n1. Deploy: checkout v2.4.0 goes live at {}",
        start.format("%H:%M")
    );
    let traffic = checkout_traffic(start);
    let report = app
        .ingestor
        .ingest(RecordKind::Performance, Format::Ndjson, traffic.as_bytes())
        .await?;
    println!(
        "  {} requests to POST /checkout ingested (p95 ~150 ms before the deploy, ~700 ms after)",
        report.accepted
    );
    f.clock.set(start);
    f.github("deployment_status", &deployment(start)).await?;
    for (at, job) in f.scheduler.pending() {
        println!(
            "  {job} run scheduled for {} (after the settle window)",
            at.format("%H:%M")
        );
    }
    f.tick_at(start + TimeDelta::minutes(36)).await?;

    // 2. A CI job failing four times in a row.
    println!("\n2. CI: `integration-tests` on main fails four times in a row");
    for i in 0..4i64 {
        let at = start + TimeDelta::hours(1) + TimeDelta::minutes(10 * i);
        f.clock.set(at);
        f.github("workflow_job", &failed_job(i, at)).await?;
        f.tick_at(at + TimeDelta::minutes(1)).await?;
    }

    // 3. A night and a week.
    println!("\n3. A night and a week: the scheduler's own jobs");
    let mut at = start + TimeDelta::hours(3);
    let end = start + TimeDelta::days(7) + TimeDelta::hours(3);
    while at <= end {
        let runs = f.scheduler.tick(at).await?;
        f.clock.set(at);
        for r in runs {
            if let Outcome::Ran { status, detail, .. } = &r.outcome
                && (r.job != "diagnosis" && r.job != "cost"
                    || *status != tokpulse_store::JobStatus::Ok)
            {
                println!(
                    "  {} {:<9} ({:?}): {detail}",
                    at.format("%a %H:%M"),
                    r.job,
                    status
                );
            }
        }
        at += TimeDelta::hours(3);
    }
    let runs = store.job_runs(None, 100_000).await?;
    let count = |job: &str| runs.iter().filter(|r| r.job == job).count();
    println!(
        "  the week's runs: diagnosis {}, cost {}, watchers {}, insights {}, retention {} (one per slot reached; missed slots run once)",
        count("diagnosis"),
        count("cost"),
        count("watchers"),
        count("insights"),
        count("retention")
    );

    // 4. A pull request.
    println!("\n4. Pull request #42 opened");
    f.github("pull_request", &pull_request(f.now())).await?;

    server.abort();
    let outbox = config.outbox_dir();
    println!("\nOutbox ({}):", outbox.display());
    print_tree(&outbox, &outbox)?;
    store.close().await;
    Ok(0)
}

fn print_tree(root: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            print_tree(root, &p)?;
        } else {
            let name = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            let first = std::fs::read_to_string(&p)
                .ok()
                .and_then(|t| t.lines().find(|l| l.starts_with("# ")).map(str::to_owned));
            match first {
                Some(title) => println!("  {name}: {}", title.trim_start_matches("# ")),
                None => println!("  {name}"),
            }
        }
    }
    Ok(())
}

/// 35 minutes before the deploy at ~150 ms, 40 after it at ~700 ms, 40 requests a minute.
fn checkout_traffic(deploy: Timestamp) -> String {
    let mut rng = StdRng::seed_from_u64(7);
    let mut out = String::new();
    for minute in -35i64..40 {
        let slow = minute >= 0;
        for i in 0..40 {
            let at = deploy + TimeDelta::minutes(minute) + TimeDelta::milliseconds(i * 1400);
            let median: f64 = if slow { 600.0 } else { 110.0 };
            let ms = median * (1.0 + rng.random_range(-0.4..0.6));
            let record = json!({
                "id": format!("flow-{minute}-{i}"),
                "timestamp": at.to_rfc3339(),
                "service": "checkout",
                "route": "/checkout",
                "method": "POST",
                "status_code": 200,
                "duration_ms": (ms * 10.0).round() / 10.0,
            });
            out.push_str(&record.to_string());
            out.push('\n');
        }
    }
    out
}

fn deployment(at: Timestamp) -> serde_json::Value {
    json!({
        "action": "created",
        "deployment_status": {
            "id": 1, "state": "success", "environment": "production",
            "created_at": at.to_rfc3339(), "updated_at": at.to_rfc3339()
        },
        "deployment": {
            "id": 4242, "sha": "9f3c2a7e5b1d4c8a0e6f2b7d3a9c1e5f7b2d4a6c", "ref": "v2.4.0",
            "environment": "production", "description": "checkout: new payment client",
            "creator": { "login": "dana-dev" }, "created_at": at.to_rfc3339()
        },
        "repository": { "id": 1, "name": "checkout", "full_name": "acme/checkout" }
    })
}

fn failed_job(i: i64, at: Timestamp) -> serde_json::Value {
    json!({
        "action": "completed",
        "workflow_job": {
            "id": 700 + i, "run_id": 900 + i, "run_attempt": 1, "workflow_name": "CI",
            "name": "integration-tests", "head_branch": "main",
            "head_sha": format!("{:040x}", 0xabc0 + i),
            "status": "completed", "conclusion": "failure",
            "started_at": (at - TimeDelta::minutes(6)).to_rfc3339(),
            "completed_at": at.to_rfc3339(), "steps": []
        },
        "repository": { "id": 1, "name": "checkout", "full_name": "acme/checkout" }
    })
}

fn pull_request(at: Timestamp) -> serde_json::Value {
    json!({
        "action": "opened",
        "number": 42,
        "pull_request": {
            "number": 42, "title": "Retry the payment client on 503",
            "head": { "sha": "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "ref": "fix/retry" },
            "base": { "ref": "main" },
            "created_at": at.to_rfc3339()
        },
        "repository": { "id": 1, "name": "checkout", "full_name": "acme/checkout" }
    })
}
