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
//!   into hour and day rollups, [`merge_window`] merges the rollups of one route over a window,
//!   and [`cover`] picks the fewest rollups (days, then hours, then minutes at the edges) that
//!   tile a window, so a 30-day p95 merges about 30 rollups per route.
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
    /// One day (UTC).
    Day,
}

impl Resolution {
    /// The bucket length.
    pub fn duration(self) -> TimeDelta {
        match self {
            Resolution::Minute => TimeDelta::minutes(1),
            Resolution::Hour => TimeDelta::hours(1),
            Resolution::Day => TimeDelta::days(1),
        }
    }

    /// The start of the bucket holding `t` (buckets are aligned on the Unix epoch, in UTC).
    pub fn bucket_start(self, t: Timestamp) -> Timestamp {
        // Truncating a UTC timestamp to a minute or an hour cannot fail (the span is far
        // below the range limit); the fallback keeps the function total.
        t.duration_trunc(self.duration()).unwrap_or(t)
    }

    /// Every resolution, finest first.
    pub const ALL: [Resolution; 3] = [Resolution::Minute, Resolution::Hour, Resolution::Day];

    /// The stored name: `minute`, `hour` or `day`.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
            Resolution::Day => "day",
        }
    }
}

impl FromStr for Resolution {
    type Err = RollupError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "minute" => Ok(Resolution::Minute),
            "hour" => Ok(Resolution::Hour),
            "day" => Ok(Resolution::Day),
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
    /// Not `minute`, `hour` or `day`.
    #[error("unknown rollup resolution {0:?}: expected minute, hour or day")]
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
        // The true quantile lies between the minimum and the maximum, which are exact.
        let v = self.sketch.quantile(q_sketch).ok().flatten()?;
        Some(v.clamp(self.sketch.min()?, self.sketch.max()?))
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

/// Merges many stored rollups fast, straight from their bytes: the query side of the rollups.
///
/// [`LatencyStats::from_bytes`] rebuilds a [`DDSketch`] bin by bin, which costs tens of
/// microseconds for a busy day; `Merger::add_bytes` reads the same bytes (the version-1 format
/// above, with the sketch in DataDog's encoding as `sketches-ddsketch` writes it) and adds their
/// bins into one dense array, about a microsecond per rollup. Quantiles use the same index
/// mapping (the crate's [`Config`]) and the same nearest-rank definition as
/// [`LatencyStats::quantile`], so both give the same numbers for the same requests.
///
/// ```
/// use tokpulse_analyze::rollup::{LatencyStats, Merger};
///
/// let (mut a, mut b) = (LatencyStats::new(), LatencyStats::new());
/// for i in 1..=100 {
///     a.record(f64::from(i), false);
///     b.record(f64::from(i + 100), i % 10 == 0);
/// }
/// let mut m = Merger::new();
/// m.add_bytes(&a.to_bytes()).unwrap();
/// m.add_bytes(&b.to_bytes()).unwrap();
/// let mut both = a.clone();
/// both.merge(&b);
/// assert_eq!(m.summary(), both.summary());
/// assert_eq!((m.summary().requests, m.summary().errors), (200, 10));
/// ```
#[derive(Debug, Clone)]
pub struct Merger {
    config: Config,
    requests: u64,
    errors: u64,
    latencies: u64,
    zero: u64,
    min: f64,
    max: f64,
    /// Counts by key, `bins[i]` for key `offset + i`.
    bins: Vec<u64>,
    offset: i32,
    scratch: Vec<(i32, u64)>,
}

impl Default for Merger {
    fn default() -> Self {
        Self::new()
    }
}

/// Bins a [`Merger`] keeps before it folds the lowest ones together (DDSketch's own limit is
/// 2048 per rollup; merged rollups may span more).
const MERGER_MAX_BINS: usize = 1 << 15;

impl Merger {
    /// Nothing merged yet.
    pub fn new() -> Self {
        Merger {
            config: sketch_config(),
            requests: 0,
            errors: 0,
            latencies: 0,
            zero: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            bins: Vec::new(),
            offset: 0,
            scratch: Vec::new(),
        }
    }

    /// Adds a rollup in memory (through its encoding).
    pub fn add(&mut self, stats: &LatencyStats) {
        // Our own encoding always reads back.
        let added = self.add_bytes(&stats.to_bytes());
        debug_assert!(added.is_ok(), "{added:?}");
    }

    /// Adds a stored rollup. On error nothing is added.
    pub fn add_bytes(&mut self, bytes: &[u8]) -> Result<(), RollupError> {
        let (&version, mut rest) = bytes.split_first().ok_or(RollupError::Empty)?;
        if version != FORMAT_VERSION {
            return Err(RollupError::UnknownVersion(version));
        }
        let requests = read_varint(&mut rest).ok_or(RollupError::BadCounts)?;
        let errors = read_varint(&mut rest).ok_or(RollupError::BadCounts)?;
        let bad = |what: &str| RollupError::BadSketch(what.to_owned());
        let (mut count, mut zero) = (0u64, 0u64);
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        self.scratch.clear();
        while let Some((&flag, tail)) = rest.split_first() {
            rest = tail;
            match flag {
                // Count, zero count (var doubles).
                0xA0 => count = read_var_double(&mut rest).ok_or_else(|| bad("count"))? as u64,
                0x04 => zero = read_var_double(&mut rest).ok_or_else(|| bad("zero count"))? as u64,
                0x88 => min = read_f64(&mut rest).ok_or_else(|| bad("min"))?,
                0x8C => max = read_f64(&mut rest).ok_or_else(|| bad("max"))?,
                0x84 => {
                    read_f64(&mut rest).ok_or_else(|| bad("sum"))?;
                }
                // Index mapping: gamma and offset.
                0x02 => {
                    let gamma = read_f64(&mut rest).ok_or_else(|| bad("gamma"))?;
                    read_f64(&mut rest).ok_or_else(|| bad("index offset"))?;
                    if (gamma - self.config.gamma).abs() > 1e-12 * self.config.gamma {
                        return Err(RollupError::OtherAccuracy);
                    }
                }
                // Positive bins as index deltas and counts, the encoder's only mode.
                0x05 => {
                    let n = read_varint(&mut rest).ok_or_else(|| bad("bin count"))?;
                    let mut key: i64 = 0;
                    for _ in 0..n {
                        let z = read_varint(&mut rest).ok_or_else(|| bad("bin index"))?;
                        key += ((z >> 1) as i64) ^ -((z & 1) as i64);
                        let c = read_var_double(&mut rest).ok_or_else(|| bad("bin count"))?;
                        let key = i32::try_from(key).map_err(|_| bad("bin index"))?;
                        self.scratch.push((key, c as u64));
                    }
                }
                other => {
                    return Err(RollupError::BadSketch(format!(
                        "unsupported flag 0x{other:02x} (negative latencies or another bin \
                         encoding)"
                    )));
                }
            }
        }
        let binned: u64 = self.scratch.iter().map(|&(_, c)| c).sum();
        if binned + zero != count || errors > requests || count > requests {
            return Err(RollupError::Inconsistent {
                requests,
                errors,
                latencies: count,
            });
        }
        self.requests += requests;
        self.errors += errors;
        self.latencies += count;
        self.zero += zero;
        if count > 0 {
            self.min = self.min.min(min);
            self.max = self.max.max(max);
        }
        if let (Some(lo), Some(hi)) = (
            self.scratch.iter().map(|&(k, _)| k).min(),
            self.scratch.iter().map(|&(k, _)| k).max(),
        ) {
            self.reserve(lo, hi);
            for &(k, c) in &self.scratch {
                let i = (k - self.offset).max(0) as usize;
                self.bins[i] += c;
            }
        }
        Ok(())
    }

    /// Makes room for keys `lo..=hi`. The range kept is at most [`MERGER_MAX_BINS`] wide, its
    /// top fixed by the largest key: lower keys fold into the lowest bin (as DDSketch collapses
    /// its lowest bins), so even corrupt keys cannot make it allocate more.
    fn reserve(&mut self, lo: i32, hi: i32) {
        let (old_lo, old_hi) = if self.bins.is_empty() {
            (lo, hi)
        } else {
            (self.offset, self.offset + self.bins.len() as i32 - 1)
        };
        let new_hi = i64::from(hi.max(old_hi));
        let new_lo = i64::from(lo.min(old_lo)).max(new_hi - MERGER_MAX_BINS as i64 + 1);
        if !self.bins.is_empty() && i64::from(old_lo) == new_lo && i64::from(old_hi) == new_hi {
            return;
        }
        let mut bins = vec![0u64; (new_hi - new_lo + 1) as usize];
        for (i, &c) in self.bins.iter().enumerate() {
            let at = (i64::from(self.offset) + i as i64 - new_lo).max(0) as usize;
            bins[at] += c;
        }
        self.bins = bins;
        // new_lo lies between the smallest and the largest i32 key.
        self.offset = new_lo as i32;
    }

    /// Requests merged.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Errors merged.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// The `q`-quantile by nearest rank, as [`LatencyStats::quantile`].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.latencies;
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = crate::quantile::nearest_rank(n as usize, q) as u64 - 1;
        if rank == 0 {
            return Some(self.min);
        }
        if rank + 1 >= n {
            return Some(self.max);
        }
        if rank < self.zero {
            return Some(0.0f64.clamp(self.min, self.max));
        }
        let mut seen = self.zero;
        for (i, &c) in self.bins.iter().enumerate() {
            seen += c;
            if seen > rank {
                let v = self.config.value(self.offset + i as i32);
                return Some(v.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// Requests, errors, error rate and the usual quantiles, as [`LatencyStats::summary`].
    pub fn summary(&self) -> Summary {
        Summary {
            requests: self.requests,
            errors: self.errors,
            error_rate: (self.requests > 0).then(|| self.errors as f64 / self.requests as f64),
            p50: self.quantile(0.50),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
            max: (self.latencies > 0).then_some(self.max),
        }
    }
}

fn read_f64(input: &mut &[u8]) -> Option<f64> {
    let (head, rest) = input.split_first_chunk::<8>()?;
    *input = rest;
    Some(f64::from_le_bytes(*head))
}

/// DataDog's variable-length double (`VarEncodingHelper.decodeVarDouble`): the bits of
/// `value + 1` minus those of 1, rotated left by 6, written 7 bits at a time from the top.
fn read_var_double(input: &mut &[u8]) -> Option<f64> {
    let mut bits: u64 = 0;
    let mut shift: i32 = 57;
    loop {
        let (&next, rest) = input.split_first()?;
        *input = rest;
        if shift == 1 {
            bits |= u64::from(next);
            break;
        }
        if next < 0x80 {
            bits |= u64::from(next) << shift;
            break;
        }
        bits |= u64::from(next & 0x7F) << shift;
        shift -= 7;
    }
    let raw = bits.rotate_right(6).wrapping_add(1.0f64.to_bits());
    Some(f64::from_bits(raw) - 1.0)
}

/// The fewest buckets that tile `window`: whole days where they fit, whole hours at the edges
/// of those, minutes at the edges of the hours. Each entry is a resolution and a range of
/// consecutive buckets of it, in time order; load the rollups of that resolution whose start is
/// in the range and merge them all. The window is first narrowed to whole minutes (a partial
/// minute at either end is left out, as in [`merge_window`]).
///
/// A 30-day window ending at 14:37 is 30 day rollups at most, plus up to 23 hour and 59 minute
/// rollups at each edge, instead of 43,200 minute rollups.
///
/// ```
/// use chrono::{DateTime, Duration};
/// use tokpulse_analyze::rollup::{Resolution, cover};
/// use tokpulse_core::Window;
///
/// let midnight = DateTime::from_timestamp(1_699_920_000, 0).unwrap();
/// let window = Window {
///     start: midnight - Duration::minutes(90),
///     end: midnight + Duration::days(2) + Duration::minutes(5),
/// };
/// let plan: Vec<(Resolution, i64)> = cover(window)
///     .into_iter()
///     .map(|(r, w)| (r, (w.end - w.start).num_minutes() / r.duration().num_minutes()))
///     .collect();
/// assert_eq!(
///     plan,
///     [
///         (Resolution::Minute, 30),
///         (Resolution::Hour, 1),
///         (Resolution::Day, 2),
///         (Resolution::Minute, 5),
///     ]
/// );
/// ```
pub fn cover(window: Window) -> Vec<(Resolution, Window)> {
    let minute = Resolution::Minute;
    let mut at = minute.bucket_start(window.start);
    if at < window.start {
        at += minute.duration();
    }
    let end = minute.bucket_start(window.end);
    let mut out: Vec<(Resolution, Window)> = Vec::new();
    while at < end {
        // The coarsest bucket that starts here and fits.
        let r = Resolution::ALL
            .into_iter()
            .rev()
            .find(|r| r.bucket_start(at) == at && at + r.duration() <= end)
            .unwrap_or(minute);
        let next = at + r.duration();
        match out.last_mut() {
            Some((last, w)) if *last == r && w.end == at => w.end = next,
            _ => out.push((
                r,
                Window {
                    start: at,
                    end: next,
                },
            )),
        }
        at = next;
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
        // The merger reads zeros and unusable durations the same way.
        let mut m = Merger::new();
        m.add(&s);
        m.add(&LatencyStats::new());
        // Latencies spanning more than the merger's bins fold into its lowest bin, as a sketch
        // collapses: the high quantiles stay exact to the bin.
        let mut wide = Merger::new();
        let mut tiny = LatencyStats::new();
        tiny.record(1e-8, false);
        let mut huge = LatencyStats::new();
        for _ in 0..99 {
            huge.record(1e300, false);
        }
        wide.add(&tiny);
        wide.add(&huge);
        assert!(wide.bins.len() <= MERGER_MAX_BINS);
        let p99 = wide.quantile(0.99).unwrap();
        assert!((p99 - 1e300).abs() <= 1e300 * RELATIVE_ACCURACY, "{p99}");
        assert_eq!(wide.quantile(0.0), Some(1e-8));
        assert_eq!(wide.bins.len(), MERGER_MAX_BINS);
        assert_eq!(m.summary(), summary);
        assert_eq!(Merger::new().summary().p95, None);
        assert_eq!(m.add_bytes(&[2]), Err(RollupError::UnknownVersion(2)));
        assert!(m.add_bytes(&[1, 1, 0, 0x07, 1, 2, 3]).is_err());
        assert_eq!(m.requests(), 4);
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
        assert!("week".parse::<Resolution>().is_err());
        assert_eq!(
            Resolution::Day.bucket_start(t),
            DateTime::from_timestamp(1_700_006_400, 0).unwrap()
        );
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

    #[test]
    fn cover_tiles_a_window_with_the_coarsest_buckets() {
        let day0 = t0() - TimeDelta::hours(t0().timestamp() % 86_400 / 3600);
        // Aligned: whole days only.
        let w = Window {
            start: day0,
            end: day0 + TimeDelta::days(30),
        };
        assert_eq!(cover(w), vec![(Resolution::Day, w)]);
        // Ragged ends, with seconds: minutes, hours, days, hours, minutes; gap-free.
        let w = Window {
            start: day0 - TimeDelta::seconds(2 * 3600 + 10 * 60 + 7),
            end: day0 + TimeDelta::days(3) + TimeDelta::seconds(5 * 3600 + 3 * 60 + 59),
        };
        let plan = cover(w);
        let kinds: Vec<Resolution> = plan.iter().map(|(r, _)| *r).collect();
        use Resolution::{Day, Hour, Minute};
        assert_eq!(kinds, [Minute, Hour, Day, Hour, Minute]);
        assert_eq!(plan[0].1.start, day0 - TimeDelta::minutes(2 * 60 + 10));
        assert_eq!(
            plan[4].1.end,
            day0 + TimeDelta::days(3) + TimeDelta::minutes(5 * 60 + 3)
        );
        for pair in plan.windows(2) {
            assert_eq!(pair[0].1.end, pair[1].1.start);
        }
        // Merging the planned rollups gives the window's requests (minus partial minutes).
        let samples: Vec<RequestSample> = (0..(4 * 24 * 60))
            .map(|m| {
                sample(
                    day0 - TimeDelta::hours(12) + TimeDelta::minutes(m),
                    "GET /a",
                    1.0,
                    false,
                )
            })
            .collect();
        let by_res: Vec<Vec<Rollup>> = Resolution::ALL
            .iter()
            .map(|&r| rollups(&samples, r))
            .collect();
        let mut merged = LatencyStats::new();
        for (r, range) in &plan {
            let i = Resolution::ALL.iter().position(|x| x == r).unwrap();
            merged.merge(&merge_window(&by_res[i], "api", "GET /a", *range));
        }
        let want = samples
            .iter()
            .filter(|s| s.timestamp >= plan[0].1.start && s.timestamp < plan[4].1.end)
            .count() as u64;
        assert_eq!(merged.requests(), want);
        // Empty and sub-minute windows need nothing.
        let tiny = Window {
            start: day0 + TimeDelta::seconds(10),
            end: day0 + TimeDelta::seconds(50),
        };
        assert!(cover(tiny).is_empty());
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
        fn merger_reads_the_bytes_like_from_bytes(a in values(), b in values(), c in values()) {
            let mut m = Merger::new();
            let mut all = LatencyStats::new();
            for v in [&a, &b, &c] {
                let s = stats_of(v);
                m.add_bytes(&s.to_bytes()).unwrap();
                all.merge(&LatencyStats::from_bytes(&s.to_bytes()).unwrap());
            }
            prop_assert_eq!(m.summary(), all.summary());
            for q in [0.0, 0.1, 0.33, 0.5, 0.77, 0.9, 0.999, 1.0] {
                prop_assert_eq!(m.quantile(q), all.quantile(q));
            }
        }

        #[test]
        fn corrupt_bytes_are_errors_not_panics(
            a in values(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = stats_of(&a).to_bytes();
            for (i, b) in &flips {
                let i = i.index(bytes.len());
                bytes[i] = *b;
            }
            let cut = cut.index(bytes.len() + 1);
            let bytes = &bytes[..cut];
            let _ = LatencyStats::from_bytes(bytes);
            let _ = Merger::new().add_bytes(bytes);
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
