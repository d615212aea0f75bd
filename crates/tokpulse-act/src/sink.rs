//! The [`Sink`] trait: where actions land.

use crate::DeliveryError;
use async_trait::async_trait;
use tokpulse_store::ActionRow;

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
}

/// Where a delivered action landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// A path, an issue URL…; stored with the action.
    pub external_ref: String,
}
