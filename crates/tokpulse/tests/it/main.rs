//! Integration tests of the `tokpulse` binary: one test binary (faster to link on small CI).
#![allow(clippy::unwrap_used)]

mod automation;
mod chaos;
mod cli;
mod common;
mod cost;
mod diagnosis;
mod http;
mod mute;
mod nab;
mod pipeline;
mod privacy;
mod scheduler;
mod serve;
mod vercel;
mod webhooks;
