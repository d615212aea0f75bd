//! Infrastructure usage records (`POST /v1/ingest/infra-usage`): one usage figure of Vercel or
//! Supabase for one period, as JSON (an object or an array) or NDJSON. Each record is checked
//! on its own; the good ones are stored by their id (a retry adds nothing), the bad ones are
//! rejected with their index, field and reason.
//!
//! ```json
//! {"id": "vercel-web-2026-03-14-requests", "provider": "vercel", "project": "web",
//!  "metric": "requests", "quantity": 1250000, "plan": "pro",
//!  "period_start": "2026-03-14T00:00:00Z", "period_end": "2026-03-15T00:00:00Z"}
//! ```
//!
//! Metrics: Vercel `requests`, `bandwidth_gb`, `function_gb_hours`; Supabase `db_size_gb`,
//! `storage_gb`, `egress_gb`.

use crate::body::{Format, strip_bom};
use crate::error::{IngestError, json_message};
use crate::ingestor::{IngestReport, Ingestor, MAX_FUTURE};
use crate::parse::{MAX_RECORDS, Rejection};
use serde_json::{Map, Value};
use tokpulse_core::{InfraProvider, InfraUsageRecord, Label, RecordId, Timestamp};

/// Every field a record may carry, with whether it is required.
pub const FIELDS: &[(&str, bool)] = &[
    ("id", true),
    ("provider", true),
    ("project", true),
    ("metric", true),
    ("quantity", true),
    ("period_start", true),
    ("period_end", true),
    ("plan", false),
];

fn bad(field: &str, reason: impl Into<String>) -> (String, String) {
    (field.to_owned(), reason.into())
}

fn text<'a>(o: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, (String, String)> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(field, "must be a string")),
    }
}

fn required<'a>(o: &'a Map<String, Value>, field: &str) -> Result<&'a str, (String, String)> {
    text(o, field)?.ok_or_else(|| bad(field, "is required"))
}

fn label(o: &Map<String, Value>, field: &str) -> Result<Label, (String, String)> {
    Label::parse(required(o, field)?).map_err(|e| bad(field, e.0))
}

fn time(o: &Map<String, Value>, field: &str) -> Result<Timestamp, (String, String)> {
    let s = required(o, field)?;
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|_| bad(field, "must be an RFC 3339 timestamp"))
}

/// One record from a JSON value, checked against `latest` (the newest time accepted).
pub fn record(v: &Value, latest: Timestamp) -> Result<InfraUsageRecord, (String, String)> {
    let o = v
        .as_object()
        .ok_or_else(|| bad("", "must be a JSON object"))?;
    if let Some(k) = o.keys().find(|k| !FIELDS.iter().any(|(f, _)| f == k)) {
        return Err(bad(k, "unknown field"));
    }
    let id = RecordId::parse(required(o, "id")?).map_err(|e| bad("id", e.0))?;
    let provider: InfraProvider = required(o, "provider")?
        .parse()
        .map_err(|e: tokpulse_core::ValueError| bad("provider", e.0))?;
    let project = label(o, "project")?;
    let metric = label(o, "metric")?;
    if !provider.metrics().contains(&metric.as_str()) {
        return Err(bad(
            "metric",
            format!(
                "unknown {provider} metric {:?}; expected one of {}",
                metric.as_str(),
                provider.metrics().join(", ")
            ),
        ));
    }
    let quantity = match o.get("quantity") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        None | Some(Value::Null) => return Err(bad("quantity", "is required")),
        Some(_) => return Err(bad("quantity", "must be a number")),
    };
    if !(quantity.is_finite() && quantity >= 0.0) {
        return Err(bad("quantity", "must be a number >= 0"));
    }
    let period_start = time(o, "period_start")?;
    let period_end = time(o, "period_end")?;
    if period_end <= period_start {
        return Err(bad("period_end", "must be after period_start"));
    }
    if period_start > latest {
        return Err(bad("period_start", "is in the future"));
    }
    let plan = text(o, "plan")?
        .map(|p| Label::parse(p).map_err(|e| bad("plan", e.0)))
        .transpose()?;
    Ok(InfraUsageRecord {
        id,
        provider,
        project,
        metric,
        quantity,
        period_start,
        period_end,
        plan,
    })
}

/// Parses a decoded JSON or NDJSON body (CSV is refused); `now` is the clock.
pub fn parse_infra(
    format: Format,
    body: &[u8],
    now: Timestamp,
) -> Result<(Vec<InfraUsageRecord>, Vec<Rejection>), IngestError> {
    let text = std::str::from_utf8(strip_bom(body)).map_err(|e| IngestError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let mut values: Vec<Result<Value, String>> = Vec::new();
    match format {
        Format::Json => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => values.extend(items.into_iter().map(Ok)),
            Ok(v) => values.push(Ok(v)),
            Err(e) => return Err(IngestError::from_json(&e)),
        },
        Format::Ndjson => {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                values.push(
                    serde_json::from_str(line)
                        .map_err(|e| format!("invalid JSON: {}", json_message(&e))),
                );
            }
        }
        Format::Csv => {
            return Err(IngestError::UnsupportedMediaType {
                reason: "infra usage is taken as JSON or NDJSON".into(),
            });
        }
    }
    if values.len() > MAX_RECORDS {
        return Err(IngestError::TooManyRecords { max: MAX_RECORDS });
    }
    let latest = now + MAX_FUTURE;
    let (mut records, mut rejected) = (Vec::new(), Vec::new());
    for (index, v) in values.into_iter().enumerate() {
        match v
            .map_err(|r| (String::new(), r))
            .and_then(|v| record(&v, latest))
        {
            Ok(r) => records.push(r),
            Err((field, reason)) => rejected.push(Rejection {
                index,
                field,
                reason,
            }),
        }
    }
    Ok((records, rejected))
}

impl Ingestor {
    /// Parses and stores a decoded body of infrastructure usage records; returns only after the
    /// commit. They carry no free text (provider, project, metric and plan are labels), so
    /// there is nothing for the guard to redact.
    pub async fn ingest_infra(
        &self,
        format: Format,
        body: &[u8],
    ) -> Result<IngestReport, IngestError> {
        let (_, now) = self.guard_and_now();
        let (records, rejected) = parse_infra(format, body, now)?;
        let mut report = IngestReport {
            accepted: 0,
            duplicates: 0,
            rejected,
        };
        if !records.is_empty() {
            let outcome = self.store().insert_infra_usage(&records, now).await?;
            report.accepted = outcome.inserted;
            report.duplicates = outcome.duplicates;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        chrono::DateTime::parse_from_rfc3339("2026-03-15T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn good_and_bad_records_are_told_apart_one_by_one() {
        let body = br#"{"id":"a","provider":"vercel","project":"web","metric":"requests","quantity":1200,"period_start":"2026-03-14T00:00:00Z","period_end":"2026-03-15T00:00:00Z","plan":"pro"}
{"id":"b","provider":"vercel","project":"web","metric":"db_size_gb","quantity":1,"period_start":"2026-03-14T00:00:00Z","period_end":"2026-03-15T00:00:00Z"}
{"id":"c","provider":"aws","project":"web","metric":"requests","quantity":1,"period_start":"2026-03-14T00:00:00Z","period_end":"2026-03-15T00:00:00Z"}
{"id":"d","provider":"supabase","project":"db","metric":"egress_gb","quantity":-1,"period_start":"2026-03-14T00:00:00Z","period_end":"2026-03-15T00:00:00Z"}
{"id":"e","provider":"supabase","project":"db","metric":"egress_gb","quantity":1,"period_start":"2026-03-15T00:00:00Z","period_end":"2026-03-14T00:00:00Z"}
{"id":"f","provider":"supabase","project":"db","metric":"egress_gb","quantity":1,"period_start":"2026-03-14T00:00:00Z","period_end":"2026-03-15T00:00:00Z","cost":3}
not json
{"id":"g","provider":"supabase","project":"db","metric":"storage_gb","quantity":"12","period_start":"2026-03-14T00:00:00Z","period_end":"2026-03-15T00:00:00Z"}
{"id":"h","provider":"supabase","project":"db","metric":"storage_gb","quantity":12,"period_start":"2027-03-14T00:00:00Z","period_end":"2027-03-15T00:00:00Z"}
{"provider":"supabase","project":"db","metric":"storage_gb","quantity":12,"period_start":"2026-03-14T00:00:00Z","period_end":"2026-03-15T00:00:00Z"}
"#;
        let (ok, bad) = parse_infra(Format::Ndjson, body, now()).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].plan.as_ref().unwrap().as_str(), "pro");
        let got: Vec<(usize, &str)> = bad.iter().map(|r| (r.index, r.field.as_str())).collect();
        assert_eq!(
            got,
            [
                (1, "metric"),
                (2, "provider"),
                (3, "quantity"),
                (4, "period_end"),
                (5, "cost"),
                (6, ""),
                (7, "quantity"),
                (8, "period_start"),
                (9, "id"),
            ]
        );
        assert!(bad[0].reason.contains("bandwidth_gb"), "{}", bad[0].reason);
        assert!(parse_infra(Format::Csv, b"id\n", now()).is_err());
        let (ok, _) = parse_infra(
            Format::Json,
            br#"[{"id":"a","provider":"supabase","project":"db","metric":"db_size_gb","quantity":6.5,"period_start":"2026-03-14T00:00:00Z","period_end":"2026-03-15T00:00:00Z"}]"#,
            now(),
        )
        .unwrap();
        assert_eq!(ok[0].quantity, 6.5);
    }
}
