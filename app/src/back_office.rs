//! What every back-office page shares, whichever flow it belongs to (products and orders in `admin`, insights,
//! webhooks): the links between the sections, and what a page shows when the server refused it.

use crate::{error::AppError, notices::ErrorView};
use leptos::prelude::*;
use leptos_router::components::A;

/// Links between the back-office sections.
#[component]
pub fn AdminNav() -> impl IntoView {
    view! {
        <nav class="admin-nav" aria-label="Back office">
            <A href="/admin/products">"Products"</A>
            <A href="/admin/orders">"Orders"</A>
            <A href="/admin/promotions">"Promotions"</A>
            <A href="/admin/shipping">"Shipping"</A>
            <A href="/admin/visits">"Visits"</A>
            <A href="/admin/insights">"Insights"</A>
            <A href="/admin/users">"Users"</A>
            <A href="/admin/webhooks">"Webhooks"</A>
        </nav>
    }
}

/// What an admin page shows instead of its content when the server said no.
pub fn refusal(error: AppError, return_to: &'static str) -> AnyView {
    match error {
        AppError::Forbidden => {
            error.set_page_status();
            view! {
            <section class="not-found" data-testid="forbidden">
                <h1>"Admins only"</h1>
                <p>"Your account is not allowed to open the back office."</p>
            </section>
            }
            .into_any()
        }
        error => view! { <ErrorView error sign_in=(return_to, "to open the back office.") /> }.into_any(),
    }
}
