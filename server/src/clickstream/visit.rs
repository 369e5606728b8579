//! The visit: an id the server issues, signed, in an HttpOnly cookie that ends after `visits.idle` (30 minutes by
//! default, `CARTOGRAPH_VISIT_IDLE_MINUTES`) without a request.
//!
//! The cookie is `{visit}.{owner}.{tag}`: the visit id, the signed-in user it belongs to (`-` while anonymous) and
//! an HMAC-SHA256 tag over both, so a client can neither choose a visit nor claim someone else's. Any other value
//! starts a new visit, except on `POST /api/events`, which never starts one: events are taken only for a visit a
//! page load issued. A visit belongs to one person: when the signed-in user changes or the session ends, a new
//! visit starts, so one shared browser never mixes two people's journeys.

use app::auth::{SessionUser, SESSION_USER_KEY};
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use hmac::{Hmac, Mac};
use http::{header::SET_COOKIE, Method, StatusCode};
use sha2::Sha256;
use std::{sync::Arc, time::Duration};
use tower_sessions::Session;
use uuid::Uuid;

/// The cookie that carries the visit in dev; production uses [`HOST_VISIT_COOKIE`].
pub const VISIT_COOKIE: &str = "cg_visit";
/// The production name: the `__Host-` prefix makes browsers refuse it unless `Secure`, host-only and `Path=/`,
/// so a sibling subdomain cannot plant one.
pub const HOST_VISIT_COOKIE: &str = "__Host-cg_visit";
/// Bytes of the HMAC kept in the cookie (128 bits).
const TAG_BYTES: usize = 16;

/// The current visit, available to handlers and server functions as a request extension.
pub use app::server_context::{NewVisit, VisitId};

/// Signs and checks visit cookies.
#[derive(Clone)]
pub struct VisitCookies {
    key: Arc<[u8]>,
    /// `Secure` and the `__Host-` name (production).
    secure: bool,
    /// A session older than this is over, whatever its cookie says.
    session_lifetime: Duration,
    /// A visit ends after this long without a request: the cookie's `Max-Age`.
    idle: Duration,
}

/// A visit and the user it belongs to, as a verified cookie carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedVisit {
    pub visit: Uuid,
    pub owner: Option<Uuid>,
}

impl VisitCookies {
    /// Cookies signed with `key`, for visits that end after `idle` without a request.
    pub fn new(key: &[u8], secure: bool, session_lifetime: Duration, idle: Duration) -> Self {
        Self { key: Arc::from(key), secure, session_lifetime, idle }
    }

    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        if self.secure {
            HOST_VISIT_COOKIE
        } else {
            VISIT_COOKIE
        }
    }

    fn mac(&self, visit: Uuid, owner: Option<Uuid>) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(b"cartograph visit v1\0");
        mac.update(visit.as_bytes());
        mac.update(owner.unwrap_or_default().as_bytes());
        mac
    }

    /// The cookie value for a visit.
    pub fn value(&self, signed: SignedVisit) -> String {
        use base64::Engine;
        let tag = self.mac(signed.visit, signed.owner).finalize().into_bytes();
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]);
        let owner = signed.owner.map_or_else(|| "-".to_string(), |owner| owner.to_string());
        format!("{}.{owner}.{tag}", signed.visit)
    }

    /// The visit a cookie value carries, if the server signed it.
    pub fn verify(&self, value: &str) -> Option<SignedVisit> {
        use base64::Engine;
        let mut parts = value.split('.');
        let (visit, owner, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let visit = Uuid::try_parse(visit).ok()?;
        let owner = match owner {
            "-" => None,
            owner => Some(Uuid::try_parse(owner).ok()?),
        };
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag).ok()?;
        if tag.len() != TAG_BYTES {
            return None;
        }
        self.mac(visit, owner).verify_truncated_left(&tag).ok()?;
        Some(SignedVisit { visit, owner })
    }

    /// The verified visit in a request's `Cookie` headers, if any.
    pub fn from_headers(&self, headers: &http::HeaderMap) -> Option<SignedVisit> {
        crate::http::cookies(headers).filter(|(name, _)| *name == self.name()).find_map(|(_, value)| self.verify(value))
    }

    fn set_cookie(&self, response: &mut Response, signed: SignedVisit) {
        let cookie = cookie::Cookie::build((self.name(), self.value(signed)))
            .path("/")
            .max_age(cookie::time::Duration::seconds(i64::try_from(self.idle.as_secs()).unwrap_or(i64::MAX)))
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .secure(self.secure)
            .build();
        if let Ok(value) = http::HeaderValue::from_str(&cookie.to_string()) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
}

/// The signed-in user's id in a session (without ending it); an error when the session store cannot be read.
async fn session_owner(session: Option<&Session>) -> Result<Option<Uuid>, tower_sessions::session::Error> {
    let Some(session) = session else { return Ok(None) };
    Ok(session.get::<SessionUser>(SESSION_USER_KEY).await?.map(|user| user.id))
}

/// Static files need no visit bookkeeping (and no session read).
fn is_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || path.starts_with("/images/") || path == "/favicon.svg"
}

/// Resolves the request's visit, refuses events without one, and re-issues the cookie on every response: the
/// same visit while its owner stays; the visit, now owned, at sign-in; a new visit when the owner changes.
///
/// Runs inside the session layer, so it can tell who is signed in before and after the handler.
pub async fn track_visit(State(cookies): State<VisitCookies>, mut request: Request, next: Next) -> Response {
    let presented = cookies.from_headers(request.headers());
    if is_asset(request.uri().path()) {
        let visit = presented.unwrap_or(SignedVisit { visit: Uuid::new_v4(), owner: None });
        request.extensions_mut().insert(VisitId(visit.visit));
        return next.run(request).await;
    }
    let session = request.extensions().get::<Session>().cloned();
    let current = match presented {
        // A signed-in visit lasts as long as its session and its user.
        // A store that cannot be read (the database is down) ends nothing: the request fails on its own.
        Some(signed @ SignedVisit { owner: Some(owner), .. }) => match &session {
            Some(session) => match app::server_context::signed_in_user(session, cookies.session_lifetime).await {
                Ok(user) => (user.map(|user| user.id) == Some(owner)).then_some(signed),
                Err(_) => Some(signed),
            },
            None => None,
        },
        anonymous => anonymous,
    };
    let is_collect = request.method() == Method::POST && request.uri().path() == app::tracking::COLLECT_PATH;
    let visit = match current {
        Some(visit) => visit,
        None if is_collect => return no_visit(presented.is_some()),
        None => {
            request.extensions_mut().insert(NewVisit);
            SignedVisit { visit: Uuid::new_v4(), owner: None }
        }
    };
    request.extensions_mut().insert(VisitId(visit.visit));
    let mut response = next.run(request).await;

    let Ok(owner_after) = session_owner(session.as_ref()).await else {
        cookies.set_cookie(&mut response, visit);
        return response;
    };
    let next_visit = match (visit.owner, owner_after) {
        (None, None) => visit,
        (Some(before), Some(after)) if before == after => visit,
        // Sign-in: the anonymous visit continues as the shopper's.
        (None, Some(owner)) => SignedVisit { visit: visit.visit, owner: Some(owner) },
        // Sign-out, or another person signed in: their journeys never mix.
        (Some(_), owner) => SignedVisit { visit: Uuid::new_v4(), owner },
    };
    cookies.set_cookie(&mut response, next_visit);
    response
}

/// `POST /api/events` without a visit the server issued: refused, nothing stored, no visit started.
fn no_visit(ended: bool) -> Response {
    metrics::counter!(crate::prometheus::names::BATCHES, "outcome" => "no_visit").increment(1);
    let error = if ended {
        "the visit ended with the session: load a page of the shop to start a new one"
    } else {
        "no visit: events are taken only for a visit the shop issued on a page load (cookie missing or not signed by the shop)"
    };
    (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": error }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies() -> VisitCookies {
        VisitCookies::new(
            b"a test key that is long enough to sign visits",
            false,
            Duration::from_secs(3600),
            Duration::from_secs(30 * 60),
        )
    }

    fn headers(cookie: &str) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        map.insert(http::header::COOKIE, cookie.parse().unwrap());
        map
    }

    #[test]
    fn a_signed_visit_is_read_back_among_other_cookies() {
        let signed = SignedVisit { visit: Uuid::new_v4(), owner: Some(Uuid::new_v4()) };
        let value = cookies().value(signed);
        assert_eq!(cookies().from_headers(&headers(&format!("a=1; {VISIT_COOKIE}={value}; b=2"))), Some(signed));
        let anonymous = SignedVisit { owner: None, ..signed };
        assert_eq!(cookies().verify(&cookies().value(anonymous)), Some(anonymous));
    }

    #[test]
    fn forged_tampered_and_foreign_visits_are_refused() {
        let c = cookies();
        let signed = SignedVisit { visit: Uuid::new_v4(), owner: None };
        let value = c.value(signed);
        // A bare id (what the cookie held before it was signed), junk, and a path.
        for forged in [signed.visit.to_string(), "../../etc".into(), String::new(), format!("{value}.x")] {
            assert_eq!(c.verify(&forged), None, "{forged}");
        }
        // Another visit id or another owner under the same tag.
        let (_, rest) = value.split_once('.').unwrap();
        assert_eq!(c.verify(&format!("{}.{rest}", Uuid::new_v4())), None);
        let tag = value.rsplit('.').next().unwrap();
        assert_eq!(c.verify(&format!("{}.{}.{tag}", signed.visit, Uuid::new_v4())), None);
        // Signed with another key.
        let other = VisitCookies::new(
            b"another key, another deployment, same length",
            false,
            Duration::from_secs(1),
            Duration::from_secs(1),
        );
        assert_eq!(c.verify(&other.value(signed)), None);
        assert_eq!(c.from_headers(&http::HeaderMap::new()), None);
    }

    #[test]
    fn production_cookies_carry_the_host_prefix() {
        let production = VisitCookies::new(b"k", true, Duration::from_secs(1), Duration::from_secs(45 * 60));
        assert_eq!(production.name(), "__Host-cg_visit");
        let mut response = Response::new(axum::body::Body::empty());
        production.set_cookie(&mut response, SignedVisit { visit: Uuid::new_v4(), owner: None });
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
        assert!(
            cookie.starts_with("__Host-cg_visit=") && cookie.contains("; Secure") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(cookie.contains("Max-Age=2700"), "the cookie lasts as long as an idle visit: {cookie}");
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
}
