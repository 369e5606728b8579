//! Browser entry point: hydrates the islands in the HTML the server rendered. Only `#[island]` components of
//! the `app` crate are in this bundle; the rest of each page stays the server's HTML.

#[allow(unused_imports)]
use app::*;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
