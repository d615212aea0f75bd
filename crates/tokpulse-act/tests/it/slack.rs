//! The Slack sink against the local Slack stand-in.

use chrono::DateTime;
use std::time::Duration;
use tokpulse_act::fake_slack::FakeSlack;
use tokpulse_act::{DeliveryError, Sink, Slack, plan_for_change};
use tokpulse_core::{
    Evidence, Finding, FindingKind, FindingStatus, Fingerprint, Severity, StoredFinding, Window,
};
use tokpulse_store::{ActionRow, FindingChange};

fn action() -> ActionRow {
    let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let f = StoredFinding {
        id: 1,
        finding: Finding {
            kind: FindingKind::LatencyRegression,
            severity: Severity::Critical,
            fingerprint: Fingerprint::of(FindingKind::LatencyRegression, &["api", "GET /s"]),
            title: "p95 latency of GET /s on api up 221% (277 ms → 890 ms)".into(),
            service: "api".into(),
            route: Some("GET /s".into()),
            window: Window {
                start: now - chrono::Duration::minutes(30),
                end: now,
            },
            evidence: vec![Evidence {
                metric: "p95 latency".into(),
                current: 890.0,
                baseline: Some(277.0),
                threshold: Some(1500.0),
                unit: "ms".into(),
            }],
            cause: None,
            suggestion: "Bisect.".into(),
        },
        status: FindingStatus::Open,
        first_seen: now,
        last_seen: now,
        occurrences: 1,
        resolved_at: None,
    };
    plan_for_change(FindingChange::New { id: 1 }, &f, &["slack"], now)
        .remove(0)
        .queued_as(1)
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

#[tokio::test]
async fn a_block_kit_message_with_the_key_numbers_at_slacks_pace() {
    let slack = FakeSlack::start().await;
    let sink = Slack::new(slack.webhook_url.clone(), client());
    let a = action();
    sink.deliver(&a).await.unwrap();
    let m = slack.messages().remove(0);
    assert!(m["text"].as_str().unwrap().contains("GET /s"), "{m}");
    let blocks = m["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("CRITICAL"),
        "{m}"
    );
    let fields = blocks
        .iter()
        .find_map(|b| b["fields"].as_array())
        .expect("key numbers");
    assert!(
        fields[0]["text"].as_str().unwrap().contains("p95 latency"),
        "{m}"
    );
    // Right away again: too soon for Slack's pace; the queue is told how long to wait.
    match sink.deliver(&a).await.unwrap_err() {
        DeliveryError::Retryable { after, .. } => assert!(after.unwrap() <= Duration::from_secs(1)),
        e => panic!("{e}"),
    }
    assert_eq!(slack.messages().len(), 1);
}

#[tokio::test]
async fn slack_failures_become_retry_or_give_up() {
    let slack = FakeSlack::start().await;
    let a = action();
    slack.fail_next(429);
    let e = Slack::new(slack.webhook_url.clone(), client())
        .deliver(&a)
        .await
        .unwrap_err();
    assert!(
        matches!(e, DeliveryError::Retryable { after: Some(d), .. } if d == Duration::from_secs(3)),
        "{e}"
    );
    slack.fail_next(500);
    let e = Slack::new(slack.webhook_url.clone(), client())
        .deliver(&a)
        .await
        .unwrap_err();
    assert!(e.is_retryable());
    let wrong = slack.webhook_url.replace("B0001", "B9999");
    let e = Slack::new(wrong, client()).deliver(&a).await.unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("no_service"),
        "{e}"
    );
    assert!(slack.messages().is_empty());
}

#[tokio::test]
async fn the_message_links_to_the_findings_github_issue_once_it_is_filed() {
    let slack = FakeSlack::start().await;
    let sink = Slack::new(slack.webhook_url.clone(), client());
    let a = action();
    let fingerprint = a.payload["fingerprint"].as_str().unwrap().to_string();
    // Not filed yet (GitHub failing or slow): posted without a link rather than held.
    sink.deliver(&a).await.unwrap();
    // The GitHub sink delivered the same finding's open action.
    let mut github = a.clone();
    github.id = 2;
    github.sink = "github".into();
    github.status = tokpulse_store::ActionStatus::Delivered;
    github.external_ref = Some("https://github.com/acme/shop/issues/42".into());
    sink.seed(&[github]);
    assert_eq!(
        sink.issue_url(&fingerprint).as_deref(),
        Some("https://github.com/acme/shop/issues/42")
    );
    tokio::time::sleep(tokpulse_act::sinks::slack::MIN_INTERVAL).await;
    sink.deliver(&a).await.unwrap();
    let messages = slack.messages();
    assert_eq!(messages.len(), 2);
    assert!(
        !messages[0].to_string().contains("/issues/"),
        "{}",
        messages[0]
    );
    let link = messages[1]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .find(|t| t.starts_with("<https://"))
        .unwrap_or_else(|| panic!("no link: {}", messages[1]));
    assert_eq!(
        link,
        "<https://github.com/acme/shop/issues/42|GitHub issue #42>"
    );
}
