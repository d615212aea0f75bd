//! The privacy side of the store, shared by both backends: the audit the guard's counts become,
//! the tables a data subject's token is looked for in (forget and export), and what retention
//! deletes in each table.

use crate::{Batch, Table};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use tokpulse_core::{RecordKind, Timestamp};
use tokpulse_guard::{AuditAction, AuditCount, Entity};

/// What a forgotten token is replaced with in derived rows (findings, actions).
pub const FORGOTTEN: &str = "[FORGOTTEN]";

/// One row of the privacy audit: how many values of `entity` the guard treated with `action`
/// in records of `source` dated `day` (UTC). Never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// The records' day (their timestamp's UTC date).
    pub day: NaiveDate,
    /// The record kind (`performance`, `ai-usage`, `logs`, `deploys`).
    pub source: String,
    /// The entity type (`EMAIL`).
    pub entity: String,
    /// `redacted`, `hashed` or `blocked`.
    pub action: String,
    /// How many values (for `blocked`: records).
    pub count: i64,
}

/// A record the guard refused, for the audit: its id (so a retried batch is not counted
/// twice), its time and the entity type that blocked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedRecord {
    /// The client's record id.
    pub record_id: String,
    /// The record's timestamp.
    pub timestamp: Timestamp,
    /// What the policy blocks.
    pub entity: Entity,
}

/// What a forget request did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableOutcome {
    /// The table.
    pub table: String,
    /// Rows deleted (telemetry, request rollups, daily AI usage, embeddings).
    pub deleted: u64,
    /// Rows whose token was replaced by [`FORGOTTEN`] (findings, actions).
    pub anonymised: u64,
}

/// What [`Store::forget_subject`](crate::Store::forget_subject) did, per table searched
/// (telemetry tables, request and AI usage rollups, embeddings, findings, actions: always the
/// same tables in the same order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetOutcome {
    /// One entry per table searched.
    pub tables: Vec<TableOutcome>,
}

impl ForgetOutcome {
    /// Rows deleted in all tables.
    pub fn deleted(&self) -> u64 {
        self.tables.iter().map(|t| t.deleted).sum()
    }

    /// Rows anonymised in all tables.
    pub fn anonymised(&self) -> u64 {
        self.tables.iter().map(|t| t.anonymised).sum()
    }
}

/// Every stored row containing a token, as JSON objects grouped by table (tables with no such
/// row are present with an empty list). Timestamps are RFC 3339, days `YYYY-MM-DD`; embeddings
/// and latency sketches are left out.
pub type SubjectRows = BTreeMap<String, Vec<serde_json::Value>>;

/// The kind of a data-subject request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Erasure.
    Forget,
    /// Access (a copy of the data).
    Export,
}

impl RequestKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Forget => "forget",
            RequestKind::Export => "export",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<RequestKind, crate::StoreError> {
        match s {
            "forget" => Ok(RequestKind::Forget),
            "export" => Ok(RequestKind::Export),
            other => Err(crate::StoreError::Corrupt {
                table: "privacy_requests",
                reason: format!("unknown kind {other:?}"),
            }),
        }
    }
}

/// A data-subject request as recorded in `privacy_requests`, kept for compliance: the token,
/// never the value it stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyRequest {
    /// Row id.
    pub id: i64,
    /// Forget or export.
    pub kind: RequestKind,
    /// The person's token (`[EMAIL:3f2a9c1d5e6b7a80]`).
    pub token: String,
    /// Per table: rows deleted and anonymised (forget) or exported (export).
    pub counts: serde_json::Value,
    /// When it was carried out.
    pub at: Timestamp,
}

/// What happens to a row that holds a forgotten token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Telemetry about the person, rollups keyed by it, and embeddings of it: removed.
    Delete,
    /// Derived rows other rows depend on: the token is replaced by [`FORGOTTEN`].
    Anonymise,
}

/// How a column is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    /// As it is (text, number).
    Plain,
    /// A timestamp (SQLite: unix ms).
    Time,
    /// A calendar day (SQLite: `YYYY-MM-DD` text, PostgreSQL: `date`), exported as
    /// `YYYY-MM-DD`.
    Date,
    /// A JSON document (SQLite: text).
    Json,
    /// A boolean (SQLite: 0/1).
    Bool,
}

/// A table that can hold free text, hence tokens.
pub(crate) struct SubjectTable {
    pub table: Table,
    /// Every exported column.
    pub columns: &'static [(&'static str, Col)],
    /// Columns searched for the token (and rewritten when anonymising).
    pub searched: &'static [&'static str],
    /// The export's `ORDER BY`: the row id, or the key of a table without one.
    pub order_by: &'static str,
    pub fate: Fate,
}

impl SubjectTable {
    /// Whether `column` holds JSON.
    pub fn is_json(&self, column: &str) -> bool {
        self.columns
            .iter()
            .any(|(c, k)| *c == column && *k == Col::Json)
    }
}

use Col::{Bool, Date, Json, Plain, Time};

/// Every table with free text, in the order receipts list them.
pub(crate) const SUBJECT_TABLES: &[SubjectTable] = &[
    SubjectTable {
        table: Table::PerformanceMetrics,
        columns: &[
            ("id", Plain),
            ("record_id", Plain),
            ("ts", Time),
            ("service", Plain),
            ("method", Plain),
            ("route", Plain),
            ("status_code", Plain),
            ("duration_ms", Plain),
            ("environment", Plain),
            ("platform", Plain),
            ("attributes", Json),
        ],
        searched: &["route", "attributes"],
        order_by: "id",
        fate: Fate::Delete,
    },
    SubjectTable {
        table: Table::ApplicationLogs,
        columns: &[
            ("id", Plain),
            ("record_id", Plain),
            ("ts", Time),
            ("service", Plain),
            ("level", Plain),
            ("message", Plain),
            ("route", Plain),
            ("trace_id", Plain),
            ("attributes", Json),
        ],
        searched: &["message", "route", "attributes"],
        order_by: "id",
        fate: Fate::Delete,
    },
    SubjectTable {
        table: Table::AiUsageMetrics,
        columns: &[
            ("id", Plain),
            ("record_id", Plain),
            ("ts", Time),
            ("service", Plain),
            ("feature", Plain),
            ("provider", Plain),
            ("model", Plain),
            ("prompt_tokens", Plain),
            ("completion_tokens", Plain),
            ("latency_ms", Plain),
            ("success", Bool),
            ("error_message", Plain),
            ("cost_usd", Plain),
            ("attributes", Json),
        ],
        searched: &["error_message", "attributes"],
        order_by: "id",
        fate: Fate::Delete,
    },
    SubjectTable {
        table: Table::Deployments,
        columns: &[
            ("id", Plain),
            ("record_id", Plain),
            ("ts", Time),
            ("service", Plain),
            ("environment", Plain),
            ("version", Plain),
            ("commit_sha", Plain),
            ("author", Plain),
            ("description", Plain),
        ],
        searched: &["author", "description"],
        order_by: "id",
        fate: Fate::Delete,
    },
    SubjectTable {
        table: Table::RequestRollups,
        // The latency sketch is left out: numbers about latencies in tokpulse-analyze's byte
        // format, not readable data about the person.
        columns: &[
            ("service", Plain),
            ("route", Plain),
            ("resolution", Plain),
            ("bucket_start", Time),
            ("requests", Plain),
            ("errors", Plain),
        ],
        // A route not templated by the client (`/users/[EMAIL:…]/orders`) names the person,
        // and so does every rollup row keyed by it. Deleted rather than anonymised: two routes
        // made the same by `[FORGOTTEN]` would collide on the key.
        searched: &["route"],
        order_by: "service, route, resolution, bucket_start",
        fate: Fate::Delete,
    },
    SubjectTable {
        table: Table::AiUsageDaily,
        columns: &[
            ("day", Date),
            ("service", Plain),
            ("feature", Plain),
            ("model", Plain),
            ("route", Plain),
            ("calls", Plain),
            ("failed_calls", Plain),
            ("prompt_tokens", Plain),
            ("cached_prompt_tokens", Plain),
            ("completion_tokens", Plain),
        ],
        // The calls' route, as for request rollups; a feature is an app's label but may carry
        // a token as well.
        searched: &["route", "feature"],
        order_by: "day, service, feature, model, route",
        fate: Fate::Delete,
    },
    SubjectTable {
        table: Table::AiEmbeddings,
        columns: &[
            ("id", Plain),
            ("source_table", Plain),
            ("source_id", Plain),
            ("content", Plain),
            ("model", Plain),
            ("created_at", Time),
        ],
        searched: &["content"],
        order_by: "id",
        fate: Fate::Delete,
    },
    SubjectTable {
        table: Table::Findings,
        columns: &[
            ("id", Plain),
            ("fingerprint", Plain),
            ("kind", Plain),
            ("severity", Plain),
            ("status", Plain),
            ("title", Plain),
            ("service", Plain),
            ("route", Plain),
            ("window_start", Time),
            ("window_end", Time),
            ("evidence", Json),
            ("cause", Json),
            ("suggestion", Plain),
            ("first_seen", Time),
            ("last_seen", Time),
            ("occurrences", Plain),
            ("resolved_at", Time),
        ],
        searched: &["title", "route", "evidence", "cause", "suggestion"],
        order_by: "id",
        fate: Fate::Anonymise,
    },
    SubjectTable {
        table: Table::Actions,
        columns: &[
            ("id", Plain),
            ("finding_id", Plain),
            ("sink", Plain),
            ("kind", Plain),
            ("idempotency_key", Plain),
            ("payload", Json),
            ("status", Plain),
            ("attempts", Plain),
            ("last_error", Plain),
            ("created_at", Time),
            ("next_attempt_at", Time),
            ("delivered_at", Time),
            ("external_ref", Plain),
        ],
        searched: &["payload", "last_error", "external_ref"],
        order_by: "id",
        fate: Fate::Anonymise,
    },
];

/// Checks a token's shape (`[TYPE:hex]`), so that what is searched for and replaced is never
/// arbitrary text.
pub(crate) fn check_token(token: &str) -> Result<(), crate::StoreError> {
    let ok = token
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.split_once(':'))
        .is_some_and(|(ty, hex)| {
            Entity::parse(ty).is_some()
                && hex.len() >= 8
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
    if ok {
        Ok(())
    } else {
        Err(crate::StoreError::InvalidArgument(format!(
            "not a hash token: {token:?}"
        )))
    }
}

/// Which rows retention may delete in `table`: the column compared with the cutoff and an
/// extra condition. `None`: the table is not subject to retention.
pub(crate) fn retention_rule(table: Table) -> Option<(&'static str, &'static str)> {
    Some(match table {
        Table::PerformanceMetrics | Table::ApplicationLogs | Table::Deployments => ("ts", "TRUE"),
        // A call not yet counted in `ai_usage_daily` would be lost from the cost history.
        Table::AiUsageMetrics => ("ts", "rolled_up"),
        Table::AiHealthMetrics => ("window_end", "TRUE"),
        Table::CostPredictions | Table::AiEmbeddings => ("created_at", "TRUE"),
        // Open findings are still happening; their actions go with them (ON DELETE CASCADE).
        Table::Findings => ("last_seen", "status = 'resolved'"),
        // Pending actions are still to be delivered.
        Table::Actions => ("created_at", "status <> 'pending'"),
        Table::PrivacyAudit | Table::PrivacyBlocked => ("day", "TRUE"),
        Table::PrivacyRequests => ("at", "TRUE"),
        Table::RequestRollups => ("bucket_start", "TRUE"),
        Table::CiRuns | Table::CiJobs => ("ts", "TRUE"),
        Table::DetectorState => ("updated_at", "TRUE"),
        // A run still going is the scheduler's claim on its slot.
        Table::JobRuns => ("started_at", "status <> 'running'"),
        Table::WebhookDeliveries => ("received_at", "TRUE"),
        Table::InfraUsage => ("period_start", "TRUE"),
        Table::AiUsageDaily => ("day", "TRUE"),
        Table::ApiKeys => return None,
    })
}

/// One guarded record's audit: its id, day and counts.
pub(crate) struct RecordAudit<'a> {
    pub id: &'a str,
    pub day: NaiveDate,
    pub counts: &'a [AuditCount],
}

/// The audit of each record of `batch`, or `None` when no record has anything to count (the
/// common case, which then costs nothing).
pub(crate) fn batch_audit(batch: &Batch) -> Option<Vec<RecordAudit<'_>>> {
    fn collect<'a, R>(
        rows: &'a [tokpulse_guard::Guarded<R>],
        id: impl Fn(&'a R) -> &'a str,
        ts: impl Fn(&R) -> Timestamp,
    ) -> Option<Vec<RecordAudit<'a>>> {
        if rows.iter().all(|g| g.audit().is_empty()) {
            return None;
        }
        Some(
            rows.iter()
                .map(|g| RecordAudit {
                    id: id(g.get()),
                    day: ts(g.get()).date_naive(),
                    counts: g.audit(),
                })
                .collect(),
        )
    }
    match batch {
        Batch::Performance(v) => collect(v, |r| r.id.as_str(), |r| r.timestamp),
        Batch::AiUsage(v) => collect(v, |r| r.id.as_str(), |r| r.timestamp),
        Batch::Logs(v) => collect(v, |r| r.id.as_str(), |r| r.timestamp),
        Batch::Deploys(v) => collect(v, |r| r.id.as_str(), |r| r.timestamp),
    }
}

/// The distinct ids of the records that have something to count.
pub(crate) fn audited_ids<'a>(records: &[RecordAudit<'a>]) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    records
        .iter()
        .filter(|r| !r.counts.is_empty() && seen.insert(r.id))
        .map(|r| r.id)
        .collect()
}

/// Sums the counts of the records that were written, per (day, entity, action): a record
/// counts if its id is in `inserted` and it is the first record with that id in the batch
/// (the one `ON CONFLICT DO NOTHING` keeps).
pub(crate) fn tally(
    records: &[RecordAudit<'_>],
    inserted: &HashSet<&str>,
) -> Vec<(NaiveDate, Entity, AuditAction, i64)> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(records.len());
    let mut sums: HashMap<(NaiveDate, Entity, AuditAction), i64> = HashMap::new();
    for r in records {
        if !seen.insert(r.id) || r.counts.is_empty() || !inserted.contains(r.id) {
            continue;
        }
        for c in r.counts {
            *sums.entry((r.day, c.entity, c.action)).or_default() += i64::from(c.count);
        }
    }
    let mut out: Vec<_> = sums
        .into_iter()
        .map(|((d, e, a), n)| (d, e, a, n))
        .collect();
    out.sort_unstable();
    out
}

/// The source name of `kind` in the audit.
pub(crate) fn source(kind: RecordKind) -> &'static str {
    kind.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked() {
        assert!(check_token("[EMAIL:3f2a9c1d5e6b7a80]").is_ok());
        assert!(check_token("[US_SSN:3f2a9c1d5e6b7a80]").is_ok());
        for bad in [
            "jane@corp.io",
            "[EMAIL]",
            "[NOPE:3f2a9c1d5e6b7a80]",
            "[EMAIL:zz%]",
        ] {
            assert!(check_token(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_table_has_a_retention_rule_but_api_keys() {
        for t in Table::ALL {
            assert_eq!(
                retention_rule(t).is_none(),
                t == Table::ApiKeys,
                "{}",
                t.name()
            );
        }
    }
}
