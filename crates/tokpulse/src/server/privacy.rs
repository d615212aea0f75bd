//! The privacy endpoints, for keys with role `service` only: the guard's audit
//! (`GET /v1/privacy/report`) and a data subject's requests (`POST /v1/privacy/forget`,
//! `POST /v1/privacy/export`), the same as `tokpulse privacy …`.

use super::auth::authorize;
use super::{ApiError, ServerState};
use crate::subject::{RequestError, Subject, SubjectError};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use tokpulse_core::Role;
use utoipa::ToSchema;

/// Who a forget or export request is about: `{"email": …}`, or `{"type": …, "value": …}` for
/// any entity type the guard hashes (`PHONE`, `US_SSN`…).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectIn {
    /// The person's email address.
    email: Option<String>,
    /// An entity type (`PHONE`, `US_SSN`, `EMAIL`…), with `value`.
    #[serde(rename = "type")]
    entity_type: Option<String>,
    /// The person's value of that type, as they give it.
    value: Option<String>,
}

impl SubjectIn {
    fn subject(self) -> Result<Subject, ApiError> {
        let invalid = |message: String| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_subject", message)
        };
        let to_api = |e: SubjectError| invalid(e.to_string());
        match (self.email, self.entity_type, self.value) {
            (Some(email), None, None) => Subject::email(&email).map_err(to_api),
            (None, Some(t), Some(v)) => Subject::of_type(&t, &v).map_err(to_api),
            (Some(_), _, _) => Err(invalid(
                "give either `email` or `type` and `value`, not both".into(),
            )),
            (None, Some(_), None) => Err(invalid("`type` needs a `value`".into())),
            (None, None, Some(_)) => Err(invalid("`value` needs a `type`".into())),
            (None, None, None) => Err(invalid(
                "expected {\"email\": …} or {\"type\": …, \"value\": …}".into(),
            )),
        }
    }
}

/// The body, or a 400/415/422 that says what is wrong with it.
fn body(body: Result<Json<SubjectIn>, JsonRejection>) -> Result<Subject, ApiError> {
    let Json(b) = body.map_err(|e| {
        let code = if e.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            "unsupported_media_type"
        } else {
            "invalid_body"
        };
        ApiError::new(e.status(), code, e.body_text())
    })?;
    b.subject()
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Store(s) => s.into(),
            RequestError::Subject(s @ SubjectError::NoSecret) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_configured",
                s.to_string(),
            ),
            RequestError::Subject(s @ SubjectError::NotHashed(_)) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_hashed",
                s.to_string(),
            ),
            RequestError::Subject(s @ SubjectError::Invalid(_)) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_subject",
                s.to_string(),
            ),
        }
    }
}

const WHAT: &str = "data-subject requests";

/// `POST /v1/privacy/forget`: the receipt.
pub async fn forget(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    b: Result<Json<SubjectIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::Service, WHAT).await?;
    let subject = body(b)?;
    let app = &state.app;
    let receipt = crate::subject::forget(
        app.store.as_ref(),
        &app.guard_config,
        &subject,
        chrono::Utc::now(),
    )
    .await?;
    tracing::info!(
        token = %receipt.token,
        deleted = receipt.deleted,
        anonymised = receipt.anonymised,
        "forget request carried out"
    );
    Ok(Json(receipt).into_response())
}

/// `POST /v1/privacy/export`: every row about the person, grouped by table.
pub async fn export(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    b: Result<Json<SubjectIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::Service, WHAT).await?;
    let subject = body(b)?;
    let app = &state.app;
    let export = crate::subject::export(
        app.store.as_ref(),
        &app.guard_config,
        &subject,
        chrono::Utc::now(),
    )
    .await?;
    Ok(Json(export).into_response())
}

/// `?since=`: days back (`30`) or a date (`2026-11-01`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    since: Option<String>,
}

/// `GET /v1/privacy/report?since=DAYS|DATE`: the audit.
pub async fn report(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::Service, "the privacy audit").await?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let today = chrono::Utc::now().date_naive();
    let since =
        crate::privacy::parse_since(q.since.as_deref().unwrap_or("30"), today).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("since: {e}"),
            )
        })?;
    let rows = state.app.store.privacy_audit(since).await?;
    Ok(Json(crate::privacy::report_json(since, &rows)).into_response())
}
