//! What every handler can reach: built once by `startup`, read by the handlers (which depend on this module,
//! never on `startup`).

use crate::{
    auth::OidcClient,
    clickstream::{ClickstreamProducer, CollectLimits},
    config::Settings,
    http::health::Readiness,
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
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
