//! Clickstream: the event schema shared by the browser tracker and the producer endpoint, and the tracker.
//!
//! Components report what the shopper did with [`track`]; the tracker batches events and sends them to the
//! producer endpoint. On the server `track` does nothing.

pub mod schema;
#[cfg(feature = "hydrate")]
mod tracker;

use leptos::prelude::*;
pub use schema::EventKind;

/// Where the tracker posts its batches.
pub const COLLECT_PATH: &str = "/api/events";

/// Records a named event on the current page (a no-op outside the browser).
pub fn track(kind: EventKind) {
    #[cfg(feature = "hydrate")]
    tracker::record(schema::ClientEvent::now(kind));
    #[cfg(not(feature = "hydrate"))]
    let _ = kind;
}

/// Records a page view for the first render and for every route change, with the previous page.
#[component]
pub fn PageViewTracker() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        use leptos_router::hooks::use_location;
        tracker::install();
        let location = use_location();
        let previous = StoredValue::new(None::<String>);
        Effect::new(move |_| {
            let page = format!("{}{}", location.pathname.get(), location.search.get());
            let referrer = previous.get_value().or_else(tracker::document_referrer);
            previous.set_value(Some(page.clone()));
            tracker::record(schema::ClientEvent {
                kind: EventKind::PageView { referrer, title: tracker::document_title() },
                path: page,
                client_ts: Some(js_sys::Date::now() as i64),
            });
        });
    }
}
