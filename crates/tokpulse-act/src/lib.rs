//! TokPulse's action stage: turns findings into actions and delivers them through sinks.
//!
//! - [`render_issue`] renders a stored finding as the GitHub issue TokPulse would file
//!   ([`IssueDraft`]: title, labels, Markdown body with the evidence table and a hidden
//!   [fingerprint marker](fingerprint_marker)).
//! - The router, [`plan_for_change`] and [`plan_for_resolution`], decides what to queue when a
//!   finding is new, reopened or resolved: one [`NewAction`](tokpulse_store::NewAction) per
//!   sink, with an idempotency key that makes planning the same event twice harmless.
//! - A [`Sink`] delivers one action per call and never retries: [`Outbox`] (Markdown issues and
//!   a JSON-lines log in a folder), [`GithubIssues`], [`GithubPrComments`] (one sticky comment
//!   per pull request and kind), [`GithubDiscussions`] (GraphQL) and [`Slack`]. The GitHub ones
//!   share a [`GithubApi`], authenticated with a token or as a GitHub App ([`AppTokens`]).
//! - [`Routing`] picks the sinks by kind and severity; [`Quiet`] holds a sink's actions during
//!   [`QuietHours`]; [`send_test`] is `tokpulse actions test`.
//! - [`deliver_due`] is the queue's worker: it gives each due action to its sink and records
//!   the outcome, with exponential backoff and jitter ([`retry_delay`]) for retryable failures
//!   and parking for permanent ones.
//!
//! ```
//! use tokpulse_act::{plan_for_change, render_issue, Outbox, Sink};
//! use tokpulse_store::{ActionRow, ActionStatus, FindingChange};
//! # use tokpulse_core::*;
//! # let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
//! # let finding = Finding {
//! #     kind: FindingKind::ErrorSpike,
//! #     severity: Severity::Critical,
//! #     fingerprint: Fingerprint::of(FindingKind::ErrorSpike, &["web", "POST /checkout"]),
//! #     title: "Error rate of POST /checkout on web at 18.2% (baseline 0.4%)".into(),
//! #     service: "web".into(),
//! #     route: Some("POST /checkout".into()),
//! #     window: Window { start: now - chrono::Duration::minutes(30), end: now },
//! #     evidence: vec![Evidence {
//! #         metric: "error rate".into(), current: 18.2, baseline: Some(0.4),
//! #         threshold: Some(5.0), unit: "%".into(),
//! #     }],
//! #     cause: None,
//! #     suggestion: "Look at the logs of web for POST /checkout.".into(),
//! # };
//! # let stored = StoredFinding {
//! #     id: 1, finding, status: FindingStatus::Open, first_seen: now, last_seen: now,
//! #     occurrences: 1, resolved_at: None,
//! # };
//! // `stored` is a finding the store has just seen for the first time.
//! let issue = render_issue(&stored);
//! assert_eq!(issue.labels, ["tokpulse", "severity:critical", "kind:error_spike"]);
//! assert!(issue.body.contains("| error rate | 18.2% | 0.4% | 5.0% |"));
//!
//! let actions = plan_for_change(FindingChange::New { id: 1 }, &stored, &["outbox"], now);
//! assert_eq!(actions[0].kind, "open");
//!
//! // The queue would store the action and hand the row to the sink.
//! let row = ActionRow {
//!     id: 1, finding_id: 1, sink: "outbox".into(), kind: actions[0].kind.clone(),
//!     idempotency_key: actions[0].idempotency_key.clone(), payload: actions[0].payload.clone(),
//!     status: ActionStatus::Pending, attempts: 0, last_error: None, created_at: now,
//!     next_attempt_at: now, delivered_at: None, external_ref: None,
//! };
//! let dir = tempfile::tempdir().unwrap();
//! let outbox = Outbox::new(dir.path().to_path_buf());
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let delivered = outbox.deliver(&row).await.unwrap();
//! assert!(delivered.external_ref.ends_with(".md"));
//! assert_eq!(outbox.entries().unwrap().len(), 1);
//! # });
//! ```
#![warn(missing_docs)]

mod error;
#[cfg(feature = "testing")]
pub mod fake_github;
#[cfg(feature = "testing")]
pub mod fake_slack;
mod issue;
mod queue;
mod quiet;
#[cfg(any(test, feature = "testing"))]
pub mod rest_contract;
mod router;
mod routing;
mod sink;
pub mod sinks;
mod test_message;
#[cfg(test)]
mod testing;

pub use error::DeliveryError;
pub use issue::{IssueDraft, fingerprint_marker, render_issue};
pub use queue::{CLAIM_LEASE, DeliveryReport, deliver_due, retry_after, retry_delay};
pub use quiet::{Quiet, QuietHours};
pub use router::{
    ActionKind, ActionPayload, address_pull_request, plan_for_change, plan_for_recurrence,
    plan_for_resolution,
};
pub use routing::{PLANNED_KINDS, Routing, Rule, SINKS};
pub use sink::{Delivered, Sink};
pub use sinks::discussions::GithubDiscussions;
pub use sinks::github::GithubIssues;
pub use sinks::github_api::{GithubApi, GithubAuth, GithubTarget};
pub use sinks::github_app::AppTokens;
pub use sinks::outbox::{Outbox, OutboxEntry};
pub use sinks::pr_comment::GithubPrComments;
pub use sinks::slack::Slack;
pub use test_message::{TEST_TITLE, send_test};
