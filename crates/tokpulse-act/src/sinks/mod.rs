//! The sinks: one file each.

pub mod outbox;
