//! The sinks: one file each; the GitHub ones share `github_api` (and `github_app` for GitHub
//! App authentication).

pub mod discussions;
pub mod github;
pub mod github_api;
pub mod github_app;
pub mod outbox;
pub mod pr_comment;
pub mod slack;
