//! Backtest of the forecast methods on generated spend histories: what
//! `tokpulse cost backtest` runs.
//!
//! [`generate`] makes a seeded, deterministic daily-spend history with the features real AI
//! bills have: a weekly pattern, growth that changes pace, a slow random drift, day-to-day noise,
//! a launch that spikes and then leaves spend higher, quiet holiday weeks, and retry storms.
//! [`run`] replays each history day by day: every day the robust model is fitted on the days so
//! far, and on days 7, 14 and 21 of each month every method projects the month end, which is
//! then compared with the month's real total.

use crate::forecast::{Calendar, DailySpend, Method, RobustModel, days_in_month, forecast};
use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// Days of the month on which projections are scored.
pub const CHECKPOINTS: [u32; 3] = [7, 14, 21];

/// Months at the start of each history used only as history, never scored.
pub const WARMUP_MONTHS: usize = 3;

/// One generated history.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The day of `daily[0]` (always a first of the month).
    pub start: NaiveDate,
    /// Dollars per day.
    pub daily: Vec<f64>,
    /// What was put in, for people.
    pub description: String,
}

/// SplitMix64: small, seedable, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-300);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Generates history number `index` of `seed`: `months` whole months of daily spend starting on
/// the first of a month between January 2024 and December 2024.
///
/// What goes in (each drawn per history):
/// - a base of $3–$300 a day (log-uniform);
/// - a weekly pattern: for three histories in four a business tool (weekends at 45–90% of
///   weekdays, Friday a little lower), otherwise a consumer app (weekends 10–40% higher), each
///   weekday jittered by ±5%;
/// - growth that changes pace every 1–4 months, between −4% and +15% a month;
/// - a slow random walk of the level (0.5–2% a day) and day-to-day noise (5–20%, log-normal);
/// - a launch on a random day after the warm-up: 2–4× spend that day, halving every 1–4 days
///   down to a lasting step of +15–60%;
/// - quiet weeks: 23 December to 1 January at 35–70% of normal, and in half the histories one
///   more week (a summer break) at 50–80%;
/// - one to three retry storms: 1–3 days at 3–10× normal.
pub fn generate(seed: u64, index: u64, months: usize) -> History {
    let mut rng = Rng(seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    let start_month = rng.below(12) as u32 + 1;
    let start = NaiveDate::from_ymd_opt(2024, start_month, 1).unwrap_or(NaiveDate::MIN);
    let mut end = start;
    for _ in 0..months {
        end = end + Days::new(days_in_month(end) as u64);
    }
    let n = (end - start).num_days() as usize;

    let base = (3f64.ln() + rng.unit() * (300f64.ln() - 3f64.ln())).exp();
    let business = rng.unit() < 0.75;
    let mut week = [1.0; 7];
    if business {
        let weekend = rng.range(0.45, 0.9);
        week[4] = 1.0 - (1.0 - weekend) / 4.0;
        week[5] = weekend;
        week[6] = weekend * rng.range(0.9, 1.1);
    } else {
        let weekend = rng.range(1.1, 1.4);
        week[4] = 1.0 + (weekend - 1.0) / 2.0;
        week[5] = weekend;
        week[6] = weekend * rng.range(0.95, 1.05);
    }
    for w in &mut week {
        *w *= rng.range(0.95, 1.05);
    }
    let walk_sd = rng.range(0.005, 0.02);
    let noise_sd = rng.range(0.05, 0.2);
    let warmup_days = 92;
    let launch_day = warmup_days + rng.below(n.saturating_sub(warmup_days + 1).max(1));
    let launch_peak = rng.range(2.0, 4.0);
    let launch_step = rng.range(1.15, 1.6);
    let launch_half_life = rng.range(1.0, 4.0);
    let summer_break = if rng.unit() < 0.5 {
        Some((rng.below(n.saturating_sub(7).max(1)), rng.range(0.5, 0.8)))
    } else {
        None
    };
    let holiday_factor = rng.range(0.35, 0.7);
    let storms: Vec<(usize, usize, f64)> = (0..1 + rng.below(3))
        .map(|_| (rng.below(n), 1 + rng.below(3), rng.range(3.0, 10.0)))
        .collect();

    let mut daily = Vec::with_capacity(n);
    let mut log_level = base.ln();
    let mut growth = 0.0;
    let mut next_change = 0;
    for i in 0..n {
        if i == next_change {
            let monthly: f64 = rng.range(-0.04, 0.15);
            growth = (1.0 + monthly).ln() / 30.0;
            next_change = i + 30 + rng.below(90);
        }
        log_level += growth + walk_sd * rng.normal();
        let day = start + Days::new(i as u64);
        let mut v = log_level.exp() * week[day.weekday().num_days_from_monday() as usize];
        if i >= launch_day {
            let age = (i - launch_day) as f64;
            let excess = (launch_peak - launch_step) * 0.5f64.powf(age / launch_half_life);
            v *= launch_step + excess;
        }
        let (m, d) = (day.month(), day.day());
        if (m == 12 && d >= 23) || (m == 1 && d == 1) {
            v *= holiday_factor;
        }
        if let Some((from, f)) = summer_break
            && (from..from + 7).contains(&i)
        {
            v *= f;
        }
        for &(at, len, k) in &storms {
            if (at..at + len).contains(&i) {
                v *= k;
            }
        }
        v *= (noise_sd * rng.normal() - noise_sd * noise_sd / 2.0).exp();
        daily.push(v);
    }
    let description = format!(
        "from {start}: base ${base:.0}/day, {} week, noise {:.0}%, launch on {} (+{:.0}%), {} storm(s){}",
        if business { "business" } else { "consumer" },
        noise_sd * 100.0,
        start + Days::new(launch_day as u64),
        (launch_step - 1.0) * 100.0,
        storms.len(),
        if summer_break.is_some() {
            ", a summer break"
        } else {
            ""
        },
    );
    History {
        start,
        daily,
        description,
    }
}

/// One method's score at one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointScore {
    /// Day of the month the projection was made on.
    pub day: u32,
    /// Mean absolute percentage error of the projected month end.
    pub mape_pct: f64,
    /// Median absolute percentage error: the typical month, without the rare ones.
    pub median_ape_pct: f64,
    /// Share of months whose real month end fell inside the interval, in percent.
    pub inside_pct: f64,
    /// Mean interval width as a percentage of the real month end.
    pub mean_width_pct: f64,
    /// Months scored.
    pub months: usize,
}

/// One method's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodScore {
    /// The method.
    pub method: Method,
    /// Scores on days 7, 14 and 21.
    pub checkpoints: Vec<CheckpointScore>,
    /// Mean of the checkpoints' MAPE.
    pub mean_mape_pct: f64,
    /// Share of all scored projections whose interval held the real month end, in percent.
    pub inside_pct: f64,
}

/// What [`run`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The generator's seed.
    pub seed: u64,
    /// Histories generated.
    pub histories: usize,
    /// Months per history (the first [`WARMUP_MONTHS`] are not scored).
    pub months_per_history: usize,
    /// Nominal interval coverage.
    pub coverage: f64,
    /// Scores, the seed's method first.
    pub methods: Vec<MethodScore>,
}

#[derive(Default, Clone)]
struct Acc {
    abs_pct: Vec<f64>,
    inside: usize,
    width_pct: f64,
    n: usize,
}

/// Generates `histories` histories of `months` months from `seed` and scores every method.
pub fn run(seed: u64, histories: usize, months: usize, coverage: f64) -> Report {
    let mut acc: Vec<[Acc; CHECKPOINTS.len()]> = vec![Default::default(); Method::ALL.len()];
    for h in 0..histories {
        let history = generate(seed, h as u64, months);
        score_history(&history, coverage, &mut acc);
    }
    let methods = Method::ALL
        .iter()
        .zip(&acc)
        .map(|(&method, per_day)| {
            let checkpoints: Vec<CheckpointScore> = CHECKPOINTS
                .iter()
                .zip(per_day)
                .map(|(&day, a)| {
                    let n = a.n.max(1) as f64;
                    let mut ape = a.abs_pct.clone();
                    CheckpointScore {
                        day,
                        mape_pct: ape.iter().sum::<f64>() / n,
                        median_ape_pct: crate::forecast::stats::median(&mut ape).unwrap_or(0.0),
                        inside_pct: a.inside as f64 / n * 100.0,
                        mean_width_pct: a.width_pct / n,
                        months: a.n,
                    }
                })
                .collect();
            let total: usize = per_day.iter().map(|a| a.n).sum();
            let inside: usize = per_day.iter().map(|a| a.inside).sum();
            MethodScore {
                method,
                mean_mape_pct: checkpoints.iter().map(|c| c.mape_pct).sum::<f64>()
                    / checkpoints.len() as f64,
                inside_pct: inside as f64 / total.max(1) as f64 * 100.0,
                checkpoints,
            }
        })
        .collect();
    Report {
        seed,
        histories,
        months_per_history: months,
        coverage,
        methods,
    }
}

fn score_history(history: &History, coverage: f64, acc: &mut [[Acc; CHECKPOINTS.len()]]) {
    let daily = &history.daily;
    let calendar = Calendar::year_end();
    // Day by day: the robust model as it would have been fitted at the end of each day.
    let fits: Vec<Option<RobustModel>> = (0..=daily.len())
        .map(|k| RobustModel::fit_dated(&daily[..k], history.start, &calendar))
        .collect();
    let mut month_start = 0;
    let mut first = history.start;
    let mut month = 0;
    while month_start < daily.len() {
        let len = days_in_month(first) as usize;
        if month >= WARMUP_MONTHS && month_start + len <= daily.len() {
            let actual: f64 = daily[month_start..month_start + len].iter().sum();
            for (c, &day) in CHECKPOINTS.iter().enumerate() {
                let k = month_start + day as usize;
                let input = DailySpend {
                    daily: &daily[..k],
                    as_of: first + Days::new(day as u64 - 1),
                };
                for (m, &method) in Method::ALL.iter().enumerate() {
                    let f = match method {
                        Method::RobustSeasonal => {
                            crate::forecast::forecast_robust_with(&input, coverage, |end| {
                                fits.get(end).copied().flatten()
                            })
                        }
                        _ => forecast(method, &input, coverage),
                    };
                    let Ok(f) = f else { continue };
                    let a = &mut acc[m][c];
                    a.abs_pct
                        .push((f.projection - actual).abs() / actual * 100.0);
                    a.width_pct += (f.upper - f.lower) / actual * 100.0;
                    a.inside += usize::from(f.lower <= actual && actual <= f.upper);
                    a.n += 1;
                }
            }
        }
        month_start += len;
        first = first + Days::new(len as u64);
        month += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_whole_months() {
        let a = generate(42, 3, 6);
        assert_eq!(a, generate(42, 3, 6));
        assert_ne!(a.daily, generate(42, 4, 6).daily);
        assert_eq!(a.start.day(), 1);
        let end = a.start + Days::new(a.daily.len() as u64);
        assert_eq!(end.day(), 1);
        assert!(a.daily.iter().all(|v| v.is_finite() && *v > 0.0));
    }

    #[test]
    fn a_small_run_scores_every_method_at_every_checkpoint() {
        let r = run(7, 2, 5, 0.8);
        assert_eq!(r.methods.len(), Method::ALL.len());
        for m in &r.methods {
            assert_eq!(m.checkpoints.len(), 3);
            for c in &m.checkpoints {
                // 2 histories × (5 − 3) scored months.
                assert_eq!(c.months, 4, "{:?}", m.method);
                assert!(c.mape_pct.is_finite() && c.mape_pct >= 0.0);
                assert!((0.0..=100.0).contains(&c.inside_pct));
            }
        }
    }
}
