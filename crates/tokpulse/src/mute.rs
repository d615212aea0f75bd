//! Muting a finding's notifications: `tokpulse findings mute FINGERPRINT [--for DURATION]` and
//! `unmute`.
//!
//! A mute is kept in the store's keyed state (`Store::put_detector_states`, key
//! `mute:<fingerprint>`, value `{"until": RFC 3339 or null}`), which both backends have, so it
//! needs no table of its own. While a finding is muted the engine queues no recurrence comments
//! and nothing for Slack; its issue is still filed, reopened, and closed with a "resolved"
//! comment when it resolves (see [`keep`]).

use std::collections::HashSet;
use tokpulse_core::Timestamp;
use tokpulse_store::{NewAction, Store, StoreError};

/// The keyed-state prefix of mutes.
pub const PREFIX: &str = "mute:";

/// Mutes `fingerprint` until `until` (for good with `None`).
pub async fn mute(
    store: &dyn Store,
    fingerprint: &str,
    until: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let value = serde_json::json!({ "until": until });
    store
        .put_detector_states(&[(format!("{PREFIX}{fingerprint}"), Some(value))], now)
        .await
}

/// Lifts the mute of `fingerprint` (nothing happens if it was not muted).
pub async fn unmute(
    store: &dyn Store,
    fingerprint: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    store
        .put_detector_states(&[(format!("{PREFIX}{fingerprint}"), None)], now)
        .await
}

/// The fingerprints muted at `now`. A store without keyed state has none.
pub async fn muted(store: &dyn Store, now: Timestamp) -> Result<HashSet<String>, StoreError> {
    let states = match store.detector_states(PREFIX).await {
        Ok(s) => s,
        Err(StoreError::Unsupported(_)) => return Ok(HashSet::new()),
        Err(e) => return Err(e),
    };
    Ok(states
        .into_iter()
        .filter(|(_, v)| match v["until"].as_str() {
            None => true,
            Some(t) => chrono::DateTime::parse_from_rfc3339(t).is_ok_and(|t| t > now),
        })
        .filter_map(|(k, _)| k.strip_prefix(PREFIX).map(str::to_string))
        .collect())
}

/// Whether `action` is still queued when its finding may be muted: everything for a finding
/// that is not muted; for a muted one, no recurrence comments (`update`) and nothing for Slack,
/// but the issue is still filed, reopened and closed (with its "resolved" comment).
pub fn keep(action: &NewAction, muted: &HashSet<String>) -> bool {
    let muted_finding = action.payload["fingerprint"]
        .as_str()
        .is_some_and(|fp| muted.contains(fp));
    !muted_finding || (action.kind != "update" && action.sink != "slack")
}

/// Reads `90m`, `6h`, `7d` (minutes, hours, days).
pub fn parse_duration(s: &str) -> Result<chrono::TimeDelta, String> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("expected a duration like 90m, 6h or 7d, got {s:?}"))?;
    match unit {
        "m" => Ok(chrono::TimeDelta::minutes(n)),
        "h" => Ok(chrono::TimeDelta::hours(n)),
        "d" => Ok(chrono::TimeDelta::days(n)),
        _ => Err(format!("expected a duration like 90m, 6h or 7d, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(sink: &str, kind: &str, fp: &str) -> NewAction {
        NewAction {
            finding_id: 1,
            sink: sink.into(),
            kind: kind.into(),
            idempotency_key: format!("{sink}:{fp}:{kind}"),
            payload: serde_json::json!({ "fingerprint": fp }),
            created_at: chrono::Utc::now(),
        }
    }

    // See: #6 (muted: no recurrence comments or Slack messages, but "resolved" still posted).
    #[test]
    fn a_muted_finding_keeps_its_issue_and_loses_its_noise() {
        let muted: HashSet<String> = ["m".to_string()].into();
        for (sink, kind, kept) in [
            ("github", "open", true),
            ("github", "reopen", true),
            ("github", "resolve", true),
            ("outbox", "resolve", true),
            ("github", "update", false),
            ("slack", "open", false),
            ("slack", "resolve", false),
        ] {
            assert_eq!(
                keep(&action(sink, kind, "m"), &muted),
                kept,
                "{sink} {kind}"
            );
            assert!(keep(&action(sink, kind, "other"), &muted), "{sink} {kind}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m"), Ok(chrono::TimeDelta::minutes(90)));
        assert_eq!(parse_duration("7d"), Ok(chrono::TimeDelta::days(7)));
        assert!(parse_duration("0h").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
    }
}
