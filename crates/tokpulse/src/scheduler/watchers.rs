//! Watchers: checks run nightly by the `watchers` job, each turning what it finds into findings
//! (one issue per violation through the usual routing; a violation no longer found is resolved,
//! which closes its issue). Register one in [`registered`].

use super::{Job, JobContext};
use crate::engine::Applied;
use anyhow::Context;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokpulse_core::{Finding, FindingKind, Timestamp};

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

/// Runs `watchers`, records their findings and queues their actions, resolves the violations
/// a watcher no longer reports, then delivers. A watcher that fails resolves nothing.
pub async fn run_watchers(
    ctx: &JobContext,
    watchers: &[Arc<dyn Watcher>],
    now: Timestamp,
) -> anyhow::Result<String> {
    let (mut findings, mut queued, mut resolved) = (0, 0, 0);
    let mut failed = Vec::new();
    for w in watchers {
        match w.check(ctx, now).await {
            Ok(found) => {
                findings += found.len();
                let applied = record(ctx, w.name(), &found, now).await?;
                queued += applied.queued;
                resolved += applied.resolved.len();
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
        "{} watchers, {findings} violations, {resolved} resolved, {queued} actions queued",
        watchers.len()
    ))
}

/// The detector-state key of what the watcher `name` reported last: fingerprint → kind.
fn state_key(name: &str) -> String {
    format!("watcher:{name}")
}

/// Records what the watcher `name` found at `now` through the engine (crash-safe, one action
/// each, mutes respected) and resolves what it reported before and no longer does. Which
/// findings are the watcher's is kept in the detector state: before recording, everything it
/// reported last time or now (so a run killed part-way still resolves the rest next time);
/// after, what it reports now.
pub async fn record(
    ctx: &JobContext,
    name: &str,
    found: &[Finding],
    now: Timestamp,
) -> anyhow::Result<Applied> {
    let key = state_key(name);
    let before: BTreeMap<String, FindingKind> = ctx
        .store
        .detector_states(&key)
        .await?
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| serde_json::from_value(v))
        .transpose()
        .with_context(|| format!("detector state {key}"))?
        .unwrap_or_default();
    let current: BTreeMap<String, FindingKind> = found
        .iter()
        .map(|f| (f.fingerprint.as_str().to_owned(), f.kind))
        .collect();
    let owned: BTreeMap<&String, FindingKind> = before
        .iter()
        .chain(&current)
        .map(|(fp, k)| (fp, *k))
        .collect();
    ctx.store
        .put_detector_states(&[(key.clone(), Some(serde_json::to_value(&owned)?))], now)
        .await?;
    let kinds: BTreeSet<FindingKind> = owned.values().copied().collect();
    let applied = ctx
        .engine
        .apply(
            found,
            &kinds,
            |f| before.contains_key(f.finding.fingerprint.as_str()),
            now,
        )
        .await?;
    ctx.store
        .put_detector_states(&[(key, Some(serde_json::to_value(&current)?))], now)
        .await?;
    Ok(applied)
}
