//! Sign-in state as the app sees it. The OpenID Connect flow itself lives in the server's `/auth/*` routes; the
//! header and the sign-in prompt that show it are the site's chrome, in `layout`.

use crate::error::AppError;
use leptos::prelude::*;

pub use crate::session::{SessionUser, SESSION_USER_KEY};

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
