//! `POST /api/events`: the visit comes from the cookie, never from the body.

use super::limits::{Rate, RateLimiter};
use super::producer::ProduceError;
use super::visit::VisitId;
use crate::{client_ip, config::Settings, http::error::HttpError, prometheus::names};
use app::tracking::schema::{
    event_id, is_supported_version, ClickstreamRecord, EventOrigin, MAX_EVENTS_PER_BATCH, SCHEMA_VERSION,
};
use axum::{
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use chrono::Utc;
use serde_json::json;
use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};
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
    let version = match value.get("v").and_then(|v| v.as_u64()) {
        Some(v) if is_supported_version(v) => v,
        Some(v) => return BatchVerdict::Refused(format!("unsupported schema version {v}")),
        None => return BatchVerdict::Refused("missing schema version field \"v\"".into()),
    };
    let Some(events) = value.get("events").and_then(|e| e.as_array()) else {
        return BatchVerdict::Refused("missing \"events\" array".into());
    };
    if events.is_empty() {
        return BatchVerdict::Refused("the batch has no events".into());
    }
    if events.len() > MAX_EVENTS_PER_BATCH {
        return BatchVerdict::Refused(format!(
            "{} events in one batch; the limit is {MAX_EVENTS_PER_BATCH}",
            events.len()
        ));
    }
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for raw in events {
        match serde_json::from_value::<app::tracking::schema::ClientEvent>(raw.clone()) {
            Ok(event) if event.kind.is_server_recorded() => {
                let reason = format!(
                    "{}: recorded by the server (checkout, payment, coupon codes), not taken from the browser",
                    event.kind.name()
                );
                rejected.push((reason, raw.to_string()));
            }
            Ok(event) if u64::from(event.kind.event_type().since_version()) > version => {
                let reason = format!(
                    "{}: needs schema version {}, the batch says {version}",
                    event.kind.name(),
                    event.kind.event_type().since_version()
                );
                rejected.push((reason, raw.to_string()));
            }
            Ok(event) => match event.validate() {
                Ok(()) => accepted.push(event),
                Err(reason) => rejected.push((reason, raw.to_string())),
            },
            Err(error) => rejected.push((format!("{MALFORMED}: {error}"), raw.to_string())),
        }
    }
    BatchVerdict::Checked { accepted, rejected }
}

/// Per-visit and per-IP limits on the producer endpoint, how many batches it handles at once, and how many
/// events one visit may hold.
pub struct CollectLimits {
    pub per_visit: RateLimiter<Uuid>,
    pub per_ip: RateLimiter<IpAddr>,
    pub in_flight: tokio::sync::Semaphore,
    pub visit_max_events: u32,
}

impl CollectLimits {
    /// Limits of `per_visit` and `per_ip` batches per second (bursts of ten times that), at most `concurrency`
    /// batches at once, and `visit_max_events` per visit.
    pub fn new(per_visit: f64, per_ip: f64, concurrency: usize, visit_max_events: u32) -> Self {
        Self {
            per_visit: RateLimiter::new(batches_per_second(per_visit), 100_000),
            per_ip: RateLimiter::new(batches_per_second(per_ip), 100_000),
            in_flight: tokio::sync::Semaphore::new(concurrency),
            visit_max_events,
        }
    }

    /// New per-visit and per-IP limits from now on (live settings).
    pub fn set_rates(&self, per_visit: f64, per_ip: f64) {
        self.per_visit.set_rate(batches_per_second(per_visit));
        self.per_ip.set_rate(batches_per_second(per_ip));
    }

    /// From the endpoint's settings, with `visit_max_events` from the visits'.
    pub fn from_settings(settings: &crate::config::CollectSettings, visit_max_events: u32) -> Self {
        Self::new(settings.rate_per_visit, settings.rate_per_ip, settings.max_concurrency.get(), visit_max_events)
    }
}

/// `per_second` batches a second, in bursts of ten times that.
fn batches_per_second(per_second: f64) -> Rate {
    Rate { burst: per_second * 10.0, per_second }
}

/// The reason given for events past a visit's cap.
pub const VISIT_FULL: &str = "visit_full";

/// User agents of crawlers, scripts and headless browsers; their events are kept but flagged.
pub fn is_bot(user_agent: Option<&str>) -> bool {
    let Some(ua) = user_agent else { return true };
    let ua = ua.to_ascii_lowercase();
    [
        "bot",
        "crawl",
        "spider",
        "slurp",
        "headless",
        "phantomjs",
        "curl/",
        "wget/",
        "python-requests",
        "go-http-client",
        "java/",
        "okhttp",
    ]
    .iter()
    .any(|marker| ua.contains(marker))
}

/// What the producer endpoint needs, taken from the application's state (`crate::state`).
#[derive(Clone)]
pub struct CollectState {
    pub pool: sqlx::PgPool,
    pub producer: super::ClickstreamProducer,
    pub limits: std::sync::Arc<CollectLimits>,
    pub settings: std::sync::Arc<Settings>,
    /// The broker-delay drill.
    pub live: app::live::Live,
}

/// Accepts a batch; answers 202 once the broker has acknowledged it, 503 with `Retry-After` when it cannot.
pub async fn collect(
    State(state): State<CollectState>,
    Extension(visit): Extension<VisitId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let received_at = Utc::now();
    let ip = client_ip::rate_key(client_ip::client_ip(&headers, peer.ip(), &state.settings.collect.trusted_proxies));
    let limits = &state.limits;
    if let Err(wait) = limits.per_visit.check(&visit.0).and_then(|()| limits.per_ip.check(&ip)) {
        count_batch("rate_limited");
        return Err(
            HttpError::json(StatusCode::TOO_MANY_REQUESTS, "too many event batches; slow down").retry_after(wait)
        );
    }
    let Ok(_permit) = limits.in_flight.try_acquire() else {
        // At once when the endpoint already handles as many batches as it may: the tracker retries later.
        count_batch("overloaded");
        return Err(HttpError::json(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many event batches in progress; retry shortly",
        )
        .retry_after(Duration::from_secs(1)));
    };
    let reject = |reason: &'_ str, input: &'_ str| -> (String, String) {
        (reason.to_string(), truncate(input, MAX_KEPT_INPUT_BYTES).to_string())
    };
    let (mut accepted, mut rejected) = match validate_batch(&body) {
        BatchVerdict::Refused(reason) => {
            let input = String::from_utf8_lossy(&body);
            state
                .producer
                .send_rejected(visit.0, received_at, &[reject(&reason, &input)])
                .await
                .map_err(|error| unavailable(&error, "could not record a refused batch"))?;
            metrics::counter!(names::EVENTS_REJECTED, "reason" => "batch_refused").increment(1);
            count_batch("refused");
            return Err(HttpError::json(StatusCode::BAD_REQUEST, reason));
        }
        BatchVerdict::Checked { accepted, rejected } => (accepted, rejected),
    };
    // Past the visit's cap, events go to the bad topic and the tracker is told to stop sending.
    let room = visit_room(&state, visit.0, limits.visit_max_events).await;
    let visit_full = accepted.len() > room;
    if visit_full {
        for event in accepted.split_off(room) {
            let input = serde_json::to_string(&event).unwrap_or_default();
            rejected.push((VISIT_FULL.to_string(), input));
        }
    }
    let rejected: Vec<(String, String)> = rejected.iter().map(|(reason, input)| reject(reason, input)).collect();
    state
        .producer
        .send_rejected(visit.0, received_at, &rejected)
        .await
        .map_err(|error| unavailable(&error, "could not record a rejected event"))?;
    for (reason, _) in &rejected {
        metrics::counter!(names::EVENTS_REJECTED, "reason" => rejection_kind(reason)).increment(1);
    }
    let reasons: Vec<&str> = rejected.iter().map(|(reason, _)| reason.as_str()).collect();
    if accepted.is_empty() && !visit_full {
        // Nothing usable: a client error that names what was wrong.
        count_batch("refused");
        let error = format!("no event in the batch was taken: {}", reasons.first().copied().unwrap_or("no events"));
        return Err(HttpError::json(StatusCode::BAD_REQUEST, error).with("rejected", &reasons));
    }
    let user_id = app::server_context::signed_in_user(&session, state.settings.session.absolute)
        .await
        .ok()
        .flatten()
        .map(|user| user.id);
    let user_agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| truncate(ua, 512).to_string());
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
            origin: EventOrigin::Client,
            path: event.path,
            event: event.kind,
        })
        .collect();
    app::live::delay(state.live.get().drills.broker_produce_delay_ms).await;
    state
        .producer
        .send_events(&records)
        .await
        .map_err(|error| unavailable(&error, "clickstream batch not acknowledged by the broker"))?;
    metrics::counter!(names::EVENTS_ACCEPTED).increment(records.len() as u64);
    count_batch(if visit_full { "visit_full" } else { "accepted" });
    let ids: Vec<Uuid> = records.iter().map(|record| record.event_id).collect();
    let body = json!({ "accepted": records.len(), "ids": ids, "rejected": reasons, "visit_full": visit_full });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// How many more events the visit may hold. The worker enforces the cap exactly; this early check (against what
/// it has stored so far) lets the tracker stop sending. A database that cannot answer defers to the worker.
async fn visit_room(state: &CollectState, visit: Uuid, cap: u32) -> usize {
    let stored =
        sqlx::query_scalar!("SELECT events FROM visits WHERE visit_id = $1", visit).fetch_optional(&state.pool).await;
    match stored {
        Ok(stored) => (cap as usize).saturating_sub(stored.unwrap_or(0).max(0) as usize),
        Err(error) => {
            tracing::debug!(%error, "could not read the visit's event count; the worker enforces the cap");
            cap as usize
        }
    }
}

fn count_batch(outcome: &'static str) {
    metrics::counter!(names::BATCHES, "outcome" => outcome).increment(1);
}

/// The bounded `reason` label of a rejected event: it did not parse (`malformed`), its visit is full
/// (`visit_full`) or it broke a rule (`invalid`).
fn rejection_kind(reason: &str) -> &'static str {
    if reason.starts_with(MALFORMED) {
        "malformed"
    } else if reason == VISIT_FULL {
        "visit_full"
    } else {
        "invalid"
    }
}

/// 503 with `Retry-After`: the breaker's remaining cool-down when it refused the batch, else 5 s.
fn unavailable(error: &ProduceError, what: &str) -> HttpError {
    count_batch("unavailable");
    let retry_after = match error {
        // Expected while the breaker sheds load: the opening itself was logged once.
        ProduceError::BreakerOpen(open) => {
            tracing::debug!(%error, "{what}");
            open.retry_after
        }
        _ => {
            tracing::warn!(%error, "{what}");
            Duration::from_secs(5)
        }
    };
    HttpError::json(StatusCode::SERVICE_UNAVAILABLE, "the event broker is unavailable; retry later")
        .retry_after(retry_after)
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
    fn a_browser_cannot_send_the_coupon_tax_and_delivery_events_the_server_records() {
        let body = br#"{"v":5,"events":[{"type":"coupon_applied","path":"/cart","code":"WELCOME10"},
            {"type":"coupon_rejected","path":"/cart","code":"X","reason":"unknown"},
            {"type":"tax_shown","path":"/checkout/delivery","country":"DE","tax_cents":0},
            {"type":"shipping_selected","path":"/checkout/delivery","order_id":"9b2f4c1e-0000-4000-8000-000000000000",
             "method":"Free","shipping_cents":0},{"type":"page_view","path":"/"}]}"#;
        let BatchVerdict::Checked { accepted, rejected } = validate_batch(body) else { panic!("refused") };
        assert_eq!(accepted.len(), 1, "the page view still counts");
        assert_eq!(rejected.len(), 4);
        assert!(rejected.iter().all(|(reason, _)| reason.contains("recorded by the server")), "{rejected:?}");
    }

    #[test]
    fn whole_batches_are_refused_with_a_reason() {
        let refused = |body: &[u8]| match validate_batch(body) {
            BatchVerdict::Refused(reason) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(refused(b"\xff\x00garbage").contains("not JSON"));
        assert!(refused(br#"{"v":6,"events":[]}"#).contains("version 6"));
        assert!(refused(br#"{"v":0,"events":[]}"#).contains("version 0"));
        assert!(refused(br#"{"events":[]}"#).contains("\"v\""));
        assert!(refused(br#"{"v":1,"events":[]}"#).contains("no events"));
        let many = format!(r#"{{"v":1,"events":[{}]}}"#, vec![r#"{"type":"page_view","path":"/"}"#; 101].join(","));
        assert!(refused(many.as_bytes()).contains("limit is 100"));
    }

    #[test]
    fn version_2_batches_carry_the_frustration_and_quality_signals_and_version_1_batches_still_work() {
        let signals = r#"[{"type":"rage_click","path":"/product/a","element":"img","label":"","clicks":4},
            {"type":"dead_click","path":"/product/a","element":"img","label":"product photo"},
            {"type":"quick_back","path":"/product/a","duration_ms":1200},
            {"type":"web_vitals","path":"/product/a","lcp_ms":900,"cls_milli":12,"inp_ms":null},
            {"type":"page_view","path":"/","referrer":null,"title":"Home"}]"#;
        let checked = |version: u16| match validate_batch(format!(r#"{{"v":{version},"events":{signals}}}"#).as_bytes())
        {
            BatchVerdict::Checked { accepted, rejected } => (accepted.len(), rejected),
            other => panic!("refused: {other:?}"),
        };
        assert_eq!(checked(2), (5, vec![]));
        let (accepted, rejected) = checked(1);
        assert_eq!(accepted, 1, "a version 1 batch keeps its page view");
        assert_eq!(rejected.len(), 4);
        assert!(rejected[0].0.contains("rage_click: needs schema version 2, the batch says 1"), "{rejected:?}");
    }

    #[test]
    fn version_3_batches_say_which_recommendations_were_shown() {
        let checked = |version: u16, event: &str| match validate_batch(
            format!(r#"{{"v":{version},"events":[{event}]}}"#).as_bytes(),
        ) {
            BatchVerdict::Checked { accepted, rejected } => {
                (accepted.len(), rejected.first().map(|(reason, _)| reason.clone()).unwrap_or_default())
            }
            other => panic!("refused: {other:?}"),
        };
        let shown = r#"{"type":"rec_impression","path":"/","slot":"picked-for-you","products":4}"#;
        assert_eq!(checked(3, shown), (1, String::new()));
        assert!(checked(2, shown).1.contains("needs schema version 3, the batch says 2"));
        let shouted = r#"{"type":"rec_impression","path":"/","slot":"Popular; DROP","products":4}"#;
        assert!(checked(3, shouted).1.contains("lower-case letters"));
        let none = r#"{"type":"rec_impression","path":"/","slot":"popular","products":0}"#;
        assert!(checked(3, none).1.contains("products must be 1 to 24"));
    }

    #[test]
    fn signals_out_of_range_are_rejected_with_the_field() {
        let reason = |event: &str| match validate_batch(format!(r#"{{"v":2,"events":[{event}]}}"#).as_bytes()) {
            BatchVerdict::Checked { rejected, .. } => {
                rejected.first().map(|(reason, _)| reason.clone()).unwrap_or_default()
            }
            other => panic!("refused: {other:?}"),
        };
        assert!(reason(r#"{"type":"rage_click","path":"/","element":"a","label":"x","clicks":1}"#).contains("clicks"));
        assert!(reason(r#"{"type":"quick_back","path":"/","duration_ms":60000}"#).contains("duration"));
        assert!(
            reason(r#"{"type":"web_vitals","path":"/","lcp_ms":-1,"cls_milli":null,"inp_ms":null}"#).contains("lcp_ms")
        );
        assert!(reason(r#"{"type":"web_vitals","path":"/","lcp_ms":null,"cls_milli":null,"inp_ms":null}"#)
            .contains("no vital"));
        assert!(reason(r#"{"type":"web_vitals","path":"/","lcp_ms":null,"cls_milli":200000,"inp_ms":null}"#)
            .contains("cls_milli"));
        let long = "x".repeat(3000);
        assert!(
            reason(&format!(r#"{{"type":"dead_click","path":"/","element":"a","label":"{long}"}}"#)).contains("label")
        );
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

    /// Every batch the parser accepts must be storable: no panic on any input, every accepted event valid, and no
    /// accepted string carries a character PostgreSQL refuses (the poison-record class of bug). Mutations include
    /// escaped control characters, so the last rule is exercised, not vacuous.
    #[test]
    fn the_batch_parser_never_panics_and_never_accepts_an_unstorable_event() {
        let valid = br#"{"v":1,"events":[{"type":"page_view","path":"/","referrer":null,"title":"Home","id":"a1"},{"type":"cart_add","path":"/p","product_id":3,"quantity":2},{"type":"click","path":"/","element":"a","label":"Shop","href":"/products"}]}"#;
        let alphabet = br#"{}[]":,0123456789.-eE truefalsnul\/u"#;
        let controls: [&[u8]; 4] = [br"\u0000", br"\u001b", br"\u007f", b"\x00"];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut control_rejections = 0;
        for round in 0..20_000 {
            let bytes: Vec<u8> = if round % 2 == 0 {
                let len = (rng.next() % 200) as usize;
                (0..len).map(|_| rng.next() as u8).collect()
            } else {
                let mut mutated = valid.to_vec();
                for _ in 0..1 + rng.next() % 4 {
                    let at = (rng.next() as usize) % mutated.len();
                    match rng.next() % 4 {
                        0 => mutated[at] = alphabet[(rng.next() as usize) % alphabet.len()],
                        1 => {
                            mutated.remove(at);
                        }
                        2 => mutated.insert(at, alphabet[(rng.next() as usize) % alphabet.len()]),
                        _ => {
                            let control = controls[(rng.next() as usize) % controls.len()];
                            mutated.splice(at..at, control.iter().copied());
                        }
                    }
                }
                mutated
            };
            if let BatchVerdict::Checked { accepted, rejected } = validate_batch(&bytes) {
                for event in &accepted {
                    assert!(event.validate().is_ok(), "{event:?}");
                    let json = serde_json::to_string(event).unwrap();
                    let decoded: serde_json::Value = serde_json::from_str(&json).unwrap();
                    let strings = decoded.as_object().unwrap().values().filter_map(|v| v.as_str());
                    for value in strings {
                        assert!(!value.chars().any(app::tracking::schema::is_forbidden_control), "accepted {value:?}");
                    }
                }
                control_rejections +=
                    rejected.iter().filter(|(reason, _)| reason.contains("control character")).count();
            }
        }
        assert!(
            control_rejections > 100,
            "the mutations reached the control-character rule only {control_rejections} times"
        );
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
