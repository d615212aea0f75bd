//! Deploy regressions: per route, the requests after a deploy against those before it, with a
//! statistical test rather than a bare ratio; and the rule that gathers the alerts following a
//! deploy into that deploy's finding.
//!
//! [`DeployRegression::check`] compares, for each route of the deployed service:
//!
//! - **before**: the `window_minutes` before the deploy (cut at the previous deploy of the same
//!   service, so it measures the version being replaced);
//! - **after**: from `settle_minutes` after the deploy (caches warm, old pods drained) for
//!   `window_minutes`, cut at the next deploy of the service and at `now`.
//!
//! A route regressed in **latency** when its p95 rose by more than `min_latency_increase`
//! (relative) and by at least `min_p95_increase_ms`, *and* the latencies after are
//! stochastically larger than before by a one-sided Mann–Whitney U test (normal approximation
//! with tie correction) at `significance`. It regressed in **errors** when the error rate rose by
//! at least `min_error_rate_increase` (absolute) and by more than `min_latency_increase`
//! (relative), *and* a one-sided two-proportion z-test rejects "no change" at `significance`.
//! Both sides need `min_requests` requests. The effect-size thresholds keep a significant but
//! harmless change (2 ms on a million requests) quiet; the tests keep noise on small routes quiet.
//!
//! One deploy gives at most one finding ([`FindingKind::DeployRegression`], fingerprint
//! `Fingerprint::of(DeployRegression, &[service, deploy id])`) listing every regressed route with
//! its before/after p95 and error rate, and naming the deploy (id, version, commit, author) as
//! its cause. [`gather_by_deploy`] folds other findings about the same service that start within
//! `group_minutes` after a deploy into that deploy's finding.
//!
//! ```
//! use chrono::{DateTime, Duration};
//! use tokpulse_analyze::deploy::DeployRegression;
//! use tokpulse_core::{DeployEvent, FindingKind, Label, RecordId, RequestSample};
//!
//! let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
//! let deploy = DeployEvent {
//!     id: RecordId::parse("dep-42").unwrap(),
//!     timestamp: at,
//!     service: Label::parse("api").unwrap(),
//!     environment: Label::parse("production").unwrap(),
//!     version: Label::parse("v2.4.0").unwrap(),
//!     commit_sha: Some(Label::parse("9f1c2ab").unwrap()),
//!     author: Some("dana".into()),
//!     description: None,
//! };
//! // 100 ms before the deploy, 180 ms after (with a little spread).
//! let samples: Vec<RequestSample> = (-1800..2400)
//!     .step_by(10)
//!     .map(|s: i64| RequestSample {
//!         timestamp: at + Duration::seconds(s),
//!         service: "api".into(),
//!         route: "GET /cart".into(),
//!         duration_ms: if s < 0 { 100.0 } else { 180.0 } + (s.rem_euclid(7)) as f64,
//!         is_error: false,
//!     })
//!     .collect();
//! let now = at + Duration::minutes(40);
//! let f = DeployRegression::default().check(&deploy, &[deploy.clone()], &samples, now).unwrap();
//! assert_eq!(f.kind, FindingKind::DeployRegression);
//! assert_eq!(f.cause.unwrap().commit_sha.as_deref(), Some("9f1c2ab"));
//! ```

use crate::templates::cause_of;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokpulse_core::{
    DeployEvent, Evidence, Finding, FindingKind, Fingerprint, RequestSample, Severity, Timestamp,
    Window,
};

/// Settings of the deploy-regression check. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeployRegression {
    /// Minutes after the deploy that are not compared (rollout, warm-up). Default 5.
    pub settle_minutes: u32,
    /// Length of the before and after windows, in minutes. Default 30.
    pub window_minutes: u32,
    /// Requests each side needs before a route is compared. Default 50.
    pub min_requests: u64,
    /// Relative rise of the p95 (and of the error rate) that matters: 0.20 is 20%, the seed's
    /// rule. Default 0.20.
    pub min_latency_increase: f64,
    /// Smallest rise of the p95 that matters, in ms. Default 50.
    pub min_p95_increase_ms: f64,
    /// Smallest rise of the error rate that matters, absolute (0.01 is one point). Default 0.01.
    pub min_error_rate_increase: f64,
    /// One-sided p-value below which a change is not noise. Default 0.001.
    pub significance: f64,
    /// Findings on the deployed service starting within this many minutes after a deploy are
    /// gathered into its finding by [`gather_by_deploy`]. Default 60.
    pub group_minutes: u32,
}

impl Default for DeployRegression {
    fn default() -> Self {
        DeployRegression {
            settle_minutes: 5,
            window_minutes: 30,
            min_requests: 50,
            min_latency_increase: 0.20,
            min_p95_increase_ms: 50.0,
            min_error_rate_increase: 0.01,
            significance: 0.001,
            group_minutes: 60,
        }
    }
}

/// One side of the comparison for one route.
#[derive(Debug, Clone, Default)]
struct Side {
    latencies: Vec<f64>,
    requests: u64,
    errors: u64,
}

impl Side {
    fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

/// What changed on one route.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteChange {
    /// `METHOD route`.
    pub route: String,
    /// p95 before and after, ms.
    pub p95: (f64, f64),
    /// Error rate before and after, 0 to 1.
    pub error_rate: (f64, f64),
    /// Requests before and after.
    pub requests: (u64, u64),
    /// One-sided Mann–Whitney p-value for "slower after".
    pub latency_p: f64,
    /// One-sided two-proportion p-value for "more errors after".
    pub error_p: f64,
    /// Whether latency regressed (effect and significance).
    pub slower: bool,
    /// Whether errors regressed (effect and significance).
    pub more_errors: bool,
}

impl DeployRegression {
    /// Every problem in the settings, as `field: reason, got value`. Empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.window_minutes == 0 {
            problems.push("window_minutes: must be at least 1, got 0".to_owned());
        }
        if self.min_requests < 2 {
            problems.push(format!(
                "min_requests: must be at least 2, got {}",
                self.min_requests
            ));
        }
        if !(self.min_latency_increase.is_finite() && self.min_latency_increase >= 0.0) {
            problems.push(format!(
                "min_latency_increase: must be >= 0, got {}",
                self.min_latency_increase
            ));
        }
        if !(self.significance > 0.0 && self.significance < 1.0) {
            problems.push(format!(
                "significance: must be in (0, 1), got {}",
                self.significance
            ));
        }
        problems
    }

    /// The before and after windows of `deploy`, given every deploy of its service (any order,
    /// `deploy` among them or not) and the time now. `None` while the after window has not
    /// started.
    pub fn windows(
        &self,
        deploy: &DeployEvent,
        deployments: &[DeployEvent],
        now: Timestamp,
    ) -> Option<(Window, Window)> {
        let same = deployments
            .iter()
            .filter(|d| d.service == deploy.service && d.id != deploy.id);
        let prev = same
            .clone()
            .map(|d| d.timestamp)
            .filter(|&t| t < deploy.timestamp)
            .max();
        let next = same
            .map(|d| d.timestamp)
            .filter(|&t| t > deploy.timestamp)
            .min();
        let len = TimeDelta::minutes(i64::from(self.window_minutes));
        let before = Window {
            start: prev.map_or(deploy.timestamp - len, |p| p.max(deploy.timestamp - len)),
            end: deploy.timestamp,
        };
        let start = deploy.timestamp + TimeDelta::minutes(i64::from(self.settle_minutes));
        let mut end = (start + len).min(now);
        if let Some(n) = next {
            end = end.min(n);
        }
        (end > start).then_some((before, Window { start, end }))
    }

    /// Every route of the deployed service compared, regressed or not, ordered by route.
    pub fn compare(
        &self,
        deploy: &DeployEvent,
        deployments: &[DeployEvent],
        samples: &[RequestSample],
        now: Timestamp,
    ) -> Vec<RouteChange> {
        let Some((before_w, after_w)) = self.windows(deploy, deployments, now) else {
            return Vec::new();
        };
        let mut routes: BTreeMap<&str, (Side, Side)> = BTreeMap::new();
        for s in samples {
            if s.service != deploy.service.as_str() {
                continue;
            }
            let side = if before_w.contains(s.timestamp) {
                &mut routes.entry(&s.route).or_default().0
            } else if after_w.contains(s.timestamp) {
                &mut routes.entry(&s.route).or_default().1
            } else {
                continue;
            };
            side.requests += 1;
            side.errors += u64::from(s.is_error);
            if s.duration_ms.is_finite() {
                side.latencies.push(s.duration_ms);
            }
        }
        routes
            .into_iter()
            .filter(|(_, (b, a))| {
                b.requests >= self.min_requests && a.requests >= self.min_requests
            })
            .filter_map(|(route, (mut b, mut a))| {
                let p95_b = crate::p95(&mut b.latencies)?;
                let p95_a = crate::p95(&mut a.latencies)?;
                let latency_p = mann_whitney_greater(&a.latencies, &b.latencies);
                let error_p = two_proportion_greater(a.errors, a.requests, b.errors, b.requests);
                let slower = p95_a > p95_b * (1.0 + self.min_latency_increase)
                    && p95_a - p95_b >= self.min_p95_increase_ms
                    && latency_p < self.significance;
                let (eb, ea) = (b.error_rate(), a.error_rate());
                let more_errors = ea - eb >= self.min_error_rate_increase
                    && ea > eb * (1.0 + self.min_latency_increase)
                    && error_p < self.significance;
                Some(RouteChange {
                    route: route.to_owned(),
                    p95: (p95_b, p95_a),
                    error_rate: (eb, ea),
                    requests: (b.requests, a.requests),
                    latency_p,
                    error_p,
                    slower,
                    more_errors,
                })
            })
            .collect()
    }

    /// The deploy's finding if any route regressed; see the module docs.
    pub fn check(
        &self,
        deploy: &DeployEvent,
        deployments: &[DeployEvent],
        samples: &[RequestSample],
        now: Timestamp,
    ) -> Option<Finding> {
        let changes = self.compare(deploy, deployments, samples, now);
        let bad: Vec<&RouteChange> = changes
            .iter()
            .filter(|c| c.slower || c.more_errors)
            .collect();
        let first = bad.first()?;
        let (_, after_w) = self.windows(deploy, deployments, now)?;
        let service = deploy.service.as_str();
        let what = |c: &RouteChange| {
            if c.slower {
                format!("{} p95 {} → {}", c.route, fmt_ms(c.p95.0), fmt_ms(c.p95.1))
            } else {
                format!(
                    "{} errors {} → {}",
                    c.route,
                    fmt_pct(c.error_rate.0),
                    fmt_pct(c.error_rate.1)
                )
            }
        };
        let title = match bad.len() {
            1 => format!(
                "Deploy {} of {service} regressed {}",
                deploy.version.as_str(),
                what(first)
            ),
            n => format!(
                "Deploy {} of {service} regressed {n} routes ({} and more)",
                deploy.version.as_str(),
                what(first)
            ),
        };
        let mut evidence = Vec::new();
        for c in &bad {
            evidence.push(Evidence {
                metric: format!("p95 latency {}", c.route),
                current: c.p95.1,
                baseline: Some(c.p95.0),
                threshold: None,
                unit: "ms".into(),
            });
            evidence.push(Evidence {
                metric: format!("error rate {}", c.route),
                current: c.error_rate.1 * 100.0,
                baseline: Some(c.error_rate.0 * 100.0),
                threshold: None,
                unit: "%".into(),
            });
            evidence.push(Evidence {
                metric: format!("requests {}", c.route),
                current: c.requests.1 as f64,
                baseline: Some(c.requests.0 as f64),
                threshold: None,
                unit: "requests".into(),
            });
        }
        let severity = bad
            .iter()
            .map(|c| {
                if c.more_errors && c.error_rate.1 >= 0.20 {
                    Severity::Critical
                } else if (c.slower && c.p95.1 >= 2.0 * c.p95.0)
                    || (c.more_errors && c.error_rate.1 >= 0.05)
                {
                    Severity::High
                } else {
                    Severity::Warning
                }
            })
            .max()
            .unwrap_or(Severity::Warning);
        let by = deploy
            .author
            .as_deref()
            .map(|a| format!(" by {a}"))
            .unwrap_or_default();
        let commit = deploy
            .commit_sha
            .as_ref()
            .map(|c| format!(" (commit {})", c.as_str()))
            .unwrap_or_default();
        let kind = FindingKind::DeployRegression;
        Some(Finding {
            kind,
            severity,
            fingerprint: Fingerprint::of(kind, &[service, deploy.id.as_str()]),
            title,
            service: service.to_owned(),
            route: (bad.len() == 1).then(|| first.route.clone()),
            window: after_w,
            evidence,
            cause: Some(cause_of(deploy)),
            suggestion: format!(
                "Compared {} minutes before deploy {}{commit}{by} with the {} minutes after it \
                 (from {} minutes after the deploy): {}. The change is significant \
                 (p < {}) and larger than the noise thresholds. Roll back {} if users are \
                 affected, then look at what the deploy changed on these routes.",
                self.window_minutes,
                deploy.version.as_str(),
                (after_w.end - after_w.start).num_minutes(),
                self.settle_minutes,
                bad.iter().map(|c| what(c)).collect::<Vec<_>>().join("; "),
                self.significance,
                deploy.version.as_str()
            ),
        })
    }
}

/// Gathers findings that follow a deploy into that deploy's finding, so one bad deploy is one
/// issue, not one per route and symptom.
///
/// A finding about a service (not a CI finding) whose window *starts* within `within` after a
/// deploy of that service (the latest such deploy) is folded into the deploy's
/// [`FindingKind::DeployRegression`] finding: the one in `findings` with that deploy as cause,
/// or else a new one with the fingerprint [`DeployRegression::check`] would give. The gathered
/// finding's evidence is appended (each metric prefixed with its route), its title listed in
/// the suggestion, the severity is the highest of them, and the cause is the deploy. Other
/// findings pass through unchanged. Order: the input's order, each deploy's finding at the place
/// of its first member.
pub fn gather_by_deploy(
    findings: Vec<Finding>,
    deployments: &[DeployEvent],
    within: TimeDelta,
) -> Vec<Finding> {
    let deploy_for = |f: &Finding| -> Option<&DeployEvent> {
        if matches!(f.kind, FindingKind::CiFailure | FindingKind::FlakyJob) {
            return None;
        }
        if f.kind == FindingKind::DeployRegression {
            let id = &f.cause.as_ref()?.deployment_id;
            return deployments.iter().find(|d| d.id.as_str() == id);
        }
        deployments
            .iter()
            .filter(|d| {
                d.service.as_str() == f.service
                    && d.timestamp <= f.window.start
                    && f.window.start - d.timestamp <= within
            })
            .max_by(|a, b| {
                a.timestamp
                    .cmp(&b.timestamp)
                    .then_with(|| a.id.as_str().cmp(b.id.as_str()))
            })
    };
    let mut out: Vec<Finding> = Vec::new();
    // Deploy id → index in `out` of its finding.
    let mut slot: BTreeMap<String, usize> = BTreeMap::new();
    for f in findings {
        let Some(d) = deploy_for(&f) else {
            out.push(f);
            continue;
        };
        let id = d.id.as_str().to_owned();
        let i = *slot.entry(id).or_insert_with(|| {
            out.push(empty_deploy_finding(d, f.window));
            out.len() - 1
        });
        let target = &mut out[i];
        if f.kind == FindingKind::DeployRegression {
            // The check's own finding: keep its title and words, add what was gathered before.
            let gathered = std::mem::take(&mut target.evidence);
            let note = std::mem::take(&mut target.suggestion);
            let severity = target.severity.max(f.severity);
            *target = f;
            target.severity = severity;
            target.evidence.extend(gathered);
            if !note.is_empty() {
                target.suggestion.push(' ');
                target.suggestion.push_str(&note);
            }
            continue;
        }
        target.severity = target.severity.max(f.severity);
        let prefix = f.route.as_deref().unwrap_or("");
        target.evidence.extend(f.evidence.into_iter().map(|mut e| {
            if !prefix.is_empty() {
                e.metric = format!("{} {prefix}", e.metric);
            }
            e
        }));
        if target.suggestion.is_empty() {
            target.suggestion = "Also seen since this deploy:".to_owned();
        }
        target.suggestion.push_str(&format!(" {}.", f.title));
    }
    for f in &mut out {
        if f.kind == FindingKind::DeployRegression && f.title.is_empty() {
            f.title = format!(
                "Problems on {} since deploy {}",
                f.service,
                f.cause.as_ref().map_or("", |c| c.version.as_str())
            );
        }
    }
    out
}

/// A deploy's finding with nothing in it yet (its title is filled at the end).
fn empty_deploy_finding(d: &DeployEvent, window: Window) -> Finding {
    let kind = FindingKind::DeployRegression;
    Finding {
        kind,
        severity: Severity::Info,
        fingerprint: Fingerprint::of(kind, &[d.service.as_str(), d.id.as_str()]),
        title: String::new(),
        service: d.service.as_str().to_owned(),
        route: None,
        window,
        evidence: Vec::new(),
        cause: Some(cause_of(d)),
        suggestion: String::new(),
    }
}

/// One-sided Mann–Whitney U test that `x` tends to be larger than `y`: the p-value by the normal
/// approximation with a continuity correction and the tie correction of the variance. 1 when
/// either sample is empty or every value is tied.
pub fn mann_whitney_greater(x: &[f64], y: &[f64]) -> f64 {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    if x.is_empty() || y.is_empty() {
        return 1.0;
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    let (mut rank_sum_x, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && all[j].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j share their mean.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        rank_sum_x += mean_rank * all[i..j].iter().filter(|(_, is_x)| *is_x).count() as f64;
        i = j;
    }
    let u = rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let var = n1 * n2 / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = (u - mean - 0.5) / var.sqrt();
    normal_upper_tail(z)
}

/// One-sided two-proportion z-test that `k1/n1` is larger than `k2/n2` (pooled variance).
pub fn two_proportion_greater(k1: u64, n1: u64, k2: u64, n2: u64) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let pooled = (k1 + k2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 {
        return if p1 > p2 { 0.0 } else { 1.0 };
    }
    normal_upper_tail((p1 - p2) / se)
}

/// P(Z > z) for a standard normal Z.
pub fn normal_upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, with a fractional error below 1.2·10⁻⁷ everywhere
/// (Numerical Recipes' `erfcc`, a Chebyshev fit).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

fn fmt_ms(v: f64) -> String {
    format!("{v:.0} ms")
}

fn fmt_pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use tokpulse_core::{Label, RecordId};

    struct Rng(u64);
    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (((z ^ (z >> 31)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            let n = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            median * (sigma * n).exp()
        }
    }

    fn t0() -> Timestamp {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn deploy(id: &str, min: i64) -> DeployEvent {
        DeployEvent {
            id: RecordId::parse(id).unwrap(),
            timestamp: t0() + TimeDelta::minutes(min),
            service: Label::parse("api").unwrap(),
            environment: Label::parse("production").unwrap(),
            version: Label::parse(&format!("v-{id}")).unwrap(),
            commit_sha: Some(Label::parse("c0ffee1").unwrap()),
            author: Some("dana".into()),
            description: None,
        }
    }

    /// Two routes, one request per route every 6 s from 40 minutes before to 45 after the
    /// deploy at t0; latencies and errors before/after from the closures.
    fn traffic(
        rng: &mut Rng,
        before: (f64, f64),
        after: (f64, f64),
        changed_route: &str,
    ) -> Vec<RequestSample> {
        let mut out = Vec::new();
        for s in (-2400..2700).step_by(6) {
            for route in ["GET /cart", "GET /search"] {
                let (median, err) = if s >= 0 && route == changed_route {
                    after
                } else {
                    before
                };
                out.push(RequestSample {
                    timestamp: t0() + TimeDelta::seconds(s),
                    service: "api".into(),
                    route: route.into(),
                    duration_ms: rng.lognormal(median, 0.5),
                    is_error: rng.uniform() < err,
                });
            }
        }
        out
    }

    fn now() -> Timestamp {
        t0() + TimeDelta::minutes(45)
    }

    #[test]
    fn a_slower_route_after_a_deploy_is_a_finding_naming_it() {
        let mut rng = Rng(1);
        let samples = traffic(&mut rng, (120.0, 0.002), (200.0, 0.002), "GET /cart");
        let d = deploy("dep-1", 0);
        let f = DeployRegression::default()
            .check(&d, std::slice::from_ref(&d), &samples, now())
            .expect("regression");
        assert_eq!(f.kind, FindingKind::DeployRegression);
        assert_eq!(f.route.as_deref(), Some("GET /cart"));
        assert!(
            f.title
                .starts_with("Deploy v-dep-1 of api regressed GET /cart p95"),
            "{}",
            f.title
        );
        let cause = f.cause.as_ref().unwrap();
        assert_eq!(
            (cause.deployment_id.as_str(), cause.version.as_str()),
            ("dep-1", "v-dep-1")
        );
        assert_eq!(cause.commit_sha.as_deref(), Some("c0ffee1"));
        assert_eq!(cause.author.as_deref(), Some("dana"));
        assert!(
            f.suggestion.contains("(commit c0ffee1) by dana"),
            "{}",
            f.suggestion
        );
        assert_eq!(
            f.fingerprint,
            Fingerprint::of(FindingKind::DeployRegression, &["api", "dep-1"])
        );
        let p95 = &f.evidence[0];
        assert_eq!(p95.metric, "p95 latency GET /cart");
        assert!(p95.current > 1.4 * p95.baseline.unwrap());
        assert_eq!(f.window.start, t0() + TimeDelta::minutes(5));
        assert_eq!(f.window.end, t0() + TimeDelta::minutes(35));
    }

    #[test]
    fn more_errors_after_a_deploy_is_a_finding() {
        let mut rng = Rng(2);
        let samples = traffic(&mut rng, (120.0, 0.002), (120.0, 0.08), "GET /search");
        let d = deploy("dep-2", 0);
        let f = DeployRegression::default()
            .check(&d, &[], &samples, now())
            .expect("regression");
        assert!(f.title.contains("GET /search errors"), "{}", f.title);
        assert_eq!(f.severity, Severity::High);
        let changes = DeployRegression::default().compare(&d, &[], &samples, now());
        let search = changes.iter().find(|c| c.route == "GET /search").unwrap();
        assert!(search.more_errors && !search.slower);
        assert!(search.error_p < 1e-6, "{}", search.error_p);
    }

    #[test]
    fn noise_and_small_changes_stay_quiet() {
        // No change: over 200 seeds, no finding (the false-positive rate is below 0.5%).
        let mut false_positives = 0;
        for seed in 0..200 {
            let mut rng = Rng(seed);
            let samples = traffic(&mut rng, (120.0, 0.01), (120.0, 0.01), "GET /cart");
            let d = deploy("dep-3", 0);
            if DeployRegression::default()
                .check(&d, &[], &samples, now())
                .is_some()
            {
                false_positives += 1;
            }
        }
        assert_eq!(false_positives, 0);
        // A real but small change (+10%) is below the effect threshold whatever its p-value.
        let mut rng = Rng(5);
        let samples = traffic(&mut rng, (300.0, 0.0), (330.0, 0.0), "GET /cart");
        let d = deploy("dep-4", 0);
        let changes = DeployRegression::default().compare(&d, &[], &samples, now());
        let cart = changes.iter().find(|c| c.route == "GET /cart").unwrap();
        assert!(!cart.slower, "too small to page for: {cart:?}");
        // A big change on a route with too few requests is not compared.
        let few: Vec<RequestSample> = samples.iter().step_by(40).cloned().collect();
        assert!(
            DeployRegression::default()
                .compare(&d, &[], &few, now())
                .is_empty()
        );
    }

    #[test]
    fn windows_stop_at_neighbouring_deploys_and_now() {
        let cfg = DeployRegression::default();
        let d = deploy("dep-5", 0);
        let all = [deploy("dep-prev", -10), d.clone(), deploy("dep-next", 20)];
        let (before, after) = cfg.windows(&d, &all, now()).unwrap();
        assert_eq!(before.start, t0() - TimeDelta::minutes(10));
        assert_eq!(after.end, t0() + TimeDelta::minutes(20));
        assert_eq!(cfg.windows(&d, &[], t0() + TimeDelta::minutes(3)), None);
        let (_, partial) = cfg.windows(&d, &[], t0() + TimeDelta::minutes(12)).unwrap();
        assert_eq!(partial.end, t0() + TimeDelta::minutes(12));
        assert!(cfg.validate().is_empty());
        let bad = DeployRegression {
            window_minutes: 0,
            significance: 1.5,
            ..cfg
        };
        assert_eq!(bad.validate().len(), 2);
    }

    #[test]
    fn statistical_tests_against_known_values() {
        // Two separated samples: U = n1·n2, a tiny p-value; swapped, close to 1.
        let x: Vec<f64> = (10..30).map(f64::from).collect();
        let y: Vec<f64> = (0..20).map(f64::from).collect();
        assert!(mann_whitney_greater(&x, &y) < 0.01);
        assert!(mann_whitney_greater(&y, &x) > 0.99);
        // Identical samples: no evidence either way.
        let p = mann_whitney_greater(&y, &y);
        assert!((0.4..=0.6).contains(&p), "{p}");
        assert_eq!(mann_whitney_greater(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
        assert_eq!(mann_whitney_greater(&[], &y), 1.0);
        // By hand (as scipy's asymptotic method): ranks of x 3.5 + 5.5 + 7.5 + 9 + 10, U = 20.5,
        // mean 12.5, variance 25/12 · (11 − 18/90) = 22.5, z = (20.5 − 12.5 − 0.5)/√22.5 = 1.581,
        // p = 0.0569.
        let p = mann_whitney_greater(&[3.0, 4.0, 5.0, 6.0, 7.0], &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!((p - 0.0569).abs() < 0.0005, "{p}");
        // Normal tail: 1.6449 → 0.05, 3.0902 → 0.001, −∞ side.
        assert!((normal_upper_tail(1.644_854) - 0.05).abs() < 1e-6);
        assert!((normal_upper_tail(3.090_232) - 0.001).abs() < 1e-7);
        assert!((normal_upper_tail(-1.644_854) - 0.95).abs() < 1e-6);
        // Proportions: 30/1000 vs 10/1000.
        let p = two_proportion_greater(30, 1000, 10, 1000);
        assert!(p < 0.001 && p > 0.0001, "{p}");
        assert_eq!(two_proportion_greater(0, 100, 0, 100), 1.0);
        assert_eq!(two_proportion_greater(1, 0, 0, 100), 1.0);
    }

    fn alert(kind: FindingKind, route: &str, start_min: i64) -> Finding {
        let window = Window {
            start: t0() + TimeDelta::minutes(start_min),
            end: t0() + TimeDelta::minutes(start_min + 30),
        };
        Finding {
            kind,
            severity: Severity::Warning,
            fingerprint: Fingerprint::of(kind, &["api", route]),
            title: format!("{kind} on {route}"),
            service: "api".into(),
            route: Some(route.into()),
            window,
            evidence: vec![Evidence {
                metric: "p95 latency".into(),
                current: 1.0,
                baseline: None,
                threshold: None,
                unit: "ms".into(),
            }],
            cause: None,
            suggestion: "look".into(),
        }
    }

    #[test]
    fn alerts_after_a_deploy_gather_into_its_finding() {
        let d = deploy("dep-6", 0);
        let mut rng = Rng(1);
        let samples = traffic(&mut rng, (120.0, 0.002), (200.0, 0.002), "GET /cart");
        let regression = DeployRegression::default()
            .check(&d, &[], &samples, now())
            .unwrap();
        let mut other = alert(FindingKind::ErrorSpike, "GET /pay", 10);
        other.service = "billing".into();
        let findings = vec![
            alert(FindingKind::LatencyRegression, "GET /cart", 5),
            other.clone(),
            alert(FindingKind::ErrorSpike, "GET /search", 20),
            regression.clone(),
            // Long after the deploy: its own finding.
            alert(FindingKind::ErrorSpike, "GET /late", 90),
        ];
        let out = gather_by_deploy(findings, std::slice::from_ref(&d), TimeDelta::minutes(60));
        assert_eq!(out.len(), 3, "{out:#?}");
        assert_eq!(out[0].kind, FindingKind::DeployRegression);
        assert_eq!(out[0].fingerprint, regression.fingerprint);
        assert_eq!(out[0].title, regression.title);
        assert!(
            out[0]
                .suggestion
                .contains("latency_regression on GET /cart")
        );
        assert!(out[0].suggestion.contains("error_spike on GET /search"));
        assert!(
            out[0]
                .evidence
                .iter()
                .any(|e| e.metric == "p95 latency GET /search")
        );
        assert_eq!(out[1], other);
        assert_eq!(out[2].route.as_deref(), Some("GET /late"));
        // Without the check's finding, the gathered alerts make the deploy's finding alone.
        let out = gather_by_deploy(
            vec![
                alert(FindingKind::LatencyRegression, "GET /cart", 5),
                alert(FindingKind::NewErrorPattern, "GET /x", 7),
            ],
            &[d],
            TimeDelta::minutes(60),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].title, "Problems on api since deploy v-dep-6");
        assert_eq!(out[0].severity, Severity::Warning);
        assert_eq!(
            out[0].fingerprint,
            Fingerprint::of(FindingKind::DeployRegression, &["api", "dep-6"])
        );
    }
}
