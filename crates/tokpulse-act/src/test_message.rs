//! `tokpulse actions test`: a clearly marked test finding sent straight through one sink (not
//! the queue, and past quiet hours), to check its credentials and settings.

use crate::{Delivered, DeliveryError, Sink, address_pull_request, plan_for_change};
use crate::{plan_for_resolution, render_issue};
use tokpulse_core::{
    Evidence, Finding, FindingKind, FindingStatus, Fingerprint, Severity, StoredFinding, Timestamp,
    Window,
};
use tokpulse_store::FindingChange;

/// The title every test message carries.
pub const TEST_TITLE: &str = "TokPulse test message: please ignore";

fn test_finding(now: Timestamp) -> StoredFinding {
    let stamp = now.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    StoredFinding {
        id: 0,
        finding: Finding {
            kind: FindingKind::ErrorSpike,
            severity: Severity::Info,
            fingerprint: Fingerprint::of(
                FindingKind::ErrorSpike,
                &["tokpulse-actions-test", &stamp],
            ),
            title: format!("{TEST_TITLE} ({stamp})"),
            service: "tokpulse".into(),
            route: None,
            window: Window {
                start: now,
                end: now,
            },
            evidence: vec![Evidence {
                metric: "test".into(),
                current: 1.0,
                baseline: None,
                threshold: None,
                unit: String::new(),
            }],
            cause: None,
            suggestion: "Nothing to do: `tokpulse actions test` sent this to check the sink."
                .into(),
        },
        status: FindingStatus::Open,
        first_seen: now,
        last_seen: now,
        occurrences: 1,
        resolved_at: None,
    }
}

/// Sends the test finding through `sink` at `now` (addressed to `pull_request` when given):
/// opened, then, where that leaves something open (a GitHub issue, a PR comment), resolved.
/// Where each step landed.
pub async fn send_test(
    sink: &dyn Sink,
    pull_request: Option<u64>,
    now: Timestamp,
) -> Result<Vec<Delivered>, DeliveryError> {
    let name = sink.name();
    let f = test_finding(now);
    debug_assert!(render_issue(&f).title.starts_with(TEST_TITLE));
    let mut actions = plan_for_change(FindingChange::New { id: 0 }, &f, &[name], now);
    if matches!(name, "github" | "github_pr") {
        let mut resolved = f.clone();
        resolved.status = FindingStatus::Resolved;
        resolved.resolved_at = Some(now);
        actions.extend(plan_for_resolution(&resolved, &[name], now));
    }
    if let Some(pr) = pull_request {
        address_pull_request(&mut actions, pr);
    }
    let mut out = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        out.push(sink.deliver(&a.queued_as(i as i64 + 1)).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outbox;

    #[tokio::test]
    async fn the_outbox_gets_one_marked_entry() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().to_path_buf());
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let d = send_test(&outbox, None, now).await.unwrap();
        assert_eq!(d.len(), 1);
        let text = std::fs::read_to_string(&d[0].external_ref).unwrap();
        assert!(text.contains(TEST_TITLE), "{text}");
    }
}
