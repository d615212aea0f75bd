//! Integration tests of the `tokpulse` binary: one test binary (faster to link on small CI).
#![allow(clippy::unwrap_used)]

mod automation;
mod cli;
mod common;
mod diagnosis;
mod cost;
mod http;
mod nab;
mod pipeline;
mod privacy;
mod scheduler;
mod serve;
mod webhooks;
