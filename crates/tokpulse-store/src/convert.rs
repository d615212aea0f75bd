//! Conversions between stored values and TokPulse's types, shared by both backends.

use crate::StoreError;
use std::str::FromStr;
use tokpulse_core::{
    Cause, DeployEvent, Evidence, Finding, FindingKind, FindingStatus, Fingerprint, Label,
    RecordId, Role, StoredFinding, Timestamp, ValueError, Window,
};

use crate::ActionStatus;

/// Unix milliseconds, how SQLite stores time.
pub(crate) fn to_ms(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// A timestamp read back from SQLite.
pub(crate) fn from_ms(table: &'static str, ms: i64) -> Result<Timestamp, StoreError> {
    chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        table,
        reason: format!("timestamp {ms} ms is out of range"),
    })
}

/// An optional timestamp read back from SQLite.
pub(crate) fn from_ms_opt(
    table: &'static str,
    ms: Option<i64>,
) -> Result<Option<Timestamp>, StoreError> {
    ms.map(|ms| from_ms(table, ms)).transpose()
}

/// Parses a stored name (`FromStr` of a core type).
pub(crate) fn parse<T>(table: &'static str, field: &str, s: &str) -> Result<T, StoreError>
where
    T: FromStr<Err = ValueError>,
{
    s.parse().map_err(|e: ValueError| StoreError::Corrupt {
        table,
        reason: format!("column `{field}`: {e}"),
    })
}

fn label(table: &'static str, field: &str, s: &str) -> Result<Label, StoreError> {
    Label::parse(s).map_err(|e| StoreError::Corrupt {
        table,
        reason: format!("column `{field}`: {e}"),
    })
}

fn label_opt(
    table: &'static str,
    field: &str,
    s: Option<&str>,
) -> Result<Option<Label>, StoreError> {
    s.map(|s| label(table, field, s)).transpose()
}

/// Reads a JSON column stored as text.
pub(crate) fn json_from_str<T: serde::de::DeserializeOwned>(
    table: &'static str,
    field: &str,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        table,
        reason: format!("column `{field}`: {e}"),
    })
}

/// Reads a JSON column stored as jsonb.
pub(crate) fn json_from_value<T: serde::de::DeserializeOwned>(
    table: &'static str,
    field: &str,
    v: serde_json::Value,
) -> Result<T, StoreError> {
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt {
        table,
        reason: format!("column `{field}`: {e}"),
    })
}

/// Serialises a value that cannot fail to serialise (plain structs and JSON maps with string
/// keys) to JSON text.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("TokPulse's stored JSON types always serialise")
}

/// Token counts are `u64` in records and `bigint` in the database; a count beyond `i64::MAX`
/// cannot be real, so it is clamped rather than refused.
pub(crate) fn tokens(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A `deployments` row, whatever the backend, before checking.
pub(crate) struct DeployParts {
    pub record_id: String,
    pub ts: Timestamp,
    pub service: String,
    pub environment: String,
    pub version: String,
    pub commit_sha: Option<String>,
    pub author: Option<String>,
    pub description: Option<String>,
}

impl DeployParts {
    pub(crate) fn into_event(self) -> Result<DeployEvent, StoreError> {
        const T: &str = "deployments";
        Ok(DeployEvent {
            id: RecordId::parse(&self.record_id).map_err(|e| StoreError::Corrupt {
                table: T,
                reason: format!("column `record_id`: {e}"),
            })?,
            timestamp: self.ts,
            service: label(T, "service", &self.service)?,
            environment: label(T, "environment", &self.environment)?,
            version: label(T, "version", &self.version)?,
            commit_sha: label_opt(T, "commit_sha", self.commit_sha.as_deref())?,
            author: self.author,
            description: self.description,
        })
    }
}

/// A `findings` row, whatever the backend, with JSON columns already decoded.
pub(crate) struct FindingParts {
    pub id: i64,
    pub fingerprint: String,
    pub kind: String,
    pub severity: String,
    pub status: String,
    pub title: String,
    pub service: String,
    pub route: Option<String>,
    pub window: Window,
    pub evidence: Vec<Evidence>,
    pub cause: Option<Cause>,
    pub suggestion: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub occurrences: i64,
    pub resolved_at: Option<Timestamp>,
}

impl FindingParts {
    pub(crate) fn into_stored(self) -> Result<StoredFinding, StoreError> {
        const T: &str = "findings";
        Ok(StoredFinding {
            id: self.id,
            finding: Finding {
                kind: parse::<FindingKind>(T, "kind", &self.kind)?,
                severity: parse(T, "severity", &self.severity)?,
                fingerprint: Fingerprint::from_stored(self.fingerprint),
                title: self.title,
                service: self.service,
                route: self.route,
                window: self.window,
                evidence: self.evidence,
                cause: self.cause,
                suggestion: self.suggestion,
            },
            status: parse::<FindingStatus>(T, "status", &self.status)?,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            occurrences: self.occurrences,
            resolved_at: self.resolved_at,
        })
    }
}

/// Parses a stored action status.
pub(crate) fn action_status(s: &str) -> Result<ActionStatus, StoreError> {
    match s {
        "pending" => Ok(ActionStatus::Pending),
        "delivered" => Ok(ActionStatus::Delivered),
        "parked" => Ok(ActionStatus::Parked),
        other => Err(StoreError::Corrupt {
            table: "actions",
            reason: format!("column `status`: unknown status {other:?}"),
        }),
    }
}

/// Checks an `api_keys` row's role.
pub(crate) fn role(s: &str) -> Result<Role, StoreError> {
    parse("api_keys", "role", s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip() {
        let t = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        assert_eq!(from_ms("t", to_ms(t)).unwrap(), t);
        assert!(from_ms("t", i64::MAX).is_err());
    }

    #[test]
    fn corrupt_values_name_table_and_column() {
        let err = parse::<FindingKind>("findings", "kind", "nope").unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt row in findings: column `kind`: unknown finding kind \"nope\""
        );
    }
}
