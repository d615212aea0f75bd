//! `tokpulse ingest FILE…`: files go through the same parser, validation, guard and store as
//! the HTTP API, in batches (one transaction each), with a progress bar.

use crate::Exit;
use crate::app::App;
use crate::cli::{IngestArgs, OutputFormat};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Read;
use std::path::Path;
use tokpulse_core::RecordKind;
use tokpulse_ingest::{Format, IngestReport, Rejection};

/// Rejections printed per file before the rest are only counted.
const SHOWN: usize = 20;

/// Splits a file's content into bodies of at most `batch` records each, in the file's own
/// format, with the index of each body's first record.
fn split(format: Format, data: &[u8], batch: usize) -> anyhow::Result<Vec<(usize, Vec<u8>)>> {
    let mut out = Vec::new();
    match format {
        Format::Ndjson => {
            let (mut body, mut n, mut first) = (Vec::new(), 0usize, 0usize);
            for line in data.split_inclusive(|b| *b == b'\n') {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                body.extend_from_slice(line);
                if !line.ends_with(b"\n") {
                    body.push(b'\n');
                }
                n += 1;
                if n % batch == 0 {
                    out.push((first, std::mem::take(&mut body)));
                    first = n;
                }
            }
            if !body.is_empty() {
                out.push((first, body));
            }
        }
        Format::Json => {
            let value: serde_json::Value = serde_json::from_slice(data).map_err(|e| {
                anyhow::anyhow!(
                    "not valid JSON at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                )
            })?;
            let items = match value {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            };
            for (i, chunk) in items.chunks(batch).enumerate() {
                out.push((i * batch, serde_json::to_vec(chunk)?));
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(data);
            reader.headers().context("reading the CSV header")?;
            let header_end = reader.position().byte() as usize;
            let header = &data[..header_end];
            let (mut start, mut n, mut first) = (header_end, 0usize, 0usize);
            let mut record = csv::ByteRecord::new();
            loop {
                let more = reader
                    .read_byte_record(&mut record)
                    .with_context(|| format!("reading CSV record {n}"))?;
                if more {
                    n += 1;
                }
                let end = reader.position().byte() as usize;
                if (more && n % batch == 0) || (!more && n > first) {
                    let mut body = header.to_vec();
                    body.extend_from_slice(&data[start..end]);
                    out.push((first, body));
                    start = end;
                    first = n;
                }
                if !more {
                    break;
                }
            }
        }
    }
    Ok(out)
}

fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .with_context(|| format!("{}: not valid gzip", path.display()))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Runs the command; the exit code is 3 when some records were rejected.
pub async fn run(app: &App, args: &IngestArgs) -> anyhow::Result<u8> {
    let kind: RecordKind = args
        .kind
        .parse()
        .map_err(|e| Exit(2, format!("error: --kind: {e}")))?;
    let mut files = Vec::new();
    for path in &args.files {
        let format = Format::from_path(path).ok_or_else(|| {
            Exit(
                2,
                format!(
                    "error: {}: unknown format; use .ndjson, .jsonl, .json or .csv (optionally .gz)",
                    path.display()
                ),
            )
        })?;
        files.push((path, format, read_file(path)?));
    }
    let total: u64 = files.iter().map(|(_, _, d)| d.len() as u64).sum();
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} ({eta})",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    if args.format == OutputFormat::Json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }

    let mut summary = Vec::new();
    let mut any_rejected = false;
    for (path, format, data) in &files {
        bar.set_message(path.display().to_string());
        let mut report = IngestReport::default();
        let bodies = split(*format, data, args.batch_size as usize)
            .with_context(|| format!("{}", path.display()))?;
        for (first, body) in bodies {
            let r = app
                .ingestor
                .ingest(kind, *format, &body)
                .await
                .with_context(|| format!("{}: records from {first}", path.display()))?;
            report.accepted += r.accepted;
            report.duplicates += r.duplicates;
            report
                .rejected
                .extend(r.rejected.into_iter().map(|x| Rejection {
                    index: x.index + first,
                    ..x
                }));
            bar.inc(body.len() as u64);
        }
        any_rejected |= !report.rejected.is_empty();
        summary.push((path.display().to_string(), report));
    }
    bar.finish_and_clear();

    match args.format {
        OutputFormat::Json => {
            let files: Vec<_> = summary
                .iter()
                .map(|(f, r)| serde_json::json!({ "file": f, "report": r }))
                .collect();
            println!("{}", serde_json::to_string_pretty(&files)?);
        }
        OutputFormat::Table => {
            for (file, r) in &summary {
                println!(
                    "{file}: {} accepted, {} duplicates, {} rejected",
                    r.accepted,
                    r.duplicates,
                    r.rejected.len()
                );
                for x in r.rejected.iter().take(SHOWN) {
                    if x.field.is_empty() {
                        eprintln!("{file}: record {}: {}", x.index, x.reason);
                    } else {
                        eprintln!(
                            "{file}: record {}: field `{}`: {}",
                            x.index, x.field, x.reason
                        );
                    }
                }
                if r.rejected.len() > SHOWN {
                    eprintln!("{file}: … and {} more rejected", r.rejected.len() - SHOWN);
                }
            }
        }
    }
    Ok(if any_rejected { 3 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_splits_on_records_and_skips_blank_lines() {
        let data = b"{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}";
        let parts = split(Format::Ndjson, data, 2).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], (0, b"{\"a\":1}\n{\"a\":2}\n".to_vec()));
        assert_eq!(parts[1], (2, b"{\"a\":3}\n".to_vec()));
    }

    #[test]
    fn csv_keeps_the_header_and_quoted_newlines() {
        let data = b"id,message\n1,\"two\nlines\"\n2,b\n3,c\n";
        let parts = split(Format::Csv, data, 2).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].1, b"id,message\n1,\"two\nlines\"\n2,b\n".to_vec());
        assert_eq!(parts[1], (2, b"id,message\n3,c\n".to_vec()));
    }

    #[test]
    fn json_arrays_split_into_arrays() {
        let parts = split(Format::Json, b"[{\"a\":1},{\"a\":2},{\"a\":3}]", 2).unwrap();
        assert_eq!(parts[0].1, b"[{\"a\":1},{\"a\":2}]".to_vec());
        assert_eq!(parts[1].0, 2);
        assert!(
            split(Format::Json, b"[{", 2)
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
    }
}
