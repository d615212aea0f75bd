//! `tokpulse bench nab DIR [--results OUT]`: the Numenta Anomaly Benchmark.
//!
//! Streams every series under `DIR/data/<family>/*.csv` through
//! [`StreamingDetector`](tokpulse_analyze::anomaly::StreamingDetector) (one fresh detector per
//! file, no look-ahead), scores the result against `DIR/labels/combined_windows.json` with the
//! Rust port of NAB's scorer in [`tokpulse_analyze::anomaly::nab`], and prints NAB's normalised
//! score for the standard, low-FP and low-FN profiles. As NAB's optimizer does, each profile
//! uses one threshold for every file, chosen to maximise that profile's score over the whole
//! corpus; the output names it, and, when `DIR` holds more than one family, each family's
//! score at those thresholds. With `--results OUT` the per-row scores are written in NAB's
//! results layout, `OUT/tokpulse/<family>/tokpulse_<file>.csv`
//! (`timestamp,value,anomaly_score,label`), so NAB's own scorer can check them.

use crate::cli::OutputFormat;
use anyhow::{Context, bail};
use chrono::NaiveDateTime;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use tokpulse_analyze::anomaly::StreamingDetector;
use tokpulse_analyze::anomaly::nab::{Counts, Profile, ScoredFile, normalized, optimize};

/// The detector's name in NAB's results layout.
pub const DETECTOR: &str = "tokpulse";

/// One series with its scores.
struct Series {
    /// `family/file.csv`, NAB's key in the label files.
    key: String,
    family: String,
    file: String,
    timestamps: Vec<String>,
    seconds: Vec<i64>,
    values: Vec<f64>,
    scores: Vec<f64>,
    windows: Vec<(i64, i64)>,
}

/// One profile's result.
#[derive(Debug, Serialize)]
pub struct ProfileResult {
    /// NAB's profile name.
    pub profile: &'static str,
    /// The threshold NAB's optimizer picks for this profile over all files.
    pub threshold: f64,
    /// Raw NAB score, summed over files.
    pub raw: f64,
    /// `100 · (raw − null) / (perfect − null)`.
    pub normalized: f64,
    /// Windows with at least one alert.
    pub detected: usize,
    /// Alerting rows outside windows.
    pub false_positives: usize,
}

/// One family's share of a profile's result, at the corpus threshold.
#[derive(Debug, Serialize)]
pub struct FamilyProfile {
    /// NAB's profile name.
    pub profile: &'static str,
    /// The family's raw score at the profile's corpus threshold.
    pub raw: f64,
    /// The family's normalised score; `None` for a family without anomaly windows (NAB's
    /// normalisation is undefined there: its false positives still count in the corpus score).
    pub normalized: Option<f64>,
    /// Windows with at least one alert.
    pub detected: usize,
    /// Alerting rows outside windows.
    pub false_positives: usize,
}

/// One NAB family (`realAWSCloudwatch`, `realTraffic`, …) scored with the corpus thresholds.
#[derive(Debug, Serialize)]
pub struct FamilyResult {
    /// The folder under `data/`.
    pub family: String,
    /// Series scored.
    pub files: usize,
    /// Anomaly windows that count.
    pub windows: usize,
    /// Per profile, in NAB's order.
    pub profiles: Vec<FamilyProfile>,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct NabReport {
    /// The detector's name.
    pub detector: &'static str,
    /// Series scored.
    pub files: usize,
    /// Rows scored (probationary rows included).
    pub rows: usize,
    /// Anomaly windows that count.
    pub windows: usize,
    /// Per profile, in NAB's order.
    pub profiles: Vec<ProfileResult>,
    /// Per family, in name order, at each profile's corpus threshold.
    pub families: Vec<FamilyResult>,
}

/// Parses NAB's timestamps: `YYYY-MM-DD HH:MM:SS`, optionally with fractional seconds.
fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// Every `data/<family>/<file>.csv` under `dir`, sorted.
fn series_paths(dir: &Path) -> anyhow::Result<Vec<(String, String, PathBuf)>> {
    let data = dir.join("data");
    let mut out = Vec::new();
    let families = std::fs::read_dir(&data)
        .with_context(|| format!("{}: cannot read the NAB data folder", data.display()))?;
    for family in families {
        let family = family?;
        if !family.file_type()?.is_dir() {
            continue;
        }
        let family_name = family.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(family.path())? {
            let path = file?.path();
            if path.extension().is_some_and(|e| e == "csv") {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push((family_name.clone(), name, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one NAB series (`timestamp,value`).
fn read_series(path: &Path) -> anyhow::Result<(Vec<String>, Vec<i64>, Vec<f64>)> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("{}: no `{name}` column", path.display()))
    };
    let (ts_col, value_col) = (column("timestamp")?, column("value")?);
    let (mut raw, mut seconds, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{}:{line}", path.display()))?;
        let ts = record.get(ts_col).unwrap_or_default();
        let Some(t) = parse_timestamp(ts) else {
            bail!("{}:{line}: bad timestamp {ts:?}", path.display());
        };
        let value = record.get(value_col).unwrap_or_default().trim();
        let Ok(v) = value.parse::<f64>() else {
            bail!("{}:{line}: bad value {value:?}", path.display());
        };
        raw.push(ts.trim().to_string());
        seconds.push(t);
        values.push(v);
    }
    Ok((raw, seconds, values))
}

/// Loads `labels/combined_windows.json` as `key → [(start, end)]` in seconds.
fn read_windows(dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<(i64, i64)>>> {
    let path = dir.join("labels").join("combined_windows.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read the NAB windows", path.display()))?;
    let raw: BTreeMap<String, Vec<(String, String)>> =
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: expected {{\"family/file.csv\": [[start, end], …]}}",
                path.display()
            )
        })?;
    let mut out = BTreeMap::new();
    for (key, windows) in raw {
        let mut parsed = Vec::with_capacity(windows.len());
        for (start, end) in windows {
            match (parse_timestamp(&start), parse_timestamp(&end)) {
                (Some(a), Some(b)) => parsed.push((a, b)),
                _ => bail!("{}: {key}: bad window [{start:?}, {end:?}]", path.display()),
            }
        }
        out.insert(key, parsed);
    }
    Ok(out)
}

/// Writes NAB's results file for one series.
fn write_results(out: &Path, s: &Series) -> anyhow::Result<()> {
    let dir = out.join(DETECTOR).join(&s.family);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let path = dir.join(format!("{DETECTOR}_{}", s.file));
    let mut text = String::with_capacity(s.values.len() * 48);
    text.push_str("timestamp,value,anomaly_score,label\n");
    for i in 0..s.values.len() {
        let t = s.seconds[i];
        let label = u8::from(s.windows.iter().any(|&(a, b)| a <= t && t <= b));
        let _ = writeln!(
            text,
            "{},{},{},{label}",
            s.timestamps[i], s.values[i], s.scores[i]
        );
    }
    std::fs::write(&path, text).with_context(|| format!("{}: cannot write", path.display()))
}

/// Runs the benchmark and returns the report (no printing).
pub fn evaluate(dir: &Path, results: Option<&Path>) -> anyhow::Result<NabReport> {
    let labels = read_windows(dir)?;
    let mut series = Vec::new();
    for (family, file, path) in series_paths(dir)? {
        let key = format!("{family}/{file}");
        // NAB scores only the files its label file lists.
        let Some(windows) = labels.get(&key) else {
            continue;
        };
        let (timestamps, seconds, values) = read_series(&path)?;
        let mut detector = StreamingDetector::new();
        let scores = seconds
            .iter()
            .zip(&values)
            .map(|(&t, &v)| detector.update(t, v))
            .collect();
        series.push(Series {
            key,
            family,
            file,
            timestamps,
            seconds,
            values,
            scores,
            windows: windows.clone(),
        });
    }
    if series.is_empty() {
        bail!(
            "{}: no labelled series under data/ (expected data/<family>/<file>.csv listed in labels/combined_windows.json)",
            dir.display()
        );
    }
    if let Some(out) = results {
        for s in &series {
            write_results(out, s)?;
        }
    }
    let files = series
        .iter()
        .map(|s| {
            ScoredFile::new(&s.seconds, &s.scores, &s.windows)
                .map_err(|e| anyhow::anyhow!("{}: {e}", s.key))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let windows: usize = files.iter().map(ScoredFile::windows).sum();
    // Per profile, its corpus threshold and each file's counts there, scored once for the
    // corpus and its families alike.
    let scored: Vec<(f64, Vec<Counts>)> = Profile::ALL
        .iter()
        .map(|p| {
            let threshold = optimize(&files, p).threshold;
            (
                threshold,
                files.iter().map(|f| f.score(p, threshold)).collect(),
            )
        })
        .collect();
    let profiles = Profile::ALL
        .iter()
        .zip(&scored)
        .map(|(p, (threshold, counts))| {
            let (raw, detected, false_positives) = totals(counts);
            ProfileResult {
                profile: p.name,
                threshold: *threshold,
                raw,
                normalized: normalized(raw, windows, p).unwrap_or(0.0),
                detected,
                false_positives,
            }
        })
        .collect();
    let families = by_family(&series, &files, &scored);
    Ok(NabReport {
        detector: DETECTOR,
        files: series.len(),
        rows: series.iter().map(|s| s.values.len()).sum(),
        windows,
        profiles,
        families,
    })
}

/// Raw score, windows detected and alerting rows outside windows, summed over `counts`.
fn totals<'a>(counts: impl IntoIterator<Item = &'a Counts>) -> (f64, usize, usize) {
    counts
        .into_iter()
        .fold((0.0, 0, 0), |(raw, detected, fp), c| {
            (raw + c.score, detected + c.detected, fp + c.fp)
        })
}

/// Each family's score at the corpus thresholds (NAB reports one score per corpus; this shows
/// where it comes from), from the per-file counts `scored` holds for each profile.
fn by_family(
    series: &[Series],
    files: &[ScoredFile],
    scored: &[(f64, Vec<Counts>)],
) -> Vec<FamilyResult> {
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in series.iter().enumerate() {
        members.entry(&s.family).or_default().push(i);
    }
    members
        .into_iter()
        .map(|(family, members)| {
            let windows = members.iter().map(|&i| files[i].windows()).sum();
            let profiles = Profile::ALL
                .iter()
                .zip(scored)
                .map(|(p, (_, counts))| {
                    let (raw, detected, false_positives) =
                        totals(members.iter().map(|&i| &counts[i]));
                    FamilyProfile {
                        profile: p.name,
                        raw,
                        normalized: normalized(raw, windows, p),
                        detected,
                        false_positives,
                    }
                })
                .collect();
            FamilyResult {
                family: family.to_string(),
                files: members.len(),
                windows,
                profiles,
            }
        })
        .collect()
}

/// `tokpulse bench nab`.
pub fn run(dir: &Path, results: Option<&Path>, format: OutputFormat) -> anyhow::Result<u8> {
    let report = evaluate(dir, results)?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Table => {
            println!(
                "NAB: detector `{}`, {} files, {} rows, {} anomaly windows",
                report.detector, report.files, report.rows, report.windows
            );
            let mut t = crate::commands::table(&[
                "profile",
                "threshold",
                "raw score",
                "NAB score",
                "windows detected",
                "false positives",
            ]);
            for p in &report.profiles {
                t.add_row(vec![
                    p.profile.to_string(),
                    format!("{:.4}", p.threshold),
                    format!("{:.3}", p.raw),
                    format!("{:.1}", p.normalized),
                    format!("{}/{}", p.detected, report.windows),
                    p.false_positives.to_string(),
                ]);
            }
            println!("{t}");
            println!(
                "One threshold per profile for all files, optimised over the corpus as NAB's \
                 optimizer does; NAB score: 0 = never alerts, 100 = perfect."
            );
            if report.families.len() > 1 {
                let mut t = crate::commands::table(&[
                    "family", "files", "windows", "standard", "low FP", "low FN",
                ]);
                for f in &report.families {
                    let mut row =
                        vec![f.family.clone(), f.files.to_string(), f.windows.to_string()];
                    row.extend(f.profiles.iter().map(|p| {
                        let score = p.normalized.map_or("—".to_string(), |n| format!("{n:.1}"));
                        format!(
                            "{score} ({}/{}, {} FP)",
                            p.detected, f.windows, p.false_positives
                        )
                    }));
                    t.add_row(row);
                }
                println!("By family, at the corpus thresholds above:\n{t}");
            }
            if let Some(out) = results {
                println!("per-row scores: {}", out.join(DETECTOR).display());
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_with_and_without_fractions() {
        assert_eq!(parse_timestamp("1970-01-01 00:01:00"), Some(60));
        assert_eq!(parse_timestamp("1970-01-01 00:01:00.000000"), Some(60));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
