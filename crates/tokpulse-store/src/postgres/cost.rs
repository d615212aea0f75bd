//! Cost tracking on PostgreSQL: AI usage read back, infrastructure usage, cost predictions.

use super::{PgStore, insert_rows};
use crate::cost::{AiUsageParts, InfraParts};
use crate::{CostPrediction, InsertOutcome, StoreError, StoredCostPrediction};
use sqlx::Row;
use sqlx::types::Json;
use tokpulse_core::{AiUsageRecord, InfraUsageRecord, Timestamp, Window};

impl PgStore {
    pub(super) async fn cost_ai_usage(
        &self,
        window: Window,
    ) -> Result<Vec<AiUsageRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT record_id, ts, service, feature, provider, model, prompt_tokens, \
             completion_tokens, latency_ms, success, error_message, cost_usd, attributes \
             FROM ai_usage_metrics WHERE ts >= $1 AND ts < $2 ORDER BY ts, id",
        )
        .bind(window.start)
        .bind(window.end)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
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
