//! The built-in jobs, registered in [`builtin`]: one line each.

use super::{Job, JobContext};
use tokpulse_core::Timestamp;

/// The diagnosis job's name (webhook events ask for runs of it).
pub const DIAGNOSIS: &str = "diagnosis";

/// The built-in jobs' names (what `[scheduler.jobs]` may name).
pub const NAMES: [&str; 5] = [DIAGNOSIS, "cost", "watchers", "insights", "retention"];

/// Every built-in job, in the order `tokpulse jobs list` shows them.
pub fn builtin() -> Vec<std::sync::Arc<dyn Job>> {
    vec![
        std::sync::Arc::new(Diagnosis),
        std::sync::Arc::new(Cost),
        std::sync::Arc::new(super::watchers::Watchers),
        std::sync::Arc::new(super::insights::Insights),
        std::sync::Arc::new(Retention),
    ]
}

/// Diagnosis and delivery ([`crate::engine::Engine::run`]): route health, settled deploys
/// checked for regressions, CI patterns.
pub struct Diagnosis;

#[async_trait::async_trait]
impl Job for Diagnosis {
    fn name(&self) -> &'static str {
        DIAGNOSIS
    }
    fn default_cron(&self) -> &'static str {
        "*/5 * * * *"
    }
    fn about(&self) -> &'static str {
        "diagnosis: findings from requests, deploys and CI jobs; actions delivered"
    }
    async fn run(&self, ctx: &JobContext, now: Timestamp) -> anyhow::Result<String> {
        let run = ctx.engine.run(now).await?;
        Ok(format!(
            "{} requests, {} findings seen, {} resolved, {} actions queued, {} delivered",
            run.samples,
            run.seen.len(),
            run.resolved.len(),
            run.queued,
            run.delivery.delivered
        ))
    }
}

/// The cost run ([`crate::cost_run::run`]): forecasts, budget tiers, cost findings.
pub struct Cost;

#[async_trait::async_trait]
impl Job for Cost {
    fn name(&self) -> &'static str {
        "cost"
    }
    fn default_cron(&self) -> &'static str {
        "0 * * * *"
    }
    fn about(&self) -> &'static str {
        "cost: Vercel usage (when [vercel] is on), month-end forecasts, budget tiers and cost findings"
    }
    async fn run(&self, ctx: &JobContext, now: Timestamp) -> anyhow::Result<String> {
        // Vercel's usage first, when configured; the run goes on without it if the pull fails,
        // and the job then fails with the pull's error.
        let pulled = if ctx.config.vercel.enabled {
            let pull = async {
                crate::vercel_usage::VercelUsage::new(&ctx.config.vercel, &ctx.env)?
                    .pull(ctx.store.as_ref(), now)
                    .await
            };
            Some(pull.await)
        } else {
            None
        };
        let run = crate::cost_run::run(&ctx.engine, &ctx.config.cost, now).await?;
        let summary = format!(
            "{} forecasts stored, {} cost findings, {} resolved, {} actions queued",
            run.predictions,
            run.seen.len(),
            run.resolved.len(),
            run.queued
        );
        match pulled {
            None => Ok(summary),
            Some(Ok(p)) if p.problems.is_empty() => Ok(format!(
                "vercel: {} usage records stored ({} already); {summary}",
                p.stored, p.duplicates
            )),
            Some(Ok(p)) => anyhow::bail!(
                "{summary}; vercel: {} usage records stored, {} rows unreadable: {}",
                p.stored,
                p.problems.len(),
                p.problems.join("; ")
            ),
            Some(Err(e)) => anyhow::bail!("{summary}; but the Vercel usage pull failed: {e:#}"),
        }
    }
}

/// Retention ([`crate::retention::run_retention`]).
pub struct Retention;

#[async_trait::async_trait]
impl Job for Retention {
    fn name(&self) -> &'static str {
        "retention"
    }
    fn default_cron(&self) -> &'static str {
        "30 4 * * *"
    }
    fn about(&self) -> &'static str {
        "retention: deletes rows older than [retention] allows"
    }
    async fn run(&self, ctx: &JobContext, now: Timestamp) -> anyhow::Result<String> {
        let report =
            crate::retention::run_retention(ctx.store.as_ref(), &ctx.config.retention, now, false)
                .await?;
        Ok(format!("{} rows deleted", report.total()))
    }
}
