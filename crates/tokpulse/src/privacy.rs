//! `tokpulse redact` (the guard as a stdin → stdout filter) and `tokpulse bench privacy` (the
//! guard scored on a labelled file in the `shared/datasets/pii` format).

use crate::Exit;
use crate::cli::OutputFormat;
use crate::config::Config;
use anyhow::Context;
use std::io::{BufRead, Write};
use std::path::Path;
use tokpulse_guard::{Guard, eval};

/// Redacts stdin line by line to stdout. With `--format json` each line becomes
/// `{"text": …, "spans": [{"start", "end", "type", "policy", "replacement"}]}` (byte offsets into
/// the input line). A line the policy blocks is dropped and reported on stderr; the exit code is
/// then 3.
pub fn redact(config: &Config, format: OutputFormat, field: &str) -> anyhow::Result<u8> {
    let guard = Guard::new(&config.guard);
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut blocked = 0u64;
    let mut line = String::new();
    let mut input = stdin.lock();
    let mut number = 0u64;
    loop {
        line.clear();
        // Invalid UTF-8 is replaced rather than refused: a log filter must not stop.
        let mut raw = Vec::new();
        if input.read_until(b'\n', &mut raw).context("reading stdin")? == 0 {
            break;
        }
        number += 1;
        line.push_str(&String::from_utf8_lossy(&raw));
        let newline = line.ends_with('\n');
        let text = line.trim_end_matches(['\n', '\r']);
        match guard.redact_with_findings(text, field) {
            Ok((redacted, findings)) => match format {
                OutputFormat::Table => {
                    out.write_all(redacted.as_str().as_bytes())?;
                    if newline {
                        out.write_all(b"\n")?;
                    }
                }
                OutputFormat::Json => {
                    let v = serde_json::json!({"text": redacted, "spans": findings});
                    serde_json::to_writer(&mut out, &v)?;
                    out.write_all(b"\n")?;
                }
            },
            Err(e) => {
                blocked += 1;
                out.flush()?;
                eprintln!("line {number}: blocked: {e}");
            }
        }
    }
    out.flush()?;
    Ok(if blocked > 0 { 3 } else { 0 })
}

/// Scores the guard on `file` and prints per-type and overall figures.
pub fn bench(
    config: &Config,
    file: &Path,
    predictions: Option<&Path>,
    runs: usize,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Exit(2, format!("error: cannot read {}: {e}", file.display())))?;
    let gold =
        eval::parse_gold(&text).map_err(|e| Exit(2, format!("error: {}: {e}", file.display())))?;
    let guard = Guard::new(&config.guard);
    let report = eval::evaluate(&guard, &gold, runs);
    if let Some(p) = predictions {
        std::fs::write(p, report.predictions_jsonl())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    match format {
        OutputFormat::Json => {
            let families: serde_json::Map<String, serde_json::Value> = report
                .families
                .iter()
                .filter(|(_, c)| c.gold > 0 || c.predicted > 0)
                .map(|(f, c)| {
                    (
                        f.clone(),
                        serde_json::json!({
                            "n_gold": c.gold, "n_pred": c.predicted,
                            "precision": c.precision(), "recall": c.recall(), "f1": c.f1(),
                        }),
                    )
                })
                .collect();
            let o = &report.overall;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "file": file.display().to_string(),
                    "records": report.records,
                    "bytes": report.bytes,
                    "families": families,
                    "overall": {
                        "n_gold": o.gold, "n_pred": o.predicted,
                        "precision": o.precision(), "recall": o.recall(), "f1": o.f1(),
                    },
                    "secrets_recall": report.secrets_recall(),
                    "leak_rate": report.leak_rate(),
                    "over_redaction_rate": report.over_redaction(),
                    "clean_record_fpr": report.clean_fpr(),
                    "mb_per_sec": report.mb_per_sec(),
                    "records_per_sec": report.records_per_sec(),
                    "runs": runs,
                }))?
            );
        }
        OutputFormat::Table => {
            let mut t =
                crate::commands::table(&["type", "gold", "predicted", "precision", "recall", "F1"]);
            let row = |name: &str, c: &eval::Counts| {
                vec![
                    name.to_string(),
                    c.gold.to_string(),
                    c.predicted.to_string(),
                    format!("{:.3}", c.precision()),
                    format!("{:.3}", c.recall()),
                    format!("{:.3}", c.f1()),
                ]
            };
            for (f, c) in &report.families {
                if c.gold > 0 || c.predicted > 0 {
                    t.add_row(row(f, c));
                }
            }
            t.add_row(row("OVERALL", &report.overall));
            println!(
                "{} records, {} bytes from {} (a span counts if it overlaps a gold span of its type)",
                report.records,
                report.bytes,
                file.display()
            );
            println!("{t}");
            println!("secrets recall:    {:.3}", report.secrets_recall());
            println!(
                "leak rate:         {:.4}  (gold PII characters left unredacted)",
                report.leak_rate()
            );
            println!(
                "over-redaction:    {:.4}  (non-PII characters redacted)",
                report.over_redaction()
            );
            println!(
                "clean-record FPR:  {:.3}  ({} records without PII)",
                report.clean_fpr(),
                report.clean_records
            );
            println!(
                "throughput:        {:.1} MB/s, {:.0} records/s (one thread, best of {runs})",
                report.mb_per_sec(),
                report.records_per_sec()
            );
            if let Some(p) = predictions {
                println!(
                    "predictions:       {} (score.py --offsets byte)",
                    p.display()
                );
            }
        }
    }
    Ok(0)
}
