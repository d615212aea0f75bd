//! Throughput of ingest on deterministic NDJSON performance records (the hot path of
//! `POST /v1/ingest/performance`): parse + validate, + guard, and the whole path into a fresh
//! SQLite store next to a plain batched INSERT of the same rows (`tokpulse bench ingest` in the
//! binary reports the same comparison with the binary's own data).
//!
//! ```text
//! cargo bench -p tokpulse-ingest --bench ingest
//! ```
//!
//! Prints records/s and MB/s for each stage, best of several rounds. No timing is asserted. An
//! argument runs only the stages whose name contains it (`cargo bench … -- guard`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokpulse_core::RecordKind;
use tokpulse_guard::{Guard, GuardConfig};
use tokpulse_ingest::{Format, Ingestor, ParsedBatch, parse};
use tokpulse_store::{SqliteStore, Store};

/// A small deterministic generator (64-bit LCG), so every run sees the same body.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// `n` NDJSON performance records; one in four has attributes, one in fifty an email in them.
fn body(n: usize) -> String {
    let mut rng = Lcg(42);
    let routes = [
        "/",
        "/cart",
        "/api/users/:id",
        "/api/orders",
        "/checkout",
        "/search",
    ];
    let services = ["web", "api", "checkout-api", "mobile-gw"];
    let methods = ["GET", "GET", "GET", "POST", "put"];
    let platforms = ["web", "api", "mobile", "worker"];
    let mut s = String::with_capacity(n * 260);
    let t0: u64 = 1_714_564_800_000;
    for i in 0..n {
        let status = if rng.next().is_multiple_of(20) {
            503
        } else {
            200
        };
        let attributes = match i % 50 {
            0 => r#","attributes":{"user":"jane.roe@corp.io","region":"eu-west-1"}"#,
            k if k % 4 == 0 => {
                r#","attributes":{"region":"eu-west-1","ua":"Mozilla/5.0 (X11; Linux x86_64)","cache":"miss"}"#
            }
            _ => "",
        };
        s.push_str(&format!(
            r#"{{"id":"{:016x}-{i}","timestamp":{},"service":"{}","route":"{}","method":"{}","status_code":{status},"duration_ms":{:.3},"environment":"production","platform":"{}"{attributes}}}"#,
            rng.next(),
            t0 + i as u64 * 37,
            rng.pick(&services),
            rng.pick(&routes),
            rng.pick(&methods),
            (rng.next() % 200_000) as f64 / 100.0,
            rng.pick(&platforms),
        ));
        s.push('\n');
    }
    s
}

fn best_of(rounds: usize, mut f: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn report(name: &str, records: usize, bytes: usize, d: Duration) {
    let s = d.as_secs_f64();
    println!(
        "{name:<28} {:>10.0} records/s {:>8.1} MB/s  ({records} records in {:.2} ms)",
        records as f64 / s,
        bytes as f64 / s / 1e6,
        s * 1e3
    );
}

fn main() {
    const N: usize = 10_000;
    // `cargo bench` passes `--bench`; any other argument filters the stages.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let body = body(N);
    let json = format!("[{}]", body.trim_end().replace('\n', ","));
    let guard = Guard::new(&GuardConfig::default());
    let parse_perf = |format, body: &str| {
        parse(RecordKind::Performance, format, black_box(body.as_bytes()))
            .expect("the generated body is valid")
    };

    let parsed = parse_perf(Format::Ndjson, &body);
    assert_eq!((parsed.batch.len(), parsed.rejected.len()), (N, 0));

    let stage = "ndjson: parse + validate";
    if run(stage) {
        let d = best_of(10, || drop(black_box(parse_perf(Format::Ndjson, &body))));
        report(stage, N, body.len(), d);
    }

    let stage = "ndjson: parse + validate + guard";
    if run(stage) {
        let d = best_of(10, || {
            if let ParsedBatch::Performance(v) = parse_perf(Format::Ndjson, &body).batch {
                let guarded: Vec<_> = v
                    .into_iter()
                    .filter_map(|(_, r)| guard.guard(r).ok())
                    .collect();
                black_box(guarded);
            }
        });
        report(stage, N, body.len(), d);
    }

    let stage = "sqlite: plain INSERT vs ingest";
    if run(stage) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(sqlite(&body, &guard));
    }

    let stage = "json array: parse + validate";
    if run(stage) {
        let d = best_of(10, || drop(black_box(parse_perf(Format::Json, &json))));
        report(stage, N, json.len(), d);
    }
}

/// Plain batched INSERT of the parsed rows (1000 rows per statement, one transaction per
/// 10 000-record body) against `Ingestor::ingest` of the NDJSON body, each on a fresh database.
async fn sqlite(body: &str, guard: &Guard) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let parsed = parse(RecordKind::Performance, Format::Ndjson, body.as_bytes()).expect("valid");
    let ParsedBatch::Performance(rows) = parsed.batch else {
        unreachable!("parsed as performance")
    };
    let n = rows.len();
    let mut best_plain = Duration::MAX;
    let mut best_ingest = Duration::MAX;
    for round in 0..3 {
        let store = SqliteStore::open(&dir.path().join(format!("plain-{round}")))
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        let t = Instant::now();
        let mut tx = store.pool().begin().await.expect("begin");
        for chunk in rows.chunks(1000) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO performance_metrics (record_id, ts, service, method, route, \
                 status_code, duration_ms, environment, platform, attributes) ",
            );
            q.push_values(chunk, |mut b, (_, r)| {
                b.push_bind(r.id.as_str())
                    .push_bind(r.timestamp.timestamp_millis())
                    .push_bind(r.service.as_str())
                    .push_bind(r.method.as_str())
                    .push_bind(r.route.as_str())
                    .push_bind(i64::from(r.status_code))
                    .push_bind(r.duration_ms)
                    .push_bind(r.environment.as_str())
                    .push_bind(r.platform.map(|p| p.as_str()))
                    .push_bind(serde_json::to_string(&r.attributes).expect("JSON"));
            });
            q.build().execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
        best_plain = best_plain.min(t.elapsed());
        store.close().await;

        let store = SqliteStore::open(&dir.path().join(format!("ingest-{round}")))
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        let store = Arc::new(store);
        let ingestor = Ingestor::new(Arc::new(guard.clone()), store.clone());
        let t = Instant::now();
        let report = ingestor
            .ingest(RecordKind::Performance, Format::Ndjson, body.as_bytes())
            .await
            .expect("ingest");
        best_ingest = best_ingest.min(t.elapsed());
        assert_eq!(report.accepted as usize, n);
        store.close().await;
    }
    report("sqlite: plain batched INSERT", n, body.len(), best_plain);
    report("sqlite: ingest (whole path)", n, body.len(), best_ingest);
    println!(
        "ingest / plain INSERT = {:.2} (target >= 0.50)",
        best_plain.as_secs_f64() / best_ingest.as_secs_f64()
    );
}
