//! The GitHub issues sink: one issue per fingerprint, found again by its hidden marker.
//!
//! - `open`: the issue carrying the finding's fingerprint marker is looked up first (among the
//!   repository's issues labelled `tokpulse`, open or closed), so an issue filed before a
//!   restart or a lost database is reused, never filed twice; a closed one is reopened. Only
//!   when there is none is a new issue created, with the rendered title, body and labels.
//! - `reopen` / `resolve` / `update`: the note is posted as a comment carrying the action's
//!   idempotency marker (skipped if a comment with that marker is already there), then the
//!   issue is reopened or closed (an update leaves it as it is).
//!
//! Requests go through octocrab (authentication, base URL for GitHub Enterprise Server) with
//! its raw calls, so that the status and rate-limit headers are ours to read: 429 and 403
//! rate limits become [`DeliveryError::Retryable`] with `Retry-After` or `x-ratelimit-reset`,
//! 5xx and transport errors are retryable, any other 4xx is permanent. The sink never sleeps
//! or retries itself; the queue does.

use crate::router::{ActionKind, ActionPayload};
use crate::{Delivered, DeliveryError, Sink};
use async_trait::async_trait;
use http::StatusCode;
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;
use tokpulse_store::ActionRow;

/// Issues are looked for in at most this many pages of 100.
const MAX_PAGES: u32 = 10;

/// Settings for the GitHub sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubTarget {
    /// `owner/name`.
    pub owner: String,
    /// The repository name.
    pub repo: String,
}

impl GithubTarget {
    /// Parses `owner/name`.
    pub fn parse(repo: &str) -> Result<Self, String> {
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match repo.split_once('/') {
            Some((o, r)) if valid(o) && valid(r) => Ok(GithubTarget {
                owner: o.to_string(),
                repo: r.to_string(),
            }),
            _ => Err(format!("expected \"owner/name\", got {repo:?}")),
        }
    }
}

/// Files findings as GitHub issues.
pub struct GithubIssues {
    client: Octocrab,
    target: GithubTarget,
}

#[derive(Debug, Deserialize)]
struct Issue {
    number: u64,
    html_url: String,
    state: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    pull_request: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    #[serde(default)]
    body: Option<String>,
}

impl GithubIssues {
    /// The sink's name in actions and config.
    pub const NAME: &'static str = "github";

    /// A sink filing into `target` with `client` (already authenticated, base URL set).
    pub fn new(client: Octocrab, target: GithubTarget) -> Self {
        GithubIssues { client, target }
    }

    /// Builds an authenticated client for `api_url` (`https://api.github.com`, or a GitHub
    /// Enterprise Server's `https://HOST/api/v3`) with a token.
    pub fn client(api_url: &str, token: &str) -> Result<Octocrab, String> {
        Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| format!("github api url {api_url:?}: {e}"))?
            .personal_token(token.to_string())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| format!("building the GitHub client: {e}"))
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.target.owner, self.target.repo)
    }

    /// Sends one request and returns the JSON body of a 2xx answer, or the delivery error its
    /// status calls for.
    async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, DeliveryError> {
        let response = match method {
            "GET" => self.client._get(path).await,
            "POST" => self.client._post(path, body).await,
            _ => self.client._patch(path, body).await,
        }
        .map_err(|e| DeliveryError::retryable(format!("{method} {path}: {e}")))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = self
            .client
            .body_to_string(response)
            .await
            .map_err(|e| DeliveryError::retryable(format!("{method} {path}: reading: {e}")))?;
        if status.is_success() {
            return if text.trim().is_empty() {
                Ok(Value::Null)
            } else {
                serde_json::from_str(&text).map_err(|e| {
                    DeliveryError::retryable(format!("{method} {path}: not JSON: {e}"))
                })
            };
        }
        Err(classify(method, path, status, &headers, &text))
    }

    /// The issue carrying `marker`, if any.
    async fn find(&self, marker: &str) -> Result<Option<Issue>, DeliveryError> {
        for page in 1..=MAX_PAGES {
            let path = self.path(&format!(
                "/issues?state=all&labels=tokpulse&per_page=100&page={page}"
            ));
            let issues: Vec<Issue> = serde_json::from_value(self.call("GET", &path, None).await?)
                .map_err(|e| {
                DeliveryError::retryable(format!("GET {path}: unexpected shape: {e}"))
            })?;
            let done = issues.len() < 100;
            if let Some(found) = issues.into_iter().find(|i| {
                i.pull_request.is_none() && i.body.as_deref().is_some_and(|b| b.contains(marker))
            }) {
                return Ok(Some(found));
            }
            if done {
                break;
            }
        }
        Ok(None)
    }

    async fn create(&self, payload: &ActionPayload) -> Result<Issue, DeliveryError> {
        let body = json!({
            "title": payload.issue.title,
            "body": payload.issue.body,
            "labels": payload.issue.labels,
        });
        let path = self.path("/issues");
        serde_json::from_value(self.call("POST", &path, Some(&body)).await?)
            .map_err(|e| DeliveryError::retryable(format!("POST {path}: unexpected shape: {e}")))
    }

    async fn set_state(&self, issue: &Issue, state: &str) -> Result<(), DeliveryError> {
        if issue.state == state {
            return Ok(());
        }
        let mut body = json!({ "state": state });
        if state == "closed" {
            body["state_reason"] = json!("completed");
        }
        let path = self.path(&format!("/issues/{}", issue.number));
        self.call("PATCH", &path, Some(&body)).await.map(drop)
    }

    /// Posts `note` on `issue` unless a comment with `marker` is already there.
    async fn comment_once(
        &self,
        issue: &Issue,
        note: &str,
        marker: &str,
    ) -> Result<(), DeliveryError> {
        let path = self.path(&format!("/issues/{}/comments?per_page=100", issue.number));
        let comments: Vec<Comment> = serde_json::from_value(self.call("GET", &path, None).await?)
            .map_err(|e| {
            DeliveryError::retryable(format!("GET {path}: unexpected shape: {e}"))
        })?;
        if comments
            .iter()
            .any(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
        {
            return Ok(());
        }
        let body = json!({ "body": format!("{note}\n\n{marker}") });
        let path = self.path(&format!("/issues/{}/comments", issue.number));
        self.call("POST", &path, Some(&body)).await.map(drop)
    }
}

/// Maps a failed answer to a delivery error, reading GitHub's rate-limit headers.
fn classify(
    method: &str,
    path: &str,
    status: StatusCode,
    headers: &http::HeaderMap,
    text: &str,
) -> DeliveryError {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let message = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect());
    let reason = format!("{method} {path}: {status}: {message}");
    let retry_after = header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let reset = header("x-ratelimit-reset")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|at| Duration::from_secs((at - chrono::Utc::now().timestamp()).max(1) as u64));
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (header("x-ratelimit-remaining") == Some("0")
                || retry_after.is_some()
                || message.to_ascii_lowercase().contains("rate limit")));
    if rate_limited {
        // Secondary limits without a header: GitHub asks for at least a minute.
        let after = retry_after.or(reset).unwrap_or(Duration::from_secs(60));
        return DeliveryError::Retryable {
            after: Some(after),
            reason,
        };
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return DeliveryError::Retryable {
            after: retry_after,
            reason,
        };
    }
    DeliveryError::Permanent(reason)
}

#[async_trait]
impl Sink for GithubIssues {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn deliver(&self, action: &ActionRow) -> Result<Delivered, DeliveryError> {
        let (kind, payload) = ActionPayload::read(action)?;
        let marker = format!("<!-- tokpulse:fingerprint={} -->", payload.fingerprint);
        let action_marker = format!("<!-- tokpulse:action={} -->", action.idempotency_key);
        let issue = match self.find(&marker).await? {
            Some(issue) => issue,
            None => self.create(&payload).await?,
        };
        match kind {
            ActionKind::Open => self.set_state(&issue, "open").await?,
            ActionKind::Reopen => {
                if let Some(note) = &payload.note {
                    self.comment_once(&issue, note, &action_marker).await?;
                }
                self.set_state(&issue, "open").await?;
            }
            ActionKind::Resolve => {
                if let Some(note) = &payload.note {
                    self.comment_once(&issue, note, &action_marker).await?;
                }
                self.set_state(&issue, "closed").await?;
            }
            ActionKind::Update => {
                if let Some(note) = &payload.note {
                    self.comment_once(&issue, note, &action_marker).await?;
                }
            }
        }
        Ok(Delivered {
            external_ref: issue.html_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repos_are_owner_slash_name() {
        assert_eq!(
            GithubTarget::parse("acme/shop-web").unwrap(),
            GithubTarget {
                owner: "acme".into(),
                repo: "shop-web".into()
            }
        );
        for bad in ["acme", "acme/", "/x", "a/b/c", "a b/c"] {
            assert!(GithubTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_map_to_retry_or_give_up() {
        let mut h = http::HeaderMap::new();
        let e = classify("POST", "/x", StatusCode::BAD_GATEWAY, &h, "");
        assert!(e.is_retryable());
        let e = classify(
            "POST",
            "/x",
            StatusCode::UNAUTHORIZED,
            &h,
            r#"{"message":"Bad credentials"}"#,
        );
        assert_eq!(
            e,
            DeliveryError::Permanent("POST /x: 401 Unauthorized: Bad credentials".into())
        );
        h.insert("retry-after", "17".parse().unwrap());
        let e = classify("POST", "/x", StatusCode::TOO_MANY_REQUESTS, &h, "");
        assert!(
            matches!(e, DeliveryError::Retryable { after: Some(d), .. } if d == Duration::from_secs(17))
        );
        let h = http::HeaderMap::new();
        let e = classify(
            "POST",
            "/x",
            StatusCode::FORBIDDEN,
            &h,
            r#"{"message":"You have exceeded a secondary rate limit"}"#,
        );
        assert!(
            matches!(e, DeliveryError::Retryable { after: Some(d), .. } if d == Duration::from_secs(60))
        );
        let e = classify(
            "POST",
            "/x",
            StatusCode::FORBIDDEN,
            &h,
            r#"{"message":"Resource not accessible"}"#,
        );
        assert!(!e.is_retryable());
    }
}
