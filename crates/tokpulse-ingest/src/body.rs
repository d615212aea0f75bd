//! Bodies as they arrive: their encoding ([`decode_body`]) and format ([`Format`]).

use crate::error::{IngestError, Location};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// The format of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A JSON array of objects, or one object.
    Json,
    /// Newline-delimited JSON: one object per line.
    Ndjson,
    /// Comma-separated values with a header row of field names.
    Csv,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Json, Format::Ndjson, Format::Csv];

    /// The format named by a `Content-Type` (`application/json`, `application/x-ndjson`,
    /// `application/ndjson`, `application/jsonl`, `text/csv`; parameters such as `charset` are
    /// ignored). Without one, or with any other, the body is sniffed: a first non-blank byte `[`
    /// is JSON; `{` is JSON when one value fills the body and NDJSON when more follow; a first
    /// line of comma-separated names is CSV. A body that is none of these is
    /// [`IngestError::UnsupportedMediaType`].
    pub fn detect(content_type: Option<&str>, body: &[u8]) -> Result<Format, IngestError> {
        if let Some(ct) = content_type {
            let mime = ct.split(';').next().unwrap_or_default().trim();
            let is = |m: &str| mime.eq_ignore_ascii_case(m);
            if is("application/json") || is("text/json") {
                return Ok(Format::Json);
            }
            if is("application/x-ndjson")
                || is("application/ndjson")
                || is("application/jsonl")
                || is("application/x-jsonl")
                || is("application/jsonlines")
                || is("application/x-jsonlines")
            {
                return Ok(Format::Ndjson);
            }
            if is("text/csv") || is("application/csv") {
                return Ok(Format::Csv);
            }
            let lower = mime.to_ascii_lowercase();
            if lower.starts_with("application/") && lower.ends_with("+json") {
                return Ok(Format::Json);
            }
        }
        sniff(content_type, body)
    }

    /// The format a file's name says: `.json`, `.ndjson` or `.jsonl`, `.csv`, each also with
    /// `.gz` after it (case-insensitive). `None` for anything else.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let (_, ext) = name.rsplit_once('.')?;
        match ext {
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The name (`json`, `ndjson`, `csv`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }

    /// The canonical `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            "csv" => Ok(Format::Csv),
            _ => Err(format!(
                "unknown format {s:?}: expected json, ndjson or csv"
            )),
        }
    }
}

/// The body without a UTF-8 byte-order mark.
pub(crate) fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)
}

fn sniff(content_type: Option<&str>, body: &[u8]) -> Result<Format, IngestError> {
    let body = strip_bom(body).trim_ascii_start();
    let first = match body.first() {
        None => {
            return Err(IngestError::Malformed {
                at: Location::Byte { offset: 0 },
                reason: "the body is empty: expected JSON, NDJSON or CSV records".into(),
            });
        }
        Some(b) => *b,
    };
    match first {
        b'[' => Ok(Format::Json),
        b'{' => {
            let mut values =
                serde_json::Deserializer::from_slice(body).into_iter::<serde::de::IgnoredAny>();
            match values.next() {
                Some(Ok(_)) => {
                    let rest = &body[values.byte_offset()..];
                    if rest.trim_ascii().is_empty() {
                        Ok(Format::Json)
                    } else {
                        Ok(Format::Ndjson)
                    }
                }
                // The first value is broken: NDJSON if one of the next lines is a whole object
                // on its own (the records around a broken one), else JSON, whose error then
                // points at the break.
                _ => {
                    let later_record = body
                        .split(|b| *b == b'\n')
                        .skip(1)
                        .map(<[u8]>::trim_ascii)
                        .filter(|l| !l.is_empty())
                        .take(3)
                        .any(|l| {
                            l.starts_with(b"{")
                                && serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok()
                        });
                    Ok(if later_record {
                        Format::Ndjson
                    } else {
                        Format::Json
                    })
                }
            }
        }
        _ if looks_like_csv_header(body) => Ok(Format::Csv),
        _ => Err(IngestError::UnsupportedMediaType {
            reason: format!(
                "{}the body is not JSON, NDJSON or CSV; send Content-Type application/json, \
                 application/x-ndjson or text/csv",
                match content_type {
                    Some(ct) => format!(
                        "Content-Type {:?} is not one TokPulse reads and ",
                        crate::raw::clip(ct)
                    ),
                    None => String::new(),
                }
            ),
        }),
    }
}

/// A first line of at least two comma-separated names (`id,timestamp,service…`).
fn looks_like_csv_header(body: &[u8]) -> bool {
    let line = body.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let cells: Vec<&[u8]> = line.split(|b| *b == b',').collect();
    cells.len() >= 2
        && cells.iter().all(|c| {
            let c = c.trim_ascii();
            let c = c
                .strip_prefix(b"\"")
                .and_then(|c| c.strip_suffix(b"\""))
                .unwrap_or(c);
            !c.is_empty() && c.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        })
}

/// The body, decompressed if `content_encoding` says `gzip` (or `x-gzip`); as it is for
/// `identity` or none. Any other encoding is [`IngestError::UnsupportedEncoding`].
///
/// `limit` bounds both the raw and the decompressed size: a body over it, or a small gzip body
/// that would inflate past it (a "gzip bomb"), is [`IngestError::TooLarge`]. Decompression stops
/// at `limit + 1` bytes, so memory stays bounded whatever the ratio. Corrupt gzip data is
/// [`IngestError::Malformed`] with the offset in the compressed body where it was found.
pub fn decode_body<'a>(
    raw: &'a [u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Cow<'a, [u8]>, IngestError> {
    if raw.len() > limit {
        return Err(IngestError::TooLarge { limit });
    }
    let encoding = content_encoding.map(str::trim).unwrap_or_default();
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        return Ok(Cow::Borrowed(raw));
    }
    if !(encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip")) {
        return Err(IngestError::UnsupportedEncoding {
            encoding: crate::raw::clip(encoding).into_owned(),
        });
    }
    // `bufread` over the slice itself: what is left of it tells where an error was found.
    let mut decoder = flate2::bufread::MultiGzDecoder::new(raw);
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
    let read = (&mut decoder).take(limit as u64 + 1).read_to_end(&mut out);
    if let Err(e) = read {
        let consumed = raw.len() - decoder.get_ref().len();
        return Err(IngestError::Malformed {
            at: Location::Byte {
                offset: consumed as u64,
            },
            reason: format!("invalid gzip data: {e}"),
        });
    }
    if out.len() > limit {
        return Err(IngestError::TooLarge { limit });
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn content_types() {
        let d = |ct: &str| Format::detect(Some(ct), b"").unwrap();
        assert_eq!(d("application/json"), Format::Json);
        assert_eq!(d("application/json; charset=utf-8"), Format::Json);
        assert_eq!(d("Application/JSON"), Format::Json);
        assert_eq!(d("application/x-ndjson"), Format::Ndjson);
        assert_eq!(d("application/ndjson"), Format::Ndjson);
        assert_eq!(d("application/jsonl"), Format::Ndjson);
        assert_eq!(d("text/csv; header=present"), Format::Csv);
        assert_eq!(d("application/vnd.api+json"), Format::Json);
    }

    #[test]
    fn sniffing() {
        let s = |b: &str| Format::detect(None, b.as_bytes());
        assert_eq!(s("  [{}]").unwrap(), Format::Json);
        assert_eq!(s("{\"a\":1}\n").unwrap(), Format::Json);
        assert_eq!(s("{\n  \"a\": 1\n}\n").unwrap(), Format::Json);
        assert_eq!(s("{\"a\":1}\n{\"a\":2}\n").unwrap(), Format::Ndjson);
        assert_eq!(s("\u{feff}{\"a\":1}\n{\"a\":2}").unwrap(), Format::Ndjson);
        // A broken first record among good ones is NDJSON; a broken pretty document is JSON.
        assert_eq!(s("{\"a\":\n{\"a\":2}\n").unwrap(), Format::Ndjson);
        assert_eq!(s("{\n  \"a\": 1,\n  \"b\": tru\n}").unwrap(), Format::Json);
        assert_eq!(s("id,timestamp,service\n1,2,3\n").unwrap(), Format::Csv);
        // An unknown content type is sniffed too.
        assert_eq!(
            Format::detect(Some("text/plain"), b"[]").unwrap(),
            Format::Json
        );
        let e = s("<xml/>").unwrap_err();
        assert_eq!(e.status(), 415);
        assert!(e.to_string().contains("application/x-ndjson"), "{e}");
        let e = Format::detect(Some("application/xml"), b"<xml/>").unwrap_err();
        assert!(e.to_string().contains("\"application/xml\""), "{e}");
        assert_eq!(s("  \n").unwrap_err().status(), 400);
    }

    #[test]
    fn paths() {
        let p = |s: &str| Format::from_path(Path::new(s));
        assert_eq!(p("a/b.json"), Some(Format::Json));
        assert_eq!(p("b.JSONL"), Some(Format::Ndjson));
        assert_eq!(p("b.ndjson.gz"), Some(Format::Ndjson));
        assert_eq!(p("b.csv.gz"), Some(Format::Csv));
        assert_eq!(p("b.txt"), None);
        assert_eq!(p("json"), None);
        assert_eq!(p("b.gz"), None);
    }

    #[test]
    fn identity_is_borrowed() {
        let body = b"[1]";
        assert!(matches!(
            decode_body(body, None, 10).unwrap(),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            decode_body(body, Some("identity"), 10).unwrap(),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            decode_body(body, Some("br"), 10).unwrap_err(),
            IngestError::UnsupportedEncoding { encoding } if encoding == "br"
        ));
        assert!(matches!(
            decode_body(body, None, 2).unwrap_err(),
            IngestError::TooLarge { limit: 2 }
        ));
    }

    #[test]
    fn gzip_round_trip() {
        let body = b"{\"a\":1}\n{\"a\":2}\n".repeat(100);
        let z = gzip(&body);
        assert_eq!(
            decode_body(&z, Some("gzip"), body.len()).unwrap().as_ref(),
            body.as_slice()
        );
        assert_eq!(
            decode_body(&z, Some("GZIP"), body.len()).unwrap().as_ref(),
            body.as_slice()
        );
        // Concatenated members (`cat a.gz b.gz`) are one body.
        let two = [gzip(b"ab"), gzip(b"cd")].concat();
        assert_eq!(
            decode_body(&two, Some("x-gzip"), 100).unwrap().as_ref(),
            b"abcd"
        );
    }

    #[test]
    fn gzip_bomb_is_too_large() {
        // 64 MiB of zeros compress to about 64 KiB; the limit is 1 MiB.
        let z = {
            let mut e = GzEncoder::new(Vec::new(), Compression::best());
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..64 {
                e.write_all(&zeros).unwrap();
            }
            e.finish().unwrap()
        };
        assert!(z.len() < 1 << 20);
        let e = decode_body(&z, Some("gzip"), 1 << 20).unwrap_err();
        assert!(
            matches!(e, IngestError::TooLarge { limit } if limit == 1 << 20),
            "{e}"
        );
        assert_eq!(e.status(), 413);
        // Exactly at the limit is fine.
        let z = gzip(&[b'x'; 100]);
        assert_eq!(decode_body(&z, Some("gzip"), 100).unwrap().len(), 100);
        assert!(decode_body(&z, Some("gzip"), 99).is_err());
    }

    #[test]
    fn corrupt_gzip_is_malformed() {
        let mut z = gzip(&b"hello world ".repeat(50));
        let n = z.len();
        z[n / 2] ^= 0xff;
        z[n / 2 + 1] ^= 0xff;
        let e = decode_body(&z, Some("gzip"), 1 << 20).unwrap_err();
        assert_eq!(e.status(), 400, "{e}");
        assert!(e.to_string().starts_with("malformed body at byte "), "{e}");
        let e = decode_body(b"not gzip", Some("gzip"), 1 << 20).unwrap_err();
        assert!(e.to_string().contains("invalid gzip data"), "{e}");
    }
}
