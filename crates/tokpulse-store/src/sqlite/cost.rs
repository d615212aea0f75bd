//! Cost tracking on SQLite: AI usage read back, infrastructure usage, cost predictions.

use super::{SqliteStore, insert_rows};
use crate::convert::{from_ms, json_from_str, to_ms};
use crate::cost::{AiUsageParts, InfraParts};
use crate::{CostPrediction, InsertOutcome, StoreError, StoredCostPrediction};
use sqlx::Row;
use tokpulse_core::{AiUsageRecord, InfraUsageRecord, Timestamp, Window};

impl SqliteStore {
    pub(super) async fn cost_ai_usage(
        &self,
        window: Window,
    ) -> Result<Vec<AiUsageRecord>, StoreError> {
        const T: &str = "ai_usage_metrics";
        let rows = sqlx::query(
            "SELECT record_id, ts, service, feature, provider, model, prompt_tokens, \
             completion_tokens, latency_ms, success, error_message, cost_usd, attributes \
             FROM ai_usage_metrics WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, id",
        )
        .bind(to_ms(window.start))
        .bind(to_ms(window.end))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                AiUsageParts {
                    record_id: r.try_get("record_id")?,
                    ts: from_ms(T, r.try_get("ts")?)?,
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
                    attributes: json_from_str(T, "attributes", r.try_get("attributes")?)?,
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
        let mut tx = self.begin_write().await?;
        let inserted = insert_rows(
            &mut tx,
            "INSERT INTO infra_usage (record_id, provider, project, metric, quantity, \
             period_start, period_end, plan, ingested_at) ",
            9,
            records,
            |mut b, r| {
                b.push_bind(r.id.as_str())
                    .push_bind(r.provider.as_str())
                    .push_bind(r.project.as_str())
                    .push_bind(r.metric.as_str())
                    .push_bind(r.quantity)
                    .push_bind(to_ms(r.period_start))
                    .push_bind(to_ms(r.period_end))
                    .push_bind(r.plan.as_ref().map(|p| p.as_str()))
                    .push_bind(to_ms(now));
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
        const T: &str = "infra_usage";
        let rows = sqlx::query(
            "SELECT record_id, provider, project, metric, quantity, period_start, period_end, \
             plan FROM infra_usage WHERE period_start >= ?1 AND period_start < ?2 \
             ORDER BY period_start, id",
        )
        .bind(to_ms(window.start))
        .bind(to_ms(window.end))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                InfraParts {
                    record_id: r.try_get("record_id")?,
                    provider: r.try_get("provider")?,
                    project: r.try_get("project")?,
                    metric: r.try_get("metric")?,
                    quantity: r.try_get("quantity")?,
                    period_start: from_ms(T, r.try_get("period_start")?)?,
                    period_end: from_ms(T, r.try_get("period_end")?)?,
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
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO cost_predictions (created_at, method, scope, period_start, period_end, \
             spend_to_date, projected, lower, upper, budget, deviation_pct, tier) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
        )
        .bind(to_ms(p.created_at))
        .bind(&p.method)
        .bind(&p.scope)
        .bind(to_ms(p.period_start))
        .bind(to_ms(p.period_end))
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
        const T: &str = "cost_predictions";
        let rows = sqlx::query(
            "SELECT id, created_at, method, scope, period_start, period_end, spend_to_date, \
             projected, lower, upper, budget, deviation_pct, tier FROM cost_predictions \
             ORDER BY created_at DESC, id DESC LIMIT ?1",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredCostPrediction {
                    id: r.try_get("id")?,
                    prediction: CostPrediction {
                        created_at: from_ms(T, r.try_get("created_at")?)?,
                        method: r.try_get("method")?,
                        scope: r.try_get("scope")?,
                        period_start: from_ms(T, r.try_get("period_start")?)?,
                        period_end: from_ms(T, r.try_get("period_end")?)?,
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
