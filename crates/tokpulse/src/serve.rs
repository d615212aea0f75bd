//! `tokpulse serve`: the API plus diagnosis on an interval, until SIGTERM or Ctrl-C.
//!
//! Retention ([`crate::retention::run_retention`]) runs ten minutes after start, then daily.
//!
//! On a signal the server stops accepting connections, lets requests in flight finish (each
//! answers only after its batch is committed), stops the diagnosis loop between runs, and closes
//! the store (SQLite checkpoints its WAL). Nothing acknowledged is lost, and because a batch is
//! acknowledged only after commit, even SIGKILL loses nothing acknowledged.

use crate::app::App;
use crate::config::Config;
use crate::server::{ServerState, router};
use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Serves until `shutdown` completes.
pub async fn serve(
    config: &Config,
    app: App,
    listen: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let store = app.store.clone();
    let engine = app.engine.clone();
    let state = Arc::new(ServerState {
        app,
        max_body_bytes: config.server.max_body_bytes,
    });
    let routes = router(
        state,
        Duration::from_secs(config.server.request_timeout_secs),
    );

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let interval = Duration::from_secs(config.diagnosis.interval_secs);
    let diagnosis = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop_rx.changed() => break,
            }
            match engine.run(chrono::Utc::now()).await {
                Ok(run) => tracing::info!(
                    samples = run.samples,
                    findings = run.seen.len(),
                    resolved = run.resolved.len(),
                    queued = run.queued,
                    delivered = run.delivery.delivered,
                    "diagnosis run"
                ),
                Err(error) => tracing::warn!(%error, "diagnosis run failed"),
            }
        }
    });

    // Retention: first soon after start, then daily; one chunked run at a time.
    let retention = {
        let store = store.clone();
        let config = config.retention.clone();
        let mut stop_rx = stop_tx.subscribe();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + crate::retention::FIRST_RUN_AFTER;
            let mut tick = tokio::time::interval_at(start, crate::retention::INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_rx.changed() => break,
                }
                let now = chrono::Utc::now();
                match crate::retention::run_retention(store.as_ref(), &config, now, false).await {
                    Ok(report) => tracing::info!(deleted = report.total(), "retention run"),
                    Err(error) => tracing::warn!(%error, "retention run failed"),
                }
            }
        })
    };

    // The address line is read by scripts and tests: keep its shape.
    println!("tokpulse listening on http://{addr}");
    tracing::info!(%addr, backend = ?store.backend(), "serving");
    axum::serve(listener, routes)
        .with_graceful_shutdown(shutdown)
        .await
        .context("server failed")?;
    let _ = stop_tx.send(true);
    let _ = diagnosis.await;
    let _ = retention.await;
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
