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
pub fn redact(
    config: &Config,
    format: OutputFormat,
    field: &str,
    source: Option<&str>,
) -> anyhow::Result<u8> {
    let source = source.and_then(|s| {
        tokpulse_core::RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
    });
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
        match guard.redact_with_findings_in(text, field, source) {
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

/// `tokpulse privacy report|forget|export|retention`.
pub async fn run(
    config: &Config,
    target: &tokpulse_store::StoreTarget,
    cmd: crate::cli::PrivacyCommand,
) -> anyhow::Result<u8> {
    use crate::cli::PrivacyCommand;
    let now = chrono::Utc::now();
    // Check what can be checked before opening the store.
    let subject = match &cmd {
        PrivacyCommand::Forget { subject, .. } | PrivacyCommand::Export { subject, .. } => {
            let s = subject_of(subject)?;
            s.token(&config.guard).map_err(subject_exit)?;
            Some(s)
        }
        _ => None,
    };
    let since = match &cmd {
        PrivacyCommand::Report { since, .. } => Some(
            parse_since(since, now.date_naive())
                .map_err(|e| Exit(2, format!("error: --since: {e}")))?,
        ),
        _ => None,
    };
    let store = crate::app::open_store(target).await?;
    let result = match cmd {
        PrivacyCommand::Report { format, .. } => {
            let since = since.expect("parsed above for report");
            let rows = store.privacy_audit(since).await;
            rows.map_err(anyhow::Error::from)
                .and_then(|rows| print_report(since, &rows, format))
        }
        PrivacyCommand::Forget { format, .. } => {
            let subject = subject.expect("parsed above for forget");
            match crate::subject::forget(store.as_ref(), &config.guard, &subject, now).await {
                Ok(receipt) => print_receipt(&receipt, format),
                Err(e) => Err(request_error(e)),
            }
        }
        PrivacyCommand::Export { out, .. } => {
            let subject = subject.expect("parsed above for export");
            match crate::subject::export(store.as_ref(), &config.guard, &subject, now).await {
                Ok(export) => write_export(&export, out.as_deref()),
                Err(e) => Err(request_error(e)),
            }
        }
        PrivacyCommand::Retention { dry_run, format } => {
            crate::retention::run_retention(store.as_ref(), &config.retention, now, dry_run)
                .await
                .map_err(anyhow::Error::from)
                .and_then(|report| print_retention(&report, format))
        }
    };
    store.close().await;
    result
}

fn subject_of(args: &crate::cli::SubjectArgs) -> Result<crate::subject::Subject, Exit> {
    use crate::subject::Subject;
    match (&args.email, &args.id) {
        (Some(email), _) => {
            Subject::email(email).map_err(|e| Exit(2, format!("error: --email: {e}")))
        }
        (None, Some(id)) => Subject::parse_id(id).map_err(|e| Exit(2, format!("error: --id: {e}"))),
        (None, None) => Err(Exit(2, "error: pass --email or --id".into())),
    }
}

fn subject_exit(e: crate::subject::SubjectError) -> Exit {
    use crate::subject::SubjectError;
    match e {
        SubjectError::Invalid(m) => Exit(2, format!("error: {m}")),
        SubjectError::NoSecret => Exit(2, format!("error: {e}")),
        // Not a failure of the command: the plain answer is that nothing stored can be tied to
        // the person. Exit 1 all the same, so that a script does not take it for a receipt.
        SubjectError::NotHashed(_) => Exit(1, format!("nothing to do: {e}")),
    }
}

fn request_error(e: crate::subject::RequestError) -> anyhow::Error {
    match e {
        crate::subject::RequestError::Subject(s) => subject_exit(s).into(),
        crate::subject::RequestError::Store(s) => s.into(),
    }
}

/// `30` (the last 30 days, today included) or `2026-11-01`.
pub fn parse_since(s: &str, today: chrono::NaiveDate) -> Result<chrono::NaiveDate, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let days: u32 = s.parse().map_err(|_| format!("{s:?} is too many days"))?;
        if days == 0 {
            return Err("expected at least 1 day, got 0".into());
        }
        return today
            .checked_sub_days(chrono::Days::new(u64::from(days) - 1))
            .ok_or_else(|| format!("{s:?} is too many days"));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("expected a number of days or a date such as 2026-11-01, got {s:?}"))
}

/// The audit as JSON: `{"since", "rows", "totals": {"redacted", "hashed", "blocked"}}`.
pub fn report_json(
    since: chrono::NaiveDate,
    rows: &[tokpulse_store::AuditRow],
) -> serde_json::Value {
    let mut totals = std::collections::BTreeMap::<&str, i64>::new();
    for a in tokpulse_guard::AuditAction::ALL {
        totals.insert(a.as_str(), 0);
    }
    for r in rows {
        *totals.entry(r.action.as_str()).or_default() += r.count;
    }
    serde_json::json!({ "since": since, "rows": rows, "totals": totals })
}

fn print_report(
    since: chrono::NaiveDate,
    rows: &[tokpulse_store::AuditRow],
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let report = report_json(since, rows);
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Table => {
            if rows.is_empty() {
                println!("nothing redacted, hashed or blocked since {since}");
                return Ok(0);
            }
            let mut t = crate::commands::table(&["day", "source", "entity", "action", "count"]);
            for r in rows {
                t.add_row(vec![
                    r.day.to_string(),
                    r.source.clone(),
                    r.entity.clone(),
                    r.action.clone(),
                    r.count.to_string(),
                ]);
            }
            println!("{t}");
            let totals = &report["totals"];
            println!(
                "since {since}: {} values redacted, {} hashed, {} records blocked",
                totals["redacted"], totals["hashed"], totals["blocked"]
            );
        }
    }
    Ok(0)
}

fn print_receipt(r: &crate::subject::ForgetReceipt, format: OutputFormat) -> anyhow::Result<u8> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(r)?),
        OutputFormat::Table => {
            println!(
                "forget request carried out at {}",
                r.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            println!("token: {}", r.token);
            let mut t = crate::commands::table(&["table", "deleted", "anonymised"]);
            for row in &r.tables {
                t.add_row(vec![
                    row.table.clone(),
                    row.deleted.to_string(),
                    row.anonymised.to_string(),
                ]);
            }
            println!("{t}");
            println!(
                "{} rows deleted, {} anonymised ({} in findings and actions); recorded in \
                 privacy_requests",
                r.deleted,
                r.anonymised,
                tokpulse_store::FORGOTTEN
            );
            println!("note: {}", r.note);
        }
    }
    Ok(0)
}

fn write_export(export: &crate::subject::Export, out: Option<&Path>) -> anyhow::Result<u8> {
    let json = serde_json::to_string_pretty(export)?;
    let rows: usize = export.tables.values().map(Vec::len).sum();
    match out {
        Some(path) => {
            std::fs::write(path, format!("{json}\n"))
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "wrote {rows} rows about {} to {}",
                export.token,
                path.display()
            );
        }
        None => println!("{json}"),
    }
    Ok(0)
}

fn print_retention(
    r: &crate::retention::RetentionReport,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(r)?),
        OutputFormat::Table => {
            let verb = if r.dry_run { "would delete" } else { "deleted" };
            let mut t = crate::commands::table(&["table", "keep (days)", "older than", verb]);
            for row in &r.tables {
                t.add_row(vec![
                    row.table.to_string(),
                    if row.days == 0 {
                        "forever".to_string()
                    } else {
                        row.days.to_string()
                    },
                    row.cutoff
                        .map(|c| c.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_else(|| "-".into()),
                    row.rows.to_string(),
                ]);
            }
            println!("{t}");
            println!("{verb} {} rows in all", r.total());
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_days_or_a_date() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(parse_since("1", today), Ok(today));
        assert_eq!(parse_since("30", today).unwrap().to_string(), "2026-10-27");
        assert_eq!(
            parse_since("2026-11-01", today).unwrap().to_string(),
            "2026-11-01"
        );
        assert!(parse_since("0", today).is_err());
        assert!(parse_since("last week", today).is_err());
        assert!(parse_since("99999999999999999999", today).is_err());
    }
}
