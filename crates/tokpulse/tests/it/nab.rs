//! `tokpulse bench nab` on the real NAB subset in `../shared/datasets/nab` (a few of its files,
//! copied to a temporary folder, to keep a debug build fast). Checks the output's shape, never
//! the score.

use crate::common::TestCommand;
use std::path::{Path, PathBuf};

fn nab_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/nab")
}

/// Copies `files` of the real dataset (and the real window labels) into `dir`.
fn subset(dir: &Path, files: &[&str]) {
    let src = nab_dir();
    let family = dir.join("data/realAWSCloudwatch");
    std::fs::create_dir_all(&family).unwrap();
    std::fs::create_dir_all(dir.join("labels")).unwrap();
    for f in files {
        std::fs::copy(src.join("data/realAWSCloudwatch").join(f), family.join(f)).unwrap();
    }
    std::fs::copy(
        src.join("labels/combined_windows.json"),
        dir.join("labels/combined_windows.json"),
    )
    .unwrap();
}

#[test]
fn bench_nab_writes_results_in_nab_layout_and_prints_three_profiles() {
    let t = TestCommand::new();
    let files = [
        // Has 12 rows with the same timestamp (a DST artefact) and an hour-long gap.
        "ec2_network_in_5abac7.csv",
        // No anomaly at all: every alert is a false positive.
        "ec2_cpu_utilization_c6585a.csv",
        "rds_cpu_utilization_e47b3b.csv",
    ];
    let data = t.path().join("nab");
    subset(&data, &files);
    let out = t.path().join("results");
    let (stdout, _) = t.expect(
        &[
            "bench",
            "nab",
            data.to_str().unwrap(),
            "--results",
            out.to_str().unwrap(),
        ],
        0,
    );
    for profile in ["standard", "reward_low_FP_rate", "reward_low_FN_rate"] {
        assert!(stdout.contains(profile), "{stdout}");
    }
    assert!(stdout.contains("3 files"), "{stdout}");
    assert!(stdout.contains("threshold"), "{stdout}");

    for f in files {
        let path = out.join(format!("tokpulse/realAWSCloudwatch/tokpulse_{f}"));
        let text = std::fs::read_to_string(&path).unwrap();
        let source =
            std::fs::read_to_string(nab_dir().join("data/realAWSCloudwatch").join(f)).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("timestamp,value,anomaly_score,label"));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(
            rows.len(),
            source.lines().count() - 1,
            "{f}: one row per input row"
        );
        let mut in_window = 0;
        for (row, input) in rows.iter().zip(source.lines().skip(1)) {
            assert_eq!(row.len(), 4);
            assert!(input.starts_with(row[0]), "{f}: timestamps kept in order");
            let score: f64 = row[2].parse().unwrap();
            assert!((0.0..=1.0).contains(&score), "{f}: score {score}");
            assert!(row[3] == "0" || row[3] == "1");
            in_window += usize::from(row[3] == "1");
        }
        if f == "ec2_cpu_utilization_c6585a.csv" {
            assert_eq!(in_window, 0, "no windows in this file");
        } else {
            assert!(in_window > 0, "{f}: labelled rows");
        }
    }

    let (json, _) = t.expect(
        &["bench", "nab", data.to_str().unwrap(), "--format", "json"],
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["files"], 3);
    let profiles = v["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 3);
    for p in profiles {
        assert!(p["threshold"].as_f64().is_some());
        assert!(p["normalized"].as_f64().is_some());
    }
}

#[test]
fn bench_nab_breaks_a_corpus_of_several_families_down_by_family() {
    let t = TestCommand::new();
    let data = t.path().join("nab");
    subset(
        &data,
        &[
            "rds_cpu_utilization_e47b3b.csv",
            "ec2_cpu_utilization_c6585a.csv",
        ],
    );
    // A second family: one of the files again, under another family's name and label key.
    let other = data.join("data/otherFamily");
    std::fs::create_dir_all(&other).unwrap();
    let file = "rds_cpu_utilization_e47b3b.csv";
    std::fs::copy(
        data.join("data/realAWSCloudwatch").join(file),
        other.join(file),
    )
    .unwrap();
    let labels_path = data.join("labels/combined_windows.json");
    let mut labels: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&labels_path).unwrap()).unwrap();
    let windows = labels[&format!("realAWSCloudwatch/{file}")].clone();
    labels.insert(format!("otherFamily/{file}"), windows);
    std::fs::write(&labels_path, serde_json::to_string(&labels).unwrap()).unwrap();

    let (json, _) = t.expect(
        &["bench", "nab", data.to_str().unwrap(), "--format", "json"],
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["files"], 3);
    let families = v["families"].as_array().unwrap();
    let names: Vec<&str> = families
        .iter()
        .map(|f| f["family"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["otherFamily", "realAWSCloudwatch"]);
    assert_eq!(families[0]["files"], 1);
    assert_eq!(families[1]["files"], 2);
    assert_eq!(
        families[0]["windows"], families[1]["windows"],
        "c6585a has none"
    );
    // At the corpus thresholds the families add up to the corpus, profile by profile.
    for (i, corpus) in v["profiles"].as_array().unwrap().iter().enumerate() {
        let part = |f: usize, k: &str| families[f]["profiles"][i][k].as_f64().unwrap();
        let raw = part(0, "raw") + part(1, "raw");
        assert!(
            (raw - corpus["raw"].as_f64().unwrap()).abs() < 1e-9,
            "{json}"
        );
        let detected = part(0, "detected") + part(1, "detected");
        assert_eq!(detected, corpus["detected"].as_f64().unwrap());
        let fp = part(0, "false_positives") + part(1, "false_positives");
        assert_eq!(fp, corpus["false_positives"].as_f64().unwrap());
    }

    let (table, _) = t.expect(&["bench", "nab", data.to_str().unwrap()], 0);
    assert!(table.contains("By family"), "{table}");
    assert!(table.contains("otherFamily"), "{table}");
}

#[test]
fn bench_nab_explains_a_folder_that_is_not_nab() {
    let t = TestCommand::new();
    let (_, stderr) = t.expect(&["bench", "nab", t.path().to_str().unwrap()], 1);
    assert!(stderr.contains("combined_windows.json"), "{stderr}");
}
