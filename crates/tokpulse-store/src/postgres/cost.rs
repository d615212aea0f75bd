//! Cost tracking on PostgreSQL: AI usage read back, infrastructure usage, cost predictions.

use super::{MAX_PARAMS, MAX_ROWS_PER_STATEMENT, PgStore, insert_rows, mark_rolled_up};
use crate::cost::{
    AI_COLUMNS, AiUsageParts, DAILY_ADD, DAILY_COUNTS, DAILY_INSERT, InfraParts, merge_days,
};
use crate::{
    AiUsageDay, CostPrediction, InsertOutcome, PendingAiUsage, StoreError, StoredCostPrediction,
};
use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Row};
use tokpulse_core::{AiUsageRecord, InfraUsageRecord, Timestamp, Window};

/// An `ai_usage_metrics` row read with [`AI_COLUMNS`].
fn ai_usage_record(r: &PgRow) -> Result<AiUsageRecord, StoreError> {
    AiUsageParts {
        record_id: r.try_get("record_id")?,
        ts: r.try_get("ts")?,
        service: r.try_get("service")?,
        feature: r.try_get("feature")?,
        provider: r.try_get("provider")?,
        model: r.try_get("model")?,
        prompt_tokens: r.try_get("prompt_tokens")?,
        completion_tokens: r.try_get("completion_tokens")?,
        latency_ms: r.try_get("latency_ms")?,
        success: r.try_get("success")?,
        error_message: r.try_get("error_message")?,
        cost_usd: r.try_get("cost_usd")?,
        attributes: r.try_get::<Json<_>, _>("attributes")?.0,
    }
    .into_record()
}

impl PgStore {
    pub(super) async fn cost_ai_usage_each(
        &self,
        window: Window,
        each: &mut (dyn FnMut(AiUsageRecord) + Send),
    ) -> Result<(), StoreError> {
        let mut rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AI_COLUMNS} FROM ai_usage_metrics WHERE ts >= $1 AND ts < $2 ORDER BY ts, id"
        )))
        .bind(window.start)
        .bind(window.end)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            each(ai_usage_record(&row)?);
        }
        Ok(())
    }

    pub(super) async fn cost_pending_ai_usage(
        &self,
        limit: i64,
    ) -> Result<Vec<PendingAiUsage>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, {AI_COLUMNS} FROM ai_usage_metrics WHERE NOT rolled_up ORDER BY id \
             LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingAiUsage {
                    id: r.try_get("id")?,
                    record: ai_usage_record(r)?,
                })
            })
            .collect()
    }

    pub(super) async fn cost_commit_ai_usage_daily(
        &self,
        ids: &[i64],
        days: &[AiUsageDay],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !mark_rolled_up(&mut tx, "ai_usage_metrics", ids).await? {
            return Ok(false);
        }
        let rows = merge_days(days);
        let mut qb = QueryBuilder::<Postgres>::new(DAILY_INSERT);
        for chunk in rows.chunks((MAX_PARAMS / 10).min(MAX_ROWS_PER_STATEMENT)) {
            qb.reset();
            qb.push_values(chunk, |mut b, d| {
                let (day, service, feature, model, route) = d.stored_key();
                b.push_bind(day)
                    .push_bind(service)
                    .push_bind(feature)
                    .push_bind(model)
                    .push_bind(route);
                for count in d.stored_counts() {
                    b.push_bind(count);
                }
            });
            qb.push(DAILY_ADD);
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn cost_ai_usage_daily(
        &self,
        from: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<AiUsageDay>, StoreError> {
        let rows = sqlx::query(
            "SELECT day, service, feature, model, route, calls, failed_calls, prompt_tokens, \
             cached_prompt_tokens, completion_tokens FROM ai_usage_daily \
             WHERE day >= $1 AND day < $2 ORDER BY day, service, feature, model, route",
        )
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let key = (
                    r.try_get("day")?,
                    r.try_get("service")?,
                    r.try_get("feature")?,
                    r.try_get("model")?,
                    r.try_get("route")?,
                );
                let mut counts = [0; 5];
                for (n, c) in counts.iter_mut().zip(DAILY_COUNTS) {
                    *n = r.try_get(c)?;
                }
                Ok(AiUsageDay::from_stored(key, counts))
            })
            .collect()
    }

    pub(super) async fn cost_insert_infra(
        &self,
        records: &[InfraUsageRecord],
        now: Timestamp,
    ) -> Result<InsertOutcome, StoreError> {
        if records.is_empty() {
            return Ok(InsertOutcome::default());
        }
        let mut tx = self.pool.begin().await?;
        let inserted = insert_rows(
            &mut tx,
            "INSERT INTO infra_usage (record_id, provider, project, metric, quantity, \
             period_start, period_end, plan, ingested_at) ",
            9,
            records,
            None,
            |mut b, r| {
                b.push_bind(r.id.as_str())
                    .push_bind(r.provider.as_str())
                    .push_bind(r.project.as_str())
                    .push_bind(r.metric.as_str())
                    .push_bind(r.quantity)
                    .push_bind(r.period_start)
                    .push_bind(r.period_end)
                    .push_bind(r.plan.as_ref().map(|p| p.as_str()))
                    .push_bind(now);
            },
        )
        .await?;
        tx.commit().await?;
        Ok(InsertOutcome {
            inserted,
            duplicates: records.len() as u64 - inserted,
        })
    }

    pub(super) async fn cost_infra_usage(
        &self,
        window: Window,
    ) -> Result<Vec<InfraUsageRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT record_id, provider, project, metric, quantity, period_start, period_end, \
             plan FROM infra_usage WHERE period_start >= $1 AND period_start < $2 \
             ORDER BY period_start, id",
        )
        .bind(window.start)
        .bind(window.end)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                InfraParts {
                    record_id: r.try_get("record_id")?,
                    provider: r.try_get("provider")?,
                    project: r.try_get("project")?,
                    metric: r.try_get("metric")?,
                    quantity: r.try_get("quantity")?,
                    period_start: r.try_get("period_start")?,
                    period_end: r.try_get("period_end")?,
                    plan: r.try_get("plan")?,
                }
                .into_record()
            })
            .collect()
    }

    pub(super) async fn cost_insert_prediction(
        &self,
        p: &CostPrediction,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO cost_predictions (created_at, method, scope, period_start, period_end, \
             spend_to_date, projected, lower, upper, budget, deviation_pct, tier) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(p.created_at)
        .bind(&p.method)
        .bind(&p.scope)
        .bind(p.period_start)
        .bind(p.period_end)
        .bind(p.spend_to_date)
        .bind(p.projected)
        .bind(p.lower)
        .bind(p.upper)
        .bind(p.budget)
        .bind(p.deviation_pct)
        .bind(p.tier.as_deref())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(super) async fn cost_predictions_latest(
        &self,
        limit: i64,
    ) -> Result<Vec<StoredCostPrediction>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, method, scope, period_start, period_end, spend_to_date, \
             projected, lower, upper, budget, deviation_pct, tier FROM cost_predictions \
             ORDER BY created_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredCostPrediction {
                    id: r.try_get("id")?,
                    prediction: CostPrediction {
                        created_at: r.try_get("created_at")?,
                        method: r.try_get("method")?,
                        scope: r.try_get("scope")?,
                        period_start: r.try_get("period_start")?,
                        period_end: r.try_get("period_end")?,
                        spend_to_date: r.try_get("spend_to_date")?,
                        projected: r.try_get("projected")?,
                        lower: r.try_get("lower")?,
                        upper: r.try_get("upper")?,
                        budget: r.try_get("budget")?,
                        deviation_pct: r.try_get("deviation_pct")?,
                        tier: r.try_get("tier")?,
                    },
                })
            })
            .collect()
    }
}
