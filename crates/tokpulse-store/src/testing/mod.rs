//! Test helpers (feature `testing`): a throwaway PostgreSQL ([`PgCluster`]), guarded record
//! builders ([`records`]), and the conformance suite ([`suite`]) that every [`Store`] backend
//! must pass, run with [`store_conformance!`](crate::store_conformance):
//!
//! ```
//! // tests/it/main.rs
//! mod sqlite {
//!     tokpulse_store::store_conformance!(tokpulse_store::SqliteStore);
//! }
//! mod postgres {
//!     tokpulse_store::store_conformance!(tokpulse_store::PgStore);
//! }
//! # fn main() {}
//! ```
//!
//! Each generated test gets a new, empty, unmigrated store: a SQLite file in a temporary
//! directory, or a new database in the shared [`PgCluster`].

mod cost;
mod diagnosis;
mod jobs;
mod pg;
pub mod records;
pub mod suite;

pub use pg::{PgCluster, SUPERUSER};

use crate::{PgStore, SqliteStore, Store};
use std::any::Any;
use std::future::Future;
use std::sync::Arc;

/// A new store for one test, and what must live as long as it (a temporary directory).
pub struct Fresh {
    /// The store: empty and not migrated.
    pub store: Arc<dyn Store>,
    /// Dropped after the store is closed.
    pub keep: Box<dyn Any + Send>,
}

/// A backend the conformance suite can run on.
pub trait ConformanceStore: Store + Sized {
    /// A new, empty, unmigrated store; `test` names the test (for database names).
    fn fresh(test: &'static str) -> impl Future<Output = Fresh> + Send;
}

impl ConformanceStore for SqliteStore {
    async fn fresh(_test: &'static str) -> Fresh {
        let dir = tempfile::tempdir().expect("a temporary directory for the SQLite store");
        let store = SqliteStore::open(dir.path())
            .await
            .expect("SqliteStore::open in a new temporary directory");
        Fresh {
            store: Arc::new(store),
            keep: Box::new(dir),
        }
    }
}

impl ConformanceStore for PgStore {
    async fn fresh(test: &'static str) -> Fresh {
        let url = PgCluster::shared().fresh_database(test).await;
        let store = PgStore::connect(&url, 4)
            .await
            .expect("PgStore::connect to a new database in the test cluster");
        Fresh {
            store: Arc::new(store),
            keep: Box::new(()),
        }
    }
}

/// Runs one conformance test: a multi-threaded runtime (two workers, like CI), a fresh `B`
/// store, `body`, then `close`.
pub fn run<B, F, Fut>(test: &'static str, body: F)
where
    B: ConformanceStore,
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let fresh = B::fresh(test).await;
        body(Arc::clone(&fresh.store)).await;
        fresh.store.close().await;
        drop(fresh);
    });
}

/// Generates one `#[test]` per conformance check for a [`ConformanceStore`] type. Use it
/// inside a module of its own, once per backend.
#[macro_export]
macro_rules! store_conformance {
    ($backend:ty) => {
        $crate::__store_conformance_tests!(
            $backend;
            migrate_is_idempotent,
            every_table_starts_empty,
            insert_batch_counts_duplicates,
            duplicates_within_one_batch,
            large_batches_are_chunked,
            every_kind_is_stored,
            empty_batch_is_a_no_op,
            has_record_is_per_kind,
            request_samples_window_is_half_open,
            deployments_oldest_first,
            findings_new_updated_resolved_reopened,
            findings_listing_filters_and_orders,
            actions_are_idempotent_by_key,
            actions_due_failed_parked_delivered,
            actions_are_claimed_once_in_queue_order,
            marking_a_missing_action_fails,
            api_keys_create_authenticate_revoke,
            concurrent_writers_all_succeed,
            audit_counts_written_records_once,
            blocked_records_are_counted_once,
            forget_deletes_and_anonymises_one_person,
            export_returns_one_persons_rows,
            subject_requests_take_tokens_only,
            retention_deletes_old_rows_in_chunks,
            ci_runs_and_jobs_are_idempotent,
            rollups_are_committed_once,
            detector_state_and_error_logs,
            job_runs_are_claimed_once_and_leases_expire,
            webhook_deliveries_are_taken_once,
            ai_usage_is_read_back_with_its_cost,
            ai_usage_daily_counts_each_call_once,
            ai_usage_daily_is_read_by_window,
            retention_keeps_ai_usage_not_rolled_up,
            infra_usage_is_idempotent_by_id,
            cost_predictions_are_kept_newest_first,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_tests {
    ($backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::testing::run::<$backend, _, _>(
                    stringify!($name),
                    $crate::testing::suite::$name,
                );
            }
        )*
    };
}

pub use crate::store_conformance;
