//! The PostgreSQL pool and migrations.

use crate::config::redact_url;
use anyhow::Context;
use sqlx::{postgres::PgPoolOptions, PgPool};
use std::time::Duration;

/// Connects, failing within `timeout` with an error that names the database. Afterwards, a query waits at most
/// `acquire_timeout` for a connection (sqlx keeps retrying a database that is down until then).
pub async fn connect(
    url: &str,
    max_connections: u32,
    timeout: Duration,
    acquire_timeout: Duration,
) -> anyhow::Result<PgPool> {
    let connecting = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect(url);
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(pool)) => Ok(pool),
        Ok(Err(error)) => Err(anyhow::anyhow!("database unreachable at {}: {error}", redact_url(url))),
        Err(_) => Err(anyhow::anyhow!(
            "database unreachable at {}: no answer within {}s",
            redact_url(url),
            timeout.as_secs()
        )),
    }
}

/// Applies the migrations in `migrations/` (embedded at compile time).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("../migrations").run(pool).await.context("applying database migrations")
}
