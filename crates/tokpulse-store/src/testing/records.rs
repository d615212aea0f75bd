//! Guarded records for tests, built through the real guard.

use std::sync::LazyLock;
use tokpulse_core::{
    AiUsageRecord, Attributes, DeployEvent, Label, LogLevel, LogRecord, PerformanceRecord,
    Platform, RecordId, Timestamp,
};
use tokpulse_guard::{Guard, GuardConfig, Guarded, Scrub};

static GUARD: LazyLock<Guard> = LazyLock::new(|| Guard::new(&GuardConfig::default()));

/// `record` passed through a default guard.
pub fn guarded<R: Scrub>(record: R) -> Guarded<R> {
    GUARD
        .guard(record)
        .expect("the default guard redacts and never blocks")
}

/// The instant `ms` milliseconds after the epoch.
pub fn at(ms: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_millis(ms).expect("a timestamp in range")
}

fn label(s: &str) -> Label {
    Label::parse(s).unwrap_or_else(|e| panic!("label {s:?}: {e}"))
}

fn id(s: &str) -> RecordId {
    RecordId::parse(s).unwrap_or_else(|e| panic!("record id {s:?}: {e}"))
}

/// A request to `service` `method route` at `ms`.
pub fn request(
    record_id: &str,
    ms: i64,
    service: &str,
    method: &str,
    route: &str,
    status_code: u16,
    duration_ms: f64,
) -> Guarded<PerformanceRecord> {
    let mut attributes = Attributes::new();
    attributes.insert("region".into(), "eu-west-1".into());
    guarded(PerformanceRecord {
        id: id(record_id),
        timestamp: at(ms),
        service: label(service),
        route: route.into(),
        method: label(method),
        status_code,
        duration_ms,
        environment: label("production"),
        platform: Some(Platform::Web),
        attributes,
    })
}

/// A successful `GET /` of `api` at `ms`.
pub fn perf(record_id: &str, ms: i64) -> Guarded<PerformanceRecord> {
    request(record_id, ms, "api", "GET", "/", 200, 12.5)
}

/// An LLM call at `ms`.
pub fn ai_usage(record_id: &str, ms: i64) -> Guarded<AiUsageRecord> {
    guarded(AiUsageRecord {
        id: id(record_id),
        timestamp: at(ms),
        service: label("api"),
        feature: Some(label("search-summary")),
        provider: label("openai"),
        model: label("gpt-4o-mini"),
        prompt_tokens: 1200,
        completion_tokens: 300,
        latency_ms: Some(850.0),
        success: false,
        error_message: Some("rate limited for jane@corp.io".into()),
        cost_usd: Some(0.0021),
        attributes: Attributes::new(),
    })
}

/// A log line at `ms`.
pub fn log(record_id: &str, ms: i64) -> Guarded<LogRecord> {
    guarded(LogRecord {
        id: id(record_id),
        timestamp: at(ms),
        service: label("api"),
        level: LogLevel::Error,
        message: "payment failed for jane@corp.io".into(),
        route: Some("/pay".into()),
        trace_id: Some(label("4bf92f3577b34da6")),
        attributes: Attributes::new(),
    })
}

/// A deployment of `service` at `ms`.
pub fn deploy(record_id: &str, ms: i64, service: &str, version: &str) -> Guarded<DeployEvent> {
    guarded(DeployEvent {
        id: id(record_id),
        timestamp: at(ms),
        service: label(service),
        environment: label("production"),
        version: label(version),
        commit_sha: Some(label("0123abcd")),
        author: Some("octocat".into()),
        description: Some("bump deps".into()),
    })
}

/// The key of [`hashing_guard`].
pub const HMAC_KEY: &str = "conformance-key";

static HASHING: LazyLock<Guard> = LazyLock::new(|| {
    let mut config = GuardConfig::default();
    config
        .entities
        .insert("EMAIL".into(), tokpulse_guard::Policy::Hash);
    config.hmac_secret = Some(tokpulse_guard::HmacSecret::new(HMAC_KEY));
    Guard::new(&config)
});

/// The token [`hashing_guard`] writes for `email`.
pub fn email_token(email: &str) -> String {
    tokpulse_guard::HmacSecret::new(HMAC_KEY).token(tokpulse_guard::Entity::Email, email)
}

/// A guard that turns emails into hash tokens (key [`HMAC_KEY`]).
pub fn hashing_guard() -> &'static Guard {
    &HASHING
}

/// A log line at `ms` saying `message`, through [`hashing_guard`].
pub fn hashed_log(record_id: &str, ms: i64, message: &str) -> Guarded<LogRecord> {
    HASHING
        .guard(LogRecord {
            id: id(record_id),
            timestamp: at(ms),
            service: label("api"),
            level: LogLevel::Error,
            message: message.into(),
            route: None,
            trace_id: None,
            attributes: Attributes::new(),
        })
        .expect("the hashing guard never blocks")
}

/// A request at `ms` to `route`, with `attributes`, through [`hashing_guard`].
pub fn hashed_request(
    record_id: &str,
    ms: i64,
    route: &str,
    attributes: serde_json::Value,
) -> Guarded<PerformanceRecord> {
    HASHING
        .guard(PerformanceRecord {
            id: id(record_id),
            timestamp: at(ms),
            service: label("api"),
            route: route.into(),
            method: label("GET"),
            status_code: 200,
            duration_ms: 5.0,
            environment: label("production"),
            platform: None,
            attributes: attributes.as_object().cloned().unwrap_or_default(),
        })
        .expect("the hashing guard never blocks")
}

/// A deployment at `ms` by `author`, through [`hashing_guard`].
pub fn hashed_deploy(record_id: &str, ms: i64, author: &str) -> Guarded<DeployEvent> {
    HASHING
        .guard(DeployEvent {
            id: id(record_id),
            timestamp: at(ms),
            service: label("api"),
            environment: label("production"),
            version: label("v2"),
            commit_sha: None,
            author: Some(author.into()),
            description: Some(format!("shipped by {author}")),
        })
        .expect("the hashing guard never blocks")
}
