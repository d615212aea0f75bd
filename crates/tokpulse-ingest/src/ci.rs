//! CI runs and jobs (`POST /v1/ingest/ci-runs`), as GitHub sends them.
//!
//! Each record is a GitHub Actions webhook payload, or the part of it that matters: an object
//! with a `workflow_run` (a [`CiRun`]) or a `workflow_job` (a [`CiJob`]) object, field for
//! field as GitHub's `workflow_run` and `workflow_job` webhooks carry them, and optionally the
//! payload's `repository` (its `full_name`, or the object). Other top-level payload fields
//! (`action`, `sender`, `installation`, `workflow`…) and unknown fields inside the objects are
//! ignored, so a webhook body can be posted as it is; [`from_webhook`] turns one payload into a
//! record, for the webhook receiver. A job may carry `failure_message` (the failed step's
//! annotation), which the webhook lacks.
//!
//! A run or job is stored by its GitHub `id` and `run_attempt`: a retry, or the next webhook of
//! the same job (`queued`, `in_progress`, `completed`), is a duplicate and replaces the stored
//! one if it is further along. Free text (`display_title`, `failure_message`, `head_branch`)
//! passes the privacy guard.
//!
//! ```
//! use tokpulse_ingest::ci::{CiRecord, from_webhook};
//!
//! let payload = serde_json::json!({
//!     "action": "completed",
//!     "workflow_job": {
//!         "id": 29679449, "run_id": 5, "run_attempt": 1, "workflow_name": "CI",
//!         "name": "test", "head_branch": "main", "head_sha": "f00d",
//!         "status": "completed", "conclusion": "failure",
//!         "completed_at": "2024-05-01T12:00:00Z", "steps": []
//!     },
//!     "repository": { "full_name": "acme/shop", "id": 1 }
//! });
//! let CiRecord::Job(job) = from_webhook(&payload).unwrap() else { unreachable!() };
//! assert_eq!(job.repository.as_deref(), Some("acme/shop"));
//! assert_eq!(job.name, "test");
//! ```

use crate::body::{Format, strip_bom};
use crate::error::{IngestError, json_message};
use crate::ingestor::{IngestReport, Ingestor};
use crate::parse::{MAX_RECORDS, Rejection};
use serde_json::Value;
use tokpulse_core::{CiJob, CiRun};
use tokpulse_store::CiBatch;

/// A CI run or job.
#[derive(Debug, Clone, PartialEq)]
pub enum CiRecord {
    /// From a `workflow_run` object.
    Run(CiRun),
    /// From a `workflow_job` object.
    Job(CiJob),
}

/// The fields of a `workflow_run` object that are read, and whether each is required (others
/// are ignored).
pub const RUN_FIELDS: &[(&str, bool)] = &[
    ("id", true),
    ("name", false),
    ("workflow_id", false),
    ("path", false),
    ("head_branch", false),
    ("head_sha", true),
    ("display_title", false),
    ("event", false),
    ("run_number", false),
    ("run_attempt", false),
    ("status", true),
    ("conclusion", false),
    ("created_at", false),
    ("run_started_at", false),
    ("updated_at", false),
    ("html_url", false),
    ("repository", false),
];

/// The fields of a `workflow_job` object that are read, and whether each is required (others
/// are ignored).
pub const JOB_FIELDS: &[(&str, bool)] = &[
    ("id", true),
    ("run_id", true),
    ("run_attempt", false),
    ("workflow_name", false),
    ("name", true),
    ("head_branch", false),
    ("head_sha", true),
    ("status", true),
    ("conclusion", false),
    ("created_at", false),
    ("started_at", false),
    ("completed_at", false),
    ("html_url", false),
    ("repository", false),
    ("failure_message", false),
];

/// The longest `failure_message` or `display_title` taken, in bytes.
pub const MAX_CI_TEXT_BYTES: usize = 32 * 1024;

/// A record's problem: the field at fault (dotted, as sent) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiProblem {
    /// `workflow_job.head_sha`, or `""` for the record as a whole.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// Turns a `workflow_run` or `workflow_job` webhook payload (or a record of the ingest API,
/// which has the same shape) into a [`CiRecord`]: the payload's `repository` is copied into the
/// run or job when it does not name one.
pub fn from_webhook(payload: &Value) -> Result<CiRecord, CiProblem> {
    let problem = |field: &str, reason: String| CiProblem {
        field: field.into(),
        reason,
    };
    let Value::Object(map) = payload else {
        return Err(problem("", "expected an object".into()));
    };
    let (key, fields) = match (map.get("workflow_run"), map.get("workflow_job")) {
        (Some(_), Some(_)) => {
            return Err(problem(
                "",
                "holds both `workflow_run` and `workflow_job`; send one per record".into(),
            ));
        }
        (Some(_), None) => ("workflow_run", RUN_FIELDS),
        (None, Some(_)) => ("workflow_job", JOB_FIELDS),
        (None, None) => {
            return Err(problem(
                "",
                "expected a `workflow_run` or a `workflow_job` object".into(),
            ));
        }
    };
    let Some(Value::Object(inner)) = map.get(key) else {
        return Err(problem(key, "expected an object".into()));
    };
    for (name, required) in fields {
        if *required && inner.get(*name).is_none_or(Value::is_null) {
            return Err(problem(&format!("{key}.{name}"), "required".into()));
        }
    }
    let mut object = inner.clone();
    if object.get("repository").is_none_or(Value::is_null)
        && let Some(repo) = map.get("repository").filter(|r| !r.is_null())
    {
        object.insert("repository".into(), repo.clone());
    }
    // Only the fields read: GitHub's objects carry dozens more.
    object.retain(|k, _| fields.iter().any(|(n, _)| n == k));
    let record = decode(key, Value::Object(object.clone())).map_err(|e| {
        let message = json_message(&e);
        let field = match field_of(&message) {
            "" => culprit(key, &object),
            f => f.to_string(),
        };
        problem(&format!("{key}.{field}"), message)
    })?;
    check(&record).map_err(|(field, reason)| problem(&format!("{key}.{field}"), reason))?;
    Ok(record)
}

fn decode(key: &str, object: Value) -> Result<CiRecord, serde_json::Error> {
    if key == "workflow_run" {
        serde_json::from_value(object).map(CiRecord::Run)
    } else {
        serde_json::from_value(object).map(CiRecord::Job)
    }
}

/// The field whose value does not decode: each field is tried alone on a minimal valid object
/// (serde's message for a bad value does not name it).
fn culprit(key: &str, object: &serde_json::Map<String, Value>) -> String {
    let minimal = if key == "workflow_run" {
        serde_json::json!({"id": 1, "head_sha": "a", "status": "queued"})
    } else {
        serde_json::json!({"id": 1, "run_id": 1, "name": "a", "head_sha": "a", "status": "queued"})
    };
    for (k, v) in object {
        let mut one = minimal.clone();
        one[k.as_str()] = v.clone();
        if decode(key, one).is_err() {
            return k.clone();
        }
    }
    String::new()
}

/// The field a serde message names (`missing field `x``, `invalid type … for key `x``), or "".
fn field_of(message: &str) -> &str {
    message
        .split('`')
        .nth(1)
        .filter(|f| !f.contains(' '))
        .unwrap_or("")
}

fn check(record: &CiRecord) -> Result<(), (&'static str, String)> {
    let text = |field: &'static str, v: &Option<String>| match v {
        Some(s) if s.len() > MAX_CI_TEXT_BYTES => Err((
            field,
            format!("longer than {MAX_CI_TEXT_BYTES} bytes ({} bytes)", s.len()),
        )),
        _ => Ok(()),
    };
    let sha = |s: &str| {
        if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Err((
                "head_sha",
                "expected a commit hash (1–64 letters and digits)".into(),
            ))
        } else {
            Ok(())
        }
    };
    match record {
        CiRecord::Run(r) => {
            sha(&r.head_sha)?;
            text("display_title", &r.display_title)
        }
        CiRecord::Job(j) => {
            sha(&j.head_sha)?;
            if j.name.trim().is_empty() {
                return Err(("name", "must not be empty".into()));
            }
            text("failure_message", &j.failure_message)
        }
    }
}

/// Valid records, each with its index in the body, and the rejected ones.
#[derive(Debug, Default)]
pub struct ParsedCi {
    /// Records taken.
    pub records: Vec<(usize, CiRecord)>,
    /// Records refused.
    pub rejected: Vec<Rejection>,
}

/// Parses a decoded JSON or NDJSON body of CI records (CSV is refused: the records nest).
pub fn parse_ci(format: Format, body: &[u8]) -> Result<ParsedCi, IngestError> {
    let body = strip_bom(body);
    let text = std::str::from_utf8(body).map_err(|e| IngestError::InvalidUtf8 {
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
                reason: "CI runs are nested objects: send JSON or NDJSON".into(),
            });
        }
    }
    if values.len() > MAX_RECORDS {
        return Err(IngestError::TooManyRecords { max: MAX_RECORDS });
    }
    let mut out = ParsedCi::default();
    for (index, v) in values.into_iter().enumerate() {
        let parsed = v
            .map_err(|reason| CiProblem {
                field: String::new(),
                reason,
            })
            .and_then(|v| from_webhook(&v));
        match parsed {
            Ok(r) => out.records.push((index, r)),
            Err(p) => out.rejected.push(Rejection {
                index,
                field: p.field,
                reason: p.reason,
            }),
        }
    }
    if out.records.is_empty() && !out.rejected.is_empty() && format == Format::Ndjson {
        let all_invalid_json = out.rejected.iter().all(|r| r.field.is_empty());
        if all_invalid_json
            && out
                .rejected
                .iter()
                .all(|r| r.reason.starts_with("invalid JSON"))
        {
            return Err(IngestError::Malformed {
                at: crate::error::Location::Line { line: 1 },
                reason: out.rejected[0].reason.clone(),
            });
        }
    }
    Ok(out)
}

impl Ingestor {
    /// Parses, guards and stores a decoded body of CI runs and jobs (see the
    /// [module](crate::ci)); returns only after the commit.
    pub async fn ingest_ci(
        &self,
        format: Format,
        body: &[u8],
    ) -> Result<IngestReport, IngestError> {
        let ParsedCi {
            records,
            mut rejected,
        } = parse_ci(format, body)?;
        let (guard, now) = self.guard_and_now();
        let mut batch = CiBatch::default();
        for (index, record) in records {
            let guarded = match record {
                CiRecord::Run(r) => guard.guard(r).map(|g| batch.runs.push(g)),
                CiRecord::Job(j) => guard.guard(j).map(|g| batch.jobs.push(g)),
            };
            if let Err(blocked) = guarded {
                rejected.push(Rejection {
                    index,
                    field: blocked.field,
                    reason: format!(
                        "contains {}, which the privacy policy blocks",
                        blocked.entity
                    ),
                });
            }
        }
        rejected.sort_by_key(|r| r.index);
        let outcome = self.store().insert_ci(&batch, now).await?;
        Ok(IngestReport {
            accepted: outcome.inserted,
            duplicates: outcome.duplicates,
            rejected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(extra: &str) -> String {
        format!(
            r#"{{"workflow_job":{{"id":1,"run_id":2,"name":"test","head_sha":"abc","status":"completed","conclusion":"failure"{extra}}},"repository":"acme/shop"}}"#
        )
    }

    #[test]
    fn ndjson_records_with_rejections_by_index() {
        let body = format!(
            "{}\n\n{}\n{}\n{}\n{}\n",
            job(""),
            r#"{"workflow_run":{"id":9,"head_sha":"abc","status":"queued","extra":1},"action":"requested"}"#,
            r#"{"workflow_job":{"id":1,"run_id":2,"name":"test","status":"queued"}}"#,
            "not json",
            r#"{"deploy":{}}"#,
        );
        let p = parse_ci(Format::Ndjson, body.as_bytes()).unwrap();
        assert_eq!(p.records.len(), 2);
        let CiRecord::Job(j) = &p.records[0].1 else {
            panic!()
        };
        assert_eq!(j.repository.as_deref(), Some("acme/shop"));
        assert!(matches!(p.records[1].1, CiRecord::Run(_)));
        let r: Vec<(usize, &str)> = p
            .rejected
            .iter()
            .map(|r| (r.index, r.field.as_str()))
            .collect();
        assert_eq!(r, [(2, "workflow_job.head_sha"), (3, ""), (4, "")]);
    }

    #[test]
    fn bad_values_name_their_field() {
        let body = job(r#","run_attempt":"two""#);
        let p = parse_ci(Format::Json, body.as_bytes()).unwrap();
        assert_eq!(
            p.rejected[0].field, "workflow_job.run_attempt",
            "{:?}",
            p.rejected
        );
        let body = job(r#","head_sha":"not a sha""#).replace(r#""head_sha":"abc","#, "");
        let p = parse_ci(Format::Json, body.as_bytes()).unwrap();
        assert_eq!(
            p.rejected[0].field, "workflow_job.head_sha",
            "{:?}",
            p.rejected
        );
        assert!(parse_ci(Format::Csv, b"id\n1\n").is_err());
    }

    #[test]
    fn github_webhook_payloads_are_records() {
        for name in [
            "workflow_job.completed.failure.json",
            "workflow_run.completed.success.json",
        ] {
            let path = format!(
                "{}/../../../shared/datasets/github/webhooks/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let Ok(text) = std::fs::read_to_string(&path) else {
                return;
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            let r = from_webhook(&v).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            match r {
                CiRecord::Job(j) => {
                    assert_eq!(j.repository.as_deref(), Some("Codertocat/Hello-World"))
                }
                CiRecord::Run(r) => assert_eq!(r.repository.as_deref(), Some("octo-org/octo-repo")),
            }
        }
    }
}
