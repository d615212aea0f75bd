//! The cost run's read and summary (`cost_run::load` + `cost_run::summarize`) on a SQLite store
//! holding a generated volume of AI calls: `--per-day` calls a day for `--days` days ending on
//! the day summarised (2026-03-30; the default 92 days are the month so far and the 62 days of
//! history before it that the forecasts read).
//!
//! ```text
//! cargo bench -p tokpulse --bench cost_run                                # 50,000 a day, 92 days
//! cargo bench -p tokpulse --bench cost_run -- --per-day 5000 --days 40   # smaller
//! ```
//!
//! The calls go through the default privacy guard and `Store::insert_batch` in batches of
//! 5,000, priced as ingest prices them, into a store in a temporary folder (or `--dir`, which
//! must not hold a store yet). Then the summary of the month is timed `--runs` times (default
//! 4): the first run is cold (it also rolls up every call stored so far), each later one comes
//! after another hour of calls (`per-day / 24`, dated the day after the one summarised) was
//! stored, as the hourly cost job sees it. Prints the times, the peak resident memory of the
//! process and the month's figures (to compare two builds). Ten features with their routes and
//! models (one the catalog does not know), three services, cached tokens on 40% of the calls,
//! 3% failed. No timing is asserted.

use anyhow::Context;
use chrono::{Days, NaiveDate, TimeDelta};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokpulse::cost_run;
use tokpulse_core::{AiUsageRecord, Attributes, Label, RecordId};
use tokpulse_cost::{Catalog, CostConfig};
use tokpulse_guard::{Guard, GuardConfig};
use tokpulse_store::{Batch, SqliteStore, Store, Table};

/// A deterministic stream of numbers (SplitMix64), so every run stores the same calls.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// `(feature, route, model, typical prompt tokens)`.
const FEATURES: [(&str, &str, &str, u64); 10] = [
    ("search-answers", "GET /api/search", "gpt-4o", 6_000),
    ("support-chat", "POST /api/chat", "gpt-4o-mini", 2_500),
    ("ticket-tagging", "POST /api/tickets", "gpt-4o-mini", 800),
    ("summaries", "GET /api/docs/:id", "gpt-4.1-mini", 4_000),
    (
        "embeddings",
        "POST /api/index",
        "text-embedding-3-small",
        500,
    ),
    ("code-review", "POST /api/review", "o4-mini", 9_000),
    ("translate", "POST /api/translate", "gpt-4.1-nano", 1_200),
    ("classify", "POST /api/classify", "gpt-5-nano", 600),
    ("agent", "POST /api/agent", "gpt-5", 12_000),
    ("lab", "POST /api/lab", "in-house-7b", 2_000),
];

struct Args {
    per_day: u64,
    days: u64,
    runs: usize,
    dir: Option<PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        per_day: 50_000,
        days: 92,
        runs: 4,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag}: a value"));
        match flag.as_str() {
            "--per-day" => a.per_day = value()?.parse().context("--per-day")?,
            "--days" => a.days = value()?.parse().context("--days")?,
            "--runs" => a.runs = value()?.parse().context("--runs")?,
            "--dir" => a.dir = Some(value()?.into()),
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    anyhow::ensure!(
        a.per_day > 0 && a.days > 0 && a.runs > 0,
        "values must be > 0"
    );
    Ok(a)
}

fn label(s: &str) -> anyhow::Result<Label> {
    Label::parse(s).with_context(|| format!("label {s:?}"))
}

/// Call `i` of `day`: one of `per_day`, spread over the day.
fn call(rng: &mut Seeded, day: NaiveDate, i: u64, per_day: u64) -> anyhow::Result<AiUsageRecord> {
    let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
    let timestamp = start + TimeDelta::milliseconds((i * 86_400_000 / per_day) as i64);
    let service = match rng.below(10) {
        0..=6 => "api",
        7 | 8 => "worker",
        _ => "web",
    };
    let mut attributes = Attributes::new();
    let (feature, model, prompt) = if rng.below(20) == 0 {
        (None, "gpt-4o-mini", 1_000 + rng.below(2_000))
    } else {
        let (feature, route, model, prompt) = FEATURES[rng.below(10) as usize];
        attributes.insert("route".into(), route.into());
        let model = if rng.below(10) == 0 {
            "gpt-4o-mini"
        } else {
            model
        };
        (Some(feature), model, prompt / 2 + rng.below(prompt))
    };
    let embedding = model.contains("embedding");
    if rng.below(10) < 4 {
        attributes.insert("cached_tokens".into(), rng.below(prompt).into());
    }
    if matches!(feature, Some("search-answers" | "support-chat")) {
        attributes.insert(
            "prompt_hash".into(),
            format!("h{:04}", rng.below(2_000)).into(),
        );
    }
    if embedding {
        attributes.insert("input_count".into(), (1 + 7 * rng.below(2)).into());
    }
    let success = rng.below(100) >= 3;
    Ok(AiUsageRecord {
        id: RecordId::parse(&format!("b-{day}-{i}")).context("record id")?,
        timestamp,
        service: label(service)?,
        feature: feature.map(label).transpose()?,
        provider: label("openai")?,
        model: label(model)?,
        prompt_tokens: prompt,
        completion_tokens: if embedding { 0 } else { rng.below(1_500) },
        latency_ms: Some(200.0 + rng.below(3_000) as f64),
        success,
        error_message: (!success).then(|| "rate limited".to_owned()),
        cost_usd: None,
        attributes,
    })
}

/// Stores `calls` through the guard, priced as ingest prices them, in batches of 5,000.
async fn store_calls(
    store: &dyn Store,
    guard: &Guard,
    calls: Vec<AiUsageRecord>,
) -> anyhow::Result<()> {
    let price = cost_run::pricer(Arc::new(Catalog::builtin()));
    for chunk in calls.chunks(5_000) {
        let mut guarded = Vec::with_capacity(chunk.len());
        for r in chunk {
            let mut r = r.clone();
            price(&mut r);
            guarded.push(
                guard
                    .guard(r)
                    .context("the default guard blocks nothing here")?,
            );
        }
        store.insert_batch(&Batch::AiUsage(guarded)).await?;
    }
    Ok(())
}

/// The peak resident memory of this process so far (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let as_of = NaiveDate::from_ymd_opt(2026, 3, 30).context("a date")?;
    let first = as_of
        .checked_sub_days(Days::new(a.days - 1))
        .context("--days too large")?;
    let tmp = tempfile::tempdir().context("a temporary folder")?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let store = SqliteStore::open(&dir).await?;
    store.migrate().await?;
    anyhow::ensure!(
        store.count(Table::AiUsageMetrics).await? == 0,
        "{} already holds a store",
        dir.display()
    );
    let guard = Guard::new(&GuardConfig::default());
    let mut rng = Seeded(42);

    let started = Instant::now();
    let mut day = first;
    while day <= as_of {
        let calls = (0..a.per_day)
            .map(|i| call(&mut rng, day, i, a.per_day))
            .collect::<anyhow::Result<Vec<_>>>()?;
        store_calls(&store, &guard, calls).await?;
        day = day.succ_opt().context("a date")?;
    }
    let stored = store.count(Table::AiUsageMetrics).await?;
    println!(
        "stored {stored} calls ({} a day, {} days to {as_of}) in {:.1} s; database {:.0} MiB",
        a.per_day,
        a.days,
        secs(started.elapsed()),
        std::fs::metadata(store.path()).map_or(0.0, |m| m.len() as f64 / 1_048_576.0),
    );

    let config = CostConfig {
        monthly_budget_usd: Some(50_000.0),
        ..CostConfig::default()
    };
    let next_day = as_of.succ_opt().context("a date")?;
    let hour = (a.per_day / 24).max(1);
    for run in 1..=a.runs {
        if run > 1 {
            // Another hour of calls (dated the day after the one summarised), as the hourly
            // cost job finds them.
            let offset = (run as u64 - 2) * hour;
            let calls = (offset..offset + hour)
                .map(|i| call(&mut rng, next_day, i, a.per_day))
                .collect::<anyhow::Result<Vec<_>>>()?;
            store_calls(&store, &guard, calls).await?;
        }
        let started = Instant::now();
        let inputs = cost_run::load(&store, as_of).await?;
        let loaded = started.elapsed();
        let summary = cost_run::summarize(&config, &inputs, as_of);
        let total = started.elapsed();
        println!(
            "run {run}{}: load {:.2} s, summarize {:.2} s, total {:.2} s",
            if run == 1 {
                " (cold)"
            } else {
                " (after an hour of calls)"
            },
            secs(loaded),
            secs(total - loaded),
            secs(total),
        );
        if run == a.runs {
            let projection = summary
                .budgets
                .first()
                .map_or(0.0, |b| b.status.projection_usd);
            println!(
                "month {}: AI ${:.6}, {} calls, {} features, {} models, {} routes, {} unknown \
                 model(s) ({} calls), project projection ${projection:.6}, {} recommendations",
                summary.month,
                summary.ai_usd,
                summary.by_service.iter().map(|l| l.calls).sum::<u64>(),
                summary.by_feature.len(),
                summary.by_model.len(),
                summary.by_route.len(),
                summary.unknown_models.len(),
                summary.unknown_models.iter().map(|u| u.calls).sum::<u64>(),
                summary.recommendations.len(),
            );
        }
    }
    if let Some(mib) = peak_rss_mib() {
        println!("peak resident memory {mib:.0} MiB");
    }
    store.close().await;
    Ok(())
}
