//! The HTTP API over real loopback: auth, bad input, partial batches, idempotent retries.

use crate::common::{TestServer, client, ndjson, perf};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::io::Write;
use tokpulse::config::Config;
use tokpulse_store::Table;

async fn post(
    s: &TestServer,
    path: &str,
    key: Option<&str>,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut req = client()
        .post(s.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, v)
}

#[tokio::test]
async fn health_and_openapi_need_no_key() {
    let s = TestServer::sqlite(Config::default()).await;
    let r = client().get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["backend"], "sqlite");

    let doc: Value = client()
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/v1/ingest/performance",
        "/v1/ingest/ai-usage",
        "/v1/ingest/logs",
        "/v1/events/deploy",
        "/v1/findings",
        "/healthz",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["PerformanceIn"]["properties"]["duration_ms"].is_object());
}

#[tokio::test]
async fn keys_and_roles_are_enforced() {
    let s = TestServer::sqlite(Config::default()).await;
    let body = json!([perf("a1", 200, 10.0)]).to_string();
    let path = "/v1/ingest/performance";

    let (code, v) = post(&s, path, None, "application/json", body.clone()).await;
    assert_eq!(code, 401);
    assert_eq!(v["error"], "unauthorized");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{v}"
    );

    let (code, v) = post(
        &s,
        path,
        Some("tpk_wrong"),
        "application/json",
        body.clone(),
    )
    .await;
    assert_eq!(code, 401);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("unknown or revoked"),
        "{v}"
    );

    for key in [&s.keys.authenticated, &s.keys.anon] {
        let (code, v) = post(&s, path, Some(key), "application/json", body.clone()).await;
        assert_eq!(code, 403, "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("needs role `service`"),
            "{v}"
        );
    }
    assert_eq!(s.store.count(Table::PerformanceMetrics).await.unwrap(), 0);

    let (code, v) = post(&s, path, Some(&s.keys.service), "application/json", body).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["accepted"], 1);

    let r = client()
        .get(s.url("/v1/findings"))
        .bearer_auth(&s.keys.authenticated)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client()
        .get(s.url("/v1/findings?status=open"))
        .bearer_auth(&s.keys.service)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .get(s.url("/v1/findings?status=sideways"))
        .bearer_auth(&s.keys.service)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_retried_batch_is_not_counted_twice() {
    let s = TestServer::sqlite(Config::default()).await;
    let body = json!([
        perf("r1", 200, 10.0),
        perf("r2", 200, 11.0),
        perf("r3", 500, 12.0)
    ])
    .to_string();
    let key = s.keys.service.clone();
    let path = "/v1/ingest/performance";
    let (code, v) = post(&s, path, Some(&key), "application/json", body.clone()).await;
    assert_eq!(
        (code, v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (200, Some(3), Some(0))
    );
    let (code, v) = post(&s, path, Some(&key), "application/json", body).await;
    assert_eq!(
        (code, v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (200, Some(0), Some(3))
    );
    assert_eq!(s.store.count(Table::PerformanceMetrics).await.unwrap(), 3);
}

#[tokio::test]
async fn a_mixed_batch_stores_the_good_records_once_and_names_the_bad_ones() {
    let s = TestServer::sqlite(Config::default()).await;
    let mut missing = perf("m3", 200, 10.0);
    missing.as_object_mut().unwrap().remove("service");
    let mut unknown = perf("m4", 200, 10.0);
    unknown["duraton_ms"] = json!(3);
    let body = format!(
        "{}{{not json\n{}{}{}{}",
        ndjson(&[perf("m0", 200, 10.0)]),
        ndjson(&[
            json!({"id": "m2", "timestamp": "2026-11-25T10:00:00Z", "service": "web",
            "route": "/", "status_code": "two hundred", "duration_ms": 5})
        ]),
        ndjson(&[missing]),
        ndjson(&[unknown]),
        ndjson(&[perf("m5", 200, 12.0)]),
    );
    let key = s.keys.service.clone();
    let (code, v) = post(
        &s,
        "/v1/ingest/performance",
        Some(&key),
        "application/x-ndjson",
        body.clone(),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["accepted"], 2, "{v}");
    let rejected = v["rejected"].as_array().unwrap();
    let by_index = |i: u64| {
        rejected
            .iter()
            .find(|r| r["index"] == i)
            .unwrap_or_else(|| panic!("record {i} not rejected: {v}"))
    };
    assert!(
        by_index(1)["reason"].as_str().unwrap().contains("JSON"),
        "{v}"
    );
    assert_eq!(by_index(2)["field"], "status_code", "{v}");
    assert_eq!(by_index(3)["field"], "service", "{v}");
    assert!(
        by_index(4)["reason"]
            .as_str()
            .unwrap()
            .contains("duraton_ms"),
        "{v}"
    );
    assert_eq!(rejected.len(), 4, "{v}");

    // The same batch again: the good records are duplicates now, nothing is stored twice.
    let (_, v) = post(
        &s,
        "/v1/ingest/performance",
        Some(&key),
        "application/x-ndjson",
        body,
    )
    .await;
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(2)),
        "{v}"
    );
    assert_eq!(s.store.count(Table::PerformanceMetrics).await.unwrap(), 2);
    assert!(
        s.store
            .has_record(tokpulse_core::RecordKind::Performance, "m5")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn malformed_bodies_get_400_with_the_reason() {
    let s = TestServer::sqlite(Config::default()).await;
    let key = s.keys.service.clone();
    let path = "/v1/ingest/performance";

    let (code, v) = post(
        &s,
        path,
        Some(&key),
        "application/json",
        "[{\"id\": \"x\",\n 3",
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("line 2"), "{v}");

    let (code, v) = post(
        &s,
        path,
        Some(&key),
        "application/json",
        b"[{\"id\": \"\xff\xfe\"}]".to_vec(),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("UTF-8"), "{v}");

    let (code, v) = post(
        &s,
        path,
        Some(&key),
        "application/x-ndjson",
        "nope\nnot json\n",
    )
    .await;
    assert_eq!(code, 400, "{v}");

    let (code, v) = post(&s, path, Some(&key), "text/html", "<html>").await;
    assert_eq!(code, 415, "{v}");

    // Every record rejected: 422 with the reasons.
    let (code, v) = post(
        &s,
        path,
        Some(&key),
        "application/json",
        "[{\"id\": \"only\"}]",
    )
    .await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["rejected"][0]["index"], 0);
    assert_eq!(s.store.count(Table::PerformanceMetrics).await.unwrap(), 0);
}

#[tokio::test]
async fn oversized_and_compressed_bodies() {
    let mut config = Config::default();
    config.server.max_body_bytes = 64 * 1024;
    let s = TestServer::sqlite(config).await;
    let key = s.keys.service.clone();
    let path = "/v1/ingest/performance";

    let records: Vec<Value> = (0..1000)
        .map(|i| perf(&format!("big{i}"), 200, 1.0))
        .collect();
    let big = ndjson(&records);
    assert!(big.len() > 64 * 1024);
    let (code, v) = post(&s, path, Some(&key), "application/x-ndjson", big.clone()).await;
    assert_eq!(code, 413, "{v}");
    assert_eq!(v["error"], "payload_too_large", "{v}");

    // The same records gzipped fit, but decompress past the limit: still 413.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(big.as_bytes()).unwrap();
    let compressed = gz.finish().unwrap();
    assert!(compressed.len() < 64 * 1024);
    let resp = client()
        .post(s.url(path))
        .bearer_auth(&key)
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .body(compressed)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    // A small gzipped batch is taken.
    let small = ndjson(&records[..100]);
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(small.as_bytes()).unwrap();
    let resp = client()
        .post(s.url(path))
        .bearer_auth(&key)
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["accepted"], 100);

    let resp = client()
        .post(s.url(path))
        .bearer_auth(&key)
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "br")
        .body(small)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
}

#[tokio::test]
async fn every_kind_has_its_endpoint_and_text_is_guarded() {
    let s = TestServer::sqlite(Config::default()).await;
    let key = s.keys.service.clone();
    let cases = [
        (
            "/v1/ingest/ai-usage",
            json!({"id": "ai1", "timestamp": 1764064800000u64, "service": "api",
            "model": "gpt-4o-mini", "prompt_tokens": 100, "completion_tokens": 20,
            "success": false, "error_message": "invalid key sk-proj-abcdefghijklmnopqrstuvwx"}),
        ),
        (
            "/v1/ingest/logs",
            json!({"id": "l1", "timestamp": "2026-11-25T10:00:00Z",
            "service": "api", "level": "error", "message": "reset for jane.doe@corp.io"}),
        ),
        (
            "/v1/events/deploy",
            json!({"id": "d1", "timestamp": "2026-11-25T10:00:00Z",
            "service": "api", "version": "v1.2.3", "commit_sha": "abc1234",
            "author": "jane.doe@corp.io"}),
        ),
    ];
    for (path, record) in cases {
        let (code, v) = post(
            &s,
            path,
            Some(&key),
            "application/json",
            json!([record]).to_string(),
        )
        .await;
        assert_eq!(
            (code, v["accepted"].as_u64()),
            (200, Some(1)),
            "{path}: {v}"
        );
    }
    let deploys = s
        .store
        .deployments(tokpulse_core::Window {
            start: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            end: chrono::Utc::now() + chrono::Duration::days(365),
        })
        .await
        .unwrap();
    assert_eq!(deploys[0].author.as_deref(), Some("[EMAIL]"));
}

#[tokio::test]
async fn unknown_paths_get_json_404() {
    let s = TestServer::sqlite(Config::default()).await;
    let r = client().get(s.url("/v1/nothing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "not_found");
}
