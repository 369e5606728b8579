//! The sign-in routes.

use super::oidc::{LoginError, PendingLogin};
use crate::{clickstream::visit::VisitId, http::error::HttpError};
use app::auth::{SessionUser, SESSION_USER_KEY};
use axum::{
    extract::{FromRef, Query, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Extension, Router,
};
use http::StatusCode;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

const PENDING_LOGIN_KEY: &str = "cartograph.oidc.pending";
const ID_TOKEN_KEY: &str = "cartograph.oidc.id_token";

/// What the sign-in routes need, taken from the application's state (`crate::state`).
#[derive(Clone)]
pub struct AuthState {
    pub pool: sqlx::PgPool,
    pub oidc: std::sync::Arc<super::OidcClient>,
}

/// `/auth/login`, `/auth/callback` and `/auth/logout`, for any application state that holds an [`AuthState`].
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AuthState: FromRef<S>,
{
    Router::new().route("/login", get(login)).route("/callback", get(callback)).route("/logout", post(logout))
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

async fn login(
    State(state): State<AuthState>,
    session: Session,
    Query(query): Query<LoginQuery>,
) -> Result<Response, HttpError> {
    let return_to = safe_return_path(query.return_to.as_deref());
    let (url, pending) = state.oidc.begin_login(return_to);
    if let Err(error) = session.insert(PENDING_LOGIN_KEY, pending).await {
        tracing::error!(%error, "could not store the pending login");
        return Err(HttpError::page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable",
            "Please try again in a moment.",
        ));
    }
    Ok(Redirect::to(&url).into_response())
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AuthState>,
    session: Session,
    Extension(visit): Extension<VisitId>,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, HttpError> {
    // The pending login is single-use: a replayed callback finds nothing.
    let pending: Option<PendingLogin> = session.remove(PENDING_LOGIN_KEY).await.ok().flatten();
    if let Some(error) = query.error {
        // Debug-quoted: the provider's text cannot forge log lines.
        tracing::info!(?error, description = ?query.error_description, "the provider refused the sign-in");
        let message = match error.as_str() {
            "access_denied" => "You cancelled the sign-in, or the provider denied it.",
            _ => "The sign-in provider could not complete the sign-in.",
        };
        return Err(HttpError::page(StatusCode::BAD_REQUEST, "Sign-in did not complete", message));
    }
    let (Some(pending), Some(code), Some(returned_state)) = (pending, query.code, query.state) else {
        return Err(HttpError::page(StatusCode::BAD_REQUEST, "Sign-in expired", "Please start the sign-in again."));
    };
    // In constant time: how much of the state matched must not show in how long the answer took.
    if !bool::from(pending.state.as_bytes().ct_eq(returned_state.as_bytes())) {
        tracing::warn!("sign-in callback with a state that does not match the session");
        return Err(HttpError::page(StatusCode::BAD_REQUEST, "Sign-in expired", "Please start the sign-in again."));
    }
    let identity = match state.oidc.finish_login(code, &pending).await {
        Ok(identity) => identity,
        Err(LoginError::Timeout) => {
            tracing::warn!("sign-in failed: the provider did not answer in time");
            return Err(HttpError::page(
                StatusCode::GATEWAY_TIMEOUT,
                "Sign-in failed",
                "The sign-in provider did not answer in time. Please try again in a moment.",
            ));
        }
        Err(LoginError::Rejected(reason)) => {
            tracing::warn!(%reason, "sign-in failed");
            return Err(HttpError::page(
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                "The provider's answer could not be verified.",
            ));
        }
    };
    let user_id = match super::users::upsert(&state.pool, &identity).await {
        Ok(id) => id,
        Err(error) => {
            tracing::error!(%error, "could not store the user");
            return Err(HttpError::page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable",
                "Please try again in a moment.",
            ));
        }
    };
    if let Err(error) = super::users::link_visit(&state.pool, visit.0, user_id).await {
        tracing::warn!(%error, "could not link the visit to the user");
    }
    // The anonymous cart joins the account's cart: nothing lost, no line twice.
    if let Err(error) = app::cart::store::merge_visit_cart(&state.pool, visit.0, user_id).await {
        tracing::error!(%error, "could not merge the visit's cart into the account");
    }
    let user = SessionUser {
        id: user_id,
        name: identity.name,
        email: identity.email,
        is_admin: identity.is_admin,
        signed_in_at: chrono::Utc::now().timestamp(),
    };
    // A new session id at sign-in defeats session fixation.
    let stored = async {
        session.cycle_id().await?;
        session.insert(SESSION_USER_KEY, &user).await?;
        session.insert(ID_TOKEN_KEY, &identity.id_token).await
    };
    if let Err(error) = stored.await {
        tracing::error!(%error, "could not store the session");
        return Err(HttpError::page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable",
            "Please try again in a moment.",
        ));
    }
    tracing::info!(user_id = %user_id, admin = user.is_admin, "signed in");
    Ok(Redirect::to(&pending.return_to).into_response())
}

async fn logout(
    State(state): State<AuthState>,
    session: Session,
    Extension(visit): Extension<VisitId>,
) -> Result<Response, HttpError> {
    let id_token: Option<String> = session.get(ID_TOKEN_KEY).await.ok().flatten();
    if let Err(error) = session.flush().await {
        tracing::error!(%error, "could not end the session");
        return Err(HttpError::page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-out did not complete",
            "You are still signed in: the shop could not end your session just now. Please try again in a moment.",
        ));
    }
    // Signing out ends the visit: its journey is closed and rendered.
    if let Err(error) = crate::journey::closer::request_close(&state.pool, visit.0).await {
        tracing::warn!(%error, "could not ask for the visit to be closed");
    }
    let target = state.oidc.logout_url(id_token.as_deref()).unwrap_or_else(|| "/".to_string());
    // The visit layer sees the session end and gives the browser a new visit.
    Ok(Redirect::to(&target).into_response())
}

/// Keeps only same-site paths (`/…`), so a sign-in can never redirect to another site.
pub fn safe_return_path(raw: Option<&str>) -> String {
    match raw {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control)
                && !path.starts_with("/auth/") =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_return_path;

    #[test]
    fn only_same_site_paths_are_returned_to() {
        assert_eq!(safe_return_path(Some("/products?page=2")), "/products?page=2");
        for hostile in ["https://evil.example", "//evil.example", "/\\evil.example", "evil", "/auth/login", "/a\nb"] {
            assert_eq!(safe_return_path(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_return_path(None), "/");
    }
}
