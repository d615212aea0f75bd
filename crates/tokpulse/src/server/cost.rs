//! `GET /v1/cost/summary`: the month's spend, forecasts, budget status and recommendations,
//! as `tokpulse cost report --format json` prints them.

use super::{ApiError, ServerState, auth::authorize};
use crate::cost_run;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use std::sync::Arc;
use tokpulse_core::Role;

/// `?month=YYYY-MM`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    month: Option<String>,
}

/// The month's cost summary; roles `service` and `authenticated`.
pub async fn summary(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    query: Result<Query<SummaryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::Authenticated, "cost").await?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let today = cost_run::last_complete_day(chrono::Utc::now());
    let as_of = match q.month.as_deref() {
        None => today,
        Some(m) => {
            let first =
                NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").map_err(|_| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_query",
                        format!("month: expected YYYY-MM, got {m:?}"),
                    )
                })?;
            let last = first
                .checked_add_months(chrono::Months::new(1))
                .and_then(|d| d.pred_opt())
                .unwrap_or(first);
            last.min(today).max(first)
        }
    };
    let inputs = cost_run::load(state.app.store.as_ref(), as_of)
        .await
        .map_err(|e| match e.downcast::<tokpulse_store::StoreError>() {
            Ok(e) => ApiError::from(e),
            Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        })?;
    let summary = cost_run::summarize(&state.app.cost, &inputs, as_of);
    Ok(Json(summary).into_response())
}
