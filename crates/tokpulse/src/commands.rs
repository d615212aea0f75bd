//! Runs a parsed command line.

use crate::Exit;
use crate::app::{App, open_store, store_target};
use crate::cli::{
    ActionsCommand, BenchCommand, Cli, Command, ConfigCommand, FindingsCommand, KeysCommand,
    OutputFormat,
};
use crate::config;
use anyhow::Context;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::collections::BTreeMap;
use tokpulse_core::{Role, StoredFinding, Timestamp};
use tokpulse_store::NewApiKey;

/// Runs `args`; returns the exit code.
pub async fn run(args: Cli, env: BTreeMap<String, String>) -> anyhow::Result<u8> {
    let mut config = config::load(args.config.as_deref(), &env)?;
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    let target = || store_target(&config, args.database_url.as_deref(), &env);
    match args.command {
        Command::Init(a) => init(&a.path, a.force),
        Command::Config(ConfigCommand::Check) => {
            println!("configuration is valid");
            println!("{}", toml::to_string_pretty(&config)?);
            Ok(0)
        }
        Command::Migrate => {
            let store = tokpulse_store::open(&target()).await?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                println!("database is up to date ({:?})", store.backend());
            } else {
                println!("applied migrations {applied:?} ({:?})", store.backend());
            }
            store.close().await;
            Ok(0)
        }
        Command::Demo(a) if a.flows => crate::demo_flows::run(&config).await,
        Command::Demo(a) => crate::demo::run(&config, &a).await,
        Command::Serve(a) => {
            let sinks = crate::app::sinks(&config, &env)?;
            if config.vercel.enabled {
                // A missing token is said now, not at the first cost run.
                config.vercel.token(&env)?;
            }
            let store = open_store(&target()).await?;
            let app = App::with_sinks(&config, store, sinks);
            let listen = a.listen.unwrap_or_else(|| config.server.listen.clone());
            let options = crate::serve::ServeOptions {
                secrets: crate::server::webhooks::WebhookSecrets::from_env(&env),
                pr_publisher: crate::scheduler::pr_checks::publisher(&config, &env)?,
                ..Default::default()
            };
            crate::serve::serve_with(
                &config,
                app,
                &listen,
                options,
                crate::serve::shutdown_signal(),
            )
            .await?;
            Ok(0)
        }
        Command::Ingest(a) => {
            let store = open_store(&target()).await?;
            let app = App::new(&config, store.clone());
            let code = crate::ingest_files::run(&app, &a).await;
            store.close().await;
            code
        }
        Command::Diagnose(a) => {
            let now = match &a.at {
                Some(t) => chrono::DateTime::parse_from_rfc3339(t)
                    .map_err(|e| {
                        Exit(
                            2,
                            format!("error: --at: expected RFC 3339 time, got {t:?} ({e})"),
                        )
                    })?
                    .with_timezone(&chrono::Utc),
                None => chrono::Utc::now(),
            };
            let sinks = crate::app::sinks(&config, &env)?;
            let store = open_store(&target()).await?;
            let app = App::with_sinks(&config, store.clone(), sinks);
            let since = a
                .since
                .as_deref()
                .map(|s| parse_since(s, now))
                .transpose()
                .map_err(|e| Exit(2, format!("error: --since: {e}")))?;
            let run = app.engine.run(now).await?;
            let open = store
                .findings(Some(tokpulse_core::FindingStatus::Open), 1000)
                .await?;
            let resolved_since: Vec<_> = match since {
                Some(since) => store
                    .findings(Some(tokpulse_core::FindingStatus::Resolved), 1000)
                    .await?
                    .into_iter()
                    .filter(|f| f.resolved_at.is_some_and(|t| t >= since))
                    .collect(),
                None => run.resolved.clone(),
            };
            store.close().await;
            match a.format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "at": now,
                        "window": run.window,
                        "samples": run.samples,
                        "since": since,
                        "open": open,
                        "resolved": resolved_since,
                        "queued_actions": run.queued,
                    }))?
                ),
                OutputFormat::Table => {
                    println!(
                        "diagnosed {} requests as of {}",
                        run.samples,
                        now.format("%Y-%m-%d %H:%M UTC")
                    );
                    if open.is_empty() {
                        println!("no open findings");
                    } else {
                        println!("{}", findings_table(&open));
                    }
                    for r in &resolved_since {
                        println!("resolved: {}", r.finding.title);
                    }
                }
            }
            Ok(if a.fail_on_findings && !open.is_empty() {
                4
            } else {
                0
            })
        }
        Command::Jobs(j) => {
            let sinks = crate::app::sinks(&config, &env)?;
            let store = open_store(&target()).await?;
            let app = App::with_sinks(&config, store.clone(), sinks);
            let code = crate::scheduler::cli::run(&config, &app, j).await;
            store.close().await;
            code
        }
        Command::Findings(f) => {
            let store = open_store(&target()).await?;
            let now = chrono::Utc::now();
            let said = match f {
                FindingsCommand::Mute {
                    fingerprint,
                    duration,
                } => {
                    let until = duration
                        .as_deref()
                        .map(crate::mute::parse_duration)
                        .transpose()
                        .map_err(|e| Exit(2, format!("error: --for: {e}")))?
                        .map(|d| now + d);
                    crate::mute::mute(store.as_ref(), &fingerprint, until, now).await?;
                    match until {
                        Some(t) => format!("{fingerprint} muted until {}", t.to_rfc3339()),
                        None => format!("{fingerprint} muted until unmuted"),
                    }
                }
                FindingsCommand::Unmute { fingerprint } => {
                    crate::mute::unmute(store.as_ref(), &fingerprint, now).await?;
                    format!("{fingerprint} unmuted")
                }
            };
            store.close().await;
            println!("{said}");
            Ok(0)
        }
        Command::Keys(k) => {
            let store = open_store(&target()).await?;
            let code = keys(store.as_ref(), k).await;
            store.close().await;
            code
        }
        Command::Actions(ActionsCommand::Retry { id }) => {
            let store = open_store(&target()).await?;
            let revived = store.retry_action(id, chrono::Utc::now()).await?;
            store.close().await;
            if revived {
                println!(
                    "action {id} is pending again; `tokpulse serve` delivers it on its next run"
                );
                Ok(0)
            } else {
                Err(Exit(1, format!("error: no parked action with id {id}")).into())
            }
        }
        Command::Actions(ActionsCommand::Test { sink, pull_request }) => {
            let sinks = crate::app::sinks(&config, &env)?;
            let chosen: Vec<_> = sinks
                .iter()
                .filter(|s| sink.as_deref().is_none_or(|n| n == s.name()))
                .collect();
            if chosen.is_empty() {
                let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
                return Err(Exit(
                    2,
                    format!(
                        "error: no configured sink {:?}; configured: {}",
                        sink.unwrap_or_default(),
                        names.join(", ")
                    ),
                )
                .into());
            }
            let mut failed = 0;
            for s in chosen {
                if s.name() == "github_pr" && pull_request.is_none() {
                    println!("{:<20} skipped: needs --pull-request NUMBER", s.name());
                    continue;
                }
                match tokpulse_act::send_test(s.as_ref(), pull_request, chrono::Utc::now()).await {
                    Ok(d) => {
                        let refs: Vec<&str> = d.iter().map(|d| d.external_ref.as_str()).collect();
                        println!("{:<20} ok: {}", s.name(), refs.join(", "));
                    }
                    Err(e) => {
                        failed += 1;
                        println!("{:<20} FAILED: {e}", s.name());
                    }
                }
            }
            Ok(if failed > 0 { 1 } else { 0 })
        }
        Command::Actions(ActionsCommand::List { limit, format }) => {
            let store = open_store(&target()).await?;
            let actions = store.actions(limit).await?;
            store.close().await;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&actions)?),
                OutputFormat::Table => {
                    let mut t = table(&[
                        "id",
                        "finding",
                        "sink",
                        "kind",
                        "status",
                        "attempts",
                        "where / last error",
                    ]);
                    for a in &actions {
                        t.add_row(vec![
                            a.id.to_string(),
                            a.finding_id.to_string(),
                            a.sink.clone(),
                            a.kind.clone(),
                            a.status.as_str().to_string(),
                            a.attempts.to_string(),
                            a.external_ref
                                .clone()
                                .or(a.last_error.clone())
                                .unwrap_or_default(),
                        ]);
                    }
                    println!("{t}");
                }
            }
            Ok(0)
        }
        Command::Bench(BenchCommand::Ingest {
            records,
            batch_size,
            runs,
            clients,
        }) => crate::bench::ingest(&config, records, batch_size, runs, clients).await,
        Command::Bench(BenchCommand::Privacy {
            file,
            predictions,
            runs,
            format,
        }) => crate::privacy::bench(&config, &file, predictions.as_deref(), runs, format),
        Command::Bench(BenchCommand::Rollups {
            days,
            per_day,
            routes,
            runs,
            seed,
            format,
        }) => crate::bench::rollups(days, per_day, routes, runs, seed, format),
        Command::Redact(a) => {
            crate::privacy::redact(&config, a.format, &a.field, a.source.as_deref())
        }
        Command::Cost(c) => crate::cost::run(&config, &target(), c, &env).await,
        Command::Privacy(p) => crate::privacy::run(&config, &target(), p).await,
        Command::Bench(BenchCommand::Nab {
            dir,
            results,
            format,
        }) => crate::nab::run(&dir, results.as_deref(), format),
    }
}

fn init(path: &std::path::Path, force: bool) -> anyhow::Result<u8> {
    if path.exists() && !force {
        return Err(Exit(
            2,
            format!(
                "error: {} exists; pass --force to overwrite it",
                path.display()
            ),
        )
        .into());
    }
    std::fs::write(path, config::default_file())
        .with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(0)
}

async fn keys(store: &dyn tokpulse_store::Store, cmd: KeysCommand) -> anyhow::Result<u8> {
    match cmd {
        KeysCommand::Create { role, name } => {
            let role: Role = role
                .parse()
                .map_err(|e| Exit(2, format!("error: --role: {e}")))?;
            let key = crate::keys::generate();
            let id = store
                .create_api_key(&NewApiKey {
                    name: name.clone(),
                    prefix: crate::keys::display_prefix(&key),
                    key_hash: crate::keys::hash(&key),
                    role,
                    created_at: chrono::Utc::now(),
                })
                .await?;
            eprintln!("created key {id} with role `{role}`; it is shown only this once:");
            println!("{key}");
            Ok(0)
        }
        KeysCommand::List { format } => {
            let keys = store.api_keys().await?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&keys)?),
                OutputFormat::Table => {
                    let mut t = table(&[
                        "id",
                        "name",
                        "prefix",
                        "role",
                        "created",
                        "last used",
                        "revoked",
                    ]);
                    let ts = |t: Option<Timestamp>| {
                        t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_default()
                    };
                    for k in &keys {
                        t.add_row(vec![
                            k.id.to_string(),
                            k.name.clone(),
                            format!("{}…", k.prefix),
                            k.role.to_string(),
                            ts(Some(k.created_at)),
                            ts(k.last_used_at),
                            ts(k.revoked_at),
                        ]);
                    }
                    println!("{t}");
                }
            }
            Ok(0)
        }
        KeysCommand::Revoke { id } => {
            if store.revoke_api_key(id, chrono::Utc::now()).await? {
                println!("revoked key {id}");
                Ok(0)
            } else {
                Err(Exit(1, format!("error: no live key with id {id}")).into())
            }
        }
    }
}

/// A table with TokPulse's style.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

/// Findings as a table.
pub fn findings_table(findings: &[StoredFinding]) -> Table {
    let mut t = table(&[
        "severity", "kind", "service", "route", "finding", "cause", "seen",
    ]);
    for f in findings {
        let cause = f
            .finding
            .cause
            .as_ref()
            .map(|c| match &c.commit_sha {
                Some(sha) => format!("deploy {} ({})", c.version, &sha[..sha.len().min(7)]),
                None => format!("deploy {}", c.version),
            })
            .unwrap_or_default();
        t.add_row(vec![
            f.finding.severity.to_string(),
            f.finding.kind.to_string(),
            f.finding.service.clone(),
            f.finding.route.clone().unwrap_or_default(),
            f.finding.title.clone(),
            cause,
            format!("{}×", f.occurrences),
        ]);
    }
    t
}

/// `--since`: an RFC 3339 time, or a duration before `now` (`90m`, `6h`, `7d`, `30s`).
pub fn parse_since(
    s: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("expected a duration (90m, 6h, 7d) or an RFC 3339 time, got {s:?}"))?;
    let d = match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err(format!("unknown unit in {s:?}: use s, m, h or d")),
    };
    Ok(now - d)
}
