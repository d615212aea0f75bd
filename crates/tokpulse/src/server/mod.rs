//! The HTTP API (`tokpulse serve`): ingest endpoints, a read API, `/healthz` and
//! `/openapi.json`. Every error is a JSON body `{"error": code, "message": text}` made in one
//! place ([`ApiError`]).

mod auth;
pub mod cost;
mod error;
pub mod openapi;
pub mod privacy;
pub mod webhooks;

pub use error::ApiError;

use crate::app::App;
use auth::authorize;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokpulse_core::{FindingStatus, RecordKind, Role};
use tokpulse_ingest::{Format, IngestError, decode_body};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// What every handler shares.
pub struct ServerState {
    /// The pipeline.
    pub app: App,
    /// Largest body accepted, raw and decompressed.
    pub max_body_bytes: usize,
}

/// The API's routes.
pub fn router(state: Arc<ServerState>, request_timeout: Duration) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi::serve))
        .route("/v1/ingest/performance", post(ingest_performance))
        .route("/v1/ingest/ai-usage", post(ingest_ai_usage))
        .route("/v1/ingest/logs", post(ingest_logs))
        .route("/v1/events/deploy", post(ingest_deploys))
        .route("/v1/ingest/ci-runs", post(ingest_ci_runs))
        .route("/v1/ingest/infra-usage", post(ingest_infra_usage))
        .route("/v1/findings", get(list_findings))
        .route("/v1/cost/summary", get(cost::summary))
        .route("/v1/privacy/report", get(privacy::report))
        .route("/v1/privacy/forget", post(privacy::forget))
        .route("/v1/privacy/export", post(privacy::export))
        .fallback(not_found)
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; GET /openapi.json lists them",
    )
}

/// `GET /healthz`: 200 when the store answers, 503 otherwise.
pub async fn healthz(State(state): State<Arc<ServerState>>) -> Response {
    let backend = state.app.store.backend();
    match state.app.store.count(tokpulse_store::Table::ApiKeys).await {
        Ok(_) => Json(serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "backend": backend,
        }))
        .into_response(),
        Err(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            format!("the store does not answer: {e}"),
        )
        .into_response(),
    }
}

async fn ingest_performance(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ingest(&state, RecordKind::Performance, &headers, body).await
}

async fn ingest_ai_usage(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ingest(&state, RecordKind::AiUsage, &headers, body).await
}

async fn ingest_logs(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ingest(&state, RecordKind::Logs, &headers, body).await
}

async fn ingest_deploys(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ingest(&state, RecordKind::Deploys, &headers, body).await
}

/// `POST /v1/ingest/ci-runs`: GitHub Actions runs and jobs (see `tokpulse_ingest::ci`).
async fn ingest_ci_runs(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::Service, "ci_jobs").await?;
    let raw = read_body(body, state.max_body_bytes).await?;
    let decoded = decode_body(
        &raw,
        header_str(&headers, header::CONTENT_ENCODING),
        state.max_body_bytes,
    )?;
    let format = Format::detect(header_str(&headers, header::CONTENT_TYPE), &decoded)?;
    let report = state.app.ingestor.ingest_ci(format, &decoded).await?;
    Ok((report_status(&report), Json(report)).into_response())
}

async fn ingest_infra_usage(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::Service, "infra_usage").await?;
    let raw = read_body(body, state.max_body_bytes).await?;
    let decoded = decode_body(
        &raw,
        header_str(&headers, header::CONTENT_ENCODING),
        state.max_body_bytes,
    )?;
    let format = Format::detect(header_str(&headers, header::CONTENT_TYPE), &decoded)?;
    let report = state.app.ingestor.ingest_infra(format, &decoded).await?;
    Ok((report_status(&report), Json(report)).into_response())
}

/// 422 when every record was refused, else 200.
fn report_status(report: &tokpulse_ingest::IngestReport) -> StatusCode {
    if report.accepted == 0 && report.duplicates == 0 && !report.rejected.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads at most `limit` bytes of `body`; more is a 413.
async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::from(IngestError::TooLarge { limit }))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unreadable_body",
            format!("the request body could not be read: {e}"),
        )),
    }
}

/// The shared ingest path: auth, body, decode, parse, validate, guard, store, report.
async fn ingest(
    state: &ServerState,
    kind: RecordKind,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(state, headers, Role::Service, kind.table()).await?;
    if let Some(len) =
        header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok())
        && len > state.max_body_bytes as u64
    {
        return Err(IngestError::TooLarge {
            limit: state.max_body_bytes,
        }
        .into());
    }
    let raw = read_body(body, state.max_body_bytes).await?;
    let decoded = decode_body(
        &raw,
        header_str(headers, header::CONTENT_ENCODING),
        state.max_body_bytes,
    )?;
    let format = Format::detect(header_str(headers, header::CONTENT_TYPE), &decoded)?;
    let report = state.app.ingestor.ingest(kind, format, &decoded).await?;
    let status = if report.accepted == 0 && report.duplicates == 0 && !report.rejected.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingsQuery {
    status: Option<String>,
    limit: Option<i64>,
}

async fn list_findings(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    query: Result<Query<FindingsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::Service, "findings").await?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(s.parse::<FindingStatus>().map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("status: {e}; expected open, resolved or all"),
            )
        })?),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("limit: must be between 1 and 10000, got {limit}"),
        ));
    }
    let findings = state.app.store.findings(status, limit).await?;
    Ok(Json(serde_json::json!({ "findings": findings })).into_response())
}
