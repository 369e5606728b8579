//! What the web process holds: built once by `startup`. Each flow's handlers take their own part of it (an
//! `AuthState`, a `CollectState`…) through `FromRef`, so the flows never depend on this module, nor on
//! `startup`: the dependencies point one way, from here to the flows.

use crate::{
    auth::{AuthState, OidcClient},
    clickstream::{ClickstreamProducer, CollectLimits, CollectState},
    config::Settings,
    health::Readiness,
    http::images::ImageState,
    journey::routes::DownloadState,
};
use app::orders::{payment::Payments, store::CommerceSettings};
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub producer: ClickstreamProducer,
    pub oidc: Arc<OidcClient>,
    pub payments: Payments,
    pub commerce: CommerceSettings,
    pub collect_limits: Arc<CollectLimits>,
    /// Journeys rendered on demand: one render at a time per visit, kept for a few seconds.
    pub journey_renders: Arc<crate::journey::renders::OnDemandRenders>,
    /// `/readyz`'s last answer, shared by all callers.
    pub readiness: Arc<Readiness>,
    /// What this copy read of the catalog; `catalog.v1` events empty it (`catalog_events::cache`).
    pub catalog_cache: app::catalog::cache::CatalogCache,
    /// The live settings in force (`crate::live`).
    pub live: app::live::Live,
    /// The GraphQL API's schema and per-token limit (`crate::graphql`).
    pub graphql: Arc<crate::graphql::Api>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for AuthState {
    fn from_ref(state: &AppState) -> Self {
        Self { pool: state.pool.clone(), oidc: state.oidc.clone() }
    }
}

impl FromRef<AppState> for CollectState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            pool: state.pool.clone(),
            producer: state.producer.clone(),
            limits: state.collect_limits.clone(),
            settings: state.settings.clone(),
            live: state.live.clone(),
        }
    }
}

impl FromRef<AppState> for DownloadState {
    fn from_ref(state: &AppState) -> Self {
        Self { pool: state.pool.clone(), renders: state.journey_renders.clone(), settings: state.settings.clone() }
    }
}

impl FromRef<AppState> for crate::graphql::GraphqlState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            pool: state.pool.clone(),
            payments: state.payments.clone(),
            commerce: state.commerce,
            catalog_cache: state.catalog_cache.clone(),
            session_rules: state.settings.session.rules(),
            api: state.graphql.clone(),
        }
    }
}

impl FromRef<AppState> for ImageState {
    fn from_ref(state: &AppState) -> Self {
        Self { pool: state.pool.clone(), settings: state.settings.clone() }
    }
}
