//! Robust trend plus day-of-week seasonality on log spend, with rolling-origin intervals.
//!
//! Why each piece: spend grows multiplicatively and its weekly pattern scales with it, so the
//! model works on `ln(spend)`. Launch spikes and retry storms are a few extreme days, so every
//! estimate is a median (Theil–Sen slope, median weekday effect, median recent level) and a
//! storm moves none of them much. A level shift (a launch that sticks) shows up within a week
//! because the level is the median of the last 7 deseasonalised days, not the fitted line's.
//! The interval comes from the method's own past errors at the same horizon (every origin in
//! the last year), so it is as wide as this series has needed, spikes included, rather than
//! what a normal model of daily noise would claim. Those errors come from overlapping windows,
//! so `k` of them carry about `k / h` independent ones: the interval is their mean ± a Student
//! t quantile with that many degrees of freedom times their spread. Plain empirical quantiles of
//! the `k` errors were tried first and held the real month end 71% of the time for a nominal
//! 80% (docs/BENCHMARKS.md).

use super::stats::{median, normal_quantile, t_quantile};
use super::{DailySpend, Forecast, ForecastError, Method, finish};

/// Days fitted: eight weeks.
const WINDOW: usize = 56;
/// Days whose median is the current level: one week.
const LEVEL_DAYS: usize = 7;
/// Days before a slope is estimated (two weeks); shorter histories assume a flat trend.
const MIN_TREND_DAYS: usize = 14;
/// Days before weekday effects are estimated (three of each weekday).
const MIN_SEASON_DAYS: usize = 21;
/// Past origins need this many days of history to count towards the interval.
const MIN_ORIGIN_DAYS: usize = 28;
/// How far back past forecast errors are taken from: a year.
const LOOKBACK_DAYS: usize = 365;
/// Past errors needed for the empirical interval; fewer fall back to a log-normal one.
const MIN_ERRORS: usize = 20;

/// A fitted robust seasonal model of one series up to (not including) index `end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustModel {
    end: usize,
    days: usize,
    level: f64,
    anchor: f64,
    slope: f64,
    season: [f64; 7],
    first_weekday: u32,
    eps: f64,
    sigma: f64,
}

impl RobustModel {
    /// Fits the last (up to) 56 values of `daily`, whose first value fell on `first_weekday`
    /// (0 = Monday). `None` with fewer than 3 values.
    pub fn fit(daily: &[f64], first_weekday: u32) -> Option<Self> {
        let end = daily.len();
        let start = end.saturating_sub(WINDOW);
        let y = &daily[start..];
        let n = y.len();
        if n < 3 {
            return None;
        }
        let mut scratch: Vec<f64> = y.to_vec();
        let eps = (median(&mut scratch).unwrap_or(0.0) * 0.01).max(1e-9);
        let z: Vec<f64> = y.iter().map(|v| (v.max(0.0) + eps).ln()).collect();
        let dow = |i: usize| ((first_weekday as usize + start + i) % 7) as u32;

        let mut season = [0.0; 7];
        if n >= MIN_SEASON_DAYS {
            let mut by_day: [Vec<f64>; 7] = Default::default();
            let mut window = [0.0; 7];
            for t in 3..n - 3 {
                window.copy_from_slice(&z[t - 3..t + 4]);
                let m = median(&mut window).unwrap_or(z[t]);
                by_day[dow(t) as usize].push(z[t] - m);
            }
            if by_day.iter().all(|d| d.len() >= 2) {
                for (s, d) in season.iter_mut().zip(by_day.iter_mut()) {
                    *s = median(d).unwrap_or(0.0);
                }
                let mean = season.iter().sum::<f64>() / 7.0;
                season.iter_mut().for_each(|s| *s -= mean);
            }
        }
        let u: Vec<f64> = z
            .iter()
            .enumerate()
            .map(|(i, v)| v - season[dow(i) as usize])
            .collect();

        let slope = if n >= MIN_TREND_DAYS {
            scratch.clear();
            for i in 0..n {
                for j in i + 1..n {
                    scratch.push((u[j] - u[i]) / (j - i) as f64);
                }
            }
            median(&mut scratch).unwrap_or(0.0)
        } else {
            0.0
        };
        let last = LEVEL_DAYS.min(n);
        let anchor = (start + n - 1) as f64 - (last - 1) as f64 / 2.0;
        scratch.clear();
        scratch.extend((n - last..n).map(|i| u[i] - slope * ((start + i) as f64 - anchor)));
        let level = median(&mut scratch).unwrap_or(0.0);

        scratch.clear();
        scratch.extend(
            u.iter()
                .enumerate()
                .map(|(i, v)| v - level - slope * ((start + i) as f64 - anchor)),
        );
        let mid = median(&mut scratch).unwrap_or(0.0);
        scratch.iter_mut().for_each(|r| *r = (*r - mid).abs());
        let sigma = 1.4826 * median(&mut scratch).unwrap_or(0.0);
        Some(RobustModel {
            end,
            days: n,
            level,
            anchor,
            slope,
            season,
            first_weekday,
            eps,
            sigma,
        })
    }

    /// Expected spend on day `i` of the series (an index at or after the fitted days).
    pub fn predict(&self, i: usize) -> f64 {
        let w = (self.first_weekday as usize + i) % 7;
        let log = self.level + self.slope * (i as f64 - self.anchor) + self.season[w];
        // exp(σ²/2): the mean of a log-normal day, not its median.
        ((log + self.sigma * self.sigma / 2.0).exp() - self.eps).max(0.0)
    }

    /// Expected spend over days `self.end .. self.end + h`.
    pub fn predict_sum(&self, h: usize) -> f64 {
        (self.end..self.end + h).map(|i| self.predict(i)).sum()
    }

    /// Per-day slope of log spend (0.01 ≈ +1% a day).
    pub fn slope(&self) -> f64 {
        self.slope
    }

    /// Weekday effects on log spend, Monday first, summing to zero.
    pub fn season(&self) -> [f64; 7] {
        self.season
    }
}

/// The robust forecast of `input`; `fit_at(k)` fits the model on the first `k` days (the
/// backtest passes a cache so that each day is fitted once).
pub(super) fn forecast(
    input: &DailySpend<'_>,
    coverage: f64,
    mut fit_at: impl FnMut(usize) -> Option<RobustModel>,
) -> Result<Forecast, ForecastError> {
    let n = input.daily.len();
    let model = fit_at(n).ok_or(ForecastError::NotEnoughData {
        method: Method::RobustSeasonal.as_str(),
        need: 3,
        got: n,
    })?;
    let h = input.days_left();
    let future = model.predict_sum(h);
    if h == 0 {
        return Ok(finish(
            Method::RobustSeasonal,
            input,
            0.0,
            0.0,
            0.0,
            coverage,
        ));
    }
    let alpha = 1.0 - coverage;
    // Rolling origins: what this method would have said `h` days ahead, against what happened.
    let first = MIN_ORIGIN_DAYS.max(n.saturating_sub(LOOKBACK_DAYS + h));
    let mut errors = Vec::new();
    for origin in first..=n.saturating_sub(h) {
        if let Some(m) = fit_at(origin) {
            let predicted = m.predict_sum(h);
            let actual: f64 = input.daily[origin..origin + h].iter().sum();
            let e = m.eps * h as f64;
            errors.push(((actual + e) / (predicted + e)).ln());
        }
    }
    let (lo, hi) = if errors.len() >= MIN_ERRORS {
        // Windows `h` days long overlap: `k` origins hold about k / h independent errors, so
        // the spread is estimated from k errors but trusted like n_eff (Student t).
        let k = errors.len() as f64;
        let n_eff = ((k + h as f64 - 1.0) / h as f64).floor().max(2.0);
        let mean = errors.iter().sum::<f64>() / k;
        let var = errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (k - 1.0);
        let half = t_quantile(1.0 - alpha / 2.0, n_eff - 1.0) * (var * (1.0 + 1.0 / n_eff)).sqrt();
        (mean - half, mean + half)
    } else {
        // Log-normal: daily noise averaged over h days, the level's and slope's uncertainty.
        let days = model.days as f64;
        let s = model.sigma.max(1e-6);
        let se_level = 1.2533 * s / (LEVEL_DAYS.min(model.days) as f64).sqrt();
        let se_slope = s * (12.0 / (days * (days * days - 1.0).max(1.0))).sqrt();
        let reach = (LEVEL_DAYS as f64 - 1.0) / 2.0 + (h as f64 + 1.0) / 2.0;
        let sd = (s * s / h as f64 + se_level.powi(2) + (se_slope * reach).powi(2)).sqrt();
        let z = normal_quantile(1.0 - alpha / 2.0);
        (-z * sd, z * sd)
    };
    Ok(finish(
        Method::RobustSeasonal,
        input,
        future,
        future * lo.exp(),
        future * hi.exp(),
        coverage,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::{DailySpend, forecast as run};
    use chrono::{Datelike, NaiveDate};

    /// Weekdays $100, weekends $50, from Monday 2026-01-05.
    fn weekly(days: usize) -> Vec<f64> {
        (0..days)
            .map(|i| if i % 7 >= 5 { 50.0 } else { 100.0 })
            .collect()
    }

    #[test]
    fn learns_the_weekly_pattern_and_a_flat_trend() {
        let daily = weekly(70);
        let m = RobustModel::fit(&daily, 0).unwrap();
        assert!(m.slope().abs() < 1e-9);
        let s = m.season();
        // Logs are of spend + 1% of the median ($1), which keeps zero days finite.
        assert!(
            ((s[0] - s[5]) - (101.0f64 / 51.0).ln()).abs() < 1e-9,
            "{s:?}"
        );
        assert!((m.predict(70) - 100.0).abs() < 1e-6); // a Monday
        assert!((m.predict(75) - 50.0).abs() < 1e-6); // a Saturday
    }

    #[test]
    fn a_retry_storm_barely_moves_it() {
        let mut daily = weekly(70);
        let clean = RobustModel::fit(&daily, 0).unwrap().predict_sum(14);
        daily[60] = 2000.0;
        daily[61] = 1500.0;
        let stormy = RobustModel::fit(&daily, 0).unwrap().predict_sum(14);
        assert!((stormy / clean - 1.0).abs() < 0.02, "{clean} → {stormy}");
    }

    #[test]
    fn follows_growth() {
        // +1% a day, weekly pattern on top.
        let daily: Vec<f64> = weekly(70)
            .iter()
            .enumerate()
            .map(|(i, v)| v * 1.01f64.powi(i as i32))
            .collect();
        let m = RobustModel::fit(&daily, 0).unwrap();
        assert!((m.slope() - 1.01f64.ln()).abs() < 1e-3, "{}", m.slope());
        let want = 100.0 * 1.01f64.powi(70);
        assert!((m.predict(70) / want - 1.0).abs() < 0.02);
    }

    #[test]
    fn the_interval_comes_from_past_errors_and_holds_the_truth() {
        // 150 days of noisy weekly spend; as of the 10th of a month.
        let mut state = 7u64;
        let mut noise = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.3
        };
        let start = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let all: Vec<f64> = weekly(180).iter().map(|v| v * (1.0 + noise())).collect();
        let as_of = start + chrono::Days::new(149);
        assert_eq!(as_of.day(), 3); // 2026-06-03
        let input = DailySpend {
            daily: &all[..150],
            as_of,
        };
        let f = run(Method::RobustSeasonal, &input, 0.8).unwrap();
        let actual: f64 = all[147..177].iter().sum();
        assert!(f.lower < f.projection && f.projection < f.upper, "{f:?}");
        assert!(
            f.lower <= actual && actual <= f.upper,
            "{actual} not in {f:?}"
        );
        assert!((f.projection / actual - 1.0).abs() < 0.05);
    }

    #[test]
    fn zero_and_sparse_spend_give_finite_forecasts() {
        let as_of = NaiveDate::from_ymd_opt(2026, 6, 14).unwrap();
        let zeros = vec![0.0; 100];
        let f = run(
            Method::RobustSeasonal,
            &DailySpend {
                daily: &zeros,
                as_of,
            },
            0.8,
        )
        .unwrap();
        assert!(f.projection.abs() < 1e-9 && f.lower.abs() < 1e-9 && f.upper.abs() < 1e-9);
        // A project that spends only on some weekdays.
        let sparse: Vec<f64> = (0..100)
            .map(|i| if i % 7 == 2 { 30.0 } else { 0.0 })
            .collect();
        for method in Method::ALL {
            let f = run(
                method,
                &DailySpend {
                    daily: &sparse,
                    as_of,
                },
                0.8,
            )
            .unwrap();
            assert!(f.projection.is_finite() && f.lower.is_finite() && f.upper.is_finite());
            assert!(f.lower <= f.projection && f.projection <= f.upper, "{f:?}");
        }
    }

    #[test]
    fn short_histories_still_forecast() {
        let daily = [10.0, 11.0, 12.0];
        let input = DailySpend {
            daily: &daily,
            as_of: NaiveDate::from_ymd_opt(2026, 6, 3).unwrap(),
        };
        let f = run(Method::RobustSeasonal, &input, 0.8).unwrap();
        assert!((f.spent_to_date - 33.0).abs() < 1e-9);
        assert!(f.lower < f.projection && f.projection < f.upper);
        assert!(
            run(
                Method::RobustSeasonal,
                &DailySpend {
                    daily: &daily[..2],
                    ..input
                },
                0.8
            )
            .is_err()
        );
    }
}
