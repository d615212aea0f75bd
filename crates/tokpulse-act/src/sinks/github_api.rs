//! The GitHub client the GitHub sinks share: REST and GraphQL through octocrab, with a token or
//! as a GitHub App installation, and GitHub's answers mapped to delivery errors.
//!
//! Every request carries its own `Authorization` header (octocrab's client is built without
//! credentials), so that one client serves a fixed token and a GitHub App's installation
//! tokens alike ([`GithubAuth`]), and the app's JWT goes only to the two `apps/*` endpoints.
//! 429 and 403 rate limits become [`DeliveryError::Retryable`] with `Retry-After` or
//! `x-ratelimit-reset`, 5xx and transport errors are retryable, any other 4xx is permanent;
//! GraphQL's `RATE_LIMITED` errors (answered with status 200) are retryable too.

use crate::DeliveryError;
use crate::sinks::github_app::AppTokens;
use chrono::Utc;
use http::{Method, StatusCode};
use octocrab::Octocrab;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokpulse_core::Timestamp;

/// `owner/name` of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubTarget {
    /// The owner (user or organisation).
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

/// How requests are authenticated.
#[derive(Clone)]
pub enum GithubAuth {
    /// A personal access token, a fine-grained token or Actions' `GITHUB_TOKEN`.
    Token(String),
    /// A GitHub App: installation tokens minted with the app's JWT and refreshed before they
    /// expire.
    App(Arc<AppTokens>),
}

impl std::fmt::Debug for GithubAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GithubAuth::Token(_) => f.write_str("Token(..)"),
            GithubAuth::App(app) => write!(f, "App({})", app.app_id()),
        }
    }
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The clock requests are stamped with (the app's JWT, token expiry); tests move it.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// A GitHub client for one repository.
pub struct GithubApi {
    rest: Octocrab,
    graphql: Octocrab,
    target: GithubTarget,
    auth: GithubAuth,
    clock: Clock,
}

/// The credential a request is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum As {
    /// The token, or the installation's token.
    Installation,
    /// The GitHub App's JWT (only for `apps/*` endpoints).
    App,
}

fn octocrab(base: &str) -> Result<Octocrab, String> {
    Octocrab::builder()
        .base_uri(base)
        .map_err(|e| format!("github api url {base:?}: {e}"))?
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(30)))
        .build()
        .map_err(|e| format!("building the GitHub client: {e}"))
}

/// Where GraphQL is served for a REST base URL: `https://api.github.com` → `…/graphql`;
/// GitHub Enterprise Server's `https://HOST/api/v3` → `https://HOST/api/graphql`. Returned as
/// the base the path `/graphql` is joined to.
pub fn graphql_base(api_url: &str) -> String {
    let base = api_url.trim_end_matches('/');
    base.strip_suffix("/v3").unwrap_or(base).to_string()
}

impl GithubApi {
    /// A client for `target` at `api_url` (`https://api.github.com`, or a GitHub Enterprise
    /// Server's `https://HOST/api/v3`).
    pub fn new(api_url: &str, auth: GithubAuth, target: GithubTarget) -> Result<Self, String> {
        Ok(GithubApi {
            rest: octocrab(api_url)?,
            graphql: octocrab(&graphql_base(api_url))?,
            target,
            auth,
            clock: Arc::new(Utc::now),
        })
    }

    /// The same client reading the time from `clock` (for tests that cross a token's expiry).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The repository.
    pub fn target(&self) -> &GithubTarget {
        &self.target
    }

    /// The time now, by this client's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// `/repos/{owner}/{repo}{rest}`.
    pub fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.target.owner, self.target.repo)
    }

    /// Checks the credentials (and for an app, finds its installation and mints a token).
    pub async fn check_auth(&self) -> Result<(), DeliveryError> {
        self.bearer(As::Installation).await.map(drop)
    }

    /// The credential for a request. Boxed: minting an installation token calls back into
    /// this client (as the app), and a recursive future needs a known type.
    fn bearer(&self, who: As) -> BoxFuture<'_, Result<String, DeliveryError>> {
        Box::pin(async move {
            match (&self.auth, who) {
                (GithubAuth::Token(t), _) => Ok(t.clone()),
                (GithubAuth::App(app), As::App) => app.jwt(self.now()),
                (GithubAuth::App(app), As::Installation) => app.installation_token(self).await,
            }
        })
    }

    /// One REST request with the installation's (or the token's) credentials; the JSON body of
    /// a 2xx answer, or the delivery error its status calls for.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, DeliveryError> {
        self.call_as(As::Installation, method, path, body).await
    }

    pub(crate) async fn call_as(
        &self,
        who: As,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, DeliveryError> {
        let answer = self.answer(who, &method, path, body).await?;
        self.outcome(who, &method, path, answer)
    }

    /// The first item of a paginated list that `pick` accepts: `path` (with or without a
    /// query) is read 100 items a page, at most `max_pages` pages, until a short page.
    pub async fn find_in_pages<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        max_pages: u32,
        pick: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, DeliveryError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        for page in 1..=max_pages {
            let path = format!("{path}{sep}per_page=100&page={page}");
            let items: Vec<T> = serde_json::from_value(self.call(Method::GET, &path, None).await?)
                .map_err(|e| {
                    DeliveryError::retryable(format!("GET {path}: unexpected shape: {e}"))
                })?;
            let done = items.len() < 100;
            if let Some(found) = items.into_iter().find(|i| pick(i)) {
                return Ok(Some(found));
            }
            if done {
                break;
            }
        }
        Ok(None)
    }

    /// A `GET` that may find nothing: `None` for 404 and 410.
    pub async fn get_optional(&self, path: &str) -> Result<Option<Value>, DeliveryError> {
        self.call_optional(Method::GET, path, None).await
    }

    /// A request on something that may be gone: `None` for 404 and 410.
    pub async fn call_optional(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, DeliveryError> {
        let answer = self.answer(As::Installation, &method, path, body).await?;
        if matches!(answer.0, StatusCode::NOT_FOUND | StatusCode::GONE) {
            return Ok(None);
        }
        self.outcome(As::Installation, &method, path, answer)
            .map(Some)
    }

    async fn answer(
        &self,
        who: As,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, http::HeaderMap, String), DeliveryError> {
        let bearer = self.bearer(who).await?;
        self.send(&self.rest, method, path, body, &bearer).await
    }

    fn outcome(
        &self,
        who: As,
        method: &Method,
        path: &str,
        (status, headers, text): (StatusCode, http::HeaderMap, String),
    ) -> Result<Value, DeliveryError> {
        if status.is_success() {
            return if text.trim().is_empty() {
                Ok(Value::Null)
            } else {
                serde_json::from_str(&text).map_err(|e| {
                    DeliveryError::retryable(format!("{method} {path}: not JSON: {e}"))
                })
            };
        }
        if status == StatusCode::UNAUTHORIZED
            && let GithubAuth::App(app) = &self.auth
            && who == As::Installation
        {
            // A revoked or expired installation token: mint a new one next time.
            app.forget_token();
            return Err(DeliveryError::retryable(format!(
                "{method} {path}: {status}: installation token refused; a new one will be minted"
            )));
        }
        Err(classify(method.as_str(), path, status, &headers, &text))
    }

    /// One GraphQL request: `data` of the answer, or the delivery error its errors call for.
    pub async fn graphql(&self, query: &str, variables: Value) -> Result<Value, DeliveryError> {
        let bearer = self.bearer(As::Installation).await?;
        let body = json!({ "query": query, "variables": variables });
        let (status, headers, text) = self
            .send(
                &self.graphql,
                &Method::POST,
                "/graphql",
                Some(&body),
                &bearer,
            )
            .await?;
        if !status.is_success() {
            return Err(classify("POST", "/graphql", status, &headers, &text));
        }
        let answer: Value = serde_json::from_str(&text)
            .map_err(|e| DeliveryError::retryable(format!("POST /graphql: not JSON: {e}")))?;
        graphql_outcome(answer, &headers)
    }

    async fn send(
        &self,
        client: &Octocrab,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        bearer: &str,
    ) -> Result<(StatusCode, http::HeaderMap, String), DeliveryError> {
        let what = || format!("{method} {path}");
        let mut auth = http::HeaderValue::from_str(&format!("Bearer {bearer}"))
            .map_err(|_| DeliveryError::Permanent(format!("{}: malformed token", what())))?;
        auth.set_sensitive(true);
        let builder = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::AUTHORIZATION, auth)
            .header(http::header::ACCEPT, "application/vnd.github+json");
        let request = client
            .build_request(builder, body)
            .map_err(|e| DeliveryError::Permanent(format!("{}: {e}", what())))?;
        let response = client
            .execute(request)
            .await
            .map_err(|e| DeliveryError::retryable(format!("{}: {e}", what())))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = client
            .body_to_string(response)
            .await
            .map_err(|e| DeliveryError::retryable(format!("{}: reading: {e}", what())))?;
        Ok((status, headers, text))
    }
}

/// `data` of a GraphQL answer, or: `RATE_LIMITED` (or a secondary limit's message) → retryable
/// until `x-ratelimit-reset`; any other error → permanent.
fn graphql_outcome(mut answer: Value, headers: &http::HeaderMap) -> Result<Value, DeliveryError> {
    let Some(errors) = answer.get("errors").and_then(Value::as_array) else {
        return Ok(answer["data"].take());
    };
    let messages: Vec<String> = errors
        .iter()
        .map(|e| {
            let kind = e["type"].as_str().unwrap_or("ERROR");
            format!("{kind}: {}", e["message"].as_str().unwrap_or("?"))
        })
        .collect();
    let reason = format!("POST /graphql: {}", messages.join("; "));
    let limited = errors.iter().any(|e| {
        e["type"] == "RATE_LIMITED"
            || e["message"]
                .as_str()
                .is_some_and(|m| m.to_ascii_lowercase().contains("rate limit"))
    });
    if limited {
        let after = crate::retry_after(headers)
            .or_else(|| reset_in(headers))
            .unwrap_or(Duration::from_secs(60));
        return Err(DeliveryError::Retryable {
            after: Some(after),
            reason,
        });
    }
    Err(DeliveryError::Permanent(reason))
}

fn reset_in(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get("x-ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|at| Duration::from_secs((at - Utc::now().timestamp()).max(1) as u64))
}

/// Maps a failed answer to a delivery error, reading GitHub's rate-limit headers.
pub(crate) fn classify(
    method: &str,
    path: &str,
    status: StatusCode,
    headers: &http::HeaderMap,
    text: &str,
) -> DeliveryError {
    let message = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect());
    let reason = format!("{method} {path}: {status}: {message}");
    let retry_after = crate::retry_after(headers);
    let remaining_zero = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        == Some("0");
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (remaining_zero
                || retry_after.is_some()
                || message.to_ascii_lowercase().contains("rate limit")));
    if rate_limited {
        // Secondary limits without a header: GitHub asks for at least a minute.
        let after = retry_after
            .or_else(|| reset_in(headers))
            .unwrap_or(Duration::from_secs(60));
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
    fn graphql_lives_beside_the_rest_api() {
        assert_eq!(
            graphql_base("https://api.github.com"),
            "https://api.github.com"
        );
        assert_eq!(
            graphql_base("https://ghe.example/api/v3/"),
            "https://ghe.example/api"
        );
    }

    #[test]
    fn graphql_errors_are_permanent_unless_rate_limited() {
        let h = http::HeaderMap::new();
        let ok = graphql_outcome(json!({"data": {"x": 1}}), &h).unwrap();
        assert_eq!(ok, json!({"x": 1}));
        let e = graphql_outcome(
            json!({"data": null, "errors": [{"type": "NOT_FOUND", "message": "Could not resolve"}]}),
            &h,
        )
        .unwrap_err();
        assert!(!e.is_retryable(), "{e}");
        let e = graphql_outcome(
            json!({"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}),
            &h,
        )
        .unwrap_err();
        assert!(
            matches!(e, DeliveryError::Retryable { after: Some(d), .. } if d == Duration::from_secs(60))
        );
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
