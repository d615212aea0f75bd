//! SQLite: the conformance suite plus what only the embedded backend has (one file, pragmas,
//! two processes on one file).

use std::sync::Arc;
use tokpulse_store::testing::records::{at, perf};
use tokpulse_store::{Batch, SqliteStore, Store, StoreTarget, Table};

tokpulse_store::store_conformance!(tokpulse_store::SqliteStore);

async fn pragma(pool: &sqlx::SqlitePool, name: &str) -> String {
    use sqlx::Row;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
        .fetch_one(pool)
        .await
        .unwrap();
    row.try_get::<i64, _>(0)
        .map(|n| n.to_string())
        .or_else(|_| row.try_get::<String, _>(0))
        .unwrap()
}

#[tokio::test]
async fn open_creates_the_directory_and_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("nested").join("data");
    let store = SqliteStore::open(&data_dir).await.unwrap();
    assert_eq!(store.path(), data_dir.join("tokpulse.db"));
    assert!(store.path().is_file());
    store.migrate().await.unwrap();
    store.close().await;
    let names: Vec<String> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    // Closing the last connection checkpoints and removes the WAL files.
    assert_eq!(names, ["tokpulse.db"]);
}

#[tokio::test]
async fn connections_use_wal_normal_sync_and_foreign_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(tmp.path()).await.unwrap();
    for pool in [store.pool(), store.read_pool()] {
        assert_eq!(pragma(pool, "journal_mode").await, "wal");
        assert_eq!(pragma(pool, "synchronous").await, "1", "NORMAL");
        assert_eq!(pragma(pool, "foreign_keys").await, "1");
        assert!(pragma(pool, "busy_timeout").await.parse::<u32>().unwrap() >= 5_000);
    }
    assert_eq!(pragma(store.read_pool(), "query_only").await, "1");
    assert_eq!(pragma(store.pool(), "query_only").await, "0");
    assert_eq!(
        store.pool().options().get_max_connections(),
        1,
        "one writer"
    );
    store.close().await;
}

#[tokio::test]
async fn committed_batches_survive_reopening() {
    let tmp = tempfile::tempdir().unwrap();
    let target = StoreTarget::Sqlite {
        data_dir: tmp.path().to_owned(),
    };
    let store = tokpulse_store::open(&target).await.unwrap();
    assert_eq!(store.backend(), tokpulse_store::Backend::Sqlite);
    store.migrate().await.unwrap();
    store
        .insert_batch(&Batch::Performance(vec![perf("a", 1), perf("b", 2)]))
        .await
        .unwrap();
    store.close().await;
    drop(store);

    let store = tokpulse_store::open(&target).await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());
    assert_eq!(store.count(Table::PerformanceMetrics).await.unwrap(), 2);
    let dup = store
        .insert_batch(&Batch::Performance(vec![perf("a", 1)]))
        .await
        .unwrap();
    assert_eq!(dup.duplicates, 1);
    store.close().await;
}

/// Two stores on one file, as when `tokpulse ingest` runs beside `tokpulse serve`: the busy
/// timeout and `BEGIN IMMEDIATE` make the second writer wait instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_both_write() {
    let tmp = tempfile::tempdir().unwrap();
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(tmp.path()).await.unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(tmp.path()).await.unwrap());
    a.migrate().await.unwrap();
    assert_eq!(b.migrate().await.unwrap(), Vec::<i64>::new());
    let tasks: Vec<_> = [Arc::clone(&a), Arc::clone(&b)]
        .into_iter()
        .enumerate()
        .map(|(n, store)| {
            tokio::spawn(async move {
                for batch in 0..20 {
                    let rows = (0..100)
                        .map(|i| perf(&format!("s{n}-{batch}-{i}"), i))
                        .collect();
                    store.insert_batch(&Batch::Performance(rows)).await.unwrap();
                    store
                        .upsert_finding(&finding(), at(i64::from(batch)))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(a.count(Table::PerformanceMetrics).await.unwrap(), 4_000);
    assert_eq!(b.findings(None, 5).await.unwrap()[0].occurrences, 40);
    a.close().await;
    b.close().await;
}

fn finding() -> tokpulse_core::Finding {
    use tokpulse_core::{Finding, FindingKind, Fingerprint, Severity, Window};
    Finding {
        kind: FindingKind::ErrorSpike,
        severity: Severity::High,
        fingerprint: Fingerprint::of(FindingKind::ErrorSpike, &["api", "GET /"]),
        title: "errors".into(),
        service: "api".into(),
        route: Some("GET /".into()),
        window: Window {
            start: at(0),
            end: at(1),
        },
        evidence: vec![],
        cause: None,
        suggestion: "look".into(),
    }
}
