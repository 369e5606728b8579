//! Personal API tokens for the GraphQL API (`/graphql`): a signed-in shopper or admin creates one with a name, a
//! scope and an expiry, sees its secret once, and can revoke it at any time. Only the secret's SHA-256 is
//! stored, so a leaked database holds no usable token. A request with `Authorization: Bearer <secret>` acts as
//! the token's owner, within the token's scope.

#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use views::AccountTokensPage;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest a token lives, in days.
pub const MAX_DAYS: i64 = 365;
/// The most live (unrevoked, unexpired) tokens one person holds.
pub const MAX_TOKENS: i64 = 20;
/// What every secret starts with, so a scanner can recognise a leaked one.
pub const SECRET_PREFIX: &str = "cgp_";

/// What a token may do. Each scope includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read the catalog and the owner's own cart, orders and journeys.
    Read,
    /// Also change the owner's cart, check out, pay and cancel.
    Write,
    /// Also the back office's operations (only an admin can hold one, and only while an admin).
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == raw)
    }
}

/// A token as its owner sees it in a list (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub scope: Scope,
    /// The secret's first characters.
    pub hint: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

/// A new token and its secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: ApiToken,
    pub secret: String,
}

/// What `/account/tokens` shows: the person's tokens, and the one they just created (its secret, once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPage {
    pub tokens: Vec<ApiToken>,
    pub created: Option<CreatedToken>,
    pub is_admin: bool,
}

/// Where the session holds a new token until the page after the form shows it.
#[cfg(feature = "ssr")]
const CREATED_KEY: &str = "cartograph.created_token";

/// A request for a token, checked: a name of 1 to 80 characters, a scope the person may hold, 1 to
/// [`MAX_DAYS`] days.
pub fn check_request(name: &str, scope: &str, days: i64, is_admin: bool) -> Result<(String, Scope), AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::Invalid("A token needs a name of 1 to 80 characters.".into()));
    }
    if name.chars().any(crate::tracking::schema::is_forbidden_control) {
        return Err(AppError::Invalid("A token's name cannot hold control characters.".into()));
    }
    let scope = Scope::parse(scope.trim())
        .ok_or_else(|| AppError::Invalid("The scope must be read, write or admin.".into()))?;
    if scope == Scope::Admin && !is_admin {
        return Err(AppError::Forbidden);
    }
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AppError::Invalid(format!("A token lives 1 to {MAX_DAYS} days.")));
    }
    Ok((name.to_string(), scope))
}

/// The signed-in person's tokens, newest first (revoked and expired ones too, marked).
#[server(endpoint = "api_tokens")]
pub async fn my_api_tokens() -> Result<Vec<ApiToken>, AppError> {
    let user = ctx::require_user().await?;
    Ok(store::list(&ctx::pool()?, user.id).await?)
}

/// Creates a token for the signed-in person; the answer holds its secret, which is never shown again.
#[server(endpoint = "api_token_create")]
pub async fn create_api_token(name: String, scope: String, days: i64) -> Result<CreatedToken, AppError> {
    let user = ctx::require_user().await?;
    let (name, scope) = check_request(&name, &scope, days, user.is_admin)?;
    store::create(&ctx::pool()?, user.id, &name, scope, days).await
}

/// The token page: the signed-in person's tokens, and the secret of the one the form just created (taken from
/// the session: shown on this one page view, never again).
#[server(endpoint = "api_token_page")]
pub async fn load_token_page() -> Result<TokenPage, AppError> {
    let user = ctx::require_user().await?;
    let session: tower_sessions::Session = leptos_axum::extract().await.map_err(|_| AppError::Internal)?;
    let created = session.remove::<CreatedToken>(CREATED_KEY).await.map_err(|_| AppError::Internal)?;
    let tokens = store::list(&ctx::pool()?, user.id).await?;
    Ok(TokenPage { tokens, created, is_admin: user.is_admin })
}

/// The token page's form: creates a token and keeps it in the session for the page the browser returns to.
#[server(endpoint = "api_token_create_form")]
pub async fn create_api_token_form(name: String, scope: String, days: i64) -> Result<(), AppError> {
    let created = create_api_token(name, scope, days).await?;
    let session: tower_sessions::Session = leptos_axum::extract().await.map_err(|_| AppError::Internal)?;
    session.insert(CREATED_KEY, &created).await.map_err(|_| AppError::Internal)?;
    Ok(())
}

/// Revokes one of the signed-in person's tokens at once.
#[server(endpoint = "api_token_revoke")]
pub async fn revoke_api_token(id: Uuid) -> Result<(), AppError> {
    let user = ctx::require_user().await?;
    if store::revoke(&ctx::pool()?, user.id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_request_is_checked_before_anything_is_stored() {
        assert_eq!(check_request(" ci ", "read", 30, false).unwrap(), ("ci".to_string(), Scope::Read));
        assert!(matches!(check_request("ci", "admin", 30, false), Err(AppError::Forbidden)));
        assert_eq!(check_request("ci", "admin", 30, true).unwrap().1, Scope::Admin);
        assert!(check_request("", "read", 30, false).unwrap_err().to_string().contains("name"));
        assert!(check_request("ci", "root", 30, false).unwrap_err().to_string().contains("scope"));
        assert!(check_request("ci", "read", 0, false).unwrap_err().to_string().contains("365 days"));
        assert!(check_request("ci", "read", 366, false).is_err());
        assert!(check_request("a\u{7}b", "read", 1, false).is_err());
        assert!(Scope::Read < Scope::Write && Scope::Write < Scope::Admin);
    }
}
