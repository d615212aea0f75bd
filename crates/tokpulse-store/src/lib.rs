//! TokPulse's store: one [`Store`] trait with two backends, SQLite (the embedded default, one
//! file, WAL) and PostgreSQL (pooled; Supabase-compatible migrations with row-level security).
//!
//! Write methods only take [`Guarded`](tokpulse_guard::Guarded) records, so nothing reaches the
//! database without passing the privacy guard. A batch is written in one transaction and the
//! call returns only after it is committed: callers acknowledge a batch after `insert_batch`
//! returns `Ok`, never before.
#![warn(missing_docs)]

mod error;
mod types;

pub use error::StoreError;
pub use types::*;

use async_trait::async_trait;
use tokpulse_core::{
    DeployEvent, Finding, FindingStatus, RecordKind, RequestSample, StoredFinding, Timestamp,
    Window,
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

    /// Stores a new API key (its hash, never the key).
    async fn create_api_key(&self, key: &NewApiKey) -> Result<i64, StoreError>;

    /// The live (not revoked) key with this hash, if any; also stamps `last_used_at`.
    async fn authenticate(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ApiKeyRow>, StoreError>;

    /// Every key, revoked ones included.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError>;

    /// Revokes a key; `false` if there was no live key with that id.
    async fn revoke_api_key(&self, id: i64, now: Timestamp) -> Result<bool, StoreError>;

    /// Closes the pool, waiting for connections to finish (SQLite checkpoints its WAL).
    async fn close(&self);
}
