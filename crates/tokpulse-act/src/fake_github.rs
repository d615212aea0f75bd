//! A local GitHub stand-in for tests (feature `testing`): the REST calls the GitHub sink makes,
//! checked the way GitHub checks them, with issues and comments kept in memory, and failures
//! on demand (5xx, 429 with `Retry-After`, a 403 secondary rate limit, a hang).
//!
//! Every REST request is first checked against GitHub's own description of these operations
//! (`../shared/datasets/github/rest-subset.json`, [`RestContract`]): an unknown method or path
//! is answered 404, a query parameter or body the description does not admit 422. Then, as
//! GitHub does: the `Authorization` header (`Bearer <token>` or `token <token>`, else 401 "Bad
//! credentials"), a `User-Agent` (else 403), the repository in the path (else 404), the JSON
//! body of each write (`title` a non-empty string; `labels` strings or `{name}` objects; `state`
//! `open`|`closed`; `state_reason` one of GitHub's values; comment `body` non-empty; else 422
//! "Validation Failed"), and `per_page` ≤ 100.
//!
//! Besides issues: pull requests (issues with a `pull_request` key, made with
//! [`FakeGithub::open_pull_request`]) and their comments, edited by id; a GitHub App
//! ([`FakeGithub::with_app`]) whose JWT is checked (RS256 signature with the app's public key,
//! `iss`, `iat`, `exp` against the stand-in's clock, which tests move with
//! [`FakeGithub::advance`]) and which mints installation tokens that expire; and the GraphQL
//! endpoint for Discussions (`repository` with its categories, its discussions or one by
//! number, `node`,
//! `createDiscussion`, `addDiscussionComment`), dispatched on the query's first field, with its
//! variables checked.
// Handlers return the error answer itself; its size does not matter in a test stand-in.
#![allow(clippy::result_large_err)]

use crate::rest_contract::{RestContract, Violation};
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
    /// The request is carried out, then answered with this status instead of its result: what
    /// a client sees when the answer is lost on the way back (a proxy's 502, a reset).
    Lost(u16),
}

/// Failures drawn at random for every request ([`FakeGithub::fail_at_random`]).
#[derive(Debug)]
struct Chaos {
    /// SplitMix64 state: the same seed gives the same sequence of draws.
    state: u64,
    rate: f64,
    kinds: Vec<Failure>,
}

impl Chaos {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn draw(&mut self) -> Option<Failure> {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        if self.kinds.is_empty() || unit >= self.rate {
            return None;
        }
        let i = usize::try_from(self.next() % self.kinds.len() as u64).unwrap_or(0);
        self.kinds.get(i).cloned()
    }
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
    /// Comment ids, in the same order.
    pub comment_ids: Vec<u64>,
    /// Whether it is a pull request.
    pub pull_request: bool,
}

/// A discussion as the stand-in keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeDiscussion {
    /// Its node id.
    pub id: String,
    /// Its number.
    pub number: u64,
    /// The category's node id.
    pub category_id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Comment bodies, oldest first.
    pub comments: Vec<String>,
}

/// A request that passed the checks: what the sinks asked GitHub.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `GET`, `POST`…
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string's pairs.
    pub query: Vec<(String, String)>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

#[derive(Debug, Clone)]
struct App {
    id: String,
    key: jsonwebtoken::DecodingKey,
    installation: u64,
    lifetime: chrono::TimeDelta,
}

#[derive(Debug, Default)]
struct Inner {
    issues: Vec<FakeIssue>,
    discussions: Vec<FakeDiscussion>,
    next_comment: u64,
    failures: VecDeque<Failure>,
    chaos: Option<Chaos>,
    /// Failures answered, queued or drawn.
    failed: u64,
    /// `METHOD path` of every request that passed the checks.
    log: Vec<String>,
    calls: Vec<Call>,
    /// Requests GitHub's description does not admit, with the reason.
    violations: Vec<String>,
    /// Installation tokens issued, with their expiry.
    tokens: Vec<(String, chrono::DateTime<chrono::Utc>)>,
    skew: chrono::TimeDelta,
    app: Option<App>,
    statuses: Vec<FakeStatus>,
}

/// A commit status as the stand-in keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStatus {
    /// The commit.
    pub sha: String,
    /// `error`, `failure`, `pending` or `success`.
    pub state: String,
    /// The status's name.
    pub context: String,
    /// Its one-line description.
    pub description: String,
}

#[derive(Clone)]
struct Shared {
    owner: String,
    repo: String,
    token: String,
    inner: Arc<Mutex<Inner>>,
    contract: Option<Arc<RestContract>>,
}

/// Discussion categories of the stand-in's repository: (id, name, slug).
pub const CATEGORIES: [(&str, &str, &str); 3] = [
    ("DIC_kwDOgeneral", "General", "general"),
    ("DIC_kwDOannounce", "Announcements", "announcements"),
    ("DIC_kwDObudget", "Budget", "budget"),
];
/// The stand-in repository's node id.
pub const REPOSITORY_ID: &str = "R_kgDOfake";

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.lock().skew
    }
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
            contract: RestContract::bundled().map(Arc::new),
        };
        let app = Router::new()
            .route("/graphql", axum::routing::post(graphql))
            .route(
                "/app/installations/{id}/access_tokens",
                axum::routing::post(mint_token),
            )
            .route("/repos/{owner}/{repo}/installation", get(get_installation))
            .route(
                "/repos/{owner}/{repo}/issues/comments/{id}",
                get(get_comment).patch(update_comment),
            )
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
            .route(
                "/repos/{owner}/{repo}/statuses/{sha}",
                axum::routing::post(create_status),
            )
            .layer(axum::middleware::from_fn_with_state(shared.clone(), record))
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

    /// Makes the stand-in a GitHub App's: `app_id`, its public key (PEM), installed on the
    /// repository as `installation`, minting tokens valid for `lifetime`.
    pub fn with_app(
        &self,
        app_id: &str,
        public_key_pem: &[u8],
        installation: u64,
        lifetime: chrono::TimeDelta,
    ) {
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_key_pem)
            .expect("a test's public key is valid PEM");
        self.inner().app = Some(App {
            id: app_id.into(),
            key,
            installation,
            lifetime,
        });
    }

    /// Moves the stand-in's clock forward (token expiry, JWT checks).
    pub fn advance(&self, by: chrono::TimeDelta) {
        self.inner().skew += by;
    }

    /// Revokes every installation token minted so far (as uninstalling and reinstalling does).
    pub fn revoke_tokens(&self) {
        for t in self.inner().tokens.iter_mut() {
            t.1 = chrono::DateTime::<chrono::Utc>::MIN_UTC;
        }
    }

    /// Installation tokens minted so far.
    pub fn tokens_minted(&self) -> usize {
        self.inner().tokens.len()
    }

    /// Opens a pull request (an issue with a `pull_request` key); its number.
    pub fn open_pull_request(&self, title: &str) -> u64 {
        let mut inner = self.inner();
        let number = inner.issues.len() as u64 + 1;
        inner.issues.push(FakeIssue {
            number,
            title: title.into(),
            body: String::new(),
            labels: Vec::new(),
            state: "open".into(),
            comments: Vec::new(),
            comment_ids: Vec::new(),
            pull_request: true,
        });
        number
    }

    /// Every discussion.
    pub fn discussions(&self) -> Vec<FakeDiscussion> {
        self.inner().discussions.clone()
    }

    /// Whether the REST checks come from GitHub's description
    /// ([`rest_contract::DEFAULT_PATH`](crate::rest_contract::DEFAULT_PATH)).
    pub fn checks_contract(&self) -> bool {
        self.shared.contract.is_some()
    }

    /// REST requests GitHub's description does not admit (answered 404 or 422).
    pub fn violations(&self) -> Vec<String> {
        self.inner().violations.clone()
    }

    /// Every REST request received, with query and body.
    pub fn calls(&self) -> Vec<Call> {
        self.inner().calls.clone()
    }

    /// Answers the next request with `failure` (queued after earlier ones).
    pub fn fail_next(&self, failure: Failure) {
        self.inner().failures.push_back(failure);
    }

    /// From now on answers each request, with probability `rate`, with one of `kinds` picked
    /// at random instead (queued [`fail_next`](Self::fail_next) failures come first). The draws
    /// come from a generator seeded with `seed`, so a run can be replayed.
    pub fn fail_at_random(&self, seed: u64, rate: f64, kinds: Vec<Failure>) {
        self.inner().chaos = Some(Chaos {
            state: seed,
            rate,
            kinds,
        });
    }

    /// Stops failing at random.
    pub fn stop_failing(&self) {
        self.inner().chaos = None;
    }

    /// How many requests were answered with a failure (queued or drawn at random).
    pub fn failures_answered(&self) -> u64 {
        self.inner().failed
    }

    /// Every issue (pull requests left out), by number.
    pub fn issues(&self) -> Vec<FakeIssue> {
        self.inner()
            .issues
            .iter()
            .filter(|i| !i.pull_request)
            .cloned()
            .collect()
    }

    /// Every commit status created, oldest first.
    pub fn statuses(&self) -> Vec<FakeStatus> {
        self.inner().statuses.clone()
    }

    /// Every pull request, by number.
    pub fn pull_requests(&self) -> Vec<FakeIssue> {
        self.inner()
            .issues
            .iter()
            .filter(|i| i.pull_request)
            .cloned()
            .collect()
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

/// The answer to a failure that is given instead of carrying the request out; `None` for no
/// failure and for [`Failure::Lost`] (carried out first, by [`record`]).
async fn fail_before(failure: Option<Failure>) -> Option<Response> {
    match failure? {
        Failure::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(error(status, "Server Error"))
        }
        Failure::TooManyRequests { retry_after } => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded");
            r.headers_mut().insert(
                "retry-after",
                retry_after
                    .to_string()
                    .parse()
                    .expect("digits are a header value"),
            );
            Some(r)
        }
        Failure::SecondaryRateLimit => Some(error(
            StatusCode::FORBIDDEN,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        )),
        Failure::Hang(d) => {
            tokio::time::sleep(d).await;
            Some(error(StatusCode::GATEWAY_TIMEOUT, "timed out"))
        }
        Failure::Lost(_) => None,
    }
}

/// The checks every request passes, and queued failures. `Err` is the answer to send.
async fn admit(
    s: &Shared,
    headers: &HeaderMap,
    owner: &str,
    repo: &str,
    line: String,
) -> Result<(), Response> {
    let failure = {
        let mut inner = s.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let failure = inner.failures.pop_front();
        inner.failed += u64::from(failure.is_some());
        failure
    };
    debug_assert!(
        !matches!(failure, Some(Failure::Lost(_))),
        "taken by `record`"
    );
    if let Some(answer) = fail_before(failure).await {
        return Err(answer);
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let presented = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "));
    let now = s.now();
    let installation = s
        .lock()
        .tokens
        .iter()
        .any(|(t, expires)| Some(t.as_str()) == presented && *expires > now);
    if presented != Some(s.token.as_str()) && !installation {
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
        "pull_request": if i.pull_request {
            json!({ "url": format!("/repos/{}/{}/pulls/{}", s.owner, s.repo, i.number) })
        } else {
            Value::Null
        },
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
        comment_ids: Vec::new(),
        pull_request: false,
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

#[derive(Deserialize)]
struct PageQuery {
    per_page: Option<usize>,
    page: Option<usize>,
}

fn comment_json(s: &Shared, i: &FakeIssue, idx: usize) -> Value {
    let kind = if i.pull_request { "pull" } else { "issues" };
    json!({
        "id": i.comment_ids[idx],
        "body": i.comments[idx],
        "html_url": format!(
            "https://github.example/{}/{}/{kind}/{}#issuecomment-{}",
            s.owner, s.repo, i.number, i.comment_ids[idx]
        ),
        "issue_url": format!("/repos/{}/{}/issues/{}", s.owner, s.repo, i.number),
    })
}

async fn list_comments(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Query(q): Query<PageQuery>,
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
    let per_page = q.per_page.unwrap_or(30);
    if per_page == 0 || per_page > 100 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "per_page must be between 1 and 100",
        );
    }
    let page = q.page.unwrap_or(1).max(1);
    let inner = s.lock();
    match inner.issues.iter().find(|i| i.number == number) {
        Some(i) => axum::Json(
            (0..i.comments.len())
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|n| comment_json(&s, i, n))
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
    let mut inner = s.lock();
    inner.next_comment += 1;
    let id = inner.next_comment;
    let Some(issue) = inner.issues.iter_mut().find(|i| i.number == number) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    issue.comments.push(text);
    issue.comment_ids.push(id);
    let out = comment_json(&s, issue, issue.comments.len() - 1);
    (StatusCode::CREATED, axum::Json(out)).into_response()
}

async fn create_status(
    State(s): State<Shared>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(
        &s,
        &headers,
        &owner,
        &repo,
        format!("POST /repos/{owner}/{repo}/statuses/{sha}"),
    )
    .await
    {
        return r;
    }
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let state = match body.get("state").and_then(Value::as_str) {
        Some(st @ ("error" | "failure" | "pending" | "success")) => st.to_string(),
        _ => return invalid("state", "invalid"),
    };
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let status = FakeStatus {
        sha: sha.clone(),
        state: state.clone(),
        context: if text("context").is_empty() {
            "default".into()
        } else {
            text("context")
        },
        description: text("description"),
    };
    let out = serde_json::json!({
        "id": s.lock().statuses.len() + 1,
        "state": status.state,
        "context": status.context,
        "description": status.description,
    });
    s.lock().statuses.push(status);
    (StatusCode::CREATED, axum::Json(out)).into_response()
}

async fn get_comment(
    State(s): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(
        &s,
        &headers,
        &owner,
        &repo,
        format!("GET /repos/{owner}/{repo}/issues/comments/{id}"),
    )
    .await
    {
        return r;
    }
    let inner = s.lock();
    for i in &inner.issues {
        if let Some(n) = i.comment_ids.iter().position(|c| *c == id) {
            return axum::Json(comment_json(&s, i, n)).into_response();
        }
    }
    error(StatusCode::NOT_FOUND, "Not Found")
}

async fn update_comment(
    State(s): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(
        &s,
        &headers,
        &owner,
        &repo,
        format!("PATCH /repos/{owner}/{repo}/issues/comments/{id}"),
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
    let mut inner = s.lock();
    for i in inner.issues.iter_mut() {
        if let Some(n) = i.comment_ids.iter().position(|c| *c == id) {
            i.comments[n] = text;
            return axum::Json(comment_json(&s, i, n)).into_response();
        }
    }
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// Checks a GitHub App JWT as GitHub does: RS256 signed by the app's key, `iss` the app,
/// `iat` not in the future (60 s of drift allowed), `exp` ahead of now and at most 10 minutes
/// after `iat`.
fn check_jwt(s: &Shared, headers: &HeaderMap) -> Result<App, Response> {
    let Some(app) = s.lock().app.clone() else {
        return Err(error(StatusCode::UNAUTHORIZED, "Bad credentials"));
    };
    let jwt = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            error(
                StatusCode::UNAUTHORIZED,
                "A JSON web token could not be decoded",
            )
        })?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    // Expiry is checked below against the stand-in's clock.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(jwt, &app.key, &validation)
        .map_err(|e| {
            error(
                StatusCode::UNAUTHORIZED,
                &format!("A JSON web token could not be decoded: {e}"),
            )
        })?
        .claims;
    let now = s.now().timestamp();
    let iss = match &claims["iss"] {
        Value::String(v) => v.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "'Issued at' and 'Expiration' are required",
        ));
    };
    if iss != app.id {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "'Issuer' claim ('iss') must be an Integer",
        ));
    }
    if iat > now + 60 {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "'Issued at' claim ('iat') must be an Integer representing a time in the past",
        ));
    }
    if exp <= now {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "'Expiration time' claim ('exp') is too far in the past",
        ));
    }
    if exp - iat > 600 {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "'Expiration time' claim ('exp') is too far in the future",
        ));
    }
    Ok(app)
}

async fn get_installation(
    State(s): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let app = match check_jwt(&s, &headers) {
        Ok(app) => app,
        Err(r) => return r,
    };
    if owner != s.owner || repo != s.repo {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    s.lock()
        .log
        .push(format!("GET /repos/{owner}/{repo}/installation"));
    axum::Json(json!({ "id": app.installation, "app_id": app.id, "target_type": "Organization" }))
        .into_response()
}

async fn mint_token(State(s): State<Shared>, Path(id): Path<u64>, headers: HeaderMap) -> Response {
    let app = match check_jwt(&s, &headers) {
        Ok(app) => app,
        Err(r) => return r,
    };
    if id != app.installation {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let expires_at = s.now() + app.lifetime;
    let mut inner = s.lock();
    let token = format!("ghs_fake{:034}", inner.tokens.len() + 1);
    inner.tokens.push((token.clone(), expires_at));
    inner
        .log
        .push(format!("POST /app/installations/{id}/access_tokens"));
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "token": token,
            "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "permissions": { "issues": "write", "pull_requests": "write", "discussions": "write", "metadata": "read" },
            "repository_selection": "selected",
        })),
    )
        .into_response()
}

fn gql_error(kind: &str, message: &str) -> Response {
    axum::Json(json!({ "data": null, "errors": [{ "type": kind, "message": message }] }))
        .into_response()
}

/// The first field selected by a GraphQL operation: what it asks for.
fn first_field(query: &str) -> Option<&str> {
    let body = &query[query.find('{')? + 1..];
    let name = body.trim_start();
    let end = name
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    Some(&name[..end])
}

async fn graphql(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admit(
        &s,
        &headers,
        &s.owner.clone(),
        &s.repo.clone(),
        "POST /graphql".into(),
    )
    .await
    {
        return r;
    }
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
    };
    let query = req
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let vars = req.get("variables").cloned().unwrap_or(Value::Null);
    let str_var = |k: &str| vars.get(k).and_then(Value::as_str);
    match first_field(&query) {
        Some("repository") => {
            if str_var("owner").is_none() || str_var("name").is_none() {
                return gql_error(
                    "INVALID",
                    "Variable $owner and $name of type String! are required",
                );
            }
            if str_var("owner") != Some(s.owner.as_str())
                || str_var("name") != Some(s.repo.as_str())
            {
                return gql_error(
                    "NOT_FOUND",
                    "Could not resolve to a Repository with the name given.",
                );
            }
            if query.contains("discussionCategories") {
                let nodes: Vec<Value> = CATEGORIES
                    .iter()
                    .map(|(id, name, slug)| json!({ "id": id, "name": name, "slug": slug }))
                    .collect();
                return axum::Json(json!({ "data": { "repository": {
                    "id": REPOSITORY_ID, "hasDiscussionsEnabled": true,
                    "discussionCategories": { "nodes": nodes },
                }}}))
                .into_response();
            }
            if query.contains("discussion(number") {
                let Some(number) = vars.get("number").and_then(Value::as_u64) else {
                    return gql_error(
                        "INVALID",
                        "Variable $number of type Int! was provided invalid value",
                    );
                };
                let inner = s.lock();
                let d =
                    inner.discussions.iter().find(|d| d.number == number).map(
                        |d| json!({ "id": d.id, "url": discussion_url(&s, d), "body": d.body }),
                    );
                return axum::Json(json!({ "data": { "repository": { "discussion": d } } }))
                    .into_response();
            }
            if query.contains("discussions(") {
                let cat = str_var("cat");
                let after: usize = str_var("after").and_then(|a| a.parse().ok()).unwrap_or(0);
                let inner = s.lock();
                let mut all: Vec<&FakeDiscussion> = inner
                    .discussions
                    .iter()
                    .filter(|d| cat.is_none_or(|c| c == d.category_id))
                    .collect();
                all.reverse();
                let page: Vec<Value> = all
                    .iter()
                    .skip(after)
                    .take(50)
                    .map(|d| json!({ "id": d.id, "number": d.number, "url": discussion_url(&s, d), "body": d.body }))
                    .collect();
                let next = after + page.len();
                return axum::Json(json!({ "data": { "repository": { "discussions": {
                    "nodes": page,
                    "pageInfo": { "hasNextPage": next < all.len(), "endCursor": next.to_string() },
                }}}}))
                .into_response();
            }
            gql_error(
                "INVALID",
                "the stand-in answers repository { discussionCategories } or { discussions }",
            )
        }
        Some("node") => {
            let Some(id) = str_var("id") else {
                return gql_error(
                    "INVALID",
                    "Variable $id of type ID! was provided invalid value",
                );
            };
            let inner = s.lock();
            match inner.discussions.iter().find(|d| d.id == id) {
                Some(d) => axum::Json(json!({ "data": { "node": {
                    "url": discussion_url(&s, d),
                    "comments": { "nodes": d.comments.iter().map(|b| json!({ "body": b })).collect::<Vec<_>>() },
                }}}))
                .into_response(),
                None => axum::Json(json!({ "data": { "node": null } })).into_response(),
            }
        }
        Some("createDiscussion") => {
            let input = vars.get("input").cloned().unwrap_or(Value::Null);
            for k in ["repositoryId", "categoryId", "title", "body"] {
                if !input.get(k).is_some_and(Value::is_string) {
                    return gql_error(
                        "INVALID",
                        &format!(
                            "Argument 'input' on Field 'createDiscussion' has an invalid value: {k} is required"
                        ),
                    );
                }
            }
            if input["repositoryId"] != REPOSITORY_ID {
                return gql_error(
                    "NOT_FOUND",
                    "Could not resolve to a node with the global id",
                );
            }
            if !CATEGORIES.iter().any(|(id, ..)| input["categoryId"] == *id) {
                return gql_error(
                    "NOT_FOUND",
                    "Could not resolve to a node with the global id",
                );
            }
            let mut inner = s.lock();
            let number = inner.discussions.len() as u64 + 1;
            let d = FakeDiscussion {
                id: format!("D_kwDOfake{number}"),
                number,
                category_id: input["categoryId"].as_str().unwrap_or_default().into(),
                title: input["title"].as_str().unwrap_or_default().into(),
                body: input["body"].as_str().unwrap_or_default().into(),
                comments: Vec::new(),
            };
            let out = json!({ "data": { "createDiscussion": { "discussion": {
                "id": d.id, "number": d.number, "url": discussion_url(&s, &d),
            }}}});
            inner.discussions.push(d);
            axum::Json(out).into_response()
        }
        Some("addDiscussionComment") => {
            let input = vars.get("input").cloned().unwrap_or(Value::Null);
            let (Some(id), Some(text)) = (input["discussionId"].as_str(), input["body"].as_str())
            else {
                return gql_error(
                    "INVALID",
                    "Argument 'input' on Field 'addDiscussionComment' has an invalid value",
                );
            };
            let mut inner = s.lock();
            let Some(d) = inner.discussions.iter_mut().find(|d| d.id == id) else {
                return gql_error(
                    "NOT_FOUND",
                    "Could not resolve to a node with the global id",
                );
            };
            d.comments.push(text.to_string());
            let n = d.comments.len();
            let url = format!("{}#discussioncomment-{n}", discussion_url(&s, d));
            axum::Json(json!({ "data": { "addDiscussionComment": { "comment": { "id": format!("DC_kwDOfake{n}"), "url": url } } } }))
                .into_response()
        }
        _ => gql_error("INVALID", "the stand-in does not know this operation"),
    }
}

fn discussion_url(s: &Shared, d: &FakeDiscussion) -> String {
    format!(
        "https://github.example/{}/{}/discussions/{}",
        s.owner, s.repo, d.number
    )
}

/// Records every REST request (method, path, query, body) before it is answered.
async fn record(
    State(s): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // A failure drawn at random, or a queued `Lost` (carried out, then its answer replaced).
    let failure = {
        let mut inner = s.lock();
        let failure = match inner.failures.front() {
            Some(Failure::Lost(_)) => inner.failures.pop_front(),
            _ => inner.chaos.as_mut().and_then(Chaos::draw),
        };
        inner.failed += u64::from(failure.is_some());
        failure
    };
    if let Some(Failure::Lost(code)) = failure {
        let _carried_out = next.run(request).await;
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
        return error(status, "Server Error");
    }
    if let Some(answer) = fail_before(failure).await {
        return answer;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "too large");
    };
    if parts.uri.path() != "/graphql" {
        let query = parts
            .uri
            .query()
            .map(|q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let call = Call {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query,
            body: serde_json::from_slice(&bytes).ok(),
        };
        let verdict = s
            .contract
            .as_ref()
            .map(|c| c.check(&call.method, &call.path, &call.query, call.body.as_ref()));
        s.lock().calls.push(call);
        match verdict {
            Some(Err(Violation::NoSuchOperation(why))) => {
                s.lock().violations.push(why);
                return error(StatusCode::NOT_FOUND, "Not Found");
            }
            Some(Err(Violation::Invalid(why))) => {
                s.lock().violations.push(why.clone());
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    axum::Json(json!({ "message": "Validation Failed", "errors": [why] })),
                )
                    .into_response();
            }
            _ => {}
        }
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}
