//! Sending batches from the browser. Failures are swallowed: tracking must never break the shop.

use super::schema::{ClientBatch, ClientEvent, SCHEMA_VERSION};
use super::COLLECT_PATH;
use web_sys::{RequestCredentials, RequestInit};

/// Posts events to the producer endpoint without waiting for the answer.
///
/// `text/plain` keeps the request CORS-safe (no preflight), and `keepalive` lets it outlive the page.
pub fn send_events(events: Vec<ClientEvent>) {
    let Some(window) = web_sys::window() else { return };
    let Ok(body) = serde_json::to_string(&ClientBatch { v: SCHEMA_VERSION, events }) else { return };
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&wasm_bindgen::JsValue::from_str(&body));
    init.set_credentials(RequestCredentials::SameOrigin);
    // web-sys has no setter for `keepalive` yet; it is a plain field of the init dictionary.
    let _ = js_sys::Reflect::set(&init, &"keepalive".into(), &true.into());
    if let Ok(headers) = web_sys::Headers::new() {
        let _ = headers.set("Content-Type", "text/plain;charset=UTF-8");
        init.set_headers(&headers);
    }
    let _ = window.fetch_with_str_and_init(COLLECT_PATH, &init);
}

/// The page the browser came from on a full load, when it is one of ours.
pub fn document_referrer() -> Option<String> {
    let document = web_sys::window()?.document()?;
    let referrer = document.referrer();
    let origin = web_sys::window()?.location().origin().ok()?;
    referrer.strip_prefix(&origin).filter(|path| path.starts_with('/')).map(str::to_owned)
}

/// The current document title.
pub fn document_title() -> Option<String> {
    let title = web_sys::window()?.document()?.title();
    (!title.is_empty()).then_some(title)
}
