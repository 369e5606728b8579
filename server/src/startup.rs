//! Building the web application and the worker from settings, failing fast with a named component.

pub use crate::state::AppState;

use crate::{
    auth::OidcClient,
    config::{Mode, Settings},
    db,
    http::serve::ConnectionLimits,
    kafka::{self, Topics},
    seed,
    shutdown::Shutdown,
    tracking::{ClickstreamProducer, CollectLimits},
    worker,
};
use anyhow::Context;
use app::orders::{
    payment::{Payments, TestGateway},
    store::CommerceSettings,
};
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_config::Env;
use sqlx::PgPool;
use std::{future::Future, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tower_sessions_sqlx_store::PostgresStore;

/// The payment gateway from settings: the built-in test gateway (a real provider plugs in behind the same trait).
pub fn payments(settings: &Settings, pool: &PgPool) -> Payments {
    let gateway = TestGateway::new(
        pool.clone(),
        Duration::from_millis(settings.test_gateway_latency_ms),
        Duration::from_millis(settings.test_gateway_slow_ms),
    );
    let timeout = Duration::from_secs(settings.payment_timeout_secs);
    let mut payments =
        Payments::new(Arc::new(gateway), timeout, settings.payment_breaker(), settings.visit_signing_key());
    payments.limits = settings.payment_attempt_limits();
    payments.settle_after =
        Duration::from_secs(settings.payment_settle_after_secs).max(timeout + Duration::from_secs(1));
    payments
}

/// The commerce rules from settings.
pub fn commerce(settings: &Settings) -> CommerceSettings {
    CommerceSettings {
        reservation: Duration::from_secs(settings.reservation_minutes * 60),
        max_unpaid_orders: settings.max_unpaid_orders,
        max_reserved_per_product: settings.max_reserved_per_product,
    }
}

/// Settles payments left in flight every `every` until `shutdown` (worker); safe with several copies.
pub async fn settle_payments(pool: PgPool, payments: Payments, every: Duration, shutdown: Shutdown) {
    loop {
        if !shutdown.sleep(every).await {
            return;
        }
        match app::orders::payment::settle_in_flight(&pool, &payments, 20).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(payments = count, "settled payments left in flight"),
            Err(error) => tracing::warn!(%error, "settling payments in flight failed; retrying later"),
        }
    }
}

/// Expires lapsed reservations every `every` until `shutdown`; safe with several server copies.
pub async fn sweep_reservations(pool: PgPool, every: Duration, shutdown: Shutdown) {
    loop {
        if !shutdown.sleep(every).await {
            return;
        }
        loop {
            match app::orders::store::expire_reservations(&pool, 100).await {
                Ok(0) => break,
                Ok(count) => tracing::info!(orders = count, "expired unpaid orders and released their stock"),
                Err(error) => {
                    tracing::warn!(%error, "expiring reservations failed; retrying later");
                    break;
                }
            }
        }
    }
}

/// Connects to the database, applies migrations and (in dev) seeds the demo catalog.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<PgPool> {
    let timeout = Duration::from_secs(settings.startup_timeout_secs);
    let acquire = Duration::from_millis(settings.database_acquire_timeout_ms);
    let pool = db::connect(
        settings.database_url(),
        settings.database_ca_file.as_deref(),
        settings.database_max_connections,
        timeout,
        acquire,
    )
    .await?;
    db::migrate(&pool).await?;
    if settings.seed_demo_catalog {
        let added = seed::seed_demo_catalog(&pool).await.context("seeding the demo catalog")?;
        if added > 0 {
            tracing::info!(products = added, "seeded the demo catalog");
        }
    }
    Ok(pool)
}

/// The web process, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// `/metrics` and the detailed `/readyz`, unless switched off.
    internal: Option<(TcpListener, Router)>,
    producer: ClickstreamProducer,
    pool: PgPool,
    sweep_every: Duration,
    limits: ConnectionLimits,
}

impl Application {
    /// Checks every service (database, broker, OpenID provider) and binds the listener.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        crate::prometheus::install();
        let timeout = Duration::from_secs(settings.startup_timeout_secs);
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen_addr))?;
        let internal_listener = match settings.internal_addr() {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                format!("cannot listen for /metrics and /readyz on {addr} (CARTOGRAPH_INTERNAL_ADDR)")
            })?),
            None => None,
        };
        let local_addr = listener.local_addr()?;
        if settings.listen_addr.port() == 0 {
            // Tests bind a random port: the public URL follows it.
            settings.public_url = format!("http://{local_addr}");
        }

        let pool = prepare_database(&settings).await?;
        let topics = Topics::new(&settings.kafka_topic_prefix);
        kafka::ensure_topics(&settings.kafka_connection(), &topics, settings.kafka_partitions, timeout).await?;
        let producer = ClickstreamProducer::new(&settings.kafka_connection(), topics, settings.broker_breaker())?;
        let oidc = OidcClient::discover(&settings, timeout).await?;
        let sessions = PostgresStore::new(pool.clone());
        sessions.migrate().await.context("creating the session table")?;

        let settings_ref = settings.clone();
        let leptos_options = LeptosOptions::builder()
            .output_name("cartograph")
            .site_root(settings.site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(local_addr)
            .env(if settings.mode == Mode::Production { Env::PROD } else { Env::DEV })
            .build();
        let state = AppState {
            leptos_options,
            pool: pool.clone(),
            settings: Arc::new(settings),
            producer: producer.clone(),
            oidc: Arc::new(oidc),
            payments: payments(&settings_ref, &pool),
            commerce: commerce(&settings_ref),
            collect_limits: Arc::new(CollectLimits::from_settings(&settings_ref)),
            journey_renders: Arc::default(),
            readiness: Arc::default(),
        };
        let sweep_every = Duration::from_secs(state.settings.expiry_sweep_secs);
        let limits = ConnectionLimits::from_settings(&state.settings);
        let internal = internal_listener.map(|listener| (listener, crate::http::internal_router(state.clone())));
        let router = crate::http::router(state, sessions);
        Ok(Self { listener, router, internal, producer, pool, sweep_every, limits })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|addr| addr.port()).unwrap_or_default()
    }

    /// The port of the internal listener (`/metrics`, the detailed `/readyz`), if it is on.
    pub fn internal_port(&self) -> Option<u16> {
        self.internal.as_ref().and_then(|(listener, _)| listener.local_addr().ok()).map(|addr| addr.port())
    }

    /// Serves until `shutdown` resolves, then drains requests (for a bounded time) and flushes the producer.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        tracing::info!(addr = %self.listener.local_addr()?, "listening");
        let background = Shutdown::default();
        let sweeper = tokio::spawn(sweep_reservations(self.pool.clone(), self.sweep_every, background.clone()));
        let internal = self.internal.map(|(listener, router)| {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "internal listener: /metrics, /readyz with details");
            }
            let stop = background.clone();
            tokio::spawn(async move {
                let served =
                    axum::serve(listener, router).with_graceful_shutdown(async move { stop.wait().await }).await;
                if let Err(error) = served {
                    tracing::warn!(%error, "the internal listener stopped");
                }
            })
        });
        let served =
            crate::http::serve::serve(self.listener, self.router, self.limits, shutdown).await.context("serving HTTP");
        background.trigger();
        let _ = sweeper.await;
        if let Some(internal) = internal {
            let _ = internal.await;
        }
        served?;
        let producer = self.producer;
        tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(5))).await.ok();
        self.pool.close().await;
        Ok(())
    }
}

/// Checks the database and the broker, then consumes until `shutdown` fires.
pub async fn run_worker(settings: Settings, shutdown: Shutdown) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(settings.startup_timeout_secs);
    crate::prometheus::install();
    let health = worker::failure::StorageHealth::default();
    let metrics_listener = match settings.worker_metrics_addr() {
        Some(addr) => Some(crate::prometheus::serve_worker_metrics(addr, health.clone(), shutdown.clone()).await?),
        None => None,
    };
    let pool = prepare_database(&settings).await?;
    let topics = Topics::new(&settings.kafka_topic_prefix);
    kafka::ensure_topics(&settings.kafka_connection(), &topics, settings.kafka_partitions, timeout).await?;
    use worker::outbox::{Outbox, OutboxRelay};
    let relays = [(Outbox::Catalog, &topics.catalog), (Outbox::Clickstream, &topics.clickstream)]
        .into_iter()
        .map(|(outbox, topic)| {
            let relay = OutboxRelay::new(pool.clone(), &settings.kafka_connection(), outbox, topic.clone())?;
            Ok(tokio::spawn(relay.run_until(Duration::from_millis(500), shutdown.clone())))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let retaining = tokio::spawn(worker::retention::run_until(
        pool.clone(),
        worker::retention::RetentionRules::from_settings(&settings),
        Duration::from_secs(settings.retention_sweep_secs),
        shutdown.clone(),
    ));
    let settling = tokio::spawn(settle_payments(
        pool.clone(),
        payments(&settings, &pool),
        Duration::from_secs(settings.payment_settle_sweep_secs),
        shutdown.clone(),
    ));
    let notifying = tokio::spawn({
        let (brokers, topic, pool, health, shutdown) =
            (settings.kafka_connection(), topics.catalog.clone(), pool.clone(), health.clone(), shutdown.clone());
        let group = format!("{}.notifications", settings.kafka_consumer_group);
        let member = settings.kafka_group_member.as_ref().map(|member| format!("{member}.notifications"));
        async move { worker::catalog::run(&brokers, &group, member.as_deref(), &topic, pool, health, shutdown).await }
    });
    let config = worker::WorkerConfig {
        kafka: settings.kafka_connection(),
        group_id: settings.kafka_consumer_group.clone(),
        member: settings.kafka_group_member.clone(),
        topics,
        closing: worker::visits::ClosingRules {
            idle: Duration::from_secs(settings.visit_idle_minutes * 60),
            sign_out_grace: Duration::from_secs(5),
            every: Duration::from_secs(settings.visit_sweep_secs),
        },
        visit_max_events: settings.visit_max_events,
        health,
    };
    let result = worker::run(config, pool.clone(), shutdown.clone()).await;
    shutdown.trigger();
    for relay in relays {
        let _ = relay.await;
    }
    let _ = retaining.await;
    let _ = settling.await;
    match notifying.await {
        Ok(Err(error)) => tracing::error!(error = %format!("{error:#}"), "the notifications consumer failed"),
        Err(error) => tracing::error!(%error, "the notifications consumer panicked"),
        Ok(Ok(())) => {}
    }
    pool.close().await;
    if let Some(listener) = metrics_listener {
        let _ = listener.await;
    }
    result
}
