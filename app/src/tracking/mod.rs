//! Clickstream: the event schema shared by the browser tracker and the producer endpoint, and the tracker.
//!
//! Components report what the shopper did with [`track`]; the tracker batches events and sends them to the
//! producer endpoint. On the server `track` does nothing.

pub mod schema;
#[cfg(feature = "ssr")]
pub mod server_events;
pub mod signals;
#[cfg(feature = "hydrate")]
mod tracker;

use leptos::prelude::*;
pub use schema::EventKind;

/// Where the tracker posts its batches.
pub const COLLECT_PATH: &str = "/api/events";

/// A page as the clickstream names it: path plus query (the router's `search` has no `?`).
pub fn page_path(pathname: &str, search: &str) -> String {
    let search = search.trim_start_matches('?');
    if search.is_empty() {
        pathname.to_string()
    } else {
        format!("{pathname}?{search}")
    }
}

/// Records a named event on the current page (a no-op outside the browser).
pub fn track(kind: EventKind) {
    #[cfg(feature = "hydrate")]
    tracker::record(schema::ClientEvent::now(kind));
    #[cfg(not(feature = "hydrate"))]
    let _ = kind;
}

/// Records the page view of this page load, with the page the browser came from, and closes the previous page's
/// time-on-page and scroll depth. Every page is a full load from the server, so this is every page the shopper
/// sees; it is the body's first island, so the page view comes before anything the page records.
#[island]
pub fn PageViewTracker() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        tracker::install();
        let event = schema::ClientEvent::now(EventKind::PageView {
            referrer: tracker::document_referrer(),
            title: tracker::document_title(),
        });
        tracker::page_changed(&event.path);
        tracker::record(event);
    }
}

/// Records a search in the browser as its results are shown: the query and how many products it found. (An
/// island's props cross to the browser as JSON: plain fields keep the bundle from carrying a decoder for the
/// whole [`EventKind`].)
#[island]
pub fn RecordSearch(query: String, results: i64) -> impl IntoView {
    track(EventKind::Search { query, results });
}

/// Records a product page in the browser as it is shown.
#[island]
pub fn RecordProductView(product_id: i64, slug: String) -> impl IntoView {
    track(EventKind::ProductView { product_id, slug });
}

/// Records a slot of recommendations in the browser as it is shown: its name and how many products it holds
/// (the insights count the slot's impressions against the clicks on it). The prop is not called `slot`: that
/// word marks a Leptos slot in `view!`.
#[island]
pub fn RecordImpression(slot_name: String, products: i32) -> impl IntoView {
    track(EventKind::RecImpression { slot: slot_name, products });
}

/// An error message an island shows the shopper, recorded in the clickstream as it is shown.
#[component]
pub fn ErrorNotice(#[prop(into)] message: String) -> impl IntoView {
    let recorded = message.clone();
    Effect::new(move |_| track(EventKind::Error { message: recorded.clone() }));
    view! { <span class="error" role="alert">{message}</span> }
}

/// The footer switch: the shopper decides whether their journey is recorded in this browser.
#[island]
pub fn TrackingConsent() -> impl IntoView {
    // On the server (and before hydration) the switch shows the default.
    let on = RwSignal::new(true);
    let blocked = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        blocked.set(tracker::browser_opted_out());
        on.set(tracker::consent_given());
    });
    view! {
        <label class="consent" data-no-track="">
            <input
                type="checkbox"
                name="tracking-consent"
                prop:checked=move || on.get() && !blocked.get()
                disabled=move || blocked.get()
                on:change=move |ev| {
                    let checked = event_target_checked(&ev);
                    on.set(checked);
                    #[cfg(feature = "hydrate")]
                    tracker::set_consent(checked);
                }
            />
            {move || if blocked.get() {
                " Journey recording is off: your browser asks not to be tracked."
            } else {
                " Record my journey through the shop (page views and clicks, never what I type)."
            }}
        </label>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn page_paths_keep_their_query() {
        assert_eq!(super::page_path("/products", "q=tent"), "/products?q=tent");
        assert_eq!(super::page_path("/products", "?q=tent"), "/products?q=tent");
        assert_eq!(super::page_path("/", ""), "/");
    }
}
