//! `tokpulse redact` and `tokpulse bench privacy` (issue 3).

use crate::common::{TestCommand, shared};
use std::io::Write;
use std::process::Stdio;

fn redact(t: &TestCommand, args: &[&str], input: &str) -> (i32, String, String) {
    let mut cmd = t.command(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("tokpulse runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("tokpulse ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn redact_is_a_line_filter() {
    let t = TestCommand::new();
    let input = "login failed for jane.roe@corp.io from 10.1.2.3\nnothing here\n";
    let (code, out, _) = redact(&t, &["redact"], input);
    assert_eq!(code, 0);
    assert_eq!(out, "login failed for [EMAIL] from [IPV4]\nnothing here\n");
}

#[test]
fn redact_json_gives_the_spans_and_policies_come_from_the_config() {
    let mut t = TestCommand::new();
    std::fs::write(
        t.path().join("tokpulse.toml"),
        "[guard.entities]\nCREDIT_CARD = \"partial\"\nEMAIL = \"hash\"\nUS_SSN = \"block\"\n",
    )
    .expect("write config");
    // `hash` needs its key from the environment.
    let (code, _, err) = redact(&t, &["redact"], "x\n");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("guard.entities.EMAIL") && err.contains("TOKPULSE_GUARD_HMAC_SECRET"),
        "{err}"
    );
    t.env
        .push(("TOKPULSE_GUARD_HMAC_SECRET".into(), "test-key".into()));
    let (code, out, err) = redact(
        &t,
        &["redact", "--format", "json"],
        "card 4242 4242 4242 4242 for Jane@corp.io\nssn 123-45-6789\n",
    );
    assert_eq!(code, 3, "a blocked line sets exit code 3: {err}");
    assert!(
        err.contains("line 2") && err.contains("US_SSN") && !err.contains("6789"),
        "{err}"
    );
    let line: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("one line")).expect("json");
    let text = line["text"].as_str().expect("text");
    assert!(
        text.starts_with("card **** **** **** 4242 for [EMAIL:"),
        "{text}"
    );
    assert_eq!(line["spans"][0]["type"], "CREDIT_CARD");
    assert_eq!(line["spans"][0]["start"], 5);
    assert_eq!(line["spans"][1]["policy"], "hash");
    assert_eq!(out.lines().count(), 1, "the blocked line is dropped: {out}");
}

#[test]
fn redact_applies_a_sources_policies_when_asked() {
    let t = TestCommand::new();
    std::fs::write(
        t.path().join("tokpulse.toml"),
        "[guard.sources.logs.entities]\nEMAIL = \"partial\"\n",
    )
    .expect("write config");
    let input = "mail jane@corp.io\n";
    let (code, out, _) = redact(&t, &["redact", "--source", "logs"], input);
    assert_eq!((code, out.as_str()), (0, "mail j***@corp.io\n"));
    let (_, out, _) = redact(&t, &["redact", "--source", "deploys"], input);
    assert_eq!(out, "mail [EMAIL]\n");
    let (_, out, _) = redact(&t, &["redact"], input);
    assert_eq!(out, "mail [EMAIL]\n");
}

#[test]
fn bench_privacy_scores_a_labelled_file_and_writes_predictions() {
    let t = TestCommand::new();
    let gold = t.path().join("gold.jsonl");
    std::fs::write(
        &gold,
        concat!(
            r#"{"id":"a","source":"chat","text":"mail jane@corp.io","spans":[{"start":5,"end":17,"type":"EMAIL"}]}"#,
            "\n",
            r#"{"id":"b","source":"chat","text":"version 1.2.3","spans":[]}"#,
            "\n"
        ),
    )
    .expect("write gold");
    let preds = t.path().join("preds.jsonl");
    let (out, _) = t.expect(
        &[
            "bench",
            "privacy",
            gold.to_str().expect("utf-8 path"),
            "--predictions",
            preds.to_str().expect("utf-8 path"),
            "--runs",
            "1",
            "--format",
            "json",
        ],
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["overall"]["f1"], 1.0);
    assert_eq!(v["leak_rate"], 0.0);
    assert!(v["mb_per_sec"].as_f64().expect("number") > 0.0);
    let p = std::fs::read_to_string(&preds).expect("predictions");
    assert!(
        p.contains(r#""id":"a""#) && p.contains(r#""type":"EMAIL""#),
        "{p}"
    );
}

/// The dev set, when the shared datasets are beside the checkout: the figures the issue asks
/// for (speed is measured by `tokpulse bench privacy` in release builds, not here).
#[test]
fn bench_privacy_on_the_dev_set_meets_the_quality_targets() {
    let dev = shared().join("datasets/pii/dev.jsonl");
    if !dev.exists() {
        eprintln!("skipped: {} is missing", dev.display());
        return;
    }
    let t = TestCommand::new();
    let (out, _) = t.expect(
        &[
            "bench",
            "privacy",
            dev.to_str().expect("utf-8 path"),
            "--runs",
            "1",
            "--format",
            "json",
        ],
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let f = |k: &str| v[k].as_f64().expect("number");
    assert!(v["overall"]["f1"].as_f64().expect("f1") >= 0.97, "{out}");
    assert!(f("leak_rate") <= 0.005, "{out}");
    assert_eq!(f("secrets_recall"), 1.0, "{out}");
}

// --- The audit, data-subject duties and retention (issue 3, items 4 and 5) ---

const KEY: &str = "test-hmac-key";

/// A folder whose config hashes emails and blocks US SSNs, with the key in the environment.
fn hashing() -> TestCommand {
    let mut t = TestCommand::new();
    std::fs::write(
        t.path().join("tokpulse.toml"),
        "[guard.entities]\nEMAIL = \"hash\"\nUS_SSN = \"block\"\n",
    )
    .expect("write config");
    t.env
        .push(("TOKPULSE_GUARD_HMAC_SECRET".into(), KEY.into()));
    t
}

fn token(email: &str) -> String {
    tokpulse_guard::HmacSecret::new(KEY).token(tokpulse_guard::Entity::Email, email)
}

fn json_of(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Writes `lines` to `name` and ingests them as `kind`.
fn ingest(t: &TestCommand, kind: &str, name: &str, lines: &[serde_json::Value], code: i32) {
    let body: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(t.path().join(name), body).expect("write records");
    t.expect(&["ingest", "--kind", kind, name], code);
}

fn now_minus(days: i64) -> String {
    (chrono::Utc::now() - chrono::TimeDelta::days(days)).to_rfc3339()
}

fn log(id: &str, days_ago: i64, message: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "timestamp": now_minus(days_ago), "service": "web", "level": "error",
        "message": message,
    })
}

fn request(id: &str, days_ago: i64, email: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "timestamp": now_minus(days_ago), "service": "web", "route": "/account",
        "status_code": 200, "duration_ms": 12.5, "attributes": {"user": {"email": email}},
    })
}

/// Jane's and Bob's logs and requests, one blocked log, each batch sent twice.
fn two_people(t: &TestCommand) {
    let logs = [
        log("l1", 1, "payment failed for jane@corp.io"),
        log("l2", 1, "payment failed for bob@corp.io from 10.1.2.3"),
        log("l3", 1, "ssn 123-45-6789 on file"),
    ];
    ingest(t, "logs", "logs.ndjson", &logs, 3);
    ingest(t, "logs", "logs.ndjson", &logs, 3);
    let requests = [
        request("r1", 1, "Jane@Corp.io"),
        request("r2", 1, "bob@corp.io"),
    ];
    ingest(t, "performance", "requests.ndjson", &requests, 0);
    ingest(t, "performance", "requests.ndjson", &requests, 0);
}

#[test]
fn privacy_report_counts_what_the_guard_did_once() {
    let t = hashing();
    two_people(&t);
    let (out, _) = t.expect(&["privacy", "report", "--format", "json"], 0);
    let v = json_of(&out);
    let rows: Vec<(String, String, String, i64)> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["source"].as_str().unwrap().to_owned(),
                r["entity"].as_str().unwrap().to_owned(),
                r["action"].as_str().unwrap().to_owned(),
                r["count"].as_i64().unwrap(),
            )
        })
        .collect();
    let row = |s: &str, e: &str, a: &str, n: i64| (s.into(), e.into(), a.into(), n);
    assert_eq!(
        rows,
        [
            row("logs", "EMAIL", "hashed", 2),
            row("logs", "IPV4", "redacted", 1),
            row("logs", "US_SSN", "blocked", 1),
            row("performance", "EMAIL", "hashed", 2),
        ],
        "{out}"
    );
    assert_eq!(v["totals"]["hashed"], 4);
    assert_eq!(v["totals"]["blocked"], 1);
    let (table, _) = t.expect(&["privacy", "report", "--since", "7"], 0);
    assert!(
        table.contains("US_SSN") && table.contains("4 hashed, 1 records blocked"),
        "{table}"
    );
    assert!(
        !table.contains("jane") && !table.contains("6789"),
        "{table}"
    );
    let (_, err) = t.expect(&["privacy", "report", "--since", "soon"], 2);
    assert!(err.contains("--since"), "{err}");
}

#[test]
fn forget_removes_exactly_one_person_and_prints_a_receipt() {
    let t = hashing();
    two_people(&t);
    let (out, _) = t.expect(
        &[
            "privacy",
            "forget",
            "--email",
            "JANE@corp.io",
            "--format",
            "json",
        ],
        0,
    );
    let receipt = json_of(&out);
    assert_eq!(receipt["request"], "forget");
    assert_eq!(receipt["token"], token("jane@corp.io").as_str());
    assert_eq!(receipt["deleted"], 2, "{out}");
    let tables = receipt["tables"].as_array().expect("tables");
    let by_table = |name: &str| {
        tables
            .iter()
            .find(|t| t["table"] == name)
            .unwrap_or_else(|| panic!("{name} in {out}"))
            .clone()
    };
    assert_eq!(by_table("application_logs")["deleted"], 1);
    assert_eq!(by_table("performance_metrics")["deleted"], 1);
    assert_eq!(by_table("findings")["anonymised"], 0);
    assert!(receipt["at"].is_string());
    assert!(!out.to_lowercase().contains("jane@"), "{out}");

    // Jane has nothing left; Bob keeps his rows.
    let (jane, _) = t.expect(&["privacy", "export", "--email", "jane@corp.io"], 0);
    let jane = json_of(&jane);
    let rows = |v: &serde_json::Value| -> usize {
        v["tables"]
            .as_object()
            .unwrap()
            .values()
            .map(|r| r.as_array().unwrap().len())
            .sum()
    };
    assert_eq!(rows(&jane), 0);
    let (bob, _) = t.expect(&["privacy", "export", "--email", "bob@corp.io"], 0);
    let bob = json_of(&bob);
    assert_eq!(rows(&bob), 2);
    assert_eq!(bob["tables"]["application_logs"][0]["record_id"], "l2");

    // The table receipt shows the token and each table, never the address.
    let (table, _) = t.expect(&["privacy", "forget", "--email", "bob@corp.io"], 0);
    assert!(
        table.contains(&format!("token: {}", token("bob@corp.io"))),
        "{table}"
    );
    assert!(
        table.contains("application_logs") && table.contains("2 rows deleted"),
        "{table}"
    );
    assert!(!table.contains("bob@"), "{table}");
}

#[test]
fn export_writes_every_row_about_a_person_as_json() {
    let t = hashing();
    two_people(&t);
    let (_, err) = t.expect(
        &[
            "privacy",
            "export",
            "--email",
            "jane@corp.io",
            "--out",
            "jane.json",
        ],
        0,
    );
    assert!(err.contains("wrote 2 rows"), "{err}");
    let v = json_of(&std::fs::read_to_string(t.path().join("jane.json")).expect("export"));
    let jane = token("jane@corp.io");
    assert_eq!(v["request"], "export");
    assert_eq!(v["token"], jane.as_str());
    let logs = v["tables"]["application_logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["message"], format!("payment failed for {jane}"));
    let requests = v["tables"]["performance_metrics"]
        .as_array()
        .expect("requests");
    assert_eq!(requests[0]["attributes"]["user"]["email"], jane.as_str());
    assert_eq!(v["tables"]["findings"], serde_json::json!([]));
    assert!(!v.to_string().contains(&token("bob@corp.io")));
}

/// A route the client did not template names the person: the guard stores it with their token,
/// and so are the request rollups (`diagnose`) and the daily AI usage (`cost report`) keyed by
/// it. Export returns those rows and forget deletes them.
#[test]
fn forget_deletes_the_rollups_of_a_route_that_names_a_person() {
    let t = hashing();
    let route = "/users/jane@corp.io/orders";
    let mut jane = request("r1", 0, "jane@corp.io");
    jane["route"] = serde_json::json!(route);
    ingest(
        &t,
        "performance",
        "requests.ndjson",
        &[jane, request("r2", 0, "bob@corp.io")],
        0,
    );
    let call = |id: &str, route: &str| {
        serde_json::json!({
            "id": id, "timestamp": now_minus(0), "service": "web", "feature": "chat",
            "provider": "openai", "model": "gpt-4o", "prompt_tokens": 100,
            "completion_tokens": 10, "success": true, "attributes": {"route": route},
        })
    };
    ingest(
        &t,
        "ai-usage",
        "calls.ndjson",
        &[call("c1", route), call("c2", "/account")],
        0,
    );
    t.expect(&["diagnose"], 0);
    t.expect(&["cost", "report"], 0);

    let jane = token("jane@corp.io");
    let (out, _) = t.expect(&["privacy", "export", "--email", "jane@corp.io"], 0);
    let v = json_of(&out);
    let rollups = v["tables"]["request_rollups"].as_array().expect("rollups");
    let resolutions: Vec<&str> = rollups
        .iter()
        .map(|r| r["resolution"].as_str().unwrap())
        .collect();
    assert_eq!(resolutions, ["day", "hour", "minute"], "{out}");
    assert_eq!(rollups[0]["route"], format!("GET /users/{jane}/orders"));
    assert!(rollups[0].get("sketch").is_none(), "{out}");
    let days = v["tables"]["ai_usage_daily"].as_array().expect("daily");
    assert_eq!(days.len(), 1, "{out}");
    assert_eq!(days[0]["route"], format!("/users/{jane}/orders"));
    assert_eq!(days[0]["calls"], 1);
    assert!(!out.contains("jane@") && !out.contains("/account"), "{out}");

    let (out, _) = t.expect(
        &[
            "privacy",
            "forget",
            "--email",
            "jane@corp.io",
            "--format",
            "json",
        ],
        0,
    );
    let receipt = json_of(&out);
    let deleted = |name: &str| {
        receipt["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|t| t["table"] == name)
            .unwrap_or_else(|| panic!("{name} in {out}"))["deleted"]
            .clone()
    };
    assert_eq!(deleted("request_rollups"), 3, "{out}");
    assert_eq!(deleted("ai_usage_daily"), 1, "{out}");
    assert_eq!(deleted("performance_metrics"), 1, "{out}");
    assert_eq!(deleted("ai_usage_metrics"), 1, "{out}");
    assert_eq!(receipt["deleted"], 6, "{out}");
    let (out, _) = t.expect(&["privacy", "export", "--email", "jane@corp.io"], 0);
    let v = json_of(&out);
    assert_eq!(v["tables"]["request_rollups"], serde_json::json!([]));
    assert_eq!(v["tables"]["ai_usage_daily"], serde_json::json!([]));
}

#[test]
fn forget_says_plainly_when_nothing_can_be_tied_to_a_person() {
    let t = hashing();
    // Phones are masked under this config: no stored row can be tied to one.
    let (_, err) = t.expect(&["privacy", "forget", "--id", "PHONE=+1 415 555 0100"], 1);
    assert!(
        err.contains("no policy hashes PHONE") && err.contains("masked"),
        "{err}"
    );
    let (_, err) = t.expect(&["privacy", "forget", "--id", "NAME=Jane"], 2);
    assert!(err.contains("unknown entity type"), "{err}");
    let (_, err) = t.expect(&["privacy", "forget", "--email", "jane"], 2);
    assert!(err.contains("--email"), "{err}");
    // Without the key no token can be computed.
    let plain = TestCommand::new();
    let (_, err) = plain.expect(&["privacy", "export", "--email", "jane@corp.io"], 2);
    assert!(err.contains("TOKPULSE_GUARD_HMAC_SECRET"), "{err}");
}

#[test]
fn retention_deletes_old_rows_only() {
    let t = hashing();
    ingest(
        &t,
        "performance",
        "requests.ndjson",
        &[
            request("old-req", 40, "a@corp.io"),
            request("new-req", 1, "a@corp.io"),
        ],
        0,
    );
    ingest(
        &t,
        "logs",
        "logs.ndjson",
        &[log("old-log", 20, "x"), log("new-log", 1, "y")],
        0,
    );
    let deleted = |out: &str| -> Vec<(String, u64)> {
        json_of(out)["tables"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["rows"].as_u64().unwrap() > 0)
            .map(|r| {
                (
                    r["table"].as_str().unwrap().to_owned(),
                    r["rows"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let expected = vec![
        ("performance_metrics".to_string(), 1),
        ("application_logs".to_string(), 1),
    ];
    let (dry, _) = t.expect(
        &["privacy", "retention", "--dry-run", "--format", "json"],
        0,
    );
    assert_eq!(deleted(&dry), expected, "{dry}");
    // A dry run deletes nothing.
    let (again, _) = t.expect(
        &["privacy", "retention", "--dry-run", "--format", "json"],
        0,
    );
    assert_eq!(deleted(&again), expected);
    let (done, _) = t.expect(&["privacy", "retention"], 0);
    assert!(done.contains("deleted 2 rows in all"), "{done}");
    let (after, _) = t.expect(
        &["privacy", "retention", "--dry-run", "--format", "json"],
        0,
    );
    assert_eq!(deleted(&after), []);
    // The new rows are still there.
    let (export, _) = t.expect(&["privacy", "export", "--email", "a@corp.io"], 0);
    let v = json_of(&export);
    assert_eq!(
        v["tables"]["performance_metrics"][0]["record_id"],
        "new-req"
    );
    assert_eq!(
        v["tables"]["performance_metrics"].as_array().unwrap().len(),
        1
    );
    // A shorter retention from the environment.
    let mut short = t;
    short
        .env
        .push(("TOKPULSE_RETENTION_APPLICATION_LOGS".into(), "0".into()));
    short
        .env
        .push(("TOKPULSE_RETENTION_PERFORMANCE_METRICS".into(), "1".into()));
    let (dry, _) = short.expect(
        &["privacy", "retention", "--dry-run", "--format", "json"],
        0,
    );
    assert_eq!(
        deleted(&dry),
        [("performance_metrics".to_string(), 1)],
        "{dry}"
    );
}

// --- The same over HTTP, for the service role only ---

async fn hashing_server() -> crate::common::TestServer {
    let mut config = tokpulse::config::Config::default();
    config
        .guard
        .entities
        .insert("EMAIL".into(), tokpulse_guard::Policy::Hash);
    config.guard.hmac_secret = Some(tokpulse_guard::HmacSecret::new(KEY));
    let s = crate::common::TestServer::sqlite(config).await;
    let body: String = [
        log("l1", 1, "payment failed for jane@corp.io"),
        log("l2", 1, "payment failed for bob@corp.io"),
    ]
    .iter()
    .map(|v| format!("{v}\n"))
    .collect();
    let r = crate::common::client()
        .post(s.url("/v1/ingest/logs"))
        .bearer_auth(&s.keys.service)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("ingest");
    assert_eq!(r.status(), 200);
    s
}

async fn call(
    s: &crate::common::TestServer,
    path: &str,
    key: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let c = crate::common::client();
    let req = match body {
        Some(b) => c
            .post(s.url(path))
            .header("content-type", "application/json")
            .body(b.to_owned()),
        None => c.get(s.url(path)),
    };
    let resp = req.bearer_auth(key).send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, json_of(&text))
}

#[tokio::test]
async fn privacy_endpoints_are_for_the_service_role_only() {
    let s = hashing_server().await;
    let body = r#"{"email": "jane@corp.io"}"#;
    for key in [&s.keys.authenticated, &s.keys.anon] {
        for (path, b) in [
            ("/v1/privacy/report", None),
            ("/v1/privacy/forget", Some(body)),
            ("/v1/privacy/export", Some(body)),
        ] {
            let (status, v) = call(&s, path, key, b).await;
            assert_eq!(status, 403, "{path}: {v}");
            assert_eq!(v["error"], "forbidden");
        }
    }
    // Refused requests changed nothing.
    assert_eq!(
        s.store
            .count(tokpulse_store::Table::ApplicationLogs)
            .await
            .unwrap(),
        2
    );
    let (status, v) = call(&s, "/v1/privacy/report", &s.keys.service, None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["totals"]["hashed"], 2);
    assert_eq!(v["rows"][0]["entity"], "EMAIL");
}

#[tokio::test]
async fn privacy_forget_and_export_over_http() {
    let s = hashing_server().await;
    let key = &s.keys.service;
    let (status, v) = call(
        &s,
        "/v1/privacy/export",
        key,
        Some(r#"{"email": "jane@corp.io"}"#),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["token"], token("jane@corp.io").as_str());
    assert_eq!(v["tables"]["application_logs"][0]["record_id"], "l1");
    let (status, v) = call(
        &s,
        "/v1/privacy/forget",
        key,
        Some(r#"{"type": "EMAIL", "value": "Jane@Corp.io"}"#),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["deleted"], 1);
    assert_eq!(v["token"], token("jane@corp.io").as_str());
    assert!(!v.to_string().contains("jane@"), "{v}");
    assert_eq!(
        s.store
            .count(tokpulse_store::Table::ApplicationLogs)
            .await
            .unwrap(),
        1
    );
    let requests = s.store.privacy_requests(10).await.unwrap();
    assert_eq!(requests.len(), 2);
}

#[tokio::test]
async fn privacy_requests_with_bad_bodies_say_what_is_wrong() {
    let s = hashing_server().await;
    let key = &s.keys.service;
    for (body, status, code, needle) in [
        ("{not json", 400, "invalid_body", ""),
        (r#"{"mail": "jane@corp.io"}"#, 422, "invalid_body", "mail"),
        (r#"{}"#, 422, "invalid_subject", "email"),
        (
            r#"{"email": "jane"}"#,
            422,
            "invalid_subject",
            "email address",
        ),
        (
            r#"{"email": "jane@corp.io", "type": "PHONE", "value": "1"}"#,
            422,
            "invalid_subject",
            "not both",
        ),
        (r#"{"type": "PHONE"}"#, 422, "invalid_subject", "value"),
        (
            r#"{"type": "NAME", "value": "Jane"}"#,
            422,
            "invalid_subject",
            "unknown entity type",
        ),
        (
            r#"{"type": "PHONE", "value": "+14155550100"}"#,
            422,
            "not_hashed",
            "no policy hashes PHONE",
        ),
    ] {
        for path in ["/v1/privacy/forget", "/v1/privacy/export"] {
            let (got, v) = call(&s, path, key, Some(body)).await;
            assert_eq!(got, status, "{path} {body}: {v}");
            assert_eq!(v["error"], code, "{path} {body}: {v}");
            let message = v["message"].as_str().unwrap();
            assert!(message.contains(needle), "{path} {body}: {message}");
        }
    }
    let (got, v) = call(&s, "/v1/privacy/report?since=never", key, None).await;
    assert_eq!(
        (got, v["error"].as_str()),
        (400, Some("invalid_query")),
        "{v}"
    );
    // Nothing was forgotten or recorded.
    assert_eq!(
        s.store
            .count(tokpulse_store::Table::ApplicationLogs)
            .await
            .unwrap(),
        2
    );
    assert!(s.store.privacy_requests(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn privacy_requests_need_the_hashing_key_on_the_server() {
    let s = crate::common::TestServer::sqlite(tokpulse::config::Config::default()).await;
    let (status, v) = call(
        &s,
        "/v1/privacy/forget",
        &s.keys.service,
        Some(r#"{"email": "jane@corp.io"}"#),
    )
    .await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"], "not_configured");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("TOKPULSE_GUARD_HMAC_SECRET"),
        "{v}"
    );
}

#[test]
fn source_policies_apply_to_their_source_only() {
    let mut t = TestCommand::new();
    std::fs::write(
        t.path().join("tokpulse.toml"),
        "[guard.sources.logs.entities]\nEMAIL = \"hash\"\n\
         [guard.sources.performance.fields]\n\"attributes.user.email\" = \"allow\"\n",
    )
    .expect("write config");
    t.env
        .push(("TOKPULSE_GUARD_HMAC_SECRET".into(), KEY.into()));
    ingest(
        &t,
        "logs",
        "logs.ndjson",
        &[log("l1", 1, "hi jane@corp.io")],
        0,
    );
    ingest(
        &t,
        "performance",
        "requests.ndjson",
        &[request("r1", 1, "jane@corp.io")],
        0,
    );
    let (out, _) = t.expect(&["privacy", "report", "--format", "json"], 0);
    let v = json_of(&out);
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(
        (&rows[0]["source"], &rows[0]["action"]),
        (&serde_json::json!("logs"), &serde_json::json!("hashed"))
    );
    let (out, _) = t.expect(&["privacy", "export", "--email", "jane@corp.io"], 0);
    let v = json_of(&out);
    assert_eq!(v["tables"]["application_logs"][0]["record_id"], "l1");
    assert_eq!(v["tables"]["performance_metrics"], serde_json::json!([]));
    // An unknown source is refused with the valid ones.
    std::fs::write(
        t.path().join("tokpulse.toml"),
        "[guard.sources.requests.entities]\nEMAIL = \"mask\"\n",
    )
    .expect("write config");
    let (_, err) = t.expect(&["privacy", "report"], 2);
    assert!(
        err.contains("guard.sources.requests: unknown source; expected one of performance, ai-usage, logs, deploys"),
        "{err}"
    );
}
