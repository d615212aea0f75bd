//! TokPulse: the binary's library half, so that integration tests can build the server, the
//! engine and the CLI pieces directly. `main.rs` only parses arguments and maps exit codes.
//!
//! Each subcommand lives in its own module; [`cli`] defines every flag.

pub mod app;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod cost;
pub mod cost_run;
pub mod demo;
pub mod demo_cost;
pub mod demo_flows;
pub mod diagnosis;
pub mod engine;
pub mod ingest_files;
pub mod keys;
pub mod mute;
pub mod nab;
mod pending;
pub mod privacy;
pub mod retention;
pub mod scheduler;
pub mod serve;
pub mod server;
pub mod subject;
pub mod vercel_usage;

/// An error with a specific exit code.
#[derive(Debug)]
pub struct Exit(pub u8, pub String);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for Exit {}
