//! The GitHub Discussions sink: one discussion per fingerprint in a configured category (budget
//! overruns, weekly reports), with follow-ups as discussion comments. Discussions have no REST
//! API, so everything goes through GraphQL (`../shared/datasets/github/README.md` has the
//! shapes):
//!
//! - the repository's id and the category's id are resolved once, by the category's name or
//!   slug (`repository { id discussionCategories }`), and cached;
//! - `open`: the discussion carrying the finding's fingerprint marker is looked for first: its
//!   id is cached per fingerprint; after a restart its number comes from the store's delivered
//!   actions (their `external_ref` is the discussion's URL) and one query reads it; otherwise
//!   (a lost database) the category's discussions are read, newest first, and their bodies
//!   searched. So no second discussion is opened; only then `createDiscussion`;
//! - `update` / `reopen` / `resolve`: `addDiscussionComment` with the note and the action's
//!   idempotency marker, unless a comment with that marker is already among the discussion's
//!   latest comments.

use crate::router::{ActionKind, ActionPayload};
use crate::sinks::github_api::GithubApi;
use crate::{Delivered, DeliveryError, Sink};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokpulse_store::{ActionRow, ActionStatus, Store, StoreError};

/// The hidden line that ties a discussion to its fingerprint (or report key), as
/// [`fingerprint_marker`](crate::fingerprint_marker) writes it into a finding's body.
fn marker_of(key: &str) -> String {
    format!("<!-- tokpulse:fingerprint={key} -->")
}

/// Discussions are looked for in at most this many pages of 50.
const MAX_PAGES: u32 = 10;

/// The repository's id and its categories.
pub const REPO_QUERY: &str = "query RepoForDiscussions($owner: String!, $name: String!) { \
repository(owner: $owner, name: $name) { id hasDiscussionsEnabled \
discussionCategories(first: 100) { nodes { id name slug } } } }";

/// One page of a category's discussions, newest first.
pub const FIND_QUERY: &str = "query FindDiscussions($owner: String!, $name: String!, $cat: ID, \
$after: String) { repository(owner: $owner, name: $name) { discussions(first: 50, after: $after, \
categoryId: $cat, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { id number url body } \
pageInfo { hasNextPage endCursor } } } }";

/// One discussion by its number.
pub const BY_NUMBER_QUERY: &str = "query DiscussionByNumber($owner: String!, $name: String!, \
$number: Int!) { repository(owner: $owner, name: $name) { discussion(number: $number) { id url \
body } } }";

/// A discussion's latest comments.
pub const COMMENTS_QUERY: &str = "query DiscussionComments($id: ID!) { node(id: $id) { \
... on Discussion { url comments(last: 100) { nodes { body } } } } }";

/// Opens a discussion.
pub const CREATE_MUTATION: &str = "mutation CreateDiscussion($input: CreateDiscussionInput!) { \
createDiscussion(input: $input) { discussion { id number url } } }";

/// Comments on a discussion.
pub const COMMENT_MUTATION: &str = "mutation AddDiscussionComment($input: \
AddDiscussionCommentInput!) { addDiscussionComment(input: $input) { comment { id url } } }";

#[derive(Debug, Clone)]
struct Ids {
    repository: String,
    category: String,
}

#[derive(Debug, Clone)]
struct Found {
    id: String,
    url: String,
}

/// Opens GitHub Discussions in one category.
pub struct GithubDiscussions {
    api: Arc<GithubApi>,
    category: String,
    ids: tokio::sync::OnceCell<Ids>,
    /// Fingerprint → discussion.
    known: Mutex<HashMap<String, Found>>,
    /// Fingerprint → discussion number, from delivered actions.
    numbers: Mutex<HashMap<String, u64>>,
    warmed: tokio::sync::OnceCell<()>,
}

/// Delivered actions read from the store to seed the cache.
const WARM_UP_ACTIONS: i64 = 20_000;

fn shape(what: &str, e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::retryable(format!("graphql {what}: unexpected shape: {e}"))
}

impl GithubDiscussions {
    /// The sink's name in actions and config.
    pub const NAME: &'static str = "github_discussions";

    /// A sink opening discussions in the category named (or slugged) `category` of the
    /// repository of `api`.
    pub fn new(api: Arc<GithubApi>, category: &str) -> Self {
        GithubDiscussions {
            api,
            category: category.to_string(),
            ids: tokio::sync::OnceCell::new(),
            known: Mutex::new(HashMap::new()),
            numbers: Mutex::new(HashMap::new()),
            warmed: tokio::sync::OnceCell::new(),
        }
    }

    /// Seeds the numbers of earlier discussions from delivered actions of this sink (newest
    /// first, as [`Store::actions`] lists them): the fingerprint from the payload, the number
    /// from the `/discussions/N` URL in `external_ref`.
    pub fn seed(&self, actions: &[ActionRow]) {
        let mut numbers = self.numbers.lock().unwrap_or_else(PoisonError::into_inner);
        for a in actions.iter().rev() {
            if a.sink != Self::NAME || a.status != ActionStatus::Delivered {
                continue;
            }
            let number = a
                .external_ref
                .as_deref()
                .and_then(|r| r.rsplit_once("/discussions/"))
                .and_then(|(_, n)| n.split('#').next()?.parse::<u64>().ok());
            if let (Some(n), Some(fp)) = (number, a.payload["fingerprint"].as_str()) {
                numbers.insert(fp.to_string(), n);
            }
        }
    }

    /// The discussion number seeded for `fingerprint`.
    pub fn cached_number(&self, fingerprint: &str) -> Option<u64> {
        self.numbers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(fingerprint)
            .copied()
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<String, Found>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn repo_vars(&self) -> Value {
        let t = self.api.target();
        json!({ "owner": t.owner, "name": t.repo })
    }

    /// The repository and category ids (resolved once).
    async fn ids(&self) -> Result<&Ids, DeliveryError> {
        self.ids
            .get_or_try_init(|| async {
                let data = self.api.graphql(REPO_QUERY, self.repo_vars()).await?;
                let repo = &data["repository"];
                let t = self.api.target();
                let Some(repository) = repo["id"].as_str() else {
                    return Err(DeliveryError::Permanent(format!(
                        "github: repository {}/{} not found",
                        t.owner, t.repo
                    )));
                };
                if repo["hasDiscussionsEnabled"] == false {
                    return Err(DeliveryError::Permanent(format!(
                        "github: discussions are not enabled on {}/{}",
                        t.owner, t.repo
                    )));
                }
                let nodes = repo["discussionCategories"]["nodes"]
                    .as_array()
                    .ok_or_else(|| shape("discussionCategories", "no nodes"))?;
                let wanted = self.category.to_lowercase();
                let category = nodes
                    .iter()
                    .find(|c| {
                        c["name"].as_str().map(str::to_lowercase).as_deref() == Some(&wanted)
                            || c["slug"].as_str() == Some(wanted.as_str())
                    })
                    .and_then(|c| c["id"].as_str())
                    .ok_or_else(|| {
                        let names: Vec<&str> =
                            nodes.iter().filter_map(|c| c["name"].as_str()).collect();
                        DeliveryError::Permanent(format!(
                            "github: no discussion category {:?} in {}/{} (there are: {})",
                            self.category,
                            t.owner,
                            t.repo,
                            names.join(", ")
                        ))
                    })?;
                Ok(Ids {
                    repository: repository.to_string(),
                    category: category.to_string(),
                })
            })
            .await
    }

    /// The discussion of `fingerprint`: cached, else found by `marker` in the category.
    async fn locate(
        &self,
        fingerprint: &str,
        marker: &str,
    ) -> Result<Option<Found>, DeliveryError> {
        if let Some(f) = self.known().get(fingerprint).cloned() {
            return Ok(Some(f));
        }
        if let Some(number) = self.cached_number(fingerprint) {
            let mut vars = self.repo_vars();
            vars["number"] = json!(number);
            let data = self.api.graphql(BY_NUMBER_QUERY, vars).await?;
            let d = &data["repository"]["discussion"];
            if d["body"].as_str().is_some_and(|b| b.contains(marker))
                && let Some(id) = d["id"].as_str()
            {
                let found = Found {
                    id: id.to_string(),
                    url: d["url"].as_str().unwrap_or_default().to_string(),
                };
                self.known().insert(fingerprint.to_string(), found.clone());
                return Ok(Some(found));
            }
            self.numbers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(fingerprint);
        }
        let category = self.ids().await?.category.clone();
        let mut after = Value::Null;
        for _ in 0..MAX_PAGES {
            let mut vars = self.repo_vars();
            vars["cat"] = json!(category);
            vars["after"] = after.clone();
            let data = self.api.graphql(FIND_QUERY, vars).await?;
            let page = &data["repository"]["discussions"];
            let nodes = page["nodes"]
                .as_array()
                .ok_or_else(|| shape("discussions", "no nodes"))?;
            if let Some(d) = nodes
                .iter()
                .find(|d| d["body"].as_str().is_some_and(|b| b.contains(marker)))
            {
                let found = Found {
                    id: d["id"].as_str().unwrap_or_default().to_string(),
                    url: d["url"].as_str().unwrap_or_default().to_string(),
                };
                self.known().insert(fingerprint.to_string(), found.clone());
                return Ok(Some(found));
            }
            if page["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        Ok(None)
    }

    /// Opens the discussion of `key` (a fingerprint, or a report's key such as
    /// `insights-2026-W49`) with `title` and `body` unless one carrying its marker exists
    /// (cached, or found in the category): the same search as an `open` action, so posting
    /// the same report twice opens one discussion. `body` gets the marker appended. Returns the
    /// discussion's URL.
    pub async fn publish(
        &self,
        key: &str,
        title: &str,
        body: &str,
    ) -> Result<String, DeliveryError> {
        let body = format!("{body}\n\n{}\n", marker_of(key));
        Ok(self.open(key, title, &body).await?.url)
    }

    /// The discussion of `key`, found by its marker, or created with `title` and `body` (which
    /// carries the marker).
    async fn open(&self, key: &str, title: &str, body: &str) -> Result<Found, DeliveryError> {
        match self.locate(key, &marker_of(key)).await? {
            Some(d) => Ok(d),
            None => self.create(key, title, body).await,
        }
    }

    async fn create(&self, key: &str, title: &str, body: &str) -> Result<Found, DeliveryError> {
        let ids = self.ids().await?.clone();
        let input = json!({ "input": {
            "repositoryId": ids.repository,
            "categoryId": ids.category,
            "title": title,
            "body": body,
        }});
        let data = self.api.graphql(CREATE_MUTATION, input).await?;
        let d = &data["createDiscussion"]["discussion"];
        let found = Found {
            id: d["id"]
                .as_str()
                .ok_or_else(|| shape("createDiscussion", "no discussion id"))?
                .to_string(),
            url: d["url"].as_str().unwrap_or_default().to_string(),
        };
        self.known().insert(key.to_string(), found.clone());
        Ok(found)
    }

    /// Comments `note` on `d` unless a comment with `marker` is already there.
    async fn comment_once(&self, d: &Found, note: &str, marker: &str) -> Result<(), DeliveryError> {
        let data = self
            .api
            .graphql(COMMENTS_QUERY, json!({ "id": d.id }))
            .await?;
        if data["node"].is_null() {
            // The discussion was deleted: forget it, and let the retry open a new one.
            self.known().retain(|_, f| f.id != d.id);
            return Err(DeliveryError::retryable(format!(
                "github: discussion {} is gone",
                d.url
            )));
        }
        let posted = data["node"]["comments"]["nodes"]
            .as_array()
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["body"].as_str().is_some_and(|b| b.contains(marker)))
            });
        if posted {
            return Ok(());
        }
        let input = json!({ "input": {
            "discussionId": d.id,
            "body": format!("{note}\n\n{marker}"),
        }});
        self.api.graphql(COMMENT_MUTATION, input).await.map(drop)
    }
}

#[async_trait]
impl Sink for GithubDiscussions {
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

    fn as_discussions(&self) -> Option<&GithubDiscussions> {
        Some(self)
    }

    async fn deliver(&self, action: &ActionRow) -> Result<Delivered, DeliveryError> {
        let (kind, payload) = ActionPayload::read(action)?;
        let action_marker = format!("<!-- tokpulse:action={} -->", action.idempotency_key);
        let d = self
            .open(
                &payload.fingerprint,
                &payload.issue.title,
                &payload.issue.body,
            )
            .await?;
        if kind != ActionKind::Open
            && let Some(note) = &payload.note
        {
            self.comment_once(&d, note, &action_marker).await?;
        }
        Ok(Delivered {
            external_ref: d.url,
        })
    }
}
