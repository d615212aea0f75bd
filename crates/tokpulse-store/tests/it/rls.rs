//! Row-level security on PostgreSQL: what `service_role`, `authenticated` and `anon` may do,
//! connecting as login roles that are members of each, and migrating where the roles (and
//! Supabase's default privileges) already exist.

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use std::sync::atomic::{AtomicU32, Ordering};
use tokpulse_store::testing::PgCluster;
use tokpulse_store::{PgStore, Store, Table};

/// Every table TokPulse owns, plus sqlx's bookkeeping table.
fn all_tables() -> Vec<&'static str> {
    let mut t: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
    t.push("_sqlx_migrations");
    t
}

/// Every embedded PostgreSQL migration's version.
fn all_versions() -> Vec<i64> {
    tokpulse_store::embedded_migrations(tokpulse_store::Backend::Postgres)
        .iter()
        .map(|m| m.version)
        .collect()
}

/// A statement that inserts one row into `table`, with `key` making it unique, and a column
/// to update.
fn insert_sql(table: &str, key: &str) -> (String, &'static str) {
    match table {
        "performance_metrics" => (
            format!(
                "INSERT INTO performance_metrics (record_id, ts, service, method, route, \
                 status_code, duration_ms, environment) \
                 VALUES ('{key}', now(), 'api', 'GET', '/', 200, 1.5, 'production')"
            ),
            "service",
        ),
        "application_logs" => (
            format!(
                "INSERT INTO application_logs (record_id, ts, service, level, message) \
                 VALUES ('{key}', now(), 'api', 'info', 'hello')"
            ),
            "service",
        ),
        "ai_usage_metrics" => (
            format!(
                "INSERT INTO ai_usage_metrics (record_id, ts, service, provider, model, \
                 prompt_tokens, completion_tokens, success) \
                 VALUES ('{key}', now(), 'api', 'openai', 'gpt-4o', 10, 5, true)"
            ),
            "service",
        ),
        "ai_health_metrics" => (
            format!(
                "INSERT INTO ai_health_metrics (model, window_start, window_end, requests, \
                 success_rate) VALUES ('{key}', now(), now(), 10, 0.9)"
            ),
            "model",
        ),
        "cost_predictions" => (
            format!(
                "INSERT INTO cost_predictions (created_at, method, period_start, period_end, \
                 spend_to_date, projected) VALUES (now(), '{key}', now(), now(), 10, 20)"
            ),
            "method",
        ),
        // array_fill(...) is real[]; it is assigned to vector(1536) as well.
        "ai_embeddings" => (
            format!(
                "INSERT INTO ai_embeddings (source_table, source_id, content, embedding, model, \
                 created_at) VALUES ('application_logs', '{key}', 'payment failed for [EMAIL]', \
                 array_fill(0.5::real, ARRAY[1536]), 'local', now())"
            ),
            "model",
        ),
        "deployments" => (
            format!(
                "INSERT INTO deployments (record_id, ts, service, environment, version) \
                 VALUES ('{key}', now(), 'api', 'production', 'v1')"
            ),
            "service",
        ),
        "findings" => (
            format!(
                "INSERT INTO findings (fingerprint, kind, severity, status, title, service, \
                 window_start, window_end, evidence, suggestion, first_seen, last_seen, \
                 occurrences) VALUES ('{key}', 'error_spike', 'high', 'open', 't', 'api', now(), \
                 now(), '[]', 'roll back', now(), now(), 1)"
            ),
            "title",
        ),
        "actions" => (
            format!(
                "INSERT INTO actions (finding_id, sink, kind, idempotency_key, payload, status, \
                 created_at, next_attempt_at) \
                 VALUES ((SELECT min(id) FROM findings), 'outbox', 'open', '{key}', '{{}}', \
                 'pending', now(), now())"
            ),
            "sink",
        ),
        "api_keys" => (
            format!(
                "INSERT INTO api_keys (name, prefix, key_hash, role, created_at) \
                 VALUES ('ci', 'tp_', '{key}', 'service', now())"
            ),
            "name",
        ),
        "privacy_audit" => (
            format!(
                "INSERT INTO privacy_audit (day, source, entity, action, count) \
                 VALUES (current_date, '{key}', 'EMAIL', 'redacted', 1)"
            ),
            "count",
        ),
        "privacy_blocked" => (
            format!(
                "INSERT INTO privacy_blocked (source, record_id, day, entity) \
                 VALUES ('logs', '{key}', current_date, 'US_SSN')"
            ),
            "entity",
        ),
        "privacy_requests" => (
            format!(
                "INSERT INTO privacy_requests (kind, token, counts, at) \
                 VALUES ('forget', '{key}', '[]', now())"
            ),
            "token",
        ),
        "request_rollups" => (
            format!(
                "INSERT INTO request_rollups (service, route, resolution, bucket_start, \
                 requests, errors, sketch) VALUES ('api', '{key}', 'minute', now(), 1, 0, '\\x01')"
            ),
            "requests",
        ),
        "ci_runs" => (
            format!(
                "INSERT INTO ci_runs (id, run_attempt, ts, status_rank, payload) \
                 VALUES ({}, 1, now(), 0, '{{}}')",
                800_000 + key.len()
            ),
            "status_rank",
        ),
        "ci_jobs" => (
            format!(
                "INSERT INTO ci_jobs (id, run_attempt, run_id, ts, status_rank, payload) \
                 VALUES ({}, 1, 1, now(), 0, '{{}}')",
                800_000 + key.len()
            ),
            "status_rank",
        ),
        "detector_state" => (
            format!(
                "INSERT INTO detector_state (key, state, updated_at) VALUES ('{key}', '{{}}', now())"
            ),
            "state",
        ),
        "job_runs" => (
            format!(
                "INSERT INTO job_runs (job, scheduled_for, cause, owner, started_at, \
                 lease_until, status) VALUES ('{key}', now(), 'manual', 'test', now(), now(), \
                 'running')"
            ),
            "owner",
        ),
        "infra_usage" => (
            format!(
                "INSERT INTO infra_usage (record_id, provider, project, metric, quantity, \
                 period_start, period_end, ingested_at) \
                 VALUES ('{key}', 'vercel', 'shop', 'requests', 10, now(), now(), now())"
            ),
            "project",
        ),
        "ai_usage_daily" => (
            format!(
                "INSERT INTO ai_usage_daily (day, service, feature, model, route, calls, \
                 failed_calls, prompt_tokens, cached_prompt_tokens, completion_tokens) \
                 VALUES (current_date, 'api', '', '{key}', '', 1, 0, 10, 0, 5)"
            ),
            "calls",
        ),
        "webhook_deliveries" => (
            format!(
                "INSERT INTO webhook_deliveries (source, delivery_id, event, received_at) \
                 VALUES ('github', '{key}', 'push', now())"
            ),
            "event",
        ),
        "_sqlx_migrations" => (
            // Versions are bigints: derive one from the key.
            format!(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                 execution_time) VALUES ({}, '{key}', true, '\\x00', 0)",
                900_000 + key.len()
            ),
            "description",
        ),
        other => panic!("no insert statement for table {other}"),
    }
}

/// `Ok(rows affected or returned)` or `Err(SQLSTATE)`.
async fn attempt(conn: &mut PgConnection, sql: &str) -> Result<u64, String> {
    let is_select = sql.trim_start().starts_with("SELECT");
    let result = if is_select {
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut *conn)
            .await
            .map(|n| n as u64)
    } else {
        conn.execute(AssertSqlSafe(sql.to_owned()))
            .await
            .map(|r| r.rows_affected())
    };
    result.map_err(|e| match &e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()).unwrap_or_default(),
        other => panic!("{sql}: {other}"),
    })
}

const PERMISSION_DENIED: &str = "42501";

struct Db {
    name: String,
    url: String,
}

async fn migrated_database(cluster: &PgCluster, name: &str) -> Db {
    let url = cluster.create_database(name).await;
    let store = PgStore::connect(&url, 1).await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), all_versions());
    store.close().await;
    Db {
        name: name.to_owned(),
        url,
    }
}

/// A LOGIN role that is a member of `group`, and a connection as it.
async fn connect_as_member(cluster: &PgCluster, db: &Db, group: &str) -> PgConnection {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let user = format!("{group}_member_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    cluster
        .superuser_execute(&format!("CREATE ROLE {user} LOGIN IN ROLE {group}"))
        .await;
    PgConnection::connect(&cluster.url_for(&user, &db.name))
        .await
        .unwrap()
}

#[tokio::test]
async fn every_table_has_row_level_security() {
    let cluster = PgCluster::shared();
    let db = migrated_database(cluster, "rls_enabled").await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let mut tables: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut expected = all_tables();
    expected.sort_unstable();
    tables.sort();
    assert_eq!(
        tables.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        expected,
        "a new table must be added to all_tables() and given RLS and grants"
    );
    for (table, rls) in &tables {
        assert!(rls, "row-level security is off on {table}");
    }
    conn.close().await.unwrap();
}

#[tokio::test]
async fn roles_get_exactly_their_rights() {
    let cluster = PgCluster::shared();
    let db = migrated_database(cluster, "rls_rights").await;

    // One row in every table, written by the owner.
    let mut owner = PgConnection::connect(&db.url).await.unwrap();
    for table in all_tables() {
        if table != "_sqlx_migrations" {
            let (sql, _) = insert_sql(table, "seed");
            assert_eq!(attempt(&mut owner, &sql).await, Ok(1), "{sql}");
        }
    }

    // service_role: everything, on every table.
    let mut service = connect_as_member(cluster, &db, "service_role").await;
    for table in all_tables() {
        let (insert, column) = insert_sql(table, "by-service");
        service.execute("BEGIN").await.unwrap();
        let count = format!("SELECT count(*) FROM {table}");
        assert!(attempt(&mut service, &count).await.unwrap() >= 1, "{count}");
        assert_eq!(attempt(&mut service, &insert).await, Ok(1), "{insert}");
        let update = format!("UPDATE {table} SET {column} = {column}");
        assert!(
            attempt(&mut service, &update).await.unwrap() >= 2,
            "{update}"
        );
        let delete = format!("DELETE FROM {table}");
        assert!(
            attempt(&mut service, &delete).await.unwrap() >= 2,
            "{delete}"
        );
        service.execute("ROLLBACK").await.unwrap();
    }

    // authenticated: reads embeddings, nothing else.
    let mut authenticated = connect_as_member(cluster, &db, "authenticated").await;
    assert_eq!(
        attempt(&mut authenticated, "SELECT count(*) FROM ai_embeddings").await,
        Ok(1)
    );
    for table in all_tables() {
        let (insert, column) = insert_sql(table, "by-authenticated");
        let update = format!("UPDATE {table} SET {column} = {column}");
        let delete = format!("DELETE FROM {table}");
        let mut denied = vec![insert, update, delete];
        if table != "ai_embeddings" {
            denied.push(format!("SELECT count(*) FROM {table}"));
        }
        for sql in denied {
            assert_eq!(
                attempt(&mut authenticated, &sql).await,
                Err(PERMISSION_DENIED.into()),
                "authenticated: {sql}"
            );
        }
    }

    // anon: nothing at all.
    let mut anon = connect_as_member(cluster, &db, "anon").await;
    for table in all_tables() {
        let (insert, column) = insert_sql(table, "by-anon");
        for sql in [
            format!("SELECT count(*) FROM {table}"),
            insert,
            format!("UPDATE {table} SET {column} = {column}"),
            format!("DELETE FROM {table}"),
        ] {
            assert_eq!(
                attempt(&mut anon, &sql).await,
                Err(PERMISSION_DENIED.into()),
                "anon: {sql}"
            );
        }
    }

    // Row-level security holds even where a privilege is granted by mistake: no policy, no rows.
    owner
        .execute("GRANT SELECT ON findings TO authenticated; GRANT SELECT ON ai_embeddings TO anon")
        .await
        .unwrap();
    assert_eq!(
        attempt(&mut authenticated, "SELECT count(*) FROM findings").await,
        Ok(0)
    );
    assert_eq!(
        attempt(&mut anon, "SELECT count(*) FROM ai_embeddings").await,
        Ok(0)
    );
    assert_eq!(
        attempt(&mut owner, "SELECT count(*) FROM findings").await,
        Ok(1)
    );

    for conn in [owner, service, authenticated, anon] {
        conn.close().await.unwrap();
    }
}

/// On Supabase the three roles exist before TokPulse migrates (with their own attributes), the
/// migrating user is not a superuser, and default privileges grant everything on new tables
/// to anon and authenticated. The migrations still run, change no role, and open nothing.
#[tokio::test]
async fn migrating_where_the_roles_already_exist() {
    // A cluster of its own: roles are cluster-wide, and the shared cluster's tests create them.
    let cluster = PgCluster::start();
    cluster
        .superuser_execute(
            "CREATE ROLE anon NOLOGIN NOINHERIT; \
             CREATE ROLE authenticated NOLOGIN NOINHERIT; \
             CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS; \
             CREATE ROLE supabase_owner LOGIN",
        )
        .await;
    cluster
        .superuser_execute("CREATE DATABASE app OWNER supabase_owner")
        .await;
    let owner_url = cluster.url_for("supabase_owner", "app");
    let mut owner = PgConnection::connect(&owner_url).await.unwrap();
    owner
        .execute(
            "GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role; \
             ALTER DEFAULT PRIVILEGES IN SCHEMA public \
                 GRANT ALL ON TABLES TO anon, authenticated, service_role; \
             ALTER DEFAULT PRIVILEGES IN SCHEMA public \
                 GRANT ALL ON SEQUENCES TO anon, authenticated, service_role",
        )
        .await
        .unwrap();

    let store = PgStore::connect(&owner_url, 2).await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), all_versions());
    assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());

    let roles: Vec<(String, bool, bool, bool)> = sqlx::query_as(
        "SELECT rolname::text, rolcanlogin, rolinherit, rolbypassrls FROM pg_roles \
         WHERE rolname IN ('anon', 'authenticated', 'service_role') ORDER BY 1",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert_eq!(
        roles,
        [
            ("anon".to_owned(), false, false, false),
            ("authenticated".to_owned(), false, false, false),
            ("service_role".to_owned(), false, false, true),
        ]
    );

    let db = Db {
        name: "app".into(),
        url: owner_url,
    };
    for table in all_tables() {
        if table != "_sqlx_migrations" {
            let (sql, _) = insert_sql(table, "seed");
            assert_eq!(attempt(&mut owner, &sql).await, Ok(1), "{sql}");
        }
    }
    // NOINHERIT roles (as on Supabase) act through SET ROLE.
    let mut anon = connect_as_member(&cluster, &db, "anon").await;
    anon.execute("SET ROLE anon").await.unwrap();
    let mut authenticated = connect_as_member(&cluster, &db, "authenticated").await;
    authenticated
        .execute("SET ROLE authenticated")
        .await
        .unwrap();
    for table in all_tables() {
        let (insert, _) = insert_sql(table, "late");
        for sql in [format!("SELECT count(*) FROM {table}"), insert.clone()] {
            assert_eq!(
                attempt(&mut anon, &sql).await,
                Err(PERMISSION_DENIED.into()),
                "anon: {sql}"
            );
        }
        if table == "ai_embeddings" {
            assert_eq!(
                attempt(&mut authenticated, "SELECT count(*) FROM ai_embeddings").await,
                Ok(1)
            );
        } else {
            let sql = format!("SELECT count(*) FROM {table}");
            assert_eq!(
                attempt(&mut authenticated, &sql).await,
                Err(PERMISSION_DENIED.into()),
                "authenticated: {sql}"
            );
        }
        assert_eq!(
            attempt(&mut authenticated, &insert).await,
            Err(PERMISSION_DENIED.into()),
            "authenticated: {insert}"
        );
    }

    // The service role works through the store's own queries too.
    let mut service = connect_as_member(&cluster, &db, "service_role").await;
    service.execute("SET ROLE service_role").await.unwrap();
    assert_eq!(
        attempt(&mut service, "SELECT count(*) FROM findings").await,
        Ok(1)
    );

    for conn in [owner, anon, authenticated, service] {
        conn.close().await.unwrap();
    }
    store.close().await;
    drop(cluster);
}
