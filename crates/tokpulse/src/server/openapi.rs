//! `GET /openapi.json`: the API described with utoipa. The schemas here document the wire
//! format that `tokpulse-ingest` validates; a test checks that every field the parser accepts is
//! documented.
#![allow(dead_code)] // The structs exist for their schemas.

use axum::Json;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// One request served (`POST /v1/ingest/performance`).
#[derive(Serialize, ToSchema)]
pub struct PerformanceIn {
    /// Client-supplied id (1–128 visible ASCII characters); a retry with the same id is a duplicate.
    id: String,
    /// RFC 3339 time or integer unix milliseconds.
    timestamp: String,
    /// Service name: ASCII letters, digits and `. _ - : / +`.
    service: String,
    /// Route, ideally a template (`/users/:id`). Passes the privacy guard.
    route: String,
    /// HTTP method (default `GET`).
    method: Option<String>,
    /// HTTP status code, 100–599 (alias `status`).
    status_code: u16,
    /// Time to serve in milliseconds.
    duration_ms: f64,
    /// Default `production`.
    environment: Option<String>,
    /// `web`, `api`, `mobile` or `worker`.
    platform: Option<String>,
    /// Free-form object. Passes the privacy guard value by value.
    attributes: Option<serde_json::Value>,
}

/// One LLM call (`POST /v1/ingest/ai-usage`).
#[derive(Serialize, ToSchema)]
pub struct AiUsageIn {
    /// Client-supplied id.
    id: String,
    /// RFC 3339 time or integer unix milliseconds.
    timestamp: String,
    /// Calling service.
    service: String,
    /// Product feature that made the call.
    feature: Option<String>,
    /// Default `openai`.
    provider: Option<String>,
    /// Model name.
    model: String,
    /// Input tokens.
    prompt_tokens: u64,
    /// Output tokens (default 0).
    completion_tokens: Option<u64>,
    /// Call latency in milliseconds.
    latency_ms: Option<f64>,
    /// Default `true`.
    success: Option<bool>,
    /// Provider error for a failed call. Passes the privacy guard.
    error_message: Option<String>,
    /// Cost computed by the client, USD.
    cost_usd: Option<f64>,
    /// Free-form object. Passes the privacy guard.
    attributes: Option<serde_json::Value>,
}

/// One log line (`POST /v1/ingest/logs`).
#[derive(Serialize, ToSchema)]
pub struct LogIn {
    /// Client-supplied id.
    id: String,
    /// RFC 3339 time or integer unix milliseconds.
    timestamp: String,
    /// Service that logged it.
    service: String,
    /// `trace`, `debug`, `info`, `warn`, `error` or `fatal`.
    level: String,
    /// The message. Passes the privacy guard.
    message: String,
    /// Route being served. Passes the privacy guard.
    route: Option<String>,
    /// Trace id.
    trace_id: Option<String>,
    /// Free-form object. Passes the privacy guard.
    attributes: Option<serde_json::Value>,
}

/// One deployment (`POST /v1/events/deploy`).
#[derive(Serialize, ToSchema)]
pub struct DeployIn {
    /// Client-supplied id (the CD system's deployment id does well).
    id: String,
    /// When the new version started taking traffic.
    timestamp: String,
    /// Service deployed.
    service: String,
    /// Default `production`.
    environment: Option<String>,
    /// Version or release name.
    version: String,
    /// Commit deployed.
    commit_sha: Option<String>,
    /// Who deployed. Passes the privacy guard.
    author: Option<String>,
    /// What changed. Passes the privacy guard.
    description: Option<String>,
}

/// A record that was not stored.
#[derive(Serialize, ToSchema)]
pub struct RejectionOut {
    /// Position in the batch (0-based; NDJSON: among non-blank lines).
    index: usize,
    /// The field at fault (empty when the record as a whole is).
    field: String,
    /// What is wrong.
    reason: String,
}

/// The result of a batch. Sent only after the accepted records are committed.
#[derive(Serialize, ToSchema)]
pub struct IngestReportOut {
    /// Records stored by this request.
    accepted: u64,
    /// Records whose id was already stored (a retry); not stored again.
    duplicates: u64,
    /// Records refused, each with its index, field and reason.
    rejected: Vec<RejectionOut>,
}

/// Every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorOut {
    /// Machine-readable code (`unauthorized`, `payload_too_large`…).
    error: String,
    /// What is wrong, for a person.
    message: String,
}

macro_rules! ingest_path {
    ($fn:ident, $path:literal, $schema:ty, $what:literal) => {
        #[utoipa::path(
            post,
            path = $path,
            tag = "ingest",
            description = concat!(
                "Ingests ", $what, ". Body: a JSON array (or one object), or NDJSON ",
                "(`Content-Type: application/x-ndjson`); `Content-Encoding: gzip` accepted. ",
                "Each record is validated on its own: good records are stored even when others ",
                "in the batch are rejected. Needs a key with role `service`."
            ),
            request_body(content = Vec<$schema>, content_type = "application/json"),
            responses(
                (status = 200, description = "Batch committed; see `rejected` for refused records", body = IngestReportOut),
                (status = 400, description = "Malformed body (not JSON, invalid UTF-8)", body = ErrorOut),
                (status = 401, description = "Missing or unknown API key", body = ErrorOut),
                (status = 403, description = "The key's role may not write here", body = ErrorOut),
                (status = 413, description = "Body (or decompressed body) too large, or too many records", body = ErrorOut),
                (status = 415, description = "Unsupported content type or encoding", body = ErrorOut),
                (status = 422, description = "Every record was rejected", body = IngestReportOut),
                (status = 503, description = "The store is unavailable; nothing was stored, retry", body = ErrorOut),
            ),
            security(("bearer" = []))
        )]
        fn $fn() {}
    };
}

ingest_path!(
    ingest_performance,
    "/v1/ingest/performance",
    PerformanceIn,
    "request metrics"
);
ingest_path!(
    ingest_ai_usage,
    "/v1/ingest/ai-usage",
    AiUsageIn,
    "LLM calls"
);
ingest_path!(ingest_logs, "/v1/ingest/logs", LogIn, "application logs");
ingest_path!(ingest_deploys, "/v1/events/deploy", DeployIn, "deployments");

/// Health of the server and its store.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses(
        (status = 200, description = "Serving; the store answers"),
        (status = 503, description = "The store does not answer", body = ErrorOut),
    )
)]
fn healthz() {}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document")))]
fn openapi() {}

/// Findings, newest first.
#[utoipa::path(
    get,
    path = "/v1/findings",
    tag = "read",
    params(
        ("status" = Option<String>, Query, description = "`open`, `resolved` or `all` (default)"),
        ("limit" = Option<i64>, Query, description = "1–10000, default 100"),
    ),
    responses(
        (status = 200, description = "`{\"findings\": [...]}`"),
        (status = 400, description = "Bad query", body = ErrorOut),
        (status = 401, description = "Missing or unknown API key", body = ErrorOut),
        (status = 403, description = "Needs role `service`", body = ErrorOut),
    ),
    security(("bearer" = []))
)]
fn findings() {}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A key from `tokpulse keys create --role service|authenticated|anon`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "TokPulse API",
        description = "Telemetry ingest and read API of TokPulse, a self-hosted autonomous SRE."
    ),
    paths(
        ingest_performance,
        ingest_ai_usage,
        ingest_logs,
        ingest_deploys,
        findings,
        healthz,
        openapi
    ),
    components(schemas(
        PerformanceIn,
        AiUsageIn,
        LogIn,
        DeployIn,
        IngestReportOut,
        RejectionOut,
        ErrorOut
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// `GET /openapi.json`
pub async fn serve() -> impl IntoResponse {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    Json(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokpulse_core::RecordKind;

    /// The document and the parser describe the same wire format: every field the parser
    /// accepts is documented, with the same required-ness, and nothing else is.
    #[test]
    fn schemas_match_what_the_parser_accepts() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for (kind, schema) in [
            (RecordKind::Performance, "PerformanceIn"),
            (RecordKind::AiUsage, "AiUsageIn"),
            (RecordKind::Logs, "LogIn"),
            (RecordKind::Deploys, "DeployIn"),
        ] {
            let s = &doc["components"]["schemas"][schema];
            let mut documented: Vec<&str> = s["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut accepted: Vec<&str> = tokpulse_ingest::fields(kind)
                .iter()
                .map(|f| f.name)
                .collect();
            documented.sort_unstable();
            accepted.sort_unstable();
            assert_eq!(documented, accepted, "{schema}");
            let mut required: Vec<&str> = s["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let mut must: Vec<&str> = tokpulse_ingest::fields(kind)
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name)
                .collect();
            required.sort_unstable();
            must.sort_unstable();
            assert_eq!(required, must, "{schema}");
        }
    }
}
