//! What the server hands to server functions: the pool, the visit, the signed-in user, the payment gateway.

use crate::{
    error::AppError,
    session::{SessionUser, SESSION_USER_KEY},
};
use leptos::prelude::use_context;
use sqlx::PgPool;
use uuid::Uuid;

/// The current visit, put in the request's extensions by the server's visit middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitId(pub Uuid);

/// Put beside [`VisitId`] when the request brought no visit (no cookie, or one whose visit ended): the visit is
/// new, so nothing can be stored under it yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewVisit;

/// Whether this request's visit was made for it (see [`NewVisit`]).
pub fn is_new_visit() -> bool {
    use_context::<http::request::Parts>().is_some_and(|request| request.extensions.get::<NewVisit>().is_some())
}

/// The database pool the server provided for this request.
pub fn pool() -> Result<PgPool, AppError> {
    provided("database pool")
}

/// Waits as long as the slow-catalog drill says (live settings), before a catalog read that goes to the
/// database; at once when no drill is on.
pub async fn slow_catalog_drill() {
    if let Some(live) = use_context::<crate::live::Live>() {
        crate::live::delay(live.get().drills.slow_catalog_ms).await;
    }
}

/// The visit of this request.
pub async fn visit_id() -> Result<Uuid, AppError> {
    let axum::Extension(VisitId(id)) = leptos_axum::extract::<axum::Extension<VisitId>>().await.map_err(|error| {
        tracing::error!(%error, "no visit id on the request");
        AppError::Internal
    })?;
    Ok(id)
}

/// The server's session rules (it provides them to server functions).
#[derive(Debug, Clone, Copy)]
pub struct SessionRules {
    /// How long a signed-in session may last, however active it is.
    pub lifetime: std::time::Duration,
    /// How often an active session is saved again, which slides its idle expiry: at most this often.
    pub touch_every: std::time::Duration,
}

impl Default for SessionRules {
    fn default() -> Self {
        Self { lifetime: std::time::Duration::from_secs(12 * 3600), touch_every: std::time::Duration::from_secs(60) }
    }
}

/// When the session was last saved for activity (Unix seconds).
const TOUCHED_KEY: &str = "cartograph.touched";

/// The signed-in user of this request, as [`current_user`] has them.
pub async fn session_user() -> Result<Option<SessionUser>, AppError> {
    let session: tower_sessions::Session = leptos_axum::extract().await.map_err(|error| {
        tracing::error!(%error, "no session layer in front of server functions");
        AppError::Internal
    })?;
    current_user(&session, use_context::<SessionRules>().unwrap_or_default(), &pool()?).await
}

/// The session's user, unless the session outlived `lifetime`, in which case it is flushed. Reads the session
/// only: for what needs no more than the user's id (the visit's owner).
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

/// The session's user as the database has them now. The session ends here when it outlived its lifetime, when
/// the account is gone, or when an admin ended the user's sessions after this sign-in. The admin role is the
/// database's (a demotion takes effect at the next request), and an active session is saved again at most every
/// `touch_every`, so its idle expiry slides.
pub async fn current_user(
    session: &tower_sessions::Session,
    rules: SessionRules,
    pool: &PgPool,
) -> Result<Option<SessionUser>, AppError> {
    let Some(mut user) = signed_in_user(session, rules.lifetime).await? else { return Ok(None) };
    let account = sqlx::query!(
        r#"SELECT is_admin, ceil(extract(epoch FROM sessions_valid_after))::bigint AS valid_from FROM users WHERE id = $1"#,
        user.id
    )
    .fetch_optional(pool)
    .await?;
    match account {
        Some(account) if account.valid_from.is_none_or(|from| user.signed_in_at >= from) => {
            user.is_admin = account.is_admin
        }
        _ => {
            tracing::info!(user_id = %user.id, "the user's sessions were ended (or the account is gone); signing out");
            session.flush().await?;
            return Ok(None);
        }
    }
    let now = chrono::Utc::now().timestamp();
    let touched: Option<i64> = session.get(TOUCHED_KEY).await?;
    if touched.is_none_or(|at| now.saturating_sub(at) >= rules.touch_every.as_secs() as i64) {
        session.insert(TOUCHED_KEY, now).await?;
    }
    Ok(Some(user))
}

/// Ends every session of `user`: each is refused (and flushed) at its next request.
pub async fn end_sessions(pool: &PgPool, user: Uuid) -> Result<bool, AppError> {
    let ended = sqlx::query!("UPDATE users SET sessions_valid_after = now() WHERE id = $1", user).execute(pool).await?;
    Ok(ended.rows_affected() == 1)
}

/// The signed-in user, or `Unauthorized`.
pub async fn require_user() -> Result<SessionUser, AppError> {
    session_user().await?.ok_or(AppError::Unauthorized)
}

/// The signed-in admin, by the role the database holds now: `Unauthorized` when no one is signed in,
/// `Forbidden` for anyone else.
pub async fn require_admin() -> Result<SessionUser, AppError> {
    admin(session_user().await?)
}

/// `user` if they are an admin: the one admin check, for server functions and the server's own handlers.
pub fn admin(user: Option<SessionUser>) -> Result<SessionUser, AppError> {
    match user {
        Some(user) if user.is_admin => Ok(user),
        Some(user) => {
            tracing::warn!(user_id = %user.id, "a non-admin asked for an admin operation");
            Err(AppError::Forbidden)
        }
        None => Err(AppError::Unauthorized),
    }
}

/// What the server provided for this request (the payment gateway, say); a missing one is logged by `what`.
pub fn provided<T: Clone + Send + Sync + 'static>(what: &'static str) -> Result<T, AppError> {
    use_context().ok_or_else(|| {
        tracing::error!("no {what} in the Leptos context");
        AppError::Internal
    })
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
