//! Building the web process from settings, failing fast with a named component (the worker is built by
//! [`crate::worker::run`]).

use crate::{
    auth::OidcClient,
    catalog_events::cache::CatalogListener,
    clickstream::{ClickstreamProducer, CollectLimits},
    config::{Mode, Settings},
    db,
    http::serve::ConnectionLimits,
    kafka::{self, Topics},
    live,
    orders::{commerce, payments},
    shutdown::Shutdown,
    state::AppState,
};
use anyhow::Context;
use app::{catalog::cache::CatalogCache, live::Live, orders::payment::DrillGateway};
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_config::Env;
use sqlx::PgPool;
use std::{future::Future, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tower_sessions_sqlx_store::PostgresStore;

/// The web process, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// `/metrics` and the detailed `/readyz`, unless switched off.
    internal: Option<(TcpListener, Router)>,
    producer: ClickstreamProducer,
    pool: PgPool,
    /// Empties the catalog cache at every `catalog.v1` event.
    catalog_listener: CatalogListener,
    /// Reloads the live file when it changes, if there is one.
    live_watch: Option<(live::LiveFileWatch, live::Governed)>,
    sweep_every: Duration,
    limits: ConnectionLimits,
}

impl Application {
    /// Checks every service (database, broker, OpenID provider) and binds the listener.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        crate::prometheus::install();
        let timeout = settings.startup_timeout;
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen_addr))?;
        let internal_listener = match settings.telemetry.internal_addr() {
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

        let pool = db::prepare(&settings).await?;
        let kafka = settings.kafka.connection();
        let topics = Topics::new(&settings.kafka.topic_prefix);
        kafka::ensure_topics(&kafka, &topics, settings.kafka.partitions, timeout).await?;
        let catalog_cache = CatalogCache::new(settings.catalog_cache);
        let catalog_listener = CatalogListener::assign(&kafka, &topics.catalog, catalog_cache.clone())
            .await
            .with_context(|| format!("the catalog listener cannot read {} at {kafka}", topics.catalog))?;
        let producer = ClickstreamProducer::new(&kafka, topics, settings.collect.broker_breaker())?;
        let oidc = OidcClient::discover(&settings.oidc, &settings.public_url, timeout).await?;
        let sessions = PostgresStore::new(pool.clone());
        sessions.migrate().await.context("creating the session table")?;

        let settings_ref = settings.clone();
        let hash_file = crate::http::bundle::hash_file(&settings.site_root);
        let leptos_options = LeptosOptions::builder()
            .output_name("cartograph")
            .site_root(settings.site_root.as_str())
            // Pages name the content-hashed bundle when the site build wrote one (`http::bundle`).
            .hash_files(hash_file.is_some())
            .hash_file(hash_file.map_or_else(|| "hash.txt".into(), |file| file.display().to_string().into()))
            .site_pkg_dir("pkg")
            .site_addr(local_addr)
            .env(if settings.mode == Mode::Production { Env::PROD } else { Env::DEV })
            .build();
        let live = Live::default();
        let mut payments = payments(&settings_ref.payments, settings_ref.visits.signing_key(), &pool);
        payments.gateway = Arc::new(DrillGateway::new(payments.gateway, live.clone()));
        let collect_limits =
            Arc::new(CollectLimits::from_settings(&settings_ref.collect, settings_ref.visits.max_events.get()));
        let governed = live::Governed {
            live: live.clone(),
            limits: collect_limits.clone(),
            payments_breaker: payments.breaker.clone(),
            broker_breaker: producer.breaker(),
        };
        let settings = Arc::new(settings);
        let live_watch = live::LiveFileWatch::start(settings.clone(), &governed)?.map(|watch| (watch, governed));
        let state = AppState {
            leptos_options,
            pool: pool.clone(),
            settings,
            producer: producer.clone(),
            oidc: Arc::new(oidc),
            payments,
            commerce: commerce(&settings_ref.orders),
            collect_limits,
            journey_renders: Arc::default(),
            readiness: Arc::default(),
            catalog_cache,
            live,
            graphql: crate::graphql::Api::new(&settings_ref)?,
        };
        let sweep_every = state.settings.orders.expiry_sweep;
        let limits = ConnectionLimits::from_settings(&state.settings.http, state.settings.request_timeout);
        let internal = internal_listener.map(|listener| (listener, crate::web::internal_router(state.clone())));
        let router = crate::web::router(state, sessions);
        Ok(Self { listener, router, internal, producer, pool, catalog_listener, live_watch, sweep_every, limits })
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
        let sweeper =
            tokio::spawn(crate::orders::expiry::sweep_until(self.pool.clone(), self.sweep_every, background.clone()));
        let catalog_listener = tokio::spawn(self.catalog_listener.run(background.clone()));
        let live_watch = self.live_watch.map(|(watch, governed)| tokio::spawn(watch.run(governed, background.clone())));
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
        let _ = catalog_listener.await;
        if let Some(live_watch) = live_watch {
            let _ = live_watch.await;
        }
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
