//! Watchers: checks run nightly by the `watchers` job, each turning what it finds into findings
//! (one issue per violation through the usual routing). Register one in [`registered`].

use super::{Job, JobContext};
use std::sync::Arc;
use tokpulse_act::plan_for_change;
use tokpulse_core::{Finding, FindingStatus, Timestamp};

/// A nightly check.
#[async_trait::async_trait]
pub trait Watcher: Send + Sync + 'static {
    /// Its name, in the job's summary.
    fn name(&self) -> &'static str;
    /// What it finds as of `now`: one finding per violation.
    async fn check(&self, ctx: &JobContext, now: Timestamp) -> anyhow::Result<Vec<Finding>>;
}

/// The registered watchers: one line each.
pub fn registered() -> Vec<Arc<dyn Watcher>> {
    Vec::new()
}

/// The nightly job that runs every registered watcher.
pub struct Watchers;

#[async_trait::async_trait]
impl Job for Watchers {
    fn name(&self) -> &'static str {
        "watchers"
    }
    fn default_cron(&self) -> &'static str {
        "0 3 * * *"
    }
    fn about(&self) -> &'static str {
        "watchers: each registered watcher, one issue per violation"
    }
    async fn run(&self, ctx: &JobContext, now: Timestamp) -> anyhow::Result<String> {
        run_watchers(ctx, &registered(), now).await
    }
}

/// Runs `watchers`, records their findings and queues their actions, then delivers.
pub async fn run_watchers(
    ctx: &JobContext,
    watchers: &[Arc<dyn Watcher>],
    now: Timestamp,
) -> anyhow::Result<String> {
    let mut findings = 0;
    let mut queued = 0;
    let mut failed = Vec::new();
    for w in watchers {
        match w.check(ctx, now).await {
            Ok(found) => {
                findings += found.len();
                queued += record(ctx, &found, now).await?;
            }
            Err(e) => failed.push(format!("{}: {e:#}", w.name())),
        }
    }
    ctx.engine.deliver(now).await?;
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {} watchers failed: {}",
            failed.len(),
            watchers.len(),
            failed.join("; ")
        );
    }
    Ok(format!(
        "{} watchers, {findings} violations, {queued} actions queued",
        watchers.len()
    ))
}

/// Upserts `found` and queues the actions of each change; returns how many were queued.
pub async fn record(ctx: &JobContext, found: &[Finding], now: Timestamp) -> anyhow::Result<usize> {
    let store = &ctx.store;
    let sink_names: Vec<&str> = ctx.engine.sinks().iter().map(|s| s.name()).collect();
    let mut queued = 0;
    let mut changes = Vec::new();
    for f in found {
        changes.push((f.fingerprint.clone(), store.upsert_finding(f, now).await?));
    }
    if changes.is_empty() {
        return Ok(0);
    }
    let open = store.findings(Some(FindingStatus::Open), 100_000).await?;
    for (fp, change) in changes {
        let Some(stored) = open.iter().find(|s| s.finding.fingerprint == fp) else {
            continue;
        };
        let sinks = ctx.engine.routing().sinks_for(
            stored.finding.kind,
            stored.finding.severity,
            &sink_names,
        );
        for action in plan_for_change(change, stored, &sinks, now) {
            if store.enqueue_action(&action).await?.is_some() {
                queued += 1;
            }
        }
    }
    Ok(queued)
}
