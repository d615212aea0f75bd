//! SQLite: CI runs and jobs, request rollups, detector state and error logs.

use super::{SqliteStore, mark_rolled_up};
use crate::convert::{from_ms, json_from_str, to_json, to_ms};
use crate::diagnosis::{ci_time, run_time, status_rank};
use crate::{CiBatch, ErrorLog, InsertOutcome, PendingSample, RollupRow, RollupWrite, StoreError};
use sqlx::AssertSqlSafe;
use std::collections::HashSet;
use tokpulse_core::{CiJob, RequestSample, Timestamp, Window};

pub(super) async fn insert_ci(
    store: &SqliteStore,
    batch: &CiBatch,
    received: Timestamp,
) -> Result<InsertOutcome, StoreError> {
    if batch.is_empty() {
        return Ok(InsertOutcome::default());
    }
    let mut tx = store.begin_write().await?;
    let mut inserted = 0u64;
    let mut seen: HashSet<(&str, u64, u32)> = HashSet::new();
    for g in &batch.runs {
        let r = g.get();
        if !seen.insert(("run", r.id, r.run_attempt)) {
            continue;
        }
        let existed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM ci_runs WHERE id = ?1 AND run_attempt = ?2)",
        )
        .bind(r.id as i64)
        .bind(i64::from(r.run_attempt))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ci_runs (id, run_attempt, ts, status_rank, repository, payload) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id, run_attempt) DO UPDATE SET \
             ts = excluded.ts, status_rank = excluded.status_rank, \
             repository = excluded.repository, payload = excluded.payload \
             WHERE excluded.status_rank >= ci_runs.status_rank",
        )
        .bind(r.id as i64)
        .bind(i64::from(r.run_attempt))
        .bind(to_ms(ci_time(run_time(r), received)))
        .bind(status_rank(r.status))
        .bind(r.repository.as_deref())
        .bind(to_json(r))
        .execute(&mut *tx)
        .await?;
        inserted += u64::from(!existed);
    }
    for g in &batch.jobs {
        let j = g.get();
        if !seen.insert(("job", j.id, j.run_attempt)) {
            continue;
        }
        let existed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM ci_jobs WHERE id = ?1 AND run_attempt = ?2)",
        )
        .bind(j.id as i64)
        .bind(i64::from(j.run_attempt))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ci_jobs (id, run_attempt, run_id, ts, status_rank, repository, payload) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id, run_attempt) DO UPDATE SET \
             ts = excluded.ts, status_rank = excluded.status_rank, \
             repository = excluded.repository, payload = excluded.payload \
             WHERE excluded.status_rank >= ci_jobs.status_rank",
        )
        .bind(j.id as i64)
        .bind(i64::from(j.run_attempt))
        .bind(j.run_id as i64)
        .bind(to_ms(ci_time(j.time(), received)))
        .bind(status_rank(j.status))
        .bind(j.repository.as_deref())
        .bind(to_json(j))
        .execute(&mut *tx)
        .await?;
        inserted += u64::from(!existed);
    }
    tx.commit().await?;
    Ok(InsertOutcome {
        inserted,
        duplicates: batch.len() as u64 - inserted,
    })
}

pub(super) async fn ci_jobs(store: &SqliteStore, window: Window) -> Result<Vec<CiJob>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT payload FROM ci_jobs WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, id, run_attempt",
    )
    .bind(to_ms(window.start))
    .bind(to_ms(window.end))
    .fetch_all(&store.reader)
    .await?;
    rows.iter()
        .map(|(p,)| json_from_str("ci_jobs", "payload", p))
        .collect()
}

pub(super) async fn pending_rollup_samples(
    store: &SqliteStore,
    limit: i64,
) -> Result<Vec<PendingSample>, StoreError> {
    let rows: Vec<(i64, i64, String, String, f64, bool)> = sqlx::query_as(
        "SELECT id, ts, service, method || ' ' || route, duration_ms, status_code >= 500 \
         FROM performance_metrics WHERE rolled_up = 0 ORDER BY id LIMIT ?1",
    )
    .bind(limit)
    .fetch_all(&store.reader)
    .await?;
    rows.into_iter()
        .map(|(id, ts, service, route, duration_ms, is_error)| {
            Ok(PendingSample {
                id,
                sample: RequestSample {
                    timestamp: from_ms("performance_metrics", ts)?,
                    service,
                    route,
                    duration_ms,
                    is_error,
                },
            })
        })
        .collect()
}

pub(super) async fn commit_rollups(
    store: &SqliteStore,
    ids: &[i64],
    rollups: &[RollupWrite],
) -> Result<bool, StoreError> {
    let mut tx = store.begin_write().await?;
    if !mark_rolled_up(&mut tx, "performance_metrics", ids).await? {
        return Ok(false);
    }
    for w in rollups {
        let r = &w.row;
        let changed = match w.read_requests {
            None => sqlx::query(
                "INSERT INTO request_rollups (service, route, resolution, bucket_start, requests, \
                 errors, sketch) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE ?8 IS NULL \
                 ON CONFLICT DO NOTHING",
            ),
            Some(_) => sqlx::query(
                "UPDATE request_rollups SET requests = ?5, errors = ?6, sketch = ?7 \
                 WHERE service = ?1 AND route = ?2 AND resolution = ?3 AND bucket_start = ?4 \
                 AND requests = ?8",
            ),
        }
        .bind(&r.service)
        .bind(&r.route)
        .bind(&r.resolution)
        .bind(to_ms(r.bucket_start))
        .bind(r.requests)
        .bind(r.errors)
        .bind(&r.sketch)
        .bind(w.read_requests)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
    }
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn rollups(
    store: &SqliteStore,
    resolution: &str,
    window: Window,
    route: Option<(&str, &str)>,
) -> Result<Vec<RollupRow>, StoreError> {
    let sql = format!(
        "SELECT service, route, bucket_start, requests, errors, sketch FROM request_rollups \
         WHERE resolution = ?1 AND bucket_start >= ?2 AND bucket_start < ?3 {} \
         ORDER BY bucket_start, service, route",
        if route.is_some() {
            "AND service = ?4 AND route = ?5"
        } else {
            ""
        }
    );
    let mut q = sqlx::query_as::<_, (String, String, i64, i64, i64, Vec<u8>)>(AssertSqlSafe(sql))
        .bind(resolution)
        .bind(to_ms(window.start))
        .bind(to_ms(window.end));
    if let Some((service, r)) = route {
        q = q.bind(service).bind(r);
    }
    q.fetch_all(&store.reader)
        .await?
        .into_iter()
        .map(|(service, route, start, requests, errors, sketch)| {
            Ok(RollupRow {
                service,
                route,
                resolution: resolution.to_string(),
                bucket_start: from_ms("request_rollups", start)?,
                requests,
                errors,
                sketch,
            })
        })
        .collect()
}

pub(super) async fn error_logs(
    store: &SqliteStore,
    window: Window,
    limit: i64,
) -> Result<Vec<ErrorLog>, StoreError> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT ts, service, message FROM application_logs \
         WHERE ts >= ?1 AND ts < ?2 AND level IN ('error', 'fatal') ORDER BY ts, id LIMIT ?3",
    )
    .bind(to_ms(window.start))
    .bind(to_ms(window.end))
    .bind(limit)
    .fetch_all(&store.reader)
    .await?;
    rows.into_iter()
        .map(|(ts, service, message)| {
            Ok(ErrorLog {
                timestamp: from_ms("application_logs", ts)?,
                service,
                message,
            })
        })
        .collect()
}

pub(super) async fn detector_states(
    store: &SqliteStore,
    prefix: &str,
) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT key, state FROM detector_state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
    )
    .bind(prefix)
    .fetch_all(&store.reader)
    .await?;
    rows.into_iter()
        .map(|(k, s)| Ok((k, json_from_str("detector_state", "state", &s)?)))
        .collect()
}

pub(super) async fn put_detector_states(
    store: &SqliteStore,
    states: &[(String, Option<serde_json::Value>)],
    now: Timestamp,
) -> Result<(), StoreError> {
    if states.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin_write().await?;
    for (key, state) in states {
        match state {
            Some(v) => {
                sqlx::query(
                    "INSERT INTO detector_state (key, state, updated_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (key) DO UPDATE SET state = excluded.state, \
                     updated_at = excluded.updated_at",
                )
                .bind(key)
                .bind(to_json(v))
                .bind(to_ms(now))
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM detector_state WHERE key = ?1")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
