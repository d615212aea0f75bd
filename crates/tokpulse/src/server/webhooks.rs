//! Webhook receivers: `POST /webhooks/github` and `POST /webhooks/vercel`.
//!
//! Each verifies the sender's signature over the raw body before reading anything else:
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body with the secret in
//!   `$TOKPULSE_GITHUB_WEBHOOK_SECRET`;
//! - Vercel: `x-vercel-signature: <hex>`, HMAC-SHA1 of the body with the secret in
//!   `$TOKPULSE_VERCEL_WEBHOOK_SECRET`.
//!
//! Both comparisons are constant-time (`Mac::verify_slice`). Then the payload becomes the same
//! records the ingest API takes: `workflow_run`/`workflow_job` → CI runs and jobs
//! (`tokpulse_ingest::ci`), a successful `deployment_status` or Vercel `deployment.succeeded` →
//! a deploy; both pass the privacy guard and are stored like ingested ones. What happened is
//! then handed to the scheduler as an [`AutomationEvent`] (a deploy schedules a diagnosis run
//! after its settle window, a finished CI job runs diagnosis, a pull request runs the PR checks).
//!
//! Answers:
//!
//! | case | status | body |
//! | --- | --- | --- |
//! | the receiver's secret is not set | 503 | `not_configured` |
//! | signature missing or wrong | 401 | `invalid_signature`; nothing is read or stored |
//! | payload not JSON, or a record is malformed | 400 | `malformed_payload` with the field and why |
//! | event type not handled | 202 | `{"status": "ignored"}`, and a log line |
//! | delivery id seen before | 200 | `{"status": "duplicate"}`; not processed again |
//! | processed | 200 | `{"status": "processed", …}` |
//!
//! The delivery id (`X-GitHub-Delivery`, or the `id` of Vercel's envelope) is recorded in the
//! store before processing and forgotten again if processing fails, so the sender's retry is
//! taken. GitHub's delivery header is not part of what it signs: a signed body replayed under a
//! new delivery id is processed again, but every record in it is stored by its own id (CI job id
//! and attempt, deployment id), so it adds nothing.

use crate::clock::SharedClock;
use crate::server::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{KeyInit, Mac};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;
use tokpulse_core::{CiConclusion, CiStatus, RecordKind, Timestamp};
use tokpulse_ingest::ci::{CiRecord, from_webhook};
use tokpulse_ingest::{Format, IngestError, IngestReport, Ingestor};
use tokpulse_store::Store;

/// The environment variable holding the GitHub webhook secret.
pub const ENV_GITHUB_SECRET: &str = "TOKPULSE_GITHUB_WEBHOOK_SECRET";
/// The environment variable holding the Vercel webhook secret.
pub const ENV_VERCEL_SECRET: &str = "TOKPULSE_VERCEL_WEBHOOK_SECRET";

/// The receivers' secrets; a receiver without one answers 503.
#[derive(Clone, Default)]
pub struct WebhookSecrets {
    github: Option<Arc<[u8]>>,
    vercel: Option<Arc<[u8]>>,
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSecrets")
            .field("github", &self.github.as_ref().map(|_| "<set>"))
            .field("vercel", &self.vercel.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl WebhookSecrets {
    /// Secrets as given (an empty one counts as absent).
    pub fn new(github: Option<&str>, vercel: Option<&str>) -> WebhookSecrets {
        let take = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(|s| Arc::from(s.as_bytes()));
        WebhookSecrets {
            github: take(github),
            vercel: take(vercel),
        }
    }

    /// From [`ENV_GITHUB_SECRET`] and [`ENV_VERCEL_SECRET`] in `env`.
    pub fn from_env(env: &BTreeMap<String, String>) -> WebhookSecrets {
        WebhookSecrets::new(
            env.get(ENV_GITHUB_SECRET).map(String::as_str),
            env.get(ENV_VERCEL_SECRET).map(String::as_str),
        )
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header.
    #[error("the signature header is missing")]
    Missing,
    /// Not of the expected shape (`sha256=` and 64 hex digits; 40 hex digits for Vercel).
    #[error("the signature header is malformed")]
    Malformed,
    /// Well formed, but not the body's signature with our secret.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks GitHub's `X-Hub-Signature-256` (`sha256=<hex>`) over `body`, in constant time.
pub fn verify_github(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_sig = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let sig = decode_hex(hex_sig, 32)?;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| SignatureError::Mismatch)
}

/// Checks Vercel's `x-vercel-signature` (hex HMAC-SHA1) over `body`, in constant time.
pub fn verify_vercel(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let sig = decode_hex(header.trim(), 20)?;
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| SignatureError::Mismatch)
}

/// GitHub's signature header for `body` (for tests, the demo and clients).
pub fn sign_github(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Vercel's signature header for `body` (for tests, the demo and clients).
pub fn sign_vercel(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn decode_hex(s: &str, len: usize) -> Result<Vec<u8>, SignatureError> {
    if s.len() != len * 2 {
        return Err(SignatureError::Malformed);
    }
    hex::decode(s).map_err(|_| SignatureError::Malformed)
}

/// What a webhook told the scheduler.
#[derive(Debug, Clone, PartialEq)]
pub enum AutomationEvent {
    /// A deploy went live: check it for regressions once it has settled.
    Deploy {
        /// The stored deploy's id.
        id: String,
        /// When it went live.
        at: Timestamp,
    },
    /// A CI job or run finished: look for failure patterns now.
    CiCompleted {
        /// Whether it failed.
        failed: bool,
        /// When the webhook was received.
        at: Timestamp,
    },
    /// A pull request was opened or updated: run the PR checks.
    PullRequest(PullRequestEvent),
}

/// A pull request opened or updated, as the PR checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    /// `owner/name`.
    pub repository: String,
    /// The pull request's number.
    pub number: u64,
    /// `opened`, `synchronize` or `reopened`.
    pub action: String,
    /// The head commit: where the commit status goes.
    pub head_sha: String,
    /// The head branch.
    pub head_ref: String,
    /// The base branch.
    pub base_ref: String,
    /// The title (not stored; checks may read it).
    pub title: String,
}

/// What the receivers share.
pub struct WebhookState {
    /// Records go through it: guard, then store.
    pub ingestor: Arc<Ingestor>,
    /// Where delivery ids are recorded.
    pub store: Arc<dyn Store>,
    /// The signing secrets.
    pub secrets: WebhookSecrets,
    /// The time deliveries are recorded at.
    pub clock: SharedClock,
    /// Where automation events go (the scheduler); a send to a closed channel is dropped.
    pub events: UnboundedSender<AutomationEvent>,
    /// Largest body accepted.
    pub max_body_bytes: usize,
}

/// The receivers' routes.
pub fn router(state: Arc<WebhookState>) -> Router {
    Router::new()
        .route("/webhooks/github", post(github))
        .route("/webhooks/vercel", post(vercel))
        .with_state(state)
}

fn not_configured(var: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_configured",
        format!("this receiver is off: set ${var} to the webhook's secret"),
    )
}

fn unauthorized(e: SignatureError) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string())
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_payload", message)
}

async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What a verified, parsed delivery asks for.
enum Plan {
    /// CI records: the body as the CI ingest takes it.
    Ci { failed: bool },
    /// A deploy record in the ingest API's shape.
    Deploy {
        record: Value,
        id: String,
        at: Timestamp,
    },
    /// A pull request for the PR checks.
    PullRequest(PullRequestEvent),
    /// Nothing to store (ping, push, a deployment that did not go live…): answered with `status`.
    Nothing {
        status: &'static str,
        reason: String,
    },
}

async fn github(
    State(s): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let secret = s
        .secrets
        .github
        .clone()
        .ok_or_else(|| not_configured(ENV_GITHUB_SECRET))?;
    let body = read_limited(body, s.max_body_bytes).await?;
    verify_github(&secret, &body, header(&headers, "x-hub-signature-256")).map_err(unauthorized)?;
    let event = header(&headers, "x-github-event")
        .ok_or_else(|| malformed("the X-GitHub-Event header is missing"))?
        .to_string();
    let delivery = header(&headers, "x-github-delivery")
        .filter(|d| !d.is_empty() && d.len() <= 200)
        .ok_or_else(|| malformed("the X-GitHub-Delivery header is missing"))?
        .to_string();
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| malformed(format!("the body is not JSON: {e}")))?;
    let plan = match event.as_str() {
        "workflow_run" | "workflow_job" => plan_ci(&payload)?,
        "deployment_status" => plan_github_deploy(&payload)?,
        "pull_request" => plan_pull_request(&payload)?,
        "ping" => Plan::Nothing {
            status: "pong",
            reason: "the webhook is set up".into(),
        },
        "push" => Plan::Nothing {
            status: "noted",
            reason: "pushes carry no record; deploys come as deployment_status".into(),
        },
        other => {
            tracing::info!(source = "github", event = other, %delivery, "webhook event ignored");
            return Ok(ignored(other));
        }
    };
    process(&s, "github", &event, &delivery, plan, &body).await
}

async fn vercel(
    State(s): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let secret = s
        .secrets
        .vercel
        .clone()
        .ok_or_else(|| not_configured(ENV_VERCEL_SECRET))?;
    let body = read_limited(body, s.max_body_bytes).await?;
    verify_vercel(&secret, &body, header(&headers, "x-vercel-signature")).map_err(unauthorized)?;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| malformed(format!("the body is not JSON: {e}")))?;
    let event = payload
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("type: expected the event type as a string"))?
        .to_string();
    let delivery = payload
        .get("id")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty() && d.len() <= 200)
        .ok_or_else(|| malformed("id: expected the delivery id as a string"))?
        .to_string();
    let plan = match event.as_str() {
        "deployment.succeeded" => plan_vercel_deploy(&payload)?,
        "deployment.created" | "deployment.error" | "deployment.canceled" => Plan::Nothing {
            status: "noted",
            reason: format!("{event}: no new version is serving, so there is nothing to check"),
        },
        other => {
            tracing::info!(source = "vercel", event = other, %delivery, "webhook event ignored");
            return Ok(ignored(other));
        }
    };
    process(&s, "vercel", &event, &delivery, plan, &body).await
}

fn ignored(event: &str) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "status": "ignored", "event": event })),
    )
        .into_response()
}

/// Records the delivery, carries out `plan`, hands on the event; forgets the delivery if
/// anything fails so the sender's retry is taken.
async fn process(
    s: &WebhookState,
    source: &str,
    event: &str,
    delivery: &str,
    plan: Plan,
    body: &[u8],
) -> Result<Response, ApiError> {
    let now = s.clock.now();
    if !s
        .store
        .record_webhook_delivery(source, delivery, event, now)
        .await?
    {
        tracing::info!(source, event, delivery, "webhook delivery already taken");
        return Ok((
            StatusCode::OK,
            Json(json!({ "status": "duplicate", "delivery": delivery })),
        )
            .into_response());
    }
    let outcome = carry_out(s, plan, body, now).await;
    match outcome {
        Ok((report, automation)) => {
            if let Some(e) = automation {
                // The scheduler may be gone during shutdown: the records are stored anyway.
                let _ = s.events.send(e);
            }
            tracing::info!(source, event, delivery, "webhook processed");
            Ok(Json(json!({
                "status": report.0,
                "event": event,
                "delivery": delivery,
                "detail": report.1,
            }))
            .into_response())
        }
        Err(e) => {
            if let Err(forget) = s.store.forget_webhook_delivery(source, delivery).await {
                tracing::warn!(source, delivery, error = %forget, "could not forget a failed delivery");
            }
            Err(e)
        }
    }
}

type Carried = ((&'static str, Value), Option<AutomationEvent>);

async fn carry_out(
    s: &WebhookState,
    plan: Plan,
    body: &[u8],
    now: Timestamp,
) -> Result<Carried, ApiError> {
    Ok(match plan {
        Plan::Ci { failed } => {
            let report = s.ingestor.ingest_ci(Format::Json, body).await?;
            (
                ("processed", report_json(&report)),
                Some(AutomationEvent::CiCompleted { failed, at: now }),
            )
        }
        Plan::Deploy { record, id, at } => {
            let bytes = serde_json::to_vec(&record).expect("a JSON value serialises");
            let report = s
                .ingestor
                .ingest(RecordKind::Deploys, Format::Json, &bytes)
                .await?;
            if let Some(r) = report.rejected.first() {
                return Err(malformed(format!(
                    "the deploy could not be stored: {}: {}",
                    r.field, r.reason
                )));
            }
            (
                ("processed", report_json(&report)),
                Some(AutomationEvent::Deploy { id, at }),
            )
        }
        Plan::PullRequest(pr) => (
            (
                "processed",
                json!({ "pull_request": pr.number, "checks": "queued" }),
            ),
            Some(AutomationEvent::PullRequest(pr)),
        ),
        Plan::Nothing { status, reason } => ((status, json!({ "reason": reason })), None),
    })
}

fn report_json(r: &IngestReport) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

/// `workflow_run` / `workflow_job`: the CI ingest's own parser decides what is malformed.
fn plan_ci(payload: &Value) -> Result<Plan, ApiError> {
    let record = from_webhook(payload).map_err(|p| {
        if p.field.is_empty() {
            malformed(p.reason)
        } else {
            malformed(format!("{}: {}", p.field, p.reason))
        }
    })?;
    let failed = match &record {
        CiRecord::Job(j) => {
            j.status == CiStatus::Completed && j.conclusion == Some(CiConclusion::Failure)
        }
        CiRecord::Run(r) => {
            r.status == CiStatus::Completed && r.conclusion == Some(CiConclusion::Failure)
        }
    };
    Ok(Plan::Ci { failed })
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn required<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, ApiError> {
    str_at(v, path)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed(format!("{}: expected a non-empty string", path.join("."))))
}

fn time_at(v: &Value, path: &[&str]) -> Result<Timestamp, ApiError> {
    let s = required(v, path)?;
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| {
            malformed(format!(
                "{}: expected an RFC 3339 time, got {s:?} ({e})",
                path.join(".")
            ))
        })
}

/// A label-safe version: the ref when it is one, else the commit's first 12 characters.
fn version_of(reference: Option<&str>, sha: Option<&str>, fallback: &str) -> String {
    match reference.filter(|r| tokpulse_core::Label::parse(r).is_ok()) {
        Some(r) => r.to_string(),
        None => sha
            .map(|s| s.chars().take(12).collect())
            .unwrap_or_else(|| fallback.to_string()),
    }
}

/// `deployment_status`: only `success` puts a new version live.
fn plan_github_deploy(payload: &Value) -> Result<Plan, ApiError> {
    let state = required(payload, &["deployment_status", "state"])?;
    if state != "success" {
        return Ok(Plan::Nothing {
            status: "noted",
            reason: format!("deployment state {state:?}: only \"success\" is a deploy"),
        });
    }
    let deployment = payload
        .get("deployment")
        .filter(|d| d.is_object())
        .ok_or_else(|| malformed("deployment: expected an object"))?;
    let deployment_id = match deployment.get("id") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(malformed("deployment.id: expected a number")),
    };
    let at = time_at(payload, &["deployment_status", "created_at"])?;
    let service = required(payload, &["repository", "name"])?;
    let environment = str_at(payload, &["deployment_status", "environment"])
        .or(str_at(deployment, &["environment"]))
        .unwrap_or("production");
    let sha = str_at(deployment, &["sha"]);
    let id = format!("github-deployment-{deployment_id}");
    let record = json!({
        "id": id,
        "timestamp": at.to_rfc3339(),
        "service": service,
        "environment": environment,
        "version": version_of(str_at(deployment, &["ref"]), sha, &deployment_id),
        "commit_sha": sha,
        "author": str_at(deployment, &["creator", "login"]),
        "description": str_at(deployment, &["description"]).filter(|d| !d.is_empty()),
    });
    Ok(Plan::Deploy { record, id, at })
}

/// Vercel `deployment.succeeded`: the envelope's `createdAt` (ms) is when it went live.
fn plan_vercel_deploy(payload: &Value) -> Result<Plan, ApiError> {
    let at = payload
        .get("createdAt")
        .and_then(Value::as_i64)
        .and_then(chrono::DateTime::from_timestamp_millis)
        .ok_or_else(|| malformed("createdAt: expected milliseconds since the epoch"))?;
    let p = payload
        .get("payload")
        .filter(|p| p.is_object())
        .ok_or_else(|| malformed("payload: expected an object"))?;
    let deployment_id = required(p, &["deployment", "id"])?;
    let service = str_at(p, &["deployment", "name"])
        .or(str_at(p, &["name"]))
        .or(str_at(p, &["project", "name"]))
        .or(str_at(p, &["project", "id"]))
        .ok_or_else(|| malformed("payload.deployment.name: expected the project's name"))?;
    let environment = str_at(p, &["target"]).unwrap_or("preview");
    let meta = p.get("deployment").and_then(|d| d.get("meta"));
    let meta_str = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
    let sha = meta_str("githubCommitSha");
    let id = format!("vercel-{deployment_id}");
    let record = json!({
        "id": id,
        "timestamp": at.to_rfc3339(),
        "service": service,
        "environment": environment,
        "version": version_of(None, sha, deployment_id),
        "commit_sha": sha,
        "author": meta_str("githubCommitAuthorLogin").or(meta_str("githubCommitAuthorName")),
        "description": meta_str("githubCommitMessage"),
    });
    Ok(Plan::Deploy { record, id, at })
}

/// `pull_request`: opened, synchronize and reopened run the checks; other actions are noted.
fn plan_pull_request(payload: &Value) -> Result<Plan, ApiError> {
    let action = required(payload, &["action"])?;
    if !matches!(action, "opened" | "synchronize" | "reopened") {
        return Ok(Plan::Nothing {
            status: "noted",
            reason: format!("pull_request {action:?}: the checks run on opened and synchronize"),
        });
    }
    let pr = payload
        .get("pull_request")
        .filter(|p| p.is_object())
        .ok_or_else(|| malformed("pull_request: expected an object"))?;
    let number = pr
        .get("number")
        .or(payload.get("number"))
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("pull_request.number: expected a number"))?;
    Ok(Plan::PullRequest(PullRequestEvent {
        repository: required(payload, &["repository", "full_name"])?.to_string(),
        number,
        action: action.to_string(),
        head_sha: required(pr, &["head", "sha"])?.to_string(),
        head_ref: str_at(pr, &["head", "ref"]).unwrap_or_default().to_string(),
        base_ref: str_at(pr, &["base", "ref"]).unwrap_or_default().to_string(),
        title: str_at(pr, &["title"]).unwrap_or_default().to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_signatures() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        let secret = b"It's a Secret to Everybody";
        let body = b"Hello, World!";
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign_github(secret, body), good);
        assert_eq!(verify_github(secret, body, Some(good)), Ok(()));
        assert_eq!(
            verify_github(b"another secret", body, Some(good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github(secret, b"Hello, World?", Some(good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github(secret, body, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_github(secret, body, Some("sha1=abc")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_github(secret, body, Some("sha256=zz")),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn vercel_signatures() {
        let secret = b"vercel-secret";
        let body = br#"{"type":"deployment.succeeded"}"#;
        let sig = sign_vercel(secret, body);
        assert_eq!(sig.len(), 40);
        assert_eq!(verify_vercel(secret, body, Some(&sig)), Ok(()));
        assert_eq!(
            verify_vercel(b"other", body, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_vercel(secret, body, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_vercel(secret, body, Some("not hex")),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn secrets_are_not_printed() {
        let s = WebhookSecrets::new(Some("hunter2"), None);
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(WebhookSecrets::new(Some(""), None).github.is_none());
    }
}
