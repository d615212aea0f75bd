//! PostgreSQL: the conformance suite on a throwaway cluster, plus what only this backend has.

use sqlx::{Connection, PgConnection};
use tokpulse_store::testing::PgCluster;
use tokpulse_store::{PgStore, Store, StoreError, StoreTarget};

tokpulse_store::store_conformance!(tokpulse_store::PgStore);

#[tokio::test]
async fn open_connects_through_the_target() {
    let url = PgCluster::shared().fresh_database("open_target").await;
    let store = tokpulse_store::open(&StoreTarget::Postgres {
        url,
        max_connections: 2,
    })
    .await
    .unwrap();
    assert_eq!(store.backend(), tokpulse_store::Backend::Postgres);
    let all: Vec<i64> = tokpulse_store::embedded_migrations(tokpulse_store::Backend::Postgres)
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(store.migrate().await.unwrap(), all);
    store.close().await;
}

#[tokio::test]
async fn a_failed_connection_names_the_url_without_its_password() {
    let cluster = PgCluster::shared();
    // Trust authentication accepts any password; a missing database still fails.
    let url = format!(
        "postgres://postgres:correct-horse@127.0.0.1:{}/no_such_db",
        cluster.port()
    );
    let err = PgStore::connect(&url, 1).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{msg}");
    assert!(!msg.contains("correct-horse"), "{msg}");
    assert!(!format!("{err:?}").contains("correct-horse"));
    assert!(
        msg.contains(&format!(
            "postgres://postgres@127.0.0.1:{}/no_such_db",
            cluster.port()
        )),
        "{msg}"
    );
}

/// `ai_embeddings.embedding` is pgvector's `vector(1536)` where the extension is installed,
/// `real[]` where it is not.
#[tokio::test]
async fn embedding_column_follows_pgvector_availability() {
    let url = PgCluster::shared().fresh_database("embedding_type").await;
    let store = PgStore::connect(&url, 1).await.unwrap();
    store.migrate().await.unwrap();
    let available: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    let column_type: String = sqlx::query_scalar(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = 'ai_embeddings'::regclass AND attname = 'embedding'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    let expected = if available { "vector(1536)" } else { "real[]" };
    assert_eq!(column_type, expected);
    store.close().await;
}

/// Timestamps are timestamptz and JSON is jsonb on PostgreSQL.
#[tokio::test]
async fn columns_use_native_types() {
    let url = PgCluster::shared().fresh_database("native_types").await;
    let store = PgStore::connect(&url, 1).await.unwrap();
    store.migrate().await.unwrap();
    let mut conn = PgConnection::connect(&url).await.unwrap();
    for (table, column, expected) in [
        ("performance_metrics", "ts", "timestamp with time zone"),
        ("performance_metrics", "attributes", "jsonb"),
        ("findings", "evidence", "jsonb"),
        ("actions", "payload", "jsonb"),
        ("api_keys", "created_at", "timestamp with time zone"),
    ] {
        let got: String = sqlx::query_scalar(
            "SELECT data_type FROM information_schema.columns \
             WHERE table_name = $1 AND column_name = $2",
        )
        .bind(table)
        .bind(column)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(got, expected, "{table}.{column}");
    }
    conn.close().await.unwrap();
    store.close().await;
}
