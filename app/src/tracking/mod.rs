//! Clickstream: the event schema shared by the browser tracker and the producer endpoint, and the tracker.

pub mod schema;
#[cfg(feature = "hydrate")]
mod send;

use leptos::prelude::*;

/// Where the tracker posts its batches.
pub const COLLECT_PATH: &str = "/api/events";

/// Records a page view for the first render and for every route change, with the previous page.
#[component]
pub fn PageViewTracker() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        use leptos_router::hooks::use_location;
        let location = use_location();
        let previous = StoredValue::new(None::<String>);
        Effect::new(move |_| {
            let page = format!("{}{}", location.pathname.get(), location.search.get());
            let referrer = previous.get_value().or_else(send::document_referrer);
            previous.set_value(Some(page.clone()));
            send::send_events(vec![schema::ClientEvent::now(schema::EventKind::PageView {
                path: page,
                referrer,
                title: send::document_title(),
            })]);
        });
    }
}
