//! One visit's journey: the clickstream events of a visit turned into a summary ([`summarize`]) and a
//! schematic A4 PDF report ([`render`]). Both are pure functions (`model`, `pdf`); `routes` and `store` connect
//! them to HTTP and PostgreSQL, and `renders` keeps downloads of open visits to one render at a time.

pub mod closer;
mod draw;
mod metrics;
mod model;
mod pdf;
pub mod renders;
pub mod routes;
pub mod store;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use model::{
    clean_path, normalize_events, summarize, FunnelStage, JourneySummary, NodeVisits, Outcome, PageKind, PageNode, Step,
};
pub use pdf::{render, render_insights, MAX_PAGES};

/// One clickstream event of a visit, as stored by the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyEvent {
    /// The event's id; events with the same id are duplicates of one another.
    pub event_id: Uuid,
    /// `page_view`, `page_leave`, `click`, `product_view`, `cart_add`, `cart_remove`, `search`,
    /// `checkout_begin`, `payment_result`, `error`, `rage_click`, `dead_click`, `quick_back` or `web_vitals`.
    pub event_type: String,
    /// The path (with query) of the page the event happened on, e.g. `/products?q=tent`.
    pub path: String,
    /// When the collector received the event.
    pub received_at: DateTime<Utc>,
    /// The event's sequence number within its page, to order events received in the same instant.
    pub seq: i32,
    /// A click label, search query, product slug, payment result (`succeeded`/`declined`/`failed`), or what a
    /// signal measured ("Add to cart (4 clicks)", "left after 1.2 s", "LCP 900 ms · CLS 0.012").
    pub label: Option<String>,
}

/// What the report says about the visit besides its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitInfo {
    /// The visit's id.
    pub visit_id: Uuid,
    /// The signed-in shopper's name or email; `None` for an anonymous visit.
    pub shopper: Option<String>,
    /// A short description of the browser, e.g. "Firefox on Linux".
    pub device: String,
    /// Whether the visit may still receive events.
    pub in_progress: bool,
    /// Events of the visit past the most that are loaded for a report ([`store::MAX_LOADED_EVENTS`]): counted
    /// as left out, not drawn or summarized.
    pub events_not_loaded: u64,
}
