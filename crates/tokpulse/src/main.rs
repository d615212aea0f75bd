//! `tokpulse`: the one binary. Every flag is defined in [`cli`]; each subcommand lives in its own
//! module. `main` maps errors to exit codes: 0 success, 1 failure, 2 bad usage or configuration,
//! 3 some records were rejected (`ingest`), 4 open findings with `diagnose --fail-on-findings`.

use clap::Parser;
use std::collections::BTreeMap;
use std::process::ExitCode;

/// mimalloc: the ingest path allocates a few small strings per record, and the system allocator
/// showed up at ~10% of its profile; both the ingest path and the SQLite driver gain from it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokpulse::{Exit, cli, commands, config};

/// Restores the default SIGPIPE action, so that `tokpulse … | head` ends quietly like other
/// command-line tools instead of failing to print.
#[cfg(unix)]
#[allow(unsafe_code)]
fn reset_sigpipe() {
    // SAFETY: called at the start of `main`, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn reset_sigpipe() {}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // One TLS stack (rustls with ring) for every HTTPS client: reqwest is built without a
    // provider of its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The server keeps Rust's default (SIGPIPE ignored): a client hanging up must not kill it.
    if !matches!(args.command, cli::Command::Serve(_)) {
        reset_sigpipe();
    }
    init_tracing(&args);
    // The only place the process environment is read; everything below takes this map.
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(args, env)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<Exit>() {
                if !exit.1.is_empty() {
                    eprintln!("{}", exit.1);
                }
                return ExitCode::from(exit.0);
            }
            if e.downcast_ref::<config::ConfigError>().is_some() {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing(args: &cli::Cli) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("TOKPULSE_LOG")
        .unwrap_or_else(|_| EnvFilter::new(args.log_level.as_str()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if args.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}
