//! The clickstream schema, version 5.
//!
//! The browser posts a [`ClientBatch`]; the server validates it, stamps each event with an id, the visit, the
//! user and its own receive time, and produces a [`ClickstreamRecord`] per event to `clickstream.v1`.
//!
//! Version 2 adds the frustration and quality signals (`rage_click`, `dead_click`, `quick_back`, `web_vitals`)
//! and changes nothing else: a version 1 batch (a page still running an older tracker) and a version 1 record
//! (written before the upgrade) are read as they always were; only a version 2 batch may carry the new kinds.
//! Version 3 adds `rec_impression` (a recommendation slot shown) in the same way. Version 4 adds `coupon_applied`
//! and `coupon_rejected`, which only the server records (the browser's bundles do not even know them); version 5
//! `tax_shown` and `shipping_selected`, likewise the server's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The schema version written into every record, and the newest a batch may say.
pub const SCHEMA_VERSION: u16 = 5;
/// The oldest version still read, in batches and in records.
pub const OLDEST_SCHEMA_VERSION: u16 = 1;
/// Clicks on one element, each within [`RAGE_CLICK_WINDOW_MS`] of the one before, that make a rage click.
pub const RAGE_CLICKS: i32 = 3;
pub const RAGE_CLICK_WINDOW_MS: i64 = 1_000;
/// A click after which nothing on the page changed for this long is a dead click.
pub const DEAD_CLICK_MS: i64 = 1_000;
/// A product page left sooner than this after it was shown is a quick back.
pub const QUICK_BACK_MS: i64 = 5_000;
/// The most products a slot of recommendations reports showing.
pub const MAX_SLOT_PRODUCTS: i32 = 24;
/// The largest time a Web Vital may report (ten minutes), in milliseconds.
const MAX_VITAL_MS: i64 = 600_000;

/// Whether a batch or record of `version` can be read.
pub fn is_supported_version(version: u64) -> bool {
    (u64::from(OLDEST_SCHEMA_VERSION)..=u64::from(SCHEMA_VERSION)).contains(&version)
}
/// The most events one batch may carry.
pub const MAX_EVENTS_PER_BATCH: usize = 100;
/// The longest string any field may hold, in bytes.
pub const MAX_STRING_BYTES: usize = 2048;

/// What happened, with the details each kind carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A page was shown (first load or route change); `referrer` is the previous page.
    PageView { referrer: Option<String>, title: Option<String> },
    /// A product page was shown.
    ProductView { product_id: i64, slug: String },
    /// Units of a product were added to the cart.
    CartAdd { product_id: i64, quantity: i32 },
    /// A product's line was removed from the cart (or set to zero).
    CartRemove { product_id: i64 },
    /// A catalog search, with how many products matched.
    Search { query: String, results: i64 },
    /// Checkout reserved the cart's stock and created an order awaiting payment.
    CheckoutBegin { order_id: Uuid },
    /// A payment attempt ended: `succeeded`, `declined` or `failed`.
    PaymentResult { order_id: Uuid, outcome: String },
    /// A click on a link, button or form control; `label` is its text, `aria-label` or `data-track`,
    /// never the value of an input.
    Click { element: String, label: String, href: Option<String> },
    /// The shopper left a page: how long it was shown and how far down it was scrolled.
    PageLeave { duration_ms: i64, scroll_depth_pct: i32 },
    /// An error message the app showed the shopper.
    Error { message: String },
    /// At least [`RAGE_CLICKS`] quick clicks on one element (version 2): the shopper expected something to
    /// happen. `element` and `label` as for a click (for something that is not a control, its tag and its
    /// `data-track`, `aria-label` or `alt`, never its text).
    RageClick { element: String, label: String, clicks: i32 },
    /// A click on something that looks clickable (a control, an image, a pointer cursor) after which nothing
    /// changed for [`DEAD_CLICK_MS`]: no navigation, no change to the page, no scroll (version 2).
    DeadClick { element: String, label: String },
    /// A product page left [`QUICK_BACK_MS`] or sooner after it was shown (version 2).
    QuickBack { duration_ms: i64 },
    /// The page's Core Web Vitals when it was left (version 2): largest contentful paint and interaction to next
    /// paint in milliseconds, cumulative layout shift in thousandths; `None` for what the browser did not measure
    /// (no interaction, say).
    WebVitals { lcp_ms: Option<i64>, cls_milli: Option<i64>, inp_ms: Option<i64> },
    /// A slot of recommendations was shown on the page (version 3): its name (`crate::recommend::Slot`) and how
    /// many products it held.
    RecImpression { slot: String, products: i32 },
    /// A shopper's coupon code was applied to their cart (version 4; recorded by the server).
    #[cfg(feature = "ssr")]
    CouponApplied { code: String },
    /// A coupon code was refused, and why (`crate::promotions::Refusal::reason`: `unknown`, `min_subtotal`, …)
    /// (version 4; recorded by the server).
    #[cfg(feature = "ssr")]
    CouponRejected { code: String, reason: String },
    /// Checkout's delivery step showed the tax for a destination country (version 5; recorded by the server): the
    /// order's tax with the cheapest delivery, in minor units.
    #[cfg(feature = "ssr")]
    TaxShown { country: String, tax_cents: i64 },
    /// Checkout placed the order with a delivery method, at a price (version 5; recorded by the server).
    #[cfg(feature = "ssr")]
    ShippingSelected { order_id: Uuid, method: String, shipping_cents: i64 },
}

/// The kinds of event, without their details: the `type` field, the `clickstream_events.event_type` column and
/// what the worker and the journey report count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    PageView,
    ProductView,
    CartAdd,
    CartRemove,
    Search,
    CheckoutBegin,
    PaymentResult,
    Click,
    PageLeave,
    Error,
    RageClick,
    DeadClick,
    QuickBack,
    WebVitals,
    RecImpression,
    CouponApplied,
    CouponRejected,
    TaxShown,
    ShippingSelected,
}

impl EventType {
    pub const ALL: [EventType; 19] = [
        EventType::PageView,
        EventType::ProductView,
        EventType::CartAdd,
        EventType::CartRemove,
        EventType::Search,
        EventType::CheckoutBegin,
        EventType::PaymentResult,
        EventType::Click,
        EventType::PageLeave,
        EventType::Error,
        EventType::RageClick,
        EventType::DeadClick,
        EventType::QuickBack,
        EventType::WebVitals,
        EventType::RecImpression,
        EventType::CouponApplied,
        EventType::CouponRejected,
        EventType::TaxShown,
        EventType::ShippingSelected,
    ];

    /// The name as it appears in the `type` field (and the database).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PageView => "page_view",
            EventType::ProductView => "product_view",
            EventType::CartAdd => "cart_add",
            EventType::CartRemove => "cart_remove",
            EventType::Search => "search",
            EventType::CheckoutBegin => "checkout_begin",
            EventType::PaymentResult => "payment_result",
            EventType::Click => "click",
            EventType::PageLeave => "page_leave",
            EventType::Error => "error",
            EventType::RageClick => "rage_click",
            EventType::DeadClick => "dead_click",
            EventType::QuickBack => "quick_back",
            EventType::WebVitals => "web_vitals",
            EventType::RecImpression => "rec_impression",
            EventType::CouponApplied => "coupon_applied",
            EventType::CouponRejected => "coupon_rejected",
            EventType::TaxShown => "tax_shown",
            EventType::ShippingSelected => "shipping_selected",
        }
    }

    /// The schema version that introduced the kind.
    pub fn since_version(self) -> u16 {
        match self {
            EventType::RageClick | EventType::DeadClick | EventType::QuickBack | EventType::WebVitals => 2,
            EventType::RecImpression => 3,
            EventType::CouponApplied | EventType::CouponRejected => 4,
            EventType::TaxShown | EventType::ShippingSelected => 5,
            _ => 1,
        }
    }

    /// A sign that the shopper struggled: a rage or dead click, a quick back, an error shown.
    pub fn is_frustration(self) -> bool {
        matches!(self, EventType::RageClick | EventType::DeadClick | EventType::QuickBack | EventType::Error)
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl EventKind {
    /// Which kind of event this is.
    pub fn event_type(&self) -> EventType {
        match self {
            EventKind::PageView { .. } => EventType::PageView,
            EventKind::ProductView { .. } => EventType::ProductView,
            EventKind::CartAdd { .. } => EventType::CartAdd,
            EventKind::CartRemove { .. } => EventType::CartRemove,
            EventKind::Search { .. } => EventType::Search,
            EventKind::CheckoutBegin { .. } => EventType::CheckoutBegin,
            EventKind::PaymentResult { .. } => EventType::PaymentResult,
            EventKind::Click { .. } => EventType::Click,
            EventKind::PageLeave { .. } => EventType::PageLeave,
            EventKind::Error { .. } => EventType::Error,
            EventKind::RageClick { .. } => EventType::RageClick,
            EventKind::DeadClick { .. } => EventType::DeadClick,
            EventKind::QuickBack { .. } => EventType::QuickBack,
            EventKind::WebVitals { .. } => EventType::WebVitals,
            EventKind::RecImpression { .. } => EventType::RecImpression,
            #[cfg(feature = "ssr")]
            EventKind::CouponApplied { .. } => EventType::CouponApplied,
            #[cfg(feature = "ssr")]
            EventKind::CouponRejected { .. } => EventType::CouponRejected,
            #[cfg(feature = "ssr")]
            EventKind::TaxShown { .. } => EventType::TaxShown,
            #[cfg(feature = "ssr")]
            EventKind::ShippingSelected { .. } => EventType::ShippingSelected,
        }
    }

    /// The name of the kind as it appears in the `type` field.
    pub fn name(&self) -> &'static str {
        self.event_type().as_str()
    }

    /// Every string the event carries, with its field name.
    fn strings(&self) -> Vec<(&'static str, &str)> {
        match self {
            EventKind::PageView { referrer, title } => {
                let referrer = referrer.as_deref().map(|value| ("referrer", value));
                referrer.into_iter().chain(title.as_deref().map(|value| ("title", value))).collect()
            }
            EventKind::ProductView { slug, .. } => vec![("slug", slug)],
            EventKind::Search { query, .. } => vec![("query", query)],
            EventKind::PaymentResult { outcome, .. } => vec![("outcome", outcome)],
            EventKind::Click { element, label, href } => {
                let href = href.as_deref().map(|value| ("href", value));
                [("element", element.as_str()), ("label", label.as_str())].into_iter().chain(href).collect()
            }
            EventKind::Error { message } => vec![("message", message)],
            EventKind::RecImpression { slot, .. } => vec![("slot", slot)],
            #[cfg(feature = "ssr")]
            EventKind::CouponApplied { code } => vec![("code", code)],
            #[cfg(feature = "ssr")]
            EventKind::CouponRejected { code, reason } => vec![("code", code), ("reason", reason)],
            #[cfg(feature = "ssr")]
            EventKind::TaxShown { country, .. } => vec![("country", country)],
            #[cfg(feature = "ssr")]
            EventKind::ShippingSelected { method, .. } => vec![("method", method)],
            EventKind::RageClick { element, label, .. } | EventKind::DeadClick { element, label } => {
                vec![("element", element), ("label", label)]
            }
            EventKind::CartAdd { .. }
            | EventKind::CartRemove { .. }
            | EventKind::CheckoutBegin { .. }
            | EventKind::PageLeave { .. }
            | EventKind::QuickBack { .. }
            | EventKind::WebVitals { .. } => vec![],
        }
    }

    /// Whether the server records this kind itself (inside checkout and payment); a browser's copy is refused.
    pub fn is_server_recorded(&self) -> bool {
        match self {
            EventKind::CheckoutBegin { .. } | EventKind::PaymentResult { .. } => true,
            #[cfg(feature = "ssr")]
            EventKind::CouponApplied { .. } | EventKind::CouponRejected { .. } => true,
            #[cfg(feature = "ssr")]
            EventKind::TaxShown { .. } | EventKind::ShippingSelected { .. } => true,
            _ => false,
        }
    }
}

/// A character no stored string may hold: NUL and the other C0 controls (tab and newline aside), and DEL.
/// PostgreSQL refuses NUL in `text` and `jsonb` outright, so one such event would otherwise never be storable.
pub fn is_forbidden_control(c: char) -> bool {
    (c.is_ascii_control() && c != '\t' && c != '\n') || c == '\u{7f}'
}

/// One event as the browser sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientEvent {
    #[serde(flatten)]
    pub kind: EventKind,
    /// The page the event happened on (path and query).
    pub path: String,
    /// The browser's clock in milliseconds since the Unix epoch: kept, but not trusted for ordering.
    #[serde(default)]
    pub client_ts: Option<i64>,
    /// A random id the tracker gives each event, so a batch sent twice (a retry) stores each event once.
    #[serde(default)]
    pub id: Option<String>,
}

impl ClientEvent {
    /// An event on the current page, stamped with the browser's current time.
    #[cfg(feature = "hydrate")]
    pub fn now(kind: EventKind) -> Self {
        let path = web_sys::window()
            .and_then(|w| Some(format!("{}{}", w.location().pathname().ok()?, w.location().search().ok()?)))
            .unwrap_or_else(|| "/".into());
        Self { kind, path, client_ts: Some(js_sys::Date::now() as i64), id: Some(random_event_id()) }
    }

    /// Checks the limits the producer endpoint enforces; the error names the event type and the field.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.kind.name();
        if !self.path.starts_with('/') {
            return Err(format!("{name}: path must start with '/'"));
        }
        for (field, value) in std::iter::once(("path", self.path.as_str())).chain(self.kind.strings()) {
            if value.len() > MAX_STRING_BYTES {
                return Err(format!("{name}: {field} is longer than {MAX_STRING_BYTES} bytes"));
            }
            if let Some(c) = value.chars().find(|c| is_forbidden_control(*c)) {
                return Err(format!("{name}: {field} contains the control character U+{:04X}", u32::from(c)));
            }
        }
        if let Some(id) = &self.id {
            if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!("{}: id must be 1 to 64 letters, digits, '-' or '_'", self.kind.name()));
            }
        }
        match &self.kind {
            EventKind::PageLeave { duration_ms, scroll_depth_pct }
                if *duration_ms < 0 || !(0..=100).contains(scroll_depth_pct) =>
            {
                Err("page_leave: duration must be positive and scroll depth 0 to 100".into())
            }
            EventKind::CartAdd { quantity, .. } if !(1..=99).contains(quantity) => {
                Err("cart_add: quantity must be 1 to 99".into())
            }
            EventKind::Search { results, .. } if *results < 0 => Err("search: results cannot be negative".into()),
            EventKind::RageClick { clicks, .. } if !(RAGE_CLICKS..=1_000).contains(clicks) => {
                Err(format!("rage_click: clicks must be {RAGE_CLICKS} to 1000"))
            }
            EventKind::QuickBack { duration_ms } if !(0..=QUICK_BACK_MS).contains(duration_ms) => {
                Err(format!("quick_back: duration must be 0 to {QUICK_BACK_MS} ms"))
            }
            EventKind::WebVitals { lcp_ms, cls_milli, inp_ms } => {
                let within = |value: &Option<i64>, max: i64| value.is_none_or(|value| (0..=max).contains(&value));
                if lcp_ms.is_none() && cls_milli.is_none() && inp_ms.is_none() {
                    Err("web_vitals: no vital measured".into())
                } else if !within(lcp_ms, MAX_VITAL_MS) || !within(inp_ms, MAX_VITAL_MS) {
                    Err(format!("web_vitals: lcp_ms and inp_ms must be 0 to {MAX_VITAL_MS}"))
                } else if !within(cls_milli, 100_000) {
                    Err("web_vitals: cls_milli must be 0 to 100000".into())
                } else {
                    Ok(())
                }
            }
            EventKind::RecImpression { slot, products } => {
                // The slot's name as the shop writes it (`viewed-together`); the worker counts the ones it knows.
                let named =
                    !slot.is_empty() && slot.len() <= 40 && slot.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
                if !named {
                    Err("rec_impression: slot must be 1 to 40 lower-case letters and '-'".into())
                } else if !(1..=MAX_SLOT_PRODUCTS).contains(products) {
                    Err(format!("rec_impression: products must be 1 to {MAX_SLOT_PRODUCTS}"))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

/// A random id for an event (128 bits from the browser's `Math.random`, hex).
#[cfg(feature = "hydrate")]
pub fn random_event_id() -> String {
    (0..4).map(|_| format!("{:08x}", (js_sys::Math::random() * 4_294_967_296.0) as u32)).collect()
}

/// The server's id for an event: derived from the visit and the tracker's id when there is one, so that a
/// retried batch yields the same ids (and the worker stores each event once); random otherwise.
#[cfg(feature = "ssr")]
pub fn event_id(visit_id: Uuid, client_id: Option<&str>) -> Uuid {
    match client_id {
        Some(id) => Uuid::new_v5(&visit_id, id.as_bytes()),
        None => Uuid::new_v4(),
    }
}

/// What the browser posts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientBatch {
    /// Schema version of the batch: [`OLDEST_SCHEMA_VERSION`] to [`SCHEMA_VERSION`].
    pub v: u16,
    pub events: Vec<ClientEvent>,
}

/// Who recorded an event. Only the server's `checkout_begin` and `payment_result` decide a journey's outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventOrigin {
    #[default]
    Client,
    Server,
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
    /// The user agent looks like a bot or a headless browser: flagged, not dropped.
    #[serde(default)]
    pub bot: bool,
    /// Who recorded the event: the browser's tracker, or the server itself (checkout and payment).
    #[serde(default)]
    pub origin: EventOrigin,
    pub path: String,
    #[serde(flatten)]
    pub event: EventKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_view(path: &str) -> ClientEvent {
        ClientEvent {
            kind: EventKind::PageView { referrer: None, title: Some("Home".into()) },
            path: path.into(),
            client_ts: Some(1_700_000_000_000),
            id: None,
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
    fn every_commerce_event_parses_from_its_documented_shape() {
        let order = "6f1c2f1e-8d4b-4a53-9a43-5b8f5b0c2a11";
        for (json, name) in [
            (
                r#"{"type":"product_view","path":"/product/tent","product_id":1,"slug":"tent"}"#.to_string(),
                "product_view",
            ),
            (r#"{"type":"cart_add","path":"/product/tent","product_id":1,"quantity":2}"#.to_string(), "cart_add"),
            (r#"{"type":"cart_remove","path":"/cart","product_id":1}"#.to_string(), "cart_remove"),
            (r#"{"type":"search","path":"/products?q=tent","query":"tent","results":3}"#.to_string(), "search"),
            (format!(r#"{{"type":"checkout_begin","path":"/checkout","order_id":"{order}"}}"#), "checkout_begin"),
            (
                format!(r#"{{"type":"payment_result","path":"/orders/x","order_id":"{order}","outcome":"declined"}}"#),
                "payment_result",
            ),
        ] {
            let event: ClientEvent = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(event.kind.name(), name);
            assert_eq!(EventType::parse(name), Some(event.kind.event_type()), "serde's tag and the type agree");
            assert!(event.validate().is_ok());
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_retried_event_keeps_its_server_id() {
        let visit = Uuid::new_v4();
        assert_eq!(event_id(visit, Some("abc")), event_id(visit, Some("abc")));
        assert_ne!(event_id(visit, Some("abc")), event_id(Uuid::new_v4(), Some("abc")), "ids are per visit");
        assert_ne!(event_id(visit, None), event_id(visit, None));
    }

    #[test]
    fn clicks_leaves_and_errors_parse_and_validate() {
        let click: ClientEvent = serde_json::from_str(
            r#"{"type":"click","path":"/","element":"a","label":"Shop","href":"/products","id":"e1"}"#,
        )
        .unwrap();
        assert!(click.validate().is_ok());
        let leave: ClientEvent =
            serde_json::from_str(r#"{"type":"page_leave","path":"/","duration_ms":1200,"scroll_depth_pct":140}"#)
                .unwrap();
        assert!(leave.validate().unwrap_err().contains("scroll depth"));
        let bad_id: ClientEvent =
            serde_json::from_str(r#"{"type":"error","path":"/","message":"x","id":"<script>"}"#).unwrap();
        assert!(bad_id.validate().unwrap_err().contains("id must be"));
    }

    #[test]
    fn impossible_quantities_are_rejected() {
        let event: ClientEvent =
            serde_json::from_str(r#"{"type":"cart_add","path":"/","product_id":1,"quantity":-3}"#).unwrap();
        assert!(event.validate().unwrap_err().contains("quantity"));
    }

    #[test]
    fn validation_rejects_relative_paths_and_huge_strings() {
        assert!(page_view("/product/1").validate().is_ok());
        assert!(page_view("product/1").validate().unwrap_err().contains("path must start"));
        let huge = format!("/{}", "x".repeat(MAX_STRING_BYTES));
        assert!(page_view(&huge).validate().unwrap_err().contains("path is longer than"));
    }

    #[test]
    fn nul_and_other_control_characters_are_rejected_naming_the_field() {
        assert_eq!(
            page_view("/a\u{0}b").validate().unwrap_err(),
            "page_view: path contains the control character U+0000"
        );
        let mut event = page_view("/");
        event.kind = EventKind::PageView { referrer: Some("/x\u{1b}[2J".into()), title: None };
        assert!(event.validate().unwrap_err().contains("referrer contains the control character U+001B"));
        let search = EventKind::Search { query: "tent\u{7f}".into(), results: 1 };
        assert!(ClientEvent { kind: search, ..page_view("/") }.validate().unwrap_err().contains("query contains"));
        let label = EventKind::Click { element: "a".into(), label: "two\nlines\tand a tab".into(), href: None };
        assert!(ClientEvent { kind: label, ..page_view("/") }.validate().is_ok(), "tab and newline are fine");
        let unicode = EventKind::Search { query: "zelt für zwei ⛺".into(), results: 1 };
        assert!(ClientEvent { kind: unicode, ..page_view("/") }.validate().is_ok());
    }
}
