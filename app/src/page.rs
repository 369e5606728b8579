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

/// The fields of a submitted form, by name. An island's form posts to its server function as a plain form when
/// there is no JavaScript; with it, the island's submit handler reads the fields here and dispatches its action.
/// (Leptos's `ActionForm` does the same through `serde_qs`, whose decoder would then be in the bundle.)
pub struct Fields {
    #[cfg(feature = "hydrate")]
    data: Option<web_sys::FormData>,
}

impl Fields {
    /// The fields of the form `event` submits; the form is not sent by the browser.
    pub fn submitted(event: &leptos::ev::SubmitEvent) -> Self {
        event.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let form = event.target().and_then(|target| target.dyn_into::<web_sys::HtmlFormElement>().ok());
            Self { data: form.and_then(|form| web_sys::FormData::new_with_form(&form).ok()) }
        }
        #[cfg(not(feature = "hydrate"))]
        Self {}
    }

    /// The value of the field `name`, or empty.
    pub fn get(&self, name: &str) -> String {
        #[cfg(feature = "hydrate")]
        if let Some(value) = self.data.as_ref().and_then(|data| data.get(name).as_string()) {
            return value;
        }
        let _ = name;
        String::new()
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
