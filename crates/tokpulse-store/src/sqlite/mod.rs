//! The embedded backend: one SQLite file in WAL mode.
//!
//! SQLite has a single writer. Every write goes through [`SqliteStore::pool`], a pool of exactly
//! one connection, and takes the write lock when its transaction starts (`BEGIN IMMEDIATE`), so
//! concurrent requests queue in the pool instead of failing with `SQLITE_BUSY`. Reads go through
//! a separate pool of [`READERS`] connections, which WAL lets run beside the writer. The busy
//! timeout only matters when another process (a second `tokpulse` command) writes the same file.
//!
//! Timestamps are stored as unix milliseconds, so sub-millisecond precision is dropped.

mod cost;

use crate::convert::{
    self, DeployParts, FindingParts, from_ms, from_ms_opt, json_from_str, to_json, to_ms,
};
use crate::privacy::{self, Col, Fate, SUBJECT_TABLES, SubjectTable};
use crate::{
    ActionRow, ApiKeyRow, AuditRow, Backend, Batch, BlockedRecord, FORGOTTEN, FindingChange,
    ForgetOutcome, InsertOutcome, NewAction, NewApiKey, PrivacyRequest, RequestKind, Store,
    StoreError, SubjectRows, Table, TableOutcome,
};
use async_trait::async_trait;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokpulse_core::{
    DeployEvent, Finding, FindingStatus, Platform, RecordKind, RequestSample, StoredFinding,
    Timestamp, Window,
};
use tokpulse_guard::{AuditAction, Entity};

mod diagnosis;
mod jobs;

/// Connections in the read pool.
pub const READERS: u32 = 4;

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request waits for the writer connection. Generous: under a burst of ingest every
/// writer queues here, and waiting is better than refusing a batch.
const WRITER_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);

/// SQLite's limit on bound parameters per statement (`SQLITE_MAX_VARIABLE_NUMBER`, 32766 since
/// 3.32).
const MAX_PARAMS: usize = 32_766;

/// Rows per INSERT statement, whatever the column count: past a few hundred rows longer
/// statements stop paying for themselves.
const MAX_ROWS_PER_STATEMENT: usize = 1_000;

/// TokPulse's data in one SQLite file, `<data_dir>/tokpulse.db`.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// The database file's name inside the data directory.
    pub const FILE_NAME: &'static str = "tokpulse.db";

    /// Opens (creating it and `data_dir` if missing) `data_dir/tokpulse.db`: WAL journal,
    /// `synchronous=NORMAL` (a committed transaction survives the process being killed; only a
    /// power loss can take the last ones back), foreign keys on. Does not migrate: call
    /// [`Store::migrate`].
    pub async fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        let path = data_dir.join(Self::FILE_NAME);
        let open_err = |source: sqlx::Error| StoreError::Open {
            target: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(|e| open_err(sqlx::Error::Io(e)))?;
        let base = SqliteConnectOptions::new()
            .filename(&path)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal);
        // The writer opens first: it creates the file and switches it to WAL (a persistent
        // setting), so the readers find it ready.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(WRITER_ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(
                base.clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .optimize_on_close(true, 400),
            )
            .await
            .map_err(open_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .min_connections(0)
            .test_before_acquire(false)
            .connect_with(base.pragma("query_only", "ON"))
            .await
            .map_err(open_err)?;
        Ok(SqliteStore {
            path,
            writer,
            reader,
        })
    }

    /// The pool every write goes through: one connection, SQLite's single writer. Writing
    /// through another connection to the same file works but waits on this one's lock.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// The pool reads go through (read-only connections).
    pub fn read_pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        // IMMEDIATE takes the write lock now, so the transaction never has to upgrade a read
        // lock later (which fails with SQLITE_BUSY instead of waiting).
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Inserts `rows` with multi-row `INSERT … ON CONFLICT (record_id) DO NOTHING` statements of
/// up to [`MAX_ROWS_PER_STATEMENT`] rows; returns how many were written.
async fn insert_rows<T, F>(
    conn: &mut SqliteConnection,
    head: &'static str,
    columns: usize,
    rows: &[T],
    mut push: F,
) -> Result<u64, StoreError>
where
    F: FnMut(Separated<'_, Sqlite, &'static str>, &T),
{
    let per_statement = (MAX_PARAMS / columns).min(MAX_ROWS_PER_STATEMENT);
    let mut inserted = 0;
    let mut qb = QueryBuilder::<Sqlite>::new(head);
    for chunk in rows.chunks(per_statement) {
        qb.reset();
        qb.push_values(chunk, &mut push);
        qb.push(" ON CONFLICT (record_id) DO NOTHING");
        inserted += qb.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}

/// The ids among `ids` not yet stored in `table`.
async fn new_ids<'a>(
    conn: &mut SqliteConnection,
    table: &str,
    ids: Vec<&'a str>,
) -> Result<std::collections::HashSet<&'a str>, StoreError> {
    let mut new: std::collections::HashSet<&str> = ids.iter().copied().collect();
    let mut qb = QueryBuilder::<Sqlite>::new("");
    for chunk in ids.chunks(MAX_PARAMS) {
        qb.reset();
        qb.push(format_args!(
            "SELECT record_id FROM {table} WHERE record_id IN ("
        ));
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        qb.push(")");
        let stored: Vec<String> = qb.build_query_scalar().fetch_all(&mut *conn).await?;
        for id in &stored {
            new.remove(id.as_str());
        }
    }
    Ok(new)
}

/// Adds `rows` (day, entity, action, count) of `source` to the privacy audit.
async fn add_audit(
    conn: &mut SqliteConnection,
    source: &str,
    rows: &[(chrono::NaiveDate, Entity, AuditAction, i64)],
) -> Result<(), StoreError> {
    let mut qb = QueryBuilder::<Sqlite>::new(
        "INSERT INTO privacy_audit (day, source, entity, action, count) ",
    );
    for chunk in rows.chunks(MAX_ROWS_PER_STATEMENT) {
        qb.reset();
        qb.push_values(chunk, |mut b, (day, entity, action, count)| {
            b.push_bind(day_text(*day))
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

/// In `tx`, marks the rows `ids` of `table` (`performance_metrics`, `ai_usage_metrics`) rolled
/// up. `false` if one of them was already rolled up or is gone (another writer got there
/// first): the caller then drops the transaction, which rolls it back.
async fn mark_rolled_up(
    tx: &mut SqliteConnection,
    table: &'static str,
    ids: &[i64],
) -> Result<bool, StoreError> {
    let mut qb = QueryBuilder::<Sqlite>::new("");
    for chunk in ids.chunks(MAX_PARAMS) {
        qb.reset();
        qb.push(format!(
            "UPDATE {table} SET rolled_up = 1 WHERE rolled_up = 0 AND id IN ("
        ));
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        qb.push(")");
        if qb.build().execute(&mut *tx).await?.rows_affected() != chunk.len() as u64 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A day as SQLite stores it: `YYYY-MM-DD`.
fn day_text(day: chrono::NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The value retention compares `column` with: a day for the audit tables, else unix ms.
fn cutoff_value(column: &str, cutoff: Timestamp) -> Either {
    if column == "day" {
        Either::Text(day_text(cutoff.date_naive()))
    } else {
        Either::Int(to_ms(cutoff))
    }
}

enum Either {
    Text(String),
    Int(i64),
}

fn bind_cutoff<'q>(
    q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    v: Either,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    match v {
        Either::Text(s) => q.bind(s),
        Either::Int(i) => q.bind(i),
    }
}

/// `instr(c1, ?1) > 0 OR …` over the columns searched for a token.
fn token_condition(t: &SubjectTable) -> String {
    t.searched
        .iter()
        .map(|c| format!("instr({c}, ?1) > 0"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// `json_object('id', id, …)` of every exported column.
fn json_row(t: &SubjectTable) -> String {
    let fields: Vec<String> = t
        .columns
        .iter()
        .map(|(c, kind)| {
            let expr = match kind {
                // Days are stored as `YYYY-MM-DD` text already.
                Col::Plain | Col::Date => c.to_string(),
                Col::Time => format!("strftime('%Y-%m-%dT%H:%M:%fZ', {c} / 1000.0, 'unixepoch')"),
                Col::Json => format!("json({c})"),
                Col::Bool => format!("json(CASE WHEN {c} THEN 'true' ELSE 'false' END)"),
            };
            format!("'{c}', {expr}")
        })
        .collect();
    format!("json_object({})", fields.join(", "))
}

async fn record_request(
    conn: &mut SqliteConnection,
    kind: RequestKind,
    token: &str,
    counts: &serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO privacy_requests (kind, token, counts, at) VALUES (?1, ?2, ?3, ?4)")
        .bind(kind.as_str())
        .bind(token)
        .bind(to_json(counts))
        .bind(to_ms(now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Attributes as JSON text; the common empty map costs nothing.
fn attributes(a: &tokpulse_core::Attributes) -> Cow<'static, str> {
    if a.is_empty() {
        Cow::Borrowed("{}")
    } else {
        Cow::Owned(to_json(a))
    }
}

const FINDING_COLUMNS: &str = "id, fingerprint, kind, severity, status, title, service, route, \
     window_start, window_end, evidence, cause, suggestion, first_seen, last_seen, occurrences, \
     resolved_at";

fn finding_from_row(row: &SqliteRow) -> Result<StoredFinding, StoreError> {
    const T: &str = "findings";
    let cause: Option<String> = row.try_get("cause")?;
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
            start: from_ms(T, row.try_get("window_start")?)?,
            end: from_ms(T, row.try_get("window_end")?)?,
        },
        evidence: json_from_str(T, "evidence", row.try_get("evidence")?)?,
        cause: cause.map(|c| json_from_str(T, "cause", &c)).transpose()?,
        suggestion: row.try_get("suggestion")?,
        first_seen: from_ms(T, row.try_get("first_seen")?)?,
        last_seen: from_ms(T, row.try_get("last_seen")?)?,
        occurrences: row.try_get("occurrences")?,
        resolved_at: from_ms_opt(T, row.try_get("resolved_at")?)?,
    }
    .into_stored()
}

const ACTION_COLUMNS: &str = "id, finding_id, sink, kind, idempotency_key, payload, status, \
     attempts, last_error, created_at, next_attempt_at, delivered_at, external_ref";

fn action_from_row(row: &SqliteRow) -> Result<ActionRow, StoreError> {
    const T: &str = "actions";
    Ok(ActionRow {
        id: row.try_get("id")?,
        finding_id: row.try_get("finding_id")?,
        sink: row.try_get("sink")?,
        kind: row.try_get("kind")?,
        idempotency_key: row.try_get("idempotency_key")?,
        payload: json_from_str(T, "payload", row.try_get("payload")?)?,
        status: convert::action_status(row.try_get("status")?)?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: from_ms(T, row.try_get("created_at")?)?,
        next_attempt_at: from_ms(T, row.try_get("next_attempt_at")?)?,
        delivered_at: from_ms_opt(T, row.try_get("delivered_at")?)?,
        external_ref: row.try_get("external_ref")?,
    })
}

const API_KEY_COLUMNS: &str = "id, name, prefix, role, created_at, last_used_at, revoked_at";

fn api_key_from_row(row: &SqliteRow) -> Result<ApiKeyRow, StoreError> {
    const T: &str = "api_keys";
    Ok(ApiKeyRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        role: convert::role(row.try_get("role")?)?,
        created_at: from_ms(T, row.try_get("created_at")?)?,
        last_used_at: from_ms_opt(T, row.try_get("last_used_at")?)?,
        revoked_at: from_ms_opt(T, row.try_get("revoked_at")?)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let conn = self.writer.acquire().await?;
        crate::migrations::run(conn, &crate::migrations::SQLITE_MIGRATOR).await
    }

    async fn insert_batch(&self, batch: &Batch) -> Result<InsertOutcome, StoreError> {
        if batch.is_empty() {
            return Ok(InsertOutcome::default());
        }
        let audit = privacy::batch_audit(batch);
        let table = Table::for_kind(batch.kind()).name();
        let mut tx = self.begin_write().await?;
        // Which audited records are new: looked up before the insert, under the write lock
        // (cheaper than RETURNING every id; only records with something to count are looked up).
        let new_ids = match &audit {
            Some(records) => Some(new_ids(&mut tx, table, privacy::audited_ids(records)).await?),
            None => None,
        };
        let inserted =
            match batch {
                Batch::Performance(rows) => {
                    insert_rows(
                        &mut tx,
                        "INSERT INTO performance_metrics (record_id, ts, service, method, route, \
                     status_code, duration_ms, environment, platform, attributes) ",
                        10,
                        rows,
                        |mut b, r| {
                            b.push_bind(r.id.as_str())
                                .push_bind(to_ms(r.timestamp))
                                .push_bind(r.service.as_str())
                                .push_bind(r.method.as_str())
                                .push_bind(r.route.as_str())
                                .push_bind(i32::from(r.status_code))
                                .push_bind(r.duration_ms)
                                .push_bind(r.environment.as_str())
                                .push_bind(r.platform.map(Platform::as_str))
                                .push_bind(attributes(&r.attributes));
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
                        |mut b, r| {
                            b.push_bind(r.id.as_str())
                                .push_bind(to_ms(r.timestamp))
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
                                .push_bind(attributes(&r.attributes));
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
                    |mut b, r| {
                        b.push_bind(r.id.as_str())
                            .push_bind(to_ms(r.timestamp))
                            .push_bind(r.service.as_str())
                            .push_bind(r.level.as_str())
                            .push_bind(r.message.as_str())
                            .push_bind(r.route.as_deref())
                            .push_bind(r.trace_id.as_ref().map(|t| t.as_str()))
                            .push_bind(attributes(&r.attributes));
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
                        |mut b, r| {
                            b.push_bind(r.id.as_str())
                                .push_bind(to_ms(r.timestamp))
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
        if let (Some(records), Some(new_ids)) = (audit, new_ids) {
            let rows = privacy::tally(&records, &new_ids);
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
            "SELECT EXISTS (SELECT 1 FROM {} WHERE record_id = ?1)",
            Table::for_kind(kind).name()
        );
        Ok(sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn count(&self, table: Table) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        Ok(sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&self.reader)
            .await?)
    }

    async fn request_samples(&self, window: Window) -> Result<Vec<RequestSample>, StoreError> {
        let rows: Vec<(i64, String, String, f64, bool)> = sqlx::query_as(
            "SELECT ts, service, method || ' ' || route, duration_ms, status_code >= 500 \
             FROM performance_metrics WHERE ts >= ?1 AND ts < ?2 ORDER BY ts",
        )
        .bind(to_ms(window.start))
        .bind(to_ms(window.end))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|(ts, service, route, duration_ms, is_error)| {
                Ok(RequestSample {
                    timestamp: from_ms("performance_metrics", ts)?,
                    service,
                    route,
                    duration_ms,
                    is_error,
                })
            })
            .collect()
    }

    async fn deployments(&self, window: Window) -> Result<Vec<DeployEvent>, StoreError> {
        type Row = (
            String,
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT record_id, ts, service, environment, version, commit_sha, author, description \
             FROM deployments WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, id",
        )
        .bind(to_ms(window.start))
        .bind(to_ms(window.end))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|r| {
                DeployParts {
                    record_id: r.0,
                    ts: from_ms("deployments", r.1)?,
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
        let evidence = to_json(&finding.evidence);
        let cause = finding.cause.as_ref().map(to_json);
        let mut tx = self.begin_write().await?;
        let existing: Option<(i64, String, i64)> =
            sqlx::query_as("SELECT id, status, occurrences FROM findings WHERE fingerprint = ?1")
                .bind(finding.fingerprint.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let change = match existing {
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO findings (fingerprint, kind, severity, status, title, service, \
                     route, window_start, window_end, evidence, cause, suggestion, first_seen, \
                     last_seen, occurrences) \
                     VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, 1) \
                     RETURNING id",
                )
                .bind(finding.fingerprint.as_str())
                .bind(finding.kind.as_str())
                .bind(finding.severity.as_str())
                .bind(&finding.title)
                .bind(&finding.service)
                .bind(finding.route.as_deref())
                .bind(to_ms(finding.window.start))
                .bind(to_ms(finding.window.end))
                .bind(&evidence)
                .bind(cause.as_deref())
                .bind(&finding.suggestion)
                .bind(to_ms(now))
                .fetch_one(&mut *tx)
                .await?;
                FindingChange::New { id }
            }
            Some((id, status, occurrences)) => {
                sqlx::query(
                    "UPDATE findings SET severity = ?1, title = ?2, service = ?3, route = ?4, \
                     window_start = ?5, window_end = ?6, evidence = ?7, cause = ?8, \
                     suggestion = ?9, last_seen = MAX(last_seen, ?10), \
                     occurrences = occurrences + 1, status = 'open', resolved_at = NULL \
                     WHERE id = ?11",
                )
                .bind(finding.severity.as_str())
                .bind(&finding.title)
                .bind(&finding.service)
                .bind(finding.route.as_deref())
                .bind(to_ms(finding.window.start))
                .bind(to_ms(finding.window.end))
                .bind(&evidence)
                .bind(cause.as_deref())
                .bind(&finding.suggestion)
                .bind(to_ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let occurrences = occurrences + 1;
                if status == FindingStatus::Resolved.as_str() {
                    FindingChange::Reopened { id, occurrences }
                } else {
                    FindingChange::Updated { id, occurrences }
                }
            }
        };
        tx.commit().await?;
        Ok(change)
    }

    async fn resolve_finding(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE findings SET status = 'resolved', resolved_at = ?1 \
             WHERE id = ?2 AND status = 'open'",
        )
        .bind(to_ms(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn findings(
        &self,
        status: Option<FindingStatus>,
        limit: i64,
    ) -> Result<Vec<StoredFinding>, StoreError> {
        let sql = format!(
            "SELECT {FINDING_COLUMNS} FROM findings WHERE (?1 IS NULL OR status = ?1) \
             ORDER BY last_seen DESC, id DESC LIMIT ?2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(status.map(FindingStatus::as_str))
            .bind(limit.max(0))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(finding_from_row).collect()
    }

    async fn enqueue_action(&self, action: &NewAction) -> Result<Option<i64>, StoreError> {
        let created = to_ms(action.created_at);
        Ok(sqlx::query_scalar(
            "INSERT INTO actions (finding_id, sink, kind, idempotency_key, payload, status, \
             attempts, created_at, next_attempt_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        )
        .bind(action.finding_id)
        .bind(&action.sink)
        .bind(&action.kind)
        .bind(&action.idempotency_key)
        .bind(to_json(&action.payload))
        .bind(created)
        .fetch_optional(&self.writer)
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
             WHERE sink = ?1 AND status = 'pending' AND next_attempt_at <= ?2 \
             ORDER BY created_at, id LIMIT ?3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(sink)
            .bind(to_ms(now))
            .bind(limit.max(0))
            .fetch_all(&self.reader)
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
        // One statement on the single writer: two passes at once get disjoint rows.
        let sql = format!(
            "UPDATE actions SET next_attempt_at = ?3 WHERE id IN ( \
               SELECT a.id FROM actions a \
               WHERE a.sink = ?1 AND a.status = 'pending' AND a.next_attempt_at <= ?2 \
                 AND NOT EXISTS (SELECT 1 FROM actions b \
                   WHERE b.sink = a.sink AND b.finding_id = a.finding_id \
                     AND b.status = 'pending' \
                     AND (b.created_at < a.created_at \
                          OR (b.created_at = a.created_at AND b.id < a.id))) \
               ORDER BY a.created_at, a.id LIMIT ?4) \
             RETURNING {ACTION_COLUMNS}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(sink)
            .bind(to_ms(now))
            .bind(to_ms(lease_until))
            .bind(limit.max(0))
            .fetch_all(&self.writer)
            .await?;
        let mut actions = rows
            .iter()
            .map(action_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        actions.sort_by_key(|a| (a.created_at, a.id));
        Ok(actions)
    }

    async fn release_action(&self, id: i64, due_at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE actions SET next_attempt_at = ?1 WHERE id = ?2 AND status = 'pending'")
            .bind(to_ms(due_at))
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn actions(&self, limit: i64) -> Result<Vec<ActionRow>, StoreError> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions ORDER BY created_at DESC, id DESC LIMIT ?1"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(limit.max(0))
            .fetch_all(&self.reader)
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
            "UPDATE actions SET status = 'delivered', delivered_at = ?1, external_ref = ?2, \
             attempts = attempts + 1 WHERE id = ?3",
        )
        .bind(to_ms(at))
        .bind(external_ref)
        .bind(id)
        .execute(&self.writer)
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
            "UPDATE actions SET attempts = attempts + 1, last_error = ?1, \
             status = CASE WHEN status = 'delivered' THEN status \
                           WHEN ?2 IS NULL THEN 'parked' ELSE 'pending' END, \
             next_attempt_at = CASE WHEN status <> 'delivered' AND ?2 IS NOT NULL \
                                    THEN ?2 ELSE next_attempt_at END \
             WHERE id = ?3",
        )
        .bind(error)
        .bind(retry_at.map(to_ms))
        .bind(id)
        .execute(&self.writer)
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
            "UPDATE actions SET status = 'pending', attempts = 0, next_attempt_at = ?1 \
             WHERE id = ?2 AND status = 'parked'",
        )
        .bind(to_ms(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_api_key(&self, key: &NewApiKey) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO api_keys (name, prefix, key_hash, role, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.key_hash)
        .bind(key.role.as_str())
        .bind(to_ms(key.created_at))
        .fetch_one(&self.writer)
        .await?)
    }

    async fn authenticate(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ApiKeyRow>, StoreError> {
        // A read on the reader pool: authenticating a request must not queue behind batch
        // writes on the single writer. `last_used_at` is stamped at most once a minute.
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(&self.reader)
            .await?;
        let Some(mut key) = row.as_ref().map(api_key_from_row).transpose()? else {
            return Ok(None);
        };
        if crate::types::needs_stamp(key.last_used_at, now) {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, ?1), ?1) \
                 WHERE id = ?2",
            )
            .bind(to_ms(now))
            .bind(key.id)
            .execute(&self.writer)
            .await?;
            key.last_used_at = key.last_used_at.max(Some(now));
        }
        Ok(Some(key))
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")
                .bind(to_ms(now))
                .bind(id)
                .execute(&self.writer)
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
        let mut tx = self.begin_write().await?;
        let mut sums: BTreeMap<(chrono::NaiveDate, Entity), i64> = BTreeMap::new();
        for b in blocked {
            let day = b.timestamp.date_naive();
            let done = sqlx::query(
                "INSERT INTO privacy_blocked (source, record_id, day, entity) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (source, record_id) DO NOTHING",
            )
            .bind(source)
            .bind(&b.record_id)
            .bind(day_text(day))
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

    async fn privacy_audit(&self, since: chrono::NaiveDate) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT day, source, entity, action, count FROM privacy_audit WHERE day >= ?1 \
             ORDER BY day, source, entity, action",
        )
        .bind(day_text(since))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|(day, source, entity, action, count)| {
                let day = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| {
                    StoreError::Corrupt {
                        table: "privacy_audit",
                        reason: format!("day {day:?}: {e}"),
                    }
                })?;
                Ok(AuditRow {
                    day,
                    source,
                    entity,
                    action,
                    count,
                })
            })
            .collect()
    }

    async fn forget_subject(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<ForgetOutcome, StoreError> {
        privacy::check_token(token)?;
        let mut tx = self.begin_write().await?;
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
                        .map(|c| format!("{c} = replace({c}, ?1, ?2)"))
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
            let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(token)
                .fetch_all(&self.reader)
                .await?;
            let rows = rows
                .iter()
                .map(|r| json_from_str(name, "row", r))
                .collect::<Result<Vec<serde_json::Value>, _>>()?;
            out.insert(name.to_owned(), rows);
        }
        let counts: serde_json::Map<String, serde_json::Value> = out
            .iter()
            .map(|(t, rows)| (t.clone(), serde_json::json!({ "exported": rows.len() })))
            .collect();
        let mut conn = self.writer.acquire().await?;
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
        const T: &str = "privacy_requests";
        let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, kind, token, counts, at FROM privacy_requests \
             ORDER BY at DESC, id DESC LIMIT ?1",
        )
        .bind(limit.max(0))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|(id, kind, token, counts, at)| {
                Ok(PrivacyRequest {
                    id,
                    kind: RequestKind::parse(&kind)?,
                    token,
                    counts: json_from_str(T, "counts", &counts)?,
                    at: from_ms(T, at)?,
                })
            })
            .collect()
    }

    async fn count_older_than(&self, table: Table, cutoff: Timestamp) -> Result<u64, StoreError> {
        let Some((column, extra)) = privacy::retention_rule(table) else {
            return Ok(0);
        };
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {column} < ?1 AND ({extra})",
            table.name()
        );
        let n: i64 = match cutoff_value(column, cutoff) {
            Either::Text(v) => {
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .bind(v)
                    .fetch_one(&self.reader)
                    .await?
            }
            Either::Int(v) => {
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .bind(v)
                    .fetch_one(&self.reader)
                    .await?
            }
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
        // A WITHOUT ROWID table is chunked by its primary key instead.
        let key = match table {
            Table::RequestRollups => "(resolution, bucket_start, service, route)",
            Table::AiUsageDaily => "(day, service, feature, model, route)",
            _ => "rowid",
        };
        let columns = key.trim_matches(['(', ')']);
        let sql = format!(
            "DELETE FROM {name} WHERE {key} IN \
             (SELECT {columns} FROM {name} WHERE {column} < ?1 AND ({extra}) LIMIT ?2)"
        );
        let q = bind_cutoff(
            sqlx::query(AssertSqlSafe(sql)),
            cutoff_value(column, cutoff),
        );
        let done = q
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .execute(&self.writer)
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
        from: chrono::NaiveDate,
        until: chrono::NaiveDate,
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
        self.reader.close().await;
        // The writer closes last: closing the last connection checkpoints the WAL into the
        // database file.
        self.writer.close().await;
    }
}
