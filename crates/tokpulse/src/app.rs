//! Builds the running pieces from the config: the store, the guard, the ingestor, the engine.

use crate::config::GithubAuthKind;
use crate::config::{Config, ENV_DATABASE_URL};
use crate::engine::Engine;
use anyhow::Context;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokpulse_act::{
    AppTokens, GithubApi, GithubAuth, GithubDiscussions, GithubIssues, GithubPrComments,
    GithubTarget, Outbox, Quiet, Sink, Slack,
};
use tokpulse_guard::{Guard, GuardConfig};
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
    /// The guard's policies and key: what forget and export compute a person's token with.
    pub guard_config: Arc<GuardConfig>,
    /// `[cost]`: the catalog ingest prices with, budgets, infrastructure plans.
    pub cost: Arc<tokpulse_cost::CostConfig>,
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
        let api = Arc::new(github_api(config, env)?);
        sinks.push(Arc::new(GithubIssues::new(api.clone())));
        if g.pr_comments {
            sinks.push(Arc::new(GithubPrComments::new(api.clone())));
        }
        if !g.discussions_category.is_empty() {
            sinks.push(Arc::new(GithubDiscussions::new(
                api,
                &g.discussions_category,
            )));
        }
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
    if let Some(quiet) = &config.routing.quiet_hours {
        sinks = sinks
            .into_iter()
            .map(|s| -> Arc<dyn Sink> {
                if quiet.sinks.iter().any(|q| q == s.name()) {
                    Arc::new(Quiet::new(s, quiet.clone()))
                } else {
                    s
                }
            })
            .collect();
    }
    Ok(sinks)
}

/// The GitHub client of `[github]`, with a token or a GitHub App's credentials from `env`.
pub fn github_api(config: &Config, env: &BTreeMap<String, String>) -> anyhow::Result<GithubApi> {
    let g = &config.github;
    let var = |name: &str, what: &str| -> anyhow::Result<String> {
        env.get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "github.enabled is true but ${name} is not set: export {what} there"
                )
            })
    };
    let auth = match g.auth {
        GithubAuthKind::Token => GithubAuth::Token(var(&g.token_env, "the token")?),
        GithubAuthKind::App => {
            let app_id = var(&g.app_id_env, "the GitHub App's id")?;
            let pem = match env.get(&g.app_private_key_env).filter(|v| !v.is_empty()) {
                Some(pem) => pem.clone().into_bytes(),
                None => {
                    let path = var(
                        &g.app_private_key_path_env,
                        &format!(
                            "the path of the app's private key (or the key itself in ${})",
                            g.app_private_key_env
                        ),
                    )?;
                    std::fs::read(&path)
                        .with_context(|| format!("reading the GitHub App private key {path}"))?
                }
            };
            let app = AppTokens::new(&app_id, &pem, g.installation_id)
                .map_err(|e| anyhow::anyhow!("github: {e}"))?;
            GithubAuth::App(Arc::new(app))
        }
    };
    let target = GithubTarget::parse(&g.repo).map_err(|e| anyhow::anyhow!("github.repo: {e}"))?;
    GithubApi::new(&g.api_url, auth, target).map_err(|e| anyhow::anyhow!(e))
}

impl App {
    /// Builds the pipeline on an open store, with the outbox as its only sink (when enabled).
    pub fn new(config: &Config, store: Arc<dyn Store>) -> App {
        App::with_sinks(config, store, local_sinks(config))
    }

    /// Builds the pipeline with the given sinks.
    pub fn with_sinks(config: &Config, store: Arc<dyn Store>, sinks: Vec<Arc<dyn Sink>>) -> App {
        let guard = Arc::new(Guard::new(&config.guard));
        let catalog = Arc::new(tokpulse_cost::Catalog::from_config(&config.cost));
        let ingestor = Arc::new(
            Ingestor::new(guard, store.clone()).with_pricer(crate::cost_run::pricer(catalog)),
        );
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
            cost: Arc::new(config.cost.clone()),
            guard_config: Arc::new(config.guard.clone()),
        }
    }
}
