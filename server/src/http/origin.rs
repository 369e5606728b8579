//! Cross-site request forgery defence: a state-changing request sent by another site is refused.
//!
//! Browsers send `Origin` with every cross-site `POST` (and `fetch`/`sendBeacon`), so a `POST`, `PUT`, `PATCH`
//! or `DELETE` whose `Origin` (or, lacking one, `Referer`) is not the public URL's origin gets a 403 before any
//! handler runs (in dev mode the request's own host is accepted too, for `localhost` beside `127.0.0.1`; never in
//! production, where a DNS-rebound page would pass it). A header that is present but unreadable fails closed.
//! Requests with neither header do not come from a browser page and carry no ambient credentials to abuse. This
//! sits on top of `SameSite=Lax` cookies.

use axum::{
    extract::{Request, State},
    http::{header, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The origin the site is served from, e.g. `https://shop.example.com`.
#[derive(Clone, Debug)]
pub struct SiteOrigin(pub String);

/// What a state-changing request must come from.
#[derive(Clone, Debug)]
pub struct WritePolicy {
    pub site: SiteOrigin,
    /// Dev mode: the request's own `Host` is accepted as well.
    pub same_host_too: bool,
}

impl SiteOrigin {
    /// The scheme, host and port of a URL, as browsers send it in `Origin` (WHATWG URL parsing: the host
    /// lowercased, a default port dropped). What is not a URL (the literal `null`) is kept as it is, lowercased.
    pub fn of(url: &str) -> Self {
        match url::Url::parse(url.trim()) {
            Ok(parsed) if parsed.origin().is_tuple() => Self(parsed.origin().ascii_serialization()),
            _ => Self(url.trim().to_ascii_lowercase()),
        }
    }
}

/// Refuses unsafe-method requests from another origin.
pub async fn same_origin_writes(State(policy): State<WritePolicy>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let Some(value) = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)) else {
        return next.run(request).await;
    };
    let Ok(value) = value.to_str() else {
        tracing::warn!(path = %request.uri().path(), "refused a request whose Origin or Referer cannot be read");
        return (StatusCode::FORBIDDEN, "cross-site requests are not accepted").into_response();
    };
    let claimed = SiteOrigin::of(value).0;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let same_host = policy.same_host_too
        && claimed.split_once("://").is_some_and(|(_, authority)| !host.is_empty() && authority == host);
    if claimed == policy.site.0 || same_host {
        return next.run(request).await;
    }
    tracing::warn!(origin = %claimed, path = %request.uri().path(), "refused a cross-site request");
    (StatusCode::FORBIDDEN, "cross-site requests are not accepted").into_response()
}

#[cfg(test)]
mod tests {
    use super::SiteOrigin;

    #[test]
    fn origins_keep_scheme_host_and_port_only() {
        assert_eq!(SiteOrigin::of("https://Shop.example.com/cart?x=1").0, "https://shop.example.com");
        assert_eq!(SiteOrigin::of("http://127.0.0.1:3000").0, "http://127.0.0.1:3000");
        assert_eq!(SiteOrigin::of("null").0, "null");
        assert_eq!(
            SiteOrigin::of("https://shop.example.com:443/").0,
            "https://shop.example.com",
            "as browsers send it"
        );
    }
}
