//! The CLI in a temporary folder.

use crate::common::{TestCommand, ndjson, perf};

#[test]
fn init_writes_a_config_that_loads() {
    let t = TestCommand::new();
    t.expect(&["init"], 0);
    let text = std::fs::read_to_string(t.path().join("tokpulse.toml")).unwrap();
    assert!(
        text.contains("TOKPULSE_DATABASE_URL"),
        "the file says where secrets come from"
    );
    let (_, stderr) = t.expect(&["init"], 2);
    assert!(stderr.contains("--force"), "{stderr}");
    t.expect(&["init", "--force"], 0);
    let (stdout, _) = t.expect(&["config", "check"], 0);
    assert!(stdout.contains("configuration is valid"));
}

#[test]
fn an_invalid_config_is_refused_with_file_key_and_reason() {
    let t = TestCommand::new();
    std::fs::write(
        t.path().join("tokpulse.toml"),
        "[analyzers.route_health]\nmax_deviation = -1\n[server]\nlisten = \"here\"\n",
    )
    .unwrap();
    let (_, stderr) = t.expect(&["migrate"], 2);
    assert!(stderr.contains("tokpulse.toml"), "{stderr}");
    assert!(
        stderr.contains("analyzers.route_health.max_deviation"),
        "{stderr}"
    );
    assert!(stderr.contains("server.listen"), "{stderr}");

    std::fs::write(t.path().join("tokpulse.toml"), "[server]\nlisten_on = 1\n").unwrap();
    let (_, stderr) = t.expect(&["config", "check"], 2);
    assert!(stderr.contains("listen_on"), "{stderr}");
}

#[test]
fn environment_overrides_reach_the_config() {
    let mut t = TestCommand::new();
    t.env
        .push(("TOKPULSE_SERVER_LISTEN".into(), "127.0.0.1:9999".into()));
    let (stdout, _) = t.expect(&["config", "check"], 0);
    assert!(stdout.contains("127.0.0.1:9999"), "{stdout}");
}

#[test]
fn keys_are_printed_once_and_listed_without_the_secret() {
    let t = TestCommand::new();
    let key = t.create_key("service");
    assert!(key.starts_with("tpk_"), "{key}");
    let (list, _) = t.expect(&["keys", "list", "--format", "json"], 0);
    assert!(!list.contains(&key));
    assert!(list.contains("\"role\": \"service\""), "{list}");
    t.expect(&["keys", "revoke", "1"], 0);
    t.expect(&["keys", "revoke", "1"], 1);
    let out = t.run(&["keys", "create", "--role", "admin"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ingest_files_reports_rejects_and_skips_duplicates() {
    let t = TestCommand::new();
    let mut bad = perf("f2", 200, 1.0);
    bad["duration_ms"] = serde_json::json!(-5);
    let data = ndjson(&[perf("f1", 200, 1.0), bad, perf("f3", 503, 2.0)]);
    std::fs::write(t.path().join("requests.ndjson"), &data).unwrap();
    std::fs::write(
        t.path().join("more.csv"),
        "id,timestamp,service,route,method,status_code,duration_ms\n\
         c1,2026-11-25T10:00:00Z,api,/x,GET,200,12.5\n",
    )
    .unwrap();
    let (stdout, stderr) = t.expect(&["ingest", "requests.ndjson", "more.csv"], 3);
    assert!(
        stdout.contains("requests.ndjson: 2 accepted, 0 duplicates, 1 rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("more.csv: 1 accepted"), "{stdout}");
    assert!(stderr.contains("record 1: field `duration_ms`"), "{stderr}");
    let (stdout, _) = t.expect(&["ingest", "requests.ndjson"], 3);
    assert!(stdout.contains("0 accepted, 2 duplicates"), "{stdout}");

    let (_, stderr) = t.expect(&["ingest", "notes.txt"], 2);
    assert!(stderr.contains("unknown format"), "{stderr}");
}

#[test]
fn demo_finds_each_injected_problem_and_nothing_else() {
    let t = TestCommand::new();
    let (stdout, stderr) = t.expect(&["demo", "--requests", "120000", "--format", "json"], 0);
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let findings = v["findings"].as_array().unwrap();
    let found = |kind: &str, service: &str, route: &str| {
        findings.iter().find(|f| {
            f["finding"]["kind"] == kind
                && f["finding"]["service"] == service
                && f["finding"]["route"] == route
        })
    };
    let api = found("deploy_regression", "api", "GET /api/search")
        .unwrap_or_else(|| panic!("no api deploy regression: {stdout}"));
    assert_eq!(api["finding"]["cause"]["version"], "v2.14.0", "{api}");
    let web = found("deploy_regression", "web", "POST /checkout")
        .unwrap_or_else(|| panic!("no web deploy regression: {stdout}"));
    assert_eq!(web["finding"]["cause"]["version"], "v5.3.1", "{web}");
    let new_error = findings
        .iter()
        .find(|f| f["finding"]["kind"] == "new_error_pattern")
        .unwrap_or_else(|| panic!("no new error pattern: {stdout}"));
    assert_eq!(new_error["finding"]["service"], "mobile-bff");
    assert!(
        found("ci_failure", "shopfront/app", "CI / e2e").is_some(),
        "{stdout}"
    );
    assert!(
        found("flaky_job", "shopfront/app", "CI / unit").is_some(),
        "{stdout}"
    );
    let shift = found("level_shift", "mobile-bff", "GET /v2/feed")
        .unwrap_or_else(|| panic!("no level shift: {stdout}"));
    assert!(
        shift["finding"]["cause"].is_null(),
        "no deploy caused it: {shift}"
    );
    let spike = found("error_spike", "mobile-bff", "POST /v2/events")
        .unwrap_or_else(|| panic!("no error spike: {stdout}"));
    assert!(
        spike["finding"]["cause"].is_null(),
        "it began long after mobile-bff's deploy: {spike}"
    );
    let slow = found("latency_regression", "mobile-bff", "GET /v2/profile")
        .unwrap_or_else(|| panic!("no latency regression: {stdout}"));
    assert!(slow["finding"]["cause"].is_null(), "{slow}");
    assert_eq!(findings.len(), 8, "only the injected problems: {stdout}");

    // The month heads over budget, with its tier and recommendations, and one feature costs
    // more per request since a deploy: exactly those cost findings.
    let cost = &v["cost"];
    let budget = &cost["summary"]["budgets"][0];
    let tier = budget["status"]["tier"].as_str().unwrap();
    assert_ne!(tier, "monitor", "{budget}");
    let recs: Vec<&str> = cost["summary"]["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "caching",
        "cheaper_model",
        "cut_failed_calls",
        "batch_embeddings",
    ] {
        assert!(recs.contains(&kind), "{kind}: {recs:?}");
    }
    let routes: Vec<&str> = cost["summary"]["by_route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        routes.len(),
        4,
        "spend per route of the demo's features: {routes:?}"
    );
    assert!(routes.contains(&"GET /api/search"), "{routes:?}");
    let mut kinds: Vec<&str> = cost["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["finding"]["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["budget_overrun", "cost_regression"], "{cost}");
    let regression = cost["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["finding"]["kind"] == "cost_regression")
        .unwrap();
    assert_eq!(regression["finding"]["cause"]["commit_sha"], "abc123f9e1");
    assert!(
        regression["finding"]["title"]
            .as_str()
            .unwrap()
            .contains("tokens per request since deploy abc123f"),
        "{regression}"
    );

    let outbox = t.path().join("tokpulse-data/demo/outbox");
    let issues: Vec<_> = std::fs::read_dir(outbox.join("issues")).unwrap().collect();
    // One per finding: eight from diagnosis, two from the cost run.
    assert_eq!(issues.len(), 10);
    let jsonl = std::fs::read_to_string(outbox.join("actions.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 10);
    // Nothing personal was stored.
    let db = std::fs::read(t.path().join("tokpulse-data/demo/tokpulse.db")).unwrap();
    let db = String::from_utf8_lossy(&db);
    assert!(!db.contains("jane.doe@example.org"));
    assert!(!db.contains("sk-proj-Zx81"));

    // The human output names the table and the outbox.
    let (stdout, _) = t.expect(&["demo", "--requests", "120000"], 0);
    assert!(stdout.contains("GET /api/search"), "{stdout}");
    assert!(stdout.contains("outbox"), "{stdout}");
}

#[test]
fn github_needs_its_token_unless_it_is_a_dry_run() {
    let mut t = TestCommand::new();
    t.env
        .push(("TOKPULSE_GITHUB_ENABLED".into(), "true".into()));
    t.env
        .push(("TOKPULSE_GITHUB_REPO".into(), "acme/shop".into()));
    t.env.push((
        "TOKPULSE_GITHUB_TOKEN_ENV".into(),
        "TOKPULSE_TEST_NO_SUCH_TOKEN".into(),
    ));
    let (_, stderr) = t.expect(&["diagnose"], 1);
    assert!(
        stderr.contains("$TOKPULSE_TEST_NO_SUCH_TOKEN is not set"),
        "{stderr}"
    );
    t.env
        .push(("TOKPULSE_ROUTING_DRY_RUN".into(), "true".into()));
    let (stdout, _) = t.expect(&["diagnose"], 0);
    assert!(stdout.contains("no open findings"), "{stdout}");
}

#[test]
fn actions_retry_names_what_it_cannot_revive() {
    let t = TestCommand::new();
    let (_, stderr) = t.expect(&["actions", "retry", "5"], 1);
    assert!(stderr.contains("no parked action with id 5"), "{stderr}");
    let (stdout, _) = t.expect(&["actions", "list", "--format", "json"], 0);
    assert_eq!(stdout.trim(), "[]");
}

#[test]
fn actions_test_reports_each_configured_sink() {
    let t = TestCommand::new();
    let (stdout, _) = t.expect(&["actions", "test"], 0);
    assert!(
        stdout.starts_with("outbox") && stdout.contains("ok: "),
        "{stdout}"
    );
    let issues = t.path().join("tokpulse-data/outbox/issues");
    let written = std::fs::read_dir(&issues).unwrap().next().unwrap().unwrap();
    let text = std::fs::read_to_string(written.path()).unwrap();
    assert!(
        text.contains("TokPulse test message: please ignore"),
        "{text}"
    );
    let (_, stderr) = t.expect(&["actions", "test", "--sink", "slack"], 2);
    assert!(stderr.contains("configured: outbox"), "{stderr}");
}
