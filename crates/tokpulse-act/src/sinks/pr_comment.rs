//! The pull-request comment sink: one sticky comment per pull request and finding kind, edited
//! in place on every update.
//!
//! The comment opens with a hidden marker naming its kind (`<!-- tokpulse:pr-comment
//! kind=latency_regression -->`) and holds one section per finding of that kind, each between
//! `<!-- tokpulse:finding=FP -->` and `<!-- /tokpulse:finding=FP -->`; an action replaces its
//! finding's section (new, still happening, back again, resolved) and leaves the others alone.
//!
//! Finding the comment: its id and last body are cached per pull request and kind (seeded from
//! the store's delivered actions, whose `external_ref` is the comment's URL), so an update is
//! one `PATCH /repos/{owner}/{repo}/issues/comments/{id}`; without the cache (a restart, a lost
//! database) the pull request's comments are listed and the marker found, so no second comment
//! is posted. A pull request's conversation comments are issue comments: the same endpoints
//! serve both. An action that names no pull request (see
//! [`address_pull_request`](crate::address_pull_request)) is delivered as a no-op.

use crate::router::{ActionKind, ActionPayload};
use crate::sinks::github_api::GithubApi;
use crate::{Delivered, DeliveryError, Sink};
use async_trait::async_trait;
use http::Method;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokpulse_store::{ActionRow, ActionStatus, Store, StoreError};

/// Comments are looked for in at most this many pages of 100.
const MAX_PAGES: u32 = 10;
/// Delivered actions read from the store to seed the cache.
const WARM_UP_ACTIONS: i64 = 20_000;

#[derive(Debug, Clone, Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    html_url: String,
}

#[derive(Debug, Clone)]
struct Known {
    id: u64,
    /// The body as last written or read; `None` when only the id is known.
    body: Option<String>,
    html_url: String,
}

/// Keeps one comment per pull request and finding kind up to date.
pub struct GithubPrComments {
    api: Arc<GithubApi>,
    /// (pull request, finding kind) → its comment.
    known: Mutex<HashMap<(u64, String), Known>>,
    warmed: tokio::sync::OnceCell<()>,
}

/// The hidden marker of the sticky comment for findings of `kind`.
pub fn comment_marker(kind: &str) -> String {
    format!("<!-- tokpulse:pr-comment kind={kind} -->")
}

fn section_markers(fingerprint: &str) -> (String, String) {
    (
        format!("<!-- tokpulse:finding={fingerprint} -->"),
        format!("<!-- /tokpulse:finding={fingerprint} -->"),
    )
}

/// The section of one finding in the sticky comment.
fn section(kind: ActionKind, p: &ActionPayload) -> String {
    let status = match kind {
        ActionKind::Open => "🔴 Open",
        ActionKind::Reopen => "🔁 Back again",
        ActionKind::Update => "🟠 Still happening",
        ActionKind::Resolve => "✅ Resolved",
    };
    let (start, end) = section_markers(&p.fingerprint);
    // The issue body without its own fingerprint marker (the section markers name it).
    let body = p.issue.body.replace(
        &format!("<!-- tokpulse:fingerprint={} -->", p.fingerprint),
        "",
    );
    let mut s = format!(
        "{start}\n#### {status} · {} · {}\n\n{}\n",
        p.severity.as_str(),
        p.issue.title,
        body.trim()
    );
    if let Some(note) = &p.note {
        s.push_str(&format!("\n{note}\n"));
    }
    s.push_str(&format!(
        "\n_Updated {}._\n{end}",
        p.at.format("%Y-%m-%d %H:%M UTC")
    ));
    s
}

/// `existing` (or a fresh comment) with the section of `p` replaced or added.
fn merged(existing: Option<&str>, kind: ActionKind, p: &ActionPayload) -> String {
    let kind_name = p.finding_kind.as_str();
    let fresh = format!(
        "{}\n### TokPulse · {}\n",
        comment_marker(kind_name),
        kind_name.replace('_', " ")
    );
    let mut body = existing.map(str::to_string).unwrap_or(fresh);
    let new = section(kind, p);
    let (start, end) = section_markers(&p.fingerprint);
    match (body.find(&start), body.find(&end)) {
        (Some(a), Some(b)) if b > a => body.replace_range(a..b + end.len(), &new),
        _ => {
            if !body.ends_with('\n') {
                body.push('\n');
            }
            body.push('\n');
            body.push_str(&new);
        }
    }
    body
}

impl GithubPrComments {
    /// The sink's name in actions and config.
    pub const NAME: &'static str = "github_pr";

    /// A sink commenting on the pull requests of the repository of `api`.
    pub fn new(api: Arc<GithubApi>) -> Self {
        GithubPrComments {
            api,
            known: Mutex::new(HashMap::new()),
            warmed: tokio::sync::OnceCell::new(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<(u64, String), Known>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached comment id for pull request `pr` and finding kind `kind`.
    pub fn cached(&self, pr: u64, kind: &str) -> Option<u64> {
        self.known().get(&(pr, kind.to_string())).map(|k| k.id)
    }

    /// Seeds the cache from delivered actions of this sink (newest first, as [`Store::actions`]
    /// lists them): pull request and kind from the payload, the comment id from the
    /// `#issuecomment-ID` of `external_ref`.
    pub fn seed(&self, actions: &[ActionRow]) {
        let mut known = self.known();
        for a in actions.iter().rev() {
            if a.sink != Self::NAME || a.status != ActionStatus::Delivered {
                continue;
            }
            let Some(url) = a.external_ref.as_deref() else {
                continue;
            };
            let id = url
                .rsplit_once("#issuecomment-")
                .and_then(|(_, n)| n.parse::<u64>().ok());
            let pr = a.payload["pull_request"].as_u64();
            let kind = a.payload["finding_kind"].as_str();
            if let (Some(id), Some(pr), Some(kind)) = (id, pr, kind) {
                known.insert(
                    (pr, kind.to_string()),
                    Known {
                        id,
                        body: None,
                        html_url: url.to_string(),
                    },
                );
            }
        }
    }

    /// The sticky comment for `pr` and `kind`: cached, else found by its marker among the pull
    /// request's comments.
    async fn locate(&self, pr: u64, kind: &str) -> Result<Option<Known>, DeliveryError> {
        let cached = self.known().get(&(pr, kind.to_string())).cloned();
        if let Some(k) = cached {
            if k.body.is_some() {
                return Ok(Some(k));
            }
            let path = self.api.repo_path(&format!("/issues/comments/{}", k.id));
            if let Some(v) = self.api.get_optional(&path).await? {
                let c: Comment = serde_json::from_value(v).map_err(|e| {
                    DeliveryError::retryable(format!("GET {path}: unexpected shape: {e}"))
                })?;
                return Ok(Some(Known {
                    id: c.id,
                    body: c.body,
                    html_url: c.html_url,
                }));
            }
        }
        let marker = comment_marker(kind);
        let path = self.api.repo_path(&format!("/issues/{pr}/comments"));
        let found = self
            .api
            .find_in_pages(&path, MAX_PAGES, |c: &Comment| {
                c.body.as_deref().is_some_and(|b| b.contains(&marker))
            })
            .await?;
        Ok(found.map(|c| Known {
            id: c.id,
            body: c.body,
            html_url: c.html_url,
        }))
    }

    async fn write(
        &self,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<Option<Comment>, DeliveryError> {
        let what = format!("{method} {path}");
        let Some(v) = self
            .api
            .call_optional(method, path, Some(&json!({ "body": body })))
            .await?
        else {
            return Ok(None);
        };
        serde_json::from_value(v)
            .map(Some)
            .map_err(|e| DeliveryError::retryable(format!("{what}: unexpected shape: {e}")))
    }
}

#[async_trait]
impl Sink for GithubPrComments {
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
        let Some(pr) = payload.pull_request else {
            // A finding about no pull request: nothing to comment on (a rule may route every
            // kind here; only PR-addressed actions land).
            return Ok(Delivered {
                external_ref: "github_pr: not about a pull request".into(),
            });
        };
        let kind_name = payload.finding_kind.as_str().to_string();
        let key = (pr, kind_name.clone());
        let existing = self.locate(pr, &kind_name).await?;
        let written = match &existing {
            Some(k) => {
                let body = merged(k.body.as_deref(), kind, &payload);
                if k.body.as_deref() == Some(body.as_str()) {
                    // Delivered before (a retry after a crash): nothing to change.
                    Some(Comment {
                        id: k.id,
                        body: Some(body),
                        html_url: k.html_url.clone(),
                    })
                } else {
                    let path = self.api.repo_path(&format!("/issues/comments/{}", k.id));
                    self.write(Method::PATCH, &path, &body).await?
                }
            }
            None => None,
        };
        let comment = match written {
            Some(c) => c,
            None => {
                // No comment yet, or the cached one was deleted: start a new one.
                self.known().remove(&key);
                let body = merged(None, kind, &payload);
                let path = self.api.repo_path(&format!("/issues/{pr}/comments"));
                self.write(Method::POST, &path, &body)
                    .await?
                    .ok_or_else(|| DeliveryError::retryable(format!("POST {path}: no comment")))?
            }
        };
        let external_ref = comment.html_url.clone();
        self.known().insert(
            key,
            Known {
                id: comment.id,
                body: comment.body,
                html_url: comment.html_url,
            },
        );
        Ok(Delivered { external_ref })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{row, stored_finding};

    #[test]
    fn sections_are_replaced_in_place_and_others_kept() {
        let f = stored_finding();
        let open = crate::plan_for_change(
            tokpulse_store::FindingChange::New { id: 7 },
            &f,
            &["github_pr"],
            f.last_seen,
        );
        let p = ActionPayload::from_action(&row(&open[0])).unwrap();
        let first = merged(None, ActionKind::Open, &p);
        assert!(first.starts_with(&comment_marker("latency_regression")));
        assert!(first.contains("🔴 Open · high"));
        assert!(!first.contains("tokpulse:fingerprint="));
        let mut other = p.clone();
        other.fingerprint = "ffff".into();
        let two = merged(Some(&first), ActionKind::Open, &other);
        let resolved = merged(Some(&two), ActionKind::Resolve, &p);
        assert!(resolved.contains("✅ Resolved"));
        assert_eq!(resolved.matches("🔴 Open").count(), 1, "{resolved}");
        assert_eq!(resolved.matches("<!-- tokpulse:finding=").count(), 2);
        assert_eq!(
            resolved
                .matches(&comment_marker("latency_regression"))
                .count(),
            1
        );
        // The same update twice changes nothing.
        assert_eq!(merged(Some(&resolved), ActionKind::Resolve, &p), resolved);
    }
}
