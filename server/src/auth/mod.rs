//! Sign-in with any OpenID Connect provider: `/auth/login`, `/auth/callback`, `/auth/logout`.

mod oidc;
mod routes;
mod users;

pub use oidc::{OidcClient, VerifiedIdentity};
pub use routes::{router, safe_return_path, AuthState};
