//! `tokpulse bench ingest`: NDJSON performance records through the whole ingest path (parse,
//! validate, guard, SQLite store) against a plain batched INSERT of the same rows into the same
//! schema, in the same run, on fresh databases in a temporary folder. Also times parsing and the
//! guard alone, so the gap between the two can be accounted for.

use crate::config::Config;
use anyhow::Context;
use sqlx::QueryBuilder;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokpulse_core::RecordKind;
use tokpulse_guard::Guard;
use tokpulse_ingest::{Format, Ingestor, ParsedBatch};
use tokpulse_store::{SqliteStore, Store};

/// Deterministic NDJSON bodies of `batch` performance records each; about one in twenty carries
/// an email address in its attributes, as real checkout traffic does.
pub fn bodies(records: usize, batch: usize) -> Vec<String> {
    let services = ["web", "api", "mobile-bff"];
    let routes = [
        "/",
        "/products/:id",
        "/api/search",
        "/api/orders",
        "/checkout",
        "/v2/feed",
    ];
    let mut out = Vec::new();
    let mut body = String::new();
    for i in 0..records {
        let ts = 1_760_000_000_000u64 + i as u64 * 37;
        let status = if i % 97 == 0 { 503 } else { 200 };
        let duration = 20.0 + ((i * 7919) % 5000) as f64 / 10.0;
        let attributes = if i % 20 == 0 {
            format!(r#"{{"region":"eu-west-1","customer":"user{i}@example-shop.com"}}"#)
        } else {
            r#"{"region":"us-east-1","build":"2025.11.3"}"#.to_string()
        };
        let _ = writeln!(
            body,
            r#"{{"id":"req-{i:09}","timestamp":{ts},"service":"{}","route":"{}","method":"GET","status_code":{status},"duration_ms":{duration},"platform":"web","attributes":{attributes}}}"#,
            services[i % 3],
            routes[i % routes.len()],
        );
        if (i + 1) % batch == 0 {
            out.push(std::mem::take(&mut body));
        }
    }
    if !body.is_empty() {
        out.push(body);
    }
    out
}

/// One row as the plain INSERT binds it.
type Row = (
    String,
    i64,
    String,
    String,
    String,
    i64,
    f64,
    String,
    Option<String>,
    String,
);

fn rows(bodies: &[String]) -> anyhow::Result<Vec<Vec<Row>>> {
    bodies
        .iter()
        .map(|b| {
            b.lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l)?;
                    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                    Ok((
                        s("id"),
                        v["timestamp"].as_i64().unwrap_or_default(),
                        s("service"),
                        s("method"),
                        s("route"),
                        v["status_code"].as_i64().unwrap_or_default(),
                        v["duration_ms"].as_f64().unwrap_or_default(),
                        "production".to_string(),
                        Some(s("platform")),
                        v["attributes"].to_string(),
                    ))
                })
                .collect()
        })
        .collect()
}

/// Rows per INSERT statement in the reference: 10 columns, well under SQLite's parameter limit.
const ROWS_PER_STATEMENT: usize = 1000;

async fn plain_insert(store: &SqliteStore, batches: &[Vec<Row>]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for batch in batches {
        let mut tx = store.pool().begin().await?;
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO performance_metrics (record_id, ts, service, method, route, \
                 status_code, duration_ms, environment, platform, attributes) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(&r.0)
                    .push_bind(r.1)
                    .push_bind(&r.2)
                    .push_bind(&r.3)
                    .push_bind(&r.4)
                    .push_bind(r.5)
                    .push_bind(r.6)
                    .push_bind(&r.7)
                    .push_bind(&r.8)
                    .push_bind(&r.9);
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(started.elapsed())
}

async fn fresh_store(root: &std::path::Path, name: &str) -> anyhow::Result<SqliteStore> {
    let store = SqliteStore::open(&root.join(name)).await?;
    store.migrate().await?;
    Ok(store)
}

/// Runs the benchmark and prints the figures.
pub async fn ingest(
    config: &Config,
    records: usize,
    batch: usize,
    runs: usize,
    clients: usize,
) -> anyhow::Result<u8> {
    anyhow::ensure!(
        records > 0 && batch > 0 && runs > 0 && clients > 0,
        "records, batch size, runs and clients must be > 0"
    );
    let bodies = bodies(records, batch);
    let reference_rows = rows(&bodies)?;
    let guard = Arc::new(Guard::new(&config.guard));
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let (mut best_plain, mut best_ingest) = (Duration::MAX, Duration::MAX);
    let (mut best_parse, mut best_guard) = (Duration::MAX, Duration::MAX);
    let mut best_concurrent = Duration::MAX;
    let bodies = Arc::new(bodies);

    for run in 0..runs {
        let plain = fresh_store(tmp.path(), &format!("plain-{run}")).await?;
        best_plain = best_plain.min(plain_insert(&plain, &reference_rows).await?);
        anyhow::ensure!(
            plain
                .count(tokpulse_store::Table::PerformanceMetrics)
                .await?
                == records as i64,
            "the reference INSERT did not store every row"
        );
        plain.close().await;

        let store = Arc::new(fresh_store(tmp.path(), &format!("ingest-{run}")).await?);
        let ingestor = Ingestor::new(guard.clone(), store.clone());
        let started = Instant::now();
        let mut accepted = 0;
        for body in bodies.iter() {
            accepted += ingestor
                .ingest(RecordKind::Performance, Format::Ndjson, body.as_bytes())
                .await?
                .accepted;
        }
        best_ingest = best_ingest.min(started.elapsed());
        anyhow::ensure!(
            accepted == records as u64,
            "the ingest path did not accept every record"
        );
        store.close().await;

        // Several clients at once, as the server sees them: one client's batch is parsed and
        // guarded while another's is being written.
        let store = Arc::new(fresh_store(tmp.path(), &format!("clients-{run}")).await?);
        let ingestor = Arc::new(Ingestor::new(guard.clone(), store.clone()));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let (ingestor, bodies) = (ingestor.clone(), bodies.clone());
            tasks.push(tokio::spawn(async move {
                let mut accepted = 0;
                for body in bodies.iter().skip(c).step_by(clients) {
                    accepted += ingestor
                        .ingest(RecordKind::Performance, Format::Ndjson, body.as_bytes())
                        .await?
                        .accepted;
                }
                Ok::<u64, tokpulse_ingest::IngestError>(accepted)
            }));
        }
        let mut accepted = 0;
        for t in tasks {
            accepted += t.await??;
        }
        best_concurrent = best_concurrent.min(started.elapsed());
        anyhow::ensure!(
            accepted == records as u64,
            "concurrent clients lost records"
        );
        store.close().await;

        // The parts, alone.
        let started = Instant::now();
        let mut parsed = Vec::new();
        for body in bodies.iter() {
            parsed.push(tokpulse_ingest::parse(
                RecordKind::Performance,
                Format::Ndjson,
                body.as_bytes(),
            )?);
        }
        best_parse = best_parse.min(started.elapsed());
        let started = Instant::now();
        let mut redactions = 0u64;
        for p in parsed {
            if let ParsedBatch::Performance(records) = p.batch {
                for (_, r) in records {
                    redactions += u64::from(
                        guard
                            .guard(r)
                            .map_err(|e| anyhow::anyhow!("{e}"))?
                            .redactions(),
                    );
                }
            }
        }
        best_guard = best_guard.min(started.elapsed());
        anyhow::ensure!(
            redactions > 0,
            "the guard redacted nothing: the benchmark data is wrong"
        );
    }

    let rate = |d: Duration| records as f64 / d.as_secs_f64();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / records as f64;
    let ratio = rate(best_ingest) / rate(best_plain);
    let store_part = best_ingest.saturating_sub(best_parse + best_guard);
    println!(
        "ingest benchmark: {records} NDJSON performance records, batches of {batch}, SQLite (WAL, synchronous=NORMAL), best of {runs}"
    );
    println!(
        "  plain batched INSERT          {:>12.0} records/s",
        rate(best_plain)
    );
    println!(
        "  ingest path (parse, validate, guard, store) {:>12.0} records/s = {ratio:.2} x plain INSERT (target >= 0.50)",
        rate(best_ingest)
    );
    println!(
        "  ingest path, {clients} concurrent clients    {:>12.0} records/s = {:.2} x plain INSERT",
        rate(best_concurrent),
        rate(best_concurrent) / rate(best_plain)
    );
    println!("  where an ingested record's time goes (one client):");
    println!(
        "    parse + validate            {:>8.2} us",
        per(best_parse)
    );
    println!(
        "    privacy guard               {:>8.2} us",
        per(best_guard)
    );
    println!(
        "    store (insert_batch)        {:>8.2} us",
        per(store_part)
    );
    println!(
        "    plain INSERT, for reference {:>8.2} us",
        per(best_plain)
    );
    Ok(if ratio >= 0.5 { 0 } else { 1 })
}
