//! From a [`RawRecord`] to a typed record, or the first [`Problem`] with it. Pure: no clock (the
//! "not in the future" check is the [`Ingestor`](crate::Ingestor)'s, which has one).

use crate::fields::{
    F, MAX_ATTRIBUTES_BYTES, MAX_ATTRIBUTES_DEPTH, MAX_AUTHOR_BYTES, MAX_DURATION_MS,
    MAX_MESSAGE_BYTES, MAX_ROUTE_BYTES,
};
use crate::raw::{Problem, Raw, RawRecord, clip};
use std::borrow::Cow;
use std::sync::LazyLock;
use tokpulse_core::{
    AiUsageRecord, Attributes, DeployEvent, Label, LogLevel, LogRecord, PerformanceRecord,
    Platform, RecordId, Timestamp,
};

type R<T> = Result<T, Problem>;

/// Smallest integer timestamp taken as unix milliseconds (1973-03-03): anything smaller is almost
/// certainly unix seconds.
const MIN_UNIX_MS: i64 = 100_000_000_000;
/// Largest integer timestamp (9999-12-31T23:59:59.999Z).
const MAX_UNIX_MS: i64 = 253_402_300_799_999;

static GET: LazyLock<Label> = LazyLock::new(|| label_const("GET"));
static PRODUCTION: LazyLock<Label> = LazyLock::new(|| label_const("production"));
static OPENAI: LazyLock<Label> = LazyLock::new(|| label_const("openai"));

fn label_const(s: &str) -> Label {
    Label::parse(s).expect("default labels are valid: letters only")
}

pub(crate) fn performance(r: &mut RawRecord<'_>) -> R<PerformanceRecord> {
    if let Some(p) = r.problem.take() {
        return Err(p);
    }
    Ok(PerformanceRecord {
        id: id(r.req(F::Id)?)?,
        timestamp: timestamp(r.req(F::Timestamp)?)?,
        service: label(F::Service, r.req(F::Service)?)?,
        route: text(F::Route, r.req(F::Route)?, MAX_ROUTE_BYTES, true)?,
        method: match r.take(F::Method) {
            Some(v) => method(v)?,
            None => GET.clone(),
        },
        status_code: integer(F::StatusCode, r.req(F::StatusCode)?, 100, 599)? as u16,
        duration_ms: duration(F::DurationMs, r.req(F::DurationMs)?)?,
        environment: opt_label(F::Environment, r.take(F::Environment))?
            .unwrap_or_else(|| PRODUCTION.clone()),
        platform: r.take(F::Platform).map(platform).transpose()?,
        attributes: attributes(r.take(F::Attributes))?,
    })
}

pub(crate) fn ai_usage(r: &mut RawRecord<'_>) -> R<AiUsageRecord> {
    if let Some(p) = r.problem.take() {
        return Err(p);
    }
    Ok(AiUsageRecord {
        id: id(r.req(F::Id)?)?,
        timestamp: timestamp(r.req(F::Timestamp)?)?,
        service: label(F::Service, r.req(F::Service)?)?,
        feature: opt_label(F::Feature, r.take(F::Feature))?,
        provider: opt_label(F::Provider, r.take(F::Provider))?.unwrap_or_else(|| OPENAI.clone()),
        model: label(F::Model, r.req(F::Model)?)?,
        prompt_tokens: tokens(F::PromptTokens, r.req(F::PromptTokens)?)?,
        completion_tokens: match r.take(F::CompletionTokens) {
            Some(v) => tokens(F::CompletionTokens, v)?,
            None => 0,
        },
        latency_ms: r
            .take(F::LatencyMs)
            .map(|v| duration(F::LatencyMs, v))
            .transpose()?,
        success: match r.take(F::Success) {
            Some(v) => boolean(F::Success, v)?,
            None => true,
        },
        error_message: r
            .take(F::ErrorMessage)
            .map(|v| text(F::ErrorMessage, v, MAX_MESSAGE_BYTES, false))
            .transpose()?,
        cost_usd: r.take(F::CostUsd).map(cost).transpose()?,
        attributes: attributes(r.take(F::Attributes))?,
    })
}

pub(crate) fn log(r: &mut RawRecord<'_>) -> R<LogRecord> {
    if let Some(p) = r.problem.take() {
        return Err(p);
    }
    Ok(LogRecord {
        id: id(r.req(F::Id)?)?,
        timestamp: timestamp(r.req(F::Timestamp)?)?,
        service: label(F::Service, r.req(F::Service)?)?,
        level: level(r.req(F::Level)?)?,
        message: text(F::Message, r.req(F::Message)?, MAX_MESSAGE_BYTES, false)?,
        route: r
            .take(F::Route)
            .map(|v| text(F::Route, v, MAX_ROUTE_BYTES, false))
            .transpose()?,
        trace_id: opt_label(F::TraceId, r.take(F::TraceId))?,
        attributes: attributes(r.take(F::Attributes))?,
    })
}

pub(crate) fn deploy(r: &mut RawRecord<'_>) -> R<DeployEvent> {
    if let Some(p) = r.problem.take() {
        return Err(p);
    }
    Ok(DeployEvent {
        id: id(r.req(F::Id)?)?,
        timestamp: timestamp(r.req(F::Timestamp)?)?,
        service: label(F::Service, r.req(F::Service)?)?,
        environment: opt_label(F::Environment, r.take(F::Environment))?
            .unwrap_or_else(|| PRODUCTION.clone()),
        version: label(F::Version, r.req(F::Version)?)?,
        commit_sha: opt_label(F::CommitSha, r.take(F::CommitSha))?,
        author: r
            .take(F::Author)
            .map(|v| text(F::Author, v, MAX_AUTHOR_BYTES, false))
            .transpose()?,
        description: r
            .take(F::Description)
            .map(|v| text(F::Description, v, MAX_MESSAGE_BYTES, false))
            .transpose()?,
    })
}

/// How a value that has the wrong type is shown in a reason: its JSON type, or the value itself
/// for scalars (strings clipped).
fn describe(v: &Raw<'_>) -> String {
    match v {
        Raw::Null => "null".into(),
        Raw::Bool(b) => b.to_string(),
        Raw::U64(n) => n.to_string(),
        Raw::I64(n) => n.to_string(),
        Raw::F64(n) => n.to_string(),
        Raw::Str(s) => format!("{:?}", clip(s)),
        Raw::Cell(s) => format!("{:?}", clip(s)),
        Raw::Array => "an array".into(),
        Raw::Object => "an object".into(),
        Raw::Json(j) => match j {
            serde_json::Value::Null => "null".into(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => format!("{:?}", clip(s)),
            serde_json::Value::Array(_) => "an array".into(),
            serde_json::Value::Object(_) => "an object".into(),
        },
    }
}

fn expected(f: F, what: &str, v: &Raw<'_>) -> Problem {
    Problem::new(f, format!("expected {what}, got {}", describe(v)))
}

/// The text of a string value. CSV cells are trimmed when `trim` (for names and numbers, where
/// spaces around a value are never meant).
fn str_of<'v>(f: F, v: &'v Raw<'_>, trim: bool) -> R<&'v str> {
    match v {
        Raw::Str(s) => Ok(s),
        Raw::Cell(s) if trim => Ok(s.trim()),
        Raw::Cell(s) => Ok(s),
        _ => Err(expected(f, "a string", v)),
    }
}

fn id(v: Raw<'_>) -> R<RecordId> {
    RecordId::parse(str_of(F::Id, &v, true)?).map_err(|e| Problem::new(F::Id, e.0))
}

fn label(f: F, v: Raw<'_>) -> R<Label> {
    Label::parse(str_of(f, &v, true)?).map_err(|e| Problem::new(f, e.0))
}

fn opt_label(f: F, v: Option<Raw<'_>>) -> R<Option<Label>> {
    v.map(|v| label(f, v)).transpose()
}

fn method(v: Raw<'_>) -> R<Label> {
    let s = str_of(F::Method, &v, true)?;
    let parsed = if s.bytes().any(|b| b.is_ascii_lowercase()) {
        Label::parse(&s.to_ascii_uppercase())
    } else {
        Label::parse(s)
    };
    parsed.map_err(|e| Problem::new(F::Method, e.0))
}

fn platform(v: Raw<'_>) -> R<Platform> {
    str_of(F::Platform, &v, true)?
        .parse()
        .map_err(|e: tokpulse_core::ValueError| Problem::new(F::Platform, e.0))
}

fn level(v: Raw<'_>) -> R<LogLevel> {
    str_of(F::Level, &v, true)?
        .parse()
        .map_err(|e: tokpulse_core::ValueError| Problem::new(F::Level, e.0))
}

/// Free text, at most `max` bytes; `non_empty` refuses "".
fn text(f: F, v: Raw<'_>, max: usize, non_empty: bool) -> R<String> {
    let s: Cow<'_, str> = match v {
        Raw::Str(s) => s,
        Raw::Cell(s) => Cow::Borrowed(s),
        other => return Err(expected(f, "a string", &other)),
    };
    if s.len() > max {
        return Err(Problem::new(
            f,
            format!("must be at most {max} bytes, got {}", s.len()),
        ));
    }
    if non_empty && s.is_empty() {
        return Err(Problem::new(f, "must not be empty"));
    }
    Ok(s.into_owned())
}

/// A number as sent: JSON numbers as they are, CSV cells parsed.
enum Num {
    U(u64),
    I(i64),
    F(f64),
}

fn num(f: F, v: &Raw<'_>) -> R<Num> {
    match v {
        Raw::U64(n) => Ok(Num::U(*n)),
        Raw::I64(n) => Ok(Num::I(*n)),
        Raw::F64(n) => Ok(Num::F(*n)),
        Raw::Cell(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<u64>() {
                Ok(Num::U(n))
            } else if let Ok(n) = s.parse::<i64>() {
                Ok(Num::I(n))
            } else {
                match s.parse::<f64>() {
                    // "inf" and "NaN" parse as f64 but are no numbers here.
                    Ok(n) if n.is_finite() => Ok(Num::F(n)),
                    _ => Err(expected(f, "a number", v)),
                }
            }
        }
        _ => Err(expected(f, "a number", v)),
    }
}

/// An integer in `min..=max`; an integral float (`200.0`) counts.
fn integer(f: F, v: Raw<'_>, min: i64, max: i64) -> R<i64> {
    let n: i128 = match num(f, &v)? {
        Num::U(n) => i128::from(n),
        Num::I(n) => i128::from(n),
        Num::F(x) if x.fract() == 0.0 && x.abs() < 9.2e18 => x as i128,
        Num::F(x) => return Err(Problem::new(f, format!("expected an integer, got {x}"))),
    };
    if n < i128::from(min) || n > i128::from(max) {
        let what = if max == i64::MAX {
            format!("must be at least {min}")
        } else {
            format!("must be between {min} and {max}")
        };
        return Err(Problem::new(f, format!("{what}, got {n}")));
    }
    Ok(n as i64)
}

fn tokens(f: F, v: Raw<'_>) -> R<u64> {
    integer(f, v, 0, i64::MAX).map(|n| n as u64)
}

fn float(f: F, v: &Raw<'_>) -> R<f64> {
    Ok(match num(f, v)? {
        Num::U(n) => n as f64,
        Num::I(n) => n as f64,
        Num::F(x) => x,
    })
}

/// Milliseconds: finite, at least 0, under a day.
fn duration(f: F, v: Raw<'_>) -> R<f64> {
    let x = float(f, &v)?;
    if !(0.0..MAX_DURATION_MS).contains(&x) {
        return Err(Problem::new(
            f,
            format!("must be at least 0 and less than {MAX_DURATION_MS} (one day), got {x}"),
        ));
    }
    Ok(x)
}

fn cost(v: Raw<'_>) -> R<f64> {
    let x = float(F::CostUsd, &v)?;
    if x < 0.0 {
        return Err(Problem::new(
            F::CostUsd,
            format!("must be at least 0, got {x}"),
        ));
    }
    Ok(x)
}

fn boolean(f: F, v: Raw<'_>) -> R<bool> {
    match &v {
        Raw::Bool(b) => Ok(*b),
        Raw::Cell(s) => {
            let s = s.trim();
            if ["true", "1", "yes"]
                .iter()
                .any(|t| s.eq_ignore_ascii_case(t))
            {
                Ok(true)
            } else if ["false", "0", "no"]
                .iter()
                .any(|t| s.eq_ignore_ascii_case(t))
            {
                Ok(false)
            } else {
                Err(expected(f, "true or false", &v))
            }
        }
        _ => Err(expected(f, "true or false", &v)),
    }
}

fn timestamp(v: Raw<'_>) -> R<Timestamp> {
    const F_: F = F::Timestamp;
    let ms: i128 = match &v {
        Raw::U64(n) => i128::from(*n),
        Raw::I64(n) => i128::from(*n),
        Raw::F64(x) if x.fract() == 0.0 && x.abs() < 9.2e18 => *x as i128,
        Raw::F64(x) => {
            return Err(Problem::new(
                F_,
                format!("expected integer unix milliseconds or an RFC 3339 string, got {x}"),
            ));
        }
        Raw::Cell(s) if !s.trim().is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()) => {
            s.trim().parse::<i128>().unwrap_or(i128::MAX)
        }
        Raw::Str(_) | Raw::Cell(_) => {
            let s = str_of(F_, &v, true)?;
            return chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.to_utc())
                .map_err(|e| {
                    Problem::new(
                        F_,
                        format!(
                            "expected an RFC 3339 timestamp with an offset such as \
                             \"2024-05-01T12:00:00Z\", or integer unix milliseconds, \
                             got {:?} ({e})",
                            clip(s)
                        ),
                    )
                });
        }
        _ => {
            return Err(expected(
                F_,
                "an RFC 3339 string or integer unix milliseconds",
                &v,
            ));
        }
    };
    if (0..i128::from(MIN_UNIX_MS)).contains(&ms) {
        return Err(Problem::new(
            F_,
            format!("{ms} looks like unix seconds: send unix milliseconds or an RFC 3339 string"),
        ));
    }
    if ms < 0 {
        return Err(Problem::new(
            F_,
            format!("must not be before 1970, got {ms}"),
        ));
    }
    if ms > i128::from(MAX_UNIX_MS) {
        return Err(Problem::new(
            F_,
            format!(
                "{ms} is after the year 9999 as unix milliseconds (microseconds or nanoseconds?)"
            ),
        ));
    }
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .ok_or_else(|| Problem::new(F_, format!("{ms} is out of range")))
}

fn attributes(v: Option<Raw<'_>>) -> R<Attributes> {
    const F_: F = F::Attributes;
    let map = match v {
        None => return Ok(Attributes::new()),
        Some(Raw::Json(serde_json::Value::Object(map))) => map,
        Some(Raw::Cell(s)) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(other) => return Err(expected(F_, "a JSON object", &Raw::Json(other))),
            Err(e) => {
                return Err(Problem::new(
                    F_,
                    format!(
                        "invalid JSON: {} at column {}",
                        crate::error::json_message(&e),
                        e.column()
                    ),
                ));
            }
        },
        Some(other) => return Err(expected(F_, "a JSON object", &other)),
    };
    if map.is_empty() {
        return Ok(map);
    }
    if depth_exceeds(&map, MAX_ATTRIBUTES_DEPTH) {
        return Err(Problem::new(
            F_,
            format!("must be nested at most {MAX_ATTRIBUTES_DEPTH} levels deep"),
        ));
    }
    let mut w = Counter {
        n: 0,
        max: MAX_ATTRIBUTES_BYTES,
    };
    if serde_json::to_writer(&mut w, &map).is_err() || w.n > MAX_ATTRIBUTES_BYTES {
        return Err(Problem::new(
            F_,
            format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON"),
        ));
    }
    Ok(map)
}

/// Whether `map` (level 1) holds containers deeper than `max` levels.
fn depth_exceeds(map: &Attributes, max: usize) -> bool {
    fn value(v: &serde_json::Value, level: usize, max: usize) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                level > max || m.values().any(|v| value(v, level + 1, max))
            }
            serde_json::Value::Array(a) => {
                level > max || a.iter().any(|v| value(v, level + 1, max))
            }
            _ => false,
        }
    }
    map.values().any(|v| value(v, 2, max))
}

/// Counts bytes written and fails once past `max`, so an oversized value is not serialized
/// whole.
struct Counter {
    n: usize,
    max: usize,
}

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.n += buf.len();
        if self.n > self.max {
            return Err(std::io::Error::other("too large"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokpulse_core::RecordKind;

    fn raw(kind: RecordKind, s: &str) -> RawRecord<'_> {
        crate::raw::read_one(kind, s)
    }

    const OK: &str = r#""id":"r1","timestamp":"2024-05-01T12:00:00Z","service":"web""#;

    fn perf(extra: &str) -> R<PerformanceRecord> {
        let s = format!("{{{OK},{extra}}}");
        performance(&mut raw(RecordKind::Performance, &s))
    }

    fn perf_err(extra: &str) -> Problem {
        perf(extra).unwrap_err()
    }

    #[test]
    fn performance_defaults() {
        let r = perf(r#""route":"/a","status":200,"duration_ms":1.5"#).unwrap();
        assert_eq!(r.method.as_str(), "GET");
        assert_eq!(r.environment.as_str(), "production");
        assert_eq!(r.status_code, 200);
        assert_eq!(r.platform, None);
        assert!(r.attributes.is_empty());
        let r = perf(
            r#""route":"/a","status_code":200.0,"duration_ms":0,"method":"post","platform":"mobile","environment":null"#,
        )
        .unwrap();
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(r.platform, Some(Platform::Mobile));
        assert_eq!(r.environment.as_str(), "production");
    }

    #[test]
    fn each_problem_names_its_field() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#""route":"/a","status_code":200"#,
                "duration_ms",
                "missing required field `duration_ms`",
            ),
            (
                r#""route":"/a","status_code":"abc","duration_ms":1"#,
                "status_code",
                "expected a number, got \"abc\"",
            ),
            (
                r#""route":"/a","status_code":99,"duration_ms":1"#,
                "status_code",
                "must be between 100 and 599, got 99",
            ),
            (
                r#""route":"/a","status_code":600,"duration_ms":1"#,
                "status_code",
                "must be between 100 and 599, got 600",
            ),
            (
                r#""route":"/a","status_code":200.5,"duration_ms":1"#,
                "status_code",
                "expected an integer, got 200.5",
            ),
            (
                r#""route":"/a","status_code":200,"duration_ms":-1"#,
                "duration_ms",
                "must be at least 0 and less than 86400000 (one day), got -1",
            ),
            (
                r#""route":"/a","status_code":200,"duration_ms":86400000"#,
                "duration_ms",
                "must be at least 0 and less than 86400000 (one day), got 86400000",
            ),
            (
                r#""route":"/a","status_code":200,"duration_ms":[1]"#,
                "duration_ms",
                "expected a number, got an array",
            ),
            (
                r#""route":"","status_code":200,"duration_ms":1"#,
                "route",
                "must not be empty",
            ),
            (
                r#""route":7,"status_code":200,"duration_ms":1"#,
                "route",
                "expected a string, got 7",
            ),
            (
                r#""route":"/a","status_code":200,"duration_ms":1,"platform":"tv""#,
                "platform",
                "unknown platform \"tv\": expected web, api, mobile or worker",
            ),
            (
                r#""route":"/a","status_code":200,"duration_ms":1,"method":"GE T""#,
                "method",
                "' ' is not allowed: use ASCII letters, digits and . _ - : / +, got \"GE T\"",
            ),
            (
                r#""route":"/a","status_code":200,"duration_ms":1,"attributes":[1]"#,
                "attributes",
                "expected a JSON object, got an array",
            ),
        ];
        for (extra, field, reason) in cases {
            let p = perf_err(extra);
            assert_eq!(
                (p.field.as_ref(), p.reason.as_str()),
                (*field, *reason),
                "{extra}"
            );
        }
    }

    #[test]
    fn route_size_is_limited() {
        let long = "a".repeat(MAX_ROUTE_BYTES + 1);
        let p = perf_err(&format!(
            r#""route":"{long}","status_code":200,"duration_ms":1"#
        ));
        assert_eq!(p.field, "route");
        assert_eq!(
            p.reason,
            format!("must be at most 2048 bytes, got {}", MAX_ROUTE_BYTES + 1)
        );
    }

    #[test]
    fn label_and_id_rules_come_from_core() {
        let p = performance(&mut raw(
            RecordKind::Performance,
            r#"{"id":"a b","timestamp":1714564800000,"service":"web","route":"/","status":200,"duration_ms":1}"#,
        ))
        .unwrap_err();
        assert_eq!(p.field, "id");
        assert_eq!(
            p.reason,
            "must be visible ASCII characters without spaces, got \"a b\""
        );
        let p = performance(&mut raw(
            RecordKind::Performance,
            r#"{"id":"a","timestamp":1714564800000,"service":"jane@corp.io","route":"/","status":200,"duration_ms":1}"#,
        ))
        .unwrap_err();
        assert_eq!(p.field, "service");
        assert!(p.reason.starts_with("'@' is not allowed"), "{}", p.reason);
    }

    #[test]
    fn timestamps() {
        let ts = |v: &str| {
            let s = format!(
                r#"{{"id":"a","timestamp":{v},"service":"web","route":"/","status":200,"duration_ms":1}}"#
            );
            performance(&mut raw(RecordKind::Performance, &s)).map(|r| r.timestamp)
        };
        let want = chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(ts("1714564800000").unwrap(), want);
        assert_eq!(ts("1714564800000.0").unwrap(), want);
        assert_eq!(ts(r#""2024-05-01T14:00:00+02:00""#).unwrap(), want);
        let reason = |v: &str| ts(v).unwrap_err().reason;
        assert_eq!(
            reason("1714564800"),
            "1714564800 looks like unix seconds: send unix milliseconds or an RFC 3339 string"
        );
        assert!(reason("1714564800000000").contains("after the year 9999"));
        assert_eq!(reason("-5"), "must not be before 1970, got -5");
        assert!(reason(r#""2024-05-01 12:00""#).starts_with("expected an RFC 3339 timestamp"));
        assert_eq!(
            reason("true"),
            "expected an RFC 3339 string or integer unix milliseconds, got true"
        );
        assert!(reason("1.5").starts_with("expected integer unix milliseconds"));
    }

    #[test]
    fn attributes_are_limited_in_depth_and_size() {
        let deep = format!("{}1{}", "{\"a\":".repeat(8), "}".repeat(8));
        assert!(
            perf(&format!(
                r#""route":"/","status":200,"duration_ms":1,"attributes":{deep}"#
            ))
            .is_ok()
        );
        let deeper = format!("{}1{}", "{\"a\":".repeat(9), "}".repeat(9));
        let p = perf_err(&format!(
            r#""route":"/","status":200,"duration_ms":1,"attributes":{deeper}"#
        ));
        assert_eq!(
            (p.field.as_ref(), p.reason.as_str()),
            ("attributes", "must be nested at most 8 levels deep")
        );
        let big = "x".repeat(MAX_ATTRIBUTES_BYTES);
        let p = perf_err(&format!(
            r#""route":"/","status":200,"duration_ms":1,"attributes":{{"a":"{big}"}}"#
        ));
        assert_eq!(p.reason, "must be at most 65536 bytes as JSON");
    }

    #[test]
    fn ai_usage_rules() {
        let ai = |extra: &str| {
            let s = format!("{{{OK},{extra}}}");
            ai_usage(&mut raw(RecordKind::AiUsage, &s))
        };
        let r = ai(r#""model":"gpt-4o","prompt_tokens":10"#).unwrap();
        assert_eq!(r.provider.as_str(), "openai");
        assert_eq!(r.completion_tokens, 0);
        assert!(r.success);
        assert_eq!(r.cost_usd, None);
        let p = ai(r#""model":"gpt-4o","prompt_tokens":-1"#).unwrap_err();
        assert_eq!(
            (p.field.as_ref(), p.reason.as_str()),
            ("prompt_tokens", "must be at least 0, got -1")
        );
        let p = ai(r#""model":"gpt-4o","prompt_tokens":1.5"#).unwrap_err();
        assert_eq!(p.reason, "expected an integer, got 1.5");
        let p = ai(r#""model":"gpt-4o","prompt_tokens":1,"cost_usd":-0.1"#).unwrap_err();
        assert_eq!(
            (p.field.as_ref(), p.reason.as_str()),
            ("cost_usd", "must be at least 0, got -0.1")
        );
        let p = ai(r#""model":"gpt-4o","prompt_tokens":1,"success":"yes""#).unwrap_err();
        assert_eq!(
            (p.field.as_ref(), p.reason.as_str()),
            ("success", "expected true or false, got \"yes\"")
        );
        let p = ai(r#""prompt_tokens":1"#).unwrap_err();
        assert_eq!(
            (p.field.as_ref(), p.reason.as_str()),
            ("model", "missing required field `model`")
        );
    }

    #[test]
    fn log_and_deploy_rules() {
        let l = |extra: &str| {
            let s = format!("{{{OK},{extra}}}");
            log(&mut raw(RecordKind::Logs, &s))
        };
        assert_eq!(
            l(r#""level":"WARNING","message":"m""#).unwrap().level,
            LogLevel::Warn
        );
        let p = l(r#""level":"loud","message":"m""#).unwrap_err();
        assert_eq!(p.field, "level");
        assert!(
            p.reason.starts_with("unknown log level \"loud\""),
            "{}",
            p.reason
        );
        let big = "m".repeat(MAX_MESSAGE_BYTES + 1);
        let p = l(&format!(r#""level":"info","message":"{big}""#)).unwrap_err();
        assert_eq!(
            (p.field.as_ref(), p.reason.as_str()),
            ("message", "must be at most 32768 bytes, got 32769")
        );
        let d = |extra: &str| {
            let s = format!("{{{OK},{extra}}}");
            deploy(&mut raw(RecordKind::Deploys, &s))
        };
        let r = d(r#""version":"v1.2.3","commit_sha":"abc123""#).unwrap();
        assert_eq!(r.environment.as_str(), "production");
        let p = d(r#""version":"v1","attributes":{}"#).unwrap_err();
        assert_eq!(p.field, "attributes");
        assert!(
            p.reason
                .starts_with("unknown field `attributes`; expected one of `id`"),
            "{}",
            p.reason
        );
    }

    #[test]
    fn csv_cells_are_typed_by_field() {
        let mut r = RawRecord::new();
        for (f, v) in [
            (F::Id, " r1 "),
            (F::Timestamp, "1714564800000"),
            (F::Service, "web"),
            (F::Route, "/a b"),
            (F::StatusCode, " 404 "),
            (F::DurationMs, "2.5"),
            (F::Attributes, r#"{"k":[1,2]}"#),
        ] {
            r.set(f, Raw::Cell(v));
        }
        let p = performance(&mut r).unwrap();
        assert_eq!(p.id.as_str(), "r1");
        assert_eq!(p.route, "/a b");
        assert_eq!(p.status_code, 404);
        assert_eq!(p.duration_ms, 2.5);
        assert_eq!(p.attributes["k"], serde_json::json!([1, 2]));
        let mut r = RawRecord::new();
        r.set(F::DurationMs, Raw::Cell("NaN"));
        assert_eq!(
            duration(F::DurationMs, r.take(F::DurationMs).unwrap())
                .unwrap_err()
                .reason,
            "expected a number, got \"NaN\""
        );
        let p = attributes(Some(Raw::Cell("{\"a\":"))).unwrap_err();
        assert!(
            p.reason
                .starts_with("invalid JSON: EOF while parsing a value at column 5"),
            "{}",
            p.reason
        );
    }
}
