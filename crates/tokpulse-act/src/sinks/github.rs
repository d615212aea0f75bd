//! The GitHub issues sink: one issue per fingerprint, found again by its hidden marker.
//!
//! - Finding the issue: the number of each fingerprint's issue is cached in memory, seeded from
//!   the store's delivered actions ([`Sink::warm_up`]: their payload names the fingerprint,
//!   their `external_ref` is the issue's URL), so an action on a known finding reads its issue
//!   with one `GET`. Otherwise (a lost database, a cached issue that is gone or no longer
//!   carries the marker) the issue carrying the fingerprint marker is looked for among the
//!   repository's issues labelled `tokpulse`, open or closed.
//! - `open`: an issue filed before a restart or a lost database is reused, never filed twice;
//!   a closed one is reopened. Only when there is none is a new issue created, with the
//!   rendered title, body and labels.
//! - `reopen` / `resolve` / `update`: the note is posted as a comment carrying the action's
//!   idempotency marker (skipped if a comment with that marker is already there), then the
//!   issue is reopened or closed (an update leaves it as it is).
//!
//! Requests go through [`GithubApi`] (octocrab; a token or a GitHub App; GitHub's failures
//! mapped to retry-or-give-up). The sink never sleeps or retries itself; the queue does.

use crate::router::{ActionKind, ActionPayload};
use crate::sinks::github_api::GithubApi;
use crate::{Delivered, DeliveryError, Sink};
use async_trait::async_trait;
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokpulse_store::{ActionRow, ActionStatus, Store, StoreError};

/// Issues are looked for in at most this many pages of 100.
const MAX_PAGES: u32 = 10;

/// Files findings as GitHub issues.
pub struct GithubIssues {
    api: Arc<GithubApi>,
    /// Fingerprint → issue number.
    numbers: Mutex<HashMap<String, u64>>,
    warmed: tokio::sync::OnceCell<()>,
}

/// Delivered actions read from the store to seed the cache.
const WARM_UP_ACTIONS: i64 = 20_000;

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

    /// A sink filing into the repository of `api`.
    pub fn new(api: Arc<GithubApi>) -> Self {
        GithubIssues {
            api,
            numbers: Mutex::new(HashMap::new()),
            warmed: tokio::sync::OnceCell::new(),
        }
    }

    /// Remembers that `fingerprint`'s issue is number `number`.
    pub fn remember(&self, fingerprint: &str, number: u64) {
        self.numbers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(fingerprint.to_string(), number);
    }

    /// The cached issue number of `fingerprint`.
    pub fn cached(&self, fingerprint: &str) -> Option<u64> {
        self.numbers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(fingerprint)
            .copied()
    }

    /// Seeds the cache from delivered actions of this sink (newest first, as
    /// [`Store::actions`] lists them): the fingerprint from the payload, the number from the
    /// issue URL in `external_ref`.
    pub fn seed(&self, actions: &[ActionRow]) {
        let mut numbers = self.numbers.lock().unwrap_or_else(PoisonError::into_inner);
        for a in actions.iter().rev() {
            if a.sink != Self::NAME || a.status != ActionStatus::Delivered {
                continue;
            }
            let number = a
                .external_ref
                .as_deref()
                .and_then(|r| r.rsplit_once("/issues/"))
                .and_then(|(_, n)| n.parse::<u64>().ok());
            if let (Some(n), Some(fp)) = (number, a.payload["fingerprint"].as_str()) {
                numbers.insert(fp.to_string(), n);
            }
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, DeliveryError> {
        self.api.call(method, path, body).await
    }

    fn path(&self, rest: &str) -> String {
        self.api.repo_path(rest)
    }

    /// The issue of `fingerprint`: the cached number if its issue still carries `marker`, else
    /// looked for by `marker`.
    async fn locate(
        &self,
        fingerprint: &str,
        marker: &str,
    ) -> Result<Option<Issue>, DeliveryError> {
        if let Some(number) = self.cached(fingerprint) {
            let path = self.path(&format!("/issues/{number}"));
            if let Some(v) = self.api.get_optional(&path).await? {
                let issue: Issue = serde_json::from_value(v).map_err(|e| {
                    DeliveryError::retryable(format!("GET {path}: unexpected shape: {e}"))
                })?;
                if issue.body.as_deref().is_some_and(|b| b.contains(marker)) {
                    return Ok(Some(issue));
                }
            }
            self.numbers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(fingerprint);
        }
        let found = self.find(marker).await?;
        if let Some(issue) = &found {
            self.remember(fingerprint, issue.number);
        }
        Ok(found)
    }

    /// The issue carrying `marker`, if any.
    async fn find(&self, marker: &str) -> Result<Option<Issue>, DeliveryError> {
        let path = self.path("/issues?state=all&labels=tokpulse");
        self.api
            .find_in_pages(&path, MAX_PAGES, |i: &Issue| {
                i.pull_request.is_none() && i.body.as_deref().is_some_and(|b| b.contains(marker))
            })
            .await
    }

    async fn create(&self, payload: &ActionPayload) -> Result<Issue, DeliveryError> {
        let body = json!({
            "title": payload.issue.title,
            "body": payload.issue.body,
            "labels": payload.issue.labels,
        });
        let path = self.path("/issues");
        serde_json::from_value(self.call(Method::POST, &path, Some(&body)).await?)
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
        self.call(Method::PATCH, &path, Some(&body)).await.map(drop)
    }

    /// Posts `note` on `issue` unless a comment with `marker` is already there.
    async fn comment_once(
        &self,
        issue: &Issue,
        note: &str,
        marker: &str,
    ) -> Result<(), DeliveryError> {
        let path = self.path(&format!("/issues/{}/comments", issue.number));
        let posted = self
            .api
            .find_in_pages(&path, MAX_PAGES, |c: &Comment| {
                c.body.as_deref().is_some_and(|b| b.contains(marker))
            })
            .await?;
        if posted.is_some() {
            return Ok(());
        }
        let body = json!({ "body": format!("{note}\n\n{marker}") });
        let path = self.path(&format!("/issues/{}/comments", issue.number));
        self.call(Method::POST, &path, Some(&body)).await.map(drop)
    }
}

#[async_trait]
impl Sink for GithubIssues {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn warm_up(&self, store: &dyn Store) -> Result<(), StoreError> {
        self.warmed
            .get_or_try_init(|| async {
                self.seed(&store.actions(WARM_UP_ACTIONS).await?);
                Ok::<(), StoreError>(())
            })
            .await
            .map(drop)
    }

    async fn deliver(&self, action: &ActionRow) -> Result<Delivered, DeliveryError> {
        let (kind, payload) = ActionPayload::read(action)?;
        let marker = format!("<!-- tokpulse:fingerprint={} -->", payload.fingerprint);
        let action_marker = format!("<!-- tokpulse:action={} -->", action.idempotency_key);
        let issue = match self.locate(&payload.fingerprint, &marker).await? {
            Some(issue) => issue,
            None => {
                let issue = self.create(&payload).await?;
                self.remember(&payload.fingerprint, issue.number);
                issue
            }
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
    use crate::sinks::github_api::{GithubAuth, GithubTarget};

    #[tokio::test]
    async fn the_cache_is_seeded_from_delivered_actions() {
        let api = GithubApi::new(
            "http://127.0.0.1:9",
            GithubAuth::Token("t".into()),
            GithubTarget::parse("acme/shop").unwrap(),
        )
        .unwrap();
        let sink = GithubIssues::new(Arc::new(api));
        let f = crate::testing::stored_finding();
        let open = crate::plan_for_change(
            tokpulse_store::FindingChange::New { id: 7 },
            &f,
            &["github", "outbox"],
            f.last_seen,
        );
        let mut delivered = open[0].queued_as(1);
        delivered.status = ActionStatus::Delivered;
        delivered.external_ref = Some("https://github.com/acme/shop/issues/42".into());
        let mut outbox = open[1].queued_as(2);
        outbox.status = ActionStatus::Delivered;
        outbox.external_ref = Some("outbox/issues/x.md".into());
        let pending = open[0].queued_as(3);
        sink.seed(&[delivered, outbox, pending]);
        assert_eq!(sink.cached(f.finding.fingerprint.as_str()), Some(42));
        assert_eq!(sink.numbers.lock().unwrap().len(), 1);
    }
}
