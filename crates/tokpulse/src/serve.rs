//! `tokpulse serve`: the API, the webhook receivers ([`crate::server::webhooks`]) and the
//! scheduler ([`crate::scheduler`]: diagnosis, cost, watchers, insights and retention on their
//! cron schedules, PR checks on pull requests), until SIGTERM or Ctrl-C.
//!
//! On a signal the server stops accepting connections, lets requests in flight finish (each
//! answers only after its batch is committed), stops the scheduler between runs, and closes
//! the store (SQLite checkpoints its WAL). Nothing acknowledged is lost, and because a batch is
//! acknowledged only after commit, even SIGKILL loses nothing acknowledged.

use crate::app::App;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::scheduler::Scheduler;
use crate::scheduler::pr_checks::PrPublisher;
use crate::server::webhooks::{WebhookSecrets, WebhookState};
use crate::server::{ServerState, router};
use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// What `serve` takes besides the config: the webhook secrets, the clock, how often the
/// scheduler looks at it, and where PR check results go.
pub struct ServeOptions {
    /// The webhook receivers' secrets (from the environment).
    pub secrets: WebhookSecrets,
    /// The clock of the scheduler, the jobs and the webhook receivers.
    pub clock: SharedClock,
    /// How often the scheduler reads the clock.
    pub poll: Duration,
    /// Where PR check comments and statuses go; `None`: the outbox.
    pub pr_publisher: Option<Arc<dyn PrPublisher>>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            secrets: WebhookSecrets::default(),
            clock: Arc::new(SystemClock),
            poll: Duration::from_secs(1),
            pr_publisher: None,
        }
    }
}

/// Serves until `shutdown` completes, without webhook secrets, on the system clock.
pub async fn serve(
    config: &Config,
    app: App,
    listen: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(config, app, listen, ServeOptions::default(), shutdown).await
}

/// Serves the API and the webhook receivers and runs the scheduler until `shutdown` completes.
pub async fn serve_with(
    config: &Config,
    app: App,
    listen: &str,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let store = app.store.clone();
    let clock = options.clock.clone();
    let scheduler = Arc::new(Scheduler::for_app(
        config,
        &app,
        clock.clone(),
        options.pr_publisher.clone(),
    )?);
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let hooks = {
        let ingest_clock = clock.clone();
        Arc::new(WebhookState {
            ingestor: Arc::new(
                (*app.ingestor)
                    .clone()
                    .with_clock(move || ingest_clock.now()),
            ),
            store: store.clone(),
            secrets: options.secrets.clone(),
            clock: clock.clone(),
            events: events_tx,
            max_body_bytes: config.server.max_body_bytes,
        })
    };
    let state = Arc::new(ServerState {
        app,
        max_body_bytes: config.server.max_body_bytes,
    });
    let timeout = Duration::from_secs(config.server.request_timeout_secs);
    let routes = router(state, timeout).merge(
        crate::server::webhooks::router(hooks)
            .layer(TimeoutLayer::with_status_code(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                timeout,
            ))
            .layer(TraceLayer::new_for_http()),
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let jobs = if config.scheduler.enabled {
        Some(tokio::spawn(scheduler.run_loop(
            events_rx,
            stop_rx,
            options.poll,
        )))
    } else {
        tracing::info!("scheduler.enabled is false: no scheduled jobs");
        None
    };

    // The address line is read by scripts and tests: keep its shape.
    println!("tokpulse listening on http://{addr}");
    tracing::info!(%addr, backend = ?store.backend(), "serving");
    axum::serve(listener, routes)
        .with_graceful_shutdown(shutdown)
        .await
        .context("server failed")?;
    let _ = stop_tx.send(true);
    if let Some(jobs) = jobs {
        let _ = jobs.await;
    }
    store.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
