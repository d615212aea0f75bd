//! A robust, seasonal baseline for one metric series (a route's p95 or error rate per window),
//! and the seed's rule: a deviation of more than 20% from it.
//!
//! [`SeasonalBaseline::baseline`] is the median of the history, with 1.4826 · MAD as its spread
//! (a σ that a few outliers or an earlier incident do not inflate). Once the history holds at
//! least `min_season_points` values from the *same hour of the week* (UTC) as the time judged,
//! only those are used — Monday 09:00 is compared with earlier Mondays at 09:00, so the morning
//! peak is not news every morning. Before that, the last `recent_points` values are used.
//!
//! [`SeasonalBaseline::judge`] applies the rule: a value is *above* its baseline when it exceeds
//! the median by more than `max_deviation` (0.20: the seed's "deviation > 20%") **and** by more
//! than `min_sigmas` robust σ, so that a noisy series does not page on its everyday spread.
//!
//! This complements [`anomaly::StreamingDetector`](crate::anomaly::StreamingDetector), which
//! scores every point of a stream; the baseline here answers one question for the window being
//! judged, with numbers that can go into a finding's evidence.
//!
//! ```
//! use chrono::{DateTime, Duration};
//! use tokpulse_analyze::baseline::SeasonalBaseline;
//!
//! let t0 = DateTime::from_timestamp(1_699_833_600, 0).unwrap(); // a Monday, 00:00 UTC
//! // Four weeks of hourly p95s: 300 ms at 09:00, 100 ms otherwise.
//! let history: Vec<_> = (0..24 * 28)
//!     .map(|h| (t0 + Duration::hours(h), if h % 24 == 9 { 300.0 } else { 100.0 }))
//!     .collect();
//! let monday_9 = t0 + Duration::weeks(4) + Duration::hours(9);
//! let b = SeasonalBaseline::default();
//! assert!(b.baseline(&history, monday_9).unwrap().seasonal);
//! assert!(!b.judge(&history, monday_9, 320.0).unwrap().above); // the usual peak
//! assert!(b.judge(&history, monday_9 + Duration::hours(2), 320.0).unwrap().above);
//! ```

use crate::changepoint::median;
use chrono::{Datelike, Timelike};
use serde::{Deserialize, Serialize};
use tokpulse_core::Timestamp;

/// Settings of the baseline. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeasonalBaseline {
    /// Values at the same hour of the week needed before the baseline is seasonal. Default 3
    /// (three weeks of history).
    pub min_season_points: usize,
    /// Values of the recent history used before that. Default 48.
    pub recent_points: usize,
    /// Values needed for any baseline. Default 6.
    pub min_points: usize,
    /// Relative rise over the median that counts: 0.20 is the seed's "more than 20%". Default
    /// 0.20.
    pub max_deviation: f64,
    /// The rise must also exceed this many robust σ. Default 3.
    pub min_sigmas: f64,
}

impl Default for SeasonalBaseline {
    fn default() -> Self {
        SeasonalBaseline {
            min_season_points: 3,
            recent_points: 48,
            min_points: 6,
            max_deviation: 0.20,
            min_sigmas: 3.0,
        }
    }
}

/// A baseline: where a value is expected, and how much it usually varies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The median of the values used.
    pub median: f64,
    /// 1.4826 · MAD of the values used (a robust σ; 0 for constant history).
    pub spread: f64,
    /// Whether only values from the same hour of the week were used.
    pub seasonal: bool,
    /// How many values were used.
    pub points: usize,
}

/// A value judged against its baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// The baseline.
    pub baseline: Baseline,
    /// The value judged.
    pub value: f64,
    /// `(value − median) / median`; `None` when the median is 0.
    pub relative: Option<f64>,
    /// `(value − median) / spread`; `None` when the spread is 0.
    pub sigmas: Option<f64>,
    /// Whether the value is above its baseline by the rule (more than `max_deviation` and more
    /// than `min_sigmas` σ).
    pub above: bool,
}

impl SeasonalBaseline {
    /// Every problem in the settings, as `field: reason, got value`. Empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.min_points == 0 {
            problems.push("min_points: must be at least 1, got 0".to_owned());
        }
        if !(self.max_deviation.is_finite() && self.max_deviation > 0.0) {
            problems.push(format!(
                "max_deviation: must be > 0, got {}",
                self.max_deviation
            ));
        }
        if !(self.min_sigmas.is_finite() && self.min_sigmas >= 0.0) {
            problems.push(format!("min_sigmas: must be >= 0, got {}", self.min_sigmas));
        }
        problems
    }

    /// The baseline for time `at` from `history` (`(time, value)`, any order; values at or
    /// after `at` and non-finite ones are ignored). `None` with fewer than `min_points` values.
    pub fn baseline(&self, history: &[(Timestamp, f64)], at: Timestamp) -> Option<Baseline> {
        let slot = hour_of_week(at);
        let past: Vec<(Timestamp, f64)> = history
            .iter()
            .copied()
            .filter(|(t, v)| *t < at && v.is_finite())
            .collect();
        let same: Vec<f64> = past
            .iter()
            .filter(|(t, _)| hour_of_week(*t) == slot)
            .map(|(_, v)| *v)
            .collect();
        let (values, seasonal) = if same.len() >= self.min_season_points.max(1) {
            (same, true)
        } else {
            let mut recent = past;
            recent.sort_by_key(|(t, _)| *t);
            let from = recent.len().saturating_sub(self.recent_points);
            (recent[from..].iter().map(|(_, v)| *v).collect(), false)
        };
        if values.is_empty() || (!seasonal && values.len() < self.min_points) {
            return None;
        }
        let m = median(&values);
        let dev: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
        Some(Baseline {
            median: m,
            spread: 1.4826 * median(&dev),
            seasonal,
            points: values.len(),
        })
    }

    /// `value` at time `at` judged against its baseline from `history`; `None` without a
    /// baseline.
    pub fn judge(
        &self,
        history: &[(Timestamp, f64)],
        at: Timestamp,
        value: f64,
    ) -> Option<Judgement> {
        let baseline = self.baseline(history, at)?;
        let rise = value - baseline.median;
        let relative = (baseline.median != 0.0).then(|| rise / baseline.median.abs());
        let sigmas = (baseline.spread > 0.0).then(|| rise / baseline.spread);
        let far_enough = relative.is_none_or(|r| r > self.max_deviation);
        let beyond_noise = sigmas.is_none_or(|s| s > self.min_sigmas);
        Some(Judgement {
            baseline,
            value,
            relative,
            sigmas,
            above: rise > 0.0 && far_enough && beyond_noise,
        })
    }
}

/// 0 (Monday 00:00 UTC) to 167 (Sunday 23:00).
fn hour_of_week(t: Timestamp) -> u32 {
    t.weekday().num_days_from_monday() * 24 + t.hour()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta};

    fn monday() -> Timestamp {
        DateTime::from_timestamp(1_699_833_600, 0).unwrap()
    }

    #[test]
    fn monday_is_monday() {
        assert_eq!(hour_of_week(monday()), 0);
        assert_eq!(hour_of_week(monday() + TimeDelta::hours(24 * 6 + 23)), 167);
    }

    /// Hourly values with a weekday business-hours peak and a little deterministic noise.
    fn weeks(n: i64) -> Vec<(Timestamp, f64)> {
        (0..24 * 7 * n)
            .map(|h| {
                let t = monday() + TimeDelta::hours(h);
                let busy = t.weekday().num_days_from_monday() < 5 && (9..18).contains(&t.hour());
                let noise = [0.0, 4.0, -3.0, 2.0, -5.0, 1.0, 3.0][(h % 7) as usize];
                (t, if busy { 250.0 } else { 120.0 } + noise)
            })
            .collect()
    }

    #[test]
    fn seasonal_once_there_is_history_recent_before() {
        let b = SeasonalBaseline::default();
        let at = monday() + TimeDelta::weeks(4) + TimeDelta::hours(10);
        let base = b.baseline(&weeks(4), at).unwrap();
        assert!(base.seasonal);
        assert_eq!(base.points, 4);
        assert!((base.median - 250.0).abs() < 6.0, "{base:?}");
        // The usual Monday-morning peak is not above; the same value on Sunday night is.
        assert!(!b.judge(&weeks(4), at, 262.0).unwrap().above);
        let sunday_night = monday() + TimeDelta::weeks(4) - TimeDelta::hours(2);
        let j = b.judge(&weeks(4), sunday_night, 262.0).unwrap();
        assert!(j.above && j.baseline.seasonal, "{j:?}");
        // Two days of history: the recent values, not seasonal.
        let short: Vec<_> = weeks(1).into_iter().take(48).collect();
        let base = b.baseline(&short, monday() + TimeDelta::hours(48)).unwrap();
        assert!(!base.seasonal);
        assert_eq!(base.points, 48);
        // Too little history: no baseline, no judgement.
        assert!(
            b.baseline(&short[..3], monday() + TimeDelta::hours(3))
                .is_none()
        );
        // Values at or after `at` are not history.
        assert!(b.baseline(&short, monday()).is_none());
    }

    #[test]
    fn the_twenty_percent_rule_and_the_noise_floor() {
        let b = SeasonalBaseline {
            min_season_points: 1000, // recent history only
            ..SeasonalBaseline::default()
        };
        let at = monday() + TimeDelta::hours(100);
        // Quiet series around 100 (σ ≈ 3): +25% is above, +15% is not, a drop is not.
        let quiet: Vec<_> = (0..100)
            .map(|h| {
                (
                    monday() + TimeDelta::hours(h),
                    100.0 + [2.0, -2.0, 0.0, 3.0, -3.0][h as usize % 5],
                )
            })
            .collect();
        assert!(b.judge(&quiet, at, 125.0).unwrap().above);
        assert!(!b.judge(&quiet, at, 115.0).unwrap().above);
        assert!(!b.judge(&quiet, at, 50.0).unwrap().above);
        // Exactly +20% is not more than 20%.
        let flat: Vec<_> = (0..100)
            .map(|h| (monday() + TimeDelta::hours(h), 100.0))
            .collect();
        assert!(!b.judge(&flat, at, 120.0).unwrap().above);
        assert!(b.judge(&flat, at, 120.5).unwrap().above);
        // Noisy series around 100 (σ ≈ 30): +40% is within its everyday spread.
        let noisy: Vec<_> = (0..100)
            .map(|h| {
                (
                    monday() + TimeDelta::hours(h),
                    100.0 + [40.0, -40.0, 0.0, 25.0, -25.0][h as usize % 5],
                )
            })
            .collect();
        let j = b.judge(&noisy, at, 140.0).unwrap();
        assert!(!j.above, "{j:?}");
        assert!(b.judge(&noisy, at, 250.0).unwrap().above);
        // An earlier incident in the history does not drag the median up.
        let mut incident = quiet.clone();
        for v in incident.iter_mut().skip(60).take(10) {
            v.1 = 400.0;
        }
        let base = b.baseline(&incident, at).unwrap();
        assert!((base.median - 100.0).abs() <= 2.0, "{base:?}");
        assert!(b.validate().is_empty());
        let bad = SeasonalBaseline {
            min_points: 0,
            max_deviation: 0.0,
            min_sigmas: -1.0,
            ..b
        };
        assert_eq!(bad.validate().len(), 3);
    }
}
