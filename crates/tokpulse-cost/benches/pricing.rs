//! Throughput of pricing and rolling up AI usage records: ten million records (cycled from a
//! deterministic pool of 10,000 distinct ones across 16 models, one unknown, 30 days, 40
//! features and 4 services), priced alone and priced plus summed per day, service, feature
//! and model.
//!
//! ```text
//! cargo bench -p tokpulse-cost --bench pricing            # 10,000,000 records
//! cargo bench -p tokpulse-cost --bench pricing -- 1000000 # fewer
//! ```
//!
//! Prints records/s for each stage, best of three rounds. No timing is asserted.

use chrono::NaiveDate;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokpulse_core::{AiUsageRecord, Attributes, Label, RecordId};
use tokpulse_cost::{Call, Catalog, Rollup};

/// A small deterministic generator (64-bit LCG), so every run sees the same records.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn label(s: &str) -> Label {
    Label::parse(s).expect("bench labels are valid")
}

fn pool(n: usize) -> Vec<AiUsageRecord> {
    let models = [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "gpt-5",
        "gpt-5-mini",
        "o3",
        "o4-mini",
        "gpt-3.5-turbo",
        "gpt-4-turbo",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "GPT-4o",
        "in-house-7b",
    ];
    let services = ["web", "api", "worker", "search"];
    let mut rng = Lcg(42);
    let start = NaiveDate::from_ymd_opt(2025, 9, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date")
        .and_utc();
    (0..n)
        .map(|i| {
            let mut attributes = Attributes::new();
            if rng.next().is_multiple_of(4) {
                attributes.insert("cached_tokens".into(), (rng.next() % 500).into());
            }
            AiUsageRecord {
                id: RecordId::parse(&format!("r{i}")).expect("valid id"),
                timestamp: start + chrono::Duration::seconds((rng.next() % (30 * 86_400)) as i64),
                service: label(services[(rng.next() % 4) as usize]),
                feature: (!rng.next().is_multiple_of(10))
                    .then(|| label(&format!("feature-{}", rng.next() % 40))),
                provider: label("openai"),
                model: label(models[(rng.next() % models.len() as u64) as usize]),
                prompt_tokens: 50 + rng.next() % 4000,
                completion_tokens: rng.next() % 800,
                latency_ms: None,
                success: !rng.next().is_multiple_of(50),
                error_message: None,
                cost_usd: None,
                attributes,
            }
        })
        .collect()
}

fn best_of<F: FnMut() -> f64>(rounds: usize, mut f: F) -> (Duration, f64) {
    let mut best = Duration::MAX;
    let mut out = 0.0;
    for _ in 0..rounds {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let records = pool(10_000);
    let catalog = Catalog::builtin();
    let rate = |d: Duration| n as f64 / d.as_secs_f64();

    let (d, total) = best_of(3, || {
        let mut total = 0.0;
        for r in records.iter().cycle().take(n) {
            if let Ok(c) = catalog.price(&Call::from_record(black_box(r))) {
                total += c.total_usd();
            }
        }
        total
    });
    println!(
        "price only:        {n} records in {:.2} s = {:.1} M records/s (total ${total:.0})",
        d.as_secs_f64(),
        rate(d) / 1e6
    );

    let (d, rows) = best_of(3, || {
        let mut rollup = Rollup::new(&catalog);
        for r in records.iter().cycle().take(n) {
            let _ = rollup.add(black_box(r));
        }
        rollup.rows().len() as f64
    });
    println!(
        "price + roll up:   {n} records in {:.2} s = {:.1} M records/s ({rows} rows)",
        d.as_secs_f64(),
        rate(d) / 1e6
    );
}
