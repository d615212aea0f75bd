//! Pulling usage from Vercel's billing API, against a local stand-in that answers as
//! `GET /v1/billing/charges` is documented (`shared/datasets/vercel/README.md`): a bearer
//! token, `from` and `to` as UTC date-times (`to` exclusive, at most a year apart), `teamId`,
//! FOCUS rows as JSONL; failures on demand.

use crate::common::{TestCommand, serve_loopback, shared};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokpulse::vercel_usage::{VercelConfig, VercelUsage};
use tokpulse_core::Timestamp;
use tokpulse_store::{Store, StoreTarget};

const TOKEN: &str = "vercel-test-token";
const TEAM: &str = "team_a1B2c3D4e5F6g7H8i9J0kLmN";

/// What the stand-in answers next instead of the charges.
#[derive(Clone, Copy)]
enum Failure {
    Status(u16, Option<u64>),
    Hang,
}

#[derive(Default)]
struct Inner {
    /// Every request's query, in order.
    requests: Vec<HashMap<String, String>>,
    failures: VecDeque<Failure>,
}

#[derive(Clone)]
struct Shared {
    rows: Arc<Vec<serde_json::Value>>,
    inner: Arc<Mutex<Inner>>,
}

struct FakeVercel {
    url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeVercel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn utc(s: &str) -> Option<Timestamp> {
    s.ends_with('Z')
        .then(|| chrono::DateTime::parse_from_rfc3339(s).ok())
        .flatten()
        .map(|t| t.to_utc())
}

async fn charges(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let failure = {
        let mut inner = shared.inner.lock().unwrap();
        inner.requests.push(query.clone());
        inner.failures.pop_front()
    };
    match failure {
        Some(Failure::Hang) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Some(Failure::Status(status, retry_after)) => {
            let status = StatusCode::from_u16(status).unwrap();
            let mut r = error(status, "failure", "injected failure");
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, s.to_string().parse().unwrap());
            }
            return r;
        }
        None => {}
    }
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {TOKEN}"))
    {
        return error(StatusCode::FORBIDDEN, "forbidden", "Not authorized");
    }
    if headers.get(header::USER_AGENT).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "User-Agent is required",
        );
    }
    if query.get("teamId").is_some_and(|t| t != TEAM) {
        return error(StatusCode::FORBIDDEN, "forbidden", "Not authorized");
    }
    let (Some(from), Some(to)) = (
        query.get("from").and_then(|s| utc(s)),
        query.get("to").and_then(|s| utc(s)),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Invalid request: `from` and `to` must be ISO 8601 date-times in UTC",
        );
    };
    if to <= from || to - from > chrono::TimeDelta::days(366) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Invalid request: the range must be positive and at most one year",
        );
    }
    let body: String = shared
        .rows
        .iter()
        .filter(|r| {
            r["ChargePeriodStart"]
                .as_str()
                .and_then(utc)
                .is_some_and(|t| t >= from && t < to)
        })
        .map(|r| format!("{r}\n"))
        .collect();
    ([(header::CONTENT_TYPE, "application/jsonl")], body).into_response()
}

impl FakeVercel {
    /// Serves `rows` (FOCUS rows) by their charge period.
    async fn start(rows: Vec<serde_json::Value>) -> FakeVercel {
        let shared = Shared {
            rows: Arc::new(rows),
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/v1/billing/charges", get(charges))
            .with_state(shared.clone());
        let (url, task) = serve_loopback(app).await;
        FakeVercel { url, shared, task }
    }

    fn fail_next(&self, f: Failure) {
        self.shared.inner.lock().unwrap().failures.push_back(f);
    }

    fn requests(&self) -> Vec<HashMap<String, String>> {
        self.shared.inner.lock().unwrap().requests.clone()
    }
}

/// The documented example's rows (24 November), and the same day's usage for 22 and 23
/// November, and for 25 November (not complete on the 25th).
fn rows() -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(shared().join("datasets/vercel/billing/charges.constructed.jsonl"))
            .unwrap();
    let example: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut out = Vec::new();
    for day in [22, 23, 24, 25] {
        for r in &example {
            let mut r = r.clone();
            r["ChargePeriodStart"] = format!("2026-11-{day}T00:00:00Z").into();
            r["ChargePeriodEnd"] = format!("2026-11-{}T00:00:00Z", day + 1).into();
            out.push(r);
        }
    }
    out
}

fn config(url: &str) -> VercelConfig {
    VercelConfig {
        enabled: true,
        team_id: TEAM.into(),
        api_url: url.into(),
        plan: "pro".into(),
        timeout_secs: 1,
        ..VercelConfig::default()
    }
}

fn env(token: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("TOKPULSE_VERCEL_TOKEN".to_string(), token.to_string())])
}

fn at(s: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

async fn store(dir: &std::path::Path) -> Arc<dyn Store> {
    tokpulse::app::open_store(&StoreTarget::Sqlite {
        data_dir: dir.to_path_buf(),
    })
    .await
    .unwrap()
}

/// The stand-in, a SQLite store in a temporary folder, and a client with `token`.
async fn pulling_with(token: &str) -> (FakeVercel, tempfile::TempDir, Arc<dyn Store>, VercelUsage) {
    let vercel = FakeVercel::start(rows()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let client = VercelUsage::new(&config(&vercel.url), &env(token)).unwrap();
    (vercel, dir, store, client)
}

#[tokio::test]
async fn complete_days_are_pulled_once_and_priced_with_the_plan() {
    let (vercel, _dir, store, client) = pulling_with(TOKEN).await;
    let now = at("2026-11-25T10:00:00Z");
    let report = client.pull(store.as_ref(), now).await.unwrap();
    // 22, 23 and 24 November: three metrics a day (invocations are left out).
    assert_eq!((report.rows, report.records, report.stored), (12, 9, 9));
    assert_eq!(report.left_out["Function Invocations"], 3);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let q = &vercel.requests()[0];
    assert_eq!(q["from"], "2026-11-22T00:00:00Z");
    assert_eq!(q["to"], "2026-11-25T00:00:00Z");
    assert_eq!(q["teamId"], TEAM);

    // Again an hour later: the same days, nothing stored twice.
    let again = client
        .pull(store.as_ref(), now + chrono::TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 9));
    let window = tokpulse_core::Window {
        start: at("2026-11-01T00:00:00Z"),
        end: at("2026-12-01T00:00:00Z"),
    };
    let stored = store.infra_usage(window).await.unwrap();
    assert_eq!(stored.len(), 9);
    let requests: f64 = stored
        .iter()
        .filter(|r| r.metric.as_str() == "requests")
        .map(|r| r.quantity)
        .sum();
    assert_eq!(requests, 3.0 * 2_950_112.0);
    assert!(
        stored
            .iter()
            .all(|r| r.plan.as_ref().unwrap().as_str() == "pro")
    );

    // The cost summary prices them with [cost.infra.vercel].
    let inputs = tokpulse::cost_run::load(store.as_ref(), at("2026-11-24T00:00:00Z").date_naive())
        .await
        .unwrap();
    let summary = tokpulse::cost_run::summarize(
        &tokpulse_cost::CostConfig::default(),
        &inputs,
        at("2026-11-24T00:00:00Z").date_naive(),
    );
    assert!(
        summary
            .infra
            .iter()
            .any(|l| l.provider == "vercel" && l.project == "webapp"),
        "{:?}",
        summary.infra
    );
    store.close().await;
}

#[tokio::test]
async fn rate_limits_server_errors_and_timeouts_are_retried() {
    let (vercel, _dir, store, client) = pulling_with(TOKEN).await;
    vercel.fail_next(Failure::Status(429, Some(1)));
    vercel.fail_next(Failure::Status(502, None));
    vercel.fail_next(Failure::Hang);
    let report = client
        .pull(store.as_ref(), at("2026-11-25T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(report.stored, 9);
    assert_eq!(
        vercel.requests().len(),
        4,
        "three failures, then the answer"
    );

    // A rate limit longer than a minute is not waited for.
    vercel.fail_next(Failure::Status(429, Some(600)));
    let err = client
        .pull(store.as_ref(), at("2026-11-25T10:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("rate limited for 600 s"),
        "{err:#}"
    );

    // Four server errors in a row fail the pull, saying what the last one was.
    for _ in 0..4 {
        vercel.fail_next(Failure::Status(500, None));
    }
    let err = client
        .pull(store.as_ref(), at("2026-11-25T10:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("failed 4 times; the last: 500"),
        "{err:#}"
    );
    store.close().await;
}

#[tokio::test]
async fn a_refused_token_or_a_missing_one_says_what_to_do() {
    let (vercel, _dir, store, client) = pulling_with("wrong").await;
    let err = client
        .pull(store.as_ref(), at("2026-11-25T10:00:00Z"))
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("403 Forbidden: Not authorized"), "{msg}");
    assert!(msg.contains("Billing or Enterprise Viewer"), "{msg}");
    assert_eq!(vercel.requests().len(), 1, "a refusal is not retried");

    let err = VercelUsage::new(&config(&vercel.url), &BTreeMap::new())
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("$TOKPULSE_VERCEL_TOKEN is not set"),
        "{err:#}"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_pull_prints_what_it_stored() {
    let vercel = FakeVercel::start(rows()).await;
    let mut t = TestCommand::new();
    t.env.push(("TOKPULSE_VERCEL_TOKEN".into(), TOKEN.into()));
    t.env
        .push(("TOKPULSE_VERCEL_API_URL".into(), vercel.url.clone()));
    t.env.push(("TOKPULSE_VERCEL_TEAM_ID".into(), TEAM.into()));
    let t = Arc::new(t);
    let cmd = t.clone();
    let (stdout, _) =
        tokio::task::spawn_blocking(move || cmd.expect(&["cost", "pull", "--format", "json"], 0))
            .await
            .unwrap();
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // Whatever today is, the stand-in has no rows for the last three days.
    assert_eq!(report["stored"], 0, "{report}");
    let q = &vercel.requests()[0];
    let today = chrono::Utc::now().date_naive();
    assert_eq!(q["to"], format!("{today}T00:00:00Z"));
    assert_eq!(q["teamId"], TEAM);
}

#[tokio::test]
async fn the_cost_job_pulls_first_and_still_runs_when_the_pull_fails() {
    use tokpulse::scheduler::{Job, JobContext, jobs::Cost};
    let vercel = FakeVercel::start(rows()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let mut config = tokpulse::config::Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    config.vercel = self::config(&vercel.url);
    let app = tokpulse::app::App::new(&config, store.clone());
    let now = at("2026-11-25T10:00:00Z");
    let ctx = |token: &str| JobContext {
        store: store.clone(),
        engine: app.engine.clone(),
        config: Arc::new(config.clone()),
        clock: Arc::new(tokpulse::clock::ManualClock::new(now)),
        env: Arc::new(env(token)),
    };
    let summary = Cost.run(&ctx(TOKEN), now).await.unwrap();
    assert!(
        summary.starts_with("vercel: 9 usage records stored (0 already); "),
        "{summary}"
    );
    let predictions = store.cost_predictions(100).await.unwrap().len();
    assert!(predictions > 0);

    // A refused token fails the job, after the cost run has run without the new usage.
    let err = Cost.run(&ctx("wrong"), now).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("forecasts stored"), "{msg}");
    assert!(msg.contains("the Vercel usage pull failed"), "{msg}");
    assert!(store.cost_predictions(100).await.unwrap().len() > predictions);
    store.close().await;
}
