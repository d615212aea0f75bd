//! PostgreSQL: CI runs and jobs, request rollups, detector state and error logs.

use super::{PgStore, mark_rolled_up};
use crate::convert::json_from_value;
use crate::diagnosis::{ci_time, run_time, status_rank};
use crate::{CiBatch, ErrorLog, InsertOutcome, PendingSample, RollupRow, RollupWrite, StoreError};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder};
use std::collections::HashSet;
use tokpulse_core::{CiJob, RequestSample, Timestamp, Window};

pub(super) async fn insert_ci(
    store: &PgStore,
    batch: &CiBatch,
    received: Timestamp,
) -> Result<InsertOutcome, StoreError> {
    if batch.is_empty() {
        return Ok(InsertOutcome::default());
    }
    let mut tx = store.pool.begin().await?;
    let mut inserted = 0u64;
    let mut seen: HashSet<(&str, u64, u32)> = HashSet::new();
    for g in &batch.runs {
        let r = g.get();
        if !seen.insert(("run", r.id, r.run_attempt)) {
            continue;
        }
        // `xmax = 0` tells a freshly inserted row from an updated (or untouched) one.
        let new: Option<bool> = sqlx::query_scalar(
            "INSERT INTO ci_runs (id, run_attempt, ts, status_rank, repository, payload) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id, run_attempt) DO UPDATE SET \
             ts = excluded.ts, status_rank = excluded.status_rank, \
             repository = excluded.repository, payload = excluded.payload \
             WHERE excluded.status_rank >= ci_runs.status_rank RETURNING (xmax = 0)",
        )
        .bind(r.id as i64)
        .bind(r.run_attempt as i32)
        .bind(ci_time(run_time(r), received))
        .bind(status_rank(r.status))
        .bind(r.repository.as_deref())
        .bind(Json(r))
        .fetch_optional(&mut *tx)
        .await?;
        inserted += u64::from(new == Some(true));
    }
    for g in &batch.jobs {
        let j = g.get();
        if !seen.insert(("job", j.id, j.run_attempt)) {
            continue;
        }
        let new: Option<bool> = sqlx::query_scalar(
            "INSERT INTO ci_jobs (id, run_attempt, run_id, ts, status_rank, repository, payload) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id, run_attempt) DO UPDATE SET \
             ts = excluded.ts, status_rank = excluded.status_rank, \
             repository = excluded.repository, payload = excluded.payload \
             WHERE excluded.status_rank >= ci_jobs.status_rank RETURNING (xmax = 0)",
        )
        .bind(j.id as i64)
        .bind(j.run_attempt as i32)
        .bind(j.run_id as i64)
        .bind(ci_time(j.time(), received))
        .bind(status_rank(j.status))
        .bind(j.repository.as_deref())
        .bind(Json(j))
        .fetch_optional(&mut *tx)
        .await?;
        inserted += u64::from(new == Some(true));
    }
    tx.commit().await?;
    Ok(InsertOutcome {
        inserted,
        duplicates: batch.len() as u64 - inserted,
    })
}

pub(super) async fn ci_jobs(store: &PgStore, window: Window) -> Result<Vec<CiJob>, StoreError> {
    let rows: Vec<(serde_json::Value,)> = sqlx::query_as(
        "SELECT payload FROM ci_jobs WHERE ts >= $1 AND ts < $2 ORDER BY ts, id, run_attempt",
    )
    .bind(window.start)
    .bind(window.end)
    .fetch_all(&store.pool)
    .await?;
    rows.into_iter()
        .map(|(p,)| json_from_value("ci_jobs", "payload", p))
        .collect()
}

pub(super) async fn pending_rollup_samples(
    store: &PgStore,
    limit: i64,
) -> Result<Vec<PendingSample>, StoreError> {
    let rows: Vec<(i64, Timestamp, String, String, f64, bool)> = sqlx::query_as(
        "SELECT id, ts, service, method || ' ' || route, duration_ms, status_code >= 500 \
         FROM performance_metrics WHERE NOT rolled_up ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&store.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, timestamp, service, route, duration_ms, is_error)| PendingSample {
                id,
                sample: RequestSample {
                    timestamp,
                    service,
                    route,
                    duration_ms,
                    is_error,
                },
            },
        )
        .collect())
}

pub(super) async fn commit_rollups(
    store: &PgStore,
    ids: &[i64],
    rollups: &[RollupWrite],
) -> Result<bool, StoreError> {
    let mut tx = store.pool.begin().await?;
    if !mark_rolled_up(&mut tx, "performance_metrics", ids).await? {
        return Ok(false);
    }
    for w in rollups {
        let r = &w.row;
        let changed = match w.read_requests {
            None => sqlx::query(
                "INSERT INTO request_rollups (service, route, resolution, bucket_start, requests, \
                 errors, sketch) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            ),
            Some(_) => sqlx::query(
                "UPDATE request_rollups SET requests = $5, errors = $6, sketch = $7 \
                 WHERE service = $1 AND route = $2 AND resolution = $3 AND bucket_start = $4 \
                 AND requests = $8",
            ),
        }
        .bind(&r.service)
        .bind(&r.route)
        .bind(&r.resolution)
        .bind(r.bucket_start)
        .bind(r.requests)
        .bind(r.errors)
        .bind(&r.sketch);
        let q = match w.read_requests {
            Some(n) => changed.bind(n),
            None => changed,
        };
        if q.execute(&mut *tx).await?.rows_affected() != 1 {
            return Ok(false);
        }
    }
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn rollups(
    store: &PgStore,
    resolution: &str,
    window: Window,
    route: Option<(&str, &str)>,
) -> Result<Vec<RollupRow>, StoreError> {
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT service, route, bucket_start, requests, errors, sketch FROM request_rollups \
         WHERE resolution = ",
    );
    b.push_bind(resolution)
        .push(" AND bucket_start >= ")
        .push_bind(window.start)
        .push(" AND bucket_start < ")
        .push_bind(window.end);
    if let Some((service, r)) = route {
        b.push(" AND service = ")
            .push_bind(service)
            .push(" AND route = ")
            .push_bind(r);
    }
    b.push(" ORDER BY bucket_start, service, route");
    let rows: Vec<(String, String, Timestamp, i64, i64, Vec<u8>)> =
        b.build_query_as().fetch_all(&store.pool).await?;
    Ok(rows
        .into_iter()
        .map(
            |(service, route, bucket_start, requests, errors, sketch)| RollupRow {
                service,
                route,
                resolution: resolution.to_string(),
                bucket_start,
                requests,
                errors,
                sketch,
            },
        )
        .collect())
}

pub(super) async fn error_logs(
    store: &PgStore,
    window: Window,
    limit: i64,
) -> Result<Vec<ErrorLog>, StoreError> {
    let rows: Vec<(Timestamp, String, String)> = sqlx::query_as(
        "SELECT ts, service, message FROM application_logs \
         WHERE ts >= $1 AND ts < $2 AND level IN ('error', 'fatal') ORDER BY ts, id LIMIT $3",
    )
    .bind(window.start)
    .bind(window.end)
    .bind(limit)
    .fetch_all(&store.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(timestamp, service, message)| ErrorLog {
            timestamp,
            service,
            message,
        })
        .collect())
}

pub(super) async fn detector_states(
    store: &PgStore,
    prefix: &str,
) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
    let sql = "SELECT key, state FROM detector_state WHERE left(key, length($1)) = $1 ORDER BY key";
    Ok(sqlx::query_as(AssertSqlSafe(sql))
        .bind(prefix)
        .fetch_all(&store.pool)
        .await?)
}

pub(super) async fn put_detector_states(
    store: &PgStore,
    states: &[(String, Option<serde_json::Value>)],
    now: Timestamp,
) -> Result<(), StoreError> {
    if states.is_empty() {
        return Ok(());
    }
    let mut tx = store.pool.begin().await?;
    for (key, state) in states {
        match state {
            Some(v) => {
                sqlx::query(
                    "INSERT INTO detector_state (key, state, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET state = excluded.state, \
                     updated_at = excluded.updated_at",
                )
                .bind(key)
                .bind(Json(v))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM detector_state WHERE key = $1")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
