//! The store's integration tests: one binary (link time on 2-core CI).
//!
//! The conformance suite (`tokpulse_store::testing::suite`) runs on both backends; PostgreSQL
//! is a throwaway cluster started by `tokpulse_store::testing::PgCluster`, so PostgreSQL's
//! server binaries must be installed (`apt-get install postgresql`).

// Test helpers outside `#[test]` functions unwrap too: a failed call is a failed test.
#![allow(clippy::unwrap_used)]

mod postgres;
mod rls;
mod sqlite;
