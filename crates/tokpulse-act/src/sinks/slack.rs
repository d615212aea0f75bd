//! The Slack sink: an incoming webhook, one Block Kit message per action.
//!
//! The message has a header with the severity and what happened (opened, resolved, back
//! again), the finding's title, its key numbers as fields, and the fingerprint in a context
//! line. Slack allows about one message per second per webhook: the sink keeps that pace itself
//! and answers [`DeliveryError::Retryable`] with the wait when a message comes too soon, so the
//! queue spaces them out. A 429 with `Retry-After` and 5xx answers are retryable; Slack's 4xx
//! errors (`invalid_payload`, `no_service`, `channel_not_found`…) are permanent.
//!
//! When the finding has a GitHub issue, the message links to it: the issue URLs come from the
//! GitHub actions already delivered ([`Sink::warm_up`] reads the latest ones on every delivery
//! pass, and the queue delivers to GitHub before Slack, so an issue filed in the same pass is
//! linked). A message whose issue is not filed yet (GitHub failing or slow) is posted without
//! the link rather than held: a page should not wait on GitHub.
//!
//! Incoming webhooks cannot tell whether a message was already posted, so a crash between
//! posting and recording the delivery can post it twice; everything else in the queue keeps
//! that window to one request.

use crate::router::{ActionKind, ActionPayload};
use crate::{Delivered, DeliveryError, Sink};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokpulse_store::{ActionRow, ActionStatus, Store, StoreError};

/// Delivered actions read on each pass for the issue links (the latest first).
const LINK_LOOKBACK: i64 = 2_000;

/// Slack's documented pace for incoming webhooks.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Posts findings to a Slack channel through an incoming webhook.
pub struct Slack {
    webhook_url: String,
    client: reqwest::Client,
    last_sent: Mutex<Option<Instant>>,
    /// Fingerprint → the URL of its GitHub issue.
    issues: Mutex<HashMap<String, String>>,
}

impl Slack {
    /// The sink's name in actions and config.
    pub const NAME: &'static str = "slack";

    /// A sink posting to `webhook_url` (a secret: it is the credential).
    pub fn new(webhook_url: String, client: reqwest::Client) -> Self {
        Slack {
            webhook_url,
            client,
            last_sent: Mutex::new(None),
            issues: Mutex::new(HashMap::new()),
        }
    }

    /// Learns the GitHub issue URLs of fingerprints from delivered actions of the `github` sink
    /// (newest first, as [`Store::actions`] lists them).
    pub fn seed(&self, actions: &[ActionRow]) {
        let mut issues = self.issues.lock().unwrap_or_else(PoisonError::into_inner);
        for a in actions.iter().rev() {
            if a.sink != crate::GithubIssues::NAME || a.status != ActionStatus::Delivered {
                continue;
            }
            if let (Some(url), Some(fp)) = (&a.external_ref, a.payload["fingerprint"].as_str())
                && url.contains("/issues/")
            {
                issues.insert(fp.to_string(), url.clone());
            }
        }
    }

    /// The GitHub issue URL known for `fingerprint`.
    pub fn issue_url(&self, fingerprint: &str) -> Option<String> {
        self.issues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(fingerprint)
            .cloned()
    }

    /// The Block Kit message for an action, linking to `issue` (the finding's GitHub issue URL)
    /// when there is one.
    pub fn message(kind: ActionKind, payload: &ActionPayload, issue: Option<&str>) -> Value {
        let what = match kind {
            ActionKind::Open => "New finding",
            ActionKind::Reopen => "Back again",
            ActionKind::Resolve => "Resolved",
            ActionKind::Update => "Still happening",
        };
        let icon = match (kind, payload.severity.as_str()) {
            (ActionKind::Resolve, _) => ":white_check_mark:",
            (_, "critical") => ":rotating_light:",
            (_, "high") => ":red_circle:",
            _ => ":large_yellow_circle:",
        };
        let header = format!("{what} · {}", payload.severity.as_str().to_uppercase());
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&header, 150)}}),
            json!({"type": "section", "text": {"type": "mrkdwn",
                "text": truncate(&format!("{icon} *{}*", payload.issue.title), 3000)}}),
        ];
        let fields: Vec<Value> = evidence_rows(&payload.issue.body)
            .into_iter()
            .take(10)
            .map(|(metric, current)| json!({"type": "mrkdwn", "text": format!("*{metric}*\n{current}")}))
            .collect();
        if !fields.is_empty() {
            blocks.push(json!({"type": "section", "fields": fields}));
        }
        if let Some(note) = &payload.note {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(note, 3000)}}));
        }
        if let Some(url) = issue {
            let number = url.rsplit('/').next().unwrap_or_default();
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
                "text": format!("<{url}|GitHub issue #{number}>")}}));
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": format!("TokPulse · {} · fingerprint `{}`", payload.finding_kind, payload.fingerprint)}]}));
        json!({
            "text": format!("{what}: {}", payload.issue.title),
            "blocks": blocks,
        })
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// `(metric, current)` from the evidence table of a rendered issue body.
fn evidence_rows(body: &str) -> Vec<(String, String)> {
    body.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| metric") && !l.starts_with("| ---"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (cells.len() >= 2).then(|| (cells[0].to_string(), cells[1].to_string()))
        })
        .collect()
}

#[async_trait]
impl Sink for Slack {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn warm_up(&self, store: &dyn Store) -> Result<(), StoreError> {
        self.seed(&store.actions(LINK_LOOKBACK).await?);
        Ok(())
    }

    async fn deliver(&self, action: &ActionRow) -> Result<Delivered, DeliveryError> {
        let (kind, payload) = ActionPayload::read(action)?;
        if kind == ActionKind::Update {
            // A channel hears when something starts, stops or comes back; the running
            // commentary stays in the issue.
            return Ok(Delivered {
                external_ref: "slack: updates are not posted".into(),
            });
        }
        {
            let mut last = self
                .last_sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(at) = *last {
                let since = at.elapsed();
                if since < MIN_INTERVAL {
                    return Err(DeliveryError::Retryable {
                        after: Some(MIN_INTERVAL - since),
                        reason: "slack: one message per second per webhook".into(),
                    });
                }
            }
            *last = Some(Instant::now());
        }
        let response = self
            .client
            .post(&self.webhook_url)
            .json(&Self::message(
                kind,
                &payload,
                self.issue_url(&payload.fingerprint).as_deref(),
            ))
            .send()
            .await
            .map_err(|e| DeliveryError::retryable(format!("slack: {}", e.without_url())))?;
        let status = response.status();
        let retry_after = crate::retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok(Delivered {
                external_ref: format!("slack: {}", text.trim()),
            });
        }
        let reason = format!("slack: {status}: {}", text.trim());
        if status.as_u16() == 429 || status.is_server_error() {
            Err(DeliveryError::Retryable {
                after: retry_after,
                reason,
            })
        } else {
            Err(DeliveryError::Permanent(reason))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_rows_come_from_the_issue_table() {
        let body = "x\n\n| metric | current | baseline | threshold |\n| --- | ---: | ---: | ---: |\n| p95 latency | 890 ms | 277 ms | 1500 ms |\n| requests | 1418 | 1418 | — |\n";
        assert_eq!(
            evidence_rows(body),
            [
                ("p95 latency".to_string(), "890 ms".to_string()),
                ("requests".to_string(), "1418".to_string())
            ]
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
