//! Why a delivery failed.

use std::time::Duration;

/// Why a [`Sink`](crate::Sink) could not deliver an action. The queue decides what happens next:
/// a retryable failure is tried again later with backoff, a permanent one parks the action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again: a timeout, a 5xx, a rate limit, a full disk.
    #[error("temporary failure: {reason}")]
    Retryable {
        /// The earliest the destination wants to be tried again (`Retry-After`), if it said.
        after: Option<Duration>,
        /// What went wrong.
        reason: String,
    },
    /// Trying again cannot help: the payload is malformed, the credentials are refused.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl DeliveryError {
    /// A retryable failure with no advice on when to retry.
    pub fn retryable(reason: impl Into<String>) -> Self {
        DeliveryError::Retryable {
            after: None,
            reason: reason.into(),
        }
    }

    /// Whether the queue should try again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DeliveryError::Retryable { .. })
    }
}
