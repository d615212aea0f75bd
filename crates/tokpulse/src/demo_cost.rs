//! The demo's month of spend: AI calls from four weeks before the month to the demo's day, and
//! the Vercel and Supabase usage beside them, heading over the $500 budget. What it injects:
//!
//! - `support-chat` (mobile-bff) on an expensive model (`gpt-4-turbo`), 5% of its calls failing
//!   after the prompt was billed;
//! - `ticket-tagging` (api): short calls on `gpt-4o` that a small model could answer;
//! - `search-answers` (api) on `gpt-4o`, where about half the prompts repeat (by prompt hash);
//! - `doc-embeddings` (api): one input per embedding call;
//! - deploy `v2.13.2` of api (commit `abc123f9e1`) six days before the end, after which
//!   `search-answers` sends 40% more prompt tokens: a cost regression tied to its deploy.

use chrono::{Datelike, TimeDelta};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::fmt::Write as _;
use tokpulse_core::{InfraProvider, InfraUsageRecord, Label, RecordId, Timestamp};

/// The deploy that makes `search-answers` longer.
pub const REGRESSION_DEPLOY: (&str, &str, &str) = ("deploy-api-2132", "v2.13.2", "abc123f9e1");
/// Days before the demo's end that deploy happened.
pub const REGRESSION_DAYS_BEFORE_END: i64 = 6;

/// The generated month: NDJSON bodies of AI usage and of the one deploy, and infra records.
pub struct Month {
    /// AI usage NDJSON bodies of at most the batch size each.
    pub ai_bodies: Vec<String>,
    /// The deploy, as NDJSON.
    pub deploy_body: String,
    /// Infrastructure usage per day.
    pub infra: Vec<InfraUsageRecord>,
    /// AI usage records.
    pub ai_records: u64,
}

/// A feature of the simulated product and how it calls its model.
struct Feature {
    service: &'static str,
    feature: &'static str,
    model: &'static str,
    calls_per_day: f64,
    prompt: (u64, u64),
    completion: (u64, u64),
    fail_rate: f64,
    /// The route of the requests that make the calls (the `route` attribute).
    route: &'static str,
}

const FEATURES: &[Feature] = &[
    Feature {
        service: "mobile-bff",
        feature: "support-chat",
        model: "gpt-4-turbo",
        calls_per_day: 400.0,
        prompt: (2_300, 1_000),
        completion: (350, 300),
        fail_rate: 0.05,
        route: "POST /v2/support/messages",
    },
    Feature {
        service: "api",
        feature: "ticket-tagging",
        model: "gpt-4o",
        calls_per_day: 300.0,
        prompt: (450, 300),
        completion: (40, 40),
        fail_rate: 0.0,
        route: "POST /api/tickets",
    },
    Feature {
        service: "api",
        feature: "search-answers",
        model: "gpt-4o",
        calls_per_day: 300.0,
        prompt: (2_500, 1_500),
        completion: (150, 100),
        fail_rate: 0.0,
        route: "GET /api/search",
    },
    Feature {
        service: "api",
        feature: "doc-embeddings",
        model: "text-embedding-3-large",
        calls_per_day: 500.0,
        prompt: (3_000, 2_000),
        completion: (0, 0),
        fail_rate: 0.0,
        route: "POST /api/docs",
    },
];

/// Weekday traffic factor: quieter weekends.
fn weekday_factor(t: Timestamp) -> f64 {
    match t.weekday().num_days_from_monday() {
        5 | 6 => 0.6,
        _ => 1.0,
    }
}

/// Generates the spend from four weeks before the month of `end` up to one day before `end`
/// (the demo's own day has its own calls).
pub fn generate(end: Timestamp, seed: u64, batch: usize) -> Month {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xC057);
    let day_start = end - TimeDelta::days(1);
    let month_first = end
        .date_naive()
        .with_day(1)
        .unwrap_or(end.date_naive())
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let start = month_first - TimeDelta::days(28);
    let deploy_at = end - TimeDelta::days(REGRESSION_DAYS_BEFORE_END);
    let mut bodies = Vec::new();
    let (mut current, mut in_current, mut count) = (String::new(), 0usize, 0u64);
    let mut infra = Vec::new();
    let days = (day_start - start).num_days();
    for d in 0..=days {
        let day = start + TimeDelta::days(d);
        // Growth of about 1% a week.
        let growth = 1.0 + 0.0015 * d as f64;
        for (fi, f) in FEATURES.iter().enumerate() {
            let n = (f.calls_per_day * weekday_factor(day) * growth).round() as u64;
            for i in 0..n {
                let ts = day + TimeDelta::milliseconds(rng.random_range(0..86_400_000));
                if ts >= day_start {
                    continue;
                }
                let ok = rng.random::<f64>() >= f.fail_rate;
                let mut prompt = f.prompt.0 + rng.random_range(0..=f.prompt.1);
                if f.feature == "search-answers" && ts >= deploy_at {
                    prompt = prompt * 14 / 10;
                }
                let completion = if ok && f.completion.0 > 0 {
                    f.completion.0 + rng.random_range(0..=f.completion.1)
                } else {
                    0
                };
                let mut attributes = json!({ "route": f.route });
                if f.feature == "search-answers" {
                    // Half the questions are among 40 popular ones.
                    let h = if rng.random::<f64>() < 0.5 {
                        format!("q{:04}", rng.random_range(0..40))
                    } else {
                        format!("u{d:03}{i:05}")
                    };
                    attributes["prompt_hash"] = json!(h);
                }
                if f.model.contains("embedding") {
                    attributes["input_count"] = json!(1);
                }
                let mut record = json!({
                    "id": format!("ai-m-{d:03}-{fi}-{i:05}"),
                    "timestamp": ts.to_rfc3339(),
                    "service": f.service, "feature": f.feature, "provider": "openai",
                    "model": f.model, "prompt_tokens": prompt, "completion_tokens": completion,
                    "latency_ms": 400.0 + 2000.0 * rng.random::<f64>(), "success": ok,
                    "attributes": attributes,
                });
                if !ok {
                    record["error_message"] = json!("upstream timeout after 30000ms");
                }
                let _ = writeln!(current, "{record}");
                in_current += 1;
                count += 1;
                if in_current == batch {
                    bodies.push(std::mem::take(&mut current));
                    in_current = 0;
                }
            }
        }
        let label = |s: &str| Label::parse(s).expect("the demo's labels are valid");
        let id = |s: String| RecordId::parse(&s).expect("the demo's ids are valid");
        let next = day + TimeDelta::days(1);
        let w = weekday_factor(day) * growth;
        for (provider, project, metric, q) in [
            (
                InfraProvider::Vercel,
                "shopfront-web",
                "requests",
                38_000.0 * w,
            ),
            (
                InfraProvider::Vercel,
                "shopfront-web",
                "bandwidth_gb",
                28.0 * w,
            ),
            (
                InfraProvider::Vercel,
                "shopfront-web",
                "function_gb_hours",
                21.0 * w,
            ),
            (
                InfraProvider::Supabase,
                "shopfront-db",
                "db_size_gb",
                6.2 + 0.01 * d as f64,
            ),
            (InfraProvider::Supabase, "shopfront-db", "storage_gb", 42.0),
            (
                InfraProvider::Supabase,
                "shopfront-db",
                "egress_gb",
                6.5 * w,
            ),
        ] {
            infra.push(InfraUsageRecord {
                id: id(format!(
                    "{provider}-{project}-{metric}-{}",
                    day.date_naive()
                )),
                provider,
                project: label(project),
                metric: label(metric),
                quantity: (q * 100.0_f64).round() / 100.0,
                period_start: day,
                period_end: next,
                plan: Some(label("pro")),
            });
        }
    }
    if in_current > 0 {
        bodies.push(current);
    }
    let (id, version, commit) = REGRESSION_DEPLOY;
    let deploy_body = format!(
        "{}\n",
        json!({
            "id": id, "timestamp": deploy_at.to_rfc3339(), "service": "api",
            "environment": "production", "version": version, "commit_sha": commit,
            "author": "deploy-bot", "description": "search: answers quote more of each source",
        })
    );
    Month {
        ai_bodies: bodies,
        deploy_body,
        infra,
        ai_records: count,
    }
}
