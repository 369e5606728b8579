//! Sign-in state as the app sees it. The OpenID Connect flow itself lives in the server's `/auth/*` routes.

use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_location};
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
struct UserState(Resource<Result<Option<SessionUser>, AppError>>);

/// Creates the user resource and provides it to the whole app.
pub fn provide_user() {
    provide_context(UserState(Resource::new(|| (), |_| current_user())));
}

/// The signed-in user as a signal (`None` while loading or signed out).
pub fn use_user() -> Signal<Option<SessionUser>> {
    let UserState(user) = expect_context::<UserState>();
    Signal::derive(move || user.get().and_then(Result::ok).flatten())
}

/// The site header: brand, navigation, cart, and who is signed in.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let UserState(user) = expect_context::<UserState>();
    let location = use_location();
    let login_href = move || {
        let here = crate::tracking::page_path(&location.pathname.get(), &location.search.get());
        format!("/auth/login?return_to={}", encode_query_value(&here))
    };
    view! {
        <header class="site-header">
            <a class="brand" href="/">"Cartograph"</a>
            <nav class="main-nav" aria-label="Shop">
                <A href="/products">"Shop"</A>
                <crate::cart::CartLink />
            </nav>
            <nav class="account" aria-label="Account">
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(user)) => view! {
                                <A href="/orders">"Orders"</A>
                                <A href="/account/journeys">"My journeys"</A>
                                {user.is_admin.then(|| view! { <A href="/admin/products">"Admin"</A> })}
                                <crate::notifications::NotificationBell />
                                <span class="user-name" data-testid="user-name">{user.name}</span>
                                {user.is_admin.then(|| view! { <span class="badge">"admin"</span> })}
                                <form method="post" action="/auth/logout" class="inline">
                                    <button type="submit" class="link" data-track="sign-out">"Sign out"</button>
                                </form>
                            }.into_any(),
                            _ => view! {
                                <a href=login_href rel="external" class="sign-in" data-track="sign-in">"Sign in"</a>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </nav>
        </header>
    }
}

/// "Sign in to continue", returning to `return_to` afterwards.
#[component]
pub fn SignInPrompt(#[prop(into)] return_to: String, #[prop(into)] purpose: String) -> impl IntoView {
    view! {
        <p class="notice">
            <a class="button" rel="external" href=format!("/auth/login?return_to={}", encode_query_value(&return_to))>"Sign in"</a>
            {format!(" {purpose}")}
        </p>
    }
}

/// Percent-encodes a value for a query string (RFC 3986 unreserved characters pass).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_query_value;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("/search?q=red shoes&x=1"), "/search%3Fq%3Dred%20shoes%26x%3D1");
        assert_eq!(encode_query_value("/"), "/");
    }
}
