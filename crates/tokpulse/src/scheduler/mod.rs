//! The scheduler: named [`Job`]s run on cron schedules (`[scheduler]`), on events from the
//! webhook receivers, and on demand (`tokpulse jobs run NAME`), all through one code path that
//! records every run in the store's `job_runs`.
//!
//! - **One run per slot, whatever the replicas.** A run starts by claiming its
//!   `(job, scheduled_for)` row (`Store::claim_job_run`): the table's unique key lets exactly one
//!   process insert it, on SQLite and on a PostgreSQL shared by several `tokpulse serve`.
//! - **Dead replicas.** A claim carries a lease (`scheduler.lease_minutes`). A replica that dies
//!   mid-run leaves a `running` row whose lease expires; the next slot is a new row and runs as
//!   usual, and while its slot is still the latest one another replica takes it over.
//! - **Missed runs run once.** Each check looks only at the latest slot at or before now: after
//!   downtime, the job runs once for that slot, not once per missed slot. A job that has never
//!   run starts with the first slot after the scheduler started.
//! - **The clock is injected** ([`crate::clock::Clock`]): tests and the demo move time forward
//!   and call [`Scheduler::tick`] without sleeping.
//!
//! Jobs are registered in [`jobs::builtin`], one line each; a new job is a type implementing
//! [`Job`].

pub mod cli;
pub mod config;
pub mod insights;
pub mod jobs;
pub mod pr_checks;
pub mod watchers;

pub use config::SchedulerConfig;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::engine::Engine;
use crate::server::webhooks::AutomationEvent;
use anyhow::Context;
use chrono::{DurationRound, TimeDelta};
use croner::Cron;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokpulse_core::Timestamp;
use tokpulse_store::{JobClaim, JobRunRow, JobStatus, JobTrigger, Store};

/// What a job gets to work with.
#[derive(Clone)]
pub struct JobContext {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Diagnosis, routing, sinks and delivery.
    pub engine: Arc<Engine>,
    /// The whole configuration.
    pub config: Arc<Config>,
    /// The clock.
    pub clock: SharedClock,
    /// The environment the credentials are read from (the process's, captured at start).
    pub env: Arc<BTreeMap<String, String>>,
}

/// A named piece of work the scheduler runs.
#[async_trait::async_trait]
pub trait Job: Send + Sync + 'static {
    /// Its name in `[scheduler.jobs]` and `tokpulse jobs run NAME`.
    fn name(&self) -> &'static str;
    /// Its cron expression when the config names none.
    fn default_cron(&self) -> &'static str;
    /// One line for `tokpulse jobs list`.
    fn about(&self) -> &'static str;
    /// Runs once as of `now`; returns a one-line summary for `job_runs`.
    async fn run(&self, ctx: &JobContext, now: Timestamp) -> anyhow::Result<String>;
}

struct Entry {
    job: Arc<dyn Job>,
    expr: String,
    cron: Option<Cron>,
}

/// How one attempt at a slot went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This process ran it.
    Ran {
        /// The `job_runs` row.
        id: i64,
        /// How it ended.
        status: JobStatus,
        /// Its summary, or its error.
        detail: String,
    },
    /// Another process has it (finished, or running under a live lease).
    Taken,
}

/// One attempt at a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The job.
    pub job: String,
    /// The slot.
    pub scheduled_for: Timestamp,
    /// Why.
    pub trigger: JobTrigger,
    /// What happened.
    pub outcome: Outcome,
}

/// A job as `tokpulse jobs list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobListing {
    /// Name.
    pub name: String,
    /// Its cron expression, or `off`.
    pub cron: String,
    /// What it does.
    pub about: String,
    /// Its latest run.
    pub last: Option<JobRunRow>,
    /// Its next slot.
    pub next: Option<Timestamp>,
}

/// Runs the registered jobs on their schedules. Cheap to share (`Arc`).
pub struct Scheduler {
    ctx: JobContext,
    entries: Vec<Entry>,
    tz: chrono_tz::Tz,
    lease: TimeDelta,
    deploy_after: TimeDelta,
    owner: String,
    started: Timestamp,
    /// Per job, no slot is due before this (saves a store read per job per tick).
    next_check: Mutex<HashMap<String, Timestamp>>,
    /// Event runs asked for: (job, slot).
    pending: Mutex<BTreeSet<(Timestamp, String)>>,
    pr_checks: pr_checks::PrChecks,
}

/// Rows read to find a job's latest slot.
const RECENT: i64 = 5;

impl Scheduler {
    /// A scheduler of `jobs` with the config's schedules; `owner` names this process in
    /// `job_runs` (unique per replica). Fails on an invalid `[scheduler]`.
    pub fn new(
        ctx: JobContext,
        jobs: Vec<Arc<dyn Job>>,
        pr_checks: pr_checks::PrChecks,
        owner: String,
    ) -> anyhow::Result<Scheduler> {
        let sc = &ctx.config.scheduler;
        let names: Vec<&str> = jobs.iter().map(|j| j.name()).collect();
        let problems = sc.validate(&names);
        if !problems.is_empty() {
            anyhow::bail!("{}", problems.join("\n"));
        }
        let tz = sc.tz().map_err(anyhow::Error::msg)?;
        let mut entries = Vec::new();
        for job in jobs {
            let expr = sc
                .jobs
                .get(job.name())
                .cloned()
                .unwrap_or_else(|| job.default_cron().to_string());
            let cron = if expr == config::OFF {
                None
            } else {
                Some(
                    config::parse_cron(&expr)
                        .map_err(|e| anyhow::anyhow!("job {}: {e}", job.name()))?,
                )
            };
            entries.push(Entry { job, expr, cron });
        }
        let started = ctx.clock.now();
        Ok(Scheduler {
            lease: TimeDelta::minutes(i64::from(sc.lease_minutes)),
            deploy_after: TimeDelta::minutes(i64::from(sc.deploy_check_after_minutes)),
            ctx,
            entries,
            tz,
            owner,
            started,
            next_check: Mutex::default(),
            pending: Mutex::default(),
            pr_checks,
        })
    }

    /// The scheduler of `serve` and `tokpulse jobs`: the built-in jobs and PR checks over
    /// `app`, PR results to `publisher` (the outbox when `None`).
    pub fn for_app(
        config: &Config,
        app: &crate::app::App,
        clock: SharedClock,
        publisher: Option<Arc<dyn pr_checks::PrPublisher>>,
    ) -> anyhow::Result<Scheduler> {
        let ctx = JobContext {
            store: app.store.clone(),
            engine: app.engine.clone(),
            config: Arc::new(config.clone()),
            clock,
            env: Arc::new(std::env::vars().collect()),
        };
        let publisher = publisher
            .unwrap_or_else(|| Arc::new(pr_checks::OutboxPublisher::new(config.outbox_dir())));
        Scheduler::new(
            ctx,
            jobs::builtin(),
            pr_checks::PrChecks::new(pr_checks::registered(), publisher),
            Scheduler::replica_id(),
        )
    }

    /// A replica id: host name, process id and a random suffix.
    pub fn replica_id() -> String {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "tokpulse".into());
        format!(
            "{host}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )
    }

    /// The job names, in registration order.
    pub fn job_names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.job.name()).collect()
    }

    /// The context jobs run with.
    pub fn context(&self) -> &JobContext {
        &self.ctx
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.job.name() == name)
    }

    /// The latest slot of `cron` at or before `now`.
    fn latest_slot(&self, cron: &Cron, now: Timestamp) -> Option<Timestamp> {
        cron.find_previous_occurrence(&now.with_timezone(&self.tz), true)
            .ok()
            .map(|t| t.to_utc())
    }

    /// The first slot of `cron` after `t`.
    fn next_slot(&self, cron: &Cron, t: Timestamp) -> Option<Timestamp> {
        cron.find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.to_utc())
    }

    /// Runs every job whose latest slot at or before `now` has not run, then the event runs
    /// that are due. Returns what was attempted.
    pub async fn tick(&self, now: Timestamp) -> anyhow::Result<Vec<RunOutcome>> {
        let mut out = Vec::new();
        for e in &self.entries {
            let Some(cron) = &e.cron else { continue };
            let name = e.job.name();
            let skip_until = self.lock_next().get(name).copied();
            if skip_until.is_some_and(|t| now < t) {
                continue;
            }
            let Some(slot) = self.latest_slot(cron, now) else {
                continue;
            };
            let recent = self.ctx.store.job_runs(Some(name), RECENT).await?;
            let last = recent.first();
            let due = match last {
                None => slot >= self.started,
                Some(r) if slot > r.scheduled_for => true,
                // Its row is the latest: retake it only if its runner died.
                Some(r) => {
                    r.scheduled_for == slot && r.status == JobStatus::Running && r.lease_until < now
                }
            };
            let mut check_again = self.next_slot(cron, now);
            if due {
                let o = self.run_slot(e, slot, JobTrigger::Schedule, now).await?;
                if o.outcome == Outcome::Taken {
                    check_again = self.recheck_after_taken(name, slot, check_again).await?;
                }
                out.push(o);
            } else if let Some(r) = last
                && r.scheduled_for == slot
                && r.status == JobStatus::Running
            {
                // Running elsewhere: look again when its lease ends, in case its runner died.
                check_again = min_opt(check_again, Some(r.lease_until + TimeDelta::seconds(1)));
            }
            if let Some(t) = check_again {
                self.lock_next().insert(name.to_string(), t);
            }
        }
        let due: Vec<(Timestamp, String)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let later = pending.split_off(&(now + TimeDelta::milliseconds(1), String::new()));
            std::mem::replace(&mut *pending, later)
                .into_iter()
                .collect()
        };
        for (slot, name) in due {
            if let Some(e) = self.entry(&name) {
                out.push(self.run_slot(e, slot, JobTrigger::Event, now).await?);
            }
        }
        Ok(out)
    }

    async fn recheck_after_taken(
        &self,
        name: &str,
        slot: Timestamp,
        next: Option<Timestamp>,
    ) -> anyhow::Result<Option<Timestamp>> {
        let rows = self.ctx.store.job_runs(Some(name), RECENT).await?;
        Ok(match rows.iter().find(|r| r.scheduled_for == slot) {
            Some(r) if r.status == JobStatus::Running => {
                min_opt(next, Some(r.lease_until + TimeDelta::seconds(1)))
            }
            _ => next,
        })
    }

    fn lock_next(&self) -> std::sync::MutexGuard<'_, HashMap<String, Timestamp>> {
        self.next_check.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for a run of `job` after `at`: at the first whole minute strictly after it, so
    /// events close together share one run (on every replica too), and the run comes after
    /// the event even when a scheduled run of the same minute already happened.
    pub fn request(&self, job: &str, at: Timestamp) {
        let at = next_minute(at);
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((at, job.to_string()));
    }

    /// Event runs asked for and not yet run: (slot, job).
    pub fn pending(&self) -> Vec<(Timestamp, String)> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// What an event from the webhook receivers asks for: a deploy, a diagnosis run once it
    /// has settled; a finished CI job, a diagnosis run now; a pull request, the PR checks
    /// (returned, for the caller to await or spawn).
    pub fn on_event(&self, event: AutomationEvent, now: Timestamp) -> Option<webhooks_pr::Pr> {
        match event {
            AutomationEvent::Deploy { at, .. } => {
                self.request(jobs::DIAGNOSIS, at.max(now) + self.deploy_after);
                None
            }
            AutomationEvent::CiCompleted { at, .. } => {
                self.request(jobs::DIAGNOSIS, at);
                None
            }
            AutomationEvent::PullRequest(pr) => Some(pr),
        }
    }

    /// Runs `name` now (`tokpulse jobs run NAME`): the same claim, run and record as a
    /// scheduled run, under the slot `now`.
    pub async fn run_now(&self, name: &str, now: Timestamp) -> anyhow::Result<RunOutcome> {
        let e = self.entry(name).ok_or_else(|| {
            anyhow::anyhow!(
                "no job named {name:?}; the jobs are {}",
                self.job_names().join(", ")
            )
        })?;
        self.run_slot(e, now, JobTrigger::Manual, now).await
    }

    /// Claims `slot` of `e`; if this process got it, runs the job (in its own task, so a panic
    /// is a failed run) and records how it ended.
    async fn run_slot(
        &self,
        e: &Entry,
        slot: Timestamp,
        trigger: JobTrigger,
        now: Timestamp,
    ) -> anyhow::Result<RunOutcome> {
        let name = e.job.name();
        let claim = JobClaim {
            job: name,
            scheduled_for: slot,
            trigger,
            owner: &self.owner,
            now,
            lease_until: now + self.lease,
        };
        let mut result = RunOutcome {
            job: name.to_string(),
            scheduled_for: slot,
            trigger,
            outcome: Outcome::Taken,
        };
        let Some(id) = self
            .ctx
            .store
            .claim_job_run(&claim)
            .await
            .with_context(|| format!("claiming {name} at {slot}"))?
        else {
            tracing::debug!(job = name, %slot, "slot taken by another process");
            return Ok(result);
        };
        tracing::info!(job = name, %slot, trigger = trigger.as_str(), "job started");
        let job = e.job.clone();
        let ctx = self.ctx.clone();
        let joined = tokio::spawn(async move { job.run(&ctx, now).await }).await;
        let (status, detail) = match joined {
            Ok(Ok(summary)) => (JobStatus::Ok, summary),
            Ok(Err(error)) => (JobStatus::Failed, format!("{error:#}")),
            Err(join) => (JobStatus::Failed, format!("the job panicked: {join}")),
        };
        let (error, summary) = match status {
            JobStatus::Ok => (None, Some(detail.as_str())),
            _ => (Some(detail.as_str()), None),
        };
        let finished = self
            .ctx
            .store
            .finish_job_run(
                id,
                &self.owner,
                self.ctx.clock.now(),
                status,
                error,
                summary,
            )
            .await?;
        if !finished {
            tracing::warn!(job = name, %slot, "run finished after its lease was taken over");
        }
        match status {
            JobStatus::Ok => tracing::info!(job = name, %slot, summary = %detail, "job finished"),
            _ => tracing::warn!(job = name, %slot, error = %detail, "job failed"),
        }
        result.outcome = Outcome::Ran { id, status, detail };
        Ok(result)
    }

    /// Every job with its schedule, latest run and next slot after `now`.
    pub async fn list(&self, now: Timestamp) -> anyhow::Result<Vec<JobListing>> {
        let mut out = Vec::new();
        for e in &self.entries {
            let name = e.job.name();
            let last = self
                .ctx
                .store
                .job_runs(Some(name), 1)
                .await?
                .into_iter()
                .next();
            out.push(JobListing {
                name: name.to_string(),
                cron: e.expr.clone(),
                about: e.job.about().to_string(),
                last,
                next: e.cron.as_ref().and_then(|c| self.next_slot(c, now)),
            });
        }
        Ok(out)
    }

    /// The serve loop: ticks every `poll` by the clock, takes events from the webhook
    /// receivers, runs the PR checks, until `stop` turns true.
    pub async fn run_loop(
        self: Arc<Self>,
        mut events: mpsc::UnboundedReceiver<AutomationEvent>,
        mut stop: watch::Receiver<bool>,
        poll: Duration,
    ) {
        loop {
            let now = self.ctx.clock.now();
            match self.tick(now).await {
                Ok(runs) => {
                    for r in runs {
                        tracing::debug!(job = %r.job, slot = %r.scheduled_for, outcome = ?r.outcome, "slot");
                    }
                }
                Err(error) => tracing::warn!(error = format!("{error:#}"), "scheduler tick failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                Some(event) = events.recv() => {
                    if let Some(pr) = self.on_event(event, self.ctx.clock.now()) {
                        let me = self.clone();
                        tokio::spawn(async move {
                            let now = me.ctx.clock.now();
                            if let Err(error) = me.pr_checks.run(&me.ctx, &pr, now).await {
                                tracing::warn!(pr = pr.number, error = format!("{error:#}"), "PR checks failed");
                            }
                        });
                    }
                }
                _ = stop.changed() => break,
            }
        }
    }

    /// The PR checks.
    pub fn pr_checks(&self) -> &pr_checks::PrChecks {
        &self.pr_checks
    }
}

/// The pull-request event type, under a short name.
pub mod webhooks_pr {
    /// A pull request opened or updated.
    pub type Pr = crate::server::webhooks::PullRequestEvent;
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn next_minute(t: Timestamp) -> Timestamp {
    match t.duration_trunc(TimeDelta::minutes(1)) {
        Ok(floor) => floor + TimeDelta::minutes(1),
        Err(_) => t,
    }
}
