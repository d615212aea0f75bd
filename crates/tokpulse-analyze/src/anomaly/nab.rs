//! NAB's scoring rules (Numenta Anomaly Benchmark v1.1), reimplemented to match `nab/sweeper.py`
//! and `nab/optimizer.py` at upstream commit `ea702d7`.
//!
//! Per file, every row gets a *sweep score* — what an alert on that row would be worth:
//!
//! - inside an anomaly window of width `w` rows whose last row is `r`, row `i` is worth
//!   `tpWeight · σ(−(r − i + 1)/w) / σ(−1)`, where `σ(p) = 2/(1 + e^{5p}) − 1` is NAB's scaled
//!   sigmoid (so the first row of a window is worth exactly `tpWeight`, the last almost 0);
//! - outside any window and before the first one, `−fpWeight`;
//! - after a window of width `w` ending at row `r`, `fpWeight · σ((i − r)/(w − 1))` (a little
//!   negative just after the window, `−fpWeight` from three widths on).
//!
//! The first 15% of a file's rows (at most 750) are probationary and never scored. For a
//! threshold `θ`, a row with anomaly score `≥ θ` is an alert. A window scores the best (= the
//! earliest) of its alerts, or `−fnWeight` when it has none; every alert outside windows adds its
//! (negative) sweep score. [`sweep`] computes the corpus score for every distinct threshold at
//! once, as NAB's `calcScoreByThreshold` does over all files together; [`optimize`] picks the
//! threshold with the highest score (the highest threshold among ties), as NAB's optimizer does.
//! [`normalized`] maps a raw score to NAB's 0 (never alerts) … 100 (perfect) scale.

use std::fmt;

/// The costs of one NAB profile (`config/profiles.json`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// NAB's name for it (`standard`, `reward_low_FP_rate`, `reward_low_FN_rate`).
    pub name: &'static str,
    /// Reward for detecting a window at its very start.
    pub tp_weight: f64,
    /// Cost of an alert far from any window.
    pub fp_weight: f64,
    /// Cost of a window without an alert.
    pub fn_weight: f64,
}

impl Profile {
    /// The balanced profile: about nine false alarms cost as much as one missed anomaly.
    pub const STANDARD: Profile = Profile {
        name: "standard",
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 1.0,
    };
    /// False alarms cost twice as much.
    pub const LOW_FP: Profile = Profile {
        name: "reward_low_FP_rate",
        tp_weight: 1.0,
        fp_weight: 0.22,
        fn_weight: 1.0,
    };
    /// Missed anomalies cost twice as much.
    pub const LOW_FN: Profile = Profile {
        name: "reward_low_FN_rate",
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 2.0,
    };
    /// The three profiles NAB reports, in its order.
    pub const ALL: [Profile; 3] = [Profile::STANDARD, Profile::LOW_FP, Profile::LOW_FN];
}

/// Why a file cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NabError {
    /// Timestamps and anomaly scores differ in length.
    LengthMismatch {
        /// Number of timestamps.
        timestamps: usize,
        /// Number of anomaly scores.
        scores: usize,
    },
    /// A window limit is not the timestamp of any row (NAB requires an exact match).
    WindowLimitNotFound {
        /// The index of the window in the file's list.
        window: usize,
        /// The limit that matched no row.
        timestamp: i64,
    },
    /// Windows must be ordered, not overlap, and end no earlier than they start.
    WindowsOutOfOrder {
        /// The index of the offending window in the file's list.
        window: usize,
    },
}

impl fmt::Display for NabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NabError::LengthMismatch { timestamps, scores } => write!(
                f,
                "{timestamps} timestamps but {scores} anomaly scores; they must match"
            ),
            NabError::WindowLimitNotFound { window, timestamp } => write!(
                f,
                "window {window}: limit {timestamp} is not the timestamp of any row"
            ),
            NabError::WindowsOutOfOrder { window } => {
                write!(f, "window {window}: windows must be ordered and disjoint")
            }
        }
    }
}

impl std::error::Error for NabError {}

/// NAB's scaled sigmoid of a relative position: ≈ +0.987 at −1 (start of a window), 0 at its
/// end, ≈ −0.987 at +1 and exactly −1 beyond +3.
pub fn scaled_sigmoid(position: f64) -> f64 {
    if position > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * position).exp()) - 1.0
    }
}

/// Number of leading rows NAB leaves unscored: `min(⌊0.15·n⌋, 0.15·5000)`.
pub fn probation_len(rows: usize) -> usize {
    let p = (0.15 * rows as f64).floor().min(0.15 * 5000.0);
    p as usize
}

/// What one row contributes when it alerts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RowKind {
    /// In the probationary period: ignored.
    Probation,
    /// Outside windows: a false positive worth `sweep` (≤ 0).
    Outside,
    /// Inside window `n` of the file: worth `sweep` if it is the window's earliest alert.
    Window(usize),
}

/// One file prepared for scoring: the rows' anomaly scores and what an alert on each is worth
/// under every profile (the sweep scores are linear in the weights, so they are kept unweighted).
#[derive(Debug, Clone)]
pub struct ScoredFile {
    scores: Vec<f64>,
    kinds: Vec<RowKind>,
    /// Unweighted sweep score: multiply by `tp_weight` inside windows, `fp_weight` outside.
    unit: Vec<f64>,
    /// Windows in the labels (some may lie wholly in probation).
    labelled: usize,
    /// Windows with at least one scored row.
    windows: usize,
}

impl ScoredFile {
    /// Prepares a file: `timestamps` in row order (non-decreasing; duplicates allowed, as NAB
    /// has them), one anomaly score per row, and the labelled windows as inclusive
    /// `(first, last)` timestamps, in order. Matches `Sweeper.calcSweepScore`: a window starts
    /// at the first row carrying its start timestamp and its width runs to the first row
    /// carrying its end timestamp.
    pub fn new(
        timestamps: &[i64],
        scores: &[f64],
        windows: &[(i64, i64)],
    ) -> Result<ScoredFile, NabError> {
        if timestamps.len() != scores.len() {
            return Err(NabError::LengthMismatch {
                timestamps: timestamps.len(),
                scores: scores.len(),
            });
        }
        let first_index = |window: usize, t: i64| {
            timestamps
                .iter()
                .position(|&x| x == t)
                .ok_or(NabError::WindowLimitNotFound {
                    window,
                    timestamp: t,
                })
        };
        // (first row, last row) of each window.
        let mut limits = Vec::with_capacity(windows.len());
        for (n, &(start, end)) in windows.iter().enumerate() {
            let (a, b) = (first_index(n, start)?, first_index(n, end)?);
            let after_previous = limits.last().is_none_or(|&(_, prev_b)| a > prev_b);
            if b < a || !after_previous {
                return Err(NabError::WindowsOutOfOrder { window: n });
            }
            limits.push((a, b));
        }

        let probation = probation_len(timestamps.len());
        let max_tp = scaled_sigmoid(-1.0);
        let mut kinds = Vec::with_capacity(scores.len());
        let mut unit = Vec::with_capacity(scores.len());
        let mut next = 0; // next window to enter
        let mut current: Option<(usize, usize, f64)> = None; // (id, last row, width)
        let mut previous: Option<(usize, f64)> = None; // (last row, width)
        for i in 0..timestamps.len() {
            if current.is_none() && next < limits.len() && i == limits[next].0 {
                let (a, b) = limits[next];
                current = Some((next, b, (b - a + 1) as f64));
                next += 1;
            }
            let (kind, value) = match current {
                Some((id, last, width)) => {
                    let position = -((last - i + 1) as f64) / width;
                    (RowKind::Window(id), scaled_sigmoid(position) / max_tp)
                }
                None => {
                    let value = match previous {
                        None => -1.0,
                        Some((last, width)) if width > 1.0 => {
                            scaled_sigmoid((i - last) as f64 / (width - 1.0))
                        }
                        Some(_) => -1.0,
                    };
                    (RowKind::Outside, value)
                }
            };
            kinds.push(if i < probation {
                RowKind::Probation
            } else {
                kind
            });
            unit.push(value);
            if let Some((_, last, width)) = current
                && i == last
            {
                previous = Some((last, width));
                current = None;
            }
        }
        let windows = limits
            .iter()
            .enumerate()
            .filter(|&(n, _)| kinds.contains(&RowKind::Window(n)))
            .count();
        Ok(ScoredFile {
            scores: scores.to_vec(),
            kinds,
            unit,
            labelled: limits.len(),
            windows,
        })
    }

    /// Windows with at least one scored row (the ones that count as misses if not detected).
    pub fn windows(&self) -> usize {
        self.windows
    }

    /// This file's raw NAB score and counts when rows with anomaly score `≥ threshold` alert.
    pub fn score(&self, profile: &Profile, threshold: f64) -> Counts {
        let mut best: Vec<Option<f64>> = vec![None; self.labelled];
        let mut counts = Counts::default();
        let mut fp_score = 0.0;
        for ((&s, &kind), &u) in self.scores.iter().zip(&self.kinds).zip(&self.unit) {
            let alert = s >= threshold;
            match kind {
                RowKind::Probation => {}
                RowKind::Outside if alert => {
                    counts.fp += 1;
                    fp_score += u * profile.fp_weight;
                }
                RowKind::Outside => counts.tn += 1,
                RowKind::Window(id) if alert => {
                    counts.tp += 1;
                    let v = u * profile.tp_weight;
                    let slot = &mut best[id];
                    *slot = Some(slot.map_or(v, |b: f64| b.max(v)));
                }
                RowKind::Window(_) => counts.fn_ += 1,
            }
        }
        let mut score = fp_score;
        let mut seen = vec![false; best.len()];
        for kind in &self.kinds {
            if let RowKind::Window(id) = *kind
                && !seen[id]
            {
                seen[id] = true;
                score += best[id].map_or(-profile.fn_weight, |b| b.max(-profile.fn_weight));
            }
        }
        counts.score = score;
        counts.detected = best.iter().filter(|b| b.is_some()).count();
        counts
    }
}

/// A raw score with NAB's row counts (rows in windows that alert are all "tp").
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Raw NAB score (sum of rewards and penalties).
    pub score: f64,
    /// Alerting rows inside windows.
    pub tp: usize,
    /// Quiet rows outside windows.
    pub tn: usize,
    /// Alerting rows outside windows.
    pub fp: usize,
    /// Quiet rows inside windows.
    pub fn_: usize,
    /// Windows with at least one alert.
    pub detected: usize,
}

/// The corpus score at one threshold, as one row of NAB's sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdScore {
    /// Rows with anomaly score `≥ threshold` alert (1.1 = nothing alerts).
    pub threshold: f64,
    /// Raw corpus score.
    pub score: f64,
}

/// NAB's `calcScoreByThreshold` over all `files` together: the corpus score for "nothing alerts"
/// (threshold 1.1) and then for every distinct anomaly score, from the highest down.
pub fn sweep(files: &[ScoredFile], profile: &Profile) -> Vec<ThresholdScore> {
    // (anomaly score, file, row), highest first; stable, so ties keep file and row order.
    let mut rows: Vec<(f64, usize, usize)> = files
        .iter()
        .enumerate()
        .flat_map(|(f, file)| {
            file.kinds
                .iter()
                .enumerate()
                .filter(|&(_, k)| *k != RowKind::Probation)
                .map(move |(i, _)| (file.scores[i], f, i))
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));

    // Per window: its current best value (starts as a miss).
    let mut window_value: std::collections::HashMap<(usize, usize), f64> = Default::default();
    for (f, file) in files.iter().enumerate() {
        for kind in &file.kinds {
            if let RowKind::Window(id) = *kind {
                window_value.insert((f, id), -profile.fn_weight);
            }
        }
    }
    let mut total: f64 = window_value.values().sum();
    let mut out = Vec::new();
    let mut current = 1.1;
    for &(s, f, i) in &rows {
        if s != current {
            out.push(ThresholdScore {
                threshold: current,
                score: total,
            });
            current = s;
        }
        let file = &files[f];
        match file.kinds[i] {
            RowKind::Outside => total += file.unit[i] * profile.fp_weight,
            RowKind::Window(id) => {
                let v = file.unit[i] * profile.tp_weight;
                if let Some(slot) = window_value.get_mut(&(f, id))
                    && v > *slot
                {
                    total += v - *slot;
                    *slot = v;
                }
            }
            RowKind::Probation => {}
        }
    }
    out.push(ThresholdScore {
        threshold: current,
        score: total,
    });
    out
}

/// NAB's optimizer: the threshold with the highest corpus score (the highest such threshold
/// when several tie).
pub fn optimize(files: &[ScoredFile], profile: &Profile) -> ThresholdScore {
    sweep(files, profile)
        .into_iter()
        .fold(None, |best: Option<ThresholdScore>, t| match best {
            Some(b) if b.score >= t.score => Some(b),
            _ => Some(t),
        })
        .unwrap_or(ThresholdScore {
            threshold: 1.1,
            score: 0.0,
        })
}

/// NAB's normalised score: `100 · (raw − null) / (perfect − null)`, where the null detector
/// (never alerts) scores `−fnWeight · windows` and the perfect one `tpWeight · windows`.
/// `None` when there are no windows (the scale is undefined).
pub fn normalized(raw: f64, windows: usize, profile: &Profile) -> Option<f64> {
    let null = -profile.fn_weight * windows as f64;
    let perfect = profile.tp_weight * windows as f64;
    (windows > 0).then(|| 100.0 * (raw - null) / (perfect - null))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Profile = Profile {
        name: "unit",
        tp_weight: 1.0,
        fp_weight: 1.0,
        fn_weight: 1.0,
    };

    fn ts(n: usize) -> Vec<i64> {
        (0..n as i64).map(|i| i * 300).collect()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn scaled_sigmoid_matches_nab_values() {
        close(scaled_sigmoid(-1.0), 2.0 / (1.0 + (-5.0f64).exp()) - 1.0);
        assert!((scaled_sigmoid(-1.0) - 0.98661).abs() < 1e-5);
        assert!((scaled_sigmoid(-0.5) - 0.84828).abs() < 1e-5);
        close(scaled_sigmoid(0.0), 0.0);
        assert!((scaled_sigmoid(1.0) + 0.98661).abs() < 1e-5);
        close(scaled_sigmoid(3.5), -1.0);
    }

    #[test]
    fn probation_is_fifteen_percent_capped_at_750() {
        assert_eq!(probation_len(4032), 604);
        assert_eq!(probation_len(1243), 186);
        assert_eq!(probation_len(10_000), 750);
        assert_eq!(probation_len(0), 0);
    }

    #[test]
    fn first_row_of_a_window_is_worth_exactly_tp_weight() {
        // NAB's testFirstTruePositiveWithinWindow: 10 rows, window on rows 4..=5, no probation
        // here because 15% of 10 rows is 1 row and the alert is later.
        let t = ts(10);
        let mut s = vec![0.0; 10];
        s[4] = 1.0;
        let f = ScoredFile::new(&t, &s, &[(t[4], t[5])]).unwrap();
        let c = f.score(&P, 0.5);
        close(c.score, 1.0);
        assert_eq!((c.tp, c.fp, c.fn_, c.detected), (1, 0, 1, 1));
    }

    #[test]
    fn a_later_alert_in_the_window_earns_less_and_only_the_first_counts() {
        // Window of 4 rows (10..=13): an alert on row 12 is at position −(13−12+1)/4 = −0.5.
        let t = ts(40);
        let mut s = vec![0.0; 40];
        s[12] = 1.0;
        s[13] = 1.0;
        let f = ScoredFile::new(&t, &s, &[(t[10], t[13])]).unwrap();
        let expected = scaled_sigmoid(-0.5) / scaled_sigmoid(-1.0);
        close(f.score(&P, 0.5).score, expected);
        assert!((expected - 0.85979).abs() < 1e-4);
    }

    #[test]
    fn a_missed_window_costs_fn_weight() {
        let t = ts(40);
        let f = ScoredFile::new(&t, &[0.0; 40], &[(t[10], t[13])]).unwrap();
        close(f.score(&Profile::LOW_FN, 0.5).score, -2.0);
        assert_eq!(f.windows(), 1);
    }

    #[test]
    fn false_positives_cost_by_distance_from_the_preceding_window() {
        // Rows 0..=5 are probation (15% of 40 = 6). Window rows 10..=13 (width 4).
        let t = ts(40);
        let mut s = vec![0.0; 40];
        s[8] = 1.0; // before any window: −fp
        s[15] = 1.0; // (15 − 13)/(4 − 1) = 2/3 past the window
        s[30] = 1.0; // (30 − 13)/3 > 3: −fp
        s[2] = 1.0; // probation: ignored
        let f = ScoredFile::new(&t, &s, &[(t[10], t[13])]).unwrap();
        let c = f.score(&Profile::STANDARD, 0.5);
        let expected = -0.11 + 0.11 * scaled_sigmoid(2.0 / 3.0) - 0.11 - 1.0;
        close(c.score, expected);
        assert_eq!((c.fp, c.tp, c.detected), (3, 0, 0));
    }

    #[test]
    fn the_threshold_is_inclusive() {
        let t = ts(40);
        let mut s = vec![0.0; 40];
        s[10] = 0.7;
        let f = ScoredFile::new(&t, &s, &[(t[10], t[13])]).unwrap();
        close(f.score(&P, 0.7).score, 1.0);
        close(f.score(&P, 0.70001).score, -1.0);
    }

    #[test]
    fn sweep_scores_every_threshold_and_optimize_picks_the_best() {
        let t = ts(40);
        let mut s = vec![0.0; 40];
        s[11] = 0.9; // in the window: position −3/4
        s[20] = 0.8; // FP (20 − 13)/3 > 2 → about −fp
        s[30] = 0.95; // FP far away: −fp
        let f = ScoredFile::new(&t, &s, &[(t[10], t[13])]).unwrap();
        let files = [f.clone()];
        let sw = sweep(&files, &Profile::STANDARD);
        let thresholds: Vec<f64> = sw.iter().map(|x| x.threshold).collect();
        assert_eq!(thresholds, vec![1.1, 0.95, 0.9, 0.8, 0.0]);
        for x in &sw {
            let direct = f.score(&Profile::STANDARD, x.threshold).score;
            close(x.score, direct);
        }
        let best = optimize(&files, &Profile::STANDARD);
        close(best.threshold, 0.9);
        let tp = scaled_sigmoid(-0.75) / scaled_sigmoid(-1.0);
        close(best.score, tp - 0.11);
    }

    #[test]
    fn duplicated_timestamps_use_the_first_matching_row() {
        // Rows 10..=12 share a timestamp; the window starts on the first of them.
        let mut t = ts(40);
        t[11] = t[10];
        t[12] = t[10];
        let mut s = vec![0.0; 40];
        s[10] = 1.0;
        let f = ScoredFile::new(&t, &s, &[(t[10], t[15])]).unwrap();
        close(f.score(&P, 0.5).score, 1.0);
    }

    #[test]
    fn normalisation_maps_null_to_zero_and_perfect_to_hundred() {
        let p = Profile::STANDARD;
        close(normalized(-3.0, 3, &p).unwrap(), 0.0);
        close(normalized(3.0, 3, &p).unwrap(), 100.0);
        close(normalized(0.0, 3, &p).unwrap(), 50.0);
        close(
            normalized(0.0, 3, &Profile::LOW_FN).unwrap(),
            100.0 * 6.0 / 9.0,
        );
        assert_eq!(normalized(0.0, 0, &p), None);
    }

    #[test]
    fn bad_windows_are_refused() {
        let t = ts(10);
        let s = [0.0; 10];
        assert!(matches!(
            ScoredFile::new(&t, &s, &[(7, t[3])]),
            Err(NabError::WindowLimitNotFound { .. })
        ));
        assert!(matches!(
            ScoredFile::new(&t, &s, &[(t[5], t[3])]),
            Err(NabError::WindowsOutOfOrder { .. })
        ));
        assert!(matches!(
            ScoredFile::new(&t, &s[..3], &[]),
            Err(NabError::LengthMismatch { .. })
        ));
    }
}
