//! The engine: loads the analyzers' input from the store, runs them, stores their findings
//! (deduplicated by fingerprint), resolves what stopped happening, and queues and delivers the
//! actions. Analyzers stay pure; every I/O step is here. The clock is an argument, so tests and
//! the demo run it at any instant.

use crate::diagnosis;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use tokpulse_act::{
    DeliveryReport, Routing, Sink, deliver_due, plan_for_change, plan_for_recurrence,
    plan_for_resolution,
};
use tokpulse_analyze::deploy::gather_by_deploy;
use tokpulse_analyze::{Analyzer, AnalyzersConfig, Inputs};
use tokpulse_core::{
    Finding, FindingKind, FindingStatus, Fingerprint, StoredFinding, Timestamp, Window,
};
use tokpulse_store::{FindingChange, NewAction, Store};

/// A finding first seen or resolved this recently has its actions planned again by each run
/// (same idempotency keys: queued once), in case a run was killed before queueing them.
const REPLAN: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// At most this many open findings are considered per run.
const MAX_OPEN: i64 = 100_000;

/// What one diagnosis run did.
#[derive(Debug, Default)]
pub struct DiagnosisRun {
    /// The window examined.
    pub window: Option<Window>,
    /// Requests in the window examined (from the rollups).
    pub samples: usize,
    /// Requests folded into the rollups by this run.
    pub rolled_up: usize,
    /// Findings seen in this run, with what happened to each in the store.
    pub seen: Vec<(FindingChange, StoredFinding)>,
    /// Findings resolved by this run.
    pub resolved: Vec<StoredFinding>,
    /// Actions queued by this run.
    pub queued: usize,
    /// What the delivery pass did.
    pub delivery: DeliveryReport,
}

/// What [`Engine::apply`] did.
#[derive(Debug, Default)]
pub struct Applied {
    /// The findings seen, with what happened to each in the store.
    pub seen: Vec<(FindingChange, StoredFinding)>,
    /// The findings resolved.
    pub resolved: Vec<StoredFinding>,
    /// Actions queued (not queued before).
    pub queued: usize,
}

/// Runs diagnosis and delivery.
pub struct Engine {
    store: Arc<dyn Store>,
    analyzers: Vec<Box<dyn Analyzer + Send + Sync>>,
    config: AnalyzersConfig,
    window: chrono::Duration,
    sinks: Vec<Arc<dyn Sink>>,
    max_attempts: u32,
    update_interval: chrono::TimeDelta,
    routing: Routing,
}

impl Engine {
    /// An engine over `store` with the configured analyzers and sinks.
    pub fn new(
        store: Arc<dyn Store>,
        analyzers: &AnalyzersConfig,
        sinks: Vec<Arc<dyn Sink>>,
        max_attempts: u32,
        update_interval: chrono::TimeDelta,
        routing: Routing,
    ) -> Engine {
        Engine {
            store,
            analyzers: analyzers.build(),
            config: analyzers.clone(),
            window: chrono::Duration::minutes(i64::from(analyzers.route_health.window_minutes)),
            sinks,
            max_attempts,
            update_interval,
            routing,
        }
    }

    /// The sinks actions go to.
    pub fn sinks(&self) -> &[Arc<dyn Sink>] {
        &self.sinks
    }

    /// Which sinks a finding goes to (the cost run routes its findings with it).
    pub fn routing(&self) -> &Routing {
        &self.routing
    }

    /// The store it reads and writes.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// One diagnosis run as of `now`, then one delivery pass: rolls up the new requests, judges
    /// every route's latest windows from the rollups (with hysteresis), checks settled deploys,
    /// CI jobs and error-log patterns (see [`diagnosis`]), gathers what follows a deploy into its
    /// finding, then stores, resolves and queues.
    pub async fn run(&self, now: Timestamp) -> anyhow::Result<DiagnosisRun> {
        let store = self.store.as_ref();
        let rolled_up = diagnosis::roll_up(store).await?;
        let window = Window {
            start: now - self.window,
            end: now,
        };
        let baseline_window = window.previous();
        let deployments = self
            .store
            .deployments(Window {
                start: (now - diagnosis::DEPLOY_LOOKBACK).min(baseline_window.start),
                end: now,
            })
            .await?;
        let mut kinds: BTreeSet<FindingKind> = diagnosis::KINDS.iter().copied().collect();
        let mut findings = Vec::new();
        // Analyzers over raw samples (route health runs over rollups below).
        let raw: Vec<&(dyn Analyzer + Send + Sync)> = self
            .analyzers
            .iter()
            .map(|a| a.as_ref())
            .filter(|a| !diagnosis::over_rollups(*a))
            .collect();
        if !raw.is_empty() {
            let current = self.store.request_samples(window).await?;
            let baseline = self.store.request_samples(baseline_window).await?;
            let inputs = Inputs {
                now,
                window,
                current: &current,
                baseline_window,
                baseline: &baseline,
                deployments: &deployments,
            };
            for a in raw {
                kinds.extend(a.kinds().iter().copied());
                findings.extend(a.analyze(&inputs));
            }
        }
        let routes = diagnosis::route_windows(store, &self.config, &deployments, now).await?;
        let mut run = DiagnosisRun {
            window: Some(window),
            samples: usize::try_from(routes.requests).unwrap_or(usize::MAX),
            rolled_up,
            ..DiagnosisRun::default()
        };
        findings.extend(routes.findings);
        let (patterns, top) =
            diagnosis::error_patterns(store, &self.config, &deployments, window).await?;
        for f in &mut findings {
            if f.kind == FindingKind::ErrorSpike
                && let Some(evidence) = top.get(&f.service)
            {
                f.evidence.extend(evidence.iter().cloned());
            }
        }
        findings.extend(diagnosis::level_shifts(store, &self.config, now).await?);
        let checks = diagnosis::deploy_checks(store, &self.config, &deployments, now).await?;
        findings.extend(checks.findings);
        // A pattern new since a deploy that regressed began with it: it joins that deploy's
        // finding whenever it is seen.
        for mut p in patterns {
            if let Some(c) = &p.cause
                && checks.regressed.contains(&c.deployment_id)
            {
                p.window.start = c.deployed_at;
            }
            findings.push(p);
        }
        let clean = checks.clean;
        let group =
            chrono::Duration::minutes(i64::from(self.config.deploy_regression.group_minutes));
        let mut findings = gather_by_deploy(findings, &deployments, group);
        findings.extend(diagnosis::ci_findings(store, &self.config, now).await?);

        // Open findings of the kinds these analyzers own that this run did not see have stopped;
        // a deploy's regression once a later deploy of its service checks clean.
        let stopped = |f: &StoredFinding| {
            if f.finding.kind == FindingKind::DeployRegression {
                clean.contains(&f.finding.service)
                    && f.finding.cause.as_ref().is_some_and(|c| {
                        deployments.iter().any(|d| {
                            d.service.as_str() == f.finding.service && d.timestamp > c.deployed_at
                        })
                    })
            } else {
                kinds.contains(&f.finding.kind)
                    && !routes.keep_open.contains(f.finding.fingerprint.as_str())
            }
        };
        let applied = self.apply(&findings, &kinds, stopped, now).await?;
        run.seen = applied.seen;
        run.resolved = applied.resolved;
        run.queued = applied.queued;
        run.resolved
            .sort_by(|a, b| a.finding.title.cmp(&b.finding.title));

        run.delivery = self.deliver(now).await?;
        Ok(run)
    }

    /// Records what a run found at `now` and resolves what it no longer finds: stores `findings`
    /// and queues their actions (crash-safe, see [`Engine::record`]), then resolves each open
    /// finding not among them for which `stopped` holds, queueing its resolution. `kinds` are
    /// the kinds the caller owns (their recent resolutions are planned again, as recent
    /// findings are). Muted findings are stored but send nothing. Diagnosis, the cost run and
    /// the watchers all record through here.
    pub async fn apply(
        &self,
        findings: &[Finding],
        kinds: &BTreeSet<FindingKind>,
        stopped: impl Fn(&StoredFinding) -> bool,
        now: Timestamp,
    ) -> anyhow::Result<Applied> {
        let muted = crate::mute::muted(self.store.as_ref(), now).await?;
        let mut applied = Applied::default();
        let changes = self
            .record(findings, kinds, &muted, now, &mut applied.queued)
            .await?;
        let open: HashMap<String, StoredFinding> = self
            .store
            .findings(Some(FindingStatus::Open), MAX_OPEN)
            .await?
            .into_iter()
            .map(|f| (f.finding.fingerprint.as_str().to_string(), f))
            .collect();
        for (fp, change) in changes {
            let stored = open
                .get(fp.as_str())
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("finding {fp} was stored but is not open"))?;
            applied.seen.push((change, stored));
        }
        let sink_names: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
        let seen: BTreeSet<&str> = findings.iter().map(|f| f.fingerprint.as_str()).collect();
        for f in open.values() {
            if seen.contains(f.finding.fingerprint.as_str())
                || !stopped(f)
                || !self.store.resolve_finding(f.id, now).await?
            {
                continue;
            }
            let mut resolved = f.clone();
            resolved.status = FindingStatus::Resolved;
            resolved.resolved_at = Some(now);
            let sinks = self.routing.sinks_for(
                resolved.finding.kind,
                resolved.finding.severity,
                &sink_names,
            );
            let mut actions = plan_for_resolution(&resolved, &sinks, now);
            self.enqueue(&mut actions, &muted, &mut applied.queued)
                .await?;
            applied.resolved.push(resolved);
        }
        Ok(applied)
    }

    /// Stores the findings seen at `now` and queues their actions, so that a run killed at any
    /// point and run again (for the same instant, or within [`REPLAN`]) queues every action
    /// exactly once (issue 6's chaos test). Returns what happened to each finding.
    ///
    /// - A recurrence's or a reopen's actions are queued *before* the finding is stored: their
    ///   idempotency keys follow from the stored state before this run, and once the finding is
    ///   stored nothing would tell a later run that they still had to be queued.
    /// - A new finding has no id before it is stored, so its actions follow. A finding first
    ///   seen within [`REPLAN`] and seen again has them planned again, and one of `kinds`
    ///   resolved within [`REPLAN`] its resolution, in case a run was killed between storing
    ///   and queueing; the idempotency keys are the same, so the store queues each once.
    /// - A finding already seen at exactly `now` (an interrupted run for this instant stored it)
    ///   is not counted twice.
    async fn record(
        &self,
        findings: &[Finding],
        kinds: &BTreeSet<FindingKind>,
        muted: &HashSet<String>,
        now: Timestamp,
        queued: &mut usize,
    ) -> anyhow::Result<Vec<(Fingerprint, FindingChange)>> {
        let same_instant = |t: Timestamp| t.timestamp_millis() == now.timestamp_millis();
        let known: HashMap<String, StoredFinding> = self
            .store
            .findings(None, MAX_OPEN)
            .await?
            .into_iter()
            .map(|f| (f.finding.fingerprint.as_str().to_string(), f))
            .collect();
        let sink_names: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
        let sinks_for = |f: &Finding| self.routing.sinks_for(f.kind, f.severity, &sink_names);
        let mut queue = Vec::new();
        for f in known.values() {
            if f.status == FindingStatus::Resolved
                && kinds.contains(&f.finding.kind)
                && f.resolved_at.is_some_and(|t| t >= now - REPLAN)
            {
                queue.extend(plan_for_resolution(f, &sinks_for(&f.finding), now));
            }
        }
        let mut changes = Vec::with_capacity(findings.len());
        for f in findings {
            let sinks = sinks_for(f);
            let before = known.get(f.fingerprint.as_str());
            if let Some(b) =
                before.filter(|b| b.status == FindingStatus::Open && b.first_seen >= now - REPLAN)
            {
                queue.extend(plan_for_change(
                    FindingChange::New { id: b.id },
                    b,
                    &sinks,
                    now,
                ));
            }
            let repeated =
                before.filter(|b| b.status == FindingStatus::Open && same_instant(b.last_seen));
            if let Some(b) = repeated {
                let change = if same_instant(b.first_seen) {
                    FindingChange::New { id: b.id }
                } else {
                    FindingChange::Updated {
                        id: b.id,
                        occurrences: b.occurrences,
                    }
                };
                self.enqueue(&mut queue, muted, queued).await?;
                changes.push((f.fingerprint.clone(), change));
                continue;
            }
            if let Some(b) = before {
                let mut next = b.clone();
                next.finding = f.clone();
                next.status = FindingStatus::Open;
                next.last_seen = now.max(b.last_seen);
                next.occurrences += 1;
                next.resolved_at = None;
                if b.status == FindingStatus::Resolved {
                    let change = FindingChange::Reopened {
                        id: b.id,
                        occurrences: next.occurrences,
                    };
                    queue.extend(plan_for_change(change, &next, &sinks, now));
                } else {
                    queue.extend(plan_for_recurrence(
                        &next,
                        &sinks,
                        now,
                        self.update_interval,
                    ));
                }
            }
            self.enqueue(&mut queue, muted, queued).await?;
            let change = self.store.upsert_finding(f, now).await?;
            if let FindingChange::New { id } = change {
                let stored = StoredFinding {
                    id,
                    finding: f.clone(),
                    status: FindingStatus::Open,
                    first_seen: now,
                    last_seen: now,
                    occurrences: 1,
                    resolved_at: None,
                };
                queue.extend(plan_for_change(change, &stored, &sinks, now));
                self.enqueue(&mut queue, muted, queued).await?;
            }
            changes.push((f.fingerprint.clone(), change));
        }
        self.enqueue(&mut queue, muted, queued).await?;
        Ok(changes)
    }

    /// Queues `actions` (emptying it), counting those not queued before; what a muted
    /// finding does not send ([`crate::mute::keep`]) is left out.
    async fn enqueue(
        &self,
        actions: &mut Vec<NewAction>,
        muted: &HashSet<String>,
        queued: &mut usize,
    ) -> anyhow::Result<()> {
        for action in actions.drain(..).filter(|a| crate::mute::keep(a, muted)) {
            if self.store.enqueue_action(&action).await?.is_some() {
                *queued += 1;
            }
        }
        Ok(())
    }

    /// Delivers whatever actions are due at `now`.
    pub async fn deliver(&self, now: Timestamp) -> anyhow::Result<DeliveryReport> {
        Ok(deliver_due(self.store.as_ref(), &self.sinks, now, self.max_attempts).await?)
    }
}
