//! The PostgreSQL (and Supabase) backend: a pooled connection, timestamptz and jsonb columns,
//! row-level security set up by the migrations.

mod cost;

use crate::convert::{self, DeployParts, FindingParts, json_from_value};
use crate::privacy::{self, Col, Fate, SUBJECT_TABLES, SubjectTable};
use crate::redact::redact_url;
use crate::{
    ActionRow, ApiKeyRow, AuditRow, Backend, Batch, BlockedRecord, FORGOTTEN, FindingChange,
    ForgetOutcome, InsertOutcome, NewAction, NewApiKey, PrivacyRequest, RequestKind, Store,
    StoreError, SubjectRows, Table, TableOutcome,
};
use async_trait::async_trait;
use chrono::NaiveDate;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::query_builder::Separated;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Connection, Postgres, QueryBuilder, Row};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use tokpulse_core::{
    DeployEvent, Finding, FindingStatus, Platform, RecordKind, RequestSample, StoredFinding,
    Timestamp, Window,
};
use tokpulse_guard::{AuditAction, Entity};

mod diagnosis;
mod jobs;

/// PostgreSQL's limit on bound parameters per statement.
const MAX_PARAMS: usize = 65_535;

/// Rows per INSERT statement.
const MAX_ROWS_PER_STATEMENT: usize = 1_000;

/// How long a query waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// TokPulse's data in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    target: String,
}

impl PgStore {
    /// Connects a pool of up to `max_connections` to `url`
    /// (`postgres://user:password@host:port/database?sslmode=require`; the `PG*` environment
    /// variables fill in what it leaves out). Fails if no connection can be made. Errors name the
    /// URL without its password. Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str, max_connections: u32) -> Result<PgStore, StoreError> {
        let target = redact_url(url);
        let open_err = |source: sqlx::Error| StoreError::Open {
            target: target.clone(),
            source,
        };
        let options = PgConnectOptions::from_str(url)
            .map_err(open_err)?
            .application_name("tokpulse");
        // One direct connection first: the pool would retry a refused connection until its
        // acquire timeout, and a wrong URL should fail now, not in 30 seconds.
        let probe = PgConnection::connect_with(&options)
            .await
            .map_err(open_err)?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(PgStore { pool, target })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The URL connected to, without its password.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// Inserts `rows` with multi-row `INSERT … ON CONFLICT (record_id) DO NOTHING` statements;
/// returns how many were written. With `returning`, the ids of the rows written are added to
/// it (for the privacy audit).
async fn insert_rows<T, F>(
    conn: &mut PgConnection,
    head: &'static str,
    columns: usize,
    rows: &[T],
    mut returning: Option<&mut Vec<String>>,
    mut push: F,
) -> Result<u64, StoreError>
where
    F: FnMut(Separated<'_, Postgres, &'static str>, &T),
{
    let per_statement = (MAX_PARAMS / columns).min(MAX_ROWS_PER_STATEMENT);
    let mut inserted = 0;
    let mut qb = QueryBuilder::<Postgres>::new(head);
    for chunk in rows.chunks(per_statement) {
        qb.reset();
        qb.push_values(chunk, &mut push);
        qb.push(" ON CONFLICT (record_id) DO NOTHING");
        match returning.as_deref_mut() {
            None => inserted += qb.build().execute(&mut *conn).await?.rows_affected(),
            Some(ids) => {
                qb.push(" RETURNING record_id");
                let written: Vec<String> = qb.build_query_scalar().fetch_all(&mut *conn).await?;
                inserted += written.len() as u64;
                ids.extend(written);
            }
        }
    }
    Ok(inserted)
}

/// Adds `rows` (day, entity, action, count) of `source` to the privacy audit.
async fn add_audit(
    conn: &mut PgConnection,
    source: &str,
    rows: &[(NaiveDate, Entity, AuditAction, i64)],
) -> Result<(), StoreError> {
    let mut qb = QueryBuilder::<Postgres>::new(
        "INSERT INTO privacy_audit (day, source, entity, action, count) ",
    );
    for chunk in rows.chunks(MAX_ROWS_PER_STATEMENT) {
        qb.reset();
        qb.push_values(chunk, |mut b, (day, entity, action, count)| {
            b.push_bind(*day)
                .push_bind(source.to_owned())
                .push_bind(entity.as_str())
                .push_bind(action.as_str())
                .push_bind(*count);
        });
        qb.push(
            " ON CONFLICT (day, source, entity, action) \
             DO UPDATE SET count = privacy_audit.count + excluded.count",
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// `strpos(c1::text, $1) > 0 OR …` over the columns searched for a token.
fn token_condition(t: &SubjectTable) -> String {
    t.searched
        .iter()
        .map(|c| format!("strpos({c}::text, $1) > 0"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// `jsonb_build_object('id', id, …)` of every exported column, formatted as the SQLite store
/// exports them (times as `YYYY-MM-DDTHH:MM:SS.mmmZ`, days as `YYYY-MM-DD`), so an export reads
/// the same from either backend. Columns not listed (embeddings, latency sketches, internal
/// flags) are left out.
fn json_row(t: &SubjectTable) -> String {
    let fields: Vec<String> = t
        .columns
        .iter()
        .map(|(c, kind)| {
            let expr = match kind {
                Col::Plain | Col::Json | Col::Bool => c.to_string(),
                Col::Date => format!("to_char({c}, 'YYYY-MM-DD')"),
                Col::Time => {
                    format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
                }
            };
            format!("'{c}', {expr}")
        })
        .collect();
    format!("jsonb_build_object({})", fields.join(", "))
}

async fn record_request(
    conn: &mut PgConnection,
    kind: RequestKind,
    token: &str,
    counts: &serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO privacy_requests (kind, token, counts, at) VALUES ($1, $2, $3, $4)")
        .bind(kind.as_str())
        .bind(token)
        .bind(Json(counts))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

const FINDING_COLUMNS: &str = "id, fingerprint, kind, severity, status, title, service, route, \
     window_start, window_end, evidence, cause, suggestion, first_seen, last_seen, occurrences, \
     resolved_at";

/// In `tx`, marks the rows `ids` of `table` (`performance_metrics`, `ai_usage_metrics`) rolled
/// up. `false` if one of them was already rolled up or is gone (another writer got there
/// first): the caller then drops the transaction, which rolls it back.
async fn mark_rolled_up(
    tx: &mut PgConnection,
    table: &'static str,
    ids: &[i64],
) -> Result<bool, StoreError> {
    for chunk in ids.chunks(MAX_PARAMS) {
        let done = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {table} SET rolled_up = true WHERE NOT rolled_up AND id = ANY($1)"
        )))
        .bind(chunk)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done != chunk.len() as u64 {
            return Ok(false);
        }
    }
    Ok(true)
}

fn finding_from_row(row: &PgRow) -> Result<StoredFinding, StoreError> {
    const T: &str = "findings";
    let cause: Option<serde_json::Value> = row.try_get("cause")?;
    FindingParts {
        id: row.try_get("id")?,
        fingerprint: row.try_get("fingerprint")?,
        kind: row.try_get("kind")?,
        severity: row.try_get("severity")?,
        status: row.try_get("status")?,
        title: row.try_get("title")?,
        service: row.try_get("service")?,
        route: row.try_get("route")?,
        window: Window {
            start: row.try_get("window_start")?,
            end: row.try_get("window_end")?,
        },
        evidence: json_from_value(T, "evidence", row.try_get("evidence")?)?,
        cause: cause
            .filter(|c| !c.is_null())
            .map(|c| json_from_value(T, "cause", c))
            .transpose()?,
        suggestion: row.try_get("suggestion")?,
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
        occurrences: row.try_get("occurrences")?,
        resolved_at: row.try_get("resolved_at")?,
    }
    .into_stored()
}

const ACTION_COLUMNS: &str = "id, finding_id, sink, kind, idempotency_key, payload, status, \
     attempts, last_error, created_at, next_attempt_at, delivered_at, external_ref";

fn action_from_row(row: &PgRow) -> Result<ActionRow, StoreError> {
    Ok(ActionRow {
        id: row.try_get("id")?,
        finding_id: row.try_get("finding_id")?,
        sink: row.try_get("sink")?,
        kind: row.try_get("kind")?,
        idempotency_key: row.try_get("idempotency_key")?,
        payload: row.try_get("payload")?,
        status: convert::action_status(row.try_get("status")?)?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        delivered_at: row.try_get("delivered_at")?,
        external_ref: row.try_get("external_ref")?,
    })
}

const API_KEY_COLUMNS: &str = "id, name, prefix, role, created_at, last_used_at, revoked_at";

fn api_key_from_row(row: &PgRow) -> Result<ApiKeyRow, StoreError> {
    Ok(ApiKeyRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        role: convert::role(row.try_get("role")?)?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let conn = self.pool.acquire().await?;
        crate::migrations::run(conn, &crate::migrations::POSTGRES_MIGRATOR).await
    }

    async fn insert_batch(&self, batch: &Batch) -> Result<InsertOutcome, StoreError> {
        if batch.is_empty() {
            return Ok(InsertOutcome::default());
        }
        let audit = privacy::batch_audit(batch);
        let mut written = audit.as_ref().map(|_| Vec::new());
        let ids = written.as_mut();
        let mut tx = self.pool.begin().await?;
        let inserted =
            match batch {
                Batch::Performance(rows) => {
                    insert_rows(
                        &mut tx,
                        "INSERT INTO performance_metrics (record_id, ts, service, method, route, \
                     status_code, duration_ms, environment, platform, attributes) ",
                        10,
                        rows,
                        ids,
                        |mut b, r| {
                            b.push_bind(r.id.as_str())
                                .push_bind(r.timestamp)
                                .push_bind(r.service.as_str())
                                .push_bind(r.method.as_str())
                                .push_bind(r.route.as_str())
                                .push_bind(i32::from(r.status_code))
                                .push_bind(r.duration_ms)
                                .push_bind(r.environment.as_str())
                                .push_bind(r.platform.map(Platform::as_str))
                                .push_bind(Json(&r.attributes));
                        },
                    )
                    .await?
                }
                Batch::AiUsage(rows) => {
                    insert_rows(
                        &mut tx,
                        "INSERT INTO ai_usage_metrics (record_id, ts, service, feature, provider, \
                     model, prompt_tokens, completion_tokens, latency_ms, success, error_message, \
                     cost_usd, attributes) ",
                        13,
                        rows,
                        ids,
                        |mut b, r| {
                            b.push_bind(r.id.as_str())
                                .push_bind(r.timestamp)
                                .push_bind(r.service.as_str())
                                .push_bind(r.feature.as_ref().map(|f| f.as_str()))
                                .push_bind(r.provider.as_str())
                                .push_bind(r.model.as_str())
                                .push_bind(convert::tokens(r.prompt_tokens))
                                .push_bind(convert::tokens(r.completion_tokens))
                                .push_bind(r.latency_ms)
                                .push_bind(r.success)
                                .push_bind(r.error_message.as_deref())
                                .push_bind(r.cost_usd)
                                .push_bind(Json(&r.attributes));
                        },
                    )
                    .await?
                }
                Batch::Logs(rows) => insert_rows(
                    &mut tx,
                    "INSERT INTO application_logs (record_id, ts, service, level, message, route, \
                     trace_id, attributes) ",
                    8,
                    rows,
                    ids,
                    |mut b, r| {
                        b.push_bind(r.id.as_str())
                            .push_bind(r.timestamp)
                            .push_bind(r.service.as_str())
                            .push_bind(r.level.as_str())
                            .push_bind(r.message.as_str())
                            .push_bind(r.route.as_deref())
                            .push_bind(r.trace_id.as_ref().map(|t| t.as_str()))
                            .push_bind(Json(&r.attributes));
                    },
                )
                .await?,
                Batch::Deploys(rows) => {
                    insert_rows(
                        &mut tx,
                        "INSERT INTO deployments (record_id, ts, service, environment, version, \
                     commit_sha, author, description) ",
                        8,
                        rows,
                        ids,
                        |mut b, r| {
                            b.push_bind(r.id.as_str())
                                .push_bind(r.timestamp)
                                .push_bind(r.service.as_str())
                                .push_bind(r.environment.as_str())
                                .push_bind(r.version.as_str())
                                .push_bind(r.commit_sha.as_ref().map(|c| c.as_str()))
                                .push_bind(r.author.as_deref())
                                .push_bind(r.description.as_deref());
                        },
                    )
                    .await?
                }
            };
        if let Some(records) = audit {
            let written = written.unwrap_or_default();
            let inserted = written.iter().map(String::as_str).collect();
            let rows = privacy::tally(&records, &inserted);
            add_audit(&mut tx, privacy::source(batch.kind()), &rows).await?;
        }
        tx.commit().await?;
        Ok(InsertOutcome {
            inserted,
            duplicates: batch.len() as u64 - inserted,
        })
    }

    async fn has_record(&self, kind: RecordKind, id: &str) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE record_id = $1)",
            Table::for_kind(kind).name()
        );
        Ok(sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn count(&self, table: Table) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        Ok(sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await?)
    }

    async fn request_samples(&self, window: Window) -> Result<Vec<RequestSample>, StoreError> {
        let rows: Vec<(Timestamp, String, String, f64, bool)> = sqlx::query_as(
            "SELECT ts, service, method || ' ' || route, duration_ms, status_code >= 500 \
             FROM performance_metrics WHERE ts >= $1 AND ts < $2 ORDER BY ts",
        )
        .bind(window.start)
        .bind(window.end)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(timestamp, service, route, duration_ms, is_error)| RequestSample {
                    timestamp,
                    service,
                    route,
                    duration_ms,
                    is_error,
                },
            )
            .collect())
    }

    async fn deployments(&self, window: Window) -> Result<Vec<DeployEvent>, StoreError> {
        type Row = (
            String,
            Timestamp,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT record_id, ts, service, environment, version, commit_sha, author, description \
             FROM deployments WHERE ts >= $1 AND ts < $2 ORDER BY ts, id",
        )
        .bind(window.start)
        .bind(window.end)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                DeployParts {
                    record_id: r.0,
                    ts: r.1,
                    service: r.2,
                    environment: r.3,
                    version: r.4,
                    commit_sha: r.5,
                    author: r.6,
                    description: r.7,
                }
                .into_event()
            })
            .collect()
    }

    async fn insert_ci(
        &self,
        batch: &crate::CiBatch,
        received: Timestamp,
    ) -> Result<InsertOutcome, StoreError> {
        diagnosis::insert_ci(self, batch, received).await
    }

    async fn ci_jobs(&self, window: Window) -> Result<Vec<tokpulse_core::CiJob>, StoreError> {
        diagnosis::ci_jobs(self, window).await
    }

    async fn pending_rollup_samples(
        &self,
        limit: i64,
    ) -> Result<Vec<crate::PendingSample>, StoreError> {
        diagnosis::pending_rollup_samples(self, limit).await
    }

    async fn commit_rollups(
        &self,
        ids: &[i64],
        rollups: &[crate::RollupWrite],
    ) -> Result<bool, StoreError> {
        diagnosis::commit_rollups(self, ids, rollups).await
    }

    async fn rollups(
        &self,
        resolution: &str,
        window: Window,
        route: Option<(&str, &str)>,
    ) -> Result<Vec<crate::RollupRow>, StoreError> {
        diagnosis::rollups(self, resolution, window, route).await
    }

    async fn error_logs(
        &self,
        window: Window,
        limit: i64,
    ) -> Result<Vec<crate::ErrorLog>, StoreError> {
        diagnosis::error_logs(self, window, limit).await
    }

    async fn detector_states(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        diagnosis::detector_states(self, prefix).await
    }

    async fn put_detector_states(
        &self,
        states: &[(String, Option<serde_json::Value>)],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        diagnosis::put_detector_states(self, states, now).await
    }

    async fn upsert_finding(
        &self,
        finding: &Finding,
        now: Timestamp,
    ) -> Result<FindingChange, StoreError> {
        let evidence = Json(&finding.evidence);
        let cause = finding.cause.as_ref().map(Json);
        let mut tx = self.pool.begin().await?;
        // If another transaction is inserting the same fingerprint, this waits for it and then
        // does nothing; the row is then visible to the next statement.
        let new_id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO findings (fingerprint, kind, severity, status, title, service, route, \
             window_start, window_end, evidence, cause, suggestion, first_seen, last_seen, \
             occurrences) \
             VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, 1) \
             ON CONFLICT (fingerprint) DO NOTHING RETURNING id",
        )
        .bind(finding.fingerprint.as_str())
        .bind(finding.kind.as_str())
        .bind(finding.severity.as_str())
        .bind(&finding.title)
        .bind(&finding.service)
        .bind(finding.route.as_deref())
        .bind(finding.window.start)
        .bind(finding.window.end)
        .bind(evidence)
        .bind(cause)
        .bind(&finding.suggestion)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = new_id {
            tx.commit().await?;
            return Ok(FindingChange::New { id });
        }
        let (id, status, occurrences): (i64, String, i64) = sqlx::query_as(
            "SELECT id, status, occurrences FROM findings WHERE fingerprint = $1 FOR UPDATE",
        )
        .bind(finding.fingerprint.as_str())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE findings SET severity = $1, title = $2, service = $3, route = $4, \
             window_start = $5, window_end = $6, evidence = $7, cause = $8, suggestion = $9, \
             last_seen = GREATEST(last_seen, $10), occurrences = occurrences + 1, \
             status = 'open', resolved_at = NULL \
             WHERE id = $11",
        )
        .bind(finding.severity.as_str())
        .bind(&finding.title)
        .bind(&finding.service)
        .bind(finding.route.as_deref())
        .bind(finding.window.start)
        .bind(finding.window.end)
        .bind(evidence)
        .bind(cause)
        .bind(&finding.suggestion)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let occurrences = occurrences + 1;
        Ok(if status == FindingStatus::Resolved.as_str() {
            FindingChange::Reopened { id, occurrences }
        } else {
            FindingChange::Updated { id, occurrences }
        })
    }

    async fn resolve_finding(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE findings SET status = 'resolved', resolved_at = $1 \
             WHERE id = $2 AND status = 'open'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn findings(
        &self,
        status: Option<FindingStatus>,
        limit: i64,
    ) -> Result<Vec<StoredFinding>, StoreError> {
        let sql = format!(
            "SELECT {FINDING_COLUMNS} FROM findings WHERE ($1::text IS NULL OR status = $1) \
             ORDER BY last_seen DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(status.map(FindingStatus::as_str))
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(finding_from_row).collect()
    }

    async fn enqueue_action(&self, action: &NewAction) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO actions (finding_id, sink, kind, idempotency_key, payload, status, \
             attempts, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        )
        .bind(action.finding_id)
        .bind(&action.sink)
        .bind(&action.kind)
        .bind(&action.idempotency_key)
        .bind(Json(&action.payload))
        .bind(action.created_at)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn due_actions(
        &self,
        sink: &str,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<ActionRow>, StoreError> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions \
             WHERE sink = $1 AND status = 'pending' AND next_attempt_at <= $2 \
             ORDER BY created_at, id LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(sink)
            .bind(now)
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(action_from_row).collect()
    }

    async fn claim_due_actions(
        &self,
        sink: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<ActionRow>, StoreError> {
        // SKIP LOCKED: a pass running at the same time on another replica takes other rows
        // instead of waiting for these.
        let sql = format!(
            "UPDATE actions SET next_attempt_at = $3 WHERE id IN ( \
               SELECT a.id FROM actions a \
               WHERE a.sink = $1 AND a.status = 'pending' AND a.next_attempt_at <= $2 \
                 AND NOT EXISTS (SELECT 1 FROM actions b \
                   WHERE b.sink = a.sink AND b.finding_id = a.finding_id \
                     AND b.status = 'pending' \
                     AND (b.created_at, b.id) < (a.created_at, a.id)) \
               ORDER BY a.created_at, a.id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING {ACTION_COLUMNS}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(sink)
            .bind(now)
            .bind(lease_until)
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
        let mut actions = rows
            .iter()
            .map(action_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        actions.sort_by_key(|a| (a.created_at, a.id));
        Ok(actions)
    }

    async fn release_action(&self, id: i64, due_at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE actions SET next_attempt_at = $1 WHERE id = $2 AND status = 'pending'")
            .bind(due_at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn actions(&self, limit: i64) -> Result<Vec<ActionRow>, StoreError> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions ORDER BY created_at DESC, id DESC LIMIT $1"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(action_from_row).collect()
    }

    async fn mark_action_delivered(
        &self,
        id: i64,
        at: Timestamp,
        external_ref: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE actions SET status = 'delivered', delivered_at = $1, external_ref = $2, \
             attempts = attempts + 1 WHERE id = $3",
        )
        .bind(at)
        .bind(external_ref)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                table: "actions",
                id,
            });
        }
        Ok(())
    }

    async fn mark_action_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        // A delivered action stays delivered; a late failure report only counts the attempt.
        let done = sqlx::query(
            "UPDATE actions SET attempts = attempts + 1, last_error = $1, \
             status = CASE WHEN status = 'delivered' THEN status \
                           WHEN $2::timestamptz IS NULL THEN 'parked' ELSE 'pending' END, \
             next_attempt_at = CASE WHEN status <> 'delivered' AND $2::timestamptz IS NOT NULL \
                                    THEN $2 ELSE next_attempt_at END \
             WHERE id = $3",
        )
        .bind(error)
        .bind(retry_at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                table: "actions",
                id,
            });
        }
        Ok(())
    }

    async fn retry_action(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE actions SET status = 'pending', attempts = 0, next_attempt_at = $1 \
             WHERE id = $2 AND status = 'parked'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_api_key(&self, key: &NewApiKey) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO api_keys (name, prefix, key_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.key_hash)
        .bind(key.role.as_str())
        .bind(key.created_at)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn authenticate(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ApiKeyRow>, StoreError> {
        // A read; `last_used_at` is stamped at most once a minute, not on every request.
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(mut key) = row.as_ref().map(api_key_from_row).transpose()? else {
            return Ok(None);
        };
        if crate::types::needs_stamp(key.last_used_at, now) {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, $1), $1) \
                 WHERE id = $2",
            )
            .bind(now)
            .bind(key.id)
            .execute(&self.pool)
            .await?;
            key.last_used_at = key.last_used_at.max(Some(now));
        }
        Ok(Some(key))
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_blocked(
        &self,
        kind: RecordKind,
        blocked: &[BlockedRecord],
    ) -> Result<u64, StoreError> {
        if blocked.is_empty() {
            return Ok(0);
        }
        let source = privacy::source(kind);
        let mut tx = self.pool.begin().await?;
        let mut sums: BTreeMap<(NaiveDate, Entity), i64> = BTreeMap::new();
        for b in blocked {
            let day = b.timestamp.date_naive();
            let done = sqlx::query(
                "INSERT INTO privacy_blocked (source, record_id, day, entity) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (source, record_id) DO NOTHING",
            )
            .bind(source)
            .bind(&b.record_id)
            .bind(day)
            .bind(b.entity.as_str())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                *sums.entry((day, b.entity)).or_default() += 1;
            }
        }
        let rows: Vec<_> = sums
            .iter()
            .map(|((day, e), n)| (*day, *e, AuditAction::Blocked, *n))
            .collect();
        add_audit(&mut tx, source, &rows).await?;
        tx.commit().await?;
        Ok(rows.iter().map(|r| r.3 as u64).sum())
    }

    async fn privacy_audit(&self, since: NaiveDate) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<(NaiveDate, String, String, String, i64)> = sqlx::query_as(
            "SELECT day, source, entity, action, count FROM privacy_audit WHERE day >= $1 \
             ORDER BY day, source, entity, action",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(day, source, entity, action, count)| AuditRow {
                day,
                source,
                entity,
                action,
                count,
            })
            .collect())
    }

    async fn forget_subject(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<ForgetOutcome, StoreError> {
        privacy::check_token(token)?;
        let mut tx = self.pool.begin().await?;
        let mut tables = Vec::with_capacity(SUBJECT_TABLES.len());
        for t in SUBJECT_TABLES {
            let name = t.table.name();
            let condition = token_condition(t);
            let mut outcome = TableOutcome {
                table: name.to_owned(),
                deleted: 0,
                anonymised: 0,
            };
            match t.fate {
                Fate::Delete => {
                    let sql = format!("DELETE FROM {name} WHERE {condition}");
                    outcome.deleted = sqlx::query(AssertSqlSafe(sql))
                        .bind(token)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                Fate::Anonymise => {
                    let set: Vec<String> = t
                        .searched
                        .iter()
                        .map(|c| {
                            if t.is_json(c) {
                                format!("{c} = replace({c}::text, $1, $2)::jsonb")
                            } else {
                                format!("{c} = replace({c}, $1, $2)")
                            }
                        })
                        .collect();
                    let sql = format!("UPDATE {name} SET {} WHERE {condition}", set.join(", "));
                    outcome.anonymised = sqlx::query(AssertSqlSafe(sql))
                        .bind(token)
                        .bind(FORGOTTEN)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
            }
            tables.push(outcome);
        }
        let outcome = ForgetOutcome { tables };
        let counts = serde_json::to_value(&outcome.tables).unwrap_or_default();
        record_request(&mut tx, RequestKind::Forget, token, &counts, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn export_subject(&self, token: &str, now: Timestamp) -> Result<SubjectRows, StoreError> {
        privacy::check_token(token)?;
        let mut out = SubjectRows::new();
        for t in SUBJECT_TABLES {
            let name = t.table.name();
            let sql = format!(
                "SELECT {} FROM {name} WHERE {} ORDER BY {}",
                json_row(t),
                token_condition(t),
                t.order_by
            );
            let rows: Vec<serde_json::Value> = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(token)
                .fetch_all(&self.pool)
                .await?;
            out.insert(name.to_owned(), rows);
        }
        let counts: serde_json::Map<String, serde_json::Value> = out
            .iter()
            .map(|(t, rows)| (t.clone(), serde_json::json!({ "exported": rows.len() })))
            .collect();
        let mut conn = self.pool.acquire().await?;
        record_request(
            &mut conn,
            RequestKind::Export,
            token,
            &serde_json::Value::Object(counts),
            now,
        )
        .await?;
        Ok(out)
    }

    async fn privacy_requests(&self, limit: i64) -> Result<Vec<PrivacyRequest>, StoreError> {
        let rows: Vec<(i64, String, String, serde_json::Value, Timestamp)> = sqlx::query_as(
            "SELECT id, kind, token, counts, at FROM privacy_requests \
             ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, kind, token, counts, at)| {
                Ok(PrivacyRequest {
                    id,
                    kind: RequestKind::parse(&kind)?,
                    token,
                    counts,
                    at,
                })
            })
            .collect()
    }

    async fn count_older_than(&self, table: Table, cutoff: Timestamp) -> Result<u64, StoreError> {
        let Some((column, extra)) = privacy::retention_rule(table) else {
            return Ok(0);
        };
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {column} < $1 AND ({extra})",
            table.name()
        );
        let q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql));
        let n = if column == "day" {
            q.bind(cutoff.date_naive()).fetch_one(&self.pool).await?
        } else {
            q.bind(cutoff).fetch_one(&self.pool).await?
        };
        Ok(n.max(0) as u64)
    }

    async fn delete_older_than(
        &self,
        table: Table,
        cutoff: Timestamp,
        limit: u64,
    ) -> Result<u64, StoreError> {
        let Some((column, extra)) = privacy::retention_rule(table) else {
            return Ok(0);
        };
        let name = table.name();
        let sql = format!(
            "DELETE FROM {name} WHERE ctid IN \
             (SELECT ctid FROM {name} WHERE {column} < $1 AND ({extra}) LIMIT $2)"
        );
        let q = sqlx::query(AssertSqlSafe(sql));
        let q = if column == "day" {
            q.bind(cutoff.date_naive())
        } else {
            q.bind(cutoff)
        };
        let done = q
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn ai_usage_each(
        &self,
        window: Window,
        each: &mut (dyn FnMut(tokpulse_core::AiUsageRecord) + Send),
    ) -> Result<(), StoreError> {
        self.cost_ai_usage_each(window, each).await
    }

    async fn pending_ai_usage(&self, limit: i64) -> Result<Vec<crate::PendingAiUsage>, StoreError> {
        self.cost_pending_ai_usage(limit).await
    }

    async fn commit_ai_usage_daily(
        &self,
        ids: &[i64],
        days: &[crate::AiUsageDay],
    ) -> Result<bool, StoreError> {
        self.cost_commit_ai_usage_daily(ids, days).await
    }

    async fn ai_usage_daily(
        &self,
        from: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<crate::AiUsageDay>, StoreError> {
        self.cost_ai_usage_daily(from, until).await
    }

    async fn insert_infra_usage(
        &self,
        records: &[tokpulse_core::InfraUsageRecord],
        now: Timestamp,
    ) -> Result<InsertOutcome, StoreError> {
        self.cost_insert_infra(records, now).await
    }

    async fn infra_usage(
        &self,
        window: Window,
    ) -> Result<Vec<tokpulse_core::InfraUsageRecord>, StoreError> {
        self.cost_infra_usage(window).await
    }

    async fn insert_cost_prediction(&self, p: &crate::CostPrediction) -> Result<i64, StoreError> {
        self.cost_insert_prediction(p).await
    }

    async fn cost_predictions(
        &self,
        limit: i64,
    ) -> Result<Vec<crate::StoredCostPrediction>, StoreError> {
        self.cost_predictions_latest(limit).await
    }

    async fn claim_job_run(&self, claim: &crate::JobClaim<'_>) -> Result<Option<i64>, StoreError> {
        self.jobs_claim(claim).await
    }

    async fn finish_job_run(
        &self,
        id: i64,
        owner: &str,
        finished_at: Timestamp,
        status: crate::JobStatus,
        error: Option<&str>,
        summary: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.jobs_finish(id, owner, finished_at, status, error, summary)
            .await
    }

    async fn job_runs(
        &self,
        job: Option<&str>,
        limit: i64,
    ) -> Result<Vec<crate::JobRunRow>, StoreError> {
        self.jobs_list(job, limit).await
    }

    async fn record_webhook_delivery(
        &self,
        source: &str,
        delivery_id: &str,
        event: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.deliveries_record(source, delivery_id, event, now)
            .await
    }

    async fn forget_webhook_delivery(
        &self,
        source: &str,
        delivery_id: &str,
    ) -> Result<(), StoreError> {
        self.deliveries_forget(source, delivery_id).await
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connection_errors_never_show_the_password() {
        // Nothing listens on port 1.
        let err = PgStore::connect("postgres://app:hunter2-s3cret@127.0.0.1:1/tp", 1)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(msg.contains("postgres://app@127.0.0.1:1/tp"), "{msg}");
        let err = PgStore::connect("postgres://app:hunter2@127.0.0.1:notaport/tp", 1)
            .await
            .unwrap_err();
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }
}
