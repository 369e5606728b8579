//! What an island may do beyond itself. Pages are rendered on the server and each `#[island]` is hydrated on its
//! own, with no router and no context from the page around it: moving on means loading the next page, and what
//! two islands of one page share (the cart the header counts, the inbox the bell shows) goes through [`shared`].

use leptos::prelude::*;

/// The value of type `T` that every island of this page shares, `None` until one of them sets it; one per type.
/// On the server each call gets a new one, so no two requests ever share anything.
pub fn shared<T: Send + Sync + 'static>() -> RwSignal<Option<T>> {
    #[cfg(feature = "hydrate")]
    {
        use std::{
            any::{Any, TypeId},
            cell::RefCell,
            collections::HashMap,
        };
        thread_local! {
            static SHARED: RefCell<HashMap<TypeId, Box<dyn Any>>> = RefCell::new(HashMap::new());
        }
        let signal = SHARED.with(|shared| {
            shared
                .borrow_mut()
                .entry(TypeId::of::<T>())
                .or_insert_with(|| Box::new(ArcRwSignal::<Option<T>>::new(None)))
                .downcast_ref::<ArcRwSignal<Option<T>>>()
                .expect("one signal per type")
                .clone()
        });
        RwSignal::from(signal)
    }
    #[cfg(not(feature = "hydrate"))]
    RwSignal::new(None)
}

/// Loads `href` as the next page.
pub fn go_to(href: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(href);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = href;
}

/// Loads this page again, as the server renders it now.
pub fn reload() {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// Marks the page as hydrated once every island before it is (islands hydrate in document order): the last
/// element of the body, so that browser tests never click a page whose islands are not live yet.
#[island]
pub fn HydrationMark() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    if let Some(main) =
        web_sys::window().and_then(|w| w.document()).and_then(|d| d.query_selector("main").ok().flatten())
    {
        let _ = main.set_attribute("data-hydrated", "true");
    }
}
