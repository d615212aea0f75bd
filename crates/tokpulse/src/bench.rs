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

/// `tokpulse bench rollups`: the p95 latency of every route over `days` days from rollups
/// (decoded from their stored bytes and merged) and exactly from the raw rows, in the same run.
///
/// The rows are generated (seeded): `per_day` requests a day spread over `routes` routes, each
/// route with its own lognormal latency (median 15 to 600 ms) plus a 3% slow tail. Rollups are
/// built per route and hour, and per route and day from those. The rollup path asks
/// [`tokpulse_analyze::rollup::cover`] which rollups tile the window (whole days here) and merges
/// their stored bytes with a [`tokpulse_analyze::rollup::Merger`]; the hour-only path merges
/// every hour rollup instead. The exact p95 is the
/// nearest-rank value, found by a full sort of each route's latencies (what a database's
/// `percentile_disc` does) and, as a faster exact reference, by selection
/// ([`tokpulse_analyze::quantile`]); the raw rows are in memory, so both raw timings are a lower
/// bound on rescanning a table. Returns 0 when the worst relative error is at most 1% and the
/// rollup path is at least 100 times faster than sorting, 1 otherwise.
pub fn rollups(
    days: u32,
    per_day: u32,
    routes: u16,
    runs: usize,
    seed: u64,
    format: crate::cli::OutputFormat,
) -> anyhow::Result<u8> {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use tokpulse_analyze::rollup::{LatencyStats, Merger, Resolution, cover};

    anyhow::ensure!(
        days > 0 && per_day > 0 && routes > 0,
        "days, per-day and routes must be > 0"
    );
    let runs = runs.max(1);
    let hours = days as usize * 24;
    let routes = usize::from(routes);
    let mut rng = StdRng::seed_from_u64(seed);
    // Per route: ln(median) and σ of its lognormal.
    let shape: Vec<(f64, f64)> = (0..routes)
        .map(|_| {
            let median: f64 = 15.0 * 40f64.powf(rng.random::<f64>());
            (median.ln(), 0.3 + 0.7 * rng.random::<f64>())
        })
        .collect();
    let normal = |rng: &mut StdRng| {
        let (u, v): (f64, f64) = (rng.random::<f64>().max(f64::MIN_POSITIVE), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };

    // The raw rows: (hour, route, duration, error), in time order.
    let total = days as usize * per_day as usize;
    eprintln!("generating {total} requests over {days} days on {routes} routes…");
    let mut rows: Vec<(u32, u16, f64, bool)> = Vec::with_capacity(total);
    for i in 0..total {
        let hour = (i * hours / total) as u32;
        let route = rng.random_range(0..routes);
        let (mu, sigma) = shape[route];
        let mut ms = (mu + sigma * normal(&mut rng)).exp();
        if rng.random::<f64>() < 0.03 {
            ms *= 4.0 + 20.0 * rng.random::<f64>();
        }
        rows.push((hour, route as u16, ms, rng.random::<f64>() < 0.005));
    }

    // Ingest side: one rollup per route and hour, one per route and day, encoded as the store
    // column holds them.
    let start = Instant::now();
    let mut stats = vec![LatencyStats::new(); routes * hours];
    for &(hour, route, ms, err) in &rows {
        stats[usize::from(route) * hours + hour as usize].record(ms, err);
    }
    let hour_blobs: Vec<Vec<u8>> = stats.iter().map(LatencyStats::to_bytes).collect();
    let day_blobs: Vec<Vec<u8>> = stats
        .chunks(24)
        .map(|day| {
            let mut d = LatencyStats::new();
            for h in day {
                d.merge(h);
            }
            d.to_bytes()
        })
        .collect();
    let build = start.elapsed();
    drop(stats);
    let bytes = |b: &[Vec<u8>]| b.iter().map(Vec::len).sum::<usize>();
    let t0 = chrono::DateTime::from_timestamp(1_700_006_400, 0).context("a fixed midnight")?;
    let window = tokpulse_core::Window {
        start: t0,
        end: t0 + chrono::TimeDelta::days(i64::from(days)),
    };
    let plan = cover(window);
    anyhow::ensure!(
        plan.len() == 1 && plan[0].0 == Resolution::Day,
        "an aligned window is whole days"
    );

    // Query side, rollups: decode and merge each route's rollups, read the p95.
    let query = |blobs: &[Vec<u8>], per_route: usize| -> anyhow::Result<(Vec<f64>, Duration)> {
        let mut best = Duration::MAX;
        let mut p95s = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            p95s = blobs
                .chunks(per_route)
                .map(|route_blobs| -> anyhow::Result<f64> {
                    let mut merged = Merger::new();
                    for b in route_blobs {
                        merged.add_bytes(b)?;
                    }
                    merged.quantile(0.95).context("a route without requests")
                })
                .collect::<anyhow::Result<Vec<f64>>>()?;
            best = best.min(start.elapsed());
        }
        Ok((p95s, best))
    };
    let (from_days, best_days) = query(&day_blobs, days as usize)?;
    let (from_hours, best_hours) = query(&hour_blobs, hours)?;

    // Query side, raw rows: scan the window's rows into one vector per route, then the exact
    // nearest-rank p95 by sorting and by selection.
    let scan = |rows: &[(u32, u16, f64, bool)]| {
        let mut per_route: Vec<Vec<f64>> = vec![Vec::with_capacity(total / routes + 1); routes];
        for &(hour, route, ms, _) in rows {
            if (hour as usize) < hours {
                per_route[usize::from(route)].push(ms);
            }
        }
        per_route
    };
    let (mut best_sort, mut best_select) = (Duration::MAX, Duration::MAX);
    let mut exact = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        exact = scan(&rows)
            .into_iter()
            .map(|mut v| {
                v.sort_unstable_by(f64::total_cmp);
                let rank = (0.95 * v.len() as f64).ceil().max(1.0) as usize;
                v[rank - 1]
            })
            .collect();
        best_sort = best_sort.min(start.elapsed());
        let start = Instant::now();
        let selected: Vec<f64> = scan(&rows)
            .into_iter()
            .filter_map(|mut v| tokpulse_analyze::p95(&mut v))
            .collect();
        best_select = best_select.min(start.elapsed());
        anyhow::ensure!(selected == exact, "sorting and selection disagree");
    }

    let rel = |got: &[f64]| -> (f64, f64) {
        let e: Vec<f64> = exact
            .iter()
            .zip(got)
            .map(|(e, r)| (r - e).abs() / e)
            .collect();
        (
            e.iter().copied().fold(0.0, f64::max),
            e.iter().sum::<f64>() / e.len() as f64,
        )
    };
    let (worst, mean) = rel(&from_days);
    let (worst_hours, _) = rel(&from_hours);
    let secs = |d: Duration| d.as_secs_f64();
    let ratio_sort = secs(best_sort) / secs(best_days);
    let ratio_select = secs(best_select) / secs(best_days);
    let ratio_hours = secs(best_sort) / secs(best_hours);
    let ok = worst.max(worst_hours) <= 0.01 && ratio_sort >= 100.0;
    match format {
        crate::cli::OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "days": days, "requests_per_day": per_day, "routes": routes,
                "requests": total,
                "hour_rollups": hour_blobs.len(), "hour_rollup_bytes": bytes(&hour_blobs),
                "day_rollups": day_blobs.len(), "day_rollup_bytes": bytes(&day_blobs),
                "build_rollups_s": secs(build),
                "query_rollups_s": secs(best_days),
                "query_hour_rollups_s": secs(best_hours),
                "query_raw_sort_s": secs(best_sort),
                "query_raw_select_s": secs(best_select),
                "speedup_vs_sort": ratio_sort,
                "speedup_vs_select": ratio_select,
                "hour_only_speedup_vs_sort": ratio_hours,
                "p95_relative_error_max": worst,
                "p95_relative_error_mean": mean,
                "hour_only_p95_relative_error_max": worst_hours,
                "ok": ok,
            })
        ),
        crate::cli::OutputFormat::Table => {
            println!(
                "p95 of each of {routes} routes over {days} days ({total} requests, {per_day} a day; best of {runs})"
            );
            println!(
                "  rollups: {} hour ({:.1} MB, {:.0} B each), {} day ({:.1} MB, {:.0} B each), built in {:.2} s",
                hour_blobs.len(),
                bytes(&hour_blobs) as f64 / 1e6,
                bytes(&hour_blobs) as f64 / hour_blobs.len() as f64,
                day_blobs.len(),
                bytes(&day_blobs) as f64 / 1e6,
                bytes(&day_blobs) as f64 / day_blobs.len() as f64,
                secs(build)
            );
            println!(
                "  from rollups: cover() = {days} day rollups per route, decoded + merged {:>9.2} ms",
                secs(best_days) * 1e3
            );
            println!(
                "  exact, raw rows scanned + sorted                                  {:>9.2} ms = {ratio_sort:.0} x slower (target >= 100)",
                secs(best_sort) * 1e3
            );
            println!(
                "  exact, raw rows scanned + selected                                {:>9.2} ms = {ratio_select:.0} x slower",
                secs(best_select) * 1e3
            );
            println!(
                "  for comparison: all {hours} hour rollups per route, decoded + merged  {:>9.2} ms = {ratio_hours:.1} x faster than sorting",
                secs(best_hours) * 1e3
            );
            println!(
                "  p95 relative error from day rollups: max {:.3}%, mean {:.3}%; from hour rollups: max {:.3}% (target <= 1%)",
                worst * 100.0,
                mean * 100.0,
                worst_hours * 100.0
            );
        }
    }
    Ok(if ok { 0 } else { 1 })
}
