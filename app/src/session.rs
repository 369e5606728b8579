//! What the server-side session holds: the signed-in user. A leaf that both the request context
//! (`server_context`) and the app's sign-in state (`auth`) build on.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The key under which the signed-in user is kept in the server-side session.
pub const SESSION_USER_KEY: &str = "cartograph.user";

/// The signed-in shopper, as stored in the session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    /// When the shopper signed in (Unix seconds); a session ends a fixed time after it, however active.
    #[serde(default)]
    pub signed_in_at: i64,
}
