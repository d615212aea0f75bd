//! The delivery worker: hands each due action to its sink once and records the outcome.

use crate::{DeliveryError, Sink};
use chrono::TimeDelta;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokpulse_core::Timestamp;
use tokpulse_store::{Store, StoreError};

/// Due actions are read this many at a time.
const BATCH: i64 = 100;
/// The delay after the first failure; it doubles with each further failure.
const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The longest backoff between attempts (before jitter).
const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// The longest wait a destination's `Retry-After` is honoured for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a pass holds the actions it claimed ([`Store::claim_due_actions`]): far longer
/// than a delivery takes (the sinks' requests time out within a minute), so no other pass
/// takes an action while it is being delivered, and short enough that the actions of a
/// process that died go out a few minutes later.
pub const CLAIM_LEASE: TimeDelta = TimeDelta::minutes(10);

/// What one [`deliver_due`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Actions delivered.
    pub delivered: u64,
    /// Actions that failed and were scheduled for another attempt.
    pub retrying: u64,
    /// Actions given up on: a permanent failure, or `max_attempts` reached.
    pub parked: u64,
    /// Actions left for the next pass because an earlier action about the same finding failed
    /// in this one (so that a resolve never overtakes its open).
    pub deferred: u64,
    /// Actions their sink holds for now (quiet hours); due again on the next pass, with no
    /// attempt counted.
    pub held: u64,
}

/// One delivery pass at `now`: every action of each sink that is due is given to the sink once.
///
/// - Delivered: recorded with the sink's external reference.
/// - [`DeliveryError::Retryable`]: recorded as failed and due again after
///   [`retry_delay`] (exponential backoff with jitter, at least the sink's `after`); once the
///   action has failed `max_attempts` times (counting this one) it is parked instead.
/// - [`DeliveryError::Permanent`]: parked at once.
///
/// Actions are claimed from the store ([`Store::claim_due_actions`], for [`CLAIM_LEASE`]), so
/// passes that run at the same time, in one process or on several replicas, never hand one
/// action to a sink twice. Actions about the same finding at the same sink go in queue order:
/// the store hands out only a finding's first pending action, and after one fails or is held
/// ([`Sink::hold_until`], quiet hours) the later ones wait for a later pass. Held actions are
/// released at the end of the pass, due again at once, with no attempt counted.
/// Each sink is first given [`Sink::warm_up`]. A sink never sleeps or retries; this is the
/// only place that schedules retries. Errors are the store's; a sink's failure is not an error.
pub async fn deliver_due(
    store: &dyn Store,
    sinks: &[Arc<dyn Sink>],
    now: Timestamp,
    max_attempts: u32,
) -> Result<DeliveryReport, StoreError> {
    let max_attempts = i64::from(max_attempts.max(1));
    let lease_until = now.checked_add_signed(CLAIM_LEASE).unwrap_or(now);
    let mut report = DeliveryReport::default();
    for sink in sinks {
        let name = sink.name();
        sink.warm_up(store).await?;
        let mut seen = HashSet::new();
        let mut held = HashSet::new();
        let mut release = Vec::new();
        loop {
            let batch = store
                .claim_due_actions(name, now, lease_until, BATCH)
                .await?;
            let mut fresh = 0;
            for action in batch {
                if !seen.insert(action.id) {
                    continue;
                }
                fresh += 1;
                if held.contains(&action.finding_id) {
                    report.deferred += 1;
                    release.push(action.id);
                    continue;
                }
                if let Some(until) = sink.hold_until(&action, now) {
                    held.insert(action.finding_id);
                    release.push(action.id);
                    report.held += 1;
                    tracing::debug!(sink = name, action = action.id, %until, "action held");
                    continue;
                }
                match sink.deliver(&action).await {
                    Ok(delivered) => {
                        store
                            .mark_action_delivered(action.id, now, &delivered.external_ref)
                            .await?;
                        report.delivered += 1;
                        tracing::debug!(
                            sink = name,
                            action = action.id,
                            kind = %action.kind,
                            external_ref = %delivered.external_ref,
                            "action delivered"
                        );
                    }
                    Err(error) => {
                        held.insert(action.finding_id);
                        let attempt = action.attempts.saturating_add(1);
                        let retry_at = match &error {
                            DeliveryError::Retryable { after, .. } if attempt < max_attempts => {
                                let attempt = u32::try_from(attempt).unwrap_or(u32::MAX);
                                let delay = retry_delay(attempt, action.id, *after);
                                let delay = TimeDelta::from_std(delay)
                                    .unwrap_or_else(|_| TimeDelta::hours(24));
                                Some(now.checked_add_signed(delay).unwrap_or(now))
                            }
                            _ => None,
                        };
                        store
                            .mark_action_failed(action.id, &error.to_string(), retry_at)
                            .await?;
                        match retry_at {
                            Some(at) => {
                                report.retrying += 1;
                                tracing::warn!(
                                    sink = name,
                                    action = action.id,
                                    attempt,
                                    retry_at = %at,
                                    %error,
                                    "delivery failed; will retry"
                                );
                            }
                            None => {
                                report.parked += 1;
                                tracing::warn!(
                                    sink = name,
                                    action = action.id,
                                    attempt,
                                    %error,
                                    "delivery failed; action parked"
                                );
                            }
                        }
                    }
                }
            }
            // Each claim hands out new actions (a delivered one can make its finding's next
            // one claimable); a store that does not claim repeats itself and `fresh` ends it.
            if fresh == 0 {
                break;
            }
        }
        for id in release {
            store.release_action(id, now).await?;
        }
    }
    Ok(report)
}

/// The `Retry-After` header's delay, when it is given in seconds (as GitHub, Slack and Vercel
/// send it).
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// How long to wait after the `attempt`-th failed attempt (1-based) of action `action_id`:
/// 30 s doubling per attempt up to 1 h, plus up to 25% jitter, and never less than the
/// destination's `after` (itself capped at 24 h).
///
/// The jitter is derived from the action id and attempt rather than drawn at random, so that
/// actions that failed together spread out while every run stays reproducible.
pub fn retry_delay(attempt: u32, action_id: i64, after: Option<Duration>) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    let backoff = FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_BACKOFF);
    let jitter = backoff.mul_f64(0.25 * unit_interval(action_id, attempt));
    let floor = after.unwrap_or_default().min(MAX_RETRY_AFTER);
    (backoff + jitter).max(floor)
}

/// A number in [0, 1) that looks random but depends only on its inputs (SplitMix64).
fn unit_interval(action_id: i64, attempt: u32) -> f64 {
    let mut z = (action_id as u64) ^ (u64::from(attempt) << 40);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_a_cap() {
        for id in 1..50 {
            let mut previous = Duration::ZERO;
            for attempt in 1..=12u32 {
                let d = retry_delay(attempt, id, None);
                let base = (FIRST_RETRY * 2u32.pow(attempt - 1)).min(MAX_BACKOFF);
                assert!(
                    d >= base && d <= base.mul_f64(1.25),
                    "attempt {attempt}: {d:?}"
                );
                assert!(attempt < 9 || d >= previous.mul_f64(0.8));
                previous = d;
            }
        }
        // Jitter spreads actions that failed together.
        let delays: HashSet<Duration> = (1..20).map(|id| retry_delay(1, id, None)).collect();
        assert!(delays.len() > 15);
        // Deterministic.
        assert_eq!(retry_delay(3, 42, None), retry_delay(3, 42, None));
    }

    #[test]
    fn retry_after_is_honoured_up_to_a_day() {
        let d = retry_delay(1, 1, Some(Duration::from_secs(600)));
        assert_eq!(d, Duration::from_secs(600));
        let d = retry_delay(1, 1, Some(Duration::from_secs(1)));
        assert!(d >= FIRST_RETRY);
        let d = retry_delay(1, 1, Some(Duration::from_secs(10 * 24 * 3600)));
        assert_eq!(d, MAX_RETRY_AFTER);
        assert!(retry_delay(u32::MAX, i64::MIN, None) <= MAX_BACKOFF.mul_f64(1.25));
    }
}
