//! What both backends share for cost tracking: stored cost predictions and the conversions of
//! AI and infrastructure usage rows.

use crate::StoreError;
use serde::{Deserialize, Serialize};
use tokpulse_core::{
    AiUsageRecord, Attributes, InfraProvider, InfraUsageRecord, Label, RecordId, Timestamp,
};

/// One month-end projection as `cost_predictions` keeps it: every cost run stores one per
/// method and budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostPrediction {
    /// When the run made it.
    pub created_at: Timestamp,
    /// The forecast method (`linear`, `robust_seasonal`).
    pub method: String,
    /// The budget it is compared against: `project`, `feature:<name>` or `model:<name>`.
    pub scope: String,
    /// First instant of the month projected.
    pub period_start: Timestamp,
    /// First instant after it.
    pub period_end: Timestamp,
    /// Spend from the first of the month to the run, in dollars.
    pub spend_to_date: f64,
    /// Projected spend for the whole month.
    pub projected: f64,
    /// Lower end of the prediction interval.
    pub lower: Option<f64>,
    /// Upper end of the prediction interval.
    pub upper: Option<f64>,
    /// The budget, when one is set.
    pub budget: Option<f64>,
    /// (projected − budget) / budget × 100.
    pub deviation_pct: Option<f64>,
    /// The budget tier (`monitor`, `alert_team`, `discussion`, `critical`).
    pub tier: Option<String>,
}

/// A stored [`CostPrediction`] with its row id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCostPrediction {
    /// Row id.
    pub id: i64,
    /// The prediction.
    #[serde(flatten)]
    pub prediction: CostPrediction,
}

const AI: &str = "ai_usage_metrics";
const INFRA: &str = "infra_usage";

fn corrupt(table: &'static str, field: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        table,
        reason: format!("column `{field}`: {e}"),
    }
}

fn label(table: &'static str, field: &str, s: &str) -> Result<Label, StoreError> {
    Label::parse(s).map_err(|e| corrupt(table, field, e))
}

/// The columns of an `ai_usage_metrics` row, as both backends read them.
pub(crate) struct AiUsageParts {
    pub record_id: String,
    pub ts: Timestamp,
    pub service: String,
    pub feature: Option<String>,
    pub provider: String,
    pub model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub latency_ms: Option<f64>,
    pub success: bool,
    pub error_message: Option<String>,
    pub cost_usd: Option<f64>,
    pub attributes: Attributes,
}

impl AiUsageParts {
    pub(crate) fn into_record(self) -> Result<AiUsageRecord, StoreError> {
        Ok(AiUsageRecord {
            id: RecordId::parse(&self.record_id).map_err(|e| corrupt(AI, "record_id", e))?,
            timestamp: self.ts,
            service: label(AI, "service", &self.service)?,
            feature: self
                .feature
                .as_deref()
                .map(|f| label(AI, "feature", f))
                .transpose()?,
            provider: label(AI, "provider", &self.provider)?,
            model: label(AI, "model", &self.model)?,
            prompt_tokens: self.prompt_tokens.max(0) as u64,
            completion_tokens: self.completion_tokens.max(0) as u64,
            latency_ms: self.latency_ms,
            success: self.success,
            error_message: self.error_message,
            cost_usd: self.cost_usd,
            attributes: self.attributes,
        })
    }
}

/// The columns of an `infra_usage` row, as both backends read them.
pub(crate) struct InfraParts {
    pub record_id: String,
    pub provider: String,
    pub project: String,
    pub metric: String,
    pub quantity: f64,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    pub plan: Option<String>,
}

impl InfraParts {
    pub(crate) fn into_record(self) -> Result<InfraUsageRecord, StoreError> {
        Ok(InfraUsageRecord {
            id: RecordId::parse(&self.record_id).map_err(|e| corrupt(INFRA, "record_id", e))?,
            provider: self
                .provider
                .parse::<InfraProvider>()
                .map_err(|e| corrupt(INFRA, "provider", e))?,
            project: label(INFRA, "project", &self.project)?,
            metric: label(INFRA, "metric", &self.metric)?,
            quantity: self.quantity,
            period_start: self.period_start,
            period_end: self.period_end,
            plan: self
                .plan
                .as_deref()
                .map(|p| label(INFRA, "plan", p))
                .transpose()?,
        })
    }
}
