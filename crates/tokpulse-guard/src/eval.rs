//! Scoring the guard against a labelled PII file (`shared/datasets/pii/dev.jsonl` format), with
//! the same rules as the dataset's reference scorer `score.py`: a predicted span counts if it
//! overlaps a gold span of a compatible type (IPV4 and IPV6 form one family `IP`); the leak rate
//! is the share of gold PII characters no prediction covers; over-redaction the share of
//! non-PII characters covered. Offsets are Unicode code points, as in `score.py`.
//!
//! ```
//! use tokpulse_guard::{Guard, GuardConfig, eval};
//!
//! let line = r#"{"id":"a","text":"mail jane@corp.io","spans":[{"start":5,"end":17,"type":"EMAIL"}]}"#;
//! let gold = eval::parse_gold(line).unwrap();
//! let report = eval::evaluate(&Guard::new(&GuardConfig::default()), &gold, 1);
//! assert_eq!(report.overall.f1(), 1.0);
//! ```

use crate::{Entity, Guard, Span};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The gold types of the dataset, in its order.
pub const GOLD_TYPES: [&str; 17] = [
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "US_SSN",
    "IPV4",
    "IPV6",
    "IBAN",
    "PERSON",
    "STREET_ADDRESS",
    "DATE_OF_BIRTH",
    "URL_WITH_CREDENTIALS",
    "OPENAI_KEY",
    "GITHUB_TOKEN",
    "AWS_ACCESS_KEY",
    "JWT",
    "PASSWORD",
    "CRYPTO_WALLET",
];

/// The secret families whose recall the issue wants at 100%.
pub const SECRET_FAMILIES: [&str; 5] = [
    "OPENAI_KEY",
    "GITHUB_TOKEN",
    "AWS_ACCESS_KEY",
    "JWT",
    "PASSWORD",
];

/// A labelled span (code point offsets).
#[derive(Debug, Clone, Deserialize)]
pub struct GoldSpan {
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// The gold type (`EMAIL`…).
    #[serde(rename = "type")]
    pub kind: String,
}

/// One labelled record.
#[derive(Debug, Clone, Deserialize)]
pub struct GoldRecord {
    /// Record id.
    pub id: String,
    /// Where it came from (`json_log`, `chat`…).
    #[serde(default)]
    pub source: String,
    /// The text.
    pub text: String,
    /// Its PII.
    #[serde(default)]
    pub spans: Vec<GoldSpan>,
}

/// A parse error in the gold file.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct GoldError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses a JSONL gold file.
pub fn parse_gold(text: &str) -> Result<Vec<GoldRecord>, GoldError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| GoldError {
                line: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// The family a type is scored in: IPV4 and IPV6 are `IP`.
pub fn family(kind: &str) -> &str {
    match kind {
        "IPV4" | "IPV6" => "IP",
        k => k,
    }
}

/// Precision/recall counts for one family (overlap rule).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    /// Gold spans.
    pub gold: usize,
    /// Gold spans found by an overlapping prediction of the family.
    pub found: usize,
    /// Predictions.
    pub predicted: usize,
    /// Predictions overlapping a gold span of the family.
    pub correct: usize,
}

impl Counts {
    /// Precision, as `score.py` defines it for empty sets.
    pub fn precision(&self) -> f64 {
        ratio(self.correct, self.predicted, self.gold == 0)
    }
    /// Recall.
    pub fn recall(&self) -> f64 {
        ratio(self.found, self.gold, self.predicted == 0)
    }
    /// F1.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }
    fn add(&mut self, o: &Counts) {
        self.gold += o.gold;
        self.found += o.found;
        self.predicted += o.predicted;
        self.correct += o.correct;
    }
}

fn ratio(a: usize, b: usize, empty_is_one: bool) -> f64 {
    if b > 0 {
        a as f64 / b as f64
    } else if empty_is_one {
        1.0
    } else {
        0.0
    }
}

/// Everything `tokpulse bench privacy` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Records scored.
    pub records: usize,
    /// Bytes of text scanned per run.
    pub bytes: usize,
    /// Per family (overlap rule).
    pub families: BTreeMap<String, Counts>,
    /// All families together (micro average).
    pub overall: Counts,
    /// Gold PII characters.
    pub gold_chars: usize,
    /// Gold PII characters no prediction covers.
    pub leaked_chars: usize,
    /// Non-PII characters.
    pub nonpii_chars: usize,
    /// Non-PII characters covered by a prediction.
    pub over_chars: usize,
    /// Records without gold PII.
    pub clean_records: usize,
    /// Records without gold PII on which something was predicted.
    pub clean_flagged: usize,
    /// Best single-thread scan time over the runs.
    #[serde(serialize_with = "secs")]
    pub best_time: Duration,
    /// Predictions per record, byte offsets.
    #[serde(skip)]
    pub predictions: Vec<(String, Vec<Span>)>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Report {
    /// Share of gold PII characters left unredacted.
    pub fn leak_rate(&self) -> f64 {
        ratio(self.leaked_chars, self.gold_chars, false)
    }
    /// Share of non-PII characters redacted.
    pub fn over_redaction(&self) -> f64 {
        ratio(self.over_chars, self.nonpii_chars, false)
    }
    /// Share of clean records with a prediction.
    pub fn clean_fpr(&self) -> f64 {
        ratio(self.clean_flagged, self.clean_records, false)
    }
    /// Recall over the secret families together.
    pub fn secrets_recall(&self) -> f64 {
        let mut c = Counts::default();
        for f in SECRET_FAMILIES {
            if let Some(x) = self.families.get(f) {
                c.add(x);
            }
        }
        ratio(c.found, c.gold, true)
    }
    /// Megabytes (10^6 bytes) of text per second on one thread.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.best_time.as_secs_f64().max(1e-9)
    }
    /// Records per second on one thread.
    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.best_time.as_secs_f64().max(1e-9)
    }
    /// The predictions as JSON lines `score.py --offsets byte` reads.
    pub fn predictions_jsonl(&self) -> String {
        let mut out = String::new();
        for (id, spans) in &self.predictions {
            let line = serde_json::json!({
                "id": id,
                "spans": spans.iter().map(|s| serde_json::json!({
                    "start": s.start, "end": s.end, "type": s.entity.as_str(),
                })).collect::<Vec<_>>(),
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
        out
    }
}

/// Byte offset → code point offset, widening a byte range to whole characters (as `score.py`
/// does).
fn char_range(text: &str, start: usize, end: usize) -> (usize, usize) {
    let cs = text
        .char_indices()
        .take_while(|&(b, _)| b <= start)
        .count()
        .saturating_sub(1);
    let ce = text.char_indices().take_while(|&(b, _)| b < end).count();
    (cs, ce)
}

/// Runs the guard's detectors over every record `runs` times (timing the best run on one
/// thread) and scores the predictions.
pub fn evaluate(guard: &Guard, gold: &[GoldRecord], runs: usize) -> Report {
    let mut best = Duration::MAX;
    let mut predictions = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let p: Vec<Vec<Span>> = gold.iter().map(|r| guard.scan(&r.text)).collect();
        best = best.min(t.elapsed());
        predictions = p;
    }
    let mut families: BTreeMap<String, Counts> = BTreeMap::new();
    for t in GOLD_TYPES {
        families.entry(family(t).to_string()).or_default();
    }
    let mut report = Report {
        records: gold.len(),
        bytes: gold.iter().map(|r| r.text.len()).sum(),
        families: BTreeMap::new(),
        overall: Counts::default(),
        gold_chars: 0,
        leaked_chars: 0,
        nonpii_chars: 0,
        over_chars: 0,
        clean_records: 0,
        clean_flagged: 0,
        best_time: best,
        predictions: Vec::new(),
    };
    for (rec, spans) in gold.iter().zip(&predictions) {
        let n = rec.text.chars().count();
        let preds: Vec<(usize, usize, &str)> = spans
            .iter()
            .map(|s| {
                let (a, b) = char_range(&rec.text, s.start, s.end);
                (a, b, s.entity.as_str())
            })
            .filter(|(a, b, _)| a < b)
            .collect();
        let mut covered = vec![false; n];
        for &(a, b, _) in &preds {
            covered[a..b.min(n)].iter_mut().for_each(|c| *c = true);
        }
        let mut gold_mask = vec![false; n];
        for g in &rec.spans {
            gold_mask[g.start.min(n)..g.end.min(n)]
                .iter_mut()
                .for_each(|c| *c = true);
        }
        // Mapped predictions: our types that are gold types (SLACK_TOKEN is not).
        let mapped: Vec<&(usize, usize, &str)> = preds
            .iter()
            .filter(|(_, _, t)| GOLD_TYPES.contains(t))
            .collect();
        if rec.spans.is_empty() {
            report.clean_records += 1;
            report.clean_flagged += usize::from(!mapped.is_empty());
        }
        report.nonpii_chars += gold_mask.iter().filter(|g| !**g).count();
        report.over_chars += (0..n).filter(|&i| covered[i] && !gold_mask[i]).count();
        // Duplicates (same start, end, type) count once, as in score.py.
        let mut seen = std::collections::HashSet::new();
        for &&(a, b, t) in &mapped {
            if !seen.insert((a, b, t)) {
                continue;
            }
            let c = families.entry(family(t).to_string()).or_default();
            c.predicted += 1;
            c.correct += usize::from(
                rec.spans
                    .iter()
                    .any(|g| a < g.end && g.start < b && family(&g.kind) == family(t)),
            );
        }
        for g in &rec.spans {
            let c = families.entry(family(&g.kind).to_string()).or_default();
            c.gold += 1;
            c.found += usize::from(
                mapped
                    .iter()
                    .any(|&&(a, b, t)| a < g.end && g.start < b && family(t) == family(&g.kind)),
            );
            let len = g.end.saturating_sub(g.start);
            report.gold_chars += len;
            report.leaked_chars += (g.start..g.end.min(n)).filter(|&i| !covered[i]).count();
        }
    }
    for c in families.values() {
        report.overall.add(c);
    }
    report.families = families;
    report.predictions = gold
        .iter()
        .zip(predictions)
        .map(|(r, p)| (r.id.clone(), p))
        .collect();
    report
}

/// Entity types the guard reports that the dataset does not label (scored as `score.py` does:
/// ignored for precision and recall, counted as redaction).
pub fn unmapped_types() -> Vec<Entity> {
    Entity::ALL
        .into_iter()
        .filter(|e| !GOLD_TYPES.contains(&e.as_str()))
        .collect()
}
