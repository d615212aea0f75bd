//! Rollups: per service, route and minute (or hour), a mergeable latency sketch with the request
//! and error counts, so that p50/p95/p99 over any window come from merging rollups instead of
//! rescanning raw rows.
//!
//! - [`LatencyStats`]: the value of one rollup. A [DDSketch] of the latencies (relative accuracy
//!   [`RELATIVE_ACCURACY`]), the number of requests and the number of errors. Merging is exact
//!   for the counts and lossless for the sketch (bins add up), so merging sixty minute rollups
//!   gives the same numbers as the hour rollup built from the same requests.
//! - [`Rollup`] / [`RollupKey`]: a [`LatencyStats`] with its service, route, [`Resolution`] and
//!   bucket start. [`rollups`] builds them from request samples, [`coarsen`] turns minute rollups
//!   into hour rollups, [`merge_window`] merges the rollups of one route over a window.
//! - [`LatencyStats::to_bytes`] / [`LatencyStats::from_bytes`]: a compact, versioned encoding
//!   for a store column (see the format below).
//!
//! **Quantiles.** [`LatencyStats::quantile`] uses the same definition as
//! [`quantile`](crate::quantile): nearest rank, the value at 1-based rank ⌈q·n⌉ of the sorted
//! latencies. The sketch is asked for exactly that rank, and returns a value within
//! [`RELATIVE_ACCURACY`] of the latency that holds it (DDSketch's guarantee: every value in a bin
//! lies within α of the bin's representative), so the error against the exact nearest-rank
//! quantile is at most 0.5%, whatever the distribution, window or merge order. `q = 0` and
//! `q = 1` give the exact minimum and maximum.
//!
//! **Byte format (version 1).** `0x01`, then the request count and the error count as LEB128
//! varints, then the sketch in DataDog's portable DDSketch encoding
//! (`DDSketchWithExactSummaryStatistics`, as `sketches-ddsketch` writes it: count, min, max, sum,
//! the index mapping and the bins as varint deltas). A rollup of a minute of one route takes tens
//! to a few hundred bytes. Decoding refuses another version, a sketch with another index mapping,
//! and trailing or truncated input.
//!
//! [DDSketch]: https://arxiv.org/abs/1908.10693
//!
//! ```
//! use chrono::{DateTime, Duration};
//! use tokpulse_analyze::rollup::{LatencyStats, Resolution, merge_window, rollups};
//! use tokpulse_core::{RequestSample, Window};
//!
//! let t0 = DateTime::from_timestamp(1_699_999_200, 0).unwrap(); // on the hour
//! let samples: Vec<RequestSample> = (1..=1000)
//!     .map(|i| RequestSample {
//!         timestamp: t0 + Duration::milliseconds(i * 600),
//!         service: "api".into(),
//!         route: "GET /users".into(),
//!         duration_ms: i as f64,
//!         is_error: i % 100 == 0,
//!     })
//!     .collect();
//! let minutes = rollups(&samples, Resolution::Minute);
//! assert!(minutes.len() > 1);
//!
//! // Through the store column and back.
//! let bytes = minutes[0].stats.to_bytes();
//! assert_eq!(LatencyStats::from_bytes(&bytes).unwrap(), minutes[0].stats);
//!
//! let window = Window { start: t0, end: t0 + Duration::hours(1) };
//! let all = merge_window(&minutes, "api", "GET /users", window);
//! let s = all.summary();
//! assert_eq!((s.requests, s.errors), (1000, 10));
//! let p95 = s.p95.unwrap();
//! assert!((p95 - 950.0).abs() <= 950.0 * 0.005, "{p95}");
//! ```

use chrono::{DurationRound, TimeDelta};
use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config, DDSketch};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use tokpulse_core::{RequestSample, Timestamp, Window};

/// The sketch's relative accuracy α: a quantile read from a rollup is within this fraction of
/// the exact nearest-rank quantile. Half the 1% the diagnosis promises, so rounding never brings
/// it to the limit.
pub const RELATIVE_ACCURACY: f64 = 0.005;

/// The version byte [`LatencyStats::to_bytes`] writes.
pub const FORMAT_VERSION: u8 = 1;

/// The sketch configuration every rollup uses. The bin limit and smallest value are the crate's
/// defaults, the ones its decoder assumes, so a decoded sketch merges with a fresh one. 2048
/// bins at α = 0.5% span a ratio of about 8·10⁸ between the smallest and the largest latency of
/// one rollup (1 µs to 13 minutes) before the lowest bins are collapsed; the collapse only ever
/// affects the lowest quantiles.
fn sketch_config() -> Config {
    Config::new(RELATIVE_ACCURACY, 2048, 1.0e-9)
}

/// The length of a rollup's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
}

impl Resolution {
    /// The bucket length.
    pub fn duration(self) -> TimeDelta {
        match self {
            Resolution::Minute => TimeDelta::minutes(1),
            Resolution::Hour => TimeDelta::hours(1),
        }
    }

    /// The start of the bucket holding `t` (buckets are aligned on the Unix epoch, in UTC).
    pub fn bucket_start(self, t: Timestamp) -> Timestamp {
        // Truncating a UTC timestamp to a minute or an hour cannot fail (the span is far
        // below the range limit); the fallback keeps the function total.
        t.duration_trunc(self.duration()).unwrap_or(t)
    }

    /// The stored name: `minute` or `hour`.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
        }
    }
}

impl FromStr for Resolution {
    type Err = RollupError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "minute" => Ok(Resolution::Minute),
            "hour" => Ok(Resolution::Hour),
            other => Err(RollupError::UnknownResolution(other.to_owned())),
        }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why bytes could not be read back as a rollup, or a name as a [`Resolution`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollupError {
    /// The input is empty.
    #[error("rollup bytes: empty")]
    Empty,
    /// The version byte is not one this build reads.
    #[error("rollup bytes: unknown format version {0}, expected {FORMAT_VERSION}")]
    UnknownVersion(u8),
    /// The counts are cut short or overflow.
    #[error("rollup bytes: counts cut short or too large")]
    BadCounts,
    /// The sketch part could not be decoded.
    #[error("rollup bytes: sketch: {0}")]
    BadSketch(String),
    /// The sketch was written with another relative accuracy.
    #[error("rollup bytes: sketch written with another relative accuracy")]
    OtherAccuracy,
    /// The counts contradict each other (more errors than requests, more latencies than
    /// requests).
    #[error("rollup bytes: {errors} errors and {latencies} latencies for {requests} requests")]
    Inconsistent {
        /// Requests recorded.
        requests: u64,
        /// Errors recorded.
        errors: u64,
        /// Latencies in the sketch.
        latencies: u64,
    },
    /// Not `minute` or `hour`.
    #[error("unknown rollup resolution {0:?}: expected minute or hour")]
    UnknownResolution(String),
}

/// The numbers of one rollup, or of several merged: requests, errors and a latency sketch.
#[derive(Clone)]
pub struct LatencyStats {
    requests: u64,
    errors: u64,
    sketch: DDSketch,
}

impl Default for LatencyStats {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LatencyStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyStats")
            .field("requests", &self.requests)
            .field("errors", &self.errors)
            .field("latencies", &self.sketch.count())
            .field("min", &self.sketch.min())
            .field("max", &self.sketch.max())
            .finish()
    }
}

/// Equal counts and equal sketches (same bins, min, max and sum), compared through their
/// encoding. The sum is compared exactly, so the same requests merged in another order may
/// differ in its last bits: compare [`LatencyStats::summary`] for that.
impl PartialEq for LatencyStats {
    fn eq(&self, other: &Self) -> bool {
        self.requests == other.requests
            && self.errors == other.errors
            && self.sketch.to_java_bytes() == other.sketch.to_java_bytes()
    }
}

impl LatencyStats {
    /// No requests.
    pub fn new() -> Self {
        LatencyStats {
            requests: 0,
            errors: 0,
            sketch: DDSketch::new(sketch_config()),
        }
    }

    /// Counts one request. A duration that is not finite or is negative counts as a request
    /// (and an error, if it is one) but not as a latency.
    pub fn record(&mut self, duration_ms: f64, is_error: bool) {
        self.requests += 1;
        self.errors += u64::from(is_error);
        if duration_ms.is_finite() && duration_ms >= 0.0 {
            self.sketch.add(duration_ms);
        }
    }

    /// Adds `other`'s requests, errors and latencies to these. Merging is associative and
    /// commutative: any grouping of the same rollups gives the same stats.
    pub fn merge(&mut self, other: &LatencyStats) {
        self.requests += other.requests;
        self.errors += other.errors;
        // Both sketches come from `sketch_config()` (`from_bytes` refuses any other), so the
        // configs match and merge cannot fail.
        let merged = self.sketch.merge(&other.sketch);
        debug_assert!(merged.is_ok(), "rollup sketches share one config");
    }

    /// Requests counted.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Errors (5xx) counted.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Requests with a usable latency.
    pub fn latencies(&self) -> u64 {
        self.sketch.count() as u64
    }

    /// Errors per request, 0 to 1; `None` without requests.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }

    /// The `q`-quantile of the latencies by nearest rank (see the module docs), within
    /// [`RELATIVE_ACCURACY`] of the exact value. `None` without latencies or when `q` is not in
    /// `[0, 1]`.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.latencies();
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        // The 0-based rank the nearest-rank method picks; the sketch reads the value at 0-based
        // rank ⌊q'·(n − 1)⌋, so ask it for q' half a rank past the one wanted.
        let rank = crate::quantile::nearest_rank(n as usize, q) as u64 - 1;
        let q_sketch = if rank == 0 {
            0.0
        } else if rank + 1 >= n {
            1.0
        } else {
            (rank as f64 + 0.5) / (n - 1) as f64
        };
        self.sketch.quantile(q_sketch).ok().flatten()
    }

    /// Requests, errors, error rate and the usual quantiles.
    pub fn summary(&self) -> Summary {
        Summary {
            requests: self.requests,
            errors: self.errors,
            error_rate: self.error_rate(),
            p50: self.quantile(0.50),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
            max: self.sketch.max(),
        }
    }

    /// The version-1 encoding (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        // An empty sketch is written as nothing: its encoding starts with the index-mapping flag,
        // 0x02, which the decoder would take for a version prefix.
        let sketch = if self.sketch.count() == 0 {
            Vec::new()
        } else {
            self.sketch.to_java_bytes()
        };
        let mut out = Vec::with_capacity(sketch.len() + 12);
        out.push(FORMAT_VERSION);
        write_varint(&mut out, self.requests);
        write_varint(&mut out, self.errors);
        out.extend_from_slice(&sketch);
        out
    }

    /// Reads [`to_bytes`](Self::to_bytes)' output back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RollupError> {
        let (&version, mut rest) = bytes.split_first().ok_or(RollupError::Empty)?;
        if version != FORMAT_VERSION {
            return Err(RollupError::UnknownVersion(version));
        }
        let requests = read_varint(&mut rest).ok_or(RollupError::BadCounts)?;
        let errors = read_varint(&mut rest).ok_or(RollupError::BadCounts)?;
        if rest.is_empty() {
            return if errors > requests {
                Err(RollupError::Inconsistent {
                    requests,
                    errors,
                    latencies: 0,
                })
            } else {
                Ok(LatencyStats {
                    requests,
                    errors,
                    sketch: DDSketch::new(sketch_config()),
                })
            };
        }
        let mut sketch =
            DDSketch::from_java_bytes(rest).map_err(|e| RollupError::BadSketch(e.to_string()))?;
        // The decoder rebuilds the config from the encoded gamma with the crate's default bin
        // limit and smallest value, which are ours: merging an empty sketch of ours in (a config
        // check, nothing to add) fails exactly when it was written with another accuracy.
        sketch
            .merge(&DDSketch::new(sketch_config()))
            .map_err(|_| RollupError::OtherAccuracy)?;
        let latencies = sketch.count() as u64;
        if errors > requests || latencies > requests {
            return Err(RollupError::Inconsistent {
                requests,
                errors,
                latencies,
            });
        }
        Ok(LatencyStats {
            requests,
            errors,
            sketch,
        })
    }
}

/// What a window of merged rollups says about a route.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Requests.
    pub requests: u64,
    /// Errors (5xx).
    pub errors: u64,
    /// Errors per request, 0 to 1, when there were requests.
    pub error_rate: Option<f64>,
    /// Median latency, ms.
    pub p50: Option<f64>,
    /// 95th percentile latency, ms.
    pub p95: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99: Option<f64>,
    /// The slowest request, ms (exact).
    pub max: Option<f64>,
}

/// Which route and which bucket a rollup covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RollupKey {
    /// The service.
    pub service: String,
    /// `METHOD route`, as in [`RequestSample::route`].
    pub route: String,
    /// Minute or hour.
    pub resolution: Resolution,
    /// The start of the bucket: `[start, start + resolution)`.
    pub start: Timestamp,
}

impl RollupKey {
    /// The bucket as a window.
    pub fn window(&self) -> Window {
        Window {
            start: self.start,
            end: self.start + self.resolution.duration(),
        }
    }
}

/// One route's requests in one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    /// Route and bucket.
    pub key: RollupKey,
    /// The numbers.
    pub stats: LatencyStats,
}

/// The rollups of `samples` at `resolution`, one per service, route and bucket that has
/// requests, ordered by key (service, route, resolution, start).
pub fn rollups(samples: &[RequestSample], resolution: Resolution) -> Vec<Rollup> {
    let mut buckets: BTreeMap<(&str, &str, Timestamp), LatencyStats> = BTreeMap::new();
    for s in samples {
        buckets
            .entry((&s.service, &s.route, resolution.bucket_start(s.timestamp)))
            .or_default()
            .record(s.duration_ms, s.is_error);
    }
    buckets
        .into_iter()
        .map(|((service, route, start), stats)| Rollup {
            key: RollupKey {
                service: service.to_owned(),
                route: route.to_owned(),
                resolution,
                start,
            },
            stats,
        })
        .collect()
}

/// Rollups re-bucketed at the coarser (or same) resolution `to`: the hour rollups from minute
/// rollups. Ordered by key. Rollups already coarser than `to` keep their bucket.
pub fn coarsen(rollups: &[Rollup], to: Resolution) -> Vec<Rollup> {
    let mut buckets: BTreeMap<RollupKey, LatencyStats> = BTreeMap::new();
    for r in rollups {
        let key = if r.key.resolution < to {
            RollupKey {
                resolution: to,
                start: to.bucket_start(r.key.start),
                ..r.key.clone()
            }
        } else {
            r.key.clone()
        };
        buckets.entry(key).or_default().merge(&r.stats);
    }
    buckets
        .into_iter()
        .map(|(key, stats)| Rollup { key, stats })
        .collect()
}

/// The merged stats of `service`/`route` over the rollups whose bucket lies inside `window`
/// (a bucket that only overlaps it is left out: align windows on buckets).
pub fn merge_window(
    rollups: &[Rollup],
    service: &str,
    route: &str,
    window: Window,
) -> LatencyStats {
    let mut out = LatencyStats::new();
    for r in rollups {
        let w = r.key.window();
        if r.key.service == service
            && r.key.route == route
            && w.start >= window.start
            && w.end <= window.end
        {
            out.merge(&r.stats);
        }
    }
    out
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_varint(input: &mut &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = input.split_first()?;
        *input = rest;
        let part = u64::from(b & 0x7f);
        if shift == 63 && part > 1 {
            return None;
        }
        v |= part << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantile;
    use chrono::DateTime;
    use proptest::prelude::*;

    /// SplitMix64: a small, seeded generator so the tests need no RNG crate.
    struct Rng(u64);
    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in (0, 1).
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    fn t0() -> Timestamp {
        DateTime::from_timestamp(1_700_000_000 - 1_700_000_000 % 3600, 0).unwrap()
    }

    fn sample(t: Timestamp, route: &str, ms: f64, is_error: bool) -> RequestSample {
        RequestSample {
            timestamp: t,
            service: "api".into(),
            route: route.into(),
            duration_ms: ms,
            is_error,
        }
    }

    /// A day of requests, one every ~`step` ms, with latencies drawn from `dist`.
    fn day(rng: &mut Rng, n: usize, dist: &dyn Fn(&mut Rng) -> f64) -> Vec<RequestSample> {
        (0..n)
            .map(|i| {
                let t = t0() + TimeDelta::milliseconds((i as i64) * 86_400_000 / n as i64);
                sample(t, "GET /x", dist(rng), rng.uniform() < 0.01)
            })
            .collect()
    }

    fn rel_err(got: f64, want: f64) -> f64 {
        (got - want).abs() / want.abs()
    }

    #[test]
    fn merged_minute_rollups_are_within_accuracy_on_varied_distributions() {
        type Dist = Box<dyn Fn(&mut Rng) -> f64>;
        let dists: Vec<(&str, Dist)> = vec![
            // A typical API: median 120 ms, long right tail.
            (
                "lognormal",
                Box::new(|r: &mut Rng| (120f64.ln() + 0.6 * r.normal()).exp()),
            ),
            // Cache hits around 5 ms, misses around 300 ms.
            (
                "bimodal",
                Box::new(|r: &mut Rng| {
                    if r.uniform() < 0.8 {
                        (5f64.ln() + 0.2 * r.normal()).exp()
                    } else {
                        (300f64.ln() + 0.3 * r.normal()).exp()
                    }
                }),
            ),
            // Pareto with α = 1.2: a heavy tail reaching minutes.
            (
                "pareto",
                Box::new(|r: &mut Rng| 20.0 * r.uniform().powf(-1.0 / 1.2)),
            ),
            // Sub-millisecond to seconds, uniform on a log scale.
            (
                "log-uniform",
                Box::new(|r: &mut Rng| 10f64.powf(-1.0 + 4.0 * r.uniform())),
            ),
            // Few distinct values (integer milliseconds), many ties.
            (
                "integer",
                Box::new(|r: &mut Rng| (1.0 + 10.0 * r.uniform()).floor()),
            ),
        ];
        let mut worst = 0.0f64;
        for (name, dist) in &dists {
            let mut rng = Rng(7);
            let samples = day(&mut rng, 50_000, dist.as_ref());
            let minutes = rollups(&samples, Resolution::Minute);
            assert!(
                minutes.len() > 1000,
                "{name}: {} minute rollups",
                minutes.len()
            );
            let all = Window {
                start: t0(),
                end: t0() + TimeDelta::days(1),
            };
            let merged = merge_window(&minutes, "api", "GET /x", all);
            let hours = coarsen(&minutes, Resolution::Hour);
            assert_eq!(hours.len(), 24);
            let from_hours = merge_window(&hours, "api", "GET /x", all);
            assert_eq!(
                merged.summary(),
                from_hours.summary(),
                "{name}: minute and hour paths differ"
            );
            assert_eq!(merged.requests(), 50_000);
            assert_eq!(
                merged.errors(),
                samples.iter().filter(|s| s.is_error).count() as u64
            );
            let mut exact: Vec<f64> = samples.iter().map(|s| s.duration_ms).collect();
            for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                let want = quantile(&mut exact, q).unwrap();
                let got = merged.quantile(q).unwrap();
                let e = rel_err(got, want);
                worst = worst.max(e);
                assert!(
                    e <= RELATIVE_ACCURACY + 1e-12,
                    "{name} q={q}: sketch {got} vs exact {want} ({:.4}%)",
                    e * 100.0
                );
            }
        }
        // Well inside the 1% the diagnosis promises.
        eprintln!(
            "worst relative error over all distributions: {:.4}%",
            worst * 100.0
        );
        assert!(worst < 0.01, "worst relative error {worst}");
    }

    #[test]
    fn quantiles_use_the_nearest_rank_of_quantile_rs() {
        // Values far apart, so each lands in its own bin and any rank mix-up shows (and within
        // the span the bins cover without collapsing).
        for n in 1..=60usize {
            let values: Vec<f64> = (1..=n).map(|i| 1.3f64.powi(i as i32)).collect();
            let mut stats = LatencyStats::new();
            for v in values.iter().rev() {
                stats.record(*v, false);
            }
            for q in [0.0, 0.05, 0.3, 0.5, 0.95, 0.99, 1.0] {
                let mut w = values.clone();
                let want = quantile(&mut w, q).unwrap();
                let got = stats.quantile(q).unwrap();
                assert!(
                    rel_err(got, want) <= RELATIVE_ACCURACY + 1e-12,
                    "n={n} q={q}: {got} vs {want}"
                );
            }
        }
        // Minimum and maximum are exact.
        let mut s = LatencyStats::new();
        for v in [3.3, 1.1, 2.2] {
            s.record(v, false);
        }
        assert_eq!(s.quantile(0.0), Some(1.1));
        assert_eq!(s.quantile(1.0), Some(3.3));
    }

    #[test]
    fn counts_and_unusable_durations() {
        let mut s = LatencyStats::new();
        assert_eq!(s.summary().p95, None);
        assert_eq!(s.error_rate(), None);
        s.record(f64::NAN, true);
        s.record(-1.0, false);
        s.record(0.0, false);
        s.record(10.0, true);
        assert_eq!((s.requests(), s.errors(), s.latencies()), (4, 2, 2));
        assert_eq!(s.error_rate(), Some(0.5));
        assert_eq!(s.quantile(0.0), Some(0.0));
        assert_eq!(s.quantile(1.1), None);
        let summary = s.summary();
        assert_eq!(summary.max, Some(10.0));
    }

    #[test]
    fn bytes_round_trip_and_stay_small() {
        let mut rng = Rng(3);
        let mut s = LatencyStats::new();
        for _ in 0..1000 {
            s.record(
                (80f64.ln() + 0.5 * rng.normal()).exp(),
                rng.uniform() < 0.02,
            );
        }
        let bytes = s.to_bytes();
        assert_eq!(bytes[0], FORMAT_VERSION);
        let back = LatencyStats::from_bytes(&bytes).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.summary(), s.summary());
        assert!(
            bytes.len() < 1200,
            "{} bytes for a minute of 1000 requests",
            bytes.len()
        );
        // A decoded rollup merges with a fresh one.
        let mut merged = back.clone();
        merged.merge(&s);
        assert_eq!(merged.requests(), 2 * s.requests());

        // Empty and NaN-only stats round-trip too.
        let empty = LatencyStats::new();
        assert_eq!(LatencyStats::from_bytes(&empty.to_bytes()).unwrap(), empty);
        let mut only_errors = LatencyStats::new();
        only_errors.record(f64::NAN, true);
        let back = LatencyStats::from_bytes(&only_errors.to_bytes()).unwrap();
        assert_eq!(
            (back.requests(), back.errors(), back.latencies()),
            (1, 1, 0)
        );
        // Large counts.
        let mut out = Vec::new();
        write_varint(&mut out, u64::MAX);
        assert_eq!(read_varint(&mut out.as_slice()), Some(u64::MAX));
    }

    #[test]
    fn bad_bytes_are_refused() {
        let mut s = LatencyStats::new();
        s.record(5.0, false);
        let good = s.to_bytes();
        assert_eq!(LatencyStats::from_bytes(&[]), Err(RollupError::Empty));
        let mut v2 = good.clone();
        v2[0] = 2;
        assert_eq!(
            LatencyStats::from_bytes(&v2),
            Err(RollupError::UnknownVersion(2))
        );
        assert_eq!(
            LatencyStats::from_bytes(&[1, 0x80]),
            Err(RollupError::BadCounts)
        );
        assert!(matches!(
            LatencyStats::from_bytes(&good[..good.len() - 1]),
            Err(RollupError::BadSketch(_))
        ));
        // More errors than requests.
        let mut bad = vec![1, 1, 2];
        bad.extend_from_slice(&good[3..]);
        assert!(matches!(
            LatencyStats::from_bytes(&bad),
            Err(RollupError::Inconsistent { .. })
        ));
        // A sketch with the crate's default 1% accuracy is not ours.
        let mut other = DDSketch::new(Config::defaults());
        other.add(5.0);
        let mut foreign = vec![1, 1, 0];
        foreign.extend_from_slice(&other.to_java_bytes());
        assert!(matches!(
            LatencyStats::from_bytes(&foreign),
            Err(RollupError::OtherAccuracy)
        ));
        assert!(
            RollupError::UnknownVersion(2)
                .to_string()
                .contains("unknown format version 2")
        );
    }

    #[test]
    fn buckets_and_resolutions() {
        let t = t0() + TimeDelta::seconds(3 * 3600 + 17 * 60 + 42);
        assert_eq!(
            Resolution::Minute.bucket_start(t),
            t0() + TimeDelta::seconds(3 * 3600 + 17 * 60)
        );
        assert_eq!(Resolution::Hour.bucket_start(t), t0() + TimeDelta::hours(3));
        assert_eq!("hour".parse::<Resolution>(), Ok(Resolution::Hour));
        assert!("day".parse::<Resolution>().is_err());
        let samples = vec![
            sample(t, "GET /b", 1.0, false),
            sample(t, "GET /a", 2.0, false),
            sample(t + TimeDelta::minutes(1), "GET /a", 3.0, true),
        ];
        let minutes = rollups(&samples, Resolution::Minute);
        let keys: Vec<(&str, i64)> = minutes
            .iter()
            .map(|r| (r.key.route.as_str(), (r.key.start - t0()).num_minutes()))
            .collect();
        assert_eq!(
            keys,
            vec![("GET /a", 197), ("GET /a", 198), ("GET /b", 197)]
        );
        let hours = coarsen(&minutes, Resolution::Hour);
        assert_eq!(hours.len(), 2);
        assert_eq!(hours[0].stats.requests(), 2);
        assert_eq!(
            hours[0].key.window().end - hours[0].key.window().start,
            TimeDelta::hours(1)
        );
        // A window that only covers the first minute leaves the second out.
        let w = Window {
            start: t0() + TimeDelta::minutes(197),
            end: t0() + TimeDelta::minutes(198),
        };
        assert_eq!(merge_window(&minutes, "api", "GET /a", w).requests(), 1);
    }

    fn stats_of(values: &[(f64, bool)]) -> LatencyStats {
        let mut s = LatencyStats::new();
        for &(v, e) in values {
            s.record(v, e);
        }
        s
    }

    fn values() -> impl Strategy<Value = Vec<(f64, bool)>> {
        proptest::collection::vec((0.01f64..100_000.0, any::<bool>()), 0..200)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn merge_is_associative_and_commutative(a in values(), b in values(), c in values()) {
            let (sa, sb, sc) = (stats_of(&a), stats_of(&b), stats_of(&c));
            let mut left = sa.clone();
            left.merge(&sb);
            left.merge(&sc);
            let mut bc = sb.clone();
            bc.merge(&sc);
            let mut right = sa.clone();
            right.merge(&bc);
            let mut other = sc.clone();
            other.merge(&sa);
            other.merge(&sb);
            // Bins and counts are equal; the sum may differ in its last bits.
            prop_assert_eq!(left.summary(), right.summary());
            prop_assert_eq!(left.summary(), other.summary());
            let all: Vec<(f64, bool)> = a.iter().chain(&b).chain(&c).copied().collect();
            prop_assert_eq!(left.summary(), stats_of(&all).summary());
        }

        #[test]
        fn bytes_round_trip(a in values()) {
            let s = stats_of(&a);
            prop_assert_eq!(LatencyStats::from_bytes(&s.to_bytes()).unwrap(), s);
        }

        #[test]
        fn any_quantile_is_within_accuracy(a in proptest::collection::vec(0.01f64..1e6, 1..300),
                                           q in 0.0f64..=1.0) {
            let s = stats_of(&a.iter().map(|&v| (v, false)).collect::<Vec<_>>());
            let mut exact = a.clone();
            let want = quantile(&mut exact, q).unwrap();
            let got = s.quantile(q).unwrap();
            prop_assert!(rel_err(got, want) <= RELATIVE_ACCURACY + 1e-12, "{} vs {}", got, want);
        }
    }
}
