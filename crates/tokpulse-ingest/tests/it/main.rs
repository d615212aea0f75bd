//! Ingest through the real SQLite store: what a client gets back is what is on disk.
// A test binary: its helpers may unwrap like the tests do.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::Arc;
use tokpulse_core::{RecordKind, Timestamp, Window};
use tokpulse_guard::{Action, Guard, GuardConfig};
use tokpulse_ingest::{Format, IngestReport, Ingestor, decode_body};
use tokpulse_store::{SqliteStore, Store, Table};

/// A fresh migrated store in a temporary directory, and an ingestor over it whose clock reads
/// 2024-05-01T12:00:00Z.
struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    ingestor: Ingestor,
}

fn now() -> Timestamp {
    ts("2024-05-01T12:00:00Z")
}

fn ts(s: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

async fn fixture(config: GuardConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    store.migrate().await.unwrap();
    let ingestor = Ingestor::new(
        Arc::new(Guard::new(&config)),
        store.clone() as Arc<dyn Store>,
    )
    .with_clock(now);
    Fixture {
        _dir: dir,
        store,
        ingestor,
    }
}

impl Fixture {
    async fn ingest(&self, kind: RecordKind, format: Format, body: &str) -> IngestReport {
        self.ingestor
            .ingest(kind, format, body.as_bytes())
            .await
            .unwrap()
    }

    async fn count(&self, table: Table) -> i64 {
        self.store.count(table).await.unwrap()
    }

    async fn attributes(&self, id: &str) -> String {
        sqlx::query_scalar::<_, String>(
            "SELECT attributes FROM performance_metrics WHERE record_id = ?",
        )
        .bind(id)
        .fetch_one(self.store.pool())
        .await
        .unwrap()
    }
}

fn perf(id: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","timestamp":"2024-05-01T11:00:00Z","service":"web","route":"/cart","status":200,"duration_ms":12.5{extra}}}"#
    )
}

#[tokio::test]
async fn a_mixed_batch_is_stored_once_and_a_retry_is_all_duplicates() {
    let f = fixture(GuardConfig::default()).await;
    let body = [
        perf("a", ""),
        perf("b", r#","duraton_ms":3"#),
        "{not json".to_owned(),
        String::new(),
        perf("c", r#","status":"abc""#),
        perf("d", r#","method":"post","platform":"mobile""#),
        perf("a", ""),
    ]
    .join("\n");
    let report = f
        .ingest(RecordKind::Performance, Format::Ndjson, &body)
        .await;
    assert_eq!((report.accepted, report.duplicates), (2, 1), "{report:?}");
    let rejected: Vec<_> = report
        .rejected
        .iter()
        .map(|r| (r.index, r.field.as_str()))
        .collect();
    // The blank line is not counted: "c" is index 3.
    assert_eq!(rejected, [(1, "duraton_ms"), (2, ""), (3, "status_code")]);
    assert_eq!(f.count(Table::PerformanceMetrics).await, 2);
    assert!(
        f.store
            .has_record(RecordKind::Performance, "d")
            .await
            .unwrap()
    );

    let again = f
        .ingest(RecordKind::Performance, Format::Ndjson, &body)
        .await;
    assert_eq!((again.accepted, again.duplicates), (0, 3), "{again:?}");
    assert_eq!(f.count(Table::PerformanceMetrics).await, 2);

    let window = Window {
        start: ts("2024-05-01T00:00:00Z"),
        end: ts("2024-05-02T00:00:00Z"),
    };
    let samples = f.store.request_samples(window).await.unwrap();
    assert_eq!(samples.len(), 2);
}

#[tokio::test]
async fn secrets_and_emails_are_redacted_on_disk() {
    let f = fixture(GuardConfig::default()).await;
    let body = perf(
        "s1",
        r#","route":"/users/jane.roe@corp.io","attributes":{"authorization":"Bearer abcdefghijklmnopqrstuvwxyz0123456789","token":"ghp_abcdefghijklmnopqrstuvwxyz0123456789","nested":{"to":"bob@corp.io"}}"#,
    )
    .replace(r#""route":"/cart","#, "");
    let report = f.ingest(RecordKind::Performance, Format::Json, &body).await;
    assert_eq!(report.accepted, 1, "{report:?}");
    let attributes = f.attributes("s1").await;
    assert!(
        !attributes.contains("abcdefghijklmnopqrstuvwxyz"),
        "{attributes}"
    );
    assert!(!attributes.contains("bob@"), "{attributes}");
    assert!(attributes.contains("[EMAIL]"), "{attributes}");
    let window = Window {
        start: ts("2024-05-01T00:00:00Z"),
        end: ts("2024-05-02T00:00:00Z"),
    };
    let route = &f.store.request_samples(window).await.unwrap()[0].route;
    assert!(!route.contains("jane"), "{route}");
}

#[tokio::test]
async fn a_blocked_record_is_refused_and_not_stored() {
    let f = fixture(GuardConfig {
        emails: Action::Block,
        ..GuardConfig::default()
    })
    .await;
    let body = format!(
        "[{}, {}]",
        perf("ok", ""),
        perf("no", r#","attributes":{"user":"jane.roe@corp.io"}"#)
    );
    let report = f.ingest(RecordKind::Performance, Format::Json, &body).await;
    assert_eq!(report.accepted, 1);
    let r = &report.rejected[0];
    assert_eq!((r.index, r.field.as_str()), (1, "attributes.user"));
    assert_eq!(r.reason, "contains EMAIL, which the privacy policy blocks");
    assert!(!serde_json::to_string(&report).unwrap().contains("jane"));
    assert!(
        !f.store
            .has_record(RecordKind::Performance, "no")
            .await
            .unwrap()
    );
    // The audit counts the refused record, once however often the batch is retried.
    f.ingest(RecordKind::Performance, Format::Json, &body).await;
    let audit = f.store.privacy_audit(chrono::NaiveDate::MIN).await.unwrap();
    let blocked: Vec<(&str, &str, &str, i64)> = audit
        .iter()
        .map(|r| {
            (
                r.source.as_str(),
                r.entity.as_str(),
                r.action.as_str(),
                r.count,
            )
        })
        .collect();
    assert_eq!(blocked, [("performance", "EMAIL", "blocked", 1)]);
}

#[tokio::test]
async fn every_kind_and_format_reaches_its_table() {
    let f = fixture(GuardConfig::default()).await;
    let r = f
        .ingest(
            RecordKind::AiUsage,
            Format::Csv,
            "id,timestamp,service,model,prompt_tokens,completion_tokens,success,cost_usd\n\
             u1,2024-05-01T11:00:00Z,search,gpt-4o-mini,120,30,true,0.0004\n\
             u2,1714561200000,search,gpt-4o-mini,80,,0,\n",
        )
        .await;
    assert_eq!(r.accepted, 2, "{r:?}");
    let r = f
        .ingest(
            RecordKind::Logs,
            Format::Ndjson,
            r#"{"id":"l1","timestamp":"2024-05-01T11:00:00Z","service":"api","level":"ERROR","message":"payment failed for jane@corp.io","trace_id":"4bf92f3577b34da6"}"#,
        )
        .await;
    assert_eq!(r.accepted, 1, "{r:?}");
    let r = f
        .ingest(
            RecordKind::Deploys,
            Format::Json,
            r#"{"id":"dep-1","timestamp":"2024-05-01T10:00:00Z","service":"api","version":"v1.4.0","commit_sha":"9fceb02","author":"jane@corp.io"}"#,
        )
        .await;
    assert_eq!(r.accepted, 1, "{r:?}");
    assert_eq!(f.count(Table::AiUsageMetrics).await, 2);
    assert_eq!(f.count(Table::ApplicationLogs).await, 1);
    assert_eq!(f.count(Table::Deployments).await, 1);
    let window = Window {
        start: ts("2024-05-01T00:00:00Z"),
        end: ts("2024-05-02T00:00:00Z"),
    };
    let deploys = f.store.deployments(window).await.unwrap();
    assert_eq!(deploys[0].version.as_str(), "v1.4.0");
    assert_eq!(deploys[0].author.as_deref(), Some("[EMAIL]"));
}

#[tokio::test]
async fn a_gzipped_body_detected_by_sniffing() {
    let f = fixture(GuardConfig::default()).await;
    let body: String = (0..500)
        .map(|i| perf(&format!("g{i}"), "") + "\n")
        .collect();
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(body.as_bytes()).unwrap();
    let z = z.finish().unwrap();
    let decoded = decode_body(&z, Some("gzip"), 1 << 20).unwrap();
    let format = Format::detect(Some("application/octet-stream"), &decoded).unwrap();
    assert_eq!(format, Format::Ndjson);
    let r = f
        .ingestor
        .ingest(RecordKind::Performance, format, &decoded)
        .await
        .unwrap();
    assert_eq!((r.accepted, r.rejected.len()), (500, 0));
    assert_eq!(f.count(Table::PerformanceMetrics).await, 500);
}
