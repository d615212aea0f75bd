//! TokPulse's analyzers: pure functions from windows of data to [`Finding`]s.
//!
//! An [`Analyzer`] gets its data as [`Inputs`] (the window examined, the baseline window before
//! it, the request samples of each, and the deployments around them) and returns findings. It
//! does no I/O and reads no clock: `Inputs::now` is the time, and the same input always gives
//! the same findings in the same order. The engine loads the input, stores the output and dedupes
//! findings by fingerprint; analyzers never do.
//!
//! - [`RouteHealth`] (`[analyzers.route_health]`): p95 latency and error rate per service and
//!   route, against thresholds and against the baseline window (the seed's "deviation > 20%"),
//!   naming the deploy that most likely caused a regression.
//! - [`AnalyzersConfig`] (`[analyzers]`): the one place analyzers are listed; validates their
//!   settings and builds them.
//! - [`quantile`] / [`p95`]: exact nearest-rank quantiles.
//! - [`anomaly`]: a streaming anomaly detector for one metric series
//!   ([`anomaly::StreamingDetector`]) and NAB's scoring rules ([`anomaly::nab`]).
//! - [`rollup`]: per service, route and minute or hour, a mergeable latency sketch (DDSketch)
//!   with request and error counts; p50/p95/p99 over any window from merged rollups, within
//!   0.5% of the exact value; a compact versioned byte encoding for the store.
//! - [`baseline`]: a robust (median, MAD) baseline, seasonal (same hour of the week) once there
//!   is enough history, and the seed's rule: above it by more than 20% and beyond its noise.
//! - [`changepoint`]: level shifts that persist (PELT, penalised by the series' robust noise)
//!   and [`changepoint::LevelShifts::finding`].
//! - [`ci`]: CI failure patterns over GitHub Actions jobs: a job failing more than 3 times in a
//!   row on a branch, flaky jobs (failed and passed on one commit), one finding per root cause
//!   (failure-message template) across jobs.
//! - [`deploy`]: deploy regressions (per route, after vs before a deploy, Mann–Whitney U on
//!   latencies and a two-proportion test on errors, with effect-size thresholds) and
//!   [`deploy::gather_by_deploy`], which folds the alerts that follow a deploy into its finding.
//! - [`hysteresis`]: open a problem after K bad windows in a row, resolve it after M good ones,
//!   skip windows below a minimum volume; the state is serialisable for the engine to keep.
//! - [`templates`]: a Drain-style log template miner (numbers, ids, hex, UUIDs → `<*>`), the top
//!   patterns of a window, patterns new since a deploy, and [`templates::NewErrorPatterns`].
//!
//! ```
//! use chrono::{DateTime, Duration};
//! use tokpulse_analyze::{Analyzer, Inputs, RouteHealth};
//! use tokpulse_core::{FindingKind, RequestSample, Window};
//!
//! let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
//! let window = Window { start: now - Duration::minutes(30), end: now };
//! let baseline_window = window.previous();
//! let samples = |w: Window, ms: f64| -> Vec<RequestSample> {
//!     (0..100)
//!         .map(|i| RequestSample {
//!             timestamp: w.start + Duration::seconds(i),
//!             service: "search-api".into(),
//!             route: "GET /api/search".into(),
//!             duration_ms: ms,
//!             is_error: false,
//!         })
//!         .collect()
//! };
//! let (current, baseline) = (samples(window, 750.0), samples(baseline_window, 310.0));
//! let input = Inputs {
//!     now,
//!     window,
//!     current: &current,
//!     baseline_window,
//!     baseline: &baseline,
//!     deployments: &[],
//! };
//!
//! let findings = RouteHealth::default().analyze(&input);
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].kind, FindingKind::LatencyRegression);
//! assert_eq!(
//!     findings[0].title,
//!     "p95 latency of GET /api/search on search-api up 142% (310 ms → 750 ms)"
//! );
//! ```
#![warn(missing_docs)]

mod analyzers;
pub mod anomaly;
pub mod baseline;
pub mod changepoint;
pub mod ci;
pub mod deploy;
pub mod hysteresis;
mod quantile;
pub mod rollup;
pub mod templates;

pub use analyzers::{AnalyzersConfig, RouteHealth, RouteStats};
pub use quantile::{p95, quantile};

use tokpulse_core::{DeployEvent, Finding, FindingKind, RequestSample, Timestamp, Window};

/// What an analyzer looks at. The engine loads it; the analyzer only reads it.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The time of the run: analyzers read no clock.
    pub now: Timestamp,
    /// The window examined (usually ending at `now`).
    pub window: Window,
    /// Requests that finished inside `window`. Samples outside it are ignored.
    pub current: &'a [RequestSample],
    /// The window compared against (usually `window.previous()`).
    pub baseline_window: Window,
    /// Requests that finished inside `baseline_window`. Samples outside it are ignored.
    pub baseline: &'a [RequestSample],
    /// Deployments from `baseline_window.start` to `window.end`, any order.
    pub deployments: &'a [DeployEvent],
}

/// A pure function from [`Inputs`] to [`Finding`]s.
pub trait Analyzer {
    /// The name under `[analyzers]` in `tokpulse.toml` (`route_health`).
    fn name(&self) -> &'static str;

    /// The kinds of finding it can produce. The engine resolves open findings of these kinds
    /// that a run no longer reports.
    fn kinds(&self) -> &'static [FindingKind];

    /// The findings in `input`, in a deterministic order: the same input gives the same output.
    fn analyze(&self, input: &Inputs<'_>) -> Vec<Finding>;
}
