//! A streaming anomaly detector for one metric series.
//!
//! Each point is scored from the points before it only, in five steps:
//!
//! 1. **Robust baseline.** The median and MAD of the last [`BASELINE_POINTS`] values (the mean
//!    absolute deviation when the MAD is 0, as in step-like or mostly-constant series).
//! 2. **Surprise, up and down.** Two deviations in baseline σ units, each split by direction:
//!    the point itself (a spike or a dip), and the median of the last [`LEVEL_POINTS`] points
//!    (half an hour at 5-minute sampling) scaled as a mean of that many (a level shift, which
//!    a couple of outliers cannot fake). Both are first shortened by the series' measurement
//!    step (the smallest gap between two of the baseline's values), so that on a quantised
//!    metric a median one step away is not a shift. The point deviation is capped by how far
//!    the value lies outside what was seen at the same time of day (± [`SEASON_TOLERANCE_SECS`])
//!    on the previous [`SEASON_DAYS`] days, so a nightly batch job is not news every night;
//!    that lookup uses the timestamps, so irregular sampling and duplicated timestamps need no
//!    special case.
//! 3. **Novelty.** How far the value lies beyond the highest or lowest value of the last
//!    [`RANGE_SECS`] (a quarter), in units of the robust spread of the last [`SPREAD_SECS`] (a
//!    week): a value never seen in three months is news even in a series whose everyday noise
//!    is large. Likewise for time: a run of identical values (the metric stopped changing) that
//!    has lasted at least [`FLAT_MIN_SECS`] (an hour, and at least [`LEVEL_POINTS`] points) and
//!    longer than any run that ended in the last quarter is news, measured as the log of how
//!    many times longer it is; a series that never changed since it started has no earlier run
//!    to compare with and never scores on this.
//! 4. **Calibration per series.** A surprise is only as alarming as it is rare *for this
//!    series*: its tail probability is estimated against the last [`SURPRISE_HISTORY`]
//!    surprises of the same kind and direction by peaks over threshold (the empirical frequency up to the
//!    top [`TAIL_FRACTION`], an exponential tail fitted to the exceedances beyond, as in SPOT,
//!    Siffer et al., KDD 2017). The score is `−log10(p) / 10`, clamped to `[0, 1]` (1 = one in
//!    ten billion), taking the rarest of the five (deviation or value novelty, up or down, and
//!    flat-run novelty), so one threshold means the same rarity on every series, whatever its
//!    units.
//! 5. **One alert per incident.** A score that does not beat every raw score of the last
//!    [`REFRACTORY_SECS`] (half a day) by [`REFRACTORY_MARGIN`] (ten times rarer) is reported
//!    as 0: the incident is already open, and a surprise that only edges past its first alert
//!    is part of it. A much larger surprise within that time still scores.
//!
//! The settings are round values chosen for what they mean, not fitted to a benchmark (the
//! alternatives compared on NAB are listed in `docs/BENCHMARKS.md`). Durations are durations:
//! the range, its spread, the refractory period and the shortest flat run are measured on the
//! timestamps (the flat run's minimum is converted to points with the median of the last gaps
//! between timestamps), so an hourly series gets half a day of refractory time as a 5-minute
//! one does, not 144 points (six days). Sample sizes are counts: a baseline of 200 points
//! (about a day at 5-minute sampling), 6 points for a level (half an hour), a surprise history
//! of 1,000 and its 1% tail. The seasonal lookup covers the same time of day on the previous
//! week's days.

use std::cmp::Reverse;
use std::collections::VecDeque;

/// Points in the robust baseline (median, MAD).
pub const BASELINE_POINTS: usize = 200;
/// Points whose median measures a level shift (half an hour of 5-minute points).
pub const LEVEL_POINTS: usize = 6;
/// Days of same-time-of-day history that can explain a point deviation.
pub const SEASON_DAYS: i64 = 7;
/// How far from the same time of day a previous value may lie and still count.
pub const SEASON_TOLERANCE_SECS: i64 = 15 * 60;
/// How far back (seconds) the highest and lowest values a new value is compared with reach: a
/// quarter, so a value is news when it was not seen in three months.
pub const RANGE_SECS: i64 = 90 * DAY;
/// How far back (seconds) the values whose robust spread measures how far beyond the range a
/// value lies reach: a week.
pub const SPREAD_SECS: i64 = 7 * DAY;
/// Most points that spread is taken over, whatever the sampling (a week of 30-second points).
pub const SPREAD_MAX_POINTS: usize = 20_160;
/// Shortest run of identical values that can count as a flat-run novelty: an hour (seconds) at
/// the series' sampling interval, and never fewer than [`LEVEL_POINTS`] points; the run must
/// also be longer than every run that ended in the last [`RANGE_SECS`].
pub const FLAT_MIN_SECS: i64 = 3_600;
/// Surprises remembered per kind and direction for the tail estimate.
pub const SURPRISE_HISTORY: usize = 1000;
/// Share of the surprise history treated as its tail.
pub const TAIL_FRACTION: f64 = 0.01;
/// How long (seconds) after a high score only a much higher one is reported: half a day.
pub const REFRACTORY_SECS: i64 = DAY / 2;
/// How much a score must beat the refractory period's highest raw score to be reported: 0.1 is
/// ten times rarer (scores are `−log10(p) / 10`).
pub const REFRACTORY_MARGIN: f64 = 0.1;

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Points needed before scoring starts (the baseline) and surprises before calibration.
const MIN_BASELINE: usize = 12;
const MIN_SURPRISES: usize = 100;
/// Gaps between timestamps whose median is taken as the sampling interval.
const INTERVAL_GAPS: usize = 63;

/// A sliding window of values kept in insertion order and in sorted order.
#[derive(Debug, Clone)]
struct Window {
    /// `(timestamp, value)` in arrival order.
    fifo: VecDeque<(i64, f64)>,
    sorted: Vec<f64>,
    cap: usize,
}

impl Window {
    fn new(cap: usize) -> Self {
        Window {
            fifo: VecDeque::with_capacity(cap + 1),
            sorted: Vec::with_capacity(cap + 1),
            cap,
        }
    }

    /// Adds `x`, seen at `t`, dropping the oldest value beyond the capacity.
    fn push(&mut self, t: i64, x: f64) {
        let pos = self.sorted.partition_point(|a| *a < x);
        self.sorted.insert(pos, x);
        self.fifo.push_back((t, x));
        if self.fifo.len() > self.cap {
            self.pop_oldest();
        }
    }

    /// Drops the values seen before `t`.
    fn forget_before(&mut self, t: i64) {
        while self.fifo.front().is_some_and(|&(seen, _)| seen < t) {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((_, old)) = self.fifo.pop_front() {
            let pos = self.sorted.partition_point(|a| *a < old);
            if pos < self.sorted.len() {
                self.sorted.remove(pos);
            }
        }
    }

    fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The median (mean of the two middle values for an even count); 0 when empty.
    fn median(&self) -> f64 {
        median_of_sorted(&self.sorted)
    }

    /// A robust σ around `center`: 1.4826·MAD, else 1.2533·mean absolute deviation, never 0.
    fn spread(&self, center: f64) -> f64 {
        let mut devs: Vec<f64> = self.sorted.iter().map(|v| (v - center).abs()).collect();
        devs.sort_by(f64::total_cmp);
        let floor = 1e-9 * (1.0 + center.abs());
        if devs.is_empty() {
            return floor;
        }
        let mad = 1.4826 * median_of_sorted(&devs);
        let mean = 1.2533 * devs.iter().sum::<f64>() / devs.len() as f64;
        if mad > floor { mad } else { mean.max(floor) }
    }

    /// The measurement step: the smallest gap between two distinct values (0 with fewer than
    /// two). A quantised metric (CPU percent in steps of 0.002, whole counts) has one; for a
    /// continuous one it is negligible.
    fn resolution(&self) -> f64 {
        let floor = 1e-12 * (1.0 + self.median().abs());
        let step = self
            .sorted
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|gap| *gap > floor)
            .fold(f64::INFINITY, f64::min);
        if step.is_finite() { step } else { 0.0 }
    }

    /// The tail probability of `t` among the window's values, by peaks over threshold.
    fn tail_probability(&self, t: f64) -> f64 {
        let n = self.sorted.len();
        if n == 0 {
            return 1.0;
        }
        let k = ((n as f64 * TAIL_FRACTION).ceil() as usize).clamp(1, n);
        let u = self.sorted[n - k];
        if t > u {
            let excess = self.sorted[n - k..].iter().map(|v| v - u).sum::<f64>() / k as f64;
            // A floor keeps a perfectly flat history from making any change infinitely rare.
            let beta = excess.max(0.05);
            (k as f64 / n as f64) * (-(t - u) / beta).exp()
        } else {
            let at_least = n - self.sorted.partition_point(|v| *v < t);
            at_least as f64 / n as f64
        }
    }
}

fn median_of_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Scores each point of one metric series as it arrives, from the points before it only.
///
/// ```
/// use tokpulse_analyze::anomaly::StreamingDetector;
///
/// let mut detector = StreamingDetector::new();
/// let mut scores = Vec::new();
/// for i in 0..2000i64 {
///     let value = if i == 1500 { 400.0 } else { 100.0 + (i % 7) as f64 };
///     scores.push(detector.update(i * 300, value));
/// }
/// assert!(scores[1500] > 0.9);
/// assert!(scores[1000..1500].iter().all(|s| *s < 0.3));
/// ```
#[derive(Debug, Clone)]
pub struct StreamingDetector {
    baseline: Window,
    dated: VecDeque<(i64, f64)>,
    /// The values of the last [`SPREAD_SECS`].
    recent: Window,
    extremes: Extremes,
    up: Window,
    down: Window,
    beyond_high: Window,
    beyond_low: Window,
    flat: Window,
    runs: Runs,
    /// The raw scores of the last [`REFRACTORY_SECS`] that can still be the period's highest.
    raw_scores: MaxQueue<f64>,
    /// The last gaps between distinct timestamps; their median is the sampling interval.
    gaps: Window,
    last_timestamp: Option<i64>,
}

/// `(timestamp, value)` pairs, keeping only those that no later value matches or beats: the
/// values decrease from the front, so the largest since any time is the first kept at or after
/// it, in O(1) amortised per value whatever the sampling rate (a monotonic max-queue).
#[derive(Debug, Clone)]
struct MaxQueue<T>(VecDeque<(i64, T)>);

impl<T> Default for MaxQueue<T> {
    fn default() -> Self {
        MaxQueue(VecDeque::new())
    }
}

impl<T: PartialOrd + Copy> MaxQueue<T> {
    fn push(&mut self, t: i64, x: T) {
        while self.0.back().is_some_and(|&(_, v)| v <= x) {
            self.0.pop_back();
        }
        self.0.push_back((t, x));
    }

    /// Drops the values seen before `t`.
    fn forget_before(&mut self, t: i64) {
        while self.0.front().is_some_and(|&(seen, _)| seen < t) {
            self.0.pop_front();
        }
    }

    /// The largest value kept; `None` when none is.
    fn max(&self) -> Option<T> {
        self.0.front().map(|&(_, v)| v)
    }

    /// The largest value seen at or after `since`.
    fn max_since(&self, since: i64) -> Option<T> {
        self.0.iter().find(|&&(t, _)| t >= since).map(|&(_, v)| v)
    }
}

/// The highest and lowest values of the last [`RANGE_SECS`].
#[derive(Debug, Clone, Default)]
struct Extremes {
    highs: MaxQueue<f64>,
    lows: MaxQueue<Reverse<f64>>,
}

impl Extremes {
    fn push(&mut self, t: i64, x: f64) {
        self.highs.push(t, x);
        self.lows.push(t, Reverse(x));
    }

    /// Drops the values seen before `t`.
    fn forget_before(&mut self, t: i64) {
        self.highs.forget_before(t);
        self.lows.forget_before(t);
    }

    /// `(lowest, highest)`; `None` when nothing is kept.
    fn range(&self) -> Option<(f64, f64)> {
        Some((self.lows.max()?.0, self.highs.max()?))
    }
}

/// The current run of identical values and the longest runs that ended in the last
/// [`RANGE_SECS`].
#[derive(Debug, Clone)]
struct Runs {
    /// Points learnt so far.
    points: u64,
    value: f64,
    len: usize,
    /// The lengths of the runs of two or more that ended in the last [`RANGE_SECS`], by the
    /// timestamp of the value that ended each, that can still be the longest.
    ended: MaxQueue<usize>,
}

impl Runs {
    fn new() -> Self {
        Runs {
            points: 0,
            value: f64::NAN,
            len: 0,
            ended: MaxQueue::default(),
        }
    }

    /// How surprising `x`, seen at `t`, would make the current run: `ln(run / longest)` when
    /// the run it extends or starts has at least `min_points` and beats every run that ended in
    /// the last [`RANGE_SECS`], else 0. A run that started with the series has nothing to beat.
    fn surprise(&self, t: i64, x: f64, min_points: usize) -> f64 {
        let run = if x == self.value { self.len + 1 } else { 1 };
        let started_with_series = run as u64 > self.points;
        if run < min_points || started_with_series {
            return 0.0;
        }
        let longest = self
            .ended
            .max_since(t.saturating_sub(RANGE_SECS))
            .unwrap_or(1);
        if run > longest {
            (run as f64 / longest as f64).ln()
        } else {
            0.0
        }
    }

    fn push(&mut self, t: i64, x: f64) {
        if x == self.value {
            self.len += 1;
        } else {
            if self.len >= 2 {
                self.ended.push(t, self.len);
            }
            self.value = x;
            self.len = 1;
        }
        self.points += 1;
        self.ended.forget_before(t.saturating_sub(RANGE_SECS));
    }
}

impl Default for StreamingDetector {
    fn default() -> Self {
        StreamingDetector::new()
    }
}

impl StreamingDetector {
    /// A detector with the fixed settings documented on this module.
    pub fn new() -> Self {
        StreamingDetector {
            baseline: Window::new(BASELINE_POINTS),
            dated: VecDeque::new(),
            recent: Window::new(SPREAD_MAX_POINTS),
            extremes: Extremes::default(),
            up: Window::new(SURPRISE_HISTORY),
            down: Window::new(SURPRISE_HISTORY),
            beyond_high: Window::new(SURPRISE_HISTORY),
            beyond_low: Window::new(SURPRISE_HISTORY),
            flat: Window::new(SURPRISE_HISTORY),
            runs: Runs::new(),
            raw_scores: MaxQueue::default(),
            gaps: Window::new(INTERVAL_GAPS),
            last_timestamp: None,
        }
    }

    /// The anomaly score of `value`, observed at `timestamp` (seconds; non-decreasing, repeats
    /// allowed), in `[0, 1]`; then learns the point. A non-finite value scores 0 and is not
    /// learnt.
    pub fn update(&mut self, timestamp: i64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        if let Some(last) = self.last_timestamp
            && timestamp > last
        {
            self.gaps.push(timestamp, timestamp.abs_diff(last) as f64);
        }
        self.last_timestamp = Some(timestamp);
        self.recent
            .forget_before(timestamp.saturating_sub(SPREAD_SECS));
        self.extremes
            .forget_before(timestamp.saturating_sub(RANGE_SECS));
        self.raw_scores
            .forget_before(timestamp.saturating_sub(REFRACTORY_SECS));

        let raw = self.raw_score(timestamp, value);
        let recent_peak = self.raw_scores.max().unwrap_or(0.0);
        let score = if raw > recent_peak + REFRACTORY_MARGIN {
            raw
        } else {
            0.0
        };
        self.raw_scores.push(timestamp, raw);
        self.dated.push_back((timestamp, value));
        let keep = SEASON_DAYS * DAY + SEASON_TOLERANCE_SECS;
        while self
            .dated
            .front()
            .is_some_and(|&(t, _)| t < timestamp.saturating_sub(keep))
        {
            self.dated.pop_front();
        }
        self.baseline.push(timestamp, value);
        self.recent.push(timestamp, value);
        self.extremes.push(timestamp, value);
        self.runs.push(timestamp, value);
        score.clamp(0.0, 1.0)
    }

    /// How far `x` lies above and below the values seen within the tolerance of the same time
    /// of day on the previous days (the smallest gap over those days); `None` with no such
    /// values yet.
    fn seasonal_gap(&self, timestamp: i64, x: f64) -> Option<(f64, f64)> {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for d in 1..=SEASON_DAYS {
            let at = timestamp.saturating_sub(d * DAY);
            let (from, to) = (
                at.saturating_sub(SEASON_TOLERANCE_SECS),
                at.saturating_add(SEASON_TOLERANCE_SECS),
            );
            let start = self.dated.partition_point(|&(t, _)| t < from);
            for &(t, v) in self.dated.range(start..) {
                if t > to {
                    break;
                }
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        (lo <= hi).then(|| ((x - hi).max(0.0), (lo - x).max(0.0)))
    }

    /// The shortest flat run worth a look, in points: [`FLAT_MIN_SECS`] at the sampling
    /// interval (the median of the last gaps between timestamps), at least [`LEVEL_POINTS`].
    fn flat_min_points(&self) -> usize {
        if self.gaps.len() == 0 {
            return usize::MAX;
        }
        let interval = self.gaps.median().max(1.0);
        ((FLAT_MIN_SECS as f64 / interval).round() as usize).max(LEVEL_POINTS)
    }

    /// The calibrated score before the refractory rule.
    fn raw_score(&mut self, timestamp: i64, x: f64) -> f64 {
        if self.baseline.len() < MIN_BASELINE {
            return 0.0;
        }
        let med = self.baseline.median();
        let sigma = self.baseline.spread(med);

        // A change no larger than the series' measurement step is no change: on a quantised
        // series the median moves by one step, and the MAD can be that small, whenever a few
        // values fall on the other side.
        let step = self.baseline.resolution();
        let (mut point_up, mut point_down) = ((x - med - step).max(0.0), (med - x - step).max(0.0));
        if let Some((gap_up, gap_down)) = self.seasonal_gap(timestamp, x) {
            point_up = point_up.min(gap_up);
            point_down = point_down.min(gap_down);
        }

        let mut last: Vec<f64> = self
            .baseline
            .fifo
            .iter()
            .rev()
            .take(LEVEL_POINTS - 1)
            .map(|&(_, v)| v)
            .collect();
        last.push(x);
        last.sort_by(f64::total_cmp);
        // The median of k normal values has σ ≈ 1.25·σ/√k (close enough for an even k).
        let shift = median_of_sorted(&last) - med;
        let shift = shift.signum() * (shift.abs() - step).max(0.0);
        let level = shift * (last.len() as f64).sqrt() / 1.25;

        let surprise_up = (point_up.max(level) / sigma).ln_1p();
        let surprise_down = (point_down.max(-level) / sigma).ln_1p();

        // Until the range history is long enough to mean something, nothing is beyond it.
        let (mut beyond_high, mut beyond_low) = (0.0, 0.0);
        if self.recent.len() >= MIN_SURPRISES
            && let Some((lowest, highest)) = self.extremes.range()
        {
            let spread = self.recent.spread(self.recent.median());
            beyond_high = ((x - highest).max(0.0) / spread).ln_1p();
            beyond_low = ((lowest - x).max(0.0) / spread).ln_1p();
        }

        let flat = self.runs.surprise(timestamp, x, self.flat_min_points());

        let score = if self.up.len() >= MIN_SURPRISES {
            let p = self
                .up
                .tail_probability(surprise_up)
                .min(self.down.tail_probability(surprise_down))
                .min(self.beyond_high.tail_probability(beyond_high))
                .min(self.beyond_low.tail_probability(beyond_low))
                .min(self.flat.tail_probability(flat));
            (-p.max(1e-300).log10() / 10.0).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.up.push(timestamp, surprise_up);
        self.down.push(timestamp, surprise_down);
        self.beyond_high.push(timestamp, beyond_high);
        self.beyond_low.push(timestamp, beyond_low);
        self.flat.push(timestamp, flat);
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise in [-1, 1] (a linear congruential generator).
    fn noise(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    fn run(values: &[f64]) -> Vec<f64> {
        let mut d = StreamingDetector::new();
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| d.update(i as i64 * 300, v))
            .collect()
    }

    fn noisy(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n).map(|_| 50.0 + 5.0 * noise(&mut s)).collect()
    }

    #[test]
    fn a_spike_scores_high_and_the_rest_low() {
        let mut v = noisy(3000, 1);
        v[2500] = 120.0;
        let s = run(&v);
        assert!(s[2500] > 0.8, "spike scored {}", s[2500]);
        let others = s[600..]
            .iter()
            .enumerate()
            .filter(|&(i, _)| i + 600 != 2500);
        assert!(others.map(|(_, s)| *s).fold(0.0, f64::max) < s[2500]);
    }

    #[test]
    fn a_level_shift_is_flagged_within_a_few_points_and_only_once() {
        let mut v = noisy(3000, 2);
        for x in &mut v[2400..] {
            *x += 30.0;
        }
        let s = run(&v);
        let first = (2400..3000).find(|&i| s[i] > 0.5);
        assert!(
            matches!(first, Some(i) if i <= 2403),
            "first high score at {first:?}"
        );
        let alerts = s[2400..2544].iter().filter(|x| **x > 0.5).count();
        assert_eq!(alerts, 1, "one alert per incident");
    }

    #[test]
    fn an_open_incident_alerts_again_only_when_ten_times_rarer() {
        // On noise of ±5 around 50: a moderate spike, a barely larger one soon after, then a
        // much larger one.
        let mut v = noisy(3000, 6);
        v[2500] = 56.0;
        v[2510] = 57.0;
        v[2540] = 65.0;
        let s = run(&v);
        assert!(s[2500] > 0.3, "first spike scored {}", s[2500]);
        assert_eq!(s[2510], 0.0, "a barely larger spike is the same incident");
        assert!(
            s[2540] > s[2500] + REFRACTORY_MARGIN,
            "scores {:?}",
            (s[2500], s[2540])
        );
    }

    #[test]
    fn a_drop_is_as_visible_as_a_rise() {
        let mut v = noisy(3000, 3);
        for x in &mut v[2400..] {
            *x -= 30.0;
        }
        let s = run(&v);
        assert!(s[2400..2410].iter().any(|x| *x > 0.5));
    }

    #[test]
    fn a_value_never_seen_in_a_week_is_news_despite_routine_spikes() {
        // Routine spikes and dips of ±12 make large deviations ordinary; a dip to well below
        // anything seen in the last week is not.
        let mut seed = 4;
        let mut v: Vec<f64> = (0..3000)
            .map(|i| {
                let base = 33.0 + 0.5 * noise(&mut seed);
                match i % 37 {
                    0 => base + 12.0,
                    18 => base - 12.0,
                    _ => base,
                }
            })
            .collect();
        v[2600] = 15.0;
        let s = run(&v);
        let routine = (2000..2590).map(|i| s[i]).fold(0.0, f64::max);
        assert!(s[2600] > 0.5, "drop scored {}", s[2600]);
        assert!(s[2600] > routine, "drop {} vs routine {routine}", s[2600]);
    }

    #[test]
    fn stationary_noise_produces_no_high_scores() {
        for seed in 10..14 {
            let s = run(&noisy(4000, seed));
            let high = s[600..].iter().filter(|x| **x > 0.5).count();
            assert!(high <= 1, "seed {seed}: {high} high scores");
        }
    }

    #[test]
    fn a_daily_spike_stops_being_news() {
        // 5-minute points; a batch job doubles the value at 02:00 every day.
        let mut seed = 7;
        let v: Vec<f64> = (0..288 * 14)
            .map(|i| {
                let base = 20.0 + noise(&mut seed);
                if i % 288 == 24 { base + 60.0 } else { base }
            })
            .collect();
        let s = run(&v);
        let late: Vec<f64> = (8..14).map(|day| s[day * 288 + 24]).collect();
        assert!(
            late.iter().all(|x| *x < 0.3),
            "daily spikes scored {late:?}"
        );
    }

    #[test]
    fn a_metric_that_stops_changing_is_news_but_a_nightly_pause_is_not() {
        // Noise that never repeats a value, then the metric freezes at its usual median (no
        // deviation, no level shift): only the flat run can tell.
        let mut v = noisy(3000, 8);
        for x in &mut v[2600..2800] {
            *x = 50.0;
        }
        let s = run(&v);
        let first = (2600..2800).find(|&i| s[i] > 0.5);
        assert_eq!(
            first,
            // An hour of 5-minute points.
            Some(2600 + 12 - 1),
            "scores {:?}",
            &s[2600..2620]
        );
        assert!(s[..2600].iter().all(|x| *x < 0.5));

        // A job that pauses the metric for two hours every night: each pause is as long as the
        // ones before it, so only the first night's is new.
        let mut seed = 9;
        let mut runs = Runs::new();
        let mut flat_points = Vec::new();
        for i in 0..288 * 10 {
            let x = if (24..48).contains(&(i % 288)) {
                0.0
            } else {
                20.0 + noise(&mut seed)
            };
            let t = i as i64 * 300;
            if runs.surprise(t, x, 12) > 0.0 {
                flat_points.push(i);
            }
            runs.push(t, x);
        }
        // The first pause beats the longest earlier run (1) from its 12th point on.
        assert_eq!(flat_points, (24 + 11..48).collect::<Vec<_>>());
    }

    #[test]
    fn a_quantised_metric_moving_by_its_step_is_not_news() {
        // An idle CPU reported in steps of 0.002 %: for a week 0.066 two times in three and
        // 0.068 otherwise, then each half the time. The baseline's median becomes 0.067 and its
        // MAD 0.001, so a half hour of mostly 0.066 looked like a drop of two σ, where a drop
        // had never been seen before.
        let mut seed = 11;
        let v: Vec<f64> = (0..3000)
            .map(|i| {
                let low_share = if i < 2016 { 2.0 / 3.0 } else { 0.5 };
                if (noise(&mut seed) + 1.0) / 2.0 < low_share {
                    0.066
                } else {
                    0.068
                }
            })
            .collect();
        let s = run(&v);
        let worst = s.iter().copied().fold(0.0, f64::max);
        assert!(worst < 0.2, "an ordinary value scored {worst}");
    }

    #[test]
    fn constant_series_score_zero_until_they_change() {
        let mut v = vec![5.0; 1500];
        v.extend(std::iter::repeat_n(9.0, 100));
        let s = run(&v);
        assert!(s[..1500].iter().all(|x| *x == 0.0));
        assert!(s[1500] > 0.5);
    }

    #[test]
    fn the_settings_are_durations_whatever_the_sampling_interval() {
        // Hourly points: two spikes 18 hours apart are two incidents (the refractory period is
        // half a day, not 144 points = 6 days), and a flat run needs an hour and at least
        // LEVEL_POINTS points, not one hourly point.
        let mut v = noisy(24 * 60, 12);
        v[24 * 40] = 150.0;
        v[24 * 40 + 18] = 150.0;
        for x in &mut v[24 * 50..24 * 50 + 12] {
            *x = 50.0;
        }
        let mut d = StreamingDetector::new();
        let s: Vec<f64> = v
            .iter()
            .enumerate()
            .map(|(i, &x)| d.update(i as i64 * 3_600, x))
            .collect();
        assert!(s[24 * 40] > 0.8, "first spike scored {}", s[24 * 40]);
        assert!(
            s[24 * 40 + 18] > 0.5,
            "second spike scored {}",
            s[24 * 40 + 18]
        );
        let flat = (24 * 50..24 * 50 + 12).find(|&i| s[i] > 0.5);
        assert_eq!(
            flat,
            Some(24 * 50 + LEVEL_POINTS - 1),
            "flat run {:?}",
            &s[24 * 50..24 * 50 + 12]
        );
    }

    #[test]
    fn the_range_remembers_a_quarter_and_forgets_what_is_older() {
        let mut e = Extremes::default();
        for (day, x) in [(0, 100.0), (10, 20.0), (30, 60.0), (95, 50.0)] {
            e.forget_before((day - 90) * DAY);
            e.push(day * DAY, x);
        }
        // Day 0's 100 is more than 90 days old by day 95; day 10's 20 is not.
        assert_eq!(e.range(), Some((20.0, 60.0)));
        e.forget_before(101 * DAY - 90 * DAY);
        assert_eq!(e.range(), Some((50.0, 60.0)));
        assert_eq!(Extremes::default().range(), None);
    }

    #[test]
    fn nan_infinities_and_duplicate_timestamps_never_panic() {
        let mut d = StreamingDetector::new();
        let mut seed = 5;
        for i in 0..1500i64 {
            let v = match i % 97 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                _ => 10.0 + noise(&mut seed),
            };
            // Twelve rows share each timestamp, as NAB's DST artefact does.
            let s = d.update(i / 12 * 300, v);
            assert!((0.0..=1.0).contains(&s), "score {s}");
            if !v.is_finite() {
                assert_eq!(s, 0.0);
            }
        }
        // Timestamps that go backwards or sit at the extremes are tolerated too.
        assert!(d.update(i64::MIN, 1.0).is_finite());
        assert!(d.update(i64::MAX, 1e300).is_finite());
        assert!(d.update(0, -1e300).is_finite());
    }

    #[test]
    fn scores_use_only_the_past() {
        let v = noisy(1200, 9);
        let full = run(&v);
        let prefix = run(&v[..900]);
        assert_eq!(&full[..900], &prefix[..]);
    }
}
