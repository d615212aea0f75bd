//! The webhook receivers on loopback: GitHub's and Vercel's documented payloads (kept in
//! `tests/fixtures/webhooks/`), good, forged, missing and malformed signatures, replays.

use crate::common::{client, serve_loopback};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokpulse::app::App;
use tokpulse::clock::ManualClock;
use tokpulse::config::Config;
use tokpulse::server::webhooks::{
    AutomationEvent, WebhookSecrets, WebhookState, router, sign_github, sign_vercel,
};
use tokpulse_store::{Store, Table};

const GITHUB_SECRET: &str = "gh-webhook-secret";
/// The secret the Vercel fixtures' documented signatures were made with.
const VERCEL_SECRET: &str = "tokpulse-test-secret";

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/webhooks")
            .join(path),
    )
    .unwrap()
}

struct Hooks {
    base: String,
    store: Arc<dyn Store>,
    events: UnboundedReceiver<AutomationEvent>,
    _dir: tempfile::TempDir,
}

async fn start(secrets: WebhookSecrets) -> Hooks {
    let dir = tempfile::tempdir().unwrap();
    let store = tokpulse::app::open_store(&tokpulse_store::StoreTarget::Sqlite {
        data_dir: dir.path().to_path_buf(),
    })
    .await
    .unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let app = App::new(&config, store.clone());
    let (tx, rx) = unbounded_channel();
    let state = Arc::new(WebhookState {
        ingestor: app.ingestor.clone(),
        store: store.clone(),
        secrets,
        clock: Arc::new(ManualClock::new(chrono::Utc::now())),
        events: tx,
        max_body_bytes: 1 << 20,
    });
    let (base, _) = serve_loopback(router(state)).await;
    Hooks {
        base,
        store,
        events: rx,
        _dir: dir,
    }
}

async fn github(
    h: &Hooks,
    event: &str,
    delivery: &str,
    body: &[u8],
    signature: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = client()
        .post(format!("{}/webhooks/github", h.base))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

async fn signed(h: &Hooks, event: &str, delivery: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let sig = sign_github(GITHUB_SECRET.as_bytes(), body);
    github(h, event, delivery, body, Some(&sig)).await
}

async fn vercel(h: &Hooks, body: &[u8], signature: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = client()
        .post(format!("{}/webhooks/vercel", h.base))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("x-vercel-signature", s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

async fn counts(h: &Hooks) -> (i64, i64, i64, i64) {
    (
        h.store.count(Table::CiJobs).await.unwrap(),
        h.store.count(Table::CiRuns).await.unwrap(),
        h.store.count(Table::Deployments).await.unwrap(),
        h.store.count(Table::WebhookDeliveries).await.unwrap(),
    )
}

fn secrets() -> WebhookSecrets {
    WebhookSecrets::new(Some(GITHUB_SECRET), Some(VERCEL_SECRET))
}

#[tokio::test]
async fn github_documented_payloads_become_records_and_events() {
    let mut h = start(secrets()).await;

    let (s, v) = signed(&h, "ping", "d-ping", &fixture("github/ping.json")).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("pong")), "{v}");

    let failure = fixture("github/workflow_job.completed.failure.json");
    let (s, v) = signed(&h, "workflow_job", "d-job", &failure).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("processed")), "{v}");
    assert_eq!(v["detail"]["accepted"], 1, "{v}");
    assert!(matches!(
        h.events.recv().await,
        Some(AutomationEvent::CiCompleted { failed: true, .. })
    ));

    let run = fixture("github/workflow_run.completed.success.json");
    let (s, _) = signed(&h, "workflow_run", "d-run", &run).await;
    assert_eq!(s, 200);
    assert!(matches!(
        h.events.recv().await,
        Some(AutomationEvent::CiCompleted { failed: false, .. })
    ));

    let deploy = fixture("github/deployment_status.created.json");
    let (s, v) = signed(&h, "deployment_status", "d-deploy", &deploy).await;
    assert_eq!((s, v["detail"]["accepted"].as_u64()), (200, Some(1)), "{v}");
    match h.events.recv().await {
        Some(AutomationEvent::Deploy { id, at }) => {
            assert_eq!(id, "github-deployment-145988746");
            assert_eq!(at.to_rfc3339(), "2019-05-15T15:20:55+00:00");
        }
        other => panic!("expected a deploy event, got {other:?}"),
    }

    let pr = fixture("github/pull_request.opened.json");
    let (s, _) = signed(&h, "pull_request", "d-pr", &pr).await;
    assert_eq!(s, 200);
    match h.events.recv().await {
        Some(AutomationEvent::PullRequest(p)) => {
            assert_eq!(
                (p.repository.as_str(), p.number),
                ("Codertocat/Hello-World", 2)
            );
            assert_eq!(p.head_sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
        }
        other => panic!("expected a pull request event, got {other:?}"),
    }
    // A closed pull request runs no checks.
    let closed = fixture("github/pull_request.closed.json");
    let (s, v) = signed(&h, "pull_request", "d-pr-closed", &closed).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("noted")), "{v}");

    let (s, v) = signed(&h, "push", "d-push", &fixture("github/push.json")).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("noted")), "{v}");

    // An event TokPulse does not handle: 202, ignored, not recorded.
    let check = fixture("github/check_run.completed.failure.json");
    let (s, v) = signed(&h, "check_run", "d-check", &check).await;
    assert_eq!((s, v["status"].as_str()), (202, Some("ignored")), "{v}");

    assert_eq!(counts(&h).await, (1, 1, 1, 7));
    assert!(h.events.try_recv().is_err(), "no other event");
}

#[tokio::test]
async fn github_forged_missing_replayed_and_malformed() {
    let mut h = start(secrets()).await;
    let body = fixture("github/workflow_job.completed.failure.json");

    // Missing and forged signatures: 401, nothing stored, nothing recorded.
    let (s, v) = github(&h, "workflow_job", "d-1", &body, None).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (401, Some("invalid_signature")),
        "{v}"
    );
    let forged = sign_github(b"not the secret", &body);
    let (s, _) = github(&h, "workflow_job", "d-1", &body, Some(&forged)).await;
    assert_eq!(s, 401);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let good_sig = sign_github(GITHUB_SECRET.as_bytes(), &body);
    let (s, _) = github(&h, "workflow_job", "d-1", &tampered, Some(&good_sig)).await;
    assert_eq!(s, 401, "a signature over other bytes");
    let (s, _) = github(&h, "workflow_job", "d-1", &body, Some("sha256=00")).await;
    assert_eq!(s, 401);
    assert_eq!(counts(&h).await, (0, 0, 0, 0));

    // Good, then the same delivery again: processed once.
    let (s, v) = signed(&h, "workflow_job", "d-1", &body).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("processed")), "{v}");
    let (s, v) = signed(&h, "workflow_job", "d-1", &body).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("duplicate")), "{v}");
    assert_eq!(counts(&h).await, (1, 0, 0, 1));
    assert!(h.events.recv().await.is_some());
    assert!(h.events.try_recv().is_err(), "the replay triggered nothing");

    // Malformed: not JSON, and JSON without the job's required fields. 400 with the reason;
    // the delivery is not recorded, so a corrected retry is taken.
    let (s, v) = signed(&h, "workflow_job", "d-2", b"{not json").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("malformed_payload")),
        "{v}"
    );
    let no_sha = br#"{"action":"completed","workflow_job":{"id":7,"run_id":1,"name":"test"}}"#;
    let (s, v) = signed(&h, "workflow_job", "d-3", no_sha).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("workflow_job"),
        "{v}"
    );
    let no_state = br#"{"deployment_status":{},"deployment":{"id":1}}"#;
    let (s, v) = signed(&h, "deployment_status", "d-4", no_state).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("deployment_status.state"),
        "{v}"
    );
    assert_eq!(counts(&h).await, (1, 0, 0, 1));
}

#[tokio::test]
async fn vercel_documented_signatures_and_events() {
    let mut h = start(secrets()).await;
    // The signatures documented beside the fixtures (shared/datasets/vercel/README.md).
    let succeeded = fixture("vercel/deployment.succeeded.constructed.json");
    let (s, v) = vercel(
        &h,
        &succeeded,
        Some("0a97d5457a2ff4361100d0444debc1f911b4f520"),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("processed")), "{v}");
    assert!(matches!(
        h.events.recv().await,
        Some(AutomationEvent::Deploy { .. })
    ));
    let created = fixture("vercel/deployment.created.constructed.json");
    let (s, v) = vercel(
        &h,
        &created,
        Some("b0e25e13bcff5829b40613182470ea216097b8fd"),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("noted")), "{v}");
    for (file, sig) in [
        ("error", "7b7e83a6f7f051b2c790c7d0852cc7586a7e4717"),
        ("canceled", "683015f93c021273e7b19c798df738e6b7ad4e6e"),
    ] {
        let body = fixture(&format!("vercel/deployment.{file}.constructed.json"));
        let (s, _) = vercel(&h, &body, Some(sig)).await;
        assert_eq!(s, 200, "{file}");
    }
    assert_eq!(counts(&h).await, (0, 0, 1, 4));

    // Replayed: the envelope's id was seen.
    let (s, v) = vercel(
        &h,
        &succeeded,
        Some(&sign_vercel(VERCEL_SECRET.as_bytes(), &succeeded)),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("duplicate")), "{v}");
    // Forged and missing.
    let (s, _) = vercel(&h, &succeeded, Some(&sign_vercel(b"nope", &succeeded))).await;
    assert_eq!(s, 401);
    let (s, _) = vercel(&h, &succeeded, None).await;
    assert_eq!(s, 401);
    // Malformed: no type.
    let body = br#"{"id":"evt_1","payload":{}}"#;
    let (s, v) = vercel(&h, body, Some(&sign_vercel(VERCEL_SECRET.as_bytes(), body))).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("malformed_payload")),
        "{v}"
    );
    // Unknown type: 202.
    let body = br#"{"id":"evt_2","type":"project.created","createdAt":1,"payload":{}}"#;
    let (s, _) = vercel(&h, body, Some(&sign_vercel(VERCEL_SECRET.as_bytes(), body))).await;
    assert_eq!(s, 202);
    assert_eq!(counts(&h).await, (0, 0, 1, 4));
}

#[tokio::test]
async fn a_receiver_without_its_secret_is_not_configured() {
    let h = start(WebhookSecrets::new(None, Some(VERCEL_SECRET))).await;
    let body = fixture("github/ping.json");
    let (s, v) = github(&h, "ping", "d", &body, Some(&sign_github(b"x", &body))).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (503, Some("not_configured")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("TOKPULSE_GITHUB_WEBHOOK_SECRET")
    );
}
