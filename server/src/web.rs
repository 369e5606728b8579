//! The web process's router, its composition root: pages, server functions, static files, sign-in, the
//! producer endpoint, health and metrics, with every layer they pass through.

use crate::{
    clickstream::{self, visit},
    http::{bundle, headers, images, origin},
    state::AppState,
};
use app::server_context::ContentSecurityPolicy;
use app::{shell, App};
use axum::{
    extract::DefaultBodyLimit,
    middleware,
    response::Response,
    routing::{get, post},
    Router,
};
use http::{HeaderName, HeaderValue, StatusCode};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::LazyLock;
use tower_http::{
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// The largest clickstream batch the producer endpoint reads.
pub const MAX_EVENT_BATCH_BYTES: usize = 64 * 1024;

/// The internal listener's routes: `/metrics`, the detailed `/readyz`, `/healthz`. No cookies, no rate limits,
/// no cross-site checks: it is for the cluster's scrapers and probes, never for shoppers.
pub fn internal_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(probes::scrape))
        .route("/readyz", get(probes::ready_in_detail))
        .route("/healthz", get(probes::live))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, state.settings.request_timeout))
        .with_state(state)
}

/// The app's routes, listed once per process, before any server of the process can render a page. Listing them
/// runs the app with every resource held back by a flag that is global to the process (leptos_server's
/// `SuppressResourceLoad`): a resource first polled while it is up, by any request of any server in the process,
/// never loads, and its page hangs until the request timeout (leptos#4773; seen when a test started a second
/// server beside a running one).
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: LazyLock<Vec<AxumRouteListing>> = LazyLock::new(|| generate_route_list(App));
    ROUTES.clone()
}

/// Builds the whole web application.
pub fn router(state: AppState, sessions: PostgresStore) -> Router {
    let leptos_routes = route_list();
    let (pool, payments, commerce) = (state.pool.clone(), state.payments.clone(), state.commerce);
    let catalog_cache = state.catalog_cache.clone();
    let live = state.live.clone();
    let policy = ContentSecurityPolicy(content_security_policy(&state.settings));
    let session_rules = state.settings.session.rules();
    let webhook_targets = state.settings.webhook_targets();
    let test_payments = state.settings.payments.test_payments();
    let bundle = crate::http::bundle::names(&state.settings.site_root);
    let provide_server_context = move || {
        provide_context(bundle.clone());
        if test_payments {
            provide_context(app::server_context::TestPayments);
        }
        provide_context(pool.clone());
        provide_context(catalog_cache.clone());
        provide_context(live.clone());
        provide_context(payments.clone());
        provide_context(commerce);
        provide_context(app::tax::PricesIncludeTax(commerce.prices_include_tax));
        provide_context(policy.clone());
        provide_context(session_rules);
        provide_context(webhook_targets);
    };
    let secure = state.settings.secure_cookies();
    let visit_cookies = visit::VisitCookies::new(
        state.settings.visits.signing_key(),
        secure,
        state.settings.session.absolute,
        state.settings.visits.idle,
    );
    let request_id = HeaderName::from_static("x-request-id");

    // `__Host-` in production: the browser keeps the cookie only when Secure, host-only and `Path=/`.
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(if secure { "__Host-cg_session" } else { "cg_session" })
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(tower_sessions::cookie::time::Duration::seconds(
            i64::try_from(state.settings.session.idle.as_secs()).unwrap_or(i64::MAX),
        )));

    let site = Router::new()
        .route("/healthz", get(probes::live))
        .route("/readyz", get(probes::ready))
        .route(
            app::tracking::COLLECT_PATH,
            post(clickstream::collect).layer(DefaultBodyLimit::max(MAX_EVENT_BATCH_BYTES)),
        )
        .route("/images/products/{file}", get(images::product_image))
        .route(
            "/admin/products/{id}/image",
            post(images::upload_product_image).layer(DefaultBodyLimit::max(app::admin::MAX_IMAGE_BYTES + 64 * 1024)),
        )
        .route("/favicon.svg", get(images::favicon))
        .nest("/pkg", bundle::router(&state.settings.site_root))
        .route("/journeys/{file}", get(crate::journey::routes::download))
        .route("/admin/insights.pdf", get(crate::journey::routes::insights_report))
        .route(
            "/graphql",
            get(crate::graphql::graphiql)
                .post(crate::graphql::execute)
                .layer(DefaultBodyLimit::max(crate::graphql::MAX_REQUEST_BYTES)),
        )
        .nest("/auth", crate::auth::router())
        .leptos_routes_with_context(&state, leptos_routes, provide_server_context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(provide_server_context, shell))
        .layer(middleware::from_fn(server_function_error_status))
        // Inside the session layer: the visit follows who is signed in.
        .layer(middleware::from_fn_with_state(visit_cookies, visit::track_visit))
        .layer(session_layer)
        .layer(middleware::from_fn_with_state(
            origin::WritePolicy {
                site: origin::SiteOrigin::of(&state.settings.public_url),
                same_host_too: state.settings.mode == crate::config::Mode::Dev,
            },
            origin::same_origin_writes,
        ));

    Router::new()
        .merge(site)
        .route_layer(middleware::from_fn(crate::prometheus::remember_route))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, state.settings.request_timeout))
        .layer(middleware::from_fn_with_state(
            headers::HeaderPolicy { hsts: state.settings.mode == crate::config::Mode::Production },
            headers::security_headers,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &http::Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(middleware::from_fn(crate::prometheus::record_http))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        // A client's own `x-request-id` is dropped before the layer above assigns one: the id in the logs and in
        // the answer is always the server's.
        .layer(middleware::map_request(|mut request: axum::extract::Request| async move {
            request.headers_mut().remove("x-request-id");
            request
        }))
        .with_state(state)
}

/// Pages may run only their own nonce'd bootstrap script and same-origin code (the WASM bundle needs
/// `wasm-unsafe-eval`); forms may post only here and to the OpenID provider (sign-out redirects there).
fn content_security_policy(settings: &crate::config::Settings) -> String {
    let provider = settings.oidc.issuer_url.as_deref().map(|url| origin::SiteOrigin::of(url).0).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{{nonce}}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
         form-action 'self' {provider}; frame-ancestors 'none'"
    )
}

/// Every failed server function answers with its error's HTTP status (`AppError::status`), set here in one
/// place: the framework answers 500 for any error. Arguments that cannot be decoded are the client's fault (400):
/// the framework reports them as `AppError::Transport`, which the app's own code never returns on the server.
async fn server_function_error_status(request: axum::extract::Request, next: middleware::Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR || !response.headers().contains_key("serverfnerror") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    match serde_json::from_slice(&bytes) {
        Ok(app::error::AppError::Transport(reason)) => {
            tracing::info!(%reason, "server function called with undecodable arguments");
            parts.status = StatusCode::BAD_REQUEST;
        }
        Ok(error) => parts.status = error.status(),
        Err(_) => {}
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// `/healthz` (the process answers), `/readyz` (its database and broker answer) and `/metrics` (Prometheus).
/// The shop's listener answers `/readyz` with the verdict alone; the internal listener adds the failing
/// components and the breakers, and serves `/metrics`.
mod probes {
    use crate::state::AppState;
    use axum::{extract::State, http::StatusCode, Json};
    use serde_json::{json, Value};

    /// `/healthz`: the process answers.
    pub async fn live() -> Json<Value> {
        Json(json!({ "status": "ok" }))
    }

    /// The public `/readyz`: 200 when the database and the broker answer, else 503; which component failed is the
    /// internal listener's to tell.
    pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
        if state.readiness.failing(&state.pool, &state.producer).await.is_empty() {
            (StatusCode::OK, Json(json!({ "status": "ready" })))
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" })))
        }
    }

    /// The internal `/readyz`: the same verdict, naming the failing components (the reasons go to the log), and
    /// the breakers' states either way.
    pub async fn ready_in_detail(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
        let failing = state.readiness.failing(&state.pool, &state.producer).await;
        // Informational: an open breaker sheds load from a failing dependency; it does not make this copy unready.
        let breakers = json!({
            "payments": state.payments.breaker.state().as_str(),
            "broker": state.producer.breaker_state().as_str(),
        });
        if failing.is_empty() {
            (StatusCode::OK, Json(json!({ "status": "ready", "breakers": breakers })))
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "failing": failing, "breakers": breakers })),
            )
        }
    }

    /// `/metrics`: samples what is read rather than counted (queue depth, breaker states), then renders.
    pub async fn scrape(State(state): State<AppState>) -> axum::response::Response {
        use crate::prometheus::names;
        metrics::gauge!(names::PRODUCER_QUEUE_DEPTH).set(f64::from(state.producer.in_flight_count()));
        state.payments.breaker.report();
        state.producer.report_breaker();
        crate::prometheus::render()
    }
}
