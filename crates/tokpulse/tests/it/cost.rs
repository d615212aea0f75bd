//! Cost tracking end to end: AI usage priced at ingest (an unknown model stored unpriced),
//! `GET /v1/cost/summary`, the cost run (predictions stored, budget findings by tier, routed),
//! and `tokpulse cost report` / `cost forecast`.

use crate::common::{TestCommand, TestServer, client};
use chrono::{Datelike, TimeDelta};
use serde_json::{Value, json};
use tokpulse::app::{App, open_store};
use tokpulse::config::Config;
use tokpulse_core::Window;
use tokpulse_core::{FindingKind, Severity};
use tokpulse_ingest::Format;
use tokpulse_store::StoreTarget;

/// `n` gpt-4o calls of 1M prompt tokens ($2.50 each) at `t`, and one to an unknown model.
fn calls(prefix: &str, t: chrono::DateTime<chrono::Utc>, n: usize) -> Vec<Value> {
    let mut v: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("{prefix}-{i}"), "timestamp": (t + TimeDelta::minutes(i as i64)).to_rfc3339(),
                "service": "api", "feature": "chat", "provider": "openai", "model": "gpt-4o",
                "prompt_tokens": 1_000_000, "completion_tokens": 0, "success": true,
            })
        })
        .collect();
    v.push(json!({
        "id": format!("{prefix}-x"), "timestamp": t.to_rfc3339(), "service": "api",
        "feature": "chat", "provider": "acme", "model": "acme-llm-9",
        "prompt_tokens": 500, "completion_tokens": 50, "success": true, "cost_usd": 0.0,
    }));
    v
}

fn body(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

#[tokio::test]
async fn usage_is_priced_at_ingest_and_summarised_over_http() {
    let s = TestServer::sqlite(Config::default()).await;
    let yesterday = chrono::Utc::now() - TimeDelta::days(1);
    let r = client()
        .post(s.url("/v1/ingest/ai-usage"))
        .bearer_auth(&s.keys.service)
        .header("content-type", "application/x-ndjson")
        .body(body(&calls("h", yesterday, 2)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let stored = s
        .store
        .ai_usage(Window {
            start: yesterday - TimeDelta::days(1),
            end: chrono::Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    for r in &stored {
        match r.model.as_str() {
            "gpt-4o" => assert!((r.cost_usd.unwrap() - 2.5).abs() < 1e-9),
            // Never priced at zero, even when the client said so.
            _ => assert_eq!(r.cost_usd, None),
        }
    }

    let get = |key: Option<String>, q: &str| {
        let mut req = client().get(s.url(&format!("/v1/cost/summary{q}")));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        req.send()
    };
    assert_eq!(get(None, "").await.unwrap().status(), 401);
    assert_eq!(
        get(Some(s.keys.anon.clone()), "").await.unwrap().status(),
        403
    );
    let r = get(Some(s.keys.authenticated.clone()), "?month=2026-13")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_query");
    let month = yesterday.format("%Y-%m").to_string();
    let r = get(
        Some(s.keys.authenticated.clone()),
        &format!("?month={month}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["month"], month);
    assert!((v["ai_usd"].as_f64().unwrap() - 5.0).abs() < 1e-9, "{v}");
    assert_eq!(v["unknown_models"][0]["model"], "acme-llm-9");
    assert_eq!(v["by_model"][0]["name"], "gpt-4o");
    let r = get(Some(s.keys.service.clone()), "").await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_month_over_budget_is_stored_and_raises_a_finding_by_tier() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&StoreTarget::Sqlite {
        data_dir: dir.path().to_path_buf(),
    })
    .await
    .unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.outbox.dir = dir.path().join("outbox");
    config.cost.infra.clear();
    // $20 a day (8 calls) from February 1; the run on March 16 sees $300 to March 15 and a
    // month heading for $620: 24% over $500, the Discussion tier.
    let now = chrono::DateTime::parse_from_rfc3339("2026-03-16T09:00:00Z")
        .unwrap()
        .to_utc();
    let app = App::new(&config, store.clone());
    let first = chrono::DateTime::parse_from_rfc3339("2026-02-01T08:00:00Z")
        .unwrap()
        .to_utc();
    for d in 0..(28 + 15) {
        let t = first + TimeDelta::days(d);
        let mut day = calls(&format!("d{d}"), t, 8);
        if d < 42 {
            day.pop();
        }
        let r = app
            .ingestor
            .ingest(
                tokpulse_core::RecordKind::AiUsage,
                Format::Ndjson,
                body(&day).as_bytes(),
            )
            .await
            .unwrap();
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    }
    let run = tokpulse::cost_run::run(&app.engine, &config.cost, now)
        .await
        .unwrap();
    assert_eq!(run.summary.as_of.day(), 15);
    assert!((run.summary.spend_to_date_usd - 300.0).abs() < 1e-6);
    let b = &run.summary.budgets[0];
    assert_eq!(
        b.status.tier,
        tokpulse_cost::BudgetTier::Discussion,
        "{b:?}"
    );

    let predictions = store.cost_predictions(10).await.unwrap();
    let mut methods: Vec<&str> = predictions
        .iter()
        .map(|p| p.prediction.method.as_str())
        .collect();
    methods.sort();
    assert_eq!(methods, ["linear", "robust_seasonal"]);
    for p in &predictions {
        let p = &p.prediction;
        assert_eq!((p.scope.as_str(), p.budget), ("project", Some(500.0)));
        assert!((p.spend_to_date - 300.0).abs() < 1e-6);
        assert!(p.lower.unwrap() <= p.projected && p.projected <= p.upper.unwrap());
        assert_eq!(p.tier.as_deref(), Some("discussion"));
    }
    let budget = run
        .seen
        .iter()
        .find(|f| f.finding.kind == FindingKind::BudgetOverrun)
        .expect("a budget finding");
    assert_eq!(budget.finding.severity, Severity::High);
    let unknown = run
        .seen
        .iter()
        .find(|f| f.finding.kind == FindingKind::UnknownModel)
        .expect("an unknown-model finding");
    assert!(unknown.finding.title.contains("acme-llm-9"));
    // The Discussion tier goes to GitHub Discussions by the default routing (here only the
    // outbox is enabled, and it gets both).
    let routing = &config.routing;
    assert!(
        routing
            .sinks_for(
                FindingKind::BudgetOverrun,
                Severity::High,
                &["outbox", "github_discussions"]
            )
            .contains(&"github_discussions")
    );
    assert!(
        !routing
            .sinks_for(
                FindingKind::BudgetOverrun,
                Severity::Warning,
                &["github_discussions"]
            )
            .contains(&"github_discussions")
    );
    assert_eq!(run.delivery.delivered, 2);

    // Run again: predictions are added (every run is kept), findings updated, nothing refiled.
    let again = tokpulse::cost_run::run(&app.engine, &config.cost, now + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!(store.cost_predictions(10).await.unwrap().len(), 4);
    assert_eq!(again.queued, 0);
}

#[test]
fn cost_report_and_forecast_print_the_month() {
    let t = TestCommand::new();
    let yesterday = chrono::Utc::now() - TimeDelta::days(1);
    let mut all = Vec::new();
    for d in 0..20 {
        all.extend(calls(&format!("c{d}"), yesterday - TimeDelta::days(d), 2));
    }
    std::fs::write(t.path().join("usage.ndjson"), body(&all)).unwrap();
    t.expect(&["ingest", "--kind", "ai-usage", "usage.ndjson"], 0);

    let (stdout, _) = t.expect(&["cost", "report", "--format", "json"], 0);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["month"], yesterday.format("%Y-%m").to_string());
    assert_eq!(v["by_feature"][0]["name"], "chat");
    assert_eq!(v["unknown_models"][0]["model"], "acme-llm-9");
    let (stdout, _) = t.expect(&["cost", "report"], 0);
    for s in [
        "per day",
        "per feature",
        "per model",
        "unpriced",
        "acme-llm-9",
    ] {
        assert!(stdout.contains(s), "{s}: {stdout}");
    }
    let (stdout, _) = t.expect(&["cost", "forecast", "--format", "json"], 0);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["budgets"][0]["scope"], "project");
    let (stdout, _) = t.expect(&["cost", "forecast"], 0);
    assert!(stdout.contains("budget status"), "{stdout}");
    let (_, stderr) = t.expect(&["cost", "report", "--month", "March"], 2);
    assert!(stderr.contains("--month"), "{stderr}");
}

#[tokio::test]
async fn infra_usage_is_ingested_by_id_with_per_record_rejections() {
    let s = TestServer::sqlite(Config::default()).await;
    let day = |d: i64| {
        (chrono::Utc::now() - TimeDelta::days(d))
            .format("%Y-%m-%dT00:00:00Z")
            .to_string()
    };
    let rec = |id: &str, provider: &str, metric: &str, q: f64| {
        json!({
            "id": id, "provider": provider, "project": "shop", "metric": metric, "quantity": q,
            "period_start": day(2), "period_end": day(1), "plan": "pro",
        })
    };
    let post = |body: String, ct: &'static str, key: Option<String>| {
        let mut req = client()
            .post(s.url("/v1/ingest/infra-usage"))
            .header("content-type", ct)
            .body(body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        req.send()
    };
    let batch = json!([
        rec("v1", "vercel", "requests", 1200.0),
        rec("s1", "supabase", "egress_gb", 3.5),
        rec("bad", "vercel", "egress_gb", 1.0),
    ])
    .to_string();
    assert_eq!(
        post(batch.clone(), "application/json", None)
            .await
            .unwrap()
            .status(),
        401
    );
    let r = post(
        batch.clone(),
        "application/json",
        Some(s.keys.authenticated.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let r = post(
        batch.clone(),
        "application/json",
        Some(s.keys.service.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["rejected"][0]["index"], 2);
    assert_eq!(v["rejected"][0]["field"], "metric");
    // A retry is counted as duplicates.
    let r = post(batch, "application/json", Some(s.keys.service.clone()))
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    // NDJSON, and a batch whose every record is refused.
    let ndjson = format!("{}\n", rec("v2", "vercel", "bandwidth_gb", 2.0));
    let r = post(ndjson, "application/x-ndjson", Some(s.keys.service.clone()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(
        format!("{}\n", json!({"id": "x", "provider": "vercel"})),
        "application/x-ndjson",
        Some(s.keys.service.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let r = post(
        "{not json".into(),
        "application/json",
        Some(s.keys.service.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        s.store
            .count(tokpulse_store::Table::InfraUsage)
            .await
            .unwrap(),
        3
    );
}
