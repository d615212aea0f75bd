//! What both backends share for cost tracking: stored cost predictions, the daily AI usage
//! rollup (`ai_usage_daily`), and the conversions of AI and infrastructure usage rows.

use crate::StoreError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// One row of `ai_usage_daily`: the AI calls of one UTC day, service, feature, model and route,
/// summed. The cost run prices these (a price is linear in tokens and fixed for a model's day)
/// instead of reading every call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AiUsageDay {
    /// The calls' UTC day.
    pub day: NaiveDate,
    /// The calling service.
    pub service: String,
    /// The product feature, when the calls named one.
    pub feature: Option<String>,
    /// The model as the calls spelled it.
    pub model: String,
    /// The calls' `route` attribute, when they named one (an empty route is none).
    pub route: Option<String>,
    /// Calls.
    pub calls: u64,
    /// Calls that failed.
    pub failed_calls: u64,
    /// Prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Prompt tokens served from the cache (each call's `cached_tokens` attribute, at most its
    /// prompt tokens).
    pub cached_prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
}

/// The key of an [`AiUsageDay`] as stored: no feature and no route are `''`.
pub(crate) type DayKey<'a> = (NaiveDate, &'a str, &'a str, &'a str, &'a str);

impl AiUsageDay {
    /// Its key as stored.
    pub(crate) fn stored_key(&self) -> DayKey<'_> {
        (
            self.day,
            &self.service,
            self.feature.as_deref().unwrap_or(NONE),
            &self.model,
            self.route.as_deref().unwrap_or(NONE),
        )
    }

    /// Its sums in the order of [`DAILY_COUNTS`], as stored.
    pub(crate) fn stored_counts(&self) -> [i64; 5] {
        [
            self.calls,
            self.failed_calls,
            self.prompt_tokens,
            self.cached_prompt_tokens,
            self.completion_tokens,
        ]
        .map(crate::convert::tokens)
    }

    /// A row as stored: `''` for no feature or no route, and the counts in the order of
    /// [`DAILY_COUNTS`] (a negative count, which the store never writes, reads as 0).
    pub(crate) fn from_stored(
        (day, service, feature, model, route): (NaiveDate, String, String, String, String),
        counts: [i64; 5],
    ) -> Self {
        let [
            calls,
            failed_calls,
            prompt_tokens,
            cached_prompt_tokens,
            completion_tokens,
        ] = counts.map(|c| c.max(0) as u64);
        AiUsageDay {
            day,
            service,
            feature: (feature != NONE).then_some(feature),
            model,
            route: (route != NONE).then_some(route),
            calls,
            failed_calls,
            prompt_tokens,
            cached_prompt_tokens,
            completion_tokens,
        }
    }
}

/// The sums of an `ai_usage_daily` row, in the order [`AiUsageDay::from_stored`] takes them.
pub(crate) const DAILY_COUNTS: [&str; 5] = [
    "calls",
    "failed_calls",
    "prompt_tokens",
    "cached_prompt_tokens",
    "completion_tokens",
];

/// What `ai_usage_daily` stores for "no feature" and "no route".
pub(crate) const NONE: &str = "";

/// `days` with the rows of one stored key added together, sorted by key: one upsert per key
/// (PostgreSQL refuses to update a row twice in one statement), always in the same order (so
/// two writers never wait on each other's rows in opposite orders).
pub(crate) fn merge_days(days: &[AiUsageDay]) -> Vec<AiUsageDay> {
    let mut merged: BTreeMap<DayKey<'_>, AiUsageDay> = BTreeMap::new();
    for d in days {
        merged
            .entry(d.stored_key())
            .and_modify(|m| {
                m.calls += d.calls;
                m.failed_calls += d.failed_calls;
                m.prompt_tokens += d.prompt_tokens;
                m.cached_prompt_tokens += d.cached_prompt_tokens;
                m.completion_tokens += d.completion_tokens;
            })
            .or_insert_with(|| d.clone());
    }
    merged.into_values().collect()
}

/// The columns an AI usage record is read from.
pub(crate) const AI_COLUMNS: &str = "record_id, ts, service, feature, provider, model, prompt_tokens, \
     completion_tokens, latency_ms, success, error_message, cost_usd, attributes";

/// The head of the upsert into `ai_usage_daily`; [`DAILY_ADD`] ends it.
pub(crate) const DAILY_INSERT: &str = "INSERT INTO ai_usage_daily (day, service, feature, model, route, \
     calls, failed_calls, prompt_tokens, cached_prompt_tokens, completion_tokens) ";

/// A day already stored gets the new sums added.
pub(crate) const DAILY_ADD: &str = " ON CONFLICT (day, service, feature, model, route) DO UPDATE SET \
     calls = ai_usage_daily.calls + excluded.calls, \
     failed_calls = ai_usage_daily.failed_calls + excluded.failed_calls, \
     prompt_tokens = ai_usage_daily.prompt_tokens + excluded.prompt_tokens, \
     cached_prompt_tokens = ai_usage_daily.cached_prompt_tokens + excluded.cached_prompt_tokens, \
     completion_tokens = ai_usage_daily.completion_tokens + excluded.completion_tokens";

/// An AI call not counted in `ai_usage_daily` yet, with its row id.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAiUsage {
    /// The `ai_usage_metrics` row id.
    pub id: i64,
    /// The call.
    pub record: AiUsageRecord,
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
