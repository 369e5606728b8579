//! The journey computed from a visit's events: cleaned pages, steps with dwell times, the funnel and the outcome.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};

use super::JourneyEvent;
use app::tracking::schema::EventType;

/// The longest subtitle kept for a page that is none of the known kinds.
const OTHER_SUBTITLE_CHARS: usize = 40;

/// What kind of page a path is, PostHog Paths style: the concrete item goes in [`PageNode::subtitle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageKind {
    /// `/`
    Home,
    /// `/products`, with an optional search or category in the query.
    Catalog,
    /// `/product/<slug>`
    Product,
    /// `/cart`
    Cart,
    /// `/checkout`
    Checkout,
    /// `/orders/<id>`
    Order,
    /// `/orders`
    OrderHistory,
    /// Any other path.
    Other,
}

impl PageKind {
    /// The human name of the page kind, e.g. "Order history".
    pub fn label(self) -> &'static str {
        match self {
            PageKind::Home => "Home",
            PageKind::Catalog => "Catalog",
            PageKind::Product => "Product",
            PageKind::Cart => "Cart",
            PageKind::Checkout => "Checkout",
            PageKind::Order => "Order",
            PageKind::OrderHistory => "Order history",
            PageKind::Other => "Other",
        }
    }
}

/// A cleaned page: its kind and the concrete item, e.g. Product / "Ridgeline 2 Tent".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageNode {
    /// The kind of page.
    pub kind: PageKind,
    /// The concrete item: "search: tent", a product name, the first 8 characters of an order id, or a path.
    pub subtitle: Option<String>,
}

impl std::fmt::Display for PageNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.subtitle {
            Some(subtitle) => write!(f, "{} \u{b7} {subtitle}", self.kind.label()),
            None => f.write_str(self.kind.label()),
        }
    }
}

/// One step of the path: a page, with immediate repeats of it folded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The page.
    pub page: PageNode,
    /// When the step's first page view was received.
    pub entered_at: DateTime<Utc>,
    /// Time from this step's first page view to the next step's (or, for the exit, to the visit's last event).
    pub dwell: TimeDelta,
    /// How many consecutive page views of this page were folded into the step (1 when it was not repeated).
    pub repeats: u32,
}

/// How often a page was viewed over the whole visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeVisits {
    /// The page.
    pub page: PageNode,
    /// Its page views, folded repeats included.
    pub visits: u32,
}

/// The stages of the shop's funnel, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FunnelStage {
    /// Viewed any page.
    Browse,
    /// Viewed a product (a `product_view` event or a product page).
    Product,
    /// Added something to the cart.
    Cart,
    /// Began the checkout.
    Checkout,
    /// Paid successfully.
    Paid,
}

impl FunnelStage {
    /// Every stage, in funnel order.
    pub const ALL: [FunnelStage; 5] =
        [FunnelStage::Browse, FunnelStage::Product, FunnelStage::Cart, FunnelStage::Checkout, FunnelStage::Paid];

    /// The stage's display name.
    pub fn label(self) -> &'static str {
        match self {
            FunnelStage::Browse => "Browse",
            FunnelStage::Product => "Product",
            FunnelStage::Cart => "Cart",
            FunnelStage::Checkout => "Checkout",
            FunnelStage::Paid => "Paid",
        }
    }
}

/// How the visit ended: the app's vocabulary, shared with the visit lists.
pub use app::journeys::VisitOutcome as Outcome;

/// Everything the report shows about a visit, computed from its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneySummary {
    /// The events, deduplicated by id and in (received_at, seq) order.
    pub events: Vec<JourneyEvent>,
    /// The first event's time.
    pub started_at: Option<DateTime<Utc>>,
    /// The last event's time.
    pub ended_at: Option<DateTime<Utc>>,
    /// From the first event to the last.
    pub duration: TimeDelta,
    /// The path: page views in order, immediate repeats folded. The last step is the exit.
    pub steps: Vec<Step>,
    /// Page views per page over the whole visit, most viewed first (ties: first viewed first).
    pub node_visits: Vec<NodeVisits>,
    /// The furthest funnel stage reached; `None` for a visit without any page.
    pub furthest_stage: Option<FunnelStage>,
    /// How the visit ended.
    pub outcome: Outcome,
    /// `page_view` events.
    pub pages: u32,
    /// `click` events.
    pub clicks: u32,
    /// `cart_add` events.
    pub cart_adds: u32,
    /// `search` events.
    pub searches: u32,
    /// Signs that the shopper struggled: rage and dead clicks, quick backs, errors shown.
    pub frustrations: u32,
}

impl JourneySummary {
    /// Whether the visit got at least as far as `stage` (the funnel is monotone: reaching the cart implies the
    /// earlier stages even when, say, a product was added straight from the catalog).
    pub fn reached(&self, stage: FunnelStage) -> bool {
        self.furthest_stage.is_some_and(|furthest| stage <= furthest)
    }
}

/// Cleans a path (with optional query) into a page kind and the concrete item.
pub fn clean_path(path: &str) -> PageNode {
    let without_fragment = path.split('#').next().unwrap_or_default();
    let (route, query) = match without_fragment.split_once('?') {
        Some((route, query)) => (route, Some(query)),
        None => (without_fragment, None),
    };
    let route = route.trim_end_matches('/');
    let segments: Vec<&str> = route.split('/').filter(|segment| !segment.is_empty()).collect();
    let node = |kind, subtitle| PageNode { kind, subtitle };
    match segments.as_slice() {
        [] if path.starts_with('/') => node(PageKind::Home, None),
        ["products"] => node(PageKind::Catalog, query.and_then(catalog_subtitle)),
        ["product", slug] => node(PageKind::Product, Some(prettify_slug(slug))),
        ["cart"] => node(PageKind::Cart, None),
        ["checkout"] => node(PageKind::Checkout, None),
        ["orders"] => node(PageKind::OrderHistory, None),
        ["orders", id] => node(PageKind::Order, Some(id.chars().take(8).collect())),
        _ => node(PageKind::Other, Some(truncate(path, OTHER_SUBTITLE_CHARS))),
    }
}

/// Deduplicates events by id (keeping the earliest copy) and sorts them by (received_at, seq).
pub fn normalize_events(events: &[JourneyEvent]) -> Vec<JourneyEvent> {
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|event| (event.received_at, event.seq));
    let mut seen = HashSet::with_capacity(sorted.len());
    sorted.retain(|event| seen.insert(event.event_id));
    sorted
}

/// Computes the journey of a visit from its events, in any order and possibly duplicated.
pub fn summarize(events: &[JourneyEvent]) -> JourneySummary {
    let events = normalize_events(events);
    let started_at = events.first().map(|event| event.received_at);
    let ended_at = events.last().map(|event| event.received_at);
    let duration = match (started_at, ended_at) {
        (Some(start), Some(end)) => end - start,
        _ => TimeDelta::zero(),
    };

    let mut steps: Vec<Step> = Vec::new();
    let mut visits: HashMap<PageNode, (u32, usize)> = HashMap::new();
    let mut furthest: Option<FunnelStage> = None;
    let mut reach = |stage: FunnelStage| furthest = furthest.max(Some(stage));
    let (mut pages, mut clicks, mut cart_adds, mut searches, mut frustrations) = (0, 0, 0, 0, 0);
    let mut cart_touched = false;
    let mut paid = false;

    for event in &events {
        match EventType::parse(&event.event_type) {
            Some(EventType::PageView) => {
                pages += 1;
                let page = clean_path(&event.path);
                reach(if page.kind == PageKind::Product { FunnelStage::Product } else { FunnelStage::Browse });
                let order = visits.len();
                visits.entry(page.clone()).or_insert((0, order)).0 += 1;
                match steps.last_mut() {
                    Some(last) if last.page == page => last.repeats += 1,
                    _ => steps.push(Step { page, entered_at: event.received_at, dwell: TimeDelta::zero(), repeats: 1 }),
                }
            }
            Some(EventType::Click) => clicks += 1,
            Some(EventType::Search) => searches += 1,
            Some(EventType::ProductView) => reach(FunnelStage::Product),
            Some(EventType::CartAdd) => {
                cart_adds += 1;
                cart_touched = true;
                reach(FunnelStage::Cart);
            }
            Some(EventType::CheckoutBegin) => reach(FunnelStage::Checkout),
            Some(EventType::PaymentResult) if event.label.as_deref() == Some("succeeded") => {
                paid = true;
                reach(FunnelStage::Paid);
            }
            Some(kind) if kind.is_frustration() => frustrations += 1,
            _ => {}
        }
    }

    let next_entries: Vec<Option<DateTime<Utc>>> =
        steps.iter().skip(1).map(|step| Some(step.entered_at)).chain(std::iter::once(ended_at)).collect();
    for (step, until) in steps.iter_mut().zip(next_entries) {
        step.dwell = until.map_or(TimeDelta::zero(), |until| until - step.entered_at);
    }

    let mut node_visits: Vec<(PageNode, (u32, usize))> = visits.into_iter().collect();
    node_visits.sort_by_key(|(_, (count, order))| (std::cmp::Reverse(*count), *order));
    let node_visits = node_visits.into_iter().map(|(page, (visits, _))| NodeVisits { page, visits }).collect();

    let outcome = Outcome::of(paid, cart_touched);

    JourneySummary {
        events,
        started_at,
        ended_at,
        duration,
        steps,
        node_visits,
        furthest_stage: furthest,
        outcome,
        pages,
        clicks,
        cart_adds,
        searches,
        frustrations,
    }
}

/// "search: tent" / "category: kitchen" from a catalog query string.
fn catalog_subtitle(query: &str) -> Option<String> {
    let mut search = None;
    let mut category = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match key.as_ref() {
            "q" | "query" | "search" => search = Some(format!("search: {value}")),
            "category" | "cat" => category = Some(format!("category: {value}")),
            _ => {}
        }
    }
    match (search, category) {
        (Some(search), Some(category)) => Some(format!("{search}, {category}")),
        (search, category) => search.or(category),
    }
}

/// "ridgeline-2-tent" → "Ridgeline 2 Tent".
fn prettify_slug(slug: &str) -> String {
    let slug = percent_encoding::percent_decode_str(slug).decode_utf8_lossy();
    slug.split(['-', '_']).filter(|word| !word.is_empty()).map(capitalize).collect::<Vec<String>>().join(" ")
}

/// `text` with its first character in upper case.
pub(crate) fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Keeps at most `max_chars` characters, ending in an ellipsis when something was cut.
fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{kept}\u{2026}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    /// An event `secs` seconds into a visit that starts at 2026-05-02 10:00:00 UTC; `id` names the event.
    pub(crate) fn event(id: u128, secs: i64, kind: &str, path: &str, label: Option<&str>) -> JourneyEvent {
        let start = Utc.with_ymd_and_hms(2026, 5, 2, 10, 0, 0).single().expect("valid time");
        JourneyEvent {
            event_id: Uuid::from_u128(id),
            event_type: kind.to_string(),
            path: path.to_string(),
            received_at: start + TimeDelta::seconds(secs),
            seq: i32::try_from(id).unwrap_or(i32::MAX),
            label: label.map(str::to_string),
        }
    }

    fn page(kind: PageKind, subtitle: Option<&str>) -> PageNode {
        PageNode { kind, subtitle: subtitle.map(str::to_string) }
    }

    /// Home → search "tent" → a tent → cart → checkout → paid order, with a click, a reload of the product page and
    /// a second search along the way.
    fn bought_visit() -> Vec<JourneyEvent> {
        vec![
            event(1, 0, "page_view", "/", None),
            event(2, 5, "click", "/", Some("Shop tents")),
            event(3, 8, "search", "/", Some("tent")),
            event(4, 9, "page_view", "/products?q=tent", None),
            event(5, 30, "page_view", "/product/ridgeline-2-tent", None),
            event(6, 31, "product_view", "/product/ridgeline-2-tent", Some("ridgeline-2-tent")),
            event(7, 50, "page_view", "/product/ridgeline-2-tent", None),
            event(8, 70, "cart_add", "/product/ridgeline-2-tent", Some("ridgeline-2-tent")),
            event(9, 72, "page_view", "/cart", None),
            event(10, 90, "checkout_begin", "/cart", None),
            event(11, 91, "page_view", "/checkout", None),
            event(12, 150, "payment_result", "/checkout", Some("succeeded")),
            event(13, 152, "page_view", "/orders/6f1c2a3b9d8e4f00", None),
            event(14, 170, "page_leave", "/orders/6f1c2a3b9d8e4f00", None),
        ]
    }

    #[test]
    fn clean_path_maps_pages_to_kinds_and_items() {
        let cases = [
            ("/", page(PageKind::Home, None)),
            ("/?utm_source=mail", page(PageKind::Home, None)),
            ("/products", page(PageKind::Catalog, None)),
            ("/products?q=tent", page(PageKind::Catalog, Some("search: tent"))),
            ("/products?q=camp+stove%21&page=2", page(PageKind::Catalog, Some("search: camp stove!"))),
            ("/products?category=kitchen", page(PageKind::Catalog, Some("category: kitchen"))),
            ("/products?q=mug&category=kitchen", page(PageKind::Catalog, Some("search: mug, category: kitchen"))),
            ("/products?q=%zz", page(PageKind::Catalog, Some("search: %zz"))),
            ("/product/ridgeline-2-tent", page(PageKind::Product, Some("Ridgeline 2 Tent"))),
            ("/product/ridgeline-2-tent?ref=home#reviews", page(PageKind::Product, Some("Ridgeline 2 Tent"))),
            ("/cart", page(PageKind::Cart, None)),
            ("/cart/", page(PageKind::Cart, None)),
            ("/checkout", page(PageKind::Checkout, None)),
            ("/orders/6f1c2a3b-9d8e-4f00-8000-000000000001", page(PageKind::Order, Some("6f1c2a3b"))),
            ("/orders", page(PageKind::OrderHistory, None)),
            ("/about", page(PageKind::Other, Some("/about"))),
        ];
        for (path, expected) in cases {
            assert_eq!(clean_path(path), expected, "{path}");
        }
        let long = clean_path("/account/settings/notifications/email/weekly-digest/preview");
        assert_eq!(long.kind, PageKind::Other);
        let subtitle = long.subtitle.expect("a subtitle");
        assert_eq!(subtitle.chars().count(), OTHER_SUBTITLE_CHARS);
        assert!(subtitle.starts_with("/account/settings") && subtitle.ends_with('\u{2026}'), "{subtitle}");
        assert_eq!(clean_path("/product/ridgeline-2-tent").to_string(), "Product \u{b7} Ridgeline 2 Tent");
        assert_eq!(PageKind::OrderHistory.label(), "Order history");
    }

    #[test]
    fn normalize_events_dedupes_by_id_and_sorts_by_time_then_seq() {
        let mut a = event(1, 10, "page_view", "/", None);
        a.seq = 2;
        let mut b = event(2, 10, "click", "/", Some("first in the same instant"));
        b.seq = 1;
        let c = event(3, 5, "page_view", "/cart", None);
        let mut late_copy = c.clone();
        late_copy.received_at += TimeDelta::seconds(30);
        let normalized = normalize_events(&[a.clone(), b.clone(), late_copy, c.clone(), a.clone()]);
        assert_eq!(normalized, vec![c, b, a]);
    }

    #[test]
    fn steps_fold_immediate_repeats_and_count_visits_overall() {
        let events = vec![
            event(1, 0, "page_view", "/", None),
            event(2, 10, "page_view", "/products?q=tent", None),
            event(3, 20, "page_view", "/products?q=tent&page=2", None),
            event(4, 30, "page_view", "/product/ridgeline-2-tent", None),
            event(5, 40, "page_view", "/products?q=tent", None),
            event(6, 50, "page_view", "/products?q=stove", None),
            event(7, 60, "page_view", "/product/ridgeline-2-tent", None),
        ];
        let summary = summarize(&events);
        let steps: Vec<(PageNode, u32)> = summary.steps.iter().map(|s| (s.page.clone(), s.repeats)).collect();
        let tent = page(PageKind::Catalog, Some("search: tent"));
        let ridgeline = page(PageKind::Product, Some("Ridgeline 2 Tent"));
        assert_eq!(
            steps,
            vec![
                (page(PageKind::Home, None), 1),
                (tent.clone(), 2),
                (ridgeline.clone(), 1),
                (tent.clone(), 1),
                (page(PageKind::Catalog, Some("search: stove")), 1),
                (ridgeline.clone(), 1),
            ]
        );
        let visits: Vec<(PageNode, u32)> = summary.node_visits.iter().map(|n| (n.page.clone(), n.visits)).collect();
        assert_eq!(
            visits,
            vec![
                (tent, 3),
                (ridgeline, 2),
                (page(PageKind::Home, None), 1),
                (page(PageKind::Catalog, Some("search: stove")), 1),
            ]
        );
        assert_eq!(summary.pages, 7);
    }

    #[test]
    fn dwell_runs_to_the_next_page_view_and_the_exit_to_the_last_event() {
        let summary = summarize(&bought_visit());
        let dwell: Vec<(PageKind, i64)> = summary.steps.iter().map(|s| (s.page.kind, s.dwell.num_seconds())).collect();
        assert_eq!(
            dwell,
            vec![
                (PageKind::Home, 9),
                (PageKind::Catalog, 21),
                (PageKind::Product, 42), // 30 → 72, the reload at 50 folded in
                (PageKind::Cart, 19),
                (PageKind::Checkout, 61),
                (PageKind::Order, 18), // the exit: until the page_leave at 170
            ]
        );
        assert_eq!(summary.steps[2].repeats, 2);
        assert_eq!(summary.duration, TimeDelta::seconds(170));
        assert_eq!(summary.steps.last().map(|s| s.page.kind), Some(PageKind::Order));
    }

    #[test]
    fn funnel_and_outcome_of_a_purchase() {
        let summary = summarize(&bought_visit());
        assert_eq!(summary.furthest_stage, Some(FunnelStage::Paid));
        assert!(FunnelStage::ALL.iter().all(|&stage| summary.reached(stage)));
        assert_eq!(summary.outcome, Outcome::Bought);
        assert_eq!(summary.outcome.label(), "bought");
        assert_eq!((summary.pages, summary.clicks, summary.cart_adds, summary.searches), (7, 1, 1, 1));
    }

    #[test]
    fn funnel_and_outcome_stop_where_the_visit_stopped() {
        let browse = vec![event(1, 0, "page_view", "/", None), event(2, 3, "page_view", "/products", None)];
        let summary = summarize(&browse);
        assert_eq!((summary.furthest_stage, summary.outcome), (Some(FunnelStage::Browse), Outcome::Browsed));
        assert!(!summary.reached(FunnelStage::Product));

        let product_by_event = vec![
            event(1, 0, "page_view", "/products", None),
            event(2, 2, "product_view", "/products", Some("ridgeline-2-tent")),
        ];
        assert_eq!(summarize(&product_by_event).furthest_stage, Some(FunnelStage::Product));
        let product_by_page = vec![event(1, 0, "page_view", "/product/ridgeline-2-tent", None)];
        assert_eq!(summarize(&product_by_page).furthest_stage, Some(FunnelStage::Product));

        // Added straight from the catalog, then removed: still an abandoned cart, and the funnel counts the
        // product stage as passed.
        let quick_add = vec![
            event(1, 0, "page_view", "/products", None),
            event(2, 4, "cart_add", "/products", Some("enamel-mug")),
            event(3, 9, "cart_remove", "/products", Some("enamel-mug")),
        ];
        let summary = summarize(&quick_add);
        assert_eq!((summary.furthest_stage, summary.outcome), (Some(FunnelStage::Cart), Outcome::AbandonedCart));
        assert!(summary.reached(FunnelStage::Product) && !summary.reached(FunnelStage::Checkout));

        let declined: Vec<JourneyEvent> = bought_visit()
            .into_iter()
            .take(12)
            .map(|mut e| {
                if e.event_type == "payment_result" {
                    e.label = Some("declined".to_string());
                }
                e
            })
            .collect();
        let summary = summarize(&declined);
        assert_eq!((summary.furthest_stage, summary.outcome), (Some(FunnelStage::Checkout), Outcome::AbandonedCart));
        assert_eq!(summary.outcome.label(), "abandoned cart");

        let nothing = summarize(&[]);
        assert_eq!((nothing.furthest_stage, nothing.outcome), (None, Outcome::Browsed));
        assert!(nothing.steps.is_empty() && nothing.started_at.is_none());
        assert_eq!(nothing.duration, TimeDelta::zero());
        assert!(!nothing.reached(FunnelStage::Browse));
    }

    #[test]
    fn out_of_order_and_duplicated_events_give_the_same_journey() {
        let clean = summarize(&bought_visit());
        let mut messy = bought_visit();
        messy.reverse();
        messy.extend(bought_visit().into_iter().step_by(3));
        messy.swap(0, 7);
        let summary = summarize(&messy);
        assert_eq!(summary, clean);
        assert_eq!(summary.events.len(), 14);
        // A late duplicate of the first page view does not open a second Home step.
        let mut late = bought_visit();
        let mut copy = late[0].clone();
        copy.received_at += TimeDelta::seconds(500);
        late.push(copy);
        assert_eq!(summarize(&late), clean);
    }
}
