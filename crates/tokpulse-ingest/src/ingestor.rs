//! [`Ingestor`]: parse → validate → guard → store, and the [`IngestReport`] a client gets.

use crate::body::Format;
use crate::error::IngestError;
use crate::parse::{Parsed, ParsedBatch, Rejection, parse};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use tokpulse_core::{
    AiUsageRecord, DeployEvent, LogRecord, PerformanceRecord, RecordId, RecordKind, Timestamp,
};
use tokpulse_guard::{Guard, Guarded, Scrub};
use tokpulse_store::{Batch, BlockedRecord, Store};

/// How far ahead of the ingestor's clock a record's timestamp may be (clock skew): one day.
pub const MAX_FUTURE: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// What became of a batch, returned only once the accepted records are committed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IngestReport {
    /// Records written by this call.
    pub accepted: u64,
    /// Records not written again because their id was already stored, or appeared earlier in
    /// the same batch. Retrying a batch is safe: it only moves records from `accepted` to here.
    pub duplicates: u64,
    /// Records refused, in index order, each naming its field and why.
    pub rejected: Vec<Rejection>,
}

impl IngestReport {
    /// Adds `other`'s counts and rejections to this one (for a file stored in chunks whose
    /// indices were shifted with [`Parsed::offset_indices`]).
    pub fn merge(&mut self, other: IngestReport) {
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.rejected.extend(other.rejected);
    }
}

/// The clock the ingestor checks "not in the future" against.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Sets an AI usage record's `cost_usd` before it is stored: the binary prices each call with
/// the dated catalog (`None` for a model the catalog does not know, never zero).
pub type Pricer = Arc<dyn Fn(&mut AiUsageRecord) + Send + Sync>;

/// Takes bodies or parsed records through the privacy guard into the store. Cheap to clone.
#[derive(Clone)]
pub struct Ingestor {
    guard: Arc<Guard>,
    store: Arc<dyn Store>,
    clock: Clock,
    pricer: Option<Pricer>,
}

impl fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ingestor")
            .field("store", &self.store.backend())
            .finish_non_exhaustive()
    }
}

impl Ingestor {
    /// An ingestor that guards with `guard`, writes to `store` and reads the system clock.
    pub fn new(guard: Arc<Guard>, store: Arc<dyn Store>) -> Self {
        Ingestor {
            guard,
            store,
            clock: Arc::new(chrono::Utc::now),
            pricer: None,
        }
    }

    /// The same ingestor, pricing each AI usage record with `pricer` before it is guarded
    /// and stored.
    pub fn with_pricer(mut self, pricer: Pricer) -> Self {
        self.pricer = Some(pricer);
        self
    }

    /// The same ingestor with another clock (tests, replays of old data).
    pub fn with_clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Parses, validates and guards a decoded body (see [`decode_body`](crate::decode_body) and
    /// [`Format::detect`]), then writes the good records in one store transaction.
    ///
    /// A record that fails validation, lies more than [`MAX_FUTURE`] ahead, or holds something
    /// the privacy policy blocks becomes a [`Rejection`] (a blocked one names the field and the
    /// entity type, never the value); the rest are stored. Returns only after the commit; an
    /// error means nothing of the batch is acknowledged and the client may retry it as is.
    pub async fn ingest(
        &self,
        kind: RecordKind,
        format: Format,
        body: &[u8],
    ) -> Result<IngestReport, IngestError> {
        let parsed = off_the_reactor(body.len() > HEAVY_BODY_BYTES, || parse(kind, format, body))?;
        self.store_parsed(parsed).await
    }

    /// Like [`ingest`](Self::ingest), from records already [`parse`]d (the CLI parses a large
    /// file in chunks and stores each).
    pub async fn store_parsed(&self, parsed: Parsed) -> Result<IngestReport, IngestError> {
        let Parsed {
            batch,
            mut rejected,
            ..
        } = parsed;
        let latest = (self.clock)() + MAX_FUTURE;
        let mut repeated = 0u64;
        let mut blocked = Vec::new();
        let heavy = batch.len() > HEAVY_BATCH_RECORDS;
        let batch = off_the_reactor(heavy, || {
            let mut screen = Screen {
                guard: &self.guard,
                latest,
                rejected: &mut rejected,
                repeated: &mut repeated,
                blocked: &mut blocked,
            };
            match batch {
                ParsedBatch::Performance(v) => Batch::Performance(screen.run(v)),
                ParsedBatch::AiUsage(mut v) => {
                    if let Some(price) = &self.pricer {
                        v.iter_mut().for_each(|(_, r)| price(r));
                    }
                    Batch::AiUsage(screen.run(v))
                }
                ParsedBatch::Logs(v) => Batch::Logs(screen.run(v)),
                ParsedBatch::Deploys(v) => Batch::Deploys(screen.run(v)),
            }
        });
        rejected.sort_by_key(|r| r.index);
        let mut report = IngestReport {
            accepted: 0,
            duplicates: repeated,
            rejected,
        };
        if !batch.is_empty() {
            let outcome = self.store.insert_batch(&batch).await?;
            report.accepted = outcome.inserted;
            report.duplicates += outcome.duplicates;
        }
        if !blocked.is_empty() {
            // After the batch: if this fails the client retries, and the store counts each
            // blocked id once.
            self.store.record_blocked(batch.kind(), &blocked).await?;
        }
        Ok(report)
    }

    /// The guard and the time now by the ingestor's clock (for [`Ingestor::ingest_ci`]).
    pub(crate) fn guard_and_now(&self) -> (&Guard, Timestamp) {
        (&self.guard, (self.clock)())
    }

    /// The store this ingestor writes to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// Bodies larger than this are parsed with [`off_the_reactor`] (about 300 records: 0.5 ms).
const HEAVY_BODY_BYTES: usize = 64 * 1024;
/// Batches larger than this are guarded with [`off_the_reactor`].
const HEAVY_BATCH_RECORDS: usize = 256;

/// Runs `f`, CPU-bound work of some milliseconds when `heavy`, without stalling the other tasks
/// of a multi-threaded tokio runtime: `block_in_place` hands this worker's queue to another
/// thread meanwhile. Light work, and work on any other executor, runs as it is.
fn off_the_reactor<T>(heavy: bool, f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi_thread =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if heavy && multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// What the ingestor needs of every record type.
trait Record: Scrub {
    fn id(&self) -> &RecordId;
    fn timestamp(&self) -> Timestamp;
}

macro_rules! record {
    ($($t:ty),*) => {$(
        impl Record for $t {
            fn id(&self) -> &RecordId {
                &self.id
            }
            fn timestamp(&self) -> Timestamp {
                self.timestamp
            }
        }
    )*};
}
record!(PerformanceRecord, AiUsageRecord, LogRecord, DeployEvent);

/// The checks between parsing and the store: not in the future, through the guard, once per id.
struct Screen<'a> {
    guard: &'a Guard,
    latest: Timestamp,
    rejected: &'a mut Vec<Rejection>,
    repeated: &'a mut u64,
    /// Records the privacy policy refused, for the audit.
    blocked: &'a mut Vec<BlockedRecord>,
}

impl Screen<'_> {
    fn run<R: Record>(&mut self, records: Vec<(usize, R)>) -> Vec<Guarded<R>> {
        let mut out = Vec::with_capacity(records.len());
        for (index, record) in records {
            if record.timestamp() > self.latest {
                self.rejected.push(Rejection {
                    index,
                    field: "timestamp".into(),
                    reason: format!(
                        "{} is more than a day in the future",
                        record
                            .timestamp()
                            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                    ),
                });
                continue;
            }
            let (id, timestamp) = (record.id().clone(), record.timestamp());
            match self.guard.guard(record) {
                Ok(g) => out.push(g),
                Err(blocked) => {
                    self.blocked.push(BlockedRecord {
                        record_id: id.as_str().to_owned(),
                        timestamp,
                        entity: blocked.entity,
                    });
                    self.rejected.push(Rejection {
                        index,
                        field: blocked.field,
                        reason: format!(
                            "contains {}, which the privacy policy blocks",
                            blocked.entity
                        ),
                    })
                }
            }
        }
        if out.len() > 1 {
            let keep: Vec<bool> = {
                let mut seen = HashSet::with_capacity(out.len());
                out.iter().map(|g| seen.insert(g.id().as_str())).collect()
            };
            let before = out.len();
            let mut keep = keep.into_iter();
            out.retain(|_| keep.next().unwrap_or(true));
            *self.repeated += (before - out.len()) as u64;
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use tokpulse_core::{Finding, FindingStatus, RequestSample, StoredFinding, Window};
    use tokpulse_guard::{Action, GuardConfig};
    use tokpulse_store::{
        ActionRow, ApiKeyRow, Backend, FindingChange, InsertOutcome, NewAction, NewApiKey,
        StoreError, Table,
    };

    /// A store that keeps records as JSON in memory, with the trait's duplicate semantics, and
    /// can be told to fail.
    #[derive(Default)]
    pub(crate) struct MemStore {
        pub rows: Mutex<HashMap<(RecordKind, String), serde_json::Value>>,
        pub batches: Mutex<usize>,
        pub fail: Mutex<bool>,
        /// Blocked (kind, id)s counted in the audit.
        pub blocked: Mutex<std::collections::HashSet<(RecordKind, String)>>,
    }

    impl MemStore {
        pub(crate) fn get(&self, kind: RecordKind, id: &str) -> Option<serde_json::Value> {
            self.rows
                .lock()
                .unwrap()
                .get(&(kind, id.to_owned()))
                .cloned()
        }
        pub(crate) fn len(&self) -> usize {
            self.rows.lock().unwrap().len()
        }
    }

    fn rows<R: Serialize + Record>(v: &[Guarded<R>]) -> Vec<(String, serde_json::Value)> {
        v.iter()
            .map(|g| (g.id().to_string(), serde_json::to_value(g.get()).unwrap()))
            .collect()
    }

    #[async_trait]
    impl Store for MemStore {
        fn backend(&self) -> Backend {
            Backend::Sqlite
        }
        async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
            Ok(vec![])
        }
        async fn insert_batch(&self, batch: &Batch) -> Result<InsertOutcome, StoreError> {
            if *self.fail.lock().unwrap() {
                return Err(StoreError::Corrupt {
                    table: "performance_metrics",
                    reason: "disk on fire".into(),
                });
            }
            *self.batches.lock().unwrap() += 1;
            let new = match batch {
                Batch::Performance(v) => rows(v),
                Batch::AiUsage(v) => rows(v),
                Batch::Logs(v) => rows(v),
                Batch::Deploys(v) => rows(v),
            };
            let mut map = self.rows.lock().unwrap();
            let mut out = InsertOutcome::default();
            for (id, row) in new {
                let key = (batch.kind(), id);
                match map.entry(key) {
                    std::collections::hash_map::Entry::Occupied(_) => out.duplicates += 1,
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(row);
                        out.inserted += 1;
                    }
                }
            }
            Ok(out)
        }
        async fn has_record(&self, kind: RecordKind, id: &str) -> Result<bool, StoreError> {
            Ok(self.get(kind, id).is_some())
        }
        async fn count(&self, _: Table) -> Result<i64, StoreError> {
            Ok(self.len() as i64)
        }
        async fn request_samples(&self, _: Window) -> Result<Vec<RequestSample>, StoreError> {
            Ok(vec![])
        }
        async fn deployments(&self, _: Window) -> Result<Vec<DeployEvent>, StoreError> {
            Ok(vec![])
        }
        async fn upsert_finding(
            &self,
            _: &Finding,
            _: Timestamp,
        ) -> Result<FindingChange, StoreError> {
            Ok(FindingChange::New { id: 1 })
        }
        async fn resolve_finding(&self, _: i64, _: Timestamp) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn findings(
            &self,
            _: Option<FindingStatus>,
            _: i64,
        ) -> Result<Vec<StoredFinding>, StoreError> {
            Ok(vec![])
        }
        async fn enqueue_action(&self, _: &NewAction) -> Result<Option<i64>, StoreError> {
            Ok(None)
        }
        async fn due_actions(
            &self,
            _: &str,
            _: Timestamp,
            _: i64,
        ) -> Result<Vec<ActionRow>, StoreError> {
            Ok(vec![])
        }
        async fn actions(&self, _: i64) -> Result<Vec<ActionRow>, StoreError> {
            Ok(vec![])
        }
        async fn mark_action_delivered(
            &self,
            _: i64,
            _: Timestamp,
            _: &str,
        ) -> Result<(), StoreError> {
            Ok(())
        }
        async fn mark_action_failed(
            &self,
            _: i64,
            _: &str,
            _: Option<Timestamp>,
        ) -> Result<(), StoreError> {
            Ok(())
        }
        async fn retry_action(&self, _: i64, _: Timestamp) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn create_api_key(&self, _: &NewApiKey) -> Result<i64, StoreError> {
            Ok(1)
        }
        async fn authenticate(
            &self,
            _: &str,
            _: Timestamp,
        ) -> Result<Option<ApiKeyRow>, StoreError> {
            Ok(None)
        }
        async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
            Ok(vec![])
        }
        async fn revoke_api_key(&self, _: i64, _: Timestamp) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn record_blocked(
            &self,
            kind: RecordKind,
            blocked: &[BlockedRecord],
        ) -> Result<u64, StoreError> {
            let mut seen = self.blocked.lock().unwrap();
            Ok(blocked
                .iter()
                .filter(|b| seen.insert((kind, b.record_id.clone())))
                .count() as u64)
        }
        async fn close(&self) {}
    }

    fn now() -> Timestamp {
        chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn ingestor(config: GuardConfig) -> (Ingestor, Arc<MemStore>) {
        let store = Arc::new(MemStore::default());
        let ing = Ingestor::new(Arc::new(Guard::new(&config)), store.clone()).with_clock(now);
        (ing, store)
    }

    fn perf(id: &str, extra: &str) -> String {
        format!(
            r#"{{"id":"{id}","timestamp":"2024-05-01T11:59:00Z","service":"web","route":"/a","status":200,"duration_ms":5{extra}}}"#
        )
    }

    #[tokio::test]
    async fn a_mixed_batch_stores_the_good_records_once() {
        let (ing, store) = ingestor(GuardConfig::default());
        let body = [
            perf("a", ""),
            perf("b", r#","duraton_ms":3"#),
            "{broken".into(),
            perf("c", r#","status":"abc""#),
            perf("d", ""),
        ]
        .join("\n");
        let report = ing
            .ingest(RecordKind::Performance, Format::Ndjson, body.as_bytes())
            .await
            .unwrap();
        assert_eq!((report.accepted, report.duplicates), (2, 0));
        let got: Vec<(usize, &str)> = report
            .rejected
            .iter()
            .map(|r| (r.index, r.field.as_str()))
            .collect();
        assert_eq!(got, [(1, "duraton_ms"), (2, ""), (3, "status_code")]);
        assert!(
            report.rejected[2]
                .reason
                .contains("duplicate field `status_code`"),
            "{:?}",
            report.rejected[2]
        );
        assert_eq!(store.len(), 2);
        assert!(store.get(RecordKind::Performance, "a").is_some());
        assert!(store.get(RecordKind::Performance, "d").is_some());
        assert_eq!(
            *store.batches.lock().unwrap(),
            1,
            "one insert_batch per body"
        );

        // The same body again: nothing new, everything good is a duplicate.
        let again = ing
            .ingest(RecordKind::Performance, Format::Ndjson, body.as_bytes())
            .await
            .unwrap();
        assert_eq!((again.accepted, again.duplicates), (0, 2));
        assert_eq!(again.rejected, report.rejected);
        assert_eq!(store.len(), 2);
    }

    #[tokio::test]
    async fn an_id_repeated_in_one_batch_is_a_duplicate() {
        let (ing, store) = ingestor(GuardConfig::default());
        let again = perf("a", "").replace(r#""/a""#, r#""/x""#);
        let body = format!("[{},{},{again}]", perf("a", ""), perf("b", ""));
        let report = ing
            .ingest(RecordKind::Performance, Format::Json, body.as_bytes())
            .await
            .unwrap();
        assert_eq!((report.accepted, report.duplicates), (2, 1));
        // The first one wins.
        assert_eq!(
            store.get(RecordKind::Performance, "a").unwrap()["route"],
            "/a"
        );
    }

    #[tokio::test]
    async fn secrets_in_attributes_are_stored_redacted() {
        let (ing, store) = ingestor(GuardConfig::default());
        let body = perf(
            "s1",
            r#","attributes":{"auth":"Bearer abcdefghijklmnopqrstuvwxyz123456","user":{"email":"jane.roe@corp.io"},"note":"key sk-proj-abcdefghijklmnopqrstuvwxyz0123"}"#,
        );
        let report = ing
            .ingest(RecordKind::Performance, Format::Json, body.as_bytes())
            .await
            .unwrap();
        assert_eq!(report.accepted, 1, "{report:?}");
        let row = store
            .get(RecordKind::Performance, "s1")
            .unwrap()
            .to_string();
        assert!(!row.contains("jane.roe"), "{row}");
        assert!(!row.contains("abcdefghijklmnopqrstuvwxyz"), "{row}");
        assert!(row.contains("[EMAIL]"), "{row}");
        assert!(row.contains("[OPENAI_KEY]"), "{row}");
    }

    #[tokio::test]
    async fn a_blocked_record_is_rejected_without_its_value() {
        let (ing, store) = ingestor(GuardConfig {
            emails: Action::Block,
            ..GuardConfig::default()
        });
        let body = format!(
            "{}\n{}\n",
            perf("ok", ""),
            r#"{"id":"l2","timestamp":"2024-05-01T11:00:00Z","service":"web","route":"/a","status":200,"duration_ms":5,"attributes":{"user":{"email":"jane.roe@corp.io"}}}"#
        );
        let report = ing
            .ingest(RecordKind::Performance, Format::Ndjson, body.as_bytes())
            .await
            .unwrap();
        assert_eq!(report.accepted, 1);
        assert_eq!(report.rejected.len(), 1);
        let r = &report.rejected[0];
        assert_eq!(r.index, 1);
        assert_eq!(r.field, "attributes.user.email");
        assert_eq!(r.reason, "contains EMAIL, which the privacy policy blocks");
        let shown = serde_json::to_string(&report).unwrap();
        assert!(!shown.contains("jane"), "{shown}");
        assert!(store.get(RecordKind::Performance, "l2").is_none());
        // The audit counts the refused record once, however often the batch is retried.
        ing.ingest(RecordKind::Performance, Format::Ndjson, body.as_bytes())
            .await
            .unwrap();
        let counted = store.blocked.lock().unwrap().clone();
        assert_eq!(
            counted.into_iter().collect::<Vec<_>>(),
            [(RecordKind::Performance, "l2".to_string())]
        );
    }

    #[tokio::test]
    async fn records_from_the_future_are_rejected() {
        let (ing, _) = ingestor(GuardConfig::default());
        let body = [
            perf("now", ""),
            perf("soon", "").replace("2024-05-01T11:59:00Z", "2024-05-02T11:00:00Z"),
            perf("later", "").replace("2024-05-01T11:59:00Z", "2024-05-03T00:00:00Z"),
        ]
        .join("\n");
        let report = ing
            .ingest(RecordKind::Performance, Format::Ndjson, body.as_bytes())
            .await
            .unwrap();
        assert_eq!(report.accepted, 2);
        assert_eq!(
            report.rejected,
            [Rejection {
                index: 2,
                field: "timestamp".into(),
                reason: "2024-05-03T00:00:00Z is more than a day in the future".into()
            }]
        );
    }

    #[tokio::test]
    async fn a_store_failure_is_503_and_acknowledges_nothing() {
        let (ing, store) = ingestor(GuardConfig::default());
        *store.fail.lock().unwrap() = true;
        let e = ing
            .ingest(
                RecordKind::Performance,
                Format::Ndjson,
                perf("a", "").as_bytes(),
            )
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (503, "store_unavailable"));
        assert!(e.to_string().contains("disk on fire"), "{e}");
        *store.fail.lock().unwrap() = false;
        let r = ing
            .ingest(
                RecordKind::Performance,
                Format::Ndjson,
                perf("a", "").as_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(r.accepted, 1);
    }

    #[tokio::test]
    async fn nothing_valid_means_no_store_call() {
        let (ing, store) = ingestor(GuardConfig::default());
        let r = ing
            .ingest(RecordKind::Performance, Format::Json, b"[1, 2]")
            .await
            .unwrap();
        assert_eq!((r.accepted, r.rejected.len()), (0, 2));
        assert_eq!(*store.batches.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn gzip_csv_end_to_end() {
        use std::io::Write;
        let (ing, store) = ingestor(GuardConfig::default());
        let csv = "id,timestamp,service,level,message,attributes\n\
                   l1,2024-05-01T11:00:00Z,api,ERROR,login failed for jane@corp.io,\n\
                   l2,1714561200000,api,info,ok,\"{\"\"password\"\": \"\"hunter2hunter2\"\"}\"\n\
                   l3,1714561200000,api,loud,ok,\n";
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(csv.as_bytes()).unwrap();
        let z = z.finish().unwrap();
        let body = crate::decode_body(&z, Some("gzip"), 1 << 20).unwrap();
        let format = Format::detect(None, &body).unwrap();
        assert_eq!(format, Format::Csv);
        let r = ing.ingest(RecordKind::Logs, format, &body).await.unwrap();
        assert_eq!(r.accepted, 2, "{r:?}");
        assert_eq!(
            (r.rejected[0].index, r.rejected[0].field.as_str()),
            (2, "level")
        );
        let l1 = store.get(RecordKind::Logs, "l1").unwrap();
        assert_eq!(l1["message"], "login failed for [EMAIL]");
        assert_eq!(l1["level"], "error");
        let l2 = store.get(RecordKind::Logs, "l2").unwrap().to_string();
        assert!(!l2.contains("hunter2"), "{l2}");
    }

    /// Large bodies leave the reactor on a multi-threaded runtime; the result is the same.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_body_on_a_multi_threaded_runtime() {
        let (ing, store) = ingestor(GuardConfig::default());
        let body: String = (0..2000)
            .map(|i| perf(&format!("m{i}"), "") + "\n")
            .collect();
        assert!(body.len() > HEAVY_BODY_BYTES);
        let r = ing
            .ingest(RecordKind::Performance, Format::Ndjson, body.as_bytes())
            .await
            .unwrap();
        assert_eq!((r.accepted, r.rejected.len()), (2000, 0));
        assert_eq!(store.len(), 2000);
    }

    #[test]
    fn the_ingest_future_is_send() {
        fn send<T: Send>(_: T) {}
        let (ing, _) = ingestor(GuardConfig::default());
        send(ing.ingest(RecordKind::Performance, Format::Json, b"[]"));
        let parsed = parse(RecordKind::Logs, Format::Json, b"[]").unwrap();
        send(ing.store_parsed(parsed));
    }
}
