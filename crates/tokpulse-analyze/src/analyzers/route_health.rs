//! `[analyzers.route_health]`: p95 latency and error rate per service and route.

use crate::{Analyzer, Inputs, quantile};
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokpulse_core::{
    Cause, DeployEvent, Evidence, Finding, FindingKind, Fingerprint, RequestSample, Severity,
    Timestamp, Window,
};

/// Relative differences smaller than this are rounding, not change: a rise of exactly
/// `max_deviation` never fires because of floating-point noise.
const EPSILON: f64 = 1e-9;

/// An error rate at or above this is critical, whatever the settings.
const CRITICAL_ERROR_RATE: f64 = 0.20;

/// Flags a route whose p95 latency or error rate is over its threshold, or well above the same
/// route's in the baseline window (the seed's rule: a deviation of more than 20%).
///
/// For each `(service, route)` with at least `min_requests` requests in the window:
///
/// - **Latency** ([`FindingKind::LatencyRegression`]): the exact (nearest-rank) p95 is above
///   `p95_threshold_ms`; or the baseline has at least `min_requests` requests too and the p95
///   rose over the baseline's p95 by more than `max_deviation` (a ratio: 0.20 is 20%) *and* by
///   at least `min_p95_increase_ms`.
/// - **Errors** ([`FindingKind::ErrorSpike`]): the share of 5xx responses is above
///   `error_rate_threshold`; or the baseline has at least `min_requests` requests and the rate
///   rose over the baseline's by more than `max_deviation` (relative) *and* is at least
///   `min_error_rate` *and* the rise is significant: seeing this many errors in this many
///   requests at the baseline's rate (smoothed, so a baseline of 0 errors is not taken as a
///   certain 0%) has a one-sided Poisson probability below `significance`. Three errors in two
///   hundred requests after a quiet half hour are bad luck, not a spike.
///
/// A rise of exactly `max_deviation` does not fire. Requests with a non-finite duration count
/// as requests but not towards latency.
///
/// **Severity.** Latency: *high* when the p95 is at least twice the baseline's p95 or at least
/// twice `p95_threshold_ms`, otherwise *warning*. Errors: *critical* at an error rate of 20% or
/// more, *high* at or above `error_rate_threshold`, otherwise *warning*.
///
/// **Cause.** The latest deployment of the same service at or after the start of the baseline
/// window and before the end of the window (ties broken by the larger id).
///
/// Fingerprint: `Fingerprint::of(kind, &[service, route])`. Findings are ordered by severity
/// (most severe first), then service, route and kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteHealth {
    /// Length of the window examined, in minutes; the baseline is the window of the same length
    /// just before it (see [`RouteHealth::windows`]). Default 30.
    pub window_minutes: u32,
    /// Routes with fewer requests in the window are skipped, and a baseline with fewer requests
    /// is not compared against. Default 50.
    pub min_requests: u64,
    /// The rise over the baseline that counts as a regression, as a ratio: 0.20 flags a rise of
    /// more than 20% (the seed's rule). Default 0.20.
    pub max_deviation: f64,
    /// A p95 latency above this many milliseconds is flagged whatever the baseline;
    /// `"off"` disables the check. Default 1500.
    #[serde(with = "off_or_number")]
    pub p95_threshold_ms: Option<f64>,
    /// An error rate (0 to 1) above this is flagged whatever the baseline; `"off"` disables the
    /// check. Default 0.05.
    #[serde(with = "off_or_number")]
    pub error_rate_threshold: Option<f64>,
    /// The smallest error rate (0 to 1) a rise over the baseline may flag: 0.1% → 0.2% is +100%
    /// but should page nobody. Default 0.01.
    pub min_error_rate: f64,
    /// The smallest rise of the p95 over the baseline's, in milliseconds, that may flag a
    /// route. Default 50.
    pub min_p95_increase_ms: f64,
    /// How unlikely under the baseline's error rate a rise must be to count (one-sided Poisson
    /// tail probability). Default 0.001.
    pub significance: f64,
}

impl Default for RouteHealth {
    fn default() -> Self {
        RouteHealth {
            window_minutes: 30,
            min_requests: 50,
            max_deviation: 0.20,
            p95_threshold_ms: Some(1500.0),
            error_rate_threshold: Some(0.05),
            min_error_rate: 0.01,
            min_p95_increase_ms: 50.0,
            significance: 0.001,
        }
    }
}

impl RouteHealth {
    /// Every problem in the settings, as `field: reason, got value`. Empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.window_minutes == 0 {
            problems.push("window_minutes: must be at least 1, got 0".to_owned());
        }
        if self.min_requests == 0 {
            problems.push("min_requests: must be at least 1, got 0".to_owned());
        }
        if !(self.max_deviation.is_finite() && self.max_deviation > 0.0) {
            problems.push(format!(
                "max_deviation: must be > 0, got {}",
                self.max_deviation
            ));
        }
        if let Some(t) = self.p95_threshold_ms
            && !(t.is_finite() && t > 0.0)
        {
            problems.push(format!(
                "p95_threshold_ms: must be > 0 (or \"off\"), got {t}"
            ));
        }
        if let Some(t) = self.error_rate_threshold
            && !(t > 0.0 && t <= 1.0)
        {
            problems.push(format!(
                "error_rate_threshold: must be in (0, 1] (0.05 is 5%) or \"off\", got {t}"
            ));
        }
        if !(0.0..=1.0).contains(&self.min_error_rate) {
            problems.push(format!(
                "min_error_rate: must be in [0, 1] (0.01 is 1%), got {}",
                self.min_error_rate
            ));
        }
        if !(self.min_p95_increase_ms.is_finite() && self.min_p95_increase_ms >= 0.0) {
            problems.push(format!(
                "min_p95_increase_ms: must be >= 0, got {}",
                self.min_p95_increase_ms
            ));
        }
        if !(self.significance > 0.0 && self.significance < 1.0) {
            problems.push(format!(
                "significance: must be in (0, 1) (0.001 is one in a thousand), got {}",
                self.significance
            ));
        }
        problems
    }

    /// The window this analyzer examines at `now` (the last `window_minutes`, ending at `now`)
    /// and its baseline (the window of the same length just before).
    pub fn windows(&self, now: Timestamp) -> (Window, Window) {
        let window = Window {
            start: now - TimeDelta::minutes(i64::from(self.window_minutes)),
            end: now,
        };
        (window, window.previous())
    }

    fn check_latency(&self, route: &Observed<'_>) -> Option<LatencyHit> {
        let p95 = route.current.p95?;
        let baseline = route.baseline.and_then(|b| b.p95);
        let over_threshold = self.p95_threshold_ms.is_some_and(|t| p95 > t);
        let deviated = baseline.is_some_and(|b| {
            rose_by_more_than(p95, b, self.max_deviation) && p95 - b >= self.min_p95_increase_ms
        });
        if !(over_threshold || deviated) {
            return None;
        }
        let severity = if baseline.is_some_and(|b| p95 >= 2.0 * b)
            || self.p95_threshold_ms.is_some_and(|t| p95 >= 2.0 * t)
        {
            Severity::High
        } else {
            Severity::Warning
        };
        Some(LatencyHit {
            p95,
            baseline,
            deviated,
            severity,
        })
    }

    fn check_errors(&self, route: &Observed<'_>) -> Option<ErrorHit> {
        let rate = route.current.error_rate();
        let baseline = route.baseline.map(RouteStats::error_rate);
        let over_threshold = self.error_rate_threshold.is_some_and(|t| rate > t);
        let deviated = route.baseline.is_some_and(|b| {
            rose_by_more_than(rate, b.error_rate(), self.max_deviation)
                && rate >= self.min_error_rate
                && poisson_tail(
                    route.current.errors,
                    route.current.requests as f64 * smoothed_rate(b.errors, b.requests),
                ) < self.significance
        });
        if !(over_threshold || deviated) {
            return None;
        }
        let severity = if rate >= CRITICAL_ERROR_RATE {
            Severity::Critical
        } else if self.error_rate_threshold.is_some_and(|t| rate >= t) {
            Severity::High
        } else {
            Severity::Warning
        };
        Some(ErrorHit {
            rate,
            baseline,
            deviated,
            severity,
        })
    }

    fn latency_finding(
        &self,
        input: &Inputs<'_>,
        route: &Observed<'_>,
        hit: &LatencyHit,
        cause: Option<Cause>,
    ) -> Finding {
        let (service, path) = (route.service, route.route);
        let title = match (hit.deviated, hit.baseline, self.p95_threshold_ms) {
            (true, Some(b), _) => format!(
                "p95 latency of {path} on {service} up{} ({} → {})",
                fmt_rise(hit.p95, b),
                fmt_ms(b),
                fmt_ms(hit.p95)
            ),
            (_, _, Some(t)) => format!(
                "p95 latency of {path} on {service} at {} (threshold {})",
                fmt_ms(hit.p95),
                fmt_ms(t)
            ),
            _ => format!("p95 latency of {path} on {service} at {}", fmt_ms(hit.p95)),
        };
        let mut evidence = vec![Evidence {
            metric: "p95 latency".into(),
            current: hit.p95,
            baseline: hit.baseline,
            threshold: self.p95_threshold_ms,
            unit: "ms".into(),
        }];
        evidence.extend(self.p50_evidence(route));
        evidence.push(self.error_rate_evidence(route));
        evidence.extend(self.count_evidence(route));
        let suggestion = match &cause {
            Some(c) => suggest_with_cause(
                input.now,
                service,
                c,
                &format!("the slowest traces of {path}"),
            ),
            None => format!(
                "No deploy of {service} since {}. Look at the slowest traces of {path} for the \
                 span that grew (database queries, downstream calls, locks) and at its load: {} \
                 requests in this window, {} in the one before.",
                fmt_time(cause_range(input).0),
                route.current.requests,
                route.baseline_requests
            ),
        };
        Finding {
            evidence,
            cause,
            suggestion,
            ..new_finding(
                FindingKind::LatencyRegression,
                hit.severity,
                title,
                input,
                route,
            )
        }
    }

    fn error_finding(
        &self,
        input: &Inputs<'_>,
        route: &Observed<'_>,
        hit: &ErrorHit,
        cause: Option<Cause>,
    ) -> Finding {
        let (service, path) = (route.service, route.route);
        let rate = fmt_pct(hit.rate);
        let title = match (hit.deviated, hit.baseline, self.error_rate_threshold) {
            (true, Some(b), _) => format!(
                "Error rate of {path} on {service} at {rate} (baseline {})",
                fmt_pct(b)
            ),
            (_, Some(b), Some(t)) => format!(
                "Error rate of {path} on {service} at {rate} (threshold {}, baseline {})",
                fmt_pct(t),
                fmt_pct(b)
            ),
            (_, None, Some(t)) => format!(
                "Error rate of {path} on {service} at {rate} (threshold {})",
                fmt_pct(t)
            ),
            _ => format!("Error rate of {path} on {service} at {rate}"),
        };
        let mut evidence = vec![self.error_rate_evidence(route)];
        evidence.extend(self.count_evidence(route));
        if let Some(p95) = route.current.p95 {
            evidence.push(Evidence {
                metric: "p95 latency".into(),
                current: p95,
                baseline: route.baseline.and_then(|b| b.p95),
                threshold: self.p95_threshold_ms,
                unit: "ms".into(),
            });
        }
        let suggestion = match &cause {
            Some(c) => suggest_with_cause(
                input.now,
                service,
                c,
                &format!("the 5xx responses of {path} in the logs"),
            ),
            None => format!(
                "No deploy of {service} since {}. Look at the logs of {service} for the {} \
                 failed requests (5xx) to {path} in this window, and at the health of what it \
                 calls: database, upstream APIs, rate limits, expired credentials.",
                fmt_time(cause_range(input).0),
                route.current.errors
            ),
        };
        Finding {
            evidence,
            cause,
            suggestion,
            ..new_finding(FindingKind::ErrorSpike, hit.severity, title, input, route)
        }
    }

    fn p50_evidence(&self, route: &Observed<'_>) -> Option<Evidence> {
        Some(Evidence {
            metric: "p50 latency".into(),
            current: route.current.p50?,
            baseline: route.baseline.and_then(|b| b.p50),
            threshold: None,
            unit: "ms".into(),
        })
    }

    fn error_rate_evidence(&self, route: &Observed<'_>) -> Evidence {
        Evidence {
            metric: "error rate".into(),
            current: route.current.error_rate() * 100.0,
            baseline: route.baseline.map(|b| b.error_rate() * 100.0),
            threshold: self.error_rate_threshold.map(|t| t * 100.0),
            unit: "%".into(),
        }
    }

    /// Requests and errors; the baseline's counts are shown even when too few to compare
    /// against, since they explain why there is no baseline.
    fn count_evidence(&self, route: &Observed<'_>) -> [Evidence; 2] {
        [
            Evidence {
                metric: "requests".into(),
                current: route.current.requests as f64,
                baseline: Some(route.baseline_requests as f64),
                threshold: None,
                unit: "requests".into(),
            },
            Evidence {
                metric: "errors".into(),
                current: route.current.errors as f64,
                baseline: Some(route.baseline_errors as f64),
                threshold: None,
                unit: "requests".into(),
            },
        ]
    }
}

impl Analyzer for RouteHealth {
    fn name(&self) -> &'static str {
        "route_health"
    }

    fn kinds(&self) -> &'static [FindingKind] {
        &[FindingKind::LatencyRegression, FindingKind::ErrorSpike]
    }

    fn analyze(&self, input: &Inputs<'_>) -> Vec<Finding> {
        let current = route_stats(input.current, input.window);
        let baseline = route_stats(input.baseline, input.baseline_window);
        self.analyze_stats(input, &current, &baseline)
    }
}

impl RouteHealth {
    /// The same checks as [`Analyzer::analyze`], on numbers per `(service, route)` already
    /// computed for `input.window` and `input.baseline_window` (the engine merges them from
    /// rollups); `input.current` and `input.baseline` are not read.
    pub fn analyze_stats(
        &self,
        input: &Inputs<'_>,
        current: &BTreeMap<(&str, &str), RouteStats>,
        baseline: &BTreeMap<(&str, &str), RouteStats>,
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (&(service, path), stats) in current {
            if stats.requests < self.min_requests {
                continue;
            }
            let base_all = baseline.get(&(service, path));
            let route = Observed {
                service,
                route: path,
                current: stats,
                baseline: base_all.filter(|b| b.requests >= self.min_requests),
                baseline_requests: base_all.map_or(0, |b| b.requests),
                baseline_errors: base_all.map_or(0, |b| b.errors),
            };
            let latency = self.check_latency(&route);
            let errors = self.check_errors(&route);
            if latency.is_none() && errors.is_none() {
                continue;
            }
            let (from, to) = cause_range(input);
            let cause = likely_cause(input.deployments, service, from, to);
            if let Some(hit) = latency {
                findings.push(self.latency_finding(input, &route, &hit, cause.clone()));
            }
            if let Some(hit) = errors {
                findings.push(self.error_finding(input, &route, &hit, cause));
            }
        }
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.service.cmp(&b.service))
                .then_with(|| a.route.cmp(&b.route))
                .then_with(|| a.kind.cmp(&b.kind))
        });
        findings
    }
}

/// A finding about `route` without evidence, cause or suggestion yet.
fn new_finding(
    kind: FindingKind,
    severity: Severity,
    title: String,
    input: &Inputs<'_>,
    route: &Observed<'_>,
) -> Finding {
    Finding {
        kind,
        severity,
        fingerprint: Fingerprint::of(kind, &[route.service, route.route]),
        title,
        service: route.service.to_owned(),
        route: Some(route.route.to_owned()),
        window: input.window,
        evidence: Vec::new(),
        cause: None,
        suggestion: String::new(),
    }
}

/// The baseline's error rate with half an error added (Jeffreys' prior): a baseline without
/// errors is "rare", not "impossible".
fn smoothed_rate(errors: u64, requests: u64) -> f64 {
    (errors as f64 + 0.5) / (requests as f64 + 1.0)
}

/// P(X >= k) for X ~ Poisson(mean), summed in log space so large counts neither overflow nor
/// underflow.
fn poisson_tail(k: u64, mean: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if mean <= 0.0 {
        return 0.0;
    }
    // P(X >= k) = 1 - sum_{i<k} P(X = i); for k far above the mean, sum the upper terms instead.
    let ln_p = |i: u64| -mean + i as f64 * mean.ln() - ln_factorial(i);
    if (k as f64) > mean {
        let mut total = 0.0;
        let mut i = k;
        loop {
            let term = ln_p(i).exp();
            total += term;
            if term < total * 1e-12 || i > k + 100_000 {
                break;
            }
            i += 1;
        }
        total.min(1.0)
    } else {
        let below: f64 = (0..k).map(|i| ln_p(i).exp()).sum();
        (1.0 - below).clamp(0.0, 1.0)
    }
}

/// ln(n!), exact for small n and by Stirling's series beyond.
fn ln_factorial(n: u64) -> f64 {
    if n < 20 {
        return (1..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (std::f64::consts::TAU * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x * x)
}

/// One route's numbers in one window: exact from samples, or merged from rollups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteStats {
    /// Requests.
    pub requests: u64,
    /// Errors (5xx).
    pub errors: u64,
    /// Median latency, ms.
    pub p50: Option<f64>,
    /// 95th percentile latency, ms.
    pub p95: Option<f64>,
}

impl RouteStats {
    /// Share of 5xx responses, 0 to 1. Groups are never empty.
    fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

/// A route with enough requests to judge, and its baseline if that has enough too.
struct Observed<'a> {
    service: &'a str,
    route: &'a str,
    current: &'a RouteStats,
    baseline: Option<&'a RouteStats>,
    baseline_requests: u64,
    baseline_errors: u64,
}

struct LatencyHit {
    p95: f64,
    baseline: Option<f64>,
    /// Fired by the rise over the baseline (not only by the threshold).
    deviated: bool,
    severity: Severity,
}

struct ErrorHit {
    rate: f64,
    baseline: Option<f64>,
    deviated: bool,
    severity: Severity,
}

/// Groups the samples inside `window` by `(service, route)`, in a stable order.
fn route_stats(samples: &[RequestSample], window: Window) -> BTreeMap<(&str, &str), RouteStats> {
    let mut groups: BTreeMap<(&str, &str), (u64, u64, Vec<f64>)> = BTreeMap::new();
    for s in samples.iter().filter(|s| window.contains(s.timestamp)) {
        let g = groups
            .entry((s.service.as_str(), s.route.as_str()))
            .or_default();
        g.0 += 1;
        g.1 += u64::from(s.is_error);
        if s.duration_ms.is_finite() {
            g.2.push(s.duration_ms);
        }
    }
    groups
        .into_iter()
        .map(|(key, (requests, errors, mut durations))| {
            let stats = RouteStats {
                requests,
                errors,
                p50: quantile(&mut durations, 0.5),
                p95: quantile(&mut durations, 0.95),
            };
            (key, stats)
        })
        .collect()
}

/// Whether `current` is more than `ratio` above `baseline` (relative). From a baseline of zero,
/// any rise is.
fn rose_by_more_than(current: f64, baseline: f64, ratio: f64) -> bool {
    if baseline <= 0.0 {
        current > baseline
    } else {
        (current - baseline) / baseline > ratio + EPSILON
    }
}

/// Where a cause is looked for: from the start of the baseline to the end of the window.
fn cause_range(input: &Inputs<'_>) -> (Timestamp, Timestamp) {
    (
        input.baseline_window.start.min(input.window.start),
        input.window.end,
    )
}

/// The latest deployment of `service` in `[from, to)`.
fn likely_cause(
    deployments: &[DeployEvent],
    service: &str,
    from: Timestamp,
    to: Timestamp,
) -> Option<Cause> {
    deployments
        .iter()
        .filter(|d| d.service.as_str() == service && from <= d.timestamp && d.timestamp < to)
        .max_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.id.cmp(&b.id)))
        .map(|d| Cause {
            deployment_id: d.id.to_string(),
            version: d.version.to_string(),
            commit_sha: d.commit_sha.as_ref().map(ToString::to_string),
            author: d.author.clone(),
            deployed_at: d.timestamp,
        })
}

/// "Deploy v2 of web (commit abc1234, by alice) went out at …; roll back or bisect".
fn suggest_with_cause(now: Timestamp, service: &str, cause: &Cause, look_at: &str) -> String {
    let short = cause.commit_sha.as_deref().map(short_sha);
    let by = cause.author.as_deref().map(|a| format!("by {a}"));
    let details = match (&short, &by) {
        (Some(s), Some(b)) => format!(" (commit {s}, {b})"),
        (Some(s), None) => format!(" (commit {s})"),
        (None, Some(b)) => format!(" ({b})"),
        (None, None) => String::new(),
    };
    let ago = (now - cause.deployed_at).num_minutes();
    let ago = if ago >= 0 {
        format!(", {ago} min before this run")
    } else {
        String::new()
    };
    let starting = short
        .map(|s| format!(", starting with {s},"))
        .unwrap_or_default();
    format!(
        "Deploy {version} of {service}{details} went out at {at}{ago}. Roll back to the previous \
         version or bisect the commits in {version}{starting} to confirm it is the cause; \
         compare {look_at} before and after {at}.",
        version = cause.version,
        at = fmt_time(cause.deployed_at),
    )
}

fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn fmt_time(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `750 ms`, `12.5 ms`.
fn fmt_ms(ms: f64) -> String {
    if ms.abs() >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A rate (0 to 1) as a percentage: `18.2%`, `0.04%`, `0%`.
fn fmt_pct(rate: f64) -> String {
    let p = rate * 100.0;
    if p == 0.0 {
        "0%".to_owned()
    } else if p < 0.1 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

/// ` 142%` (with its leading space), or nothing from a zero baseline.
fn fmt_rise(current: f64, baseline: f64) -> String {
    if baseline > 0.0 {
        format!(" {:.0}%", (current / baseline - 1.0) * 100.0)
    } else {
        String::new()
    }
}

/// `p95_threshold_ms = 1500` or `p95_threshold_ms = "off"` (also `false`); `None` is written
/// back as `"off"` so that a saved config reads back the same.
mod off_or_number {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_f64(*v),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_any(OffOrNumber)
    }

    struct OffOrNumber;

    impl<'de> Visitor<'de> for OffOrNumber {
        type Value = Option<f64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number or \"off\"")
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v == "off" {
                Ok(None)
            } else {
                Err(E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            if v {
                Err(E::invalid_value(de::Unexpected::Bool(v), &self))
            } else {
                Ok(None)
            }
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokpulse_core::{Label, RecordId};

    const SEARCH: (&str, &str) = ("search-api", "GET /api/search");

    fn now() -> Timestamp {
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn windows() -> (Window, Window) {
        RouteHealth::default().windows(now())
    }

    /// One request per duration, spread over `w`; the first `errors` are 5xx.
    fn samples(
        (service, route): (&str, &str),
        w: Window,
        durations: &[f64],
        errors: usize,
    ) -> Vec<RequestSample> {
        let step = (w.end - w.start) / (durations.len() as i32 + 1);
        durations
            .iter()
            .enumerate()
            .map(|(i, &ms)| RequestSample {
                timestamp: w.start + step * (i as i32),
                service: service.into(),
                route: route.into(),
                duration_ms: ms,
                is_error: i < errors,
            })
            .collect()
    }

    fn same(n: usize, ms: f64) -> Vec<f64> {
        vec![ms; n]
    }

    fn deploy(id: &str, service: &str, at: Timestamp, version: &str) -> DeployEvent {
        DeployEvent {
            id: RecordId::parse(id).unwrap(),
            timestamp: at,
            service: Label::parse(service).unwrap(),
            environment: Label::parse("production").unwrap(),
            version: Label::parse(version).unwrap(),
            commit_sha: Some(Label::parse(&format!("{id}0123456789abcdef")).unwrap()),
            author: Some("alice".into()),
            description: None,
        }
    }

    fn run(
        rh: &RouteHealth,
        current: &[RequestSample],
        baseline: &[RequestSample],
        deployments: &[DeployEvent],
    ) -> Vec<Finding> {
        let (window, baseline_window) = rh.windows(now());
        rh.analyze(&Inputs {
            now: now(),
            window,
            current,
            baseline_window,
            baseline,
            deployments,
        })
    }

    fn evidence<'f>(f: &'f Finding, metric: &str) -> &'f Evidence {
        f.evidence.iter().find(|e| e.metric == metric).unwrap()
    }

    #[test]
    fn latency_regression_is_found() {
        let (w, b) = windows();
        let f = run(
            &RouteHealth::default(),
            &samples(SEARCH, w, &same(100, 750.0), 0),
            &samples(SEARCH, b, &same(100, 310.0), 0),
            &[],
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        let f = &f[0];
        assert_eq!(f.kind, FindingKind::LatencyRegression);
        assert_eq!(
            f.severity,
            Severity::High,
            "750 ms is more than twice 310 ms"
        );
        assert_eq!(
            f.title,
            "p95 latency of GET /api/search on search-api up 142% (310 ms → 750 ms)"
        );
        assert_eq!(
            f.fingerprint,
            Fingerprint::of(
                FindingKind::LatencyRegression,
                &["search-api", "GET /api/search"]
            )
        );
        assert_eq!(
            (f.service.as_str(), f.route.as_deref()),
            (SEARCH.0, Some(SEARCH.1))
        );
        assert_eq!(f.window, w);
        let p95 = evidence(f, "p95 latency");
        assert_eq!(
            (p95.current, p95.baseline, p95.threshold, p95.unit.as_str()),
            (750.0, Some(310.0), Some(1500.0), "ms")
        );
        assert_eq!(evidence(f, "requests").current, 100.0);
        assert_eq!(evidence(f, "error rate").current, 0.0);
        assert_eq!(f.cause, None);
        assert!(
            f.suggestion.starts_with("No deploy of search-api since"),
            "{}",
            f.suggestion
        );
        assert!(
            f.suggestion
                .contains("100 requests in this window, 100 in the one before")
        );
    }

    #[test]
    fn a_small_rise_is_a_warning() {
        let (w, b) = windows();
        let f = run(
            &RouteHealth::default(),
            &samples(SEARCH, w, &same(100, 400.0), 0),
            &samples(SEARCH, b, &same(100, 300.0), 0),
            &[],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(
            f[0].title,
            "p95 latency of GET /api/search on search-api up 33% (300 ms → 400 ms)"
        );
    }

    #[test]
    fn noise_below_min_requests_pages_nobody() {
        let (w, b) = windows();
        let rh = RouteHealth::default();
        // Three very slow, failing requests.
        let f = run(&rh, &samples(SEARCH, w, &same(3, 10_000.0), 3), &[], &[]);
        assert!(f.is_empty(), "{f:#?}");
        // One short of the minimum, against a healthy baseline.
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(49, 10_000.0), 49),
            &samples(SEARCH, b, &same(100, 100.0), 0),
            &[],
        );
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn thresholds_apply_without_a_baseline() {
        let (w, b) = windows();
        let rh = RouteHealth::default();
        let f = run(&rh, &samples(SEARCH, w, &same(60, 2000.0), 0), &[], &[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::LatencyRegression);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(
            f[0].title,
            "p95 latency of GET /api/search on search-api at 2000 ms (threshold 1500 ms)"
        );
        assert_eq!(evidence(&f[0], "p95 latency").baseline, None);
        assert_eq!(evidence(&f[0], "requests").baseline, Some(0.0));

        // A baseline too small to compare against is not used, but its size is shown.
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(60, 3500.0), 0),
            &samples(SEARCH, b, &same(10, 3500.0), 0),
            &[],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].severity,
            Severity::High,
            "more than twice the threshold"
        );
        assert_eq!(evidence(&f[0], "p95 latency").baseline, None);
        assert_eq!(evidence(&f[0], "requests").baseline, Some(10.0));

        let f = run(&rh, &samples(SEARCH, w, &same(60, 100.0), 6), &[], &[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::ErrorSpike);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].title,
            "Error rate of GET /api/search on search-api at 10.0% (threshold 5.0%)"
        );
        let e = evidence(&f[0], "error rate");
        assert_eq!(
            (e.baseline, e.threshold, e.unit.as_str()),
            (None, Some(5.0), "%")
        );
        assert!((e.current - 10.0).abs() < 1e-9);
    }

    #[test]
    fn thresholds_can_be_turned_off() {
        let (w, _) = windows();
        let rh = RouteHealth {
            p95_threshold_ms: None,
            error_rate_threshold: None,
            ..RouteHealth::default()
        };
        let f = run(&rh, &samples(SEARCH, w, &same(60, 9000.0), 30), &[], &[]);
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn a_healthy_route_gives_nothing() {
        let (w, b) = windows();
        let mut durations: Vec<f64> = (1..=200).map(|i| 50.0 + f64::from(i)).collect();
        let cur = samples(SEARCH, w, &durations, 1);
        durations.reverse();
        let base = samples(SEARCH, b, &durations, 1);
        assert!(run(&RouteHealth::default(), &cur, &base, &[]).is_empty());
    }

    #[test]
    fn a_rise_of_exactly_the_deviation_does_not_fire() {
        let (w, b) = windows();
        let rh = RouteHealth {
            error_rate_threshold: None,
            min_error_rate: 0.0,
            min_p95_increase_ms: 0.0,
            ..RouteHealth::default()
        };
        // Latency: +20% exactly, for many baselines (some products round up in floating point).
        for base_ms in (5..=1000).step_by(5).map(f64::from) {
            let f = run(
                &rh,
                &samples(SEARCH, w, &same(100, base_ms * 1.2), 0),
                &samples(SEARCH, b, &same(100, base_ms), 0),
                &[],
            );
            assert!(f.is_empty(), "{base_ms} ms → {} ms: {f:#?}", base_ms * 1.2);
        }
        // Error rate: +20% exactly, 5/1000 → 6/1000, 10/1000 → 12/1000…
        for base_errors in (5..=200).step_by(5) {
            let cur_errors = base_errors * 6 / 5;
            let f = run(
                &rh,
                &samples(SEARCH, w, &same(1000, 100.0), cur_errors),
                &samples(SEARCH, b, &same(1000, 100.0), base_errors),
                &[],
            );
            assert!(f.is_empty(), "{base_errors} → {cur_errors}: {f:#?}");
        }
        // Just over fires.
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(100, 301.0), 0),
            &samples(SEARCH, b, &same(100, 250.0), 0),
            &[],
        );
        assert_eq!(f.len(), 1);
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(10_000, 100.0), 1300),
            &samples(SEARCH, b, &same(10_000, 100.0), 1000),
            &[],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::ErrorSpike);
    }

    #[test]
    fn latency_rise_needs_the_absolute_floor() {
        let (w, b) = windows();
        let rh = RouteHealth::default();
        // +40%, but only 40 ms.
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(100, 140.0), 0),
            &samples(SEARCH, b, &same(100, 100.0), 0),
            &[],
        );
        assert!(f.is_empty(), "{f:#?}");
        // +50 ms exactly is enough.
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(100, 150.0), 0),
            &samples(SEARCH, b, &same(100, 100.0), 0),
            &[],
        );
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn poisson_tail_matches_known_values() {
        assert!((poisson_tail(0, 3.0) - 1.0).abs() < 1e-12);
        // P(X >= 3 | 0.5) = 1 - e^-0.5 (1 + 0.5 + 0.125)
        let expect = 1.0 - (-0.5f64).exp() * 1.625;
        assert!((poisson_tail(3, 0.5) - expect).abs() < 1e-12);
        // Far in the upper tail, and large counts, stay finite and ordered.
        assert!(poisson_tail(200, 10.0) < 1e-100);
        assert!(poisson_tail(5000, 5000.0) > 0.4 && poisson_tail(5000, 5000.0) < 0.6);
        assert!((ln_factorial(25) - (1..=25).map(|i| (i as f64).ln()).sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn a_few_errors_after_a_quiet_window_are_not_a_spike() {
        // 3 errors in 200 requests (1.5%) after 0 in 213: above the 1% floor and "infinitely"
        // up from 0%, but well within chance for a route that fails 0.3% of the time.
        let (w, b) = windows();
        let rh = RouteHealth::default();
        let baseline = samples(SEARCH, b, &same(213, 30.0), 0);
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(200, 30.0), 3),
            &baseline,
            &[],
        );
        assert!(f.is_empty(), "{f:#?}");
        // 9 errors in 200 (4.5%, under the 5% threshold) is a spike.
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(200, 30.0), 9),
            &baseline,
            &[],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::ErrorSpike);
    }

    #[test]
    fn error_rate_floor() {
        let (w, b) = windows();
        let rh = RouteHealth::default();
        // 0.1% → 0.2%: +100%, but under 1%.
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(1000, 100.0), 2),
            &samples(SEARCH, b, &same(1000, 100.0), 1),
            &[],
        );
        assert!(f.is_empty(), "{f:#?}");
        // 1% → 2%: over the floor, but 20 errors where 10.5 were expected is chance.
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(1000, 100.0), 20),
            &samples(SEARCH, b, &same(1000, 100.0), 10),
            &[],
        );
        assert!(f.is_empty(), "{f:#?}");
        // 1% → 2.5%: fires, as a warning (under the 5% threshold).
        let f = run(
            &rh,
            &samples(SEARCH, w, &same(1000, 100.0), 25),
            &samples(SEARCH, b, &same(1000, 100.0), 10),
            &[],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::ErrorSpike);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(
            f[0].title,
            "Error rate of GET /api/search on search-api at 2.5% (baseline 1.0%)"
        );
        assert_eq!(evidence(&f[0], "errors").current, 25.0);
        assert_eq!(evidence(&f[0], "errors").baseline, Some(10.0));
    }

    #[test]
    fn error_severity_tiers() {
        let (w, b) = windows();
        let rh = RouteHealth::default();
        let checkout = ("web", "POST /checkout");
        let f = run(
            &rh,
            &samples(checkout, w, &same(500, 100.0), 91),
            &samples(checkout, b, &same(500, 100.0), 2),
            &[],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].title,
            "Error rate of POST /checkout on web at 18.2% (baseline 0.4%)"
        );
        let f = run(&rh, &samples(checkout, w, &same(100, 100.0), 20), &[], &[]);
        assert_eq!(f[0].severity, Severity::Critical);
        // From a 0% baseline, a rise above the floor counts once it is more than chance.
        let f = run(
            &rh,
            &samples(checkout, w, &same(100, 100.0), 2),
            &samples(checkout, b, &same(100, 100.0), 0),
            &[],
        );
        assert!(f.is_empty(), "{f:#?}");
        let f = run(
            &rh,
            &samples(checkout, w, &same(100, 100.0), 5),
            &samples(checkout, b, &same(100, 100.0), 0),
            &[],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].title,
            "Error rate of POST /checkout on web at 5.0% (baseline 0%)"
        );
    }

    #[test]
    fn a_steady_error_rate_over_threshold_shows_both() {
        let (w, b) = windows();
        let f = run(
            &RouteHealth::default(),
            &samples(SEARCH, w, &same(100, 100.0), 10),
            &samples(SEARCH, b, &same(100, 100.0), 10),
            &[],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].title,
            "Error rate of GET /api/search on search-api at 10.0% (threshold 5.0%, baseline 10.0%)"
        );
    }

    #[test]
    fn the_cause_is_the_latest_deploy_of_the_same_service() {
        let (w, b) = windows();
        let deploys = [
            // Too early: before the baseline window.
            deploy("d1", "search-api", b.start - TimeDelta::minutes(1), "v1"),
            // Same service, in the baseline window.
            deploy("d2", "search-api", b.start + TimeDelta::minutes(5), "v2"),
            // The one: same service, in the window.
            deploy("d3", "search-api", w.start + TimeDelta::minutes(4), "v3"),
            // Another service, later: ignored.
            deploy("d4", "web", w.start + TimeDelta::minutes(20), "v9"),
            // At the end of the window: outside it.
            deploy("d5", "search-api", w.end, "v4"),
        ];
        let f = run(
            &RouteHealth::default(),
            &samples(SEARCH, w, &same(100, 750.0), 30),
            &samples(SEARCH, b, &same(100, 310.0), 0),
            &deploys,
        );
        assert_eq!(f.len(), 2);
        // Errors (critical) first, then latency (high).
        assert_eq!(f[0].kind, FindingKind::ErrorSpike);
        assert_eq!(f[1].kind, FindingKind::LatencyRegression);
        for f in &f {
            let c = f.cause.as_ref().unwrap();
            assert_eq!(c.deployment_id, "d3");
            assert_eq!(c.version, "v3");
            assert_eq!(c.commit_sha.as_deref(), Some("d30123456789abcdef"));
            assert_eq!(c.author.as_deref(), Some("alice"));
            assert_eq!(c.deployed_at, w.start + TimeDelta::minutes(4));
            assert!(
                f.suggestion.starts_with(
                    "Deploy v3 of search-api (commit d301234, by alice) went out at \
                     2023-11-14 21:47 UTC, 26 min before this run. Roll back"
                ),
                "{}",
                f.suggestion
            );
            assert!(
                f.suggestion
                    .contains("bisect the commits in v3, starting with d301234")
            );
        }
        // With only another service's deploy, no cause.
        let f = run(
            &RouteHealth::default(),
            &samples(SEARCH, w, &same(100, 750.0), 0),
            &samples(SEARCH, b, &same(100, 310.0), 0),
            &deploys[3..4],
        );
        assert_eq!(f[0].cause, None);
    }

    #[test]
    fn output_is_deterministic_and_ordered() {
        let (w, b) = windows();
        let routes = [("a", "GET /x"), ("b", "GET /y"), ("c", "GET /z")];
        let mut cur = Vec::new();
        let mut base = Vec::new();
        cur.extend(samples(routes[0], w, &same(100, 400.0), 0)); // latency warning
        cur.extend(samples(routes[1], w, &same(100, 100.0), 30)); // errors critical
        cur.extend(samples(routes[2], w, &same(100, 900.0), 0)); // latency high
        for r in routes {
            base.extend(samples(r, b, &same(100, 300.0), 0));
        }
        let rh = RouteHealth::default();
        let first = run(&rh, &cur, &base, &[]);
        let order: Vec<_> = first
            .iter()
            .map(|f| (f.service.as_str(), f.severity))
            .collect();
        assert_eq!(
            order,
            [
                ("b", Severity::Critical),
                ("c", Severity::High),
                ("a", Severity::Warning)
            ]
        );
        cur.reverse();
        base.reverse();
        assert_eq!(run(&rh, &cur, &base, &[]), first);
    }

    #[test]
    fn samples_outside_their_window_are_ignored() {
        let (w, b) = windows();
        // Slow requests stamped in the baseline window but passed as current.
        let f = run(
            &RouteHealth::default(),
            &samples(SEARCH, b, &same(100, 5000.0), 0),
            &[],
            &[],
        );
        assert!(f.is_empty());
        let _ = w;
    }

    #[test]
    fn p95_is_nearest_rank() {
        let (w, _) = windows();
        let durations: Vec<f64> = (1..=100).rev().map(|i| f64::from(i) * 20.0).collect();
        let f = run(
            &RouteHealth::default(),
            &samples(SEARCH, w, &durations, 0),
            &[],
            &[],
        );
        assert_eq!(evidence(&f[0], "p95 latency").current, 1900.0);
        assert_eq!(evidence(&f[0], "p50 latency").current, 1000.0);
    }

    #[test]
    fn validate_reports_every_problem() {
        assert!(RouteHealth::default().validate().is_empty());
        let bad = RouteHealth {
            window_minutes: 0,
            min_requests: 0,
            max_deviation: -1.0,
            p95_threshold_ms: Some(0.0),
            error_rate_threshold: Some(5.0),
            min_error_rate: -0.5,
            min_p95_increase_ms: f64::NAN,
            significance: 1.0,
        };
        assert_eq!(
            bad.validate(),
            [
                "window_minutes: must be at least 1, got 0",
                "min_requests: must be at least 1, got 0",
                "max_deviation: must be > 0, got -1",
                "p95_threshold_ms: must be > 0 (or \"off\"), got 0",
                "error_rate_threshold: must be in (0, 1] (0.05 is 5%) or \"off\", got 5",
                "min_error_rate: must be in [0, 1] (0.01 is 1%), got -0.5",
                "min_p95_increase_ms: must be >= 0, got NaN",
                "significance: must be in (0, 1) (0.001 is one in a thousand), got 1",
            ]
        );
    }

    #[test]
    fn config_round_trips_through_toml() {
        let rh: RouteHealth = toml::from_str(
            "window_minutes = 15\np95_threshold_ms = 800\nerror_rate_threshold = \"off\"\n",
        )
        .unwrap();
        assert_eq!(rh.window_minutes, 15);
        assert_eq!(rh.p95_threshold_ms, Some(800.0));
        assert_eq!(rh.error_rate_threshold, None);
        assert_eq!(rh.min_requests, 50);
        let text = toml::to_string(&rh).unwrap();
        assert_eq!(toml::from_str::<RouteHealth>(&text).unwrap(), rh);
        let err = toml::from_str::<RouteHealth>("p95_threshold_ms = \"never\"").unwrap_err();
        assert!(err.to_string().contains("a number or \"off\""), "{err}");
        let rh: RouteHealth = toml::from_str("p95_threshold_ms = false").unwrap();
        assert_eq!(rh.p95_threshold_ms, None);
        // Whole numbers are accepted for every float.
        let rh: RouteHealth =
            toml::from_str("max_deviation = 1\nmin_error_rate = 0\nmin_p95_increase_ms = 75")
                .unwrap();
        assert_eq!(
            (rh.max_deviation, rh.min_error_rate, rh.min_p95_increase_ms),
            (1.0, 0.0, 75.0)
        );
    }
}
