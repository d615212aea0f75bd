//! Change points: a level shift that persists, found by PELT (Killick, Fearnhead and Eckley,
//! "Optimal detection of changepoints with a linear computational cost", JASA 2012).
//!
//! [`LevelShifts::detect`] segments a series (one value per window: a p95, an error rate) by
//! minimising the squared deviations from each segment's mean plus a penalty per change point,
//! `penalty · σ² · ln n` (with `penalty = 2` this is the BIC of a change in mean). σ is
//! estimated robustly from the differences of neighbouring values (1.4826 · MAD / √2), so neither
//! the shifts themselves nor a few spikes inflate it. Segments are at least `min_segment` points
//! long, so a single outlier is never a segment of its own and a shift must *persist* for that
//! long to be seen. A change point is then kept only if the medians on either side differ by at
//! least `min_relative` of the level before, and three quarters of the new segment lie at least
//! `min_sigmas` σ beyond the old median (its lower quartile for a rise): significant, large
//! enough to matter, and held rather than a burst.
//!
//! PELT prunes candidates that can never be optimal again, so the cost is close to linear in
//! the series length (quadratic at worst, which for a few thousand windows is still
//! milliseconds). This replaces augurs' change-point crate, which costs half of augurs' build
//! time for the same algorithm (`DEPENDENCIES.md` §3.5).
//!
//! [`LevelShifts::finding`] turns the latest shift of a series into a
//! [`FindingKind::LevelShift`] finding when it is upward and still in place at the end.
//!
//! ```
//! use tokpulse_analyze::changepoint::LevelShifts;
//!
//! // 40 points around 100, then 40 around 160: one shift, at index 40.
//! let series: Vec<f64> = (0..80)
//!     .map(|i| if i < 40 { 100.0 } else { 160.0 } + [3.0, -2.0, 1.0, -4.0, 2.0][i % 5])
//!     .collect();
//! let shifts = LevelShifts::default().detect(&series);
//! assert_eq!(shifts.len(), 1);
//! assert_eq!(shifts[0].index, 40);
//! assert!((shifts[0].before - 100.0).abs() < 3.0 && (shifts[0].after - 160.0).abs() < 3.0);
//! ```

use serde::{Deserialize, Serialize};
use tokpulse_core::{Evidence, Finding, FindingKind, Fingerprint, Severity, Timestamp, Window};

/// Settings of the level-shift detector. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LevelShifts {
    /// Penalty per change point, in units of `σ² · ln n`. Default 3 (a little above BIC's 2, so
    /// heavy-tailed noise stays quiet).
    pub penalty: f64,
    /// Shortest segment, in points: how long a shift must last. Default 6.
    pub min_segment: usize,
    /// Smallest shift that three quarters of the new segment hold, in σ. Default 3.
    pub min_sigmas: f64,
    /// Smallest shift of the median relative to the level before (0.2 is 20%, the seed's
    /// rule). Default 0.2.
    pub min_relative: f64,
}

impl Default for LevelShifts {
    fn default() -> Self {
        LevelShifts {
            penalty: 3.0,
            min_segment: 6,
            min_sigmas: 3.0,
            min_relative: 0.2,
        }
    }
}

/// One level shift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Shift {
    /// Index of the first point at the new level.
    pub index: usize,
    /// Median of the segment before.
    pub before: f64,
    /// Median of the segment from `index` to the next kept shift (or the end).
    pub after: f64,
    /// The shift in units of the series' noise σ.
    pub sigmas: f64,
}

impl LevelShifts {
    /// Every problem in the settings, as `field: reason, got value`. Empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.penalty.is_finite() && self.penalty > 0.0) {
            problems.push(format!("penalty: must be > 0, got {}", self.penalty));
        }
        if self.min_segment < 2 {
            problems.push(format!(
                "min_segment: must be at least 2, got {}",
                self.min_segment
            ));
        }
        if !(self.min_sigmas >= 0.0 && self.min_relative >= 0.0) {
            problems.push(format!(
                "min_sigmas, min_relative: must be >= 0, got {} and {}",
                self.min_sigmas, self.min_relative
            ));
        }
        problems
    }

    /// The level shifts of `series`, in order. Non-finite values are left out (indices still
    /// refer to `series`).
    pub fn detect(&self, series: &[f64]) -> Vec<Shift> {
        let idx: Vec<usize> = (0..series.len())
            .filter(|&i| series[i].is_finite())
            .collect();
        let x: Vec<f64> = idx.iter().map(|&i| series[i]).collect();
        let n = x.len();
        let m = self.min_segment.max(2);
        if n < 2 * m {
            return Vec::new();
        }
        let sigma = noise_sigma(&x);
        if sigma <= 0.0 {
            // A constant series (in its differences): any change of level is a clean step.
            return self.filter(&x, &steps(&x, m), f64::MIN_POSITIVE, &idx);
        }
        let beta = self.penalty * sigma * sigma * (n as f64).ln();
        let cps = pelt(&x, beta, m);
        self.filter(&x, &cps, sigma, &idx)
    }

    /// Keeps the change points whose median shift is large enough, merging the segments of the
    /// ones dropped.
    fn filter(&self, x: &[f64], cps: &[usize], sigma: f64, idx: &[usize]) -> Vec<Shift> {
        let mut out = Vec::new();
        let mut start = 0;
        for (k, &cp) in cps.iter().enumerate() {
            let end = cps.get(k + 1).copied().unwrap_or(x.len());
            let before = median(&x[start..cp]);
            let after = median(&x[cp..end]);
            let shift = (after - before).abs();
            // Held: the shift that three quarters of the new segment keep (its lower quartile
            // for a rise, its upper one for a fall), so a short burst inside a segment is not a
            // new level.
            let mut seg = x[cp..end].to_vec();
            let held = if after > before {
                crate::quantile(&mut seg, 0.25).unwrap_or(after) - before
            } else {
                before - crate::quantile(&mut seg, 0.75).unwrap_or(after)
            };
            let relative_ok = before == 0.0 || shift >= self.min_relative * before.abs();
            if held >= self.min_sigmas * sigma && relative_ok {
                out.push(Shift {
                    index: idx[cp],
                    before,
                    after,
                    sigmas: shift / sigma,
                });
                start = cp;
            }
        }
        // A dropped change point after a kept one widens the kept one's "after" segment.
        for k in 0..out.len() {
            let from = idx.partition_point(|&i| i < out[k].index);
            let to = out
                .get(k + 1)
                .map_or(x.len(), |s| idx.partition_point(|&i| i < s.index));
            out[k].after = median(&x[from..to]);
        }
        out
    }

    /// A [`FindingKind::LevelShift`] finding for the latest shift of `values` (one per window,
    /// `times[i]` the end of window `i`) if it is upward and the series has stayed at the new
    /// level to its end (no later shift). `what` names the metric (`p95 latency`), `unit` its
    /// unit. Fingerprint: `Fingerprint::of(LevelShift, &[service, route or "", what])`.
    /// Severity: *high* when the level at least doubled, else *warning*.
    pub fn finding(
        &self,
        service: &str,
        route: Option<&str>,
        what: &str,
        unit: &str,
        times: &[Timestamp],
        values: &[f64],
    ) -> Option<Finding> {
        let n = values.len().min(times.len());
        let last = *self.detect(&values[..n]).last()?;
        if last.after <= last.before {
            return None;
        }
        let kind = FindingKind::LevelShift;
        let place = route
            .map(|r| format!("{r} on {service}"))
            .unwrap_or_else(|| service.to_owned());
        let rise = if last.before != 0.0 {
            format!(" (+{:.0}%)", (last.after / last.before - 1.0) * 100.0)
        } else {
            String::new()
        };
        Some(Finding {
            kind,
            severity: if last.after >= 2.0 * last.before {
                Severity::High
            } else {
                Severity::Warning
            },
            fingerprint: Fingerprint::of(kind, &[service, route.unwrap_or(""), what]),
            title: format!(
                "{what} of {place} moved to a new level: {} → {} {unit}{rise}",
                fmt(last.before),
                fmt(last.after)
            ),
            service: service.to_owned(),
            route: route.map(str::to_owned),
            window: Window {
                start: times[last.index],
                end: times[n - 1],
            },
            evidence: vec![
                Evidence {
                    metric: what.to_owned(),
                    current: last.after,
                    baseline: Some(last.before),
                    threshold: None,
                    unit: unit.to_owned(),
                },
                Evidence {
                    metric: "windows at the new level".into(),
                    current: (n - last.index) as f64,
                    baseline: None,
                    threshold: Some(self.min_segment as f64),
                    unit: "windows".into(),
                },
            ],
            cause: None,
            suggestion: format!(
                "{what} of {place} stepped up at {} and has stayed there for {} windows: not a \
                 spike but a new level. Look at what changed then (a deploy, a config or traffic \
                 change, a dependency) rather than at single slow requests.",
                times[last.index].format("%Y-%m-%d %H:%M UTC"),
                n - last.index
            ),
        })
    }
}

/// PELT with the squared-error cost and segments of at least `m` points. Returns the change
/// points (first index of each new segment), in order.
fn pelt(x: &[f64], beta: f64, m: usize) -> Vec<usize> {
    let n = x.len();
    let mut s1 = vec![0.0; n + 1];
    let mut s2 = vec![0.0; n + 1];
    for (i, v) in x.iter().enumerate() {
        s1[i + 1] = s1[i] + v;
        s2[i + 1] = s2[i] + v * v;
    }
    let cost = |a: usize, b: usize| {
        let len = (b - a) as f64;
        let sum = s1[b] - s1[a];
        (s2[b] - s2[a] - sum * sum / len).max(0.0)
    };
    let mut f = vec![f64::INFINITY; n + 1];
    let mut last = vec![0usize; n + 1];
    f[0] = -beta;
    let mut candidates: Vec<usize> = vec![0];
    for t in m..=n {
        // s = t − m becomes usable now: its segment to t is m long.
        if t > m && f[t - m].is_finite() {
            candidates.push(t - m);
        }
        let mut best = f64::INFINITY;
        let mut arg = 0;
        for &s in &candidates {
            let v = f[s] + cost(s, t) + beta;
            if v < best {
                best = v;
                arg = s;
            }
        }
        f[t] = best;
        last[t] = arg;
        // Prune: a start whose cost to t already exceeds the optimum can never win later.
        candidates.retain(|&s| f[s] + cost(s, t) <= best);
    }
    let mut cps = Vec::new();
    let mut t = n;
    while t > 0 {
        let s = last[t];
        if s > 0 {
            cps.push(s);
        }
        t = s;
    }
    cps.reverse();
    cps
}

/// Change points of a series whose differences are (nearly) all zero: where the value changes.
fn steps(x: &[f64], m: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..x.len() {
        if x[i] != x[i - 1] && i - start >= m && x.len() - i >= m {
            out.push(i);
            start = i;
        }
    }
    out
}

/// σ of the noise from neighbouring differences: 1.4826 · MAD(diff) / √2.
fn noise_sigma(x: &[f64]) -> f64 {
    let d: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let med = median(&d);
    let dev: Vec<f64> = d.iter().map(|v| (v - med).abs()).collect();
    1.4826 * median(&dev) / std::f64::consts::SQRT_2
}

/// The median (mean of the middle two); 0 for an empty slice.
pub(crate) fn median(x: &[f64]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta};

    struct Rng(u64);
    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (((z ^ (z >> 31)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
        /// Student-t-like heavy tails: a normal divided by a random scale.
        fn heavy(&mut self) -> f64 {
            let n = self.normal();
            let s = (0.3 + self.uniform()).sqrt();
            n / s
        }
    }

    /// A p95 series: level 200 ms, noise σ 10 ms (normal or heavy-tailed), with the given
    /// shifts (index, new level).
    fn series(rng: &mut Rng, n: usize, shifts: &[(usize, f64)], heavy: bool) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let level = shifts
                    .iter()
                    .filter(|(at, _)| *at <= i)
                    .map(|(_, l)| *l)
                    .next_back()
                    .unwrap_or(200.0);
                level + 10.0 * if heavy { rng.heavy() } else { rng.normal() }
            })
            .collect()
    }

    #[test]
    fn finds_synthetic_shifts_where_they_are() {
        let d = LevelShifts::default();
        let mut found = 0;
        let trials = 100;
        for seed in 0..trials {
            let mut rng = Rng(seed);
            let x = series(&mut rng, 300, &[(120, 260.0)], false);
            let s = d.detect(&x);
            if s.len() == 1 && s[0].index.abs_diff(120) <= 2 {
                found += 1;
            }
        }
        eprintln!("single +30% (6σ) shift found at ±2 points in {found}/{trials} series");
        assert!(found >= 95, "{found}/{trials}");
        // At the seed's +20% (4σ here, right at both limits) it is found less often, never
        // anywhere else.
        let (mut found, mut wrong) = (0, 0);
        for seed in 0..trials {
            let mut rng = Rng(500 + seed);
            let x = series(&mut rng, 300, &[(120, 240.0)], false);
            for s in d.detect(&x) {
                if s.index.abs_diff(120) <= 3 {
                    found += 1;
                } else {
                    wrong += 1;
                }
            }
        }
        eprintln!("+20% (4σ) shift found in {found}/{trials} series, {wrong} misplaced");
        assert!(wrong <= 1, "{wrong}");
        // Up then down: two shifts.
        let mut rng = Rng(7);
        let x = series(&mut rng, 300, &[(100, 300.0), (200, 200.0)], false);
        let s = d.detect(&x);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].index.abs_diff(100) <= 2 && s[1].index.abs_diff(200) <= 2);
        assert!(s[0].after > s[0].before && s[1].after < s[1].before);
    }

    #[test]
    fn noise_alone_rarely_triggers() {
        let d = LevelShifts::default();
        let trials = 300;
        let mut false_positives = 0;
        for seed in 0..trials {
            let mut rng = Rng(1000 + seed);
            let heavy = seed % 2 == 0;
            let mut x = series(&mut rng, 300, &[], heavy);
            // A few isolated spikes, as latency series have.
            for k in [37usize, 150, 251] {
                x[k] *= 2.5;
            }
            if !d.detect(&x).is_empty() {
                false_positives += 1;
            }
        }
        eprintln!(
            "false positives on noise (half heavy-tailed, with spikes): {false_positives}/{trials}"
        );
        assert!(
            false_positives * 100 <= trials,
            "{false_positives}/{trials}"
        );
        // A small shift (5%, within the noise) is not reported.
        let mut rng = Rng(3);
        let x = series(&mut rng, 300, &[(150, 210.0)], false);
        assert!(d.detect(&x).is_empty());
    }

    #[test]
    fn short_bursts_do_not_count_as_shifts() {
        // Three windows at double the level, then back: a spike, not a new level.
        let mut rng = Rng(11);
        let mut x = series(&mut rng, 200, &[], false);
        for v in &mut x[100..103] {
            *v *= 2.0;
        }
        assert!(LevelShifts::default().detect(&x).is_empty());
    }

    #[test]
    fn edge_cases() {
        let d = LevelShifts::default();
        assert!(d.detect(&[]).is_empty());
        assert!(d.detect(&[1.0; 5]).is_empty());
        assert!(d.detect(&[5.0; 100]).is_empty());
        // A clean step without noise.
        let step: Vec<f64> = (0..40).map(|i| if i < 20 { 1.0 } else { 2.0 }).collect();
        let s = d.detect(&step);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].index, s[0].before, s[0].after), (20, 1.0, 2.0));
        // Non-finite values are skipped; indices stay those of the input.
        let mut with_nan = step.clone();
        with_nan.insert(3, f64::NAN);
        assert_eq!(d.detect(&with_nan)[0].index, 21);
        assert!(d.validate().is_empty());
        let bad = LevelShifts {
            penalty: 0.0,
            min_segment: 1,
            min_sigmas: -1.0,
            min_relative: 0.0,
        };
        assert_eq!(bad.validate().len(), 3);
    }

    #[test]
    fn a_persisting_upward_shift_is_a_finding() {
        let mut rng = Rng(5);
        let x = series(&mut rng, 120, &[(80, 420.0)], false);
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let times: Vec<Timestamp> = (0..120).map(|i| t0 + TimeDelta::minutes(5 * i)).collect();
        let f = LevelShifts::default()
            .finding("api", Some("GET /cart"), "p95 latency", "ms", &times, &x)
            .unwrap();
        assert_eq!(f.kind, FindingKind::LevelShift);
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.title
                .starts_with("p95 latency of GET /cart on api moved to a new level: "),
            "{}",
            f.title
        );
        assert_eq!(
            f.fingerprint,
            Fingerprint::of(
                FindingKind::LevelShift,
                &["api", "GET /cart", "p95 latency"]
            )
        );
        assert_eq!(f.window.start, times[80]);
        assert_eq!(f.evidence[1].current, 40.0);
        // Downward shifts (things got faster) are not findings.
        let down = series(&mut rng, 120, &[(80, 100.0)], false);
        assert!(
            LevelShifts::default()
                .finding("api", None, "p95 latency", "ms", &times, &down)
                .is_none()
        );
    }
}
