//! `GET /openapi.json`: the API described with utoipa. The schemas here document the wire
//! format that `tokpulse-ingest` validates; a test checks that every field the parser accepts is
//! documented.
#![allow(dead_code)] // The structs exist for their schemas.

use super::privacy::SubjectIn;
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

/// One CI record (`POST /v1/ingest/ci-runs`): a GitHub Actions `workflow_run` or
/// `workflow_job` webhook payload (other top-level fields such as `action` and `sender` are
/// ignored), with exactly one of the two objects.
#[derive(Serialize, ToSchema)]
pub struct CiRecordIn {
    /// A workflow run, as in the `workflow_run` webhook.
    workflow_run: Option<CiRunIn>,
    /// A job, as in the `workflow_job` webhook.
    workflow_job: Option<CiJobIn>,
    /// The payload's repository: its `full_name` (`owner/name`) or GitHub's object. Copied into
    /// the run or job when that does not name one.
    repository: Option<serde_json::Value>,
}

/// A workflow run: GitHub's `workflow_run` object (fields not listed are ignored). Stored by
/// `id` and `run_attempt`; a later webhook of the same attempt replaces an earlier one.
#[derive(Serialize, ToSchema)]
pub struct CiRunIn {
    /// The run's id.
    id: u64,
    /// The workflow's name.
    name: Option<String>,
    /// The workflow's id.
    workflow_id: Option<u64>,
    /// The workflow file.
    path: Option<String>,
    /// The branch. Passes the privacy guard.
    head_branch: Option<String>,
    /// The commit.
    head_sha: String,
    /// The commit message or PR title. Passes the privacy guard.
    display_title: Option<String>,
    /// `push`, `pull_request`…
    event: Option<String>,
    /// The run number.
    run_number: Option<u64>,
    /// 1, then 2… per re-run (default 1).
    run_attempt: Option<u32>,
    /// `requested`, `queued`, `in_progress`, `completed`…
    status: String,
    /// `success`, `failure`, `cancelled`, `timed_out`… once completed.
    conclusion: Option<String>,
    /// RFC 3339.
    created_at: Option<String>,
    /// RFC 3339.
    run_started_at: Option<String>,
    /// RFC 3339; for a completed run, when it completed.
    updated_at: Option<String>,
    /// The run's page.
    html_url: Option<String>,
    /// `owner/name` or GitHub's repository object.
    repository: Option<serde_json::Value>,
}

/// A job: GitHub's `workflow_job` object (fields not listed are ignored), plus
/// `failure_message`. Stored by `id` and `run_attempt`.
#[derive(Serialize, ToSchema)]
pub struct CiJobIn {
    /// The job's id.
    id: u64,
    /// The run it belongs to.
    run_id: u64,
    /// The run's attempt (default 1).
    run_attempt: Option<u32>,
    /// The workflow's name.
    workflow_name: Option<String>,
    /// The job's name.
    name: String,
    /// The branch. Passes the privacy guard.
    head_branch: Option<String>,
    /// The commit.
    head_sha: String,
    /// `queued`, `in_progress`, `completed`…
    status: String,
    /// `success`, `failure`, `cancelled`, `timed_out`… once completed.
    conclusion: Option<String>,
    /// RFC 3339.
    created_at: Option<String>,
    /// RFC 3339.
    started_at: Option<String>,
    /// RFC 3339.
    completed_at: Option<String>,
    /// The job's page.
    html_url: Option<String>,
    /// `owner/name` or GitHub's repository object.
    repository: Option<serde_json::Value>,
    /// Why it failed (the failed step's annotation or log tail; not in the webhook). Passes the
    /// privacy guard; failures are grouped by its template.
    failure_message: Option<String>,
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
ingest_path!(
    ingest_ci_runs,
    "/v1/ingest/ci-runs",
    CiRecordIn,
    "GitHub Actions workflow runs and jobs (CSV is refused: the records nest)"
);

ingest_path!(
    ingest_infra_usage,
    "/v1/ingest/infra-usage",
    InfraUsageIn,
    "infrastructure usage (Vercel, Supabase) per period, stored by `id` (CSV is refused)"
);

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

/// One day, source, entity type and action of the privacy audit.
#[derive(Serialize, ToSchema)]
pub struct AuditRowOut {
    /// The records' UTC day.
    day: String,
    /// `performance`, `ai-usage`, `logs` or `deploys`.
    source: String,
    /// Entity type (`EMAIL`).
    entity: String,
    /// `redacted`, `hashed` or `blocked`.
    action: String,
    /// Values (for `blocked`: records).
    count: i64,
}

/// One infrastructure usage figure (`POST /v1/ingest/infra-usage`) for one period.
#[derive(Serialize, ToSchema)]
pub struct InfraUsageIn {
    /// Client-chosen unique id; a retried record with the same id is stored once.
    id: String,
    /// `vercel` or `supabase`.
    provider: String,
    /// The provider's project (Vercel project, Supabase project ref).
    project: String,
    /// Vercel: `requests`, `bandwidth_gb`, `function_gb_hours`; Supabase: `db_size_gb`,
    /// `storage_gb`, `egress_gb`.
    metric: String,
    /// How much, in the metric's unit; >= 0. Sizes are levels (the month's largest counts),
    /// the others amounts (summed).
    quantity: f64,
    /// First instant of the period (RFC 3339).
    period_start: String,
    /// First instant after it; after `period_start`.
    period_end: String,
    /// The plan (`hobby`, `pro`, `free`, `team`…): prices come from `[cost.infra.<provider>]`.
    plan: Option<String>,
}

/// A month's cost summary (`GET /v1/cost/summary`, `tokpulse cost report --format json`).
#[derive(Serialize, ToSchema)]
pub struct CostSummaryOut {
    /// `YYYY-MM`.
    month: String,
    /// The last complete day counted.
    as_of: String,
    /// AI + infrastructure spend so far this month, dollars.
    spend_to_date_usd: f64,
    /// AI part.
    ai_usd: f64,
    /// Infrastructure part.
    infra_usd: f64,
    /// `[{day, ai_usd, infra_usd}]` per day of the month so far.
    daily: Vec<serde_json::Value>,
    /// `[{name, calls, failed_calls, input_tokens, output_tokens, cost_usd, unpriced_calls}]`,
    /// most expensive first.
    by_feature: Vec<serde_json::Value>,
    /// Per model, the same fields.
    by_model: Vec<serde_json::Value>,
    /// Per service, the same fields.
    by_service: Vec<serde_json::Value>,
    /// Per route of the request that made the call (attribute `route`), the same fields.
    by_route: Vec<serde_json::Value>,
    /// `[{provider, project, plan, usage, cost_usd}]`.
    infra: Vec<serde_json::Value>,
    /// Models the catalog does not know: `[{model, services, calls, input_tokens, output_tokens}]`.
    unknown_models: Vec<serde_json::Value>,
    /// `[{scope, spend_to_date_usd, forecasts, status: {budget_usd, projection_usd, deviation, tier}}]`.
    budgets: Vec<serde_json::Value>,
    /// Project forecasts: `[{method, as_of, spent_to_date, projection, lower, upper, coverage}]`.
    forecasts: Vec<serde_json::Value>,
    /// `[{kind, subject, monthly_saving_usd, title, evidence}]`, biggest saving first.
    recommendations: Vec<serde_json::Value>,
    /// Cost regressions at deploys.
    regressions: Vec<serde_json::Value>,
}

/// The privacy audit: counts, never values.
#[derive(Serialize, ToSchema)]
pub struct PrivacyReportOut {
    /// The first day included.
    since: String,
    /// By day, source, entity and action.
    rows: Vec<AuditRowOut>,
    /// `{"redacted": n, "hashed": n, "blocked": n}` over the rows.
    totals: serde_json::Value,
}

/// What a forget request did to one table.
#[derive(Serialize, ToSchema)]
pub struct TableOutcomeOut {
    /// The table.
    table: String,
    /// Rows deleted (telemetry, request rollups, daily AI usage, embeddings).
    deleted: u64,
    /// Rows whose token was replaced by `[FORGOTTEN]` (findings, actions).
    anonymised: u64,
}

/// The receipt of a forget request: the person's token, never the value.
#[derive(Serialize, ToSchema)]
pub struct ForgetReceiptOut {
    /// `forget`.
    request: String,
    /// The person's hash token (`[EMAIL:3f2a9c1d5e6b7a80]`).
    token: String,
    /// When it was carried out (RFC 3339).
    at: String,
    /// One entry per table searched.
    tables: Vec<TableOutcomeOut>,
    /// Rows deleted in all.
    deleted: u64,
    /// Rows anonymised in all.
    anonymised: u64,
    /// What the store cannot reach (issues already delivered).
    note: String,
}

/// Every stored row holding the person's token.
#[derive(Serialize, ToSchema)]
pub struct ExportOut {
    /// `export`.
    request: String,
    /// The person's hash token.
    token: String,
    /// When it was made (RFC 3339).
    at: String,
    /// `{"application_logs": [row, …], …}`: every table searched, rows as JSON objects.
    tables: serde_json::Value,
}

/// The privacy audit.
#[utoipa::path(
    get,
    path = "/v1/privacy/report",
    tag = "privacy",
    params(
        ("since" = Option<String>, Query, description = "Days back, today included (default `30`), or a date `2026-11-01`"),
    ),
    responses(
        (status = 200, description = "Counts per day, source, entity and action", body = PrivacyReportOut),
        (status = 400, description = "Bad query", body = ErrorOut),
        (status = 401, description = "Missing or unknown API key", body = ErrorOut),
        (status = 403, description = "Needs role `service`", body = ErrorOut),
    ),
    security(("bearer" = []))
)]
fn privacy_report() {}

/// The month's AI and infrastructure spend (per day, feature, model, service), both forecasts
/// with their intervals, budget status per budget with its tier, unpriced models,
/// recommendations with their monthly savings and cost regressions at deploys. Roles `service`
/// and `authenticated`.
#[utoipa::path(
    get,
    path = "/v1/cost/summary",
    tag = "cost",
    params(
        ("month" = Option<String>, Query, description = "`YYYY-MM`; the current month (to the last complete day) by default"),
    ),
    responses(
        (status = 200, description = "The month's cost summary", body = CostSummaryOut),
        (status = 400, description = "Bad query", body = ErrorOut),
        (status = 401, description = "Missing or unknown API key", body = ErrorOut),
        (status = 403, description = "Needs role `service` or `authenticated`", body = ErrorOut),
    ),
    security(("bearer" = []))
)]
fn cost_summary() {}

/// Erases a person: deletes every telemetry row, request rollup, daily AI usage row and
/// embedding holding their hash token, replaces it by `[FORGOTTEN]` in findings and actions, in
/// one transaction, and records the request. Needs `TOKPULSE_GUARD_HMAC_SECRET` on the server and a `hash` policy for the type.
#[utoipa::path(
    post,
    path = "/v1/privacy/forget",
    tag = "privacy",
    request_body(content = SubjectIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Done; the receipt", body = ForgetReceiptOut),
        (status = 400, description = "The body is not JSON", body = ErrorOut),
        (status = 401, description = "Missing or unknown API key", body = ErrorOut),
        (status = 403, description = "Needs role `service`", body = ErrorOut),
        (status = 415, description = "Not `Content-Type: application/json`", body = ErrorOut),
        (status = 422, description = "Not a usable identifier, an unknown field, or a type no policy hashes (`not_hashed`: nothing stored is tied to the person)", body = ErrorOut),
        (status = 503, description = "No hashing key configured, or the store is unavailable", body = ErrorOut),
    ),
    security(("bearer" = []))
)]
fn privacy_forget() {}

/// Every stored row holding a person's hash token, grouped by table; the request is recorded.
#[utoipa::path(
    post,
    path = "/v1/privacy/export",
    tag = "privacy",
    request_body(content = SubjectIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The rows", body = ExportOut),
        (status = 400, description = "The body is not JSON", body = ErrorOut),
        (status = 401, description = "Missing or unknown API key", body = ErrorOut),
        (status = 403, description = "Needs role `service`", body = ErrorOut),
        (status = 415, description = "Not `Content-Type: application/json`", body = ErrorOut),
        (status = 422, description = "Not a usable identifier, an unknown field, or a type no policy hashes", body = ErrorOut),
        (status = 503, description = "No hashing key configured, or the store is unavailable", body = ErrorOut),
    ),
    security(("bearer" = []))
)]
fn privacy_export() {}

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
        ingest_ci_runs,
        ingest_infra_usage,
        findings,
        cost_summary,
        privacy_report,
        privacy_forget,
        privacy_export,
        healthz,
        openapi
    ),
    components(schemas(
        PerformanceIn,
        AiUsageIn,
        LogIn,
        DeployIn,
        CiRecordIn,
        CiRunIn,
        CiJobIn,
        InfraUsageIn,
        IngestReportOut,
        RejectionOut,
        ErrorOut,
        SubjectIn,
        CostSummaryOut,
        PrivacyReportOut,
        AuditRowOut,
        ForgetReceiptOut,
        TableOutcomeOut,
        ExportOut
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

    /// The CI schemas list exactly the fields the CI parser reads, with the same required-ness.
    #[test]
    fn ci_schemas_match_what_the_parser_reads() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for (schema, fields) in [
            ("CiRunIn", tokpulse_ingest::ci::RUN_FIELDS),
            ("CiJobIn", tokpulse_ingest::ci::JOB_FIELDS),
        ] {
            let mut read: Vec<String> = fields.iter().map(|(n, _)| n.to_string()).collect();
            read.sort_unstable();
            assert_eq!(properties(&doc, schema), read, "{schema}");
            let s = &doc["components"]["schemas"][schema];
            let mut required: Vec<&str> = s["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let mut must: Vec<&str> = fields.iter().filter(|f| f.1).map(|f| f.0).collect();
            required.sort_unstable();
            must.sort_unstable();
            assert_eq!(required, must, "{schema}");
        }
        assert_eq!(
            properties(&doc, "CiRecordIn"),
            ["repository", "workflow_job", "workflow_run"]
        );
    }

    /// `InfraUsageIn` lists exactly the fields the infra parser reads, with the same
    /// required-ness.
    #[test]
    fn infra_schema_matches_what_the_parser_reads() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut read: Vec<String> = tokpulse_ingest::infra::FIELDS
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        read.sort_unstable();
        assert_eq!(properties(&doc, "InfraUsageIn"), read);
        let mut required: Vec<&str> = doc["components"]["schemas"]["InfraUsageIn"]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let mut must: Vec<&str> = tokpulse_ingest::infra::FIELDS
            .iter()
            .filter(|f| f.1)
            .map(|f| f.0)
            .collect();
        required.sort_unstable();
        must.sort_unstable();
        assert_eq!(required, must);
    }

    /// `CostSummaryOut` documents exactly the fields a cost summary serialises to.
    #[test]
    fn cost_summary_schema_matches_the_answer() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let summary = crate::cost_run::summarize(
            &tokpulse_cost::CostConfig::default(),
            &crate::cost_run::CostInputs::default(),
            day,
        );
        let v = serde_json::to_value(&summary).unwrap();
        assert_eq!(properties(&doc, "CostSummaryOut"), keys(&v));
        assert!(doc["paths"]["/v1/cost/summary"]["get"].is_object());
    }

    fn properties(doc: &serde_json::Value, schema: &str) -> Vec<String> {
        let mut p: Vec<String> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("schema {schema}"))
            .keys()
            .cloned()
            .collect();
        p.sort_unstable();
        p
    }

    fn keys(v: &serde_json::Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort_unstable();
        k
    }

    /// The privacy answers documented are the ones the handlers send.
    #[test]
    fn privacy_schemas_match_the_answers() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap();
        let outcome = tokpulse_store::TableOutcome {
            table: "application_logs".into(),
            deleted: 1,
            anonymised: 0,
        };
        let receipt = serde_json::to_value(crate::subject::ForgetReceipt {
            request: "forget",
            token: "[EMAIL:0011223344556677]".into(),
            at,
            tables: vec![outcome.clone()],
            deleted: 1,
            anonymised: 0,
            note: crate::subject::OUTSIDE_THE_STORE,
        })
        .unwrap();
        assert_eq!(properties(&doc, "ForgetReceiptOut"), keys(&receipt));
        assert_eq!(
            properties(&doc, "TableOutcomeOut"),
            keys(&serde_json::to_value(&outcome).unwrap())
        );
        let export = serde_json::to_value(crate::subject::Export {
            request: "export",
            token: "[EMAIL:0011223344556677]".into(),
            at,
            tables: Default::default(),
        })
        .unwrap();
        assert_eq!(properties(&doc, "ExportOut"), keys(&export));
        let row = tokpulse_store::AuditRow {
            day: at.date_naive(),
            source: "logs".into(),
            entity: "EMAIL".into(),
            action: "hashed".into(),
            count: 2,
        };
        let report = crate::privacy::report_json(at.date_naive(), &[row]);
        assert_eq!(properties(&doc, "PrivacyReportOut"), keys(&report));
        assert_eq!(properties(&doc, "AuditRowOut"), keys(&report["rows"][0]));
        assert_eq!(properties(&doc, "SubjectIn"), ["email", "type", "value"]);
    }
}
