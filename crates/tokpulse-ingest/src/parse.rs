//! [`parse`]: a decoded body to typed, validated records plus per-record [`Rejection`]s.

use crate::body::{Format, strip_bom};
use crate::error::{IngestError, Location, json_message};
use crate::fields::{self, F};
use crate::raw::{Element, ElementSeed, Problem, Raw, RawRecord, read_map};
use crate::validate;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use tokpulse_core::{AiUsageRecord, DeployEvent, LogRecord, PerformanceRecord, RecordKind};

/// The most records one body (one batch) may hold.
pub const MAX_RECORDS: usize = 10_000;

/// A record that was not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The record's position in the body, from 0: the array index (JSON), the position among
    /// non-blank lines (NDJSON), the data row (CSV, header excluded).
    pub index: usize,
    /// The field at fault as it was sent (`""` when the record as a whole is at fault, such as
    /// invalid JSON or a value that is not an object).
    pub field: String,
    /// What is wrong. It quotes at most a short piece of what was sent, and never a value the
    /// privacy guard blocked.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "record {}: {}", self.index, self.reason)
        } else {
            write!(
                f,
                "record {}: field `{}`: {}",
                self.index, self.field, self.reason
            )
        }
    }
}

/// Valid records of one kind, each with its index in the body.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedBatch {
    /// Performance records.
    Performance(Vec<(usize, PerformanceRecord)>),
    /// AI usage records.
    AiUsage(Vec<(usize, AiUsageRecord)>),
    /// Log records.
    Logs(Vec<(usize, LogRecord)>),
    /// Deployments.
    Deploys(Vec<(usize, DeployEvent)>),
}

impl ParsedBatch {
    /// An empty batch of `kind`.
    pub fn empty(kind: RecordKind) -> Self {
        match kind {
            RecordKind::Performance => ParsedBatch::Performance(Vec::new()),
            RecordKind::AiUsage => ParsedBatch::AiUsage(Vec::new()),
            RecordKind::Logs => ParsedBatch::Logs(Vec::new()),
            RecordKind::Deploys => ParsedBatch::Deploys(Vec::new()),
        }
    }

    /// The kind of records it holds.
    pub fn kind(&self) -> RecordKind {
        match self {
            ParsedBatch::Performance(_) => RecordKind::Performance,
            ParsedBatch::AiUsage(_) => RecordKind::AiUsage,
            ParsedBatch::Logs(_) => RecordKind::Logs,
            ParsedBatch::Deploys(_) => RecordKind::Deploys,
        }
    }

    /// How many valid records.
    pub fn len(&self) -> usize {
        match self {
            ParsedBatch::Performance(v) => v.len(),
            ParsedBatch::AiUsage(v) => v.len(),
            ParsedBatch::Logs(v) => v.len(),
            ParsedBatch::Deploys(v) => v.len(),
        }
    }

    /// Whether it holds no valid record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn reserve(&mut self, n: usize) {
        match self {
            ParsedBatch::Performance(v) => v.reserve(n),
            ParsedBatch::AiUsage(v) => v.reserve(n),
            ParsedBatch::Logs(v) => v.reserve(n),
            ParsedBatch::Deploys(v) => v.reserve(n),
        }
    }

    fn shift(&mut self, by: usize) {
        fn go<T>(v: &mut [(usize, T)], by: usize) {
            v.iter_mut().for_each(|(i, _)| *i += by);
        }
        match self {
            ParsedBatch::Performance(v) => go(v, by),
            ParsedBatch::AiUsage(v) => go(v, by),
            ParsedBatch::Logs(v) => go(v, by),
            ParsedBatch::Deploys(v) => go(v, by),
        }
    }
}

/// What [`parse`] made of a body: the valid records, the rejected ones, and how many there were.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The valid records.
    pub batch: ParsedBatch,
    /// The records refused, in index order.
    pub rejected: Vec<Rejection>,
    /// How many records the body held (`batch.len() + rejected.len()`).
    pub total: usize,
}

impl Parsed {
    /// Adds `by` to every index, for a body parsed in chunks (the CLI streaming a large file):
    /// parse each chunk, then shift it by the number of records before it.
    pub fn offset_indices(&mut self, by: usize) {
        self.batch.shift(by);
        self.rejected.iter_mut().for_each(|r| r.index += by);
    }
}

/// Parses and validates a decoded body of `kind` records in `format`.
///
/// Only problems with the body as a whole are errors: it is not UTF-8
/// ([`IngestError::InvalidUtf8`]), it is not JSON at all or not an array or object
/// ([`IngestError::Malformed`], with line and column), an NDJSON body none of whose lines is
/// JSON (`Malformed`), a CSV header naming an unknown or repeated column (`Malformed`), more than
/// [`MAX_RECORDS`] records ([`IngestError::TooManyRecords`]). Everything wrong with one record
/// (invalid JSON on its NDJSON line, not an object, an unknown field, a wrong type, a missing
/// field, a value out of range) is a [`Rejection`] naming its index and field, and the other
/// records are still taken. A UTF-8 byte-order mark is skipped.
///
/// No clock is read here: the "not in the future" check belongs to the
/// [`Ingestor`](crate::Ingestor).
pub fn parse(kind: RecordKind, format: Format, body: &[u8]) -> Result<Parsed, IngestError> {
    let text = std::str::from_utf8(body).map_err(|e| IngestError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let bom = body.len() - strip_bom(body).len();
    let text = &text[bom..];
    let mut c = Collector::new(kind);
    match format {
        Format::Json => json(text, &mut c)?,
        Format::Ndjson => ndjson(text, &mut c)?,
        Format::Csv => csv(text, &mut c)?,
    }
    c.rejected.sort_by_key(|r| r.index);
    Ok(Parsed {
        batch: c.batch,
        rejected: c.rejected,
        total: c.total,
    })
}

/// Receives each element in body order and sorts it into the batch or the rejections.
struct Collector {
    kind: RecordKind,
    batch: ParsedBatch,
    rejected: Vec<Rejection>,
    total: usize,
}

impl Collector {
    fn new(kind: RecordKind) -> Self {
        Collector {
            kind,
            batch: ParsedBatch::empty(kind),
            rejected: Vec::new(),
            total: 0,
        }
    }

    /// The index of the next element, or `TooManyRecords` if there may be no more.
    fn next_index(&mut self) -> Result<usize, IngestError> {
        if self.total >= MAX_RECORDS {
            return Err(IngestError::TooManyRecords { max: MAX_RECORDS });
        }
        self.total += 1;
        Ok(self.total - 1)
    }

    fn reject(&mut self, index: usize, p: Problem) {
        self.rejected.push(Rejection {
            index,
            field: p.field.into_owned(),
            reason: p.reason,
        });
    }

    /// Validates the record in `raw` (if `el` says there is one) and empties `raw`.
    fn accept(&mut self, index: usize, el: Element, raw: &mut RawRecord<'_>) {
        if let Element::NotObject(t) = el {
            raw.clear();
            let p = Problem::whole(format!("expected a JSON object, got {t}"));
            return self.reject(index, p);
        }
        let res = match &mut self.batch {
            ParsedBatch::Performance(v) => validate::performance(raw).map(|r| v.push((index, r))),
            ParsedBatch::AiUsage(v) => validate::ai_usage(raw).map(|r| v.push((index, r))),
            ParsedBatch::Logs(v) => validate::log(raw).map(|r| v.push((index, r))),
            ParsedBatch::Deploys(v) => validate::deploy(raw).map(|r| v.push((index, r))),
        };
        raw.clear();
        if let Err(p) = res {
            self.reject(index, p);
        }
    }
}

// --- JSON ---------------------------------------------------------------------------------------

fn json(text: &str, c: &mut Collector) -> Result<(), IngestError> {
    if text.trim_ascii().is_empty() {
        return Err(IngestError::Malformed {
            at: Location::LineColumn { line: 1, column: 1 },
            reason: "the body is empty: expected a JSON array of objects, or one object".into(),
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let mut too_many = false;
    let res = Top {
        c: &mut *c,
        too_many: &mut too_many,
        raw: RawRecord::new(),
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if too_many {
        return Err(IngestError::TooManyRecords { max: MAX_RECORDS });
    }
    res.map_err(|e| {
        let mut err = IngestError::from_json(&e);
        // The common mistake: NDJSON sent as `application/json`.
        if let IngestError::Malformed { reason, .. } = &mut err
            && e.line() > 1
            && json_message(&e) == "trailing characters"
        {
            reason.push_str(
                " (one JSON value per line is NDJSON: send Content-Type application/x-ndjson)",
            );
        }
        err
    })
}

/// The top of a JSON body: an array of elements, or one object.
struct Top<'c, 'a> {
    c: &'c mut Collector,
    too_many: &'c mut bool,
    raw: RawRecord<'a>,
}

impl<'de> DeserializeSeed<'de> for Top<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects, or one object")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        if let Some(n) = seq.size_hint() {
            self.c.batch.reserve(n.min(MAX_RECORDS));
        }
        let kind = self.c.kind;
        while let Some(el) = seq.next_element_seed(ElementSeed {
            kind,
            raw: &mut self.raw,
        })? {
            let Ok(index) = self.c.next_index() else {
                *self.too_many = true;
                return Err(de::Error::custom("too many records"));
            };
            self.c.accept(index, el, &mut self.raw);
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<(), A::Error> {
        read_map(self.c.kind, map, &mut self.raw)?;
        // One object: the first element of a body that holds at most one.
        let index = self
            .c
            .next_index()
            .map_err(|_| de::Error::custom("too many records"))?;
        self.c.accept(index, Element::Record, &mut self.raw);
        Ok(())
    }
}

// --- NDJSON -------------------------------------------------------------------------------------

fn ndjson(text: &str, c: &mut Collector) -> Result<(), IngestError> {
    // A guess (records are rarely under 64 bytes) that saves most of the doubling series.
    c.batch.reserve((text.len() / 64 + 1).min(MAX_RECORDS));
    let mut raw = RawRecord::new();
    let mut valid = 0usize;
    let mut first_error: Option<IngestError> = None;
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim_ascii_start().is_empty() {
            continue;
        }
        let index = c.next_index()?;
        let mut de = serde_json::Deserializer::from_str(line);
        let parsed = ElementSeed {
            kind: c.kind,
            raw: &mut raw,
        }
        .deserialize(&mut de)
        .and_then(|el| de.end().map(|()| el));
        match parsed {
            Ok(el) => {
                valid += 1;
                c.accept(index, el, &mut raw);
            }
            Err(e) => {
                raw.clear();
                let line_no = n + 1;
                c.reject(
                    index,
                    Problem::whole(format!(
                        "invalid JSON: {} at line {line_no}, column {}",
                        json_message(&e),
                        e.column()
                    )),
                );
                if first_error.is_none() {
                    first_error = Some(IngestError::Malformed {
                        at: Location::LineColumn {
                            line: line_no,
                            column: e.column(),
                        },
                        reason: format!(
                            "no line is valid JSON; the first error: {}",
                            json_message(&e)
                        ),
                    });
                }
            }
        }
    }
    match first_error {
        Some(e) if valid == 0 => Err(e),
        _ => Ok(()),
    }
}

// --- CSV ----------------------------------------------------------------------------------------

fn csv(text: &str, c: &mut Collector) -> Result<(), IngestError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(csv_error)?.clone();
    let mut columns: Vec<F> = Vec::with_capacity(headers.len());
    for (i, name) in headers.iter().enumerate() {
        let header_error = |reason: String| IngestError::Malformed {
            at: Location::Line { line: 1 },
            reason: format!("CSV header, column {}: {reason}", i + 1),
        };
        if name.is_empty() {
            return Err(header_error("has no name".into()));
        }
        let Some(f) = fields::lookup(c.kind, name) else {
            return Err(header_error(crate::raw::unknown_field(c.kind, name).reason));
        };
        if let Some(j) = columns.iter().position(|g| *g == f) {
            return Err(header_error(format!(
                "`{}` is the same field as column {}",
                crate::raw::clip(name),
                j + 1
            )));
        }
        columns.push(f);
    }
    let mut row = csv::StringRecord::new();
    while rdr.read_record(&mut row).map_err(csv_error)? {
        let index = c.next_index()?;
        if row.len() != columns.len() {
            let line = row.position().map_or(0, |p| p.line());
            c.reject(
                index,
                Problem::whole(format!(
                    "the row on line {line} has {} cells, the header has {}",
                    row.len(),
                    columns.len()
                )),
            );
            continue;
        }
        let mut raw = RawRecord::new();
        for (f, cell) in columns.iter().zip(row.iter()) {
            // An empty cell is an absent value.
            if !cell.trim_ascii().is_empty() {
                raw.set(*f, Raw::Cell(cell));
            }
        }
        c.accept(index, Element::Record, &mut raw);
    }
    Ok(())
}

fn csv_error(e: csv::Error) -> IngestError {
    let at = match e.position() {
        Some(p) => Location::Line { line: p.line() },
        None => Location::Byte { offset: 0 },
    };
    IngestError::Malformed {
        at,
        reason: format!("invalid CSV: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = r#"{"id":"a","timestamp":"2024-05-01T12:00:00Z","service":"web","route":"/a","status":200,"duration_ms":12.5}"#;
    const B: &str = r#"{"id":"b","timestamp":1714564800000,"service":"web","route":"/b","status_code":500,"duration_ms":3}"#;

    fn ids(p: &Parsed) -> Vec<(usize, String)> {
        match &p.batch {
            ParsedBatch::Performance(v) => v.iter().map(|(i, r)| (*i, r.id.to_string())).collect(),
            other => panic!("{other:?}"),
        }
    }

    fn rejections(p: &Parsed) -> Vec<(usize, &str, &str)> {
        p.rejected
            .iter()
            .map(|r| (r.index, r.field.as_str(), r.reason.as_str()))
            .collect()
    }

    fn perf(format: Format, body: &str) -> Result<Parsed, IngestError> {
        parse(RecordKind::Performance, format, body.as_bytes())
    }

    #[test]
    fn json_array_and_single_object() {
        let p = perf(Format::Json, &format!("[{A},{B}]")).unwrap();
        assert_eq!(ids(&p), [(0, "a".into()), (1, "b".into())]);
        assert_eq!(p.total, 2);
        let p = perf(Format::Json, A).unwrap();
        assert_eq!(ids(&p), [(0, "a".into())]);
        let p = perf(Format::Json, "[]").unwrap();
        assert_eq!((p.total, p.batch.len()), (0, 0));
    }

    #[test]
    fn json_elements_that_are_not_objects_are_rejected_by_index() {
        let p = perf(Format::Json, &format!("[{A}, 3, \"x\", null, [1], {B}]")).unwrap();
        assert_eq!(ids(&p), [(0, "a".into()), (5, "b".into())]);
        assert_eq!(
            rejections(&p),
            [
                (1, "", "expected a JSON object, got a number"),
                (2, "", "expected a JSON object, got a string"),
                (3, "", "expected a JSON object, got null"),
                (4, "", "expected a JSON object, got an array"),
            ]
        );
    }

    #[test]
    fn malformed_json_says_line_and_column() {
        let e = perf(Format::Json, &format!("[{A},\n  {{\"id\": }}]")).unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.code(), "malformed_body");
        assert!(
            matches!(
                e,
                IngestError::Malformed {
                    at: Location::LineColumn {
                        line: 2,
                        column: 10
                    },
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "malformed body at line 2, column 10: invalid JSON: expected value"
        );
        let e = perf(Format::Json, "42").unwrap_err();
        assert!(
            e.to_string()
                .contains("expected an array of objects, or one object"),
            "{e}"
        );
        let e = perf(Format::Json, &format!("{A} {B}")).unwrap_err();
        assert!(
            e.to_string().ends_with("invalid JSON: trailing characters"),
            "{e}"
        );
        let e = perf(Format::Json, &format!("{A}\n{B}\n")).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("send Content-Type application/x-ndjson)"),
            "{e}"
        );
        let e = perf(Format::Json, " ").unwrap_err();
        assert!(e.to_string().contains("the body is empty"), "{e}");
    }

    #[test]
    fn ndjson_takes_good_lines_and_rejects_bad_ones() {
        let body = format!("{A}\n\n  \n{{\"id\": \n42\r\n{B}\r\n");
        let p = perf(Format::Ndjson, &body).unwrap();
        // Indices count non-blank lines: A=0, broken=1, 42=2, B=3.
        assert_eq!(ids(&p), [(0, "a".into()), (3, "b".into())]);
        assert_eq!(
            rejections(&p),
            [
                (
                    1,
                    "",
                    "invalid JSON: EOF while parsing a value at line 4, column 7"
                ),
                (2, "", "expected a JSON object, got a number"),
            ]
        );
        assert_eq!(p.total, 4);
    }

    #[test]
    fn ndjson_with_no_valid_line_is_malformed() {
        let e = perf(Format::Ndjson, "\nnot json\n{also not}\n").unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.to_string(),
            "malformed body at line 2, column 2: no line is valid JSON; the first error: expected ident"
        );
        // An empty stream is zero records, not an error.
        assert_eq!(perf(Format::Ndjson, "").unwrap().total, 0);
        assert_eq!(perf(Format::Ndjson, "\n \n").unwrap().total, 0);
    }

    #[test]
    fn invalid_utf8_anywhere_says_where() {
        let mut body = format!("{A}\n{B}").into_bytes();
        body[A.len() + 10] = 0xff;
        for f in Format::ALL {
            let e = parse(RecordKind::Performance, f, &body).unwrap_err();
            assert!(
                matches!(e, IngestError::InvalidUtf8 { offset } if offset == A.len() + 10),
                "{e}"
            );
            assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn too_many_records() {
        let line = format!("{A}\n");
        let body = line.repeat(MAX_RECORDS);
        assert_eq!(perf(Format::Ndjson, &body).unwrap().total, MAX_RECORDS);
        let body = line.repeat(MAX_RECORDS + 1);
        let e = perf(Format::Ndjson, &body).unwrap_err();
        assert!(
            matches!(e, IngestError::TooManyRecords { max: MAX_RECORDS }),
            "{e}"
        );
        assert_eq!(e.status(), 413);
        let body = format!("[{}]", vec!["{}"; MAX_RECORDS + 1].join(","));
        let e = perf(Format::Json, &body).unwrap_err();
        assert!(matches!(e, IngestError::TooManyRecords { .. }), "{e}");
        let body = format!("id\n{}", "x\n".repeat(MAX_RECORDS + 1));
        let e = perf(Format::Csv, &body).unwrap_err();
        assert!(matches!(e, IngestError::TooManyRecords { .. }), "{e}");
    }

    #[test]
    fn csv_rows() {
        let body = "\u{feff}id, timestamp ,service,route,method,status_code,duration_ms,platform,attributes\n\
                    a,2024-05-01T12:00:00Z,web,/a,post,200,12.5,,\n\
                    b,1714564800000,web,\"/b,c\",,500,3,api,\"{\"\"k\"\":1}\"\n\
                    c,1714564800000,web,/c,,abc,3,,\n\
                    d,1714564800000,web\n\
                    e,1714564800000,web,/e,,200,1,,[1]\n";
        let p = perf(Format::Csv, body).unwrap();
        assert_eq!(ids(&p), [(0, "a".into()), (1, "b".into())]);
        let ParsedBatch::Performance(v) = &p.batch else {
            panic!()
        };
        assert_eq!(v[0].1.method.as_str(), "POST");
        assert_eq!(v[1].1.route, "/b,c");
        assert_eq!(v[1].1.attributes["k"], 1);
        assert_eq!(
            rejections(&p),
            [
                (2, "status_code", "expected a number, got \"abc\""),
                (3, "", "the row on line 5 has 3 cells, the header has 9"),
                (4, "attributes", "expected a JSON object, got an array"),
            ]
        );
    }

    #[test]
    fn csv_header_problems_are_malformed() {
        let e = perf(Format::Csv, "id,duraton_ms\n1,2\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "malformed body at line 1: CSV header, column 2: unknown field `duraton_ms` (did you mean `duration_ms`?); expected one of {}",
                fields::expected_list(RecordKind::Performance)
            )
        );
        let e = perf(Format::Csv, "id,status,status_code\n").unwrap_err();
        assert!(
            e.to_string()
                .ends_with("column 3: `status_code` is the same field as column 2"),
            "{e}"
        );
        let e = perf(Format::Csv, "id,,route\n").unwrap_err();
        assert!(e.to_string().ends_with("column 2: has no name"), "{e}");
        assert_eq!(perf(Format::Csv, "").unwrap().total, 0);
    }

    #[test]
    fn every_kind_parses() {
        let ts = r#""id":"x","timestamp":"2024-05-01T12:00:00Z","service":"web""#;
        let p = parse(
            RecordKind::AiUsage,
            Format::Ndjson,
            format!("{{{ts},\"model\":\"gpt-4o\",\"prompt_tokens\":5,\"completion_tokens\":7,\"cost_usd\":0.01,\"success\":false,\"error_message\":\"rate limited\"}}").as_bytes(),
        )
        .unwrap();
        let ParsedBatch::AiUsage(v) = p.batch else {
            panic!()
        };
        assert_eq!(
            (
                v[0].1.prompt_tokens,
                v[0].1.completion_tokens,
                v[0].1.success
            ),
            (5, 7, false)
        );
        let p = parse(
            RecordKind::Logs,
            Format::Json,
            format!("[{{{ts},\"level\":\"ERR\",\"message\":\"boom\",\"trace_id\":\"abc\"}}]")
                .as_bytes(),
        )
        .unwrap();
        let ParsedBatch::Logs(v) = p.batch else {
            panic!()
        };
        assert_eq!(v[0].1.trace_id.as_ref().unwrap().as_str(), "abc");
        let p = parse(
            RecordKind::Deploys,
            Format::Csv,
            b"id,timestamp,service,version,author\nd1,2024-05-01T12:00:00Z,api,v2,Jane Roe\n",
        )
        .unwrap();
        let ParsedBatch::Deploys(v) = p.batch else {
            panic!()
        };
        assert_eq!(v[0].1.author.as_deref(), Some("Jane Roe"));
    }

    #[test]
    fn offsets_shift_indices() {
        let mut p = perf(Format::Ndjson, &format!("{A}\n42\n")).unwrap();
        p.offset_indices(100);
        assert_eq!(ids(&p), [(100, "a".into())]);
        assert_eq!(p.rejected[0].index, 101);
    }

    #[test]
    fn rejection_display() {
        let r = Rejection {
            index: 3,
            field: "route".into(),
            reason: "must not be empty".into(),
        };
        assert_eq!(r.to_string(), "record 3: field `route`: must not be empty");
        let r = Rejection {
            index: 3,
            field: String::new(),
            reason: "x".into(),
        };
        assert_eq!(r.to_string(), "record 3: x");
    }
}
