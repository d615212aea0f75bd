//! The sinks: one file each.

pub mod github;
pub mod outbox;
pub mod slack;
