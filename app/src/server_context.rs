//! What the server hands to server functions: the pool, the visit, the signed-in user, the payment gateway.

use crate::{
    auth::{SessionUser, SESSION_USER_KEY},
    error::AppError,
};
use leptos::prelude::use_context;
use sqlx::PgPool;
use uuid::Uuid;

/// The current visit, put in the request's extensions by the server's visit middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitId(pub Uuid);

/// Who owns a cart: a signed-in user, or else the anonymous visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    User(Uuid),
    Visit(Uuid),
}

/// The database pool the server provided for this request.
pub fn pool() -> Result<PgPool, AppError> {
    use_context::<PgPool>().ok_or_else(|| {
        tracing::error!("no database pool in the Leptos context");
        AppError::Internal
    })
}

/// The visit of this request.
pub async fn visit_id() -> Result<Uuid, AppError> {
    let axum::Extension(VisitId(id)) = leptos_axum::extract::<axum::Extension<VisitId>>().await.map_err(|error| {
        tracing::error!(%error, "no visit id on the request");
        AppError::Internal
    })?;
    Ok(id)
}

/// How long a signed-in session may last, however active it is (the server provides it).
#[derive(Debug, Clone, Copy)]
pub struct SessionLifetime(pub std::time::Duration);

/// The signed-in user of this request, if any. A session past its absolute lifetime is ended here.
pub async fn session_user() -> Result<Option<SessionUser>, AppError> {
    let session: tower_sessions::Session = leptos_axum::extract().await.map_err(|error| {
        tracing::error!(%error, "no session layer in front of server functions");
        AppError::Internal
    })?;
    let lifetime = use_context::<SessionLifetime>().map(|l| l.0).unwrap_or(std::time::Duration::from_secs(12 * 3600));
    signed_in_user(&session, lifetime).await
}

/// The session's user, unless the session outlived `lifetime`, in which case it is flushed.
pub async fn signed_in_user(
    session: &tower_sessions::Session,
    lifetime: std::time::Duration,
) -> Result<Option<SessionUser>, AppError> {
    let Some(user) = session.get::<SessionUser>(SESSION_USER_KEY).await? else { return Ok(None) };
    let age = chrono::Utc::now().timestamp().saturating_sub(user.signed_in_at);
    if age >= 0 && (age as u64) < lifetime.as_secs() {
        return Ok(Some(user));
    }
    tracing::info!(user_id = %user.id, "session reached its absolute lifetime; signing out");
    session.flush().await?;
    Ok(None)
}

/// The user with the admin role as the database has it now, not as it was at sign-in: a demotion (or a deleted
/// account) takes effect at the next request.
pub async fn with_current_role(pool: &PgPool, mut user: SessionUser) -> Result<SessionUser, AppError> {
    let is_admin = sqlx::query_scalar!("SELECT is_admin FROM users WHERE id = $1", user.id).fetch_optional(pool).await?;
    user.is_admin = is_admin.unwrap_or(false);
    Ok(user)
}

/// The signed-in user, or `Unauthorized`.
pub async fn require_user() -> Result<SessionUser, AppError> {
    session_user().await?.ok_or(AppError::Unauthorized)
}

/// The owner of this request's cart.
pub async fn owner() -> Result<Owner, AppError> {
    match session_user().await? {
        Some(user) => Ok(Owner::User(user.id)),
        None => Ok(Owner::Visit(visit_id().await?)),
    }
}

/// Sets the HTTP status of a failed server function from its error, then passes the result on.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let (Err(error), Some(response)) = (&result, use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(error.status());
    }
    result
}

/// Payments go to the built-in test gateway (no money is taken): every page says so.
#[derive(Debug, Clone, Copy)]
pub struct TestPayments;

/// The page content security policy, with `{nonce}` where the request's script nonce goes.
#[derive(Debug, Clone)]
pub struct ContentSecurityPolicy(pub String);

/// Sends the page's content security policy with this response's nonce (server rendering only).
pub fn send_content_security_policy() {
    let (Some(policy), Some(nonce), Some(response)) = (
        use_context::<ContentSecurityPolicy>(),
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = http::HeaderValue::from_str(&policy.0.replace("{nonce}", &nonce.to_string())) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}
