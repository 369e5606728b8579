//! The worker's own listener: `/metrics`, and a `/readyz` that names the consumers whose writes keep failing.

use crate::{consume::failure::StorageHealth, shutdown::Shutdown};
use axum::{
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use std::net::SocketAddr;

/// Serves `/metrics` on `addr` until `shutdown` (the worker's listener). Binding fails fast, naming the address.
pub async fn serve(
    addr: SocketAddr,
    health: StorageHealth,
    shutdown: Shutdown,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use anyhow::Context;
    crate::prometheus::install();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for worker metrics on {addr} (CARTOGRAPH_WORKER_METRICS_ADDR)"))?;
    tracing::info!(addr = %listener.local_addr()?, "worker metrics at /metrics, readiness at /readyz");
    let router = Router::new()
        .route("/metrics", get(|| async { crate::prometheus::render() }))
        .route("/readyz", get(move || worker_readiness(health.clone())));
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, router).with_graceful_shutdown(async move { shutdown.wait().await }).await;
        if let Err(error) = served {
            tracing::warn!(%error, "the worker metrics listener stopped");
        }
    }))
}

/// The worker's `/readyz`: 503 naming the consumers whose writes keep failing (the database is down, say);
/// records set aside for good do not make it unready.
async fn worker_readiness(health: StorageHealth) -> Response {
    use axum::{http::StatusCode, Json};
    let failing = health.failing();
    if failing.is_empty() {
        (StatusCode::OK, Json(serde_json::json!({ "status": "ready" }))).into_response()
    } else {
        let body = serde_json::json!({ "status": "unavailable", "failing": failing });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}
