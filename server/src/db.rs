//! The PostgreSQL pool and migrations.

use crate::config::{redact_url, DatabaseSettings, Settings};
use anyhow::Context;
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, PgPool,
};
use std::time::Duration;

/// A connection idle this long is pinged before it is handed out (one that fails is closed and another taken); one
/// used more recently is handed out as it is, as HikariCP does within its `aliveBypassWindowMs` (500 ms too). sqlx
/// would ping before every query (`test_before_acquire`): a second round trip to PostgreSQL for each one, about as
/// costly as the query itself on a product page. A connection that broke within the window fails its one query
/// with an I/O error, which answers 503 like any other outage, and is closed.
const CHECK_WHEN_IDLE_FOR: Duration = Duration::from_millis(500);

/// Connects, failing within `timeout` with an error that names the database. Afterwards, a query waits at most
/// the section's `acquire_timeout` for a connection (sqlx keeps retrying a database that is down until then).
///
/// The URL's `sslmode` is honoured (`verify-full` checks the server's certificate and name); `ca_file` adds a
/// private CA to the trusted roots.
pub async fn connect(database: &DatabaseSettings, timeout: Duration) -> anyhow::Result<PgPool> {
    let url = database.url();
    let mut options: PgConnectOptions =
        url.parse().map_err(|error| anyhow::anyhow!("invalid database URL {}: {error}", redact_url(url)))?;
    if let Some(ca_file) = &database.ca_file {
        options = options.ssl_root_cert(ca_file);
    }
    let connecting = PgPoolOptions::new()
        .max_connections(database.max_connections)
        .acquire_timeout(database.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_WHEN_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options);
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(pool)) => Ok(pool),
        Ok(Err(error)) => Err(anyhow::anyhow!("database unreachable at {}: {error}", redact_url(url))),
        Err(_) => {
            Err(anyhow::anyhow!("database unreachable at {}: no answer within {}s", redact_url(url), timeout.as_secs()))
        }
    }
}

/// Applies the migrations in `migrations/` (embedded at compile time).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("../migrations").run(pool).await.context("applying database migrations")
}

/// Connects to the database, applies migrations and (in dev) seeds the demo catalog.
pub async fn prepare(settings: &Settings) -> anyhow::Result<PgPool> {
    let pool = connect(&settings.database, settings.startup_timeout).await?;
    migrate(&pool).await?;
    if settings.seed_demo_catalog {
        let added = crate::seed::seed_demo_catalog(&pool).await.context("seeding the demo catalog")?;
        if added > 0 {
            tracing::info!(products = added, "seeded the demo catalog");
        }
    }
    Ok(pool)
}
