//! Shared types for every stage of the TokPulse pipeline: the records that sources produce, the
//! findings that analyzers produce (and the CI runs and jobs they read, shaped like GitHub's
//! webhook payloads), and the small value types (labels, ids, roles, fingerprints)
//! they are built from. Nothing here does I/O.
//!
//! ```
//! use tokpulse_core::{Fingerprint, FindingKind, Label};
//!
//! let service = Label::parse("checkout-api").unwrap();
//! let fp = Fingerprint::of(FindingKind::LatencyRegression, &[service.as_str(), "GET /cart"]);
//! assert_eq!(fp, Fingerprint::of(FindingKind::LatencyRegression, &["checkout-api", "GET /cart"]));
//! ```
#![warn(missing_docs)]

mod ci;
mod finding;
mod infra;
mod records;
mod values;

pub use ci::{CiConclusion, CiJob, CiRun, CiStatus};
pub use finding::{
    Cause, Evidence, Finding, FindingKind, FindingStatus, Fingerprint, Severity, StoredFinding,
    Window,
};
pub use infra::{InfraProvider, InfraUsageRecord};
pub use records::{
    AiUsageRecord, Attributes, DeployEvent, LogLevel, LogRecord, PerformanceRecord, Platform,
    RecordKind, RequestSample,
};
pub use values::{Label, RecordId, Role, ValueError};

/// Timestamps are UTC everywhere in TokPulse.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
