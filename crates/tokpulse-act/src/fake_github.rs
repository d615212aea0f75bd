//! A local GitHub stand-in for tests (feature `testing`): the REST calls the GitHub sink makes,
//! checked the way GitHub checks them, with issues and comments kept in memory, and failures
//! on demand (5xx, 429 with `Retry-After`, a 403 secondary rate limit, a hang).
//!
//! What it checks, as GitHub does (`../shared/datasets/github/rest-subset.json` describes these
//! operations): the `Authorization` header (`Bearer <token>` or `token <token>`, else 401 "Bad
//! credentials"), a `User-Agent` (else 403), the repository in the path (else 404), the JSON
//! body of each write (`title` a non-empty string; `labels` strings or `{name}` objects; `state`
//! `open`|`closed`; `state_reason` one of GitHub's values; comment `body` non-empty; else 422
//! "Validation Failed"), and `per_page` ≤ 100.
// Handlers return the error answer itself; its size does not matter in a test stand-in.
#![allow(clippy::result_large_err)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A failure the stand-in answers the next request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// This status with GitHub's JSON error body.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    TooManyRequests {
        /// Seconds.
        retry_after: u64,
    },
    /// 403 "You have exceeded a secondary rate limit", without headers.
    SecondaryRateLimit,
    /// No answer for this long.
    Hang(Duration),
}

/// An issue as the stand-in keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeIssue {
    /// Its number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Label names.
    pub labels: Vec<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Comment bodies, oldest first.
    pub comments: Vec<String>,
}

#[derive(Debug, Default)]
struct Inner {
    issues: Vec<FakeIssue>,
    failures: VecDeque<Failure>,
    /// `METHOD path` of every request that passed the checks.
    log: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    owner: String,
    repo: String,
    token: String,
    inner: Arc<Mutex<Inner>>,
}

/// The running stand-in.
pub struct FakeGithub {
    /// Its base URL (`http://127.0.0.1:PORT`), to give the client as the API URL.
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGithub {
    /// Starts a stand-in for `owner/repo` that accepts `token`.
    pub async fn start(owner: &str, repo: &str, token: &str) -> FakeGithub {
        let shared = Shared {
            owner: owner.into(),
            repo: repo.into(),
            token: token.into(),
            inner: Arc::default(),
        };
        let app = Router::new()
            .route(
                "/repos/{owner}/{repo}/issues",
                get(list_issues).post(create_issue),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}",
                get(get_issue).patch(update_issue),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                get(list_comments).post(create_comment),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the GitHub stand-in on loopback");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGithub { url, shared, task }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers the next request with `failure` (queued after earlier ones).
    pub fn fail_next(&self, failure: Failure) {
        self.inner().failures.push_back(failure);
    }

    /// Every issue, by number.
    pub fn issues(&self) -> Vec<FakeIssue> {
        self.inner().issues.clone()
    }

    /// Every request that passed the checks, as `METHOD path`.
    pub fn requests(&self) -> Vec<String> {
        self.inner().log.clone()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
        })),
    )
        .into_response()
}

fn invalid(field: &str, code: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({
            "message": "Validation Failed",
            "errors": [{ "resource": "Issue", "field": field, "code": code }],
            "documentation_url": "https://docs.github.com/rest/issues/issues",
        })),
    )
        .into_response()
}

/// The checks every request passes, and queued failures. `Err` is the answer to send.
async fn admit(
    s: &Shared,
    headers: &HeaderMap,
    owner: &str,
    repo: &str,
    line: String,
) -> Result<(), Response> {
    let failure = s
        .inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .failures
        .pop_front();
    match failure {
        Some(Failure::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(error(status, "Server Error"));
        }
        Some(Failure::TooManyRequests { retry_after }) => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded");
            r.headers_mut().insert(
                "retry-after",
                retry_after
                    .to_string()
                    .parse()
                    .expect("digits are a header value"),
            );
            return Err(r);
        }
        Some(Failure::SecondaryRateLimit) => {
            return Err(error(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            ));
        }
        Some(Failure::Hang(d)) => {
            tokio::time::sleep(d).await;
            return Err(error(StatusCode::GATEWAY_TIMEOUT, "timed out"));
        }
        None => {}
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let presented = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "));
    if presented != Some(s.token.as_str()) {
        return Err(error(StatusCode::UNAUTHORIZED, "Bad credentials"));
    }
    if headers.get("user-agent").is_none() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        ));
    }
    if owner != s.owner || repo != s.repo {
        return Err(error(StatusCode::NOT_FOUND, "Not Found"));
    }
    s.inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .log
        .push(line);
    Ok(())
}

fn issue_json(s: &Shared, i: &FakeIssue) -> Value {
    json!({
        "number": i.number,
        "title": i.title,
        "body": i.body,
        "state": i.state,
        "labels": i.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        "comments": i.comments.len(),
        "html_url": format!("https://github.example/{}/{}/issues/{}", s.owner, s.repo, i.number),
        "url": format!("/repos/{}/{}/issues/{}", s.owner, s.repo, i.number),
    })
}

fn parse_body(body: &Bytes) -> Result<serde_json::Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(error(StatusCode::BAD_REQUEST, "Problems parsing JSON")),
    }
}

fn labels_of(v: Option<&Value>) -> Result<Option<Vec<String>>, Response> {
    match v {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|l| match l {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                Value::Object(o) => o
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| invalid("labels", "invalid")),
                _ => Err(invalid("labels", "invalid")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(invalid("labels", "invalid")),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    labels: Option<String>,
    per_page: Option<usize>,
    page: Option<usize>,
}

async fn list_issues(
    State(s): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(
        &s,
        &headers,
        &owner,
        &repo,
        format!("GET /repos/{owner}/{repo}/issues"),
    )
    .await
    {
        return r;
    }
    let per_page = q.per_page.unwrap_or(30);
    if per_page == 0 || per_page > 100 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "per_page must be between 1 and 100",
        );
    }
    let state = q.state.unwrap_or_else(|| "open".into());
    let wanted: Vec<String> = q
        .labels
        .map(|l| l.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let inner = s.inner.lock().unwrap_or_else(PoisonError::into_inner);
    let mut matching: Vec<&FakeIssue> = inner
        .issues
        .iter()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| wanted.iter().all(|w| i.labels.contains(w)))
        .collect();
    // GitHub's default order: newest first.
    matching.reverse();
    let page = q.page.unwrap_or(1).max(1);
    let items: Vec<Value> = matching
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|i| issue_json(&s, i))
        .collect();
    axum::Json(Value::Array(items)).into_response()
}

async fn create_issue(
    State(s): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(
        &s,
        &headers,
        &owner,
        &repo,
        format!("POST /repos/{owner}/{repo}/issues"),
    )
    .await
    {
        return r;
    }
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let title = match body.get("title") {
        Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
        _ => return invalid("title", "missing_field"),
    };
    let labels = match labels_of(body.get("labels")) {
        Ok(l) => l.unwrap_or_default(),
        Err(r) => return r,
    };
    let text = match body.get("body") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(b)) => b.clone(),
        Some(_) => return invalid("body", "invalid"),
    };
    let mut inner = s.inner.lock().unwrap_or_else(PoisonError::into_inner);
    let issue = FakeIssue {
        number: inner.issues.len() as u64 + 1,
        title,
        body: text,
        labels,
        state: "open".into(),
        comments: Vec::new(),
    };
    let out = issue_json(&s, &issue);
    inner.issues.push(issue);
    (StatusCode::CREATED, axum::Json(out)).into_response()
}

async fn get_issue(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(
        &s,
        &headers,
        &owner,
        &repo,
        format!("GET /repos/{owner}/{repo}/issues/{number}"),
    )
    .await
    {
        return r;
    }
    let inner = s.inner.lock().unwrap_or_else(PoisonError::into_inner);
    match inner.issues.iter().find(|i| i.number == number) {
        Some(i) => axum::Json(issue_json(&s, i)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn update_issue(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(
        &s,
        &headers,
        &owner,
        &repo,
        format!("PATCH /repos/{owner}/{repo}/issues/{number}"),
    )
    .await
    {
        return r;
    }
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let state = match body.get("state") {
        None => None,
        Some(Value::String(st)) if st == "open" || st == "closed" => Some(st.clone()),
        Some(_) => return invalid("state", "invalid"),
    };
    match body.get("state_reason") {
        None | Some(Value::Null) => {}
        Some(Value::String(r))
            if ["completed", "not_planned", "reopened", "duplicate"].contains(&r.as_str()) => {}
        Some(_) => return invalid("state_reason", "invalid"),
    }
    let labels = match labels_of(body.get("labels")) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let mut inner = s.inner.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(issue) = inner.issues.iter_mut().find(|i| i.number == number) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if let Some(st) = state {
        issue.state = st;
    }
    if let Some(l) = labels {
        issue.labels = l;
    }
    if let Some(Value::String(t)) = body.get("title") {
        issue.title = t.clone();
    }
    if let Some(Value::String(b)) = body.get("body") {
        issue.body = b.clone();
    }
    let out = issue_json(&s, issue);
    axum::Json(out).into_response()
}

async fn list_comments(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(
        &s,
        &headers,
        &owner,
        &repo,
        format!("GET /repos/{owner}/{repo}/issues/{number}/comments"),
    )
    .await
    {
        return r;
    }
    let inner = s.inner.lock().unwrap_or_else(PoisonError::into_inner);
    match inner.issues.iter().find(|i| i.number == number) {
        Some(i) => axum::Json(
            i.comments
                .iter()
                .enumerate()
                .map(|(n, b)| json!({ "id": n + 1, "body": b }))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn create_comment(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(
        &s,
        &headers,
        &owner,
        &repo,
        format!("POST /repos/{owner}/{repo}/issues/{number}/comments"),
    )
    .await
    {
        return r;
    }
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let text = match body.get("body") {
        Some(Value::String(b)) if !b.trim().is_empty() => b.clone(),
        _ => return invalid("body", "missing_field"),
    };
    let mut inner = s.inner.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(issue) = inner.issues.iter_mut().find(|i| i.number == number) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    issue.comments.push(text.clone());
    let id = issue.comments.len();
    (
        StatusCode::CREATED,
        axum::Json(json!({ "id": id, "body": text })),
    )
        .into_response()
}
