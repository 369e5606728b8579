//! `POST /api/events`: the visit comes from the cookie, never from the body.

use super::producer::{ProduceError, RejectedInput};
use super::rate_limit::{Rate, RateLimiter};
use crate::{prometheus::names, startup::AppState, visit::VisitId};
use app::{
    tracking::schema::{event_id, ClickstreamRecord, MAX_EVENTS_PER_BATCH, SCHEMA_VERSION},
};
use std::{
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};
use axum::{
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use chrono::{DateTime, Utc};
use serde_json::json;
use tower_sessions::Session;
use uuid::Uuid;

/// How the reason of an event that does not parse begins.
const MALFORMED: &str = "malformed event";

/// How much of a refused input is kept in the bad topic.
const MAX_KEPT_INPUT_BYTES: usize = 4096;

/// The outcome of checking one batch.
#[derive(Debug, PartialEq)]
pub enum BatchVerdict {
    /// The batch as a whole is unusable (not JSON, wrong version, too many events).
    Refused(String),
    /// Each event is either accepted or rejected with a reason.
    Checked { accepted: Vec<app::tracking::schema::ClientEvent>, rejected: Vec<(String, String)> },
}

/// Parses and checks a batch. Never panics, whatever the bytes.
pub fn validate_batch(body: &[u8]) -> BatchVerdict {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => return BatchVerdict::Refused(format!("body is not JSON: {error}")),
    };
    match value.get("v").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => return BatchVerdict::Refused(format!("unsupported schema version {v}")),
        None => return BatchVerdict::Refused("missing schema version field \"v\"".into()),
    }
    let Some(events) = value.get("events").and_then(|e| e.as_array()) else {
        return BatchVerdict::Refused("missing \"events\" array".into());
    };
    if events.is_empty() {
        return BatchVerdict::Refused("the batch has no events".into());
    }
    if events.len() > MAX_EVENTS_PER_BATCH {
        return BatchVerdict::Refused(format!("{} events in one batch; the limit is {MAX_EVENTS_PER_BATCH}", events.len()));
    }
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for raw in events {
        match serde_json::from_value::<app::tracking::schema::ClientEvent>(raw.clone()) {
            Ok(event) => match event.validate() {
                Ok(()) => accepted.push(event),
                Err(reason) => rejected.push((reason, raw.to_string())),
            },
            Err(error) => rejected.push((format!("{MALFORMED}: {error}"), raw.to_string())),
        }
    }
    BatchVerdict::Checked { accepted, rejected }
}

/// Per-visit and per-IP limits on the producer endpoint.
pub struct CollectLimits {
    pub per_visit: RateLimiter<Uuid>,
    pub per_ip: RateLimiter<IpAddr>,
}

impl CollectLimits {
    /// Limits of `per_visit` and `per_ip` batches per second, with bursts of ten times that.
    pub fn new(per_visit: f64, per_ip: f64) -> Self {
        let rate = |per_second: f64| Rate { burst: per_second * 10.0, per_second };
        Self { per_visit: RateLimiter::new(rate(per_visit), 100_000), per_ip: RateLimiter::new(rate(per_ip), 100_000) }
    }
}

/// The client's address: the connection's peer, or the first `X-Forwarded-For` hop behind a trusted proxy.
fn client_ip(headers: &HeaderMap, peer: SocketAddr, behind_proxy: bool) -> IpAddr {
    behind_proxy
        .then(|| headers.get("x-forwarded-for")?.to_str().ok()?.split(',').next()?.trim().parse().ok())
        .flatten()
        .unwrap_or(peer.ip())
}

/// User agents of crawlers, scripts and headless browsers; their events are kept but flagged.
pub fn is_bot(user_agent: Option<&str>) -> bool {
    let Some(ua) = user_agent else { return true };
    let ua = ua.to_ascii_lowercase();
    ["bot", "crawl", "spider", "slurp", "headless", "phantomjs", "curl/", "wget/", "python-requests", "go-http-client", "java/", "okhttp"]
        .iter()
        .any(|marker| ua.contains(marker))
}

/// Accepts a batch; answers 202 once the broker has acknowledged it, 503 with `Retry-After` when it cannot.
pub async fn collect(
    State(state): State<AppState>,
    Extension(visit): Extension<VisitId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_at = Utc::now();
    let now = Instant::now();
    let ip = client_ip(&headers, peer, state.settings.behind_proxy);
    let limits = &state.collect_limits;
    if let Err(wait) = limits.per_visit.check(&visit.0, now).and_then(|()| limits.per_ip.check(&ip, now)) {
        count_batch("rate_limited");
        return too_many_requests(wait);
    }
    fn reject<'a>(visit: VisitId, received_at: DateTime<Utc>, reason: &'a str, input: &'a str) -> RejectedInput<'a> {
        RejectedInput {
            schema_version: SCHEMA_VERSION,
            visit_id: visit.0,
            received_at,
            reason,
            input: truncate(input, MAX_KEPT_INPUT_BYTES),
        }
    }
    let (accepted, rejected) = match validate_batch(&body) {
        BatchVerdict::Refused(reason) => {
            let input = String::from_utf8_lossy(&body);
            if let Err(error) = state.producer.send_rejected(&reject(visit, received_at, &reason, &input)).await {
                return unavailable(&error, "could not record a refused batch");
            }
            metrics::counter!(names::EVENTS_REJECTED, "reason" => "batch_refused").increment(1);
            count_batch("refused");
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": reason }))).into_response();
        }
        BatchVerdict::Checked { accepted, rejected } => (accepted, rejected),
    };
    for (reason, input) in &rejected {
        if let Err(error) = state.producer.send_rejected(&reject(visit, received_at, reason, input)).await {
            return unavailable(&error, "could not record a rejected event");
        }
        metrics::counter!(names::EVENTS_REJECTED, "reason" => rejection_kind(reason)).increment(1);
    }
    let user_id = app::server_context::signed_in_user(&session, state.settings.session_lifetime())
        .await
        .ok()
        .flatten()
        .map(|user| user.id);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| truncate(ua, 512).to_string());
    let bot = is_bot(user_agent.as_deref());
    let records: Vec<ClickstreamRecord> = accepted
        .into_iter()
        .enumerate()
        .map(|(seq, event)| ClickstreamRecord {
            schema_version: SCHEMA_VERSION,
            event_id: event_id(visit.0, event.id.as_deref()),
            visit_id: visit.0,
            user_id,
            received_at,
            client_ts: event.client_ts,
            seq: seq as u32,
            user_agent: user_agent.clone(),
            bot,
            path: event.path,
            event: event.kind,
        })
        .collect();
    if let Err(error) = state.producer.send_events(&records).await {
        return unavailable(&error, "clickstream batch not acknowledged by the broker");
    }
    metrics::counter!(names::EVENTS_ACCEPTED).increment(records.len() as u64);
    count_batch("accepted");
    let reasons: Vec<&str> = rejected.iter().map(|(reason, _)| reason.as_str()).collect();
    let ids: Vec<Uuid> = records.iter().map(|record| record.event_id).collect();
    (StatusCode::ACCEPTED, Json(json!({ "accepted": records.len(), "ids": ids, "rejected": reasons }))).into_response()
}

fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs().max(1).to_string();
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, seconds)],
        Json(json!({ "error": "too many event batches; slow down" })),
    )
        .into_response()
}

fn count_batch(outcome: &'static str) {
    metrics::counter!(names::BATCHES, "outcome" => outcome).increment(1);
}

/// The bounded `reason` label of a rejected event: it did not parse (`malformed`) or broke a rule (`invalid`).
fn rejection_kind(reason: &str) -> &'static str {
    if reason.starts_with(MALFORMED) {
        "malformed"
    } else {
        "invalid"
    }
}

/// 503 with `Retry-After`: the breaker's remaining cool-down when it refused the batch, else 5 s.
fn unavailable(error: &ProduceError, what: &str) -> Response {
    count_batch("unavailable");
    let retry_after = match error {
        // Expected while the breaker sheds load: the opening itself was logged once.
        ProduceError::BreakerOpen(open) => {
            tracing::debug!(%error, "{what}");
            open.retry_after.as_secs().max(1)
        }
        _ => {
            tracing::warn!(%error, "{what}");
            5
        }
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, retry_after.to_string())],
        Json(json!({ "error": "the event broker is unavailable; retry later" })),
    )
        .into_response()
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_batch_is_accepted_event_by_event() {
        let body = br#"{"v":1,"events":[{"type":"page_view","path":"/","referrer":null,"title":"Home"},
                                       {"type":"page_view","path":"nope"}]}"#;
        let BatchVerdict::Checked { accepted, rejected } = validate_batch(body) else { panic!("refused") };
        assert_eq!(accepted.len(), 1);
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].0.contains("path must start"));
    }

    #[test]
    fn whole_batches_are_refused_with_a_reason() {
        let refused = |body: &[u8]| match validate_batch(body) {
            BatchVerdict::Refused(reason) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(refused(b"\xff\x00garbage").contains("not JSON"));
        assert!(refused(br#"{"v":2,"events":[]}"#).contains("version 2"));
        assert!(refused(br#"{"events":[]}"#).contains("\"v\""));
        assert!(refused(br#"{"v":1,"events":[]}"#).contains("no events"));
        let many = format!(r#"{{"v":1,"events":[{}]}}"#, vec![r#"{"type":"page_view","path":"/"}"#; 101].join(","));
        assert!(refused(many.as_bytes()).contains("limit is 100"));
    }

    #[test]
    fn unknown_event_types_are_rejected_not_dropped() {
        let BatchVerdict::Checked { accepted, rejected } =
            validate_batch(br#"{"v":1,"events":[{"type":"teleport","path":"/"}]}"#)
        else {
            panic!("refused")
        };
        assert!(accepted.is_empty());
        assert!(rejected[0].0.starts_with("malformed event"));
    }

    #[test]
    fn bots_and_headless_browsers_are_recognised() {
        assert!(is_bot(Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")));
        assert!(is_bot(Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/156.0 Safari/537.36")));
        assert!(is_bot(Some("curl/8.5.0")));
        assert!(is_bot(None));
        assert!(!is_bot(Some("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")));
    }

    /// A tiny deterministic generator, so the property test needs no extra crate.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn the_batch_parser_never_panics_on_any_bytes_or_mutation() {
        let valid = br#"{"v":1,"events":[{"type":"page_view","path":"/","referrer":null,"title":"Home","id":"a1"},{"type":"cart_add","path":"/p","product_id":3,"quantity":2},{"type":"click","path":"/","element":"a","label":"Shop","href":"/products"}]}"#;
        let alphabet = br#"{}[]":,0123456789.-eE truefalsnul\/u"#;
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for round in 0..20_000 {
            let bytes: Vec<u8> = if round % 2 == 0 {
                let len = (rng.next() % 200) as usize;
                (0..len).map(|_| rng.next() as u8).collect()
            } else {
                let mut mutated = valid.to_vec();
                for _ in 0..1 + rng.next() % 4 {
                    let at = (rng.next() as usize) % mutated.len();
                    match rng.next() % 3 {
                        0 => mutated[at] = alphabet[(rng.next() as usize) % alphabet.len()],
                        1 => {
                            mutated.remove(at);
                        }
                        _ => mutated.insert(at, alphabet[(rng.next() as usize) % alphabet.len()]),
                    }
                }
                mutated
            };
            // Any outcome is fine except a panic; accepted events must also pass validation.
            if let BatchVerdict::Checked { accepted, .. } = validate_batch(&bytes) {
                assert!(accepted.iter().all(|event| event.validate().is_ok()));
            }
        }
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
