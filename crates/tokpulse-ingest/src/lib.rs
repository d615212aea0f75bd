//! TokPulse's ingest stage: request bodies (JSON, NDJSON, CSV; gzip or not) in, typed and
//! validated records out, through the privacy guard into the store, with an error per bad record
//! and the good ones in the same batch still taken.
//!
//! The pieces, in the order a body meets them:
//!
//! - [`decode_body`] undoes `Content-Encoding: gzip` and enforces a size limit on the raw and the
//!   decompressed body, so a gzip bomb is [`IngestError::TooLarge`], never an out-of-memory.
//! - [`Format::detect`] reads the `Content-Type` or sniffs the body; [`Format::from_path`] reads a
//!   file name (`.json`, `.ndjson`/`.jsonl`, `.csv`, each also `.gz`).
//! - [`parse`] turns a body into a [`Parsed`]: valid records of one [`RecordKind`](tokpulse_core::RecordKind), each with its
//!   index, plus a [`Rejection`] for every invalid one. It makes one pass with serde_json per
//!   record, borrowing strings from the body, and reads no clock.
//! - [`Ingestor`] checks timestamps against its clock, passes every record through the
//!   [`Guard`](tokpulse_guard::Guard) (a blocked record becomes a `Rejection` that names the
//!   field and entity type, never the value), writes the rest with one
//!   [`Store::insert_batch`](tokpulse_store::Store::insert_batch) and returns an
//!   [`IngestReport`] only after the commit. Parsing and guarding a large body takes
//!   milliseconds of CPU: on a multi-threaded tokio runtime the ingestor runs that part in
//!   `block_in_place`, so other requests keep being served meanwhile.
//!
//! ```
//! use tokpulse_core::RecordKind;
//! use tokpulse_ingest::{Format, ParsedBatch, decode_body, parse};
//!
//! let body = br#"{"id":"r1","timestamp":"2024-05-01T12:00:00Z","service":"web","route":"/cart","status":200,"duration_ms":41.5}
//! {"id":"r2","timestamp":1714564800000,"service":"web","route":"/cart","status":200,"duraton_ms":3}
//! "#;
//! let body = decode_body(body, None, 1 << 20).unwrap();
//! let format = Format::detect(Some("application/x-ndjson"), &body).unwrap();
//! let parsed = parse(RecordKind::Performance, format, &body).unwrap();
//!
//! let ParsedBatch::Performance(records) = &parsed.batch else { unreachable!() };
//! assert_eq!(records.len(), 1);
//! assert_eq!(records[0].1.method.as_str(), "GET");
//! let bad = &parsed.rejected[0];
//! assert_eq!((bad.index, bad.field.as_str()), (1, "duraton_ms"));
//! assert!(bad.reason.starts_with("unknown field `duraton_ms` (did you mean `duration_ms`?)"));
//! ```
//!
//! An HTTP handler strings them together like this (the [`Ingestor`] holds the guard and the
//! store):
//!
//! ```
//! use tokpulse_core::RecordKind;
//! use tokpulse_ingest::{Format, IngestError, IngestReport, Ingestor, decode_body};
//!
//! async fn handle(
//!     ingestor: &Ingestor,
//!     kind: RecordKind,
//!     content_type: Option<&str>,
//!     content_encoding: Option<&str>,
//!     raw: &[u8],
//! ) -> Result<IngestReport, (u16, &'static str, String)> {
//!     let run = async {
//!         let body = decode_body(raw, content_encoding, 16 << 20)?;
//!         let format = Format::detect(content_type, &body)?;
//!         ingestor.ingest(kind, format, &body).await
//!     };
//!     run.await.map_err(|e: IngestError| (e.status(), e.code(), e.to_string()))
//! }
//! ```
//!
//! # Formats
//!
//! - **JSON**: an array of objects, or one object. A body that is not JSON is
//!   [`IngestError::Malformed`] with line and column; an array element that is not an object is a
//!   rejection for its index.
//! - **NDJSON**: one object per line (`\n` or `\r\n`). Blank lines are skipped and not counted:
//!   a record's index is its 0-based position among the non-blank lines. A line that is not JSON
//!   is a rejection (`field` empty, `reason` "invalid JSON: … at line L, column C") and the other
//!   lines are still taken; a body with no valid line and at least one invalid is `Malformed`.
//! - **CSV**: a header row of field names (the same names as JSON), then one record per row,
//!   index = data row from 0. An empty cell is an absent value; numbers and booleans
//!   (`true`/`false`, `1`/`0`, `yes`/`no`) are parsed by the field's type; `attributes` holds a
//!   JSON object. An unknown or repeated column name is `Malformed` (the header is wrong, not a
//!   record); a row with the wrong number of cells is a rejection.
//!
//! Any body: not UTF-8 → [`IngestError::InvalidUtf8`] with the byte offset; more than
//! [`MAX_RECORDS`] records → [`IngestError::TooManyRecords`]; a UTF-8 byte-order mark is skipped.
//!
//! # Fields
//!
//! [`fields`] lists them with types and rules, for docs and OpenAPI. `null` is the same as
//! absent. An unknown field refuses the record ("unknown field `duraton_ms` (did you mean
//! `duration_ms`?); expected one of …"), as does a field sent twice. Each rejection reports the
//! record's first problem.
//!
//! Every kind: `id` (required; 1–128 visible ASCII characters), `timestamp` (required; RFC 3339
//! with an offset, or integer unix milliseconds — a value that looks like unix seconds is
//! refused; at most a day ahead of the ingestor's clock), `service` (required; a
//! [`Label`](tokpulse_core::Label)).
//!
//! | kind | fields |
//! | --- | --- |
//! | `performance` | `route` (required, ≤ 2 KiB), `method` (default `GET`, upper-cased), `status_code` (required, 100–599; alias `status`), `duration_ms` (required, 0 ≤ x < 86 400 000), `environment` (default `production`), `platform` (`web`, `api`, `mobile`, `worker`), `attributes` |
//! | `ai-usage` | `feature`, `provider` (default `openai`), `model` (required), `prompt_tokens` (required, integer ≥ 0), `completion_tokens` (default 0), `latency_ms` (0 ≤ x < 86 400 000), `success` (default `true`), `error_message` (≤ 32 KiB), `cost_usd` (≥ 0), `attributes` |
//! | `logs` | `level` (required: `trace`, `debug`, `info`, `warn`, `error`, `fatal`, any case, synonyms such as `warning`, `err`, `critical`), `message` (required, ≤ 32 KiB), `route` (≤ 2 KiB), `trace_id` (a label), `attributes` |
//! | `deploys` | `environment` (default `production`), `version` (required, a label), `commit_sha` (a label), `author` (≤ 256 bytes), `description` (≤ 32 KiB) |
//!
//! `attributes` is a JSON object of at most 64 KiB (as compact JSON) and 8 levels. Labels
//! (`service`, `method`, `environment`, `feature`, `provider`, `model`, `trace_id`, `version`,
//! `commit_sha`) are ASCII letters, digits and `. _ - : / +`; free text (`route`, `message`,
//! `error_message`, `author`, `description`, the strings and keys of `attributes`) is redacted
//! by the guard before it is stored.
//!
//! # Errors
//!
//! Problems with one record are [`Rejection`]s in the report. Problems with the whole body are
//! [`IngestError`]s, each with an HTTP status ([`IngestError::status`]) and a stable code
//! ([`IngestError::code`]): malformed 400, invalid UTF-8 400, too large 413, too many records
//! 413, unsupported media type or encoding 415, store unavailable 503.
#![warn(missing_docs)]

mod body;
pub mod ci;
mod error;
mod fields;
pub mod infra;
mod ingestor;
mod parse;
mod raw;
mod validate;

pub use body::{Format, decode_body};
pub use error::{IngestError, Location};
pub use fields::{
    FieldSpec, FieldType, MAX_ATTRIBUTES_BYTES, MAX_ATTRIBUTES_DEPTH, MAX_AUTHOR_BYTES,
    MAX_DURATION_MS, MAX_MESSAGE_BYTES, MAX_ROUTE_BYTES, fields,
};
pub use ingestor::{Clock, IngestReport, Ingestor, MAX_FUTURE, Pricer};
pub use parse::{MAX_RECORDS, Parsed, ParsedBatch, Rejection, parse};
