//! `POST /api/events`: the visit comes from the cookie, never from the body.

use super::producer::RejectedInput;
use crate::{startup::AppState, visit::VisitId};
use app::{
    auth::{SessionUser, SESSION_USER_KEY},
    tracking::schema::{ClickstreamRecord, MAX_EVENTS_PER_BATCH, SCHEMA_VERSION},
};
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use chrono::{DateTime, Utc};
use serde_json::json;
use tower_sessions::Session;
use uuid::Uuid;

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
            Err(error) => rejected.push((format!("malformed event: {error}"), raw.to_string())),
        }
    }
    BatchVerdict::Checked { accepted, rejected }
}

/// Accepts a batch; answers 202 once the broker has acknowledged it, 503 with `Retry-After` when it cannot.
pub async fn collect(
    State(state): State<AppState>,
    Extension(visit): Extension<VisitId>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_at = Utc::now();
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
                tracing::warn!(%error, "could not record a refused batch");
                return unavailable();
            }
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": reason }))).into_response();
        }
        BatchVerdict::Checked { accepted, rejected } => (accepted, rejected),
    };
    for (reason, input) in &rejected {
        if let Err(error) = state.producer.send_rejected(&reject(visit, received_at, reason, input)).await {
            tracing::warn!(%error, "could not record a rejected event");
            return unavailable();
        }
    }
    let user_id = session.get::<SessionUser>(SESSION_USER_KEY).await.ok().flatten().map(|user| user.id);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| truncate(ua, 512).to_string());
    let records: Vec<ClickstreamRecord> = accepted
        .into_iter()
        .enumerate()
        .map(|(seq, event)| ClickstreamRecord {
            schema_version: SCHEMA_VERSION,
            event_id: Uuid::new_v4(),
            visit_id: visit.0,
            user_id,
            received_at,
            client_ts: event.client_ts,
            seq: seq as u32,
            user_agent: user_agent.clone(),
            path: event.path,
            event: event.kind,
        })
        .collect();
    if let Err(error) = state.producer.send_events(&records).await {
        tracing::warn!(%error, "clickstream batch not acknowledged by the broker");
        return unavailable();
    }
    let reasons: Vec<&str> = rejected.iter().map(|(reason, _)| reason.as_str()).collect();
    (StatusCode::ACCEPTED, Json(json!({ "accepted": records.len(), "rejected": reasons }))).into_response()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
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
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
