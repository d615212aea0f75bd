//! The [`Sink`] trait: where actions land.

use crate::DeliveryError;
use async_trait::async_trait;
use tokpulse_core::Timestamp;
use tokpulse_store::{ActionRow, Store, StoreError};

/// A destination for actions: the local outbox, GitHub issues, Slack…
///
/// A sink makes one attempt per call. It never sleeps or retries: it reports
/// [`DeliveryError::Retryable`] (with the destination's `Retry-After`, if any) or
/// [`DeliveryError::Permanent`], and the queue ([`deliver_due`](crate::deliver_due)) schedules
/// the next attempt. Delivering an action whose idempotency key it has already delivered must
/// not deliver it twice: the queue may call again after a crash between delivering and
/// recording the delivery.
#[async_trait]
pub trait Sink: Send + Sync {
    /// The name actions are queued under (`NewAction::sink`), e.g. `outbox`.
    fn name(&self) -> &'static str;

    /// One attempt at delivering `action`.
    async fn deliver(&self, action: &ActionRow) -> Result<Delivered, DeliveryError>;

    /// Called by [`deliver_due`](crate::deliver_due) before each pass: a sink that caches
    /// where its earlier deliveries landed (the GitHub issue of each fingerprint…) reads them
    /// from the store here, once. Nothing by default.
    async fn warm_up(&self, _store: &dyn Store) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether `action` must wait (quiet hours): the instant it may go, or `None` to deliver it
    /// now. A held action stays due without counting an attempt. `None` by default.
    fn hold_until(&self, _action: &ActionRow, _now: Timestamp) -> Option<Timestamp> {
        None
    }

    /// The Discussions sink, for reports posted outside the queue (the weekly insights);
    /// `None` for every other sink.
    fn as_discussions(&self) -> Option<&crate::GithubDiscussions> {
        None
    }
}

/// Where a delivered action landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// A path, an issue URL…; stored with the action.
    pub external_ref: String,
}
