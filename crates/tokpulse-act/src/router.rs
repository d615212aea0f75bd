//! The router: which actions to queue when a finding changes.

use crate::issue::{md, one_line, render_issue, time};
use crate::{DeliveryError, IssueDraft};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tokpulse_core::{FindingKind, Severity, StoredFinding, Timestamp};
use tokpulse_store::{ActionRow, FindingChange, NewAction};

/// What an action does at its sink. Stored as `NewAction::kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// File the issue for a new finding.
    Open,
    /// A resolved finding is happening again: reopen its issue with a note.
    Reopen,
    /// The finding stopped: close its issue with a note.
    Resolve,
    /// The finding is still happening: add the latest evidence to its issue (at most once per
    /// interval; see [`plan_for_recurrence`]).
    Update,
}

impl ActionKind {
    /// The stored name: `open`, `reopen`, `resolve`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Open => "open",
            ActionKind::Reopen => "reopen",
            ActionKind::Resolve => "resolve",
            ActionKind::Update => "update",
        }
    }
}

impl FromStr for ActionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(ActionKind::Open),
            "reopen" => Ok(ActionKind::Reopen),
            "resolve" => Ok(ActionKind::Resolve),
            "update" => Ok(ActionKind::Update),
            other => Err(format!(
                "unknown action kind {other:?}: expected open, reopen, resolve or update"
            )),
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a queued action carries (`NewAction::payload`): everything a sink needs, rendered when
/// the action was planned, so a later delivery shows the finding as it was then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionPayload {
    /// The finding's fingerprint: names the issue across actions.
    pub fingerprint: String,
    /// The finding's kind.
    pub finding_kind: FindingKind,
    /// The finding's severity.
    pub severity: Severity,
    /// The issue as it would be filed now.
    pub issue: IssueDraft,
    /// For `reopen` and `resolve`: the Markdown comment to add to the issue.
    pub note: Option<String>,
    /// When the change happened.
    pub at: Timestamp,
    /// The pull request the finding is about (a PR's CI run or preview deploy), set by
    /// [`address_pull_request`]: the PR comment sink needs it, the others ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
}

impl ActionPayload {
    /// Reads the payload of a queued action; a payload that does not parse is a permanent
    /// failure (retrying cannot fix it).
    pub fn from_action(action: &ActionRow) -> Result<Self, DeliveryError> {
        serde_json::from_value(action.payload.clone()).map_err(|e| {
            DeliveryError::Permanent(format!("action {}: malformed payload: {e}", action.id))
        })
    }

    /// What a sink needs of a queued action: its kind and its payload. Either one malformed is
    /// a permanent failure.
    pub fn read(action: &ActionRow) -> Result<(ActionKind, Self), DeliveryError> {
        let kind: ActionKind = action
            .kind
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("action {}: {e}", action.id)))?;
        Ok((kind, Self::from_action(action)?))
    }
}

/// The actions to queue, one per sink, when `f` has just been stored with `change`:
/// a new finding is opened, a reopened one reopened; an update queues nothing (recurrence
/// comments come later, rate-limited).
///
/// Idempotency keys are `<sink>:<fingerprint>:open` and
/// `<sink>:<fingerprint>:reopen:<occurrences>`: planning the same change twice gives the same
/// keys (so the store queues it once), while a later genuine reopen has a higher occurrence
/// count and so a new key. `now` only stamps the action and its note.
pub fn plan_for_change(
    change: FindingChange,
    f: &StoredFinding,
    sinks: &[&str],
    now: Timestamp,
) -> Vec<NewAction> {
    let fp = f.finding.fingerprint.as_str();
    match change {
        FindingChange::New { id } => plan(id, f, sinks, now, ActionKind::Open, None, |sink| {
            format!("{sink}:{fp}:open")
        }),
        FindingChange::Reopened { id, occurrences } => {
            let note = format!(
                "**Reopened** at {}: the problem is happening again ({} occurrences since {}). \
                 Latest: {}.",
                time(now),
                occurrences,
                time(f.first_seen),
                md(&one_line(&f.finding.title))
            );
            plan(id, f, sinks, now, ActionKind::Reopen, Some(note), |sink| {
                format!("{sink}:{fp}:reopen:{occurrences}")
            })
        }
        FindingChange::Updated { .. } => Vec::new(),
    }
}

/// The actions to queue, one per sink, when an open finding `f` was seen again at `now`: a
/// comment with the latest evidence, at most once per `interval` (none when `interval` is zero).
///
/// Time since the finding was first seen is cut into slots of `interval`; the idempotency key
/// `<sink>:<fingerprint>:update:<slot>` lets the first recurrence in each slot through and makes
/// every later one in the same slot a duplicate the store refuses. The first slot is skipped:
/// the issue was just filed with that evidence.
pub fn plan_for_recurrence(
    f: &StoredFinding,
    sinks: &[&str],
    now: Timestamp,
    interval: chrono::TimeDelta,
) -> Vec<NewAction> {
    if interval <= chrono::TimeDelta::zero() {
        return Vec::new();
    }
    let slot = (now - f.first_seen).num_seconds() / interval.num_seconds().max(1);
    if slot < 1 {
        return Vec::new();
    }
    let fp = f.finding.fingerprint.as_str();
    let body = render_issue(f).body;
    let table: Vec<&str> = body.lines().filter(|l| l.starts_with('|')).collect();
    let note = format!(
        "**Still happening** at {} ({} occurrences since {}). Latest: {}.\n\n{}",
        time(now),
        f.occurrences,
        time(f.first_seen),
        md(&one_line(&f.finding.title)),
        table.join("\n")
    );
    plan(
        f.id,
        f,
        sinks,
        now,
        ActionKind::Update,
        Some(note),
        |sink| format!("{sink}:{fp}:update:{slot}"),
    )
}

/// The actions to queue, one per sink, when `f` has stopped occurring and was resolved at
/// `now`: close its issue with a note.
///
/// The idempotency key is `<sink>:<fingerprint>:resolve:<occurrences>`: the same resolution
/// planned twice queues once, and a resolution after a later reopen (which raised the
/// occurrence count) gets a new key.
pub fn plan_for_resolution(f: &StoredFinding, sinks: &[&str], now: Timestamp) -> Vec<NewAction> {
    let fp = f.finding.fingerprint.as_str();
    let occurrences = f.occurrences;
    let note = format!(
        "**Resolved** at {}: no longer found by the check that raised it (last seen {}; {} \
         occurrences since {}).",
        time(now),
        time(f.last_seen),
        occurrences,
        time(f.first_seen)
    );
    plan(
        f.id,
        f,
        sinks,
        now,
        ActionKind::Resolve,
        Some(note),
        |sink| format!("{sink}:{fp}:resolve:{occurrences}"),
    )
}

/// Addresses planned actions to pull request `number`: their payload names it (for the PR
/// comment sink) and their idempotency keys gain `:pr<number>`, so the same finding on two pull
/// requests queues twice.
pub fn address_pull_request(actions: &mut [NewAction], number: u64) {
    for a in actions {
        a.payload["pull_request"] = serde_json::json!(number);
        a.idempotency_key = format!("{}:pr{number}", a.idempotency_key);
    }
}

fn plan(
    finding_id: i64,
    f: &StoredFinding,
    sinks: &[&str],
    now: Timestamp,
    kind: ActionKind,
    note: Option<String>,
    key: impl Fn(&str) -> String,
) -> Vec<NewAction> {
    let payload = ActionPayload {
        fingerprint: f.finding.fingerprint.as_str().to_owned(),
        finding_kind: f.finding.kind,
        severity: f.finding.severity,
        issue: render_issue(f),
        note,
        at: now,
        pull_request: None,
    };
    let payload = match serde_json::to_value(&payload) {
        Ok(v) => v,
        // Serializing plain strings, numbers and timestamps cannot fail; if it somehow did, an
        // action without its payload would be parked at delivery with a clear error.
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    sinks
        .iter()
        .map(|sink| NewAction {
            finding_id,
            sink: (*sink).to_owned(),
            kind: kind.as_str().to_owned(),
            idempotency_key: key(sink),
            payload: payload.clone(),
            created_at: now,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{row, stored_finding};
    use chrono::Duration;

    #[test]
    fn recurrence_comments_at_most_once_per_interval() {
        let mut f = stored_finding();
        let first = f.first_seen;
        let hour = Duration::hours(1);
        // Within the first interval: the issue was just filed; nothing.
        assert!(
            plan_for_recurrence(&f, &["github"], first + Duration::minutes(30), hour).is_empty()
        );
        f.occurrences = 5;
        let a = plan_for_recurrence(&f, &["github"], first + Duration::minutes(70), hour);
        let b = plan_for_recurrence(&f, &["github"], first + Duration::minutes(110), hour);
        let c = plan_for_recurrence(&f, &["github"], first + Duration::minutes(130), hour);
        assert_eq!(a[0].kind, "update");
        assert_eq!(
            a[0].idempotency_key, b[0].idempotency_key,
            "same slot, same key"
        );
        assert_ne!(
            a[0].idempotency_key, c[0].idempotency_key,
            "next slot, new key"
        );
        let note = a[0].payload["note"].as_str().unwrap();
        assert!(
            note.contains("Still happening") && note.contains("| p95 latency |"),
            "{note}"
        );
        assert!(
            plan_for_recurrence(
                &f,
                &["github"],
                first + Duration::hours(5),
                Duration::zero()
            )
            .is_empty()
        );
    }

    #[test]
    fn new_findings_open_one_action_per_sink() {
        let f = stored_finding();
        let now = f.last_seen;
        let fp = f.finding.fingerprint.as_str().to_owned();
        let actions = plan_for_change(FindingChange::New { id: 7 }, &f, &["outbox", "github"], now);
        assert_eq!(actions.len(), 2);
        assert_eq!(actions[0].sink, "outbox");
        assert_eq!(actions[1].sink, "github");
        assert_eq!(actions[0].idempotency_key, format!("outbox:{fp}:open"));
        assert_eq!(actions[1].idempotency_key, format!("github:{fp}:open"));
        for a in &actions {
            assert_eq!(
                (a.kind.as_str(), a.finding_id, a.created_at),
                ("open", 7, now)
            );
            let p: ActionPayload = serde_json::from_value(a.payload.clone()).unwrap();
            assert_eq!(p.issue, render_issue(&f));
            assert_eq!(p.note, None);
            assert_eq!(p.fingerprint, fp);
        }
    }

    #[test]
    fn keys_are_stable_across_retries_and_new_for_later_events() {
        let f = stored_finding();
        let now = f.last_seen;
        let later = now + Duration::minutes(5);
        let keys = |c, at| -> Vec<String> {
            plan_for_change(c, &f, &["outbox"], at)
                .into_iter()
                .map(|a| a.idempotency_key)
                .collect()
        };
        let fp = f.finding.fingerprint.as_str();
        // The same event planned again (a retry, at another instant) gives the same key.
        assert_eq!(
            keys(FindingChange::New { id: 7 }, now),
            keys(FindingChange::New { id: 7 }, later)
        );
        let reopen = FindingChange::Reopened {
            id: 7,
            occurrences: 4,
        };
        assert_eq!(keys(reopen, now), [format!("outbox:{fp}:reopen:4")]);
        assert_eq!(keys(reopen, now), keys(reopen, later));
        // A later genuine reopen has a higher count.
        assert_ne!(
            keys(reopen, now),
            keys(
                FindingChange::Reopened {
                    id: 7,
                    occurrences: 9
                },
                now
            )
        );
        // Updates queue nothing.
        assert!(
            keys(
                FindingChange::Updated {
                    id: 7,
                    occurrences: 4
                },
                now
            )
            .is_empty()
        );

        let r1 = plan_for_resolution(&f, &["outbox"], now);
        let r2 = plan_for_resolution(&f, &["outbox"], later);
        assert_eq!(r1[0].idempotency_key, format!("outbox:{fp}:resolve:3"));
        assert_eq!(r1[0].idempotency_key, r2[0].idempotency_key);
        assert_eq!(r1[0].kind, "resolve");
        let mut again = f.clone();
        again.occurrences = 5;
        assert_ne!(
            plan_for_resolution(&again, &["outbox"], later)[0].idempotency_key,
            r1[0].idempotency_key
        );
        // Keys never collide between kinds.
        assert_ne!(
            keys(
                FindingChange::Reopened {
                    id: 7,
                    occurrences: 3
                },
                now
            )[0],
            r1[0].idempotency_key
        );
    }

    #[test]
    fn notes_say_what_happened() {
        let f = stored_finding();
        let now = f.last_seen;
        let r = plan_for_resolution(&f, &["outbox"], now + Duration::minutes(30));
        let p = ActionPayload::from_action(&row(&r[0])).unwrap();
        assert_eq!(
            p.note.as_deref(),
            Some(
                "**Resolved** at 2023-11-14 22:43:20 UTC: no longer found by the check that \
                 raised it (last seen 2023-11-14 22:13:20 UTC; 3 occurrences since 2023-11-14 \
                 21:13:20 UTC)."
            )
        );
        let o = plan_for_change(
            FindingChange::Reopened {
                id: 7,
                occurrences: 4,
            },
            &f,
            &["outbox"],
            now,
        );
        let p = ActionPayload::from_action(&row(&o[0])).unwrap();
        assert!(p.note.unwrap().starts_with(
            "**Reopened** at 2023-11-14 22:13:20 UTC: the problem is happening again (4 occurrences"
        ));
        assert_eq!("reopen".parse::<ActionKind>(), Ok(ActionKind::Reopen));
        assert!("comment".parse::<ActionKind>().is_err());
    }

    #[test]
    fn a_malformed_payload_is_permanent() {
        let f = stored_finding();
        let mut a = row(&plan_for_resolution(&f, &["outbox"], f.last_seen)[0]);
        a.payload = serde_json::json!({"nope": 1});
        assert!(matches!(
            ActionPayload::from_action(&a),
            Err(DeliveryError::Permanent(_))
        ));
    }
}
