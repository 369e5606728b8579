//! Version 1 of the clickstream schema.
//!
//! The browser posts a [`ClientBatch`]; the server validates it, stamps each event with an id, the visit, the
//! user and its own receive time, and produces a [`ClickstreamRecord`] per event to `clickstream.v1`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The schema version written into every record.
pub const SCHEMA_VERSION: u16 = 1;
/// The most events one batch may carry.
pub const MAX_EVENTS_PER_BATCH: usize = 100;
/// The longest string any field may hold, in bytes.
pub const MAX_STRING_BYTES: usize = 2048;

/// What happened, with the details each kind carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A page was shown (first load or route change); `referrer` is the previous page.
    PageView { path: String, referrer: Option<String>, title: Option<String> },
}

impl EventKind {
    /// The name of the kind as it appears in the `type` field.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::PageView { .. } => "page_view",
        }
    }

    /// The page the event happened on.
    pub fn path(&self) -> &str {
        match self {
            EventKind::PageView { path, .. } => path,
        }
    }

    fn strings(&self) -> Vec<&str> {
        match self {
            EventKind::PageView { path, referrer, title } => {
                let mut out = vec![path.as_str()];
                out.extend(referrer.as_deref());
                out.extend(title.as_deref());
                out
            }
        }
    }
}

/// One event as the browser sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientEvent {
    #[serde(flatten)]
    pub kind: EventKind,
    /// The browser's clock in milliseconds since the Unix epoch: kept, but not trusted for ordering.
    #[serde(default)]
    pub client_ts: Option<i64>,
}

impl ClientEvent {
    /// An event stamped with the browser's current time.
    #[cfg(feature = "hydrate")]
    pub fn now(kind: EventKind) -> Self {
        Self { kind, client_ts: Some(js_sys::Date::now() as i64) }
    }

    /// Checks the limits the producer endpoint enforces.
    pub fn validate(&self) -> Result<(), String> {
        let path = self.kind.path();
        if !path.starts_with('/') {
            return Err(format!("{}: path must start with '/'", self.kind.name()));
        }
        if self.kind.strings().iter().any(|s| s.len() > MAX_STRING_BYTES) {
            return Err(format!("{}: a field is longer than {MAX_STRING_BYTES} bytes", self.kind.name()));
        }
        Ok(())
    }
}

/// What the browser posts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientBatch {
    /// Schema version of the batch; must equal [`SCHEMA_VERSION`].
    pub v: u16,
    pub events: Vec<ClientEvent>,
}

/// One event as it sits in the `clickstream.v1` topic (key: the visit id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickstreamRecord {
    pub schema_version: u16,
    pub event_id: Uuid,
    pub visit_id: Uuid,
    pub user_id: Option<Uuid>,
    /// The server's receive time: authoritative for ordering.
    pub received_at: DateTime<Utc>,
    pub client_ts: Option<i64>,
    /// Position of the event in its batch, to keep order among events received together.
    pub seq: u32,
    pub user_agent: Option<String>,
    #[serde(flatten)]
    pub event: EventKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_view(path: &str) -> ClientEvent {
        ClientEvent {
            kind: EventKind::PageView { path: path.into(), referrer: None, title: Some("Home".into()) },
            client_ts: Some(1_700_000_000_000),
        }
    }

    #[test]
    fn a_page_view_round_trips_with_its_type_tag() {
        let json = serde_json::to_value(page_view("/")).unwrap();
        assert_eq!(json["type"], "page_view");
        assert_eq!(json["path"], "/");
        let back: ClientEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, page_view("/"));
    }

    #[test]
    fn unknown_event_types_do_not_parse() {
        let result = serde_json::from_str::<ClientEvent>(r#"{"type":"teleport","path":"/"}"#);
        assert!(result.is_err());
    }

    #[test]
    fn validation_rejects_relative_paths_and_huge_strings() {
        assert!(page_view("/product/1").validate().is_ok());
        assert!(page_view("product/1").validate().unwrap_err().contains("path must start"));
        let huge = format!("/{}", "x".repeat(MAX_STRING_BYTES));
        assert!(page_view(&huge).validate().unwrap_err().contains("longer than"));
    }
}
