//! Ingest errors: what went wrong with a whole body, and the HTTP status each maps to.
//!
//! Problems with single records are not errors: they become [`Rejection`](crate::Rejection)s in
//! the report and the rest of the batch is still taken.

use serde::Serialize;
use std::fmt;
use tokpulse_store::StoreError;

/// Where in a body a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Location {
    /// A line and column, both 1-based (columns count bytes).
    LineColumn {
        /// Line, from 1.
        line: usize,
        /// Column, from 1 (0 when the problem is at the very end of the input).
        column: usize,
    },
    /// A whole line, from 1.
    Line {
        /// Line, from 1.
        line: u64,
    },
    /// A byte offset, from 0.
    Byte {
        /// Offset, from 0.
        offset: u64,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::LineColumn { line, column } => write!(f, "line {line}, column {column}"),
            Location::Line { line } => write!(f, "line {line}"),
            Location::Byte { offset } => write!(f, "byte {offset}"),
        }
    }
}

/// Why a whole body was refused. Each variant maps to one HTTP status ([`IngestError::status`])
/// and one stable machine-readable code ([`IngestError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body is not valid JSON, NDJSON, CSV or gzip as a whole (400).
    #[error("malformed body at {at}: {reason}")]
    Malformed {
        /// Where the problem is.
        at: Location,
        /// What is wrong.
        reason: String,
    },
    /// The body is not UTF-8 (400).
    #[error("body is not valid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Offset of the first byte that is not part of a valid UTF-8 sequence (in the
        /// decompressed body).
        offset: usize,
    },
    /// The body, before or after decompression, is larger than the limit (413).
    #[error("body is larger than the limit of {limit} bytes (compressed or decompressed)")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body's format could not be told (415).
    #[error("unsupported media type: {reason}")]
    UnsupportedMediaType {
        /// What was sent and what is accepted.
        reason: String,
    },
    /// A `Content-Encoding` other than `gzip` or `identity` (415).
    #[error("unsupported Content-Encoding {encoding:?}: expected gzip or identity")]
    UnsupportedEncoding {
        /// The encoding sent.
        encoding: String,
    },
    /// The body holds more records than one batch may (413).
    #[error("too many records in one batch: at most {max} are accepted; split the batch")]
    TooManyRecords {
        /// The most records a batch may hold ([`MAX_RECORDS`](crate::MAX_RECORDS)).
        max: usize,
    },
    /// The store failed; nothing of the batch was acknowledged and the client may retry (503).
    #[error("store unavailable: {0}")]
    Store(#[from] StoreError),
}

impl IngestError {
    /// The HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            IngestError::Malformed { .. } | IngestError::InvalidUtf8 { .. } => 400,
            IngestError::TooLarge { .. } | IngestError::TooManyRecords { .. } => 413,
            IngestError::UnsupportedMediaType { .. } | IngestError::UnsupportedEncoding { .. } => {
                415
            }
            IngestError::Store(_) => 503,
        }
    }

    /// A stable machine-readable code for API responses.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::Malformed { .. } => "malformed_body",
            IngestError::InvalidUtf8 { .. } => "invalid_utf8",
            IngestError::TooLarge { .. } => "payload_too_large",
            IngestError::UnsupportedMediaType { .. } => "unsupported_media_type",
            IngestError::UnsupportedEncoding { .. } => "unsupported_encoding",
            IngestError::TooManyRecords { .. } => "too_many_records",
            IngestError::Store(_) => "store_unavailable",
        }
    }

    /// Builds a [`IngestError::Malformed`] from a serde_json error, keeping its line and column.
    pub(crate) fn from_json(e: &serde_json::Error) -> Self {
        IngestError::Malformed {
            at: Location::LineColumn {
                line: e.line(),
                column: e.column(),
            },
            reason: format!("invalid JSON: {}", json_message(e)),
        }
    }
}

/// A serde_json error's message without the " at line L column C" it appends.
pub(crate) fn json_message(e: &serde_json::Error) -> String {
    let mut s = e.to_string();
    if let Some(i) = s.rfind(" at line ") {
        s.truncate(i);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let cases: Vec<(IngestError, u16, &str)> = vec![
            (
                IngestError::Malformed {
                    at: Location::LineColumn { line: 1, column: 2 },
                    reason: "x".into(),
                },
                400,
                "malformed_body",
            ),
            (IngestError::InvalidUtf8 { offset: 3 }, 400, "invalid_utf8"),
            (IngestError::TooLarge { limit: 1 }, 413, "payload_too_large"),
            (
                IngestError::UnsupportedMediaType { reason: "x".into() },
                415,
                "unsupported_media_type",
            ),
            (
                IngestError::UnsupportedEncoding {
                    encoding: "br".into(),
                },
                415,
                "unsupported_encoding",
            ),
            (
                IngestError::TooManyRecords { max: 10 },
                413,
                "too_many_records",
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status(), status, "{e}");
            assert_eq!(e.code(), code, "{e}");
        }
    }

    #[test]
    fn messages_say_what_and_where() {
        let e = IngestError::Malformed {
            at: Location::LineColumn { line: 3, column: 7 },
            reason: "invalid JSON: expected `,` or `}`".into(),
        };
        assert_eq!(
            e.to_string(),
            "malformed body at line 3, column 7: invalid JSON: expected `,` or `}`"
        );
        let e = serde_json::from_str::<serde_json::Value>("{\n  \"a\": tru }").unwrap_err();
        let m = IngestError::from_json(&e);
        assert!(
            m.to_string()
                .starts_with("malformed body at line 2, column "),
            "{m}"
        );
        assert!(
            !json_message(&e).contains(" at line "),
            "{}",
            json_message(&e)
        );
    }
}
