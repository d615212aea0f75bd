//! Integration tests of the `tokpulse` binary: one test binary (faster to link on small CI).

mod cli;
mod common;
mod http;
mod kill;
mod pipeline;
