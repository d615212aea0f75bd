//! The wire format of each record kind: field names, types, defaults. [`fields`] is the public
//! description (for docs and OpenAPI); [`lookup`] is the fast name → slot map the parsers use.

use serde::Serialize;
use tokpulse_core::RecordKind;

/// Every field of every kind: a slot in a raw record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum F {
    Id,
    Timestamp,
    Service,
    Route,
    Method,
    StatusCode,
    DurationMs,
    Environment,
    Platform,
    Attributes,
    Feature,
    Provider,
    Model,
    PromptTokens,
    CompletionTokens,
    LatencyMs,
    Success,
    ErrorMessage,
    CostUsd,
    Level,
    Message,
    TraceId,
    Version,
    CommitSha,
    Author,
    Description,
}

/// Number of [`F`] variants.
pub(crate) const N_FIELDS: usize = F::Description as usize + 1;

impl F {
    /// The field's name on the wire.
    pub(crate) fn name(self) -> &'static str {
        match self {
            F::Id => "id",
            F::Timestamp => "timestamp",
            F::Service => "service",
            F::Route => "route",
            F::Method => "method",
            F::StatusCode => "status_code",
            F::DurationMs => "duration_ms",
            F::Environment => "environment",
            F::Platform => "platform",
            F::Attributes => "attributes",
            F::Feature => "feature",
            F::Provider => "provider",
            F::Model => "model",
            F::PromptTokens => "prompt_tokens",
            F::CompletionTokens => "completion_tokens",
            F::LatencyMs => "latency_ms",
            F::Success => "success",
            F::ErrorMessage => "error_message",
            F::CostUsd => "cost_usd",
            F::Level => "level",
            F::Message => "message",
            F::TraceId => "trace_id",
            F::Version => "version",
            F::CommitSha => "commit_sha",
            F::Author => "author",
            F::Description => "description",
        }
    }
}

/// The slot a key names in a record of `kind`, aliases included; `None` if `kind` has no such
/// field.
pub(crate) fn lookup(kind: RecordKind, key: &str) -> Option<F> {
    let common = match key {
        "id" => Some(F::Id),
        "timestamp" => Some(F::Timestamp),
        "service" => Some(F::Service),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match kind {
        RecordKind::Performance => match key {
            "route" => Some(F::Route),
            "method" => Some(F::Method),
            "status_code" | "status" => Some(F::StatusCode),
            "duration_ms" => Some(F::DurationMs),
            "environment" => Some(F::Environment),
            "platform" => Some(F::Platform),
            "attributes" => Some(F::Attributes),
            _ => None,
        },
        RecordKind::AiUsage => match key {
            "feature" => Some(F::Feature),
            "provider" => Some(F::Provider),
            "model" => Some(F::Model),
            "prompt_tokens" => Some(F::PromptTokens),
            "completion_tokens" => Some(F::CompletionTokens),
            "latency_ms" => Some(F::LatencyMs),
            "success" => Some(F::Success),
            "error_message" => Some(F::ErrorMessage),
            "cost_usd" => Some(F::CostUsd),
            "attributes" => Some(F::Attributes),
            _ => None,
        },
        RecordKind::Logs => match key {
            "level" => Some(F::Level),
            "message" => Some(F::Message),
            "route" => Some(F::Route),
            "trace_id" => Some(F::TraceId),
            "attributes" => Some(F::Attributes),
            _ => None,
        },
        RecordKind::Deploys => match key {
            "environment" => Some(F::Environment),
            "version" => Some(F::Version),
            "commit_sha" => Some(F::CommitSha),
            "author" => Some(F::Author),
            "description" => Some(F::Description),
            _ => None,
        },
    }
}

/// The JSON type and rules of a field.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldType {
    /// A string of 1–128 visible ASCII characters ([`tokpulse_core::RecordId`]).
    RecordId,
    /// An RFC 3339 string with an offset (`2024-05-01T12:00:00Z`) or integer unix milliseconds.
    Timestamp,
    /// A short name: ASCII letters, digits and `. _ - : / +`, 1–128 characters
    /// ([`tokpulse_core::Label`]).
    Label,
    /// Free text of at most `max_bytes` bytes; passes the privacy guard before it is stored.
    Text {
        /// Longest accepted, in UTF-8 bytes.
        max_bytes: usize,
    },
    /// An integer in `min..=max`.
    Integer {
        /// Smallest accepted.
        min: i64,
        /// Largest accepted.
        max: i64,
    },
    /// A finite number in `min..max` (`max` exclusive; `None` = no upper bound).
    Number {
        /// Smallest accepted.
        min: f64,
        /// Upper bound, exclusive.
        max: Option<f64>,
    },
    /// `true` or `false` (in CSV also `1`/`0`, `yes`/`no`).
    Boolean,
    /// One of a fixed set of strings.
    Enum {
        /// The accepted values.
        values: &'static [&'static str],
    },
    /// A JSON object (in CSV: a cell holding one), at most 64 KiB serialized and 8 levels deep;
    /// its strings pass the privacy guard.
    Object,
}

/// One field of a record kind's wire format: what [`fields`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FieldSpec {
    /// The name, as sent.
    pub name: &'static str,
    /// Other names accepted for it.
    pub aliases: &'static [&'static str],
    /// Its type and rules.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Whether a record without it is refused.
    pub required: bool,
    /// The value used when it is absent, if any.
    pub default: Option<&'static str>,
    /// What it means.
    pub description: &'static str,
}

/// Longest `route`, in bytes.
pub const MAX_ROUTE_BYTES: usize = 2 * 1024;
/// Longest `message` or `error_message` or `description`, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Longest `author`, in bytes.
pub const MAX_AUTHOR_BYTES: usize = 256;
/// Largest `attributes` object, serialized as compact JSON, in bytes.
pub const MAX_ATTRIBUTES_BYTES: usize = 64 * 1024;
/// Deepest `attributes` object (the object itself is level 1).
pub const MAX_ATTRIBUTES_DEPTH: usize = 8;
/// Largest `duration_ms` or `latency_ms` (exclusive): one day.
pub const MAX_DURATION_MS: f64 = 86_400_000.0;

const fn spec(
    name: &'static str,
    ty: FieldType,
    required: bool,
    default: Option<&'static str>,
    description: &'static str,
) -> FieldSpec {
    FieldSpec {
        name,
        aliases: &[],
        ty,
        required,
        default,
        description,
    }
}

const ID: FieldSpec = spec(
    "id",
    FieldType::RecordId,
    true,
    None,
    "Client-chosen unique id (a UUID is best); a record whose id is already stored is counted \
     as a duplicate, so a batch can be retried safely.",
);
const TIMESTAMP: FieldSpec = spec(
    "timestamp",
    FieldType::Timestamp,
    true,
    None,
    "When it happened: RFC 3339 with an offset, or integer unix milliseconds. At most one day \
     in the future.",
);
const SERVICE: FieldSpec = spec("service", FieldType::Label, true, None, "The service.");
const ATTRIBUTES: FieldSpec = spec(
    "attributes",
    FieldType::Object,
    false,
    None,
    "Anything else, as a JSON object. Personal data and secrets in it are redacted.",
);
const ENVIRONMENT: FieldSpec = spec(
    "environment",
    FieldType::Label,
    false,
    Some("production"),
    "`production`, `staging`…",
);
const DURATION: FieldType = FieldType::Number {
    min: 0.0,
    max: Some(MAX_DURATION_MS),
};

const PERFORMANCE: &[FieldSpec] = &[
    ID,
    TIMESTAMP,
    SERVICE,
    spec(
        "route",
        FieldType::Text {
            max_bytes: MAX_ROUTE_BYTES,
        },
        true,
        None,
        "The route served, best as a template (`/users/:id`).",
    ),
    spec(
        "method",
        FieldType::Label,
        false,
        Some("GET"),
        "HTTP method; upper-cased.",
    ),
    FieldSpec {
        aliases: &["status"],
        ..spec(
            "status_code",
            FieldType::Integer { min: 100, max: 599 },
            true,
            None,
            "HTTP status code.",
        )
    },
    spec(
        "duration_ms",
        DURATION,
        true,
        None,
        "Time to serve, in milliseconds.",
    ),
    ENVIRONMENT,
    spec(
        "platform",
        FieldType::Enum {
            values: &["web", "api", "mobile", "worker"],
        },
        false,
        None,
        "The kind of client.",
    ),
    ATTRIBUTES,
];

const AI_USAGE: &[FieldSpec] = &[
    ID,
    TIMESTAMP,
    SERVICE,
    spec(
        "feature",
        FieldType::Label,
        false,
        None,
        "The product feature that made the call.",
    ),
    spec(
        "provider",
        FieldType::Label,
        false,
        Some("openai"),
        "`openai`, `azure-openai`, `ollama`…",
    ),
    spec(
        "model",
        FieldType::Label,
        true,
        None,
        "The model, as the provider names it.",
    ),
    spec(
        "prompt_tokens",
        FieldType::Integer {
            min: 0,
            max: i64::MAX,
        },
        true,
        None,
        "Input tokens.",
    ),
    spec(
        "completion_tokens",
        FieldType::Integer {
            min: 0,
            max: i64::MAX,
        },
        false,
        Some("0"),
        "Output tokens.",
    ),
    spec(
        "latency_ms",
        DURATION,
        false,
        None,
        "Wall time of the call, in milliseconds.",
    ),
    spec(
        "success",
        FieldType::Boolean,
        false,
        Some("true"),
        "Whether the call succeeded.",
    ),
    spec(
        "error_message",
        FieldType::Text {
            max_bytes: MAX_MESSAGE_BYTES,
        },
        false,
        None,
        "The provider's error for a failed call.",
    ),
    spec(
        "cost_usd",
        FieldType::Number {
            min: 0.0,
            max: None,
        },
        false,
        None,
        "Cost the client computed, in US dollars.",
    ),
    ATTRIBUTES,
];

const LOGS: &[FieldSpec] = &[
    ID,
    TIMESTAMP,
    SERVICE,
    spec(
        "level",
        FieldType::Enum {
            values: &["trace", "debug", "info", "warn", "error", "fatal"],
        },
        true,
        None,
        "Severity; case-insensitive, common synonyms accepted (`warning`, `err`, `critical`…).",
    ),
    spec(
        "message",
        FieldType::Text {
            max_bytes: MAX_MESSAGE_BYTES,
        },
        true,
        None,
        "The log message.",
    ),
    spec(
        "route",
        FieldType::Text {
            max_bytes: MAX_ROUTE_BYTES,
        },
        false,
        None,
        "The route being served, if any.",
    ),
    spec(
        "trace_id",
        FieldType::Label,
        false,
        None,
        "Trace id, for correlation.",
    ),
    ATTRIBUTES,
];

const DEPLOYS: &[FieldSpec] = &[
    ID,
    TIMESTAMP,
    SERVICE,
    ENVIRONMENT,
    spec(
        "version",
        FieldType::Label,
        true,
        None,
        "Version or release name.",
    ),
    spec(
        "commit_sha",
        FieldType::Label,
        false,
        None,
        "The commit deployed.",
    ),
    spec(
        "author",
        FieldType::Text {
            max_bytes: MAX_AUTHOR_BYTES,
        },
        false,
        None,
        "Who deployed it.",
    ),
    spec(
        "description",
        FieldType::Text {
            max_bytes: MAX_MESSAGE_BYTES,
        },
        false,
        None,
        "What changed.",
    ),
];

/// The fields a record of `kind` may have, in documentation order.
pub fn fields(kind: RecordKind) -> &'static [FieldSpec] {
    match kind {
        RecordKind::Performance => PERFORMANCE,
        RecordKind::AiUsage => AI_USAGE,
        RecordKind::Logs => LOGS,
        RecordKind::Deploys => DEPLOYS,
    }
}

/// The other names of `f` (the same in every kind that has it).
pub(crate) fn aliases(f: F) -> &'static [&'static str] {
    RecordKind::ALL
        .iter()
        .flat_map(|k| fields(*k))
        .find(|s| s.name == f.name())
        .map_or(&[], |s| s.aliases)
}

/// "`id`, `timestamp`, …" for error messages.
pub(crate) fn expected_list(kind: RecordKind) -> String {
    let mut s = String::new();
    for (i, f) in fields(kind).iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('`');
        s.push_str(f.name);
        s.push('`');
    }
    s
}

/// The known field of `kind` closest to `key`, if it is close enough to be a typo.
pub(crate) fn closest(kind: RecordKind, key: &str) -> Option<&'static str> {
    fields(kind)
        .iter()
        .map(|f| (edit_distance(key, f.name), f.name))
        .filter(|(d, name)| *d <= 2.min(name.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// Levenshtein distance over bytes (field names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(!ca.eq_ignore_ascii_case(cb));
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented table and the parser's map agree, for every kind.
    #[test]
    fn specs_and_lookup_agree() {
        for kind in RecordKind::ALL {
            for spec in fields(kind) {
                let f = lookup(kind, spec.name).unwrap_or_else(|| panic!("{kind} {}", spec.name));
                assert_eq!(f.name(), spec.name);
                for alias in spec.aliases {
                    assert_eq!(lookup(kind, alias), Some(f), "{alias}");
                }
            }
            // Nothing the parser takes is undocumented.
            let all = [
                "id",
                "timestamp",
                "service",
                "route",
                "method",
                "status_code",
                "status",
                "duration_ms",
                "environment",
                "platform",
                "attributes",
                "feature",
                "provider",
                "model",
                "prompt_tokens",
                "completion_tokens",
                "latency_ms",
                "success",
                "error_message",
                "cost_usd",
                "level",
                "message",
                "trace_id",
                "version",
                "commit_sha",
                "author",
                "description",
            ];
            for key in all {
                if let Some(f) = lookup(kind, key) {
                    assert!(
                        fields(kind)
                            .iter()
                            .any(|s| s.name == f.name()
                                && (s.name == key || s.aliases.contains(&key))),
                        "{kind}: {key} is parsed but not documented"
                    );
                }
            }
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(
            closest(RecordKind::Performance, "duraton_ms"),
            Some("duration_ms")
        );
        assert_eq!(closest(RecordKind::Performance, "Service"), Some("service"));
        assert_eq!(closest(RecordKind::Performance, "user"), None);
        assert_eq!(closest(RecordKind::Logs, "x"), None);
    }
}
