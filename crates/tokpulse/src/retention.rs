//! Retention: deletes rows older than `[retention]` allows, table by table, in chunks of
//! [`CHUNK_ROWS`], so that SQLite's single writer is never held long and ingest goes on between
//! chunks. [`run_retention`] is the one entry point: `tokpulse privacy retention` calls it, and
//! so does the scheduler's `retention` job in `serve`.

use crate::config::RetentionConfig;
use serde::Serialize;
use tokpulse_core::Timestamp;
use tokpulse_store::{Store, StoreError, Table};

/// Rows deleted per transaction.
pub const CHUNK_ROWS: u64 = 5_000;

/// What retention did (or, in a dry run, would do) to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRetention {
    /// The table.
    pub table: &'static str,
    /// Its retention in days; 0 keeps rows forever.
    pub days: u32,
    /// Rows older than this are deleted (`None` when kept forever).
    pub cutoff: Option<Timestamp>,
    /// Rows deleted (dry run: that would be).
    pub rows: u64,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// The run's clock.
    pub at: Timestamp,
    /// Whether rows were only counted.
    pub dry_run: bool,
    /// One entry per table.
    pub tables: Vec<TableRetention>,
}

impl RetentionReport {
    /// Rows deleted (or that would be) in all tables.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// The store tables `[retention]` key `key` covers: the audit key covers its ledger too.
fn tables_of(key: &str) -> Vec<Table> {
    match key {
        "privacy_audit" => vec![Table::PrivacyAudit, Table::PrivacyBlocked],
        other => Table::parse(other).into_iter().collect(),
    }
}

/// Deletes every row older than `config` allows as of `now` (or, with `dry_run`, counts them).
pub async fn run_retention(
    store: &dyn Store,
    config: &RetentionConfig,
    now: Timestamp,
    dry_run: bool,
) -> Result<RetentionReport, StoreError> {
    let mut tables = Vec::new();
    for (key, days) in config.tables() {
        let cutoff = (days > 0).then(|| now - chrono::TimeDelta::days(i64::from(days)));
        let mut rows = 0;
        if let Some(cutoff) = cutoff {
            for table in tables_of(key) {
                rows += if dry_run {
                    store.count_older_than(table, cutoff).await?
                } else {
                    delete_all(store, table, cutoff).await?
                };
            }
        }
        tables.push(TableRetention {
            table: key,
            days,
            cutoff,
            rows,
        });
    }
    Ok(RetentionReport {
        at: now,
        dry_run,
        tables,
    })
}

async fn delete_all(store: &dyn Store, table: Table, cutoff: Timestamp) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let n = store.delete_older_than(table, cutoff, CHUNK_ROWS).await?;
        total += n;
        if n < CHUNK_ROWS {
            return Ok(total);
        }
        // Let queued writers (ingest batches) take the lock between chunks.
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_retention_key_names_store_tables() {
        for (key, _) in RetentionConfig::default().tables() {
            assert!(!tables_of(key).is_empty(), "{key}");
        }
    }

    #[test]
    fn every_table_but_two_has_a_retention_key() {
        let covered: Vec<Table> = RetentionConfig::default()
            .tables()
            .iter()
            .flat_map(|(key, _)| tables_of(key))
            .collect();
        // API keys are never deleted; detector state is kept by the detectors that own it.
        let uncovered: Vec<&str> = Table::ALL
            .into_iter()
            .filter(|t| !covered.contains(t))
            .map(Table::name)
            .collect();
        assert_eq!(uncovered, ["api_keys", "detector_state"]);
    }
}
