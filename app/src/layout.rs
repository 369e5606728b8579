//! The site's chrome around every page: the operator's banner, if any, and the header (brand, navigation, cart,
//! who is signed in). It composes
//! the flows' own pieces (the cart link, the notification bell); what the flows share goes in `notices`.

use crate::{auth::UserState, encode_query_value};
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_location};

/// The site header: brand, navigation, cart, and who is signed in.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let UserState(user) = expect_context::<UserState>();
    // The operator's notice (live settings), rendered by the server.
    let banner = use_context::<crate::live::Live>().and_then(|live| live.get().banner.clone());
    let location = use_location();
    let login_href = move || {
        let here = crate::tracking::page_path(&location.pathname.get(), &location.search.get());
        format!("/auth/login?return_to={}", encode_query_value(&here))
    };
    view! {
        {banner.map(|text| view! { <p class="live-banner" role="status" data-testid="live-banner">{text}</p> })}
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
