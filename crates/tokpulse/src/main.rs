//! `tokpulse`: the one binary. Every flag is defined in [`cli`]; each subcommand lives in its own
//! module. `main` maps errors to exit codes: 0 success, 1 failure, 2 bad usage or configuration,
//! 3 some records were rejected (`ingest`), 4 open findings with `diagnose --fail-on-findings`.

use clap::Parser;
use std::collections::BTreeMap;
use std::process::ExitCode;
use tokpulse::{Exit, cli, commands, config};

fn main() -> ExitCode {
    let args = cli::Cli::parse();
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
