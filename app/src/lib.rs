//! Cartograph's user interface: components, shared types and `#[server]` functions.
//!
//! Server-only code sits behind the `ssr` feature, browser-only code behind `hydrate`. Pages are Leptos islands:
//! every component renders on the server only, except the `#[island]`s, which the browser hydrates alone (see
//! [`page`]); a link or a form is a full page load.

pub mod admin;
pub mod api_tokens;
pub mod auth;
pub mod back_office;
pub mod cart;
pub mod catalog;
#[cfg(feature = "ssr")]
pub mod email;
pub mod error;
pub mod insights;
pub mod journeys;
pub mod layout;
pub mod live;
pub mod money;
pub mod notices;
pub mod notifications;
pub mod orders;
pub mod page;
pub mod promotions;
pub mod recommend;
#[cfg(feature = "ssr")]
pub mod resilience;
#[cfg(feature = "ssr")]
pub mod server_context;
pub mod session;
pub mod shipping;
pub mod tax;
pub mod tracking;
pub mod variants;
pub mod webhooks;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, Meta, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, SsrMode,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    server_context::send_content_security_policy();
    // Outside the hydrated body: the stylesheet draws the banner from this attribute on every page.
    #[cfg(feature = "ssr")]
    let test_payments = use_context::<server_context::TestPayments>().map(|_| "no money is taken");
    #[cfg(not(feature = "ssr"))]
    let test_payments: Option<&str> = None;
    view! {
        <!DOCTYPE html>
        <html lang="en" data-test-payments=test_payments>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <HashedStylesheet options id="cartograph" />
                <IslandsLoader />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// A bundle's glue and WASM under `/pkg/`, named without their extensions.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub js: String,
    pub wasm: String,
}

impl Bundle {
    fn plain(name: &str) -> Self {
        Self { js: name.into(), wasm: name.into() }
    }
}

/// The three bundles a page may load, each holding the islands of the one before it and more: the shop's (what
/// every visitor browses: the tracker, the consent switch, the cart count, the stock check and the buy box), the
/// account's (and the cart's lines, an order's payment and cancel forms, the bell and
/// the notification list) and the back office's (and its forms). The content-hashed copies when the site build
/// wrote them (`cartograph.<hash>`), else the plain names.
#[derive(Debug, Clone)]
pub struct BundleNames {
    pub shop: Bundle,
    pub account: Bundle,
    pub back_office: Bundle,
}

impl Default for BundleNames {
    fn default() -> Self {
        Self {
            shop: Bundle::plain("cartograph"),
            account: Bundle::plain("cartograph-account"),
            back_office: Bundle::plain("cartograph-back-office"),
        }
    }
}

impl BundleNames {
    /// The bundle for a page at `path`: the back office's on `/admin` pages; the account's on the cart's,
    /// checkout's, orders' and notifications' pages, and on every page of a visitor with a session (only a
    /// session can be signed in, and a signed-in header has the bell); the shop's everywhere else.
    pub fn for_page(self, path: &str, has_session: bool) -> Bundle {
        let under =
            |prefix: &str| path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'));
        if under("/admin") {
            self.back_office
        } else if has_session || ["/cart", "/checkout", "/orders", "/notifications"].into_iter().any(under) {
            self.account
        } else {
            self.shop
        }
    }
}

/// Loads this page's bundle and hydrates the islands once the browser is idle. Leptos's `HydrationScripts` would
/// also preload the glue and the WASM at high priority, taking bandwidth from what the first paint needs (the
/// product image, the stylesheet); no island is needed before the page is idle, so nothing is preloaded.
#[component]
fn IslandsLoader() -> impl IntoView {
    #[cfg(feature = "ssr")]
    let (path, has_session) = use_context::<http::request::Parts>().map_or((String::new(), false), |request| {
        let session = request.extensions.get::<tower_sessions::Session>();
        (request.uri.path().to_string(), session.is_some_and(|session| session.id().is_some()))
    });
    #[cfg(not(feature = "ssr"))]
    let (path, has_session) = (String::new(), false);
    // As `HydrationScripts` does in islands mode: outside the islands, the server writes no hydration markers.
    #[cfg(feature = "ssr")]
    if let Some(context) = leptos::reactive::owner::Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
    let Bundle { js, wasm } = use_context::<BundleNames>().unwrap_or_default().for_page(&path, has_session);
    let script = format!("{}(\"\", \"pkg\", {js:?}, {wasm:?});", include_str!("islands_loader.js").trim_end());
    view! { <script type="module" nonce=leptos::nonce::use_nonce()>{script}</script> }
}

/// Percent-encodes a value for a query string: RFC 3986's unreserved characters, and `/`, pass as they are.
pub fn encode_query_value(value: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// Text made safe to write into HTML or XML, between tags or in a quoted attribute.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The application root: header, routes and the clickstream tracker.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    auth::provide_user();
    cart::CartState::provide();

    view! {
        <Title formatter=|title: String| {
            let title = if title.is_empty() { "Cartograph".to_string() } else { format!("{title} · Cartograph") };
            // leptos_meta 0.8 writes the server's <title> as is, so text from the catalog is escaped there; in the
            // browser it sets `document.title`, which is text already.
            if cfg!(feature = "ssr") { escape_html(&title) } else { title }
        } />
        <Meta name="description" content="Cartograph: a storefront that maps every shopper's journey." />
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        <Router>
            <tracking::PageViewTracker />
            <layout::SiteHeader />
            <main id="main" data-hydrated="false">
                <Routes fallback=NotFound>
                    // Async SSR: the server sends complete HTML, readable before (or without) any script.
                    <Route path=path!("") view=catalog::HomePage ssr=SsrMode::Async />
                    <Route path=path!("/products") view=catalog::CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("/product/:slug") view=catalog::ProductPage ssr=SsrMode::Async />
                    <Route path=path!("/cart") view=cart::CartPage ssr=SsrMode::Async />
                    <Route path=path!("/checkout") view=orders::CheckoutPage ssr=SsrMode::Async />
                    <Route path=path!("/checkout/delivery") view=orders::DeliveryPage ssr=SsrMode::Async />
                    <Route path=path!("/orders") view=orders::OrdersPage ssr=SsrMode::Async />
                    <Route path=path!("/orders/:id") view=orders::OrderPage ssr=SsrMode::Async />
                    <Route path=path!("/account/journeys") view=journeys::JourneysPage ssr=SsrMode::Async />
                    <Route path=path!("/account/tokens") view=api_tokens::AccountTokensPage ssr=SsrMode::Async />
                    <Route path=path!("/notifications") view=notifications::NotificationsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin") view=admin::AdminProductsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/products") view=admin::AdminProductsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/products/new") view=admin::AdminProductPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/products/:id") view=admin::AdminProductPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/products/:id/variants") view=admin::AdminVariantsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/orders") view=admin::AdminOrdersPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/orders/:id") view=admin::AdminOrderPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/visits") view=journeys::AdminVisitsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/insights") view=insights::AdminInsightsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/promotions") view=promotions::AdminPromotionsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/promotions/new") view=promotions::AdminPromotionPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/promotions/:id") view=promotions::AdminPromotionPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/shipping") view=shipping::AdminShippingPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/shipping/:id") view=shipping::AdminZonePage ssr=SsrMode::Async />
                    <Route path=path!("/admin/users") view=admin::AdminUsersPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/webhooks") view=webhooks::AdminWebhooksPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/webhooks/:id") view=webhooks::AdminWebhookPage ssr=SsrMode::Async />
                </Routes>
            </main>
            <footer class="site-footer">
                <p>"Cartograph — an open-source storefront that maps every shopper's journey."</p>
                <tracking::TrackingConsent />
            </footer>
            <page::HydrationMark />
        </Router>
    }
}

/// Shown for any path the router does not know; the server answers 404.
#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http_status_not_found());
    }
    view! {
        <section class="not-found">
            <Title text="Not found" />
            <h1>"We could not find that page"</h1>
            <p><A href="/">"Back to the shop"</A></p>
        </section>
    }
}

#[cfg(feature = "ssr")]
fn http_status_not_found() -> http::StatusCode {
    http::StatusCode::NOT_FOUND
}

#[cfg(test)]
mod tests {
    use super::{encode_query_value, escape_html};

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("/search?q=red shoes&x=1"), "/search%3Fq%3Dred%20shoes%26x%3D1");
        assert_eq!(encode_query_value("/"), "/");
        assert_eq!(encode_query_value("café"), "caf%C3%A9");
    }

    #[test]
    fn each_page_loads_the_smallest_bundle_with_its_islands() {
        let bundle = |path: &str, has_session: bool| super::BundleNames::default().for_page(path, has_session).js;
        assert_eq!(bundle("/", false), "cartograph");
        assert_eq!(bundle("/products", false), "cartograph");
        assert_eq!(bundle("/product/ridgeline-2-tent", false), "cartograph");
        assert_eq!(bundle("/cartography", false), "cartograph", "a path that merely starts like one");
        assert_eq!(bundle("/", true), "cartograph-account", "a visitor with a session may be signed in");
        for path in ["/cart", "/checkout", "/orders", "/orders/9b2f", "/notifications"] {
            assert_eq!(bundle(path, false), "cartograph-account", "{path}");
        }
        assert_eq!(bundle("/admin", false), "cartograph-back-office");
        assert_eq!(bundle("/admin/products/3", true), "cartograph-back-office");
    }

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(escape_html(r#"<a href="x">&</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
    }
}
