//! Integration tests of tokpulse-act: one test binary (see STYLE.md).

// Test helpers outside `#[test]` functions: `allow-unwrap-in-tests` does not reach them.
#![allow(clippy::unwrap_used)]

mod fake_store;
mod github;
mod github_more;
mod slack;
mod sqlite;
mod worker;
