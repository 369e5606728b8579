//! Sign-in state as the app sees it. The OpenID Connect flow itself lives in the server's `/auth/*` routes; the
//! header and the sign-in prompt that show it are the site's chrome, in `layout`.

use crate::error::AppError;
use leptos::prelude::*;
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

/// The signed-in user of this request, if any.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    crate::server_context::session_user().await
}

/// The signed-in user, read once per page load and shared with every component.
#[derive(Clone, Copy)]
pub(crate) struct UserState(pub(crate) Resource<Result<Option<SessionUser>, AppError>>);

/// Creates the user resource and provides it to the whole app.
pub fn provide_user() {
    provide_context(UserState(Resource::new(|| (), |_| current_user())));
}

/// The signed-in user as a signal (`None` while loading or signed out).
pub fn use_user() -> Signal<Option<SessionUser>> {
    let UserState(user) = expect_context::<UserState>();
    Signal::derive(move || user.get().and_then(Result::ok).flatten())
}
