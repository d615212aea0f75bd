//! `insert_batch` against a plain batched INSERT of the same rows.
//!
//! ```text
//! cargo bench -p tokpulse-store --features testing --bench insert_batch             # SQLite
//! cargo bench -p tokpulse-store --features testing --bench insert_batch -- postgres # PgCluster
//! ```
//!
//! Both write the same guarded rows, 1,000 per batch, one transaction per batch, into a freshly
//! migrated `performance_metrics` (same indexes). The reference is a bare multi-row INSERT
//! through the store's `pool()`; `insert_batch` adds duplicate detection (`ON CONFLICT`),
//! counting and JSON attributes. Prints rows/s for both and their ratio (the ingest target is
//! ≥ 50%). Timing is not asserted anywhere.

use sqlx::QueryBuilder;
use std::time::{Duration, Instant};
use tokpulse_core::PerformanceRecord;
use tokpulse_guard::Guarded;
use tokpulse_store::testing::PgCluster;
use tokpulse_store::testing::records::request;
use tokpulse_store::{Batch, PgStore, SqliteStore, Store};

const ROWS: usize = 50_000;
const BATCH: usize = 1_000;
const ROUNDS: usize = 3;

fn rows() -> Vec<Guarded<PerformanceRecord>> {
    (0..ROWS)
        .map(|i| {
            let status = if i % 50 == 0 { 503 } else { 200 };
            request(
                &format!("0b7c2d3e-{i:08}"),
                1_700_000_000_000 + i as i64 * 10,
                "checkout-api",
                "GET",
                &format!("/cart/{}", i % 40),
                status,
                (i % 700) as f64 + 0.5,
            )
        })
        .collect()
}

/// A freshly migrated store of the backend under test.
enum Fresh {
    Sqlite {
        _dir: tempfile::TempDir,
        store: SqliteStore,
    },
    Postgres(PgStore),
}

impl Fresh {
    async fn new(postgres: Option<&PgCluster>) -> Fresh {
        let fresh = match postgres {
            Some(cluster) => {
                let url = cluster.fresh_database("bench").await;
                Fresh::Postgres(PgStore::connect(&url, 2).await.expect("connect"))
            }
            None => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let store = SqliteStore::open(dir.path()).await.expect("open");
                Fresh::Sqlite { _dir: dir, store }
            }
        };
        fresh.store().migrate().await.expect("migrate");
        fresh
    }

    fn store(&self) -> &dyn Store {
        match self {
            Fresh::Sqlite { store, .. } => store,
            Fresh::Postgres(s) => s,
        }
    }
}

const HEAD: &str = "INSERT INTO performance_metrics (record_id, ts, service, method, route, \
                    status_code, duration_ms, environment, platform, attributes) ";

async fn store_path(pg: Option<&PgCluster>, rows: &[Guarded<PerformanceRecord>]) -> Duration {
    let fresh = Fresh::new(pg).await;
    let store = fresh.store();
    let start = Instant::now();
    for chunk in rows.chunks(BATCH) {
        let out = store
            .insert_batch(&Batch::Performance(chunk.to_vec()))
            .await
            .expect("insert_batch");
        assert_eq!(out.inserted as usize, chunk.len());
    }
    let took = start.elapsed();
    store.close().await;
    took
}

async fn plain_insert(pg: Option<&PgCluster>, rows: &[Guarded<PerformanceRecord>]) -> Duration {
    let fresh = Fresh::new(pg).await;
    let start = Instant::now();
    // 10 columns: 1,000 rows fit in one statement's bound-parameter limit on both databases.
    for chunk in rows.chunks(BATCH) {
        match &fresh {
            Fresh::Sqlite { store, .. } => {
                let mut tx = store.pool().begin().await.expect("begin");
                let mut qb = QueryBuilder::new(HEAD);
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.id.as_str())
                        .push_bind(r.timestamp.timestamp_millis())
                        .push_bind(r.service.as_str())
                        .push_bind(r.method.as_str())
                        .push_bind(r.route.as_str())
                        .push_bind(i32::from(r.status_code))
                        .push_bind(r.duration_ms)
                        .push_bind(r.environment.as_str())
                        .push_bind(r.platform.map(|p| p.as_str()))
                        .push_bind("{}");
                });
                qb.build().execute(&mut *tx).await.expect("insert");
                tx.commit().await.expect("commit");
            }
            Fresh::Postgres(store) => {
                let mut tx = store.pool().begin().await.expect("begin");
                let mut qb = QueryBuilder::new(HEAD);
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.id.as_str())
                        .push_bind(r.timestamp)
                        .push_bind(r.service.as_str())
                        .push_bind(r.method.as_str())
                        .push_bind(r.route.as_str())
                        .push_bind(i32::from(r.status_code))
                        .push_bind(r.duration_ms)
                        .push_bind(r.environment.as_str())
                        .push_bind(r.platform.map(|p| p.as_str()))
                        .push_bind(sqlx::types::Json(serde_json::json!({})));
                });
                qb.build().execute(&mut *tx).await.expect("insert");
                tx.commit().await.expect("commit");
            }
        }
    }
    let took = start.elapsed();
    fresh.store().close().await;
    took
}

fn rate(d: Duration) -> f64 {
    ROWS as f64 / d.as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let pg = std::env::args()
        .any(|a| a == "postgres")
        .then(PgCluster::start);
    let pg = pg.as_ref();
    let rows = rows();
    rt.block_on(async {
        // Warm up the file system and allocator once each.
        store_path(pg, &rows[..BATCH]).await;
        plain_insert(pg, &rows[..BATCH]).await;
        let mut best_store = Duration::MAX;
        let mut best_plain = Duration::MAX;
        for _ in 0..ROUNDS {
            best_plain = best_plain.min(plain_insert(pg, &rows).await);
            best_store = best_store.min(store_path(pg, &rows).await);
        }
        let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
        println!("{backend}: {ROWS} rows in batches of {BATCH}, best of {ROUNDS}");
        println!("plain INSERT:  {:>10.0} rows/s", rate(best_plain));
        println!("insert_batch:  {:>10.0} rows/s", rate(best_store));
        println!(
            "insert_batch / plain: {:.0}%",
            100.0 * best_plain.as_secs_f64() / best_store.as_secs_f64()
        );
    });
}
