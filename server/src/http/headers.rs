//! Response headers every answer needs: HSTS in production, `Permissions-Policy`, `Cache-Control: no-store` on
//! what is personal, and a strict default CSP on HTML the Leptos app did not render (sign-in error pages).

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::{header, HeaderValue};

/// What the middleware needs to know about the deployment.
#[derive(Debug, Clone, Copy)]
pub struct HeaderPolicy {
    /// Behind `https://` (production): browsers are told to use nothing else for a year.
    pub hsts: bool,
}

const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");
/// The shop uses none of these browser features.
const PERMISSIONS: HeaderValue =
    HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()");
const NO_STORE: HeaderValue = HeaderValue::from_static("private, no-store");
/// For HTML without the app's own policy: no script at all, the shop's stylesheet, no framing.
const DEFAULT_CSP: HeaderValue = HeaderValue::from_static(
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
);

/// Paths whose pages are about one shopper, whoever asks.
const PERSONAL_PAGES: [&str; 6] = ["/cart", "/checkout", "/orders", "/account", "/admin", "/auth"];

/// Whether a response to this request is about the person asking: server functions and the event endpoint
/// (`/api/…`), the personal pages, and any page for someone with a session (its header names them).
fn is_personal(path: &str, has_session: bool, is_html: bool) -> bool {
    path.starts_with("/api/")
        || PERSONAL_PAGES.iter().any(|page| path == *page || path.starts_with(&format!("{page}/")))
        || (has_session && is_html)
}

pub async fn security_headers(State(policy): State<HeaderPolicy>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let has_session =
        super::cookies(request.headers()).any(|(name, _)| name.trim_start_matches("__Host-") == "cg_session");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let is_html =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    if policy.hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    headers.entry("permissions-policy").or_insert(PERMISSIONS);
    if is_personal(&path, has_session, is_html) {
        headers.insert(header::CACHE_CONTROL, NO_STORE);
    }
    if is_html {
        headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(DEFAULT_CSP);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_personal;

    #[test]
    fn personal_answers_are_told_apart_from_the_catalog() {
        for path in
            ["/api/cart_add", "/api/events", "/cart", "/orders/123", "/account/journeys", "/admin", "/auth/callback"]
        {
            assert!(is_personal(path, false, true), "{path}");
        }
        assert!(!is_personal("/products", false, true));
        assert!(!is_personal("/cartography", false, true), "a prefix is not a page");
        assert!(is_personal("/products", true, true), "a signed-in shopper's page names them");
        assert!(!is_personal("/pkg/cartograph.wasm", true, false));
    }
}

#[cfg(test)]
mod layer_tests {
    use super::*;
    use axum::{body::Body, routing::get, Router};
    use tower::ServiceExt;

    async fn answer(policy: HeaderPolicy, path: &str) -> Response {
        let app = Router::new()
            .route("/", get(|| async { axum::response::Html("<p>hi</p>") }))
            .route("/pkg/app.js", get(|| async { "js" }))
            .layer(axum::middleware::from_fn_with_state(policy, security_headers));
        app.oneshot(http::Request::get(path).body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn production_answers_carry_hsts_and_html_gets_a_default_policy() {
        let response = answer(HeaderPolicy { hsts: true }, "/").await;
        assert_eq!(response.headers()[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000; includeSubDomains");
        assert!(response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'"));
        assert!(response.headers().contains_key("permissions-policy"));
        let dev = answer(HeaderPolicy { hsts: false }, "/pkg/app.js").await;
        assert!(!dev.headers().contains_key(header::STRICT_TRANSPORT_SECURITY), "not over plain http");
        assert!(!dev.headers().contains_key(header::CONTENT_SECURITY_POLICY), "only HTML gets the default policy");
    }
}
