//! [`Scrub`]: how the guard reaches every free-text field of a record.

use crate::Blocked;
use tokpulse_core::{
    AiUsageRecord, Attributes, CiJob, CiRun, DeployEvent, LogRecord, PerformanceRecord, RecordKind,
};

/// A callback the guard passes to [`Scrub::scrub`]: `(field path, JSON key, value)`.
pub type Visit<'a> = dyn FnMut(&str, Option<&str>, &mut String) -> Result<(), Blocked> + 'a;

/// Implemented for every record type with free text. `scrub` must hand every free-text field
/// to `visit`; the guard's tests check that for each record type.
pub trait Scrub {
    /// The source whose `[guard.sources.<kind>]` policies apply to records of this type
    /// (`None`: only the global ones).
    const SOURCE: Option<RecordKind> = None;

    /// Calls `visit` on each free-text field.
    fn scrub(&mut self, visit: &mut Visit<'_>) -> Result<(), Blocked>;
}

fn scrub_json(
    path: &mut String,
    key: Option<&str>,
    v: &mut serde_json::Value,
    visit: &mut Visit<'_>,
) -> Result<(), Blocked> {
    use serde_json::Value;
    match v {
        Value::String(s) => visit(path, key, s),
        Value::Array(items) => {
            for item in items {
                scrub_json(path, key, item, visit)?;
            }
            Ok(())
        }
        Value::Object(map) => scrub_attributes(path, map, visit),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn scrub_attributes(
    path: &mut String,
    map: &mut Attributes,
    visit: &mut Visit<'_>,
) -> Result<(), Blocked> {
    // Keys can hold personal data too ({"jane@corp.io": 3}). Most never do, so the map is
    // rebuilt only when a key changes.
    let mut renamed: Vec<(String, String)> = Vec::new();
    for (k, v) in map.iter_mut() {
        let mut key = k.clone();
        visit(path, None, &mut key)?;
        let len = path.len();
        path.push('.');
        path.push_str(&key);
        scrub_json(path, Some(k), v, visit)?;
        path.truncate(len);
        if key != *k {
            renamed.push((k.clone(), key));
        }
    }
    for (old, new) in renamed {
        if let Some(v) = map.remove(&old) {
            map.insert(new, v);
        }
    }
    Ok(())
}

fn attributes(map: &mut Attributes, visit: &mut Visit<'_>) -> Result<(), Blocked> {
    let mut path = String::from("attributes");
    scrub_attributes(&mut path, map, visit)
}

fn opt(field: &str, v: &mut Option<String>, visit: &mut Visit<'_>) -> Result<(), Blocked> {
    match v {
        Some(s) => visit(field, None, s),
        None => Ok(()),
    }
}

impl Scrub for PerformanceRecord {
    const SOURCE: Option<RecordKind> = Some(RecordKind::Performance);

    fn scrub(&mut self, visit: &mut Visit<'_>) -> Result<(), Blocked> {
        visit("route", None, &mut self.route)?;
        attributes(&mut self.attributes, visit)
    }
}

impl Scrub for AiUsageRecord {
    const SOURCE: Option<RecordKind> = Some(RecordKind::AiUsage);

    fn scrub(&mut self, visit: &mut Visit<'_>) -> Result<(), Blocked> {
        opt("error_message", &mut self.error_message, visit)?;
        attributes(&mut self.attributes, visit)
    }
}

impl Scrub for LogRecord {
    const SOURCE: Option<RecordKind> = Some(RecordKind::Logs);

    fn scrub(&mut self, visit: &mut Visit<'_>) -> Result<(), Blocked> {
        visit("message", None, &mut self.message)?;
        opt("route", &mut self.route, visit)?;
        attributes(&mut self.attributes, visit)
    }
}

/// A CI run's free text: the commit message or PR title, and the branch (branch names often
/// carry a person's name or a ticket's title).
impl Scrub for CiRun {
    fn scrub(&mut self, visit: &mut Visit<'_>) -> Result<(), Blocked> {
        opt("display_title", &mut self.display_title, visit)?;
        opt("head_branch", &mut self.head_branch, visit)
    }
}

/// A CI job's free text: why it failed (log excerpts hold anything), and the branch.
impl Scrub for CiJob {
    fn scrub(&mut self, visit: &mut Visit<'_>) -> Result<(), Blocked> {
        opt("failure_message", &mut self.failure_message, visit)?;
        opt("head_branch", &mut self.head_branch, visit)
    }
}

impl Scrub for DeployEvent {
    const SOURCE: Option<RecordKind> = Some(RecordKind::Deploys);

    fn scrub(&mut self, visit: &mut Visit<'_>) -> Result<(), Blocked> {
        opt("author", &mut self.author, visit)?;
        opt("description", &mut self.description, visit)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Guard, GuardConfig};
    use serde_json::json;
    use tokpulse_core::*;

    const EMAIL: &str = "jane.roe@corp.io";

    fn ts() -> Timestamp {
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn attrs() -> Attributes {
        json!({"user": {"email": EMAIL, "tags": [EMAIL]}, EMAIL: 1})
            .as_object()
            .unwrap()
            .clone()
    }

    /// Every record type: no field of the stored form still holds the email.
    #[test]
    fn every_text_field_of_every_record_is_guarded() {
        let guard = Guard::new(&GuardConfig::default());
        let label = |s: &str| Label::parse(s).unwrap();
        let id = RecordId::parse("r1").unwrap();
        let perf = PerformanceRecord {
            id: id.clone(),
            timestamp: ts(),
            service: label("web"),
            route: format!("/u/{EMAIL}"),
            method: label("GET"),
            status_code: 200,
            duration_ms: 1.0,
            environment: label("production"),
            platform: None,
            attributes: attrs(),
        };
        let ai = AiUsageRecord {
            id: id.clone(),
            timestamp: ts(),
            service: label("web"),
            feature: None,
            provider: label("openai"),
            model: label("gpt-4o"),
            prompt_tokens: 1,
            completion_tokens: 1,
            latency_ms: None,
            success: false,
            error_message: Some(format!("bad {EMAIL}")),
            cost_usd: None,
            attributes: attrs(),
        };
        let log = LogRecord {
            id: id.clone(),
            timestamp: ts(),
            service: label("web"),
            level: LogLevel::Error,
            message: format!("hi {EMAIL}"),
            route: Some(EMAIL.into()),
            trace_id: None,
            attributes: attrs(),
        };
        let deploy = DeployEvent {
            id,
            timestamp: ts(),
            service: label("web"),
            environment: label("production"),
            version: label("v1"),
            commit_sha: None,
            author: Some(EMAIL.into()),
            description: Some(format!("by {EMAIL}")),
        };
        let stored = [
            serde_json::to_string(guard.guard(perf).unwrap().get()).unwrap(),
            serde_json::to_string(guard.guard(ai).unwrap().get()).unwrap(),
            serde_json::to_string(guard.guard(log).unwrap().get()).unwrap(),
            serde_json::to_string(guard.guard(deploy).unwrap().get()).unwrap(),
        ];
        for s in stored {
            assert!(!s.contains("jane"), "{s}");
            assert!(s.contains("[EMAIL]"), "{s}");
        }
    }
}
