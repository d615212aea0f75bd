//! Builds the running pieces from the config: the store, the guard, the ingestor, the engine.

use crate::config::{Config, ENV_DATABASE_URL};
use crate::engine::Engine;
use anyhow::Context;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokpulse_act::{GithubIssues, GithubTarget, Outbox, Sink, Slack};
use tokpulse_guard::Guard;
use tokpulse_ingest::Ingestor;
use tokpulse_store::{Store, StoreTarget};

/// Where the store is, from the flag, the environment, or the data dir.
pub fn store_target(
    config: &Config,
    database_url: Option<&str>,
    env: &BTreeMap<String, String>,
) -> StoreTarget {
    match database_url.or(env.get(ENV_DATABASE_URL).map(String::as_str)) {
        Some(url) if !url.is_empty() => StoreTarget::Postgres {
            url: url.to_string(),
            max_connections: config.database.max_connections,
        },
        _ => StoreTarget::Sqlite {
            data_dir: config.data_dir.clone(),
        },
    }
}

/// Opens the store and brings its schema up to date.
pub async fn open_store(target: &StoreTarget) -> anyhow::Result<Arc<dyn Store>> {
    let store = tokpulse_store::open(target).await?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// Everything a command that ingests or diagnoses needs.
pub struct App {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Sources → guard → store.
    pub ingestor: Arc<Ingestor>,
    /// Analysis → findings → actions.
    pub engine: Arc<Engine>,
}

/// The sinks that need no credentials: the outbox, when enabled or in a dry run.
fn local_sinks(config: &Config) -> Vec<Arc<dyn Sink>> {
    let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
    if config.outbox.enabled || config.routing.dry_run {
        sinks.push(Arc::new(Outbox::new(config.outbox_dir())));
    }
    sinks
}

/// The sinks the config turns on; secrets (the GitHub token) come from `env`.
pub fn sinks(
    config: &Config,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<Arc<dyn Sink>>> {
    let mut sinks = local_sinks(config);
    if config.routing.dry_run {
        // A dry run files nothing elsewhere, so it needs no credentials either.
        return Ok(sinks);
    }
    if config.github.enabled {
        let g = &config.github;
        let token = env
            .get(&g.token_env)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "github.enabled is true but ${} is not set: export the token there",
                    g.token_env
                )
            })?;
        let target =
            GithubTarget::parse(&g.repo).map_err(|e| anyhow::anyhow!("github.repo: {e}"))?;
        let client = GithubIssues::client(&g.api_url, token).map_err(|e| anyhow::anyhow!(e))?;
        sinks.push(Arc::new(GithubIssues::new(client, target)));
    }
    if config.slack.enabled {
        let var = &config.slack.webhook_url_env;
        let url = env.get(var).filter(|u| !u.is_empty()).ok_or_else(|| {
            anyhow::anyhow!(
                "slack.enabled is true but ${var} is not set: export the webhook URL there"
            )
        })?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .context("building the HTTP client")?;
        sinks.push(Arc::new(Slack::new(url.clone(), client)));
    }
    Ok(sinks)
}

impl App {
    /// Builds the pipeline on an open store, with the outbox as its only sink (when enabled).
    pub fn new(config: &Config, store: Arc<dyn Store>) -> App {
        App::with_sinks(config, store, local_sinks(config))
    }

    /// Builds the pipeline with the given sinks.
    pub fn with_sinks(config: &Config, store: Arc<dyn Store>, sinks: Vec<Arc<dyn Sink>>) -> App {
        let guard = Arc::new(Guard::new(&config.guard));
        let ingestor = Arc::new(Ingestor::new(guard, store.clone()));
        let engine = Arc::new(Engine::new(
            store.clone(),
            &config.analyzers,
            sinks,
            config.diagnosis.max_delivery_attempts,
            chrono::TimeDelta::minutes(i64::from(config.diagnosis.update_interval_minutes)),
            config.routing.clone(),
        ));
        App {
            store,
            ingestor,
            engine,
        }
    }
}
