//! Builds the running pieces from the config: the store, the guard, the ingestor, the engine.

use crate::config::{Config, ENV_DATABASE_URL};
use crate::engine::Engine;
use anyhow::Context;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokpulse_act::{Outbox, Sink};
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

impl App {
    /// Builds the pipeline on an open store.
    pub fn new(config: &Config, store: Arc<dyn Store>) -> App {
        let guard = Arc::new(Guard::new(&config.guard));
        let ingestor = Arc::new(Ingestor::new(guard, store.clone()));
        let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
        if config.outbox.enabled {
            sinks.push(Arc::new(Outbox::new(config.outbox_dir())));
        }
        let engine = Arc::new(Engine::new(
            store.clone(),
            &config.analyzers,
            sinks,
            config.diagnosis.max_delivery_attempts,
        ));
        App {
            store,
            ingestor,
            engine,
        }
    }
}
