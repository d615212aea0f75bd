//! PR checks: run when a pull request is opened or updated (`pull_request` webhook: opened,
//! synchronize, reopened). Each registered [`PrCheck`] gives a state and a Markdown section;
//! together they make one sticky comment on the pull request (rewritten in place on every
//! update) and one commit status on its head commit. Register a check in [`registered`].

use super::JobContext;
use crate::server::webhooks::PullRequestEvent;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use tokpulse_core::{FindingStatus, Severity, Timestamp};

/// A commit status state, as GitHub names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// Nothing wrong.
    Success,
    /// Something a reviewer should see.
    Failure,
}

impl CheckState {
    /// GitHub's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Success => "success",
            CheckState::Failure => "failure",
        }
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Its verdict.
    pub state: CheckState,
    /// A Markdown section for the comment.
    pub markdown: String,
}

/// A check of a pull request.
#[async_trait::async_trait]
pub trait PrCheck: Send + Sync + 'static {
    /// Its name, as the comment's section title.
    fn name(&self) -> &'static str;
    /// Checks `pr` as of `now`.
    async fn check(
        &self,
        ctx: &JobContext,
        pr: &PullRequestEvent,
        now: Timestamp,
    ) -> anyhow::Result<CheckResult>;
}

/// Where the comment and the status go.
#[async_trait::async_trait]
pub trait PrPublisher: Send + Sync + 'static {
    /// Creates or rewrites the pull request's sticky comment.
    async fn comment(&self, pr: &PullRequestEvent, body: &str) -> anyhow::Result<()>;
    /// Sets the commit status `context` on the head commit.
    async fn status(
        &self,
        pr: &PullRequestEvent,
        state: CheckState,
        context: &str,
        description: &str,
    ) -> anyhow::Result<()>;
}

/// The registered checks: one line each.
pub fn registered() -> Vec<Arc<dyn PrCheck>> {
    vec![Arc::new(OpenFindings)]
}

/// The checks and where their result goes.
#[derive(Clone)]
pub struct PrChecks {
    checks: Vec<Arc<dyn PrCheck>>,
    publisher: Arc<dyn PrPublisher>,
}

/// The commit status context.
pub const STATUS_CONTEXT: &str = "tokpulse";
/// Marks TokPulse's sticky comment.
pub const MARKER: &str = "<!-- tokpulse:pr-checks -->";

impl PrChecks {
    /// `checks`, published through `publisher`.
    pub fn new(checks: Vec<Arc<dyn PrCheck>>, publisher: Arc<dyn PrPublisher>) -> PrChecks {
        PrChecks { checks, publisher }
    }

    /// Runs every check on `pr`, then publishes one comment and one status. A check that
    /// fails to run shows as a failure with its error.
    pub async fn run(
        &self,
        ctx: &JobContext,
        pr: &PullRequestEvent,
        now: Timestamp,
    ) -> anyhow::Result<CheckState> {
        let mut body = format!("{MARKER}\n## TokPulse checks\n\n");
        let mut overall = CheckState::Success;
        let mut failing = Vec::new();
        for c in &self.checks {
            let r = match c.check(ctx, pr, now).await {
                Ok(r) => r,
                Err(e) => CheckResult {
                    state: CheckState::Failure,
                    markdown: format!("The check could not run: {e:#}"),
                },
            };
            if r.state == CheckState::Failure {
                overall = CheckState::Failure;
                failing.push(c.name());
            }
            let icon = if r.state == CheckState::Success {
                "✅"
            } else {
                "❌"
            };
            let _ = writeln!(
                body,
                "### {icon} {}\n\n{}\n",
                c.name(),
                r.markdown.trim_end()
            );
        }
        let _ = writeln!(
            body,
            "<sub>Updated for {} at {}.</sub>",
            short(&pr.head_sha),
            now.format("%Y-%m-%d %H:%M UTC")
        );
        self.publisher.comment(pr, &body).await?;
        let description = if failing.is_empty() {
            format!("{} checks passed", self.checks.len())
        } else {
            format!("failing: {}", failing.join(", "))
        };
        self.publisher
            .status(pr, overall, STATUS_CONTEXT, &description)
            .await?;
        Ok(overall)
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// Open high or critical findings: a pull request should not pile onto a burning service.
pub struct OpenFindings;

#[async_trait::async_trait]
impl PrCheck for OpenFindings {
    fn name(&self) -> &'static str {
        "open findings"
    }
    async fn check(
        &self,
        ctx: &JobContext,
        _pr: &PullRequestEvent,
        _now: Timestamp,
    ) -> anyhow::Result<CheckResult> {
        let open = ctx.store.findings(Some(FindingStatus::Open), 1000).await?;
        let serious: Vec<_> = open
            .iter()
            .filter(|f| f.finding.severity >= Severity::High)
            .collect();
        if serious.is_empty() {
            return Ok(CheckResult {
                state: CheckState::Success,
                markdown: format!(
                    "No high or critical findings are open ({} open in all).",
                    open.len()
                ),
            });
        }
        let mut md = format!("{} high or critical findings are open:\n\n", serious.len());
        for f in serious.iter().take(10) {
            let _ = writeln!(md, "- {} ({:?})", f.finding.title, f.finding.severity);
        }
        Ok(CheckResult {
            state: CheckState::Failure,
            markdown: md,
        })
    }
}

/// Writes the comment to `outbox/pull_requests/<owner>__<repo>-<number>.md` (rewritten in
/// place, like the sticky comment) and appends each status to `outbox/statuses.jsonl`.
pub struct OutboxPublisher {
    dir: PathBuf,
}

impl OutboxPublisher {
    /// Writing under the outbox folder `dir`.
    pub fn new(dir: PathBuf) -> OutboxPublisher {
        OutboxPublisher { dir }
    }

    /// The comment's file.
    pub fn comment_path(&self, pr: &PullRequestEvent) -> PathBuf {
        self.dir.join("pull_requests").join(format!(
            "{}-{}.md",
            pr.repository.replace('/', "__"),
            pr.number
        ))
    }
}

#[async_trait::async_trait]
impl PrPublisher for OutboxPublisher {
    async fn comment(&self, pr: &PullRequestEvent, body: &str) -> anyhow::Result<()> {
        let path = self.comment_path(pr);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::write(&path, body).await?;
        Ok(())
    }

    async fn status(
        &self,
        pr: &PullRequestEvent,
        state: CheckState,
        context: &str,
        description: &str,
    ) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt as _;
        tokio::fs::create_dir_all(&self.dir).await?;
        let line = serde_json::json!({
            "repository": pr.repository,
            "sha": pr.head_sha,
            "state": state,
            "context": context,
            "description": description,
        });
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("statuses.jsonl"))
            .await?;
        f.write_all(format!("{line}\n").as_bytes()).await?;
        Ok(())
    }
}

/// Publishes on GitHub: the sticky comment (found again by [`MARKER`] and edited in place)
/// and a commit status on the head commit. Pull requests of another repository than the
/// client's are skipped with a log line.
pub struct GithubPublisher {
    api: Arc<tokpulse_act::GithubApi>,
}

impl GithubPublisher {
    /// Through `api`.
    pub fn new(api: Arc<tokpulse_act::GithubApi>) -> GithubPublisher {
        GithubPublisher { api }
    }

    fn ours(&self, pr: &PullRequestEvent) -> bool {
        let t = self.api.target();
        let ours = pr
            .repository
            .eq_ignore_ascii_case(&format!("{}/{}", t.owner, t.repo));
        if !ours {
            tracing::info!(repository = %pr.repository, "pull request of another repository: not published");
        }
        ours
    }
}

#[async_trait::async_trait]
impl PrPublisher for GithubPublisher {
    async fn comment(&self, pr: &PullRequestEvent, body: &str) -> anyhow::Result<()> {
        use axum::http::Method;
        if !self.ours(pr) {
            return Ok(());
        }
        let list = self
            .api
            .repo_path(&format!("/issues/{}/comments", pr.number));
        let existing: Option<serde_json::Value> = self
            .api
            .find_in_pages(&list, 10, |c: &serde_json::Value| {
                c["body"].as_str().is_some_and(|b| b.contains(MARKER))
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let payload = serde_json::json!({ "body": body });
        match existing.and_then(|c| c["id"].as_u64()) {
            Some(id) => {
                let path = self.api.repo_path(&format!("/issues/comments/{id}"));
                self.api.call(Method::PATCH, &path, Some(&payload)).await
            }
            None => self.api.call(Method::POST, &list, Some(&payload)).await,
        }
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }

    async fn status(
        &self,
        pr: &PullRequestEvent,
        state: CheckState,
        context: &str,
        description: &str,
    ) -> anyhow::Result<()> {
        if !self.ours(pr) {
            return Ok(());
        }
        let path = self.api.repo_path(&format!("/statuses/{}", pr.head_sha));
        let payload = serde_json::json!({
            "state": state.as_str(),
            "context": context,
            "description": description,
        });
        self.api
            .call(axum::http::Method::POST, &path, Some(&payload))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

/// The publisher `serve` uses: GitHub when `[github]` is enabled (and not a dry run), else
/// `None` (the outbox).
pub fn publisher(
    config: &crate::config::Config,
    env: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<Option<Arc<dyn PrPublisher>>> {
    if !config.github.enabled || config.routing.dry_run {
        return Ok(None);
    }
    let api = Arc::new(crate::app::github_api(config, env)?);
    Ok(Some(Arc::new(GithubPublisher::new(api))))
}
