//! The whole Event → Analysis → Action path on both stores: the demo's day goes in through the
//! ingest path, diagnosis finds exactly the injected problems, the outbox gets one issue each,
//! and running again neither duplicates findings nor files twice.

use crate::common::{TestServer, client};
use std::sync::Arc;
use tokpulse::app::{App, open_store};
use tokpulse::config::Config;
use tokpulse_core::{FindingKind, FindingStatus, RecordKind};
use tokpulse_ingest::Format;
use tokpulse_store::testing::PgCluster;
use tokpulse_store::{FindingChange, Store, StoreTarget, Table};

async fn scenario(store: Arc<dyn Store>, outbox: &std::path::Path) {
    let mut config = Config::default();
    config.outbox.dir = outbox.to_path_buf();
    config.diagnosis.update_interval_minutes = 1;
    let app = App::new(&config, store.clone());
    let end = chrono::DateTime::parse_from_rfc3339("2026-11-24T15:30:00Z")
        .unwrap()
        .to_utc();
    let day = tokpulse::demo::generate(end, 60_000, 42, 5000);
    for (kind, body) in &day.bodies {
        let r = app
            .ingestor
            .ingest(*kind, Format::Ndjson, body.as_bytes())
            .await
            .unwrap();
        assert!(r.rejected.is_empty(), "{:?}", r.rejected.first());
    }
    let ci = app
        .ingestor
        .ingest_ci(Format::Ndjson, day.ci.as_bytes())
        .await
        .unwrap();
    assert!(ci.rejected.is_empty(), "{:?}", ci.rejected.first());
    assert_eq!(ci.accepted, day.ci_jobs);
    let perf = day.counts[0].1 as i64;
    assert_eq!(store.count(Table::PerformanceMetrics).await.unwrap(), perf);

    let run = app.engine.run(end).await.unwrap();
    assert_eq!(run.rolled_up as i64, perf, "every request is rolled up");
    let mut seen: Vec<(FindingKind, String, String)> = run
        .seen
        .iter()
        .map(|(_, f)| {
            (
                f.finding.kind,
                f.finding.service.clone(),
                f.finding.route.clone().unwrap_or_default(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (
                FindingKind::LatencyRegression,
                "mobile-bff".into(),
                "GET /v2/profile".into()
            ),
            (
                FindingKind::ErrorSpike,
                "mobile-bff".into(),
                "POST /v2/events".into()
            ),
            (
                FindingKind::DeployRegression,
                "api".into(),
                "GET /api/search".into()
            ),
            (
                FindingKind::DeployRegression,
                "web".into(),
                "POST /checkout".into()
            ),
            (
                FindingKind::CiFailure,
                "shopfront/app".into(),
                "CI / e2e".into()
            ),
            (
                FindingKind::FlakyJob,
                "shopfront/app".into(),
                "CI / unit".into()
            ),
            (FindingKind::NewErrorPattern, "mobile-bff".into(), "".into()),
            (
                FindingKind::LevelShift,
                "mobile-bff".into(),
                "GET /v2/feed".into()
            ),
        ],
        "exactly the injected problems"
    );
    for (change, f) in &run.seen {
        assert!(matches!(change, FindingChange::New { .. }));
        let expected = match (f.finding.kind, f.finding.service.as_str()) {
            (FindingKind::DeployRegression, "api") => "a1b2c3d4e5f6",
            (FindingKind::DeployRegression, _) => "9f8e7d6c5b4a",
            (FindingKind::NewErrorPattern, _) => "4c1d2e9b7a",
            _ => continue,
        };
        let cause = f.finding.cause.as_ref().expect("the deploy is named");
        assert_eq!(cause.commit_sha.as_deref(), Some(expected));
    }
    assert_eq!(run.delivery.delivered, 8);
    let issues = std::fs::read_dir(outbox.join("issues")).unwrap().count();
    assert_eq!(issues, 8);

    // Same problems a minute later: updated, not duplicated; nothing new is filed, and each
    // issue gets one update with the latest evidence (the interval is one minute here).
    // Deploys are checked once: the deploy findings are seen again through the route alerts
    // that follow them.
    let later = end + chrono::Duration::minutes(1);
    let run = app.engine.run(later).await.unwrap();
    let titles: Vec<(&FindingChange, &str)> = run
        .seen
        .iter()
        .map(|(c, f)| (c, f.finding.title.as_str()))
        .collect();
    assert_eq!(run.queued, 8, "one update per finding: {titles:?}");
    let again = app
        .engine
        .run(later + chrono::Duration::seconds(20))
        .await
        .unwrap();
    assert_eq!(again.queued, 0, "at most one update per interval");
    assert_eq!(run.seen.len(), 8);
    assert!(
        run.seen
            .iter()
            .all(|(c, f)| matches!(c, FindingChange::Updated { .. }) && f.occurrences == 2)
    );
    assert_eq!(store.count(Table::Findings).await.unwrap(), 8);
    assert_eq!(std::fs::read_dir(outbox.join("issues")).unwrap().count(), 8);

    // Half a day later the new error has stopped, and the feed has had no traffic for hours: both
    // resolved. CI findings hold while the failures are the latest runs; a deploy's regression
    // holds until a later deploy checks clean; a route's latency or error alert holds until
    // enough good windows close it, or a day passes with nothing to judge.
    // A run at `at`: the kinds it resolved, and how many findings are open after it.
    let resolve_at = |at: chrono::DateTime<chrono::Utc>| {
        let (engine, store) = (app.engine.clone(), store.clone());
        async move {
            let run = engine.run(at).await.unwrap();
            let resolved: Vec<FindingKind> = run.resolved.iter().map(|f| f.finding.kind).collect();
            let open = store.findings(Some(FindingStatus::Open), 10).await.unwrap();
            (resolved, open.len())
        }
    };
    assert_eq!(
        resolve_at(end + chrono::Duration::hours(12)).await,
        (
            vec![FindingKind::NewErrorPattern, FindingKind::LevelShift],
            6
        )
    );
    let jsonl = std::fs::read_to_string(outbox.join("actions.jsonl")).unwrap();
    assert_eq!(
        jsonl.lines().count(),
        20,
        "eight opens, eight updates, the CI findings' next updates and two resolutions:\n{jsonl}"
    );
    // A day after their last judged window the route alerts have had nothing to judge: closed.
    assert_eq!(
        resolve_at(end + chrono::Duration::days(1)).await,
        (
            vec![FindingKind::ErrorSpike, FindingKind::LatencyRegression],
            4
        )
    );
    // No customer email reached the store.
    assert!(
        store
            .has_record(RecordKind::Deploys, "deploy-api-2140")
            .await
            .unwrap()
    );
    let deploys = store
        .deployments(tokpulse_core::Window {
            start: end - chrono::Duration::days(2),
            end,
        })
        .await
        .unwrap();
    assert!(
        deploys
            .iter()
            .all(|d| !d.author.as_deref().unwrap_or("").contains('@'))
    );
}

#[tokio::test]
async fn pipeline_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&StoreTarget::Sqlite {
        data_dir: dir.path().join("db"),
    })
    .await
    .unwrap();
    scenario(store.clone(), &dir.path().join("outbox")).await;
    store.close().await;
}

#[tokio::test]
async fn pipeline_on_postgres() {
    let url = PgCluster::shared().create_database("pipeline").await;
    let store = open_store(&StoreTarget::Postgres {
        url,
        max_connections: 4,
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    scenario(store.clone(), &dir.path().join("outbox")).await;
    store.close().await;
}

#[tokio::test]
async fn http_ingest_on_postgres() {
    let url = PgCluster::shared().create_database("http_ingest").await;
    let store = open_store(&StoreTarget::Postgres {
        url,
        max_connections: 4,
    })
    .await
    .unwrap();
    let s = TestServer::on(Config::default(), store, None).await;
    let body: String = (0..50)
        .map(|i| {
            format!(
                "{}\n",
                crate::common::perf(
                    &format!("pg{i}"),
                    if i % 10 == 0 { 503 } else { 200 },
                    10.0 + i as f64
                )
            )
        })
        .collect();
    for expected in [(50, 0), (0, 50)] {
        let r = client()
            .post(s.url("/v1/ingest/performance"))
            .bearer_auth(&s.keys.service)
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (v["accepted"].as_u64(), v["duplicates"].as_u64()),
            (Some(expected.0), Some(expected.1))
        );
    }
    let r = client()
        .post(s.url("/v1/ingest/performance"))
        .bearer_auth(&s.keys.anon)
        .json(&serde_json::json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let health: serde_json::Value = client()
        .get(s.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["backend"], "postgres");
    assert_eq!(s.store.count(Table::PerformanceMetrics).await.unwrap(), 50);
}
