//! The engine: loads the analyzers' input from the store, runs them, stores their findings
//! (deduplicated by fingerprint), resolves what stopped happening, and queues and delivers the
//! actions. Analyzers stay pure; every I/O step is here. The clock is an argument, so tests and
//! the demo run it at any instant.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokpulse_act::{
    DeliveryReport, Routing, Sink, deliver_due, plan_for_change, plan_for_recurrence,
    plan_for_resolution,
};
use tokpulse_analyze::{Analyzer, AnalyzersConfig, Inputs};
use tokpulse_core::{FindingKind, FindingStatus, StoredFinding, Timestamp, Window};
use tokpulse_store::{FindingChange, Store};

/// At most this many open findings are considered per run.
const MAX_OPEN: i64 = 100_000;

/// What one diagnosis run did.
#[derive(Debug, Default)]
pub struct DiagnosisRun {
    /// The window examined.
    pub window: Option<Window>,
    /// Requests examined in the window and its baseline.
    pub samples: usize,
    /// Findings seen in this run, with what happened to each in the store.
    pub seen: Vec<(FindingChange, StoredFinding)>,
    /// Findings resolved by this run.
    pub resolved: Vec<StoredFinding>,
    /// Actions queued by this run.
    pub queued: usize,
    /// What the delivery pass did.
    pub delivery: DeliveryReport,
}

/// Runs diagnosis and delivery.
pub struct Engine {
    store: Arc<dyn Store>,
    analyzers: Vec<Box<dyn Analyzer + Send + Sync>>,
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

    /// One diagnosis run as of `now`, then one delivery pass.
    pub async fn run(&self, now: Timestamp) -> anyhow::Result<DiagnosisRun> {
        let window = Window {
            start: now - self.window,
            end: now,
        };
        let baseline_window = window.previous();
        let current = self.store.request_samples(window).await?;
        let baseline = self.store.request_samples(baseline_window).await?;
        let deployments = self
            .store
            .deployments(Window {
                start: baseline_window.start,
                end: now,
            })
            .await?;
        let inputs = Inputs {
            now,
            window,
            current: &current,
            baseline_window,
            baseline: &baseline,
            deployments: &deployments,
        };
        let mut run = DiagnosisRun {
            window: Some(window),
            samples: current.len() + baseline.len(),
            ..DiagnosisRun::default()
        };
        let mut kinds: BTreeSet<FindingKind> = BTreeSet::new();
        let mut findings = Vec::new();
        for a in &self.analyzers {
            kinds.extend(a.kinds().iter().copied());
            findings.extend(a.analyze(&inputs));
        }

        let mut changes = Vec::with_capacity(findings.len());
        for f in &findings {
            changes.push((
                f.fingerprint.clone(),
                self.store.upsert_finding(f, now).await?,
            ));
        }
        let open: HashMap<String, StoredFinding> = self
            .store
            .findings(Some(FindingStatus::Open), MAX_OPEN)
            .await?
            .into_iter()
            .map(|f| (f.finding.fingerprint.as_str().to_string(), f))
            .collect();
        let sink_names: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
        for (fp, change) in changes {
            let stored = open
                .get(fp.as_str())
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("finding {fp} was stored but is not open"))?;
            let sinks =
                self.routing
                    .sinks_for(stored.finding.kind, stored.finding.severity, &sink_names);
            let actions = match change {
                FindingChange::Updated { .. } => {
                    plan_for_recurrence(&stored, &sinks, now, self.update_interval)
                }
                _ => plan_for_change(change, &stored, &sinks, now),
            };
            for action in actions {
                if self.store.enqueue_action(&action).await?.is_some() {
                    run.queued += 1;
                }
            }
            run.seen.push((change, stored));
        }

        // Open findings of the kinds these analyzers own that this run did not see have stopped.
        let seen: BTreeSet<&str> = findings.iter().map(|f| f.fingerprint.as_str()).collect();
        for f in open.values() {
            if kinds.contains(&f.finding.kind)
                && !seen.contains(f.finding.fingerprint.as_str())
                && self.store.resolve_finding(f.id, now).await?
            {
                let mut resolved = f.clone();
                resolved.status = FindingStatus::Resolved;
                resolved.resolved_at = Some(now);
                let sinks = self.routing.sinks_for(
                    resolved.finding.kind,
                    resolved.finding.severity,
                    &sink_names,
                );
                for action in plan_for_resolution(&resolved, &sinks, now) {
                    if self.store.enqueue_action(&action).await?.is_some() {
                        run.queued += 1;
                    }
                }
                run.resolved.push(resolved);
            }
        }
        run.resolved
            .sort_by(|a, b| a.finding.title.cmp(&b.finding.title));

        run.delivery = self.deliver(now).await?;
        Ok(run)
    }

    /// Delivers whatever actions are due at `now`.
    pub async fn deliver(&self, now: Timestamp) -> anyhow::Result<DeliveryReport> {
        Ok(deliver_due(self.store.as_ref(), &self.sinks, now, self.max_attempts).await?)
    }
}
