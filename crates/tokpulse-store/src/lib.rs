//! TokPulse's store: one [`Store`] trait with two backends, [`SqliteStore`] (the embedded
//! default: one file, WAL) and [`PgStore`] (pooled PostgreSQL; Supabase-compatible migrations
//! with row-level security).
//!
//! Write methods only take [`Guarded`](tokpulse_guard::Guarded) records, so nothing reaches the
//! database without passing the privacy guard. A batch is written in one transaction and the
//! call returns only after it is committed: callers acknowledge a batch after `insert_batch`
//! returns `Ok`, never before.
//!
//! - [`open`] picks the backend from a [`StoreTarget`] and returns an `Arc<dyn Store>`.
//! - [`Store::migrate`] applies the embedded migrations ([`embedded_migrations`]); opening a
//!   store never migrates by itself.
//! - With the `testing` feature, `testing::PgCluster` starts a throwaway PostgreSQL and
//!   `store_conformance!` runs the conformance suite that both backends pass.
//!
//! ```
//! use tokpulse_core::{Label, PerformanceRecord, RecordId, RecordKind};
//! use tokpulse_guard::{Guard, GuardConfig};
//! use tokpulse_store::{Batch, StoreTarget, Table};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = tokpulse_store::open(&StoreTarget::Sqlite { data_dir: dir.path().into() }).await?;
//! store.migrate().await?;
//!
//! let guard = Guard::new(&GuardConfig::default());
//! let record = PerformanceRecord {
//!     id: RecordId::parse("req-1")?,
//!     timestamp: chrono::Utc::now(),
//!     service: Label::parse("checkout-api")?,
//!     route: "/cart?email=jane@corp.io".into(),
//!     method: Label::parse("GET")?,
//!     status_code: 200,
//!     duration_ms: 42.0,
//!     environment: Label::parse("production")?,
//!     platform: None,
//!     attributes: Default::default(),
//! };
//! // Only the guard makes `Guarded` records: the email never reaches the database.
//! let batch = Batch::Performance(vec![guard.guard(record)?]);
//! let first = store.insert_batch(&batch).await?;
//! let retry = store.insert_batch(&batch).await?;
//! assert_eq!((first.inserted, retry.duplicates), (1, 1));
//! assert!(store.has_record(RecordKind::Performance, "req-1").await?);
//! assert_eq!(store.count(Table::PerformanceMetrics).await?, 1);
//! store.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! Unredacted text cannot be written: a [`Batch`] holds `Guarded<R>` records, and only
//! `tokpulse_guard::Guard` can make one. This does not compile:
//!
//! ```compile_fail
//! fn store_raw(record: tokpulse_core::PerformanceRecord) -> tokpulse_store::Batch {
//!     tokpulse_store::Batch::Performance(vec![record])
//! }
//! ```
#![warn(missing_docs)]

mod convert;
mod cost;
mod diagnosis;
mod error;
mod jobs;
mod migrations;
mod postgres;
mod privacy;
mod redact;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod types;

pub use cost::{AiUsageDay, CostPrediction, PendingAiUsage, StoredCostPrediction};
pub use diagnosis::{CiBatch, ErrorLog, PendingSample, RollupRow, RollupWrite};
pub use error::StoreError;
pub use jobs::{JobClaim, JobRunRow, JobStatus, JobTrigger};
pub use migrations::{EmbeddedMigration, embedded_migrations};
pub use postgres::PgStore;
pub use privacy::{
    AuditRow, BlockedRecord, FORGOTTEN, ForgetOutcome, PrivacyRequest, RequestKind, SubjectRows,
    TableOutcome,
};
pub use redact::redact_url;
pub use sqlite::SqliteStore;
pub use types::*;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use tokpulse_core::{
    AiUsageRecord, CiJob, DeployEvent, Finding, FindingStatus, InfraUsageRecord, RecordKind,
    RequestSample, StoredFinding, Timestamp, Window,
};

/// The store: every read and write the pipeline makes. Both backends pass the same
/// conformance suite.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Applies pending migrations; returns the versions applied by this call.
    async fn migrate(&self) -> Result<Vec<i64>, StoreError>;

    /// Writes a batch in one transaction. Records whose id is already stored (or repeated within
    /// the batch) are counted as duplicates and not written again. Returns after commit.
    async fn insert_batch(&self, batch: &Batch) -> Result<InsertOutcome, StoreError>;

    /// Whether a record with this id is stored.
    async fn has_record(&self, kind: RecordKind, id: &str) -> Result<bool, StoreError>;

    /// Number of rows in one of TokPulse's tables.
    async fn count(&self, table: Table) -> Result<i64, StoreError>;

    /// Every request that finished inside `window`, for the analyzers.
    async fn request_samples(&self, window: Window) -> Result<Vec<RequestSample>, StoreError>;

    /// Deployments inside `window`, oldest first.
    async fn deployments(&self, window: Window) -> Result<Vec<DeployEvent>, StoreError>;

    /// Writes CI runs and jobs in one transaction, by GitHub id and `run_attempt`: one already
    /// stored counts as a duplicate, and replaces the stored one only if it is at least as far
    /// along (`completed` over `in_progress` over `queued`). `received` stands in for a
    /// payload without timestamps.
    async fn insert_ci(
        &self,
        batch: &CiBatch,
        received: Timestamp,
    ) -> Result<InsertOutcome, StoreError> {
        let _ = (batch, received);
        Err(StoreError::Unsupported("CI runs"))
    }

    /// CI jobs whose time (completed, else started, else created) lies inside `window`,
    /// oldest first.
    async fn ci_jobs(&self, window: Window) -> Result<Vec<CiJob>, StoreError> {
        let _ = window;
        Err(StoreError::Unsupported("CI runs"))
    }

    /// Up to `limit` requests not yet counted in the rollups, lowest row id first.
    async fn pending_rollup_samples(&self, limit: i64) -> Result<Vec<PendingSample>, StoreError> {
        let _ = limit;
        Err(StoreError::Unsupported("rollups"))
    }

    /// In one transaction, marks the requests `ids` rolled up and writes `rollups`. Returns
    /// `false` and changes nothing if another writer got there first (a request already rolled
    /// up, or a rollup whose stored `requests` is no longer `read_requests`): read again and
    /// retry.
    async fn commit_rollups(
        &self,
        ids: &[i64],
        rollups: &[RollupWrite],
    ) -> Result<bool, StoreError> {
        let _ = (ids, rollups);
        Err(StoreError::Unsupported("rollups"))
    }

    /// Stored rollups of `resolution` (`minute`, `hour`, `day`) whose bucket starts inside
    /// `window`, optionally only those of `service`/`route` (`METHOD route`).
    async fn rollups(
        &self,
        resolution: &str,
        window: Window,
        route: Option<(&str, &str)>,
    ) -> Result<Vec<RollupRow>, StoreError> {
        let _ = (resolution, window, route);
        Err(StoreError::Unsupported("rollups"))
    }

    /// Error and fatal log lines inside `window`, oldest first, at most `limit`.
    async fn error_logs(&self, window: Window, limit: i64) -> Result<Vec<ErrorLog>, StoreError> {
        let _ = (window, limit);
        Err(StoreError::Unsupported("error logs"))
    }

    /// The detectors' state under keys starting with `prefix`, as JSON.
    async fn detector_states(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let _ = prefix;
        Err(StoreError::Unsupported("detector state"))
    }

    /// Writes detector state by key (`None` deletes it), in one transaction.
    async fn put_detector_states(
        &self,
        states: &[(String, Option<serde_json::Value>)],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let _ = (states, now);
        Err(StoreError::Unsupported("detector state"))
    }

    /// Records an occurrence of `finding` seen at `now`: inserts it if its fingerprint is new,
    /// otherwise updates the stored one (occurrences + 1, last seen, latest evidence), reopening
    /// it if it was resolved.
    async fn upsert_finding(
        &self,
        finding: &Finding,
        now: Timestamp,
    ) -> Result<FindingChange, StoreError>;

    /// Marks an open finding resolved; `false` if it was not open.
    async fn resolve_finding(&self, id: i64, now: Timestamp) -> Result<bool, StoreError>;

    /// Findings, newest `last_seen` first, optionally only those with `status`.
    async fn findings(
        &self,
        status: Option<FindingStatus>,
        limit: i64,
    ) -> Result<Vec<StoredFinding>, StoreError>;

    /// Queues an action. Returns `None` (and changes nothing) if an action with the same
    /// idempotency key exists.
    async fn enqueue_action(&self, action: &NewAction) -> Result<Option<i64>, StoreError>;

    /// Actions for `sink` that are due at `now` and not yet delivered or parked, oldest first.
    async fn due_actions(
        &self,
        sink: &str,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<ActionRow>, StoreError>;

    /// Claims up to `limit` of `sink`'s due actions for one delivery pass, oldest first: each
    /// returned action is not due again (for this or any other process on the same database)
    /// until `lease_until`, unless it is marked delivered or failed, or released, first. So two
    /// passes that run at once (two jobs, or two replicas) never hand one action to a sink
    /// twice, and an action claimed by a process that died is due again when its lease ends.
    ///
    /// Only the first pending action of each finding at the sink is claimable: a later one
    /// (a comment, a resolution) waits until every earlier one is delivered or parked, so it
    /// never overtakes an open that is waiting for a retry or held by another pass.
    ///
    /// The default, for single-process test doubles, reads [`Store::due_actions`] and claims
    /// nothing.
    async fn claim_due_actions(
        &self,
        sink: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<ActionRow>, StoreError> {
        let _ = lease_until;
        self.due_actions(sink, now, limit).await
    }

    /// Gives back a claimed action that was not attempted (held for quiet hours, or deferred
    /// behind an earlier failure): due again at `due_at`, attempts unchanged. A delivered or
    /// parked action is left alone.
    async fn release_action(&self, id: i64, due_at: Timestamp) -> Result<(), StoreError> {
        let _ = (id, due_at);
        Ok(())
    }

    /// All actions, newest first.
    async fn actions(&self, limit: i64) -> Result<Vec<ActionRow>, StoreError>;

    /// Marks an action delivered; `external_ref` is where it landed (a path, an issue URL).
    async fn mark_action_delivered(
        &self,
        id: i64,
        at: Timestamp,
        external_ref: &str,
    ) -> Result<(), StoreError>;

    /// Records a failed attempt; the action is retried at `retry_at`, or parked if `None`.
    async fn mark_action_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError>;

    /// Makes a parked action pending again, due at `now`, with its attempts reset; `false` if
    /// there is no parked action with that id (pending and delivered ones are left alone).
    async fn retry_action(&self, id: i64, now: Timestamp) -> Result<bool, StoreError>;

    /// Stores a new API key (its hash, never the key).
    async fn create_api_key(&self, key: &NewApiKey) -> Result<i64, StoreError>;

    /// The live (not revoked) key with this hash, if any; also stamps `last_used_at` (at most
    /// once per [`LAST_USED_RESOLUTION`], so that most checks are reads).
    async fn authenticate(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ApiKeyRow>, StoreError>;

    /// Every key, revoked ones included.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError>;

    /// Revokes a key; `false` if there was no live key with that id.
    async fn revoke_api_key(&self, id: i64, now: Timestamp) -> Result<bool, StoreError>;

    /// Counts records the privacy guard refused in the audit (action `blocked`, one per
    /// record), each record id once per source: a retried batch adds nothing. Returns how many
    /// were counted now.
    async fn record_blocked(
        &self,
        kind: RecordKind,
        blocked: &[BlockedRecord],
    ) -> Result<u64, StoreError> {
        let _ = (kind, blocked);
        Err(StoreError::Unsupported("the privacy audit"))
    }

    /// The privacy audit from `since` (a UTC day) on, by day, source, entity and action.
    /// [`insert_batch`](Store::insert_batch) adds the counts of the records it writes in its own
    /// transaction, so the audit is exactly as durable as the data and duplicates add nothing.
    async fn privacy_audit(&self, since: NaiveDate) -> Result<Vec<AuditRow>, StoreError> {
        let _ = since;
        Err(StoreError::Unsupported("the privacy audit"))
    }

    /// Erases a data subject, in one transaction: deletes every telemetry row, request rollup,
    /// daily AI usage row and embedding that contains `token` (a hash token such as
    /// `[EMAIL:3f2a9c1d5e6b7a80]`), replaces it by [`FORGOTTEN`] in findings and actions, and
    /// records the request in `privacy_requests`.
    async fn forget_subject(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<ForgetOutcome, StoreError> {
        let _ = (token, now);
        Err(StoreError::Unsupported("forget requests"))
    }

    /// Every row that contains `token`, grouped by table (every column but embeddings and
    /// latency sketches), and records the request in `privacy_requests`.
    async fn export_subject(&self, token: &str, now: Timestamp) -> Result<SubjectRows, StoreError> {
        let _ = (token, now);
        Err(StoreError::Unsupported("export requests"))
    }

    /// Data-subject requests carried out, newest first.
    async fn privacy_requests(&self, limit: i64) -> Result<Vec<PrivacyRequest>, StoreError> {
        let _ = limit;
        Err(StoreError::Unsupported("privacy requests"))
    }

    /// How many rows of `table` retention would delete at `cutoff` (see
    /// [`delete_older_than`](Store::delete_older_than)).
    async fn count_older_than(&self, table: Table, cutoff: Timestamp) -> Result<u64, StoreError> {
        let _ = (table, cutoff);
        Err(StoreError::Unsupported("retention"))
    }

    /// Deletes at most `limit` rows of `table` older than `cutoff`, in one short transaction,
    /// and returns how many; call it until it returns less than `limit`. Findings go only once
    /// resolved, actions only once delivered or parked; `api_keys` never.
    async fn delete_older_than(
        &self,
        table: Table,
        cutoff: Timestamp,
        limit: u64,
    ) -> Result<u64, StoreError> {
        let _ = (table, cutoff, limit);
        Err(StoreError::Unsupported("retention"))
    }

    /// AI usage records with `window.start <= timestamp < window.end`, oldest first, with the
    /// cost stored at ingest (`None` for a model the catalog did not know).
    async fn ai_usage(&self, window: Window) -> Result<Vec<AiUsageRecord>, StoreError> {
        let mut out = Vec::new();
        self.ai_usage_each(window, &mut |r| out.push(r)).await?;
        Ok(out)
    }

    /// The records [`Store::ai_usage`] returns, handed to `each` one at a time as they are
    /// read, none held by the store: a reader that keeps only what it needs of a month of
    /// calls holds only that.
    async fn ai_usage_each(
        &self,
        window: Window,
        each: &mut (dyn FnMut(AiUsageRecord) + Send),
    ) -> Result<(), StoreError> {
        let _ = (window, each);
        Err(StoreError::Unsupported("cost tracking"))
    }

    /// Up to `limit` AI calls not yet counted in `ai_usage_daily`, lowest row id first.
    async fn pending_ai_usage(&self, limit: i64) -> Result<Vec<PendingAiUsage>, StoreError> {
        let _ = limit;
        Err(StoreError::Unsupported("cost tracking"))
    }

    /// In one transaction, marks the AI calls `ids` (distinct) rolled up and adds `days` to
    /// `ai_usage_daily`: each row's sums are added to the stored row of its day, service,
    /// feature, model and route, which is created if missing. Returns `false` and changes
    /// nothing if a call is already rolled up or gone (another writer got there first, or
    /// it was deleted): read the pending calls again and retry. So a call is counted once,
    /// whenever the process stops.
    async fn commit_ai_usage_daily(
        &self,
        ids: &[i64],
        days: &[AiUsageDay],
    ) -> Result<bool, StoreError> {
        let _ = (ids, days);
        Err(StoreError::Unsupported("cost tracking"))
    }

    /// The rows of `ai_usage_daily` with `from <= day < until`, oldest day first.
    async fn ai_usage_daily(
        &self,
        from: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<AiUsageDay>, StoreError> {
        let _ = (from, until);
        Err(StoreError::Unsupported("cost tracking"))
    }

    /// Writes infrastructure usage records in one transaction; a record whose id is already
    /// stored counts as a duplicate. Infra usage carries no free text (provider, project,
    /// metric, plan are labels), so it does not pass the guard.
    async fn insert_infra_usage(
        &self,
        records: &[InfraUsageRecord],
        now: Timestamp,
    ) -> Result<InsertOutcome, StoreError> {
        let _ = (records, now);
        Err(StoreError::Unsupported("cost tracking"))
    }

    /// Infrastructure usage whose period starts in `window`, oldest first.
    async fn infra_usage(&self, window: Window) -> Result<Vec<InfraUsageRecord>, StoreError> {
        let _ = window;
        Err(StoreError::Unsupported("cost tracking"))
    }

    /// Stores one cost prediction; returns its row id.
    async fn insert_cost_prediction(&self, p: &CostPrediction) -> Result<i64, StoreError> {
        let _ = p;
        Err(StoreError::Unsupported("cost tracking"))
    }

    /// The latest `limit` cost predictions, newest first.
    async fn cost_predictions(&self, limit: i64) -> Result<Vec<StoredCostPrediction>, StoreError> {
        let _ = limit;
        Err(StoreError::Unsupported("cost tracking"))
    }

    /// Claims a slot of a job (see [`JobClaim`]): inserts its `running` row, or takes over a
    /// `running` row of the same slot whose lease expired before `claim.now`. Returns the row
    /// id, or `None` when the slot is taken (run, or running under a live lease).
    async fn claim_job_run(&self, claim: &JobClaim<'_>) -> Result<Option<i64>, StoreError> {
        let _ = claim;
        Err(StoreError::Unsupported("job runs"))
    }

    /// Ends run `id` of `owner` with `status`, its error and summary. Returns `false` if the
    /// run is not `owner`'s any more (its lease expired and another took it over).
    async fn finish_job_run(
        &self,
        id: i64,
        owner: &str,
        finished_at: Timestamp,
        status: JobStatus,
        error: Option<&str>,
        summary: Option<&str>,
    ) -> Result<bool, StoreError> {
        let _ = (id, owner, finished_at, status, error, summary);
        Err(StoreError::Unsupported("job runs"))
    }

    /// Runs of `job` (all jobs when `None`), latest slot first, at most `limit`.
    async fn job_runs(&self, job: Option<&str>, limit: i64) -> Result<Vec<JobRunRow>, StoreError> {
        let _ = (job, limit);
        Err(StoreError::Unsupported("job runs"))
    }

    /// Records webhook delivery `delivery_id` of `source`. Returns `false` if it was recorded
    /// before (a redelivery or a replay).
    async fn record_webhook_delivery(
        &self,
        source: &str,
        delivery_id: &str,
        event: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _ = (source, delivery_id, event, now);
        Err(StoreError::Unsupported("webhook deliveries"))
    }

    /// Forgets a recorded delivery whose processing failed, so the sender's retry is taken.
    async fn forget_webhook_delivery(
        &self,
        source: &str,
        delivery_id: &str,
    ) -> Result<(), StoreError> {
        let _ = (source, delivery_id);
        Err(StoreError::Unsupported("webhook deliveries"))
    }

    /// Closes the pool, waiting for connections to finish (SQLite checkpoints its WAL).
    async fn close(&self);
}

/// Which database to open.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreTarget {
    /// The embedded default: `data_dir/tokpulse.db`.
    Sqlite {
        /// The directory that holds the database file (created if missing).
        data_dir: PathBuf,
    },
    /// A PostgreSQL (or Supabase) database.
    Postgres {
        /// `postgres://user:password@host:port/database`.
        url: String,
        /// Pool size.
        max_connections: u32,
    },
}

impl fmt::Debug for StoreTarget {
    // By hand, so that a logged target never shows the database password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreTarget::Sqlite { data_dir } => f
                .debug_struct("Sqlite")
                .field("data_dir", data_dir)
                .finish(),
            StoreTarget::Postgres {
                url,
                max_connections,
            } => f
                .debug_struct("Postgres")
                .field("url", &redact_url(url))
                .field("max_connections", max_connections)
                .finish(),
        }
    }
}

/// Opens the store `target` names. Does not migrate: the caller runs [`Store::migrate`] (the
/// binary does at start and in `tokpulse migrate`).
pub async fn open(target: &StoreTarget) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match target {
        StoreTarget::Sqlite { data_dir } => Arc::new(SqliteStore::open(data_dir).await?),
        StoreTarget::Postgres {
            url,
            max_connections,
        } => Arc::new(PgStore::connect(url, *max_connections).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_target_hides_the_password() {
        let t = StoreTarget::Postgres {
            url: "postgres://app:s3cret@db/tp".into(),
            max_connections: 4,
        };
        let s = format!("{t:?}");
        assert!(
            !s.contains("s3cret") && s.contains("postgres://app@db/tp"),
            "{s}"
        );
    }
}
