//! `/graphql`: the shop for every client that is not its own web page (a mobile app, a second storefront, a
//! partner's integration), on the same domain code as the server functions: the resolvers call the functions
//! those call (`app::catalog::store`, `app::cart`, `app::orders::checkout_for`, `pay_for`…), so no rule has a
//! second copy.
//!
//! A caller is the session's (the shop's cookie, under the same-origin rule as every other write) or a personal
//! API token's (`Authorization: Bearer cgp_…`, scoped read / write / admin, rate limited per token); without
//! either, the caller is the visit (the catalog, and the visit's own cart). Queries are limited in depth and
//! complexity and lists in size; errors say what `AppError` says, never more. `GET /graphql` is GraphiQL in dev
//! mode. The schema is in `docs/schema.graphql`, and a test fails when it drifts from the code.

pub mod allowlist;
mod schema;

pub use schema::{build_schema, ShopSchema};

use crate::clickstream::limits::RateLimiter;
use app::{api_tokens::Scope, server_context::VisitId};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
    Extension,
};
use std::sync::Arc;
use uuid::Uuid;

/// The deepest a query may nest.
pub const MAX_DEPTH: usize = 10;
/// The most a query may cost (each field 1, a list field its size times its children).
pub const MAX_COMPLEXITY: usize = 2_000;
/// The most items one list field returns.
pub const MAX_PAGE: i32 = 50;
/// The largest request body (a query and its variables).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Who asks, as every resolver sees it.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The request's visit (the shop's visit cookie, or one made for this request).
    pub visit: Uuid,
    /// The signed-in person, by session or token.
    pub user: Option<Person>,
    /// What the caller may do: a session may do all its user may; a token no more than its scope.
    pub scope: Scope,
    /// The token the caller used, if any.
    pub token: Option<Uuid>,
}

/// A signed-in caller.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: Uuid,
    pub name: String,
    pub is_admin: bool,
}

/// What the API works with (from the app's state).
#[derive(Clone)]
pub struct GraphqlState {
    pub pool: sqlx::PgPool,
    pub payments: app::orders::payment::Payments,
    pub commerce: app::orders::store::CommerceSettings,
    pub catalog_cache: app::catalog::cache::CatalogCache,
    pub session_rules: app::server_context::SessionRules,
    pub api: Arc<Api>,
}

/// The schema, the per-token limit and the allow-list, built once per process.
pub struct Api {
    pub schema: ShopSchema,
    pub per_token: RateLimiter<Uuid>,
    pub graphiql: bool,
    /// When set, only these operations run (`CARTOGRAPH_GRAPHQL_ALLOWLIST`).
    pub allowlist: Option<allowlist::Allowlist>,
}

impl Api {
    /// Builds the API; refuses an allow-list file that cannot be read or is not a valid manifest.
    pub fn new(settings: &crate::config::Settings) -> anyhow::Result<Arc<Self>> {
        let allowlist = match &settings.graphql.allowlist {
            Some(path) => {
                let json = std::fs::read_to_string(path)
                    .map_err(|error| anyhow::anyhow!("CARTOGRAPH_GRAPHQL_ALLOWLIST {path}: {error}"))?;
                let list = allowlist::Allowlist::parse(&json)
                    .map_err(|error| anyhow::anyhow!("CARTOGRAPH_GRAPHQL_ALLOWLIST {path}: {error}"))?;
                tracing::info!(path, operations = list.len(), "the GraphQL API runs only its allow-list");
                Some(list)
            }
            None => None,
        };
        let rate = crate::clickstream::limits::Rate {
            burst: settings.graphql.burst_per_token,
            per_second: settings.graphql.rate_per_token,
        };
        Ok(Arc::new(Self {
            schema: build_schema(settings.graphql.introspection),
            per_token: RateLimiter::new(rate, 100_000),
            graphiql: settings.mode == crate::config::Mode::Dev,
            allowlist,
        }))
    }
}

/// A refusal before the query runs, as a GraphQL error body.
fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": status.as_u16() } }] });
    (status, axum::Json(body)).into_response()
}

/// `POST /graphql`.
pub async fn execute(
    State(state): State<GraphqlState>,
    session: tower_sessions::Session,
    Extension(VisitId(visit)): Extension<VisitId>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let caller = match caller(&state, &session, visit, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if let Some(token) = caller.token {
        if let Err(wait) = state.api.per_token.check(&token) {
            let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, "Too many requests with this token; slow down.");
            if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
    }
    let mut request = request.into_inner();
    if let Some(list) = &state.api.allowlist {
        if let Err(reason) = list.admit(&mut request) {
            return refuse(StatusCode::BAD_REQUEST, reason);
        }
    }
    let request = request.data(caller).data(state.clone());
    GraphQLResponse::from(state.api.schema.execute(request).await).into_response()
}

/// Who the request speaks for: a bearer token's holder (an unknown, revoked or expired token is refused), else
/// the session's user, else the visit alone.
async fn caller(
    state: &GraphqlState,
    session: &tower_sessions::Session,
    visit: Uuid,
    headers: &HeaderMap,
) -> Result<Caller, Response> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let secret = value.to_str().ok().and_then(|value| value.strip_prefix("Bearer ")).map(str::trim);
        let Some(secret) = secret else {
            return Err(refuse(StatusCode::UNAUTHORIZED, "Authorization must be `Bearer <token>`."));
        };
        let holder = app::api_tokens::store::authenticate(&state.pool, secret).await.map_err(|error| {
            tracing::error!(%error, "could not check an API token");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "The shop is briefly unavailable; please try again in a moment.")
        })?;
        let Some(holder) = holder else {
            return Err(refuse(StatusCode::UNAUTHORIZED, "The token is unknown, revoked or expired."));
        };
        return Ok(Caller {
            visit,
            user: Some(Person { id: holder.user, name: holder.name, is_admin: holder.is_admin }),
            scope: holder.scope,
            token: Some(holder.token),
        });
    }
    let user = app::server_context::current_user(session, state.session_rules, &state.pool).await.map_err(|error| {
        tracing::warn!(%error, "could not read the session for /graphql");
        refuse(error.status(), &error.to_string())
    })?;
    Ok(match user {
        Some(user) => Caller {
            visit,
            scope: if user.is_admin { Scope::Admin } else { Scope::Write },
            user: Some(Person { id: user.id, name: user.name, is_admin: user.is_admin }),
            token: None,
        },
        None => Caller { visit, user: None, scope: Scope::Write, token: None },
    })
}

/// `GET /graphql`: GraphiQL in dev mode (its page loads from a CDN, so it gets its own content security policy);
/// nothing in production.
pub async fn graphiql(State(state): State<GraphqlState>) -> Response {
    if !state.api.graphiql {
        return refuse(StatusCode::NOT_FOUND, "GraphiQL is only served in dev mode; POST your queries here.");
    }
    let page = async_graphql::http::GraphiQLSource::build().endpoint("/graphql").finish();
    let mut response = Html(page).into_response();
    let policy = "default-src 'self'; script-src 'self' 'unsafe-inline' https://unpkg.com; \
                  style-src 'self' 'unsafe-inline' https://unpkg.com; img-src 'self' data: https://unpkg.com; \
                  connect-src 'self'; frame-ancestors 'none'";
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    response
}

/// The schema as SDL, as `docs/schema.graphql` holds it.
pub fn sdl() -> String {
    build_schema(true).sdl()
}
