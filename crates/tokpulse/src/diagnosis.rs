//! Self-diagnosis steps the engine runs each time, beside the [`Analyzer`]s: the I/O around
//! `tokpulse-analyze`'s pure building blocks.
//!
//! - [`roll_up`]: folds the requests not rolled up yet into the minute, hour and day rollups
//!   (`request_rollups`), so ingest does no sketch work and p95 over any window merges rollups.
//! - [`RouteWindows`]: p95 and error rate per service and route for the latest windows, merged
//!   from rollups, judged by `[analyzers.route_health]` and gated by `[analyzers.hysteresis]`
//!   (open after K bad windows in a row, resolve after M good; counted windows never overlap,
//!   so one slow minute is one bad window at most). The state per fingerprint is kept in
//!   `detector_state` under `hyst:`.
//!   A latency rise over that short baseline is then held against the same window in each of
//!   the previous [`SEASON_WEEKS`] weeks (`[analyzers.baseline]`, median and MAD): once three
//!   weeks are there, a rise that is usual for this hour of the week (the Monday morning peak)
//!   is dropped, and one that is not carries the seasonal baseline as evidence.
//! - [`level_shifts`]: change points (`[analyzers.level_shifts]`) in each route's hourly p95
//!   over the last [`LEVEL_SHIFT_SPAN`]: a new level that persists, or a slow drift that no
//!   short window sees, is a `level_shift` finding. Judged once per completed hour; the
//!   verdict is kept in `detector_state` (`levels:last`) for the runs in between.
//! - [`deploy_checks`]: each deploy whose after-window has passed is checked once
//!   (`deploy:<id>` in `detector_state`) by `[analyzers.deploy_regression]`.
//! - [`ci_findings`]: failing and flaky CI jobs over the last week (`[analyzers.ci_patterns]`).
//! - [`error_patterns`]: Drain templates of error logs: the top patterns of each service become
//!   evidence on its error findings, and a pattern new since the service's last deploy is a
//!   `new_error_pattern` finding (`[analyzers.new_error_patterns]`).

use crate::pending::{self, Batch};
use anyhow::Context;
use chrono::TimeDelta;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tokpulse_analyze::hysteresis::{HysteresisState, Transition};
use tokpulse_analyze::rollup::{LatencyStats, Merger, Resolution, cover, rollups};
use tokpulse_analyze::templates::mine;
use tokpulse_analyze::{Analyzer, AnalyzersConfig, Inputs, RouteStats};
use tokpulse_core::{
    DeployEvent, Evidence, Finding, FindingKind, Label, LogLevel, LogRecord, RecordId,
    RequestSample, Timestamp, Window,
};
use tokpulse_store::{RollupRow, RollupWrite, Store};

/// How far back CI jobs are read.
pub const CI_LOOKBACK: TimeDelta = TimeDelta::days(7);
/// How far back deployments are considered (deploy checks, gathering, new error patterns).
pub const DEPLOY_LOOKBACK: TimeDelta = TimeDelta::days(2);
/// Error log lines read per run at most.
const MAX_ERROR_LOGS: i64 = 200_000;
/// What the route windows are compared against: this long before the oldest window judged.
pub const BASELINE_SPAN: TimeDelta = TimeDelta::hours(3);
/// Top error patterns shown as evidence per service.
const TOP_PATTERNS: usize = 3;
/// Earlier weeks whose same window makes the seasonal baseline of a route's p95.
pub const SEASON_WEEKS: i32 = 4;
/// How much hourly p95 history the level-shift detector reads.
pub const LEVEL_SHIFT_SPAN: TimeDelta = TimeDelta::days(7);
/// Where [`level_shifts`] keeps its latest verdict.
const LEVEL_STATE: &str = "levels:last";
/// An open route problem whose route has had no window with enough traffic to judge for this
/// long is closed: nothing shows it is still there (the route may be gone).
pub const NO_DATA_RESOLVE: TimeDelta = TimeDelta::days(1);

/// Folds every request not rolled up yet into the rollups; returns how many it folded.
pub async fn roll_up(store: &dyn Store) -> anyhow::Result<usize> {
    pending::drain(
        "rollups: another writer kept committing first; try again",
        || async {
            let pending = store.pending_rollup_samples(pending::BATCH).await?;
            if pending.is_empty() {
                return Ok(Batch::Empty);
            }
            let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
            let samples: Vec<RequestSample> = pending.into_iter().map(|p| p.sample).collect();
            let writes = rollup_writes(store, &samples).await?;
            Ok(if store.commit_rollups(&ids, &writes).await? {
                Batch::Committed(ids.len())
            } else {
                Batch::Lost
            })
        },
    )
    .await
}

/// The rollups of `samples` at every resolution, merged into what is stored.
async fn rollup_writes(
    store: &dyn Store,
    samples: &[RequestSample],
) -> anyhow::Result<Vec<RollupWrite>> {
    let mut writes = Vec::new();
    for resolution in Resolution::ALL {
        let new = rollups(samples, resolution);
        let (Some(first), Some(last)) = (
            new.iter().map(|r| r.key.start).min(),
            new.iter().map(|r| r.key.start).max(),
        ) else {
            continue;
        };
        let span = Window {
            start: first,
            end: last + resolution.duration(),
        };
        let stored: HashMap<(String, String, Timestamp), RollupRow> = store
            .rollups(resolution.as_str(), span, None)
            .await?
            .into_iter()
            .map(|r| ((r.service.clone(), r.route.clone(), r.bucket_start), r))
            .collect();
        for r in new {
            let key = (r.key.service.clone(), r.key.route.clone(), r.key.start);
            let (stats, read_requests) = match stored.get(&key) {
                Some(old) => {
                    let mut merged = LatencyStats::from_bytes(&old.sketch).with_context(|| {
                        format!(
                            "stored rollup of {} {} at {} is unreadable",
                            old.service, old.route, old.bucket_start
                        )
                    })?;
                    merged.merge(&r.stats);
                    (merged, Some(old.requests))
                }
                None => (r.stats, None),
            };
            writes.push(RollupWrite {
                row: RollupRow {
                    service: r.key.service,
                    route: r.key.route,
                    resolution: resolution.as_str().to_string(),
                    bucket_start: r.key.start,
                    requests: i64::try_from(stats.requests()).unwrap_or(i64::MAX),
                    errors: i64::try_from(stats.errors()).unwrap_or(i64::MAX),
                    sketch: stats.to_bytes(),
                },
                read_requests,
            });
        }
    }
    Ok(writes)
}

/// p50/p95, requests and errors per `(service, route)` over `window`, merged from the fewest
/// rollups that tile it ([`cover`]); only those of `route` (service, route) when given.
pub async fn route_stats(
    store: &dyn Store,
    window: Window,
    route: Option<(&str, &str)>,
) -> anyhow::Result<BTreeMap<(String, String), RouteStats>> {
    let mut mergers: BTreeMap<(String, String), Merger> = BTreeMap::new();
    for (resolution, w) in cover(window) {
        for row in store.rollups(resolution.as_str(), w, route).await? {
            mergers
                .entry((row.service.clone(), row.route.clone()))
                .or_default()
                .add_bytes(&row.sketch)
                .with_context(|| {
                    format!("rollup of {} {} is unreadable", row.service, row.route)
                })?;
        }
    }
    Ok(mergers
        .into_iter()
        .map(|(k, m)| {
            let s = m.summary();
            (
                k,
                RouteStats {
                    requests: s.requests,
                    errors: s.errors,
                    p50: s.p50,
                    p95: s.p95,
                },
            )
        })
        .collect())
}

fn borrowed(m: &BTreeMap<(String, String), RouteStats>) -> BTreeMap<(&str, &str), RouteStats> {
    m.iter()
        .map(|((s, r), v)| ((s.as_str(), r.as_str()), *v))
        .collect()
}

/// One judged window: its findings by fingerprint, and the requests per route.
type Verdict = (
    Window,
    BTreeMap<String, Finding>,
    BTreeMap<(String, String), u64>,
);

/// What the route checks decided this run.
#[derive(Debug, Default)]
pub struct RouteWindows {
    /// Findings that are open after hysteresis and bad in the latest window.
    pub findings: Vec<Finding>,
    /// Fingerprints still open by hysteresis although the latest window was good (not yet M
    /// good windows): not to be resolved.
    pub keep_open: BTreeSet<String>,
    /// Requests seen in the latest window.
    pub requests: u64,
}

/// Judges the latest windows of every route from rollups, with hysteresis. See the module docs.
pub async fn route_windows(
    store: &dyn Store,
    config: &AnalyzersConfig,
    deployments: &[DeployEvent],
    now: Timestamp,
) -> anyhow::Result<RouteWindows> {
    let h = config.hysteresis;
    let len = TimeDelta::minutes(i64::from(config.route_health.window_minutes));
    let n = h.open_after.max(h.resolve_after).max(1);
    // Windows ending at now, now - len, … (oldest first), all judged against the
    // [`BASELINE_SPAN`] before the oldest, so that a problem lasting several windows is not
    // compared with itself.
    let mut stats = Vec::new();
    for i in (0..n).rev() {
        let end = now - len * (i as i32);
        let w = Window {
            start: end - len,
            end,
        };
        stats.push((w, route_stats(store, w, None).await?));
    }
    let bw = Window {
        start: stats[0].0.start - BASELINE_SPAN,
        end: stats[0].0.start,
    };
    let base = route_stats(store, bw, None).await?;
    // Verdicts per window (oldest first): fingerprint → finding, and route volumes.
    let mut verdicts: Vec<Verdict> = Vec::new();
    for (w, cur) in &stats {
        let input = Inputs {
            now: w.end,
            window: *w,
            current: &[],
            baseline_window: bw,
            baseline: &[],
            deployments,
        };
        let found = config
            .route_health
            .analyze_stats(&input, &borrowed(cur), &borrowed(&base));
        let found = seasonal(store, config, *w, cur, found).await?;
        let volumes = cur.iter().map(|(k, s)| (k.clone(), s.requests)).collect();
        verdicts.push((
            *w,
            found
                .into_iter()
                .map(|f| (f.fingerprint.as_str().to_string(), f))
                .collect(),
            volumes,
        ));
    }
    // Stored: `{"state": …, "service": …, "route": …}` per fingerprint.
    let mut states: BTreeMap<String, HysteresisState> = BTreeMap::new();
    let mut about: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (key, v) in store.detector_states("hyst:").await? {
        let fp = key.trim_start_matches("hyst:").to_string();
        if let (Ok(s), Some(service), Some(route)) = (
            serde_json::from_value(v["state"].clone()),
            v["service"].as_str(),
            v["route"].as_str(),
        ) {
            states.insert(fp.clone(), s);
            about.insert(fp, (service.to_string(), route.to_string()));
        }
    }
    // Routes each fingerprint is about, from any window's findings or the stored state.
    for (_, found, _) in &verdicts {
        for (fp, f) in found {
            about.insert(
                fp.clone(),
                (f.service.clone(), f.route.clone().unwrap_or_default()),
            );
        }
    }
    let mut out = RouteWindows {
        requests: verdicts
            .last()
            .map_or(0, |(_, _, v)| v.values().copied().sum()),
        ..RouteWindows::default()
    };
    let mut writes = Vec::new();
    let fingerprints: BTreeSet<String> = about.keys().chain(states.keys()).cloned().collect();
    for fp in fingerprints {
        let mut state = states.get(&fp).copied().unwrap_or_default();
        let before = state;
        let route = about.get(&fp);
        for (w, found, volumes) in &verdicts {
            // Counted windows never overlap.
            if state.last_counted.is_some_and(|t| w.end < t + len) {
                continue;
            }
            let bad = found.contains_key(&fp);
            let volume = route.and_then(|r| volumes.get(r)).copied().unwrap_or(0);
            if state.observe(&h, w.end, bad, volume) == Transition::Opened {
                tracing::info!(fingerprint = %fp, at = %w.end, "route problem opened");
            }
        }
        if state.open
            && state
                .last_counted
                .is_some_and(|t| now - t >= NO_DATA_RESOLVE)
        {
            tracing::info!(fingerprint = %fp, "route problem closed: nothing to judge for a day");
            state = HysteresisState::default();
        }
        if state.open {
            match verdicts.last().and_then(|(_, found, _)| found.get(&fp)) {
                Some(f) => {
                    let mut f = f.clone();
                    f.window.start = began(&state, &h, len, &f.service, deployments);
                    out.findings.push(f);
                }
                None => {
                    out.keep_open.insert(fp.clone());
                }
            }
        }
        if state != before {
            let keep = state.open || state.bad_in_a_row > 0;
            writes.push((
                format!("hyst:{fp}"),
                keep.then(|| {
                    serde_json::json!({
                        "state": state,
                        "service": route.map(|r| r.0.as_str()),
                        "route": route.map(|r| r.1.as_str()),
                    })
                }),
            ));
        }
    }
    store.put_detector_states(&writes, now).await?;
    Ok(out)
}

/// Holds each latency finding that is a rise over the short baseline (not a static threshold
/// crossed) against the same window of the previous [`SEASON_WEEKS`] weeks: with enough of
/// them (`[analyzers.baseline] min_season_points`), a p95 that the seasonal baseline does not
/// call high is usual for this hour of the week and the finding is dropped; otherwise the
/// seasonal baseline is added as evidence. The earlier weeks are read only for the routes of
/// such findings.
async fn seasonal(
    store: &dyn Store,
    config: &AnalyzersConfig,
    w: Window,
    cur: &BTreeMap<(String, String), RouteStats>,
    found: Vec<Finding>,
) -> anyhow::Result<Vec<Finding>> {
    let threshold = config.route_health.p95_threshold_ms;
    let key_of = |f: &Finding| (f.service.clone(), f.route.clone().unwrap_or_default());
    let p95_of = |f: &Finding| cur.get(&key_of(f)).and_then(|s| s.p95);
    let rise_only = |f: &Finding| {
        f.kind == FindingKind::LatencyRegression
            && p95_of(f).is_some_and(|p| threshold.is_none_or(|t| p <= t))
    };
    let flagged: BTreeSet<(String, String)> =
        found.iter().filter(|f| rise_only(f)).map(key_of).collect();
    let mut history: BTreeMap<(String, String), Vec<(Timestamp, f64)>> = BTreeMap::new();
    for (service, route) in &flagged {
        for k in 1..=SEASON_WEEKS {
            let back = TimeDelta::weeks(i64::from(k));
            let past = Window {
                start: w.start - back,
                end: w.end - back,
            };
            for (key, s) in route_stats(store, past, Some((service, route))).await? {
                if s.requests >= config.route_health.min_requests
                    && let Some(p95) = s.p95
                {
                    history.entry(key).or_default().push((past.end, p95));
                }
            }
        }
    }
    let mut kept = Vec::with_capacity(found.len());
    for mut f in found {
        if rise_only(&f) {
            let judged = p95_of(&f).and_then(|p95| {
                let past = history.get(&key_of(&f))?;
                config.baseline.judge(past, w.end, p95)
            });
            if let Some(j) = judged.filter(|j| j.baseline.seasonal) {
                if !j.above {
                    tracing::debug!(
                        service = %f.service, route = ?f.route, p95 = j.value,
                        usual = j.baseline.median, "latency rise usual for this hour of the week"
                    );
                    continue;
                }
                f.evidence.push(Evidence {
                    metric: format!(
                        "p95 latency, same window of the last {} weeks (median)",
                        j.baseline.points
                    ),
                    current: j.value,
                    baseline: Some(j.baseline.median),
                    threshold: None,
                    unit: "ms".into(),
                });
            }
        }
        kept.push(f);
    }
    Ok(kept)
}

/// Level shifts in each route's hourly p95 over the [`LEVEL_SHIFT_SPAN`] before the current
/// hour: `[analyzers.level_shifts]`'s finding for the latest shift, if it is upward and has
/// held to the end. Hours with fewer than `[analyzers.route_health] min_requests` requests
/// are left out, and so is a route without traffic in the last `min_segment` hours.
/// Judged once per completed hour; the runs in between reuse the verdict kept
/// in the detector state, so the findings neither resolve nor flap between hours.
pub async fn level_shifts(
    store: &dyn Store,
    config: &AnalyzersConfig,
    now: Timestamp,
) -> anyhow::Result<Vec<Finding>> {
    let end = Resolution::Hour.bucket_start(now);
    let kept = store.detector_states(LEVEL_STATE).await?;
    if let Some((_, v)) = kept.iter().find(|(k, _)| k == LEVEL_STATE)
        && serde_json::from_value::<Timestamp>(v["hour"].clone()).is_ok_and(|h| h == end)
        && let Ok(findings) = serde_json::from_value::<Vec<Finding>>(v["findings"].clone())
    {
        return Ok(findings);
    }
    let window = Window {
        start: end - LEVEL_SHIFT_SPAN,
        end,
    };
    let hour = Resolution::Hour.duration();
    let hours = usize::try_from((end - window.start).num_hours()).unwrap_or(0);
    let times: Vec<Timestamp> = (1..=hours)
        .map(|i| window.start + hour * i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    let min_requests = i64::try_from(config.route_health.min_requests).unwrap_or(i64::MAX);
    let mut series: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for row in store
        .rollups(Resolution::Hour.as_str(), window, None)
        .await?
    {
        let i = usize::try_from((row.bucket_start - window.start).num_hours()).unwrap_or(hours);
        if i >= hours || row.requests < min_requests {
            continue;
        }
        let stats = LatencyStats::from_bytes(&row.sketch).with_context(|| {
            format!(
                "rollup of {} {} at {} is unreadable",
                row.service, row.route, row.bucket_start
            )
        })?;
        if let Some(p95) = stats.quantile(0.95) {
            series
                .entry((row.service.clone(), row.route.clone()))
                .or_insert_with(|| vec![f64::NAN; hours])[i] = p95;
        }
    }
    // A route must still have traffic: one quiet for `min_segment` hours is not at any level.
    let recent = hours.saturating_sub(config.level_shifts.min_segment.max(1));
    let findings: Vec<Finding> = series
        .iter()
        .filter(|(_, values)| values[recent..].iter().any(|v| v.is_finite()))
        .filter_map(|((service, route), values)| {
            config
                .level_shifts
                .finding(service, Some(route), "p95 latency", "ms", &times, values)
        })
        .collect();
    store
        .put_detector_states(
            &[(
                LEVEL_STATE.to_string(),
                Some(serde_json::json!({ "hour": end, "findings": findings })),
            )],
            now,
        )
        .await?;
    Ok(findings)
}

/// When an open route problem began: the start of the first of the K bad windows that opened
/// it, or the deploy of its service inside that window (so that [`gather_by_deploy`] folds it
/// into the deploy's finding).
///
/// [`gather_by_deploy`]: tokpulse_analyze::deploy::gather_by_deploy
fn began(
    state: &HysteresisState,
    h: &tokpulse_analyze::hysteresis::Hysteresis,
    len: TimeDelta,
    service: &str,
    deployments: &[DeployEvent],
) -> Timestamp {
    let opened = state.opened_at.unwrap_or_default();
    let start = opened - len * (h.open_after as i32);
    deployments
        .iter()
        .filter(|d| d.service.as_str() == service && d.timestamp >= start)
        .map(|d| d.timestamp)
        .find(|&t| t < start + len)
        .unwrap_or(start)
}

/// What [`deploy_checks`] found.
#[derive(Debug, Default)]
pub struct DeployChecks {
    /// Regressions of the deploys checked by this run.
    pub findings: Vec<Finding>,
    /// Services whose latest checked deploy was clean (their older deploys' findings can
    /// resolve).
    pub clean: BTreeSet<String>,
    /// Ids of every deploy found to have regressed, by this run or an earlier one.
    pub regressed: BTreeSet<String>,
}

/// Deploy regressions of the deploys whose after-window has passed and that were not checked
/// yet (each is checked once, remembered as `deploy:<id>` in the detector state).
pub async fn deploy_checks(
    store: &dyn Store,
    config: &AnalyzersConfig,
    deployments: &[DeployEvent],
    now: Timestamp,
) -> anyhow::Result<DeployChecks> {
    let dr = &config.deploy_regression;
    let states = store.detector_states("deploy:").await?;
    let checked: BTreeSet<String> = states.iter().map(|(k, _)| k.clone()).collect();
    let mut out = DeployChecks {
        regressed: states
            .iter()
            .filter(|(_, v)| !v["regressed"].is_null())
            .map(|(k, _)| k.trim_start_matches("deploy:").to_string())
            .collect(),
        ..DeployChecks::default()
    };
    let settle = TimeDelta::minutes(i64::from(dr.settle_minutes));
    let len = TimeDelta::minutes(i64::from(dr.window_minutes));
    let mut writes = Vec::new();
    for d in deployments {
        let key = format!("deploy:{}", d.id.as_str());
        // Settled: the whole after-window has passed (or a later deploy cut it short).
        let next = deployments
            .iter()
            .filter(|o| o.service == d.service && o.timestamp > d.timestamp)
            .map(|o| o.timestamp)
            .min();
        let after_end =
            (d.timestamp + settle + len).min(next.unwrap_or(d.timestamp + settle + len));
        if checked.contains(&key) || now < after_end {
            continue;
        }
        let samples = store
            .request_samples(Window {
                start: d.timestamp - len,
                end: after_end,
            })
            .await?;
        let samples: Vec<RequestSample> = samples
            .into_iter()
            .filter(|s| s.service == d.service.as_str())
            .collect();
        let finding = dr.check(d, deployments, &samples, after_end);
        if let Some(f) = &finding {
            tracing::info!(deploy = d.id.as_str(), title = %f.title, "deploy regressed");
            out.regressed.insert(d.id.as_str().to_string());
        }
        writes.push((
            key,
            Some(serde_json::json!({
                "checked_at": now,
                "regressed": finding.as_ref().map(|f| f.fingerprint.as_str().to_string()),
            })),
        ));
        out.findings.extend(finding);
    }
    store.put_detector_states(&writes, now).await?;
    // Per service, whether its latest checked deploy regressed.
    let mut latest: BTreeMap<&str, &DeployEvent> = BTreeMap::new();
    for d in deployments {
        let key = format!("deploy:{}", d.id.as_str());
        let is_checked = checked.contains(&key) || writes.iter().any(|(k, _)| *k == key);
        if is_checked
            && latest
                .get(d.service.as_str())
                .is_none_or(|l| l.timestamp < d.timestamp)
        {
            latest.insert(d.service.as_str(), d);
        }
    }
    out.clean = latest
        .into_iter()
        .filter(|(_, d)| !out.regressed.contains(d.id.as_str()))
        .map(|(s, _)| s.to_string())
        .collect();
    Ok(out)
}

/// CI failure patterns over the jobs of the last [`CI_LOOKBACK`].
pub async fn ci_findings(
    store: &dyn Store,
    config: &AnalyzersConfig,
    now: Timestamp,
) -> anyhow::Result<Vec<Finding>> {
    let window = Window {
        start: now - CI_LOOKBACK,
        end: now,
    };
    let jobs = store.ci_jobs(window).await?;
    Ok(config.ci_patterns.findings(&jobs, window))
}

/// New error patterns since each service's last deploy, and the top patterns per service over
/// `window` as evidence (`errors: <template>`, in messages).
pub async fn error_patterns(
    store: &dyn Store,
    config: &AnalyzersConfig,
    deployments: &[DeployEvent],
    window: Window,
) -> anyhow::Result<(Vec<Finding>, BTreeMap<String, Vec<Evidence>>)> {
    let nep = &config.new_error_patterns;
    let history = TimeDelta::minutes(i64::from(nep.history_minutes));
    let start = deployments
        .iter()
        .map(|d| d.timestamp - history)
        .min()
        .unwrap_or(window.start)
        .min(window.start)
        // A day more, so that services that log errors rarely have logs from before their
        // deploy (the miner needs that history to call a pattern new).
        - TimeDelta::days(1);
    let logs = store
        .error_logs(
            Window {
                start,
                end: window.end,
            },
            MAX_ERROR_LOGS,
        )
        .await?;
    let mut records = Vec::with_capacity(logs.len());
    for (i, l) in logs.iter().enumerate() {
        let (Ok(id), Ok(service)) = (
            RecordId::parse(&format!("log-{i}")),
            Label::parse(&l.service),
        ) else {
            continue;
        };
        records.push(LogRecord {
            id,
            timestamp: l.timestamp,
            service,
            level: LogLevel::Error,
            message: l.message.clone(),
            route: None,
            trace_id: None,
            attributes: Default::default(),
        });
    }
    let findings = nep.findings(&records, deployments, window);
    let mut top = BTreeMap::new();
    let mut by_service: BTreeMap<&str, Vec<(Timestamp, &str)>> = BTreeMap::new();
    for l in &logs {
        by_service
            .entry(l.service.as_str())
            .or_default()
            .push((l.timestamp, l.message.as_str()));
    }
    for (service, messages) in by_service {
        let mined = mine(&messages, nep.drain);
        let evidence: Vec<Evidence> = mined
            .top(&messages, window, TOP_PATTERNS)
            .into_iter()
            .filter(|p| p.count > 0)
            .map(|p| Evidence {
                metric: format!("errors: {}", p.template),
                current: p.count as f64,
                baseline: None,
                threshold: None,
                unit: "messages".into(),
            })
            .collect();
        if !evidence.is_empty() {
            top.insert(service.to_string(), evidence);
        }
    }
    Ok((findings, top))
}

/// Whether `analyzer` is the route-health check, which the engine runs over rollups instead of
/// raw samples.
pub fn over_rollups(analyzer: &dyn Analyzer) -> bool {
    analyzer.name() == "route_health"
}

/// The kinds the diagnosis steps own: open findings of these kinds that a run does not see are
/// resolved (deploy regressions only when a later deploy of the service checks clean).
pub const KINDS: &[FindingKind] = &[
    FindingKind::LatencyRegression,
    FindingKind::ErrorSpike,
    FindingKind::CiFailure,
    FindingKind::FlakyJob,
    FindingKind::NewErrorPattern,
    FindingKind::LevelShift,
];
