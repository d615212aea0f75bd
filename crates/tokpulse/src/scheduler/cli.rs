//! `tokpulse jobs list` and `tokpulse jobs run NAME`.

use super::{Outcome, Scheduler};
use crate::app::App;
use crate::cli::{JobsCommand, OutputFormat};
use crate::clock::SystemClock;
use crate::config::Config;
use std::sync::Arc;
use tokpulse_store::JobStatus;

/// Runs a `jobs` subcommand; returns the exit code (1 when a run failed or was taken).
pub async fn run(config: &Config, app: &App, command: JobsCommand) -> anyhow::Result<u8> {
    let scheduler = Scheduler::for_app(config, app, Arc::new(SystemClock), None)?;
    let now = chrono::Utc::now();
    match command {
        JobsCommand::List { format } => {
            let jobs = scheduler.list(now).await?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&jobs)?),
                OutputFormat::Table => {
                    let mut t =
                        crate::commands::table(&["job", "cron", "last run", "status", "next run"]);
                    let time = |t: chrono::DateTime<chrono::Utc>| {
                        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                    };
                    for j in &jobs {
                        let (last, status) = match &j.last {
                            Some(r) => {
                                let status = match r.status {
                                    JobStatus::Running if r.lease_until < now => {
                                        "abandoned".to_string()
                                    }
                                    JobStatus::Ok => {
                                        format!("ok: {}", r.summary.as_deref().unwrap_or(""))
                                    }
                                    JobStatus::Failed => {
                                        format!("failed: {}", r.error.as_deref().unwrap_or(""))
                                    }
                                    JobStatus::Running => "running".to_string(),
                                };
                                (time(r.started_at), status)
                            }
                            None => ("never".to_string(), String::new()),
                        };
                        t.add_row([
                            j.name.clone(),
                            j.cron.clone(),
                            last,
                            status,
                            j.next.map(time).unwrap_or_else(|| "off".into()),
                        ]);
                    }
                    println!("{t}");
                    println!("time zone: {}", config.scheduler.time_zone);
                }
            }
            Ok(0)
        }
        JobsCommand::Run { name } => {
            let r = scheduler.run_now(&name, now).await?;
            match r.outcome {
                Outcome::Ran {
                    status: JobStatus::Ok,
                    detail,
                    id,
                } => {
                    println!("{name}: ok (run {id}): {detail}");
                    Ok(0)
                }
                Outcome::Ran { detail, id, .. } => {
                    println!("{name}: failed (run {id}): {detail}");
                    Ok(1)
                }
                Outcome::Taken => {
                    println!("{name}: another process is running it at this instant");
                    Ok(1)
                }
            }
        }
    }
}
