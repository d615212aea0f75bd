//! Job runs and webhook deliveries on PostgreSQL (the unique key decides between replicas).

use super::PgStore;
use crate::jobs::cut;
use crate::{JobClaim, JobRunRow, JobStatus, StoreError};
use sqlx::Row;
use tokpulse_core::Timestamp;

const T: &str = "job_runs";

impl PgStore {
    pub(super) async fn jobs_claim(&self, c: &JobClaim<'_>) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "INSERT INTO job_runs (job, scheduled_for, cause, owner, started_at, lease_until, \
             status) VALUES ($1, $2, $3, $4, $5, $6, 'running') \
             ON CONFLICT (job, scheduled_for) DO UPDATE SET owner = excluded.owner, \
             cause = excluded.cause, started_at = excluded.started_at, \
             lease_until = excluded.lease_until \
             WHERE job_runs.status = 'running' AND job_runs.lease_until < excluded.started_at \
             RETURNING id",
        )
        .bind(c.job)
        .bind(c.scheduled_for)
        .bind(c.trigger.as_str())
        .bind(c.owner)
        .bind(c.now)
        .bind(c.lease_until)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    pub(super) async fn jobs_finish(
        &self,
        id: i64,
        owner: &str,
        finished_at: Timestamp,
        status: JobStatus,
        error: Option<&str>,
        summary: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE job_runs SET finished_at = $1, status = $2, error = $3, summary = $4 \
             WHERE id = $5 AND owner = $6 AND status = 'running'",
        )
        .bind(finished_at)
        .bind(status.as_str())
        .bind(error.map(cut))
        .bind(summary.map(cut))
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn jobs_list(
        &self,
        job: Option<&str>,
        limit: i64,
    ) -> Result<Vec<JobRunRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, job, scheduled_for, cause, owner, started_at, lease_until, finished_at, \
             status, error, summary FROM job_runs WHERE ($1::text IS NULL OR job = $1) \
             ORDER BY scheduled_for DESC, id DESC LIMIT $2",
        )
        .bind(job)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobRunRow {
                    id: r.try_get("id")?,
                    job: r.try_get("job")?,
                    scheduled_for: r.try_get("scheduled_for")?,
                    trigger: r.try_get("cause")?,
                    owner: r.try_get("owner")?,
                    started_at: r.try_get("started_at")?,
                    lease_until: r.try_get("lease_until")?,
                    finished_at: r.try_get("finished_at")?,
                    status: JobStatus::parse(T, r.try_get::<&str, _>("status")?)?,
                    error: r.try_get("error")?,
                    summary: r.try_get("summary")?,
                })
            })
            .collect()
    }

    pub(super) async fn deliveries_record(
        &self,
        source: &str,
        delivery_id: &str,
        event: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO webhook_deliveries (source, delivery_id, event, received_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (source, delivery_id) DO NOTHING",
        )
        .bind(source)
        .bind(delivery_id)
        .bind(event)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn deliveries_forget(
        &self,
        source: &str,
        delivery_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webhook_deliveries WHERE source = $1 AND delivery_id = $2")
            .bind(source)
            .bind(delivery_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
