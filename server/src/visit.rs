//! The visit: an id in an HttpOnly cookie that ends after 30 minutes without a request.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::header::{COOKIE, SET_COOKIE};
use uuid::Uuid;

/// The cookie that carries the visit id.
pub const VISIT_COOKIE: &str = "cg_visit";
/// A visit ends after this long without a request.
pub const VISIT_IDLE_SECS: u64 = 30 * 60;

/// The current visit, available to handlers and server functions as a request extension.
pub use app::server_context::VisitId;

/// Whether the visit cookie must carry `Secure`.
#[derive(Debug, Clone, Copy)]
pub struct VisitCookiePolicy {
    pub secure: bool,
}

/// Reads the visit id from the cookie or starts a visit, and slides the cookie's expiry on every response.
pub async fn track_visit(State(policy): State<VisitCookiePolicy>, mut request: Request, next: Next) -> Response {
    let visit = visit_from_cookies(request.headers()).unwrap_or_else(|| VisitId(Uuid::new_v4()));
    request.extensions_mut().insert(visit);
    let mut response = next.run(request).await;
    let replaced = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|value| value.as_bytes().starts_with(format!("{VISIT_COOKIE}=").as_bytes()));
    if !replaced {
        set_visit_cookie(&mut response, visit, policy.secure);
    }
    response
}

/// Ends the current visit: the response carries a fresh visit id (used at sign-out).
pub fn start_new_visit(response: &mut Response, secure: bool) {
    set_visit_cookie(response, VisitId(Uuid::new_v4()), secure);
}

fn set_visit_cookie(response: &mut Response, visit: VisitId, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{VISIT_COOKIE}={}; Path=/; Max-Age={VISIT_IDLE_SECS}; HttpOnly; SameSite=Lax{secure}", visit.0);
    if let Ok(value) = http::HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// The visit id carried by a `Cookie` header, if it is a well-formed one.
pub fn visit_from_cookies(headers: &http::HeaderMap) -> Option<VisitId> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == VISIT_COOKIE)
        .and_then(|(_, value)| Uuid::parse_str(value).ok())
        .map(VisitId)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        map.insert(COOKIE, cookie.parse().unwrap());
        map
    }

    #[test]
    fn visit_id_is_read_among_other_cookies() {
        let id = Uuid::new_v4();
        let found = visit_from_cookies(&headers(&format!("a=1; {VISIT_COOKIE}={id}; b=2")));
        assert_eq!(found, Some(VisitId(id)));
    }

    #[test]
    fn a_forged_visit_id_is_ignored() {
        assert_eq!(visit_from_cookies(&headers(&format!("{VISIT_COOKIE}=../../etc"))), None);
        assert_eq!(visit_from_cookies(&http::HeaderMap::new()), None);
    }
}
