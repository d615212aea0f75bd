//! Values the store takes and returns.

use serde::{Deserialize, Serialize};
use tokpulse_core::{
    AiUsageRecord, DeployEvent, LogRecord, PerformanceRecord, RecordKind, Role, Timestamp,
};
use tokpulse_guard::Guarded;

/// Which database is behind a [`Store`](crate::Store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL (or Supabase).
    Postgres,
}

/// One ingest batch: guarded records of one kind.
#[derive(Debug, Clone)]
pub enum Batch {
    /// `performance_metrics` rows.
    Performance(Vec<Guarded<PerformanceRecord>>),
    /// `ai_usage_metrics` rows.
    AiUsage(Vec<Guarded<AiUsageRecord>>),
    /// `application_logs` rows.
    Logs(Vec<Guarded<LogRecord>>),
    /// `deployments` rows.
    Deploys(Vec<Guarded<DeployEvent>>),
}

impl Batch {
    /// The kind of records it holds.
    pub fn kind(&self) -> RecordKind {
        match self {
            Batch::Performance(_) => RecordKind::Performance,
            Batch::AiUsage(_) => RecordKind::AiUsage,
            Batch::Logs(_) => RecordKind::Logs,
            Batch::Deploys(_) => RecordKind::Deploys,
        }
    }

    /// How many records.
    pub fn len(&self) -> usize {
        match self {
            Batch::Performance(v) => v.len(),
            Batch::AiUsage(v) => v.len(),
            Batch::Logs(v) => v.len(),
            Batch::Deploys(v) => v.len(),
        }
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a committed batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InsertOutcome {
    /// Rows written.
    pub inserted: u64,
    /// Records skipped because their id was already stored.
    pub duplicates: u64,
}

/// TokPulse's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Table {
    PerformanceMetrics,
    ApplicationLogs,
    AiUsageMetrics,
    AiHealthMetrics,
    CostPredictions,
    AiEmbeddings,
    Deployments,
    Findings,
    Actions,
    ApiKeys,
    PrivacyAudit,
    PrivacyBlocked,
    PrivacyRequests,
    RequestRollups,
    CiRuns,
    CiJobs,
    DetectorState,
    JobRuns,
    WebhookDeliveries,
    InfraUsage,
    AiUsageDaily,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 21] = [
        Table::PerformanceMetrics,
        Table::ApplicationLogs,
        Table::AiUsageMetrics,
        Table::AiHealthMetrics,
        Table::CostPredictions,
        Table::AiEmbeddings,
        Table::Deployments,
        Table::Findings,
        Table::Actions,
        Table::ApiKeys,
        Table::PrivacyAudit,
        Table::PrivacyBlocked,
        Table::PrivacyRequests,
        Table::RequestRollups,
        Table::CiRuns,
        Table::CiJobs,
        Table::DetectorState,
        Table::JobRuns,
        Table::WebhookDeliveries,
        Table::InfraUsage,
        Table::AiUsageDaily,
    ];

    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Table::PerformanceMetrics => "performance_metrics",
            Table::ApplicationLogs => "application_logs",
            Table::AiUsageMetrics => "ai_usage_metrics",
            Table::AiHealthMetrics => "ai_health_metrics",
            Table::CostPredictions => "cost_predictions",
            Table::AiEmbeddings => "ai_embeddings",
            Table::Deployments => "deployments",
            Table::Findings => "findings",
            Table::Actions => "actions",
            Table::ApiKeys => "api_keys",
            Table::PrivacyAudit => "privacy_audit",
            Table::PrivacyBlocked => "privacy_blocked",
            Table::PrivacyRequests => "privacy_requests",
            Table::RequestRollups => "request_rollups",
            Table::CiRuns => "ci_runs",
            Table::CiJobs => "ci_jobs",
            Table::DetectorState => "detector_state",
            Table::JobRuns => "job_runs",
            Table::WebhookDeliveries => "webhook_deliveries",
            Table::InfraUsage => "infra_usage",
            Table::AiUsageDaily => "ai_usage_daily",
        }
    }

    /// The table with this SQL name.
    pub fn parse(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The table that holds records of `kind`.
    pub fn for_kind(kind: RecordKind) -> Table {
        match kind {
            RecordKind::Performance => Table::PerformanceMetrics,
            RecordKind::AiUsage => Table::AiUsageMetrics,
            RecordKind::Logs => Table::ApplicationLogs,
            RecordKind::Deploys => Table::Deployments,
        }
    }
}

/// What [`Store::upsert_finding`](crate::Store::upsert_finding) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum FindingChange {
    /// A fingerprint not seen before: a new finding.
    New {
        /// Row id.
        id: i64,
    },
    /// The finding was open: occurrences and last seen updated.
    Updated {
        /// Row id.
        id: i64,
        /// Occurrences now.
        occurrences: i64,
    },
    /// The finding had been resolved and is happening again.
    Reopened {
        /// Row id.
        id: i64,
        /// Occurrences now.
        occurrences: i64,
    },
}

impl FindingChange {
    /// The finding's row id.
    pub fn id(self) -> i64 {
        match self {
            FindingChange::New { id }
            | FindingChange::Updated { id, .. }
            | FindingChange::Reopened { id, .. } => id,
        }
    }
}

/// Delivery state of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Waiting for (another) attempt.
    Pending,
    /// Delivered; never sent again.
    Delivered,
    /// Given up on after too many failures; `tokpulse actions retry` revives it.
    Parked,
}

impl ActionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Delivered => "delivered",
            ActionStatus::Parked => "parked",
        }
    }
}

/// An action to queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAction {
    /// The finding it is about: a stored finding's id (a foreign key; deleting the finding
    /// deletes its actions).
    pub finding_id: i64,
    /// The sink that delivers it (`outbox`, `github`…).
    pub sink: String,
    /// `open`, `update` or `resolve`.
    pub kind: String,
    /// Unique per delivery: the same key is never queued (nor delivered) twice.
    pub idempotency_key: String,
    /// What the sink needs, as JSON.
    pub payload: serde_json::Value,
    /// When it was queued (and first due).
    pub created_at: Timestamp,
}

impl NewAction {
    /// The row this action becomes when queued under `id`: pending, due at once, no attempts.
    pub fn queued_as(&self, id: i64) -> ActionRow {
        ActionRow {
            id,
            finding_id: self.finding_id,
            sink: self.sink.clone(),
            kind: self.kind.clone(),
            idempotency_key: self.idempotency_key.clone(),
            payload: self.payload.clone(),
            status: ActionStatus::Pending,
            attempts: 0,
            last_error: None,
            created_at: self.created_at,
            next_attempt_at: self.created_at,
            delivered_at: None,
            external_ref: None,
        }
    }
}

/// A queued action as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRow {
    /// Row id.
    pub id: i64,
    /// The finding it is about.
    pub finding_id: i64,
    /// The sink.
    pub sink: String,
    /// `open`, `update` or `resolve`.
    pub kind: String,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// What the sink needs.
    pub payload: serde_json::Value,
    /// Delivery state.
    pub status: ActionStatus,
    /// Attempts made so far.
    pub attempts: i64,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it is next due.
    pub next_attempt_at: Timestamp,
    /// When it was delivered.
    pub delivered_at: Option<Timestamp>,
    /// Where it landed.
    pub external_ref: Option<String>,
}

/// An API key to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// A name to recognise it by.
    pub name: String,
    /// The first characters of the key, shown in listings.
    pub prefix: String,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// What it may do.
    pub role: Role,
    /// When it was made.
    pub created_at: Timestamp,
}

/// An API key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRow {
    /// Row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its first characters.
    pub prefix: String,
    /// Its role.
    pub role: Role,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was last used.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// How often [`Store::authenticate`](crate::Store::authenticate) writes `last_used_at`: once a
/// minute at most, so that checking a key is a read, not a write queued behind ingest batches.
pub const LAST_USED_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Whether a key last stamped at `last_used_at` should be stamped again at `now`.
pub(crate) fn needs_stamp(last_used_at: Option<Timestamp>, now: Timestamp) -> bool {
    last_used_at.is_none_or(|t| now - t >= LAST_USED_RESOLUTION)
}
