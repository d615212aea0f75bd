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
