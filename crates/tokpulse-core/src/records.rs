//! The records sources produce. Free-text fields (`String`, [`Attributes`]) hold what the client
//! sent and must pass the privacy guard before they are stored: the store only accepts
//! `tokpulse_guard::Guarded<_>` records, which only the guard can make.

use crate::{Label, RecordId, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Free-form key/value attributes attached to a record (JSON object).
pub type Attributes = serde_json::Map<String, serde_json::Value>;

/// Which ingest stream a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    /// Request latency and status: `performance_metrics`.
    Performance,
    /// One LLM call: `ai_usage_metrics`.
    AiUsage,
    /// An application log line: `application_logs`.
    Logs,
    /// A deployment: `deployments`.
    Deploys,
}

impl RecordKind {
    /// Every kind, in the order the CLI lists them.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Performance,
        RecordKind::AiUsage,
        RecordKind::Logs,
        RecordKind::Deploys,
    ];

    /// The name used in the CLI and in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Performance => "performance",
            RecordKind::AiUsage => "ai-usage",
            RecordKind::Logs => "logs",
            RecordKind::Deploys => "deploys",
        }
    }

    /// The table that holds this kind.
    pub fn table(self) -> &'static str {
        match self {
            RecordKind::Performance => "performance_metrics",
            RecordKind::AiUsage => "ai_usage_metrics",
            RecordKind::Logs => "application_logs",
            RecordKind::Deploys => "deployments",
        }
    }
}

impl FromStr for RecordKind {
    type Err = crate::ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "performance" => Ok(RecordKind::Performance),
            "ai-usage" | "ai_usage" => Ok(RecordKind::AiUsage),
            "logs" => Ok(RecordKind::Logs),
            "deploys" | "deploy" => Ok(RecordKind::Deploys),
            other => Err(crate::ValueError(format!(
                "unknown record kind {other:?}: expected performance, ai-usage, logs or deploys"
            ))),
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// A browser.
    Web,
    /// A server-side API.
    Api,
    /// A mobile client.
    Mobile,
    /// A background worker or cron job.
    Worker,
}

impl Platform {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Web => "web",
            Platform::Api => "api",
            Platform::Mobile => "mobile",
            Platform::Worker => "worker",
        }
    }
}

impl FromStr for Platform {
    type Err = crate::ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "web" => Ok(Platform::Web),
            "api" => Ok(Platform::Api),
            "mobile" => Ok(Platform::Mobile),
            "worker" => Ok(Platform::Worker),
            other => Err(crate::ValueError(format!(
                "unknown platform {other:?}: expected web, api, mobile or worker"
            ))),
        }
    }
}

/// One request served: `performance_metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceRecord {
    /// Client-supplied id; a retry with the same id is a duplicate.
    pub id: RecordId,
    /// When the request finished.
    pub timestamp: Timestamp,
    /// The service that served it.
    pub service: Label,
    /// The route (a template such as `/users/:id` is best). Free text: guarded.
    pub route: String,
    /// HTTP method, upper case.
    pub method: Label,
    /// HTTP status code (100–599).
    pub status_code: u16,
    /// Time to serve, in milliseconds.
    pub duration_ms: f64,
    /// `production`, `staging`…
    pub environment: Label,
    /// The kind of client, when known.
    pub platform: Option<Platform>,
    /// Anything else. Free text: guarded.
    pub attributes: Attributes,
}

impl PerformanceRecord {
    /// Whether the request failed on the server side (a 5xx).
    pub fn is_error(&self) -> bool {
        self.status_code >= 500
    }
}

/// One LLM call: `ai_usage_metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiUsageRecord {
    /// Client-supplied id.
    pub id: RecordId,
    /// When the call finished.
    pub timestamp: Timestamp,
    /// The calling service.
    pub service: Label,
    /// The product feature that made the call (`search-summary`…).
    pub feature: Option<Label>,
    /// `openai`, `azure-openai`, `ollama`…
    pub provider: Label,
    /// Model name as the provider spells it.
    pub model: Label,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Wall time of the call in milliseconds, when known.
    pub latency_ms: Option<f64>,
    /// Whether the call succeeded.
    pub success: bool,
    /// The provider's error message for a failed call. Free text: guarded.
    pub error_message: Option<String>,
    /// Cost the client computed itself, in US dollars, when it did.
    pub cost_usd: Option<f64>,
    /// Anything else. Free text: guarded.
    pub attributes: Attributes,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
    /// Fatal.
    Fatal,
}

impl LogLevel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Fatal => "fatal",
        }
    }
}

impl FromStr for LogLevel {
    type Err = crate::ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "trace" => Ok(LogLevel::Trace),
            "debug" => Ok(LogLevel::Debug),
            "info" | "information" | "notice" => Ok(LogLevel::Info),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "error" | "err" => Ok(LogLevel::Error),
            "fatal" | "critical" | "crit" | "panic" => Ok(LogLevel::Fatal),
            _ => Err(crate::ValueError(format!(
                "unknown log level {s:?}: expected trace, debug, info, warn, error or fatal"
            ))),
        }
    }
}

/// One application log line: `application_logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Client-supplied id.
    pub id: RecordId,
    /// When it was logged.
    pub timestamp: Timestamp,
    /// The service that logged it.
    pub service: Label,
    /// Its level.
    pub level: LogLevel,
    /// The message. Free text: guarded.
    pub message: String,
    /// The route being served, if any. Free text: guarded.
    pub route: Option<String>,
    /// Trace id for correlation.
    pub trace_id: Option<Label>,
    /// Anything else. Free text: guarded.
    pub attributes: Attributes,
}

/// A deployment of a service: `deployments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployEvent {
    /// Client-supplied id (a deployment id from the CD system does well).
    pub id: RecordId,
    /// When the new version started taking traffic.
    pub timestamp: Timestamp,
    /// The service deployed.
    pub service: Label,
    /// `production`, `staging`…
    pub environment: Label,
    /// Version or release name.
    pub version: Label,
    /// The commit deployed.
    pub commit_sha: Option<Label>,
    /// Who deployed it (a login or a name). Free text: guarded.
    pub author: Option<String>,
    /// What changed. Free text: guarded.
    pub description: Option<String>,
}

/// What an analyzer needs of one request: no free text beyond the (guarded) route.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSample {
    /// When the request finished.
    pub timestamp: Timestamp,
    /// The service.
    pub service: String,
    /// `METHOD route`, as stored.
    pub route: String,
    /// Milliseconds.
    pub duration_ms: f64,
    /// A 5xx.
    pub is_error: bool,
}
