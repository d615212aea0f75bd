//! The scheduler on a manual clock: a missed run runs once, two replicas on one PostgreSQL run
//! every slot exactly once through a simulated week, a dead replica's lease expires.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokpulse::app::App;
use tokpulse::clock::{Clock, ManualClock};
use tokpulse::config::Config;
use tokpulse::scheduler::pr_checks::{OutboxPublisher, PrChecks};
use tokpulse::scheduler::{Job, JobContext, Outcome, Scheduler};
use tokpulse_core::Timestamp;
use tokpulse_store::{JobClaim, JobStatus, JobTrigger, Store};

/// Counts its runs per slot time.
#[derive(Default)]
struct Counting {
    runs: Mutex<Vec<Timestamp>>,
}

#[async_trait::async_trait]
impl Job for Counting {
    fn name(&self) -> &'static str {
        "count"
    }
    fn default_cron(&self) -> &'static str {
        "*/15 * * * *"
    }
    fn about(&self) -> &'static str {
        "counts"
    }
    async fn run(&self, _ctx: &JobContext, now: Timestamp) -> anyhow::Result<String> {
        self.runs.lock().unwrap().push(now);
        Ok("counted".into())
    }
}

fn t(s: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn config(dir: &std::path::Path, cron: &str) -> Config {
    let mut c = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    c.scheduler.jobs = BTreeMap::from([("count".to_string(), cron.to_string())]);
    c.scheduler.lease_minutes = 30;
    c
}

fn scheduler(
    config: &Config,
    store: Arc<dyn Store>,
    clock: &ManualClock,
    job: Arc<Counting>,
    owner: &str,
) -> Scheduler {
    let app = App::new(config, store.clone());
    let ctx = JobContext {
        store,
        engine: app.engine.clone(),
        config: Arc::new(config.clone()),
        clock: Arc::new(clock.clone()),
        env: Arc::default(),
    };
    let checks = PrChecks::new(
        Vec::new(),
        Arc::new(OutboxPublisher::new(config.outbox_dir())),
    );
    Scheduler::new(ctx, vec![job], checks, owner.to_string()).unwrap()
}

async fn sqlite(dir: &std::path::Path) -> Arc<dyn Store> {
    tokpulse::app::open_store(&tokpulse_store::StoreTarget::Sqlite {
        data_dir: dir.to_path_buf(),
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_missed_run_runs_once_and_every_run_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(dir.path()).await;
    let clock = ManualClock::new(t("2026-11-23T10:02:00Z"));
    let job = Arc::new(Counting::default());
    let config = config(dir.path(), "*/5 * * * *");
    let s = scheduler(&config, store.clone(), &clock, job.clone(), "a");

    // Started at 10:02: the 10:00 slot was before the start and does not run.
    assert!(s.tick(clock.now()).await.unwrap().is_empty());
    clock.set(t("2026-11-23T10:05:00Z"));
    assert_eq!(s.tick(clock.now()).await.unwrap().len(), 1);
    assert!(
        s.tick(clock.now()).await.unwrap().is_empty(),
        "once per slot"
    );

    // Down for three hours (36 slots): one run at start, for the latest slot.
    drop(s);
    clock.set(t("2026-11-23T13:07:30Z"));
    let s = scheduler(&config, store.clone(), &clock, job.clone(), "a2");
    let runs = s.tick(clock.now()).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].scheduled_for, t("2026-11-23T13:05:00Z"));
    assert!(s.tick(clock.now()).await.unwrap().is_empty());
    assert_eq!(job.runs.lock().unwrap().len(), 2);

    // `jobs run` goes through the same claim and record.
    let manual = s.run_now("count", clock.now()).await.unwrap();
    assert!(matches!(
        manual.outcome,
        Outcome::Ran {
            status: JobStatus::Ok,
            ..
        }
    ));
    let rows = store.job_runs(Some("count"), 10).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r.status == JobStatus::Ok && r.finished_at.is_some())
    );
    assert_eq!(rows[0].trigger, "manual");
    assert_eq!(rows[1].summary.as_deref(), Some("counted"));
    let listed = s.list(clock.now()).await.unwrap();
    assert_eq!(listed[0].next, Some(t("2026-11-23T13:10:00Z")));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_run_every_slot_once_through_a_week() {
    let url = tokpulse_store::testing::PgCluster::shared()
        .fresh_database("scheduler_week")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let open = || async {
        let s: Arc<dyn Store> = Arc::new(tokpulse_store::PgStore::connect(&url, 4).await.unwrap());
        s
    };
    let store_a = open().await;
    store_a.migrate().await.unwrap();
    let store_b = open().await;
    let config = config(dir.path(), "0 * * * *");
    let start = t("2026-11-23T00:00:00Z");
    let clock = ManualClock::new(start);
    let (job_a, job_b) = (Arc::new(Counting::default()), Arc::new(Counting::default()));
    let a = scheduler(&config, store_a.clone(), &clock, job_a.clone(), "replica-a");
    let b = scheduler(&config, store_b.clone(), &clock, job_b.clone(), "replica-b");

    // A week in 20-minute steps, both replicas ticking at once.
    let end = start + chrono::TimeDelta::days(7);
    while clock.now() < end {
        let now = clock.now();
        let (ra, rb) = tokio::join!(a.tick(now), b.tick(now));
        ra.unwrap();
        rb.unwrap();
        clock.advance(chrono::TimeDelta::minutes(20));
    }
    let mut all: Vec<Timestamp> = job_a.runs.lock().unwrap().clone();
    all.extend(job_b.runs.lock().unwrap().iter().copied());
    all.sort();
    let slots = 7 * 24;
    assert_eq!(all.len(), slots, "every hourly slot exactly once");
    all.dedup();
    assert_eq!(all.len(), slots, "no slot twice");
    let rows = store_a.job_runs(Some("count"), 1000).await.unwrap();
    assert_eq!(rows.len(), slots);
    assert!(rows.iter().all(|r| r.status == JobStatus::Ok));
    store_a.close().await;
    store_b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_dies_mid_run_does_not_block_the_schedule() {
    let url = tokpulse_store::testing::PgCluster::shared()
        .fresh_database("scheduler_dead")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(tokpulse_store::PgStore::connect(&url, 4).await.unwrap());
    store.migrate().await.unwrap();
    let config = config(dir.path(), "0 * * * *");
    let clock = ManualClock::new(t("2026-11-23T09:59:00Z"));
    let job = Arc::new(Counting::default());
    let b = scheduler(&config, store.clone(), &clock, job.clone(), "replica-b");

    // Replica A claimed the 10:00 slot and died: its row stays `running` under a 30-minute lease.
    let slot = t("2026-11-23T10:00:00Z");
    let dead = store
        .claim_job_run(&JobClaim {
            job: "count",
            scheduled_for: slot,
            trigger: JobTrigger::Schedule,
            owner: "replica-a",
            now: slot,
            lease_until: slot + chrono::TimeDelta::minutes(30),
        })
        .await
        .unwrap();
    assert!(dead.is_some());

    clock.set(t("2026-11-23T10:01:00Z"));
    assert!(
        b.tick(clock.now()).await.unwrap().is_empty(),
        "held while the lease lives"
    );
    clock.set(t("2026-11-23T10:20:00Z"));
    assert!(b.tick(clock.now()).await.unwrap().is_empty());

    // The lease ends: B takes the slot over and runs it.
    clock.set(t("2026-11-23T10:31:00Z"));
    let r = b.tick(clock.now()).await.unwrap();
    assert_eq!(r.len(), 1);
    assert!(
        matches!(
            r[0].outcome,
            Outcome::Ran {
                status: JobStatus::Ok,
                ..
            }
        ),
        "{r:?}"
    );
    // And the next slot runs as usual.
    clock.set(t("2026-11-23T11:00:00Z"));
    assert_eq!(b.tick(clock.now()).await.unwrap().len(), 1);
    assert_eq!(job.runs.lock().unwrap().len(), 2);
    let rows = store.job_runs(Some("count"), 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.owner == "replica-b" && r.status == JobStatus::Ok)
    );
    store.close().await;
}

#[tokio::test]
async fn webhook_events_ask_for_diagnosis_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(dir.path()).await;
    let clock = ManualClock::new(t("2026-11-23T10:00:30Z"));
    let mut config = config(dir.path(), "off");
    config.scheduler.jobs.clear();
    let app = App::new(&config, store.clone());
    let s = Scheduler::for_app(&config, &app, Arc::new(clock.clone()), None).unwrap();
    use tokpulse::server::webhooks::AutomationEvent;
    s.on_event(
        AutomationEvent::Deploy {
            id: "d1".into(),
            at: t("2026-11-23T10:00:00Z"),
        },
        clock.now(),
    );
    s.on_event(
        AutomationEvent::CiCompleted {
            failed: true,
            at: clock.now(),
        },
        clock.now(),
    );
    s.on_event(
        AutomationEvent::CiCompleted {
            failed: true,
            at: clock.now(),
        },
        clock.now(),
    );
    let pending: Vec<_> = s.pending().into_iter().map(|(at, _)| at).collect();
    // The two CI events share one run at the next minute; the deploy is checked once 35
    // minutes have passed, at the minute after.
    assert_eq!(
        pending,
        vec![t("2026-11-23T10:01:00Z"), t("2026-11-23T10:36:00Z")]
    );
    clock.set(t("2026-11-23T10:01:00Z"));
    let runs = s.tick(clock.now()).await.unwrap();
    let ran: Vec<_> = runs
        .iter()
        .filter(|r| r.trigger == JobTrigger::Event)
        .map(|r| r.job.as_str())
        .collect();
    assert_eq!(ran, ["diagnosis"]);
    assert_eq!(s.pending().len(), 1);
    store.close().await;
}

/// A watcher reporting a table without a primary key for each table it is set to, or failing.
struct NoPrimaryKey(std::sync::Mutex<Result<Vec<&'static str>, &'static str>>);

impl NoPrimaryKey {
    fn set(&self, tables: Result<Vec<&'static str>, &'static str>) {
        *self.0.lock().unwrap() = tables;
    }
}

#[async_trait::async_trait]
impl tokpulse::scheduler::watchers::Watcher for NoPrimaryKey {
    fn name(&self) -> &'static str {
        "no-primary-key"
    }
    async fn check(
        &self,
        _ctx: &JobContext,
        now: Timestamp,
    ) -> anyhow::Result<Vec<tokpulse_core::Finding>> {
        use tokpulse_core::{Finding, FindingKind, Fingerprint, Severity, Window};
        let tables = self.0.lock().unwrap().clone().map_err(anyhow::Error::msg)?;
        Ok(tables
            .iter()
            .map(|table| Finding {
                kind: FindingKind::NewErrorPattern,
                severity: Severity::Warning,
                fingerprint: Fingerprint::of(FindingKind::NewErrorPattern, &["db", table]),
                title: format!("table {table} has no primary key"),
                service: "db".into(),
                route: None,
                window: Window {
                    start: now - chrono::TimeDelta::hours(1),
                    end: now,
                },
                evidence: Vec::new(),
                cause: None,
                suggestion: "add one".into(),
            })
            .collect())
    }
}

#[tokio::test]
async fn each_watcher_violation_is_one_issue_night_after_night_until_it_is_fixed() {
    use tokpulse_core::FindingStatus;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(dir.path()).await;
    let config = config(dir.path(), "*/5 * * * *");
    let app = App::new(&config, store.clone());
    let clock = ManualClock::new(t("2026-11-23T03:00:00Z"));
    let ctx = JobContext {
        store: store.clone(),
        engine: app.engine.clone(),
        config: Arc::new(config.clone()),
        clock: Arc::new(clock.clone()),
        env: Arc::default(),
    };
    let watcher = Arc::new(NoPrimaryKey(std::sync::Mutex::new(Ok(vec![
        "orders", "invoices",
    ]))));
    let watchers: Vec<Arc<dyn tokpulse::scheduler::watchers::Watcher>> = vec![watcher.clone()];
    let issues = || {
        std::fs::read_dir(config.outbox_dir().join("issues"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let run = |at: &str| {
        clock.set(t(at));
        tokpulse::scheduler::watchers::run_watchers(&ctx, &watchers, clock.now())
    };
    let open = || async {
        let mut titles: Vec<String> = store
            .findings(Some(FindingStatus::Open), 100)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.finding.title)
            .collect();
        titles.sort();
        titles
    };
    let summary = run("2026-11-23T03:00:00Z").await.unwrap();
    assert!(summary.starts_with("1 watchers, 2 violations"), "{summary}");
    assert_eq!(issues(), 2, "one issue per violation");
    run("2026-11-24T03:00:00Z").await.unwrap();
    assert_eq!(
        issues(),
        2,
        "the same violations the next night file nothing new"
    );
    assert_eq!(
        store.count(tokpulse_store::Table::Findings).await.unwrap(),
        2
    );

    // A night the watcher fails resolves nothing.
    watcher.set(Err("database unreachable"));
    let err = run("2026-11-25T03:00:00Z").await.unwrap_err();
    assert!(
        format!("{err:#}").contains("no-primary-key: database unreachable"),
        "{err:#}"
    );
    assert_eq!(open().await.len(), 2);

    // `invoices` got its key: its finding is resolved, `orders` stays open.
    watcher.set(Ok(vec!["orders"]));
    let summary = run("2026-11-26T03:00:00Z").await.unwrap();
    assert!(
        summary.starts_with("1 watchers, 1 violations, 1 resolved"),
        "{summary}"
    );
    assert_eq!(open().await, ["table orders has no primary key"]);
    let resolved: Vec<String> = std::fs::read_dir(config.outbox_dir().join("issues"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|body| body.contains("**Resolved**"))
        .collect();
    assert_eq!(resolved.len(), 1, "its issue says so");
    assert!(resolved[0].contains("invoices"), "{}", resolved[0]);
    // It comes back: the same finding reopens.
    watcher.set(Ok(vec!["orders", "invoices"]));
    run("2026-11-27T03:00:00Z").await.unwrap();
    assert_eq!(open().await.len(), 2);
    assert_eq!(
        store.count(tokpulse_store::Table::Findings).await.unwrap(),
        2
    );
}
