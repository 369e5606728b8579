//! The browser side: a small in-memory queue, flushed every few seconds, at a batch size, and on `pagehide`.
//! Every failure is swallowed: tracking must never break or slow the shop.

use super::schema::{ClientBatch, ClientEvent, MAX_EVENTS_PER_BATCH, SCHEMA_VERSION};
use super::COLLECT_PATH;
use std::cell::RefCell;
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{RequestCredentials, RequestInit};

/// Flush when this many events are waiting.
const FLUSH_AT: usize = 20;
/// Flush at least this often while events are waiting.
const FLUSH_EVERY_MS: i32 = 3_000;

thread_local! {
    static QUEUE: RefCell<Vec<ClientEvent>> = const { RefCell::new(Vec::new()) };
    static INSTALLED: RefCell<bool> = const { RefCell::new(false) };
}

/// Starts the flush timer and the `pagehide` flush, once per page load.
pub fn install() {
    if INSTALLED.with(|installed| installed.replace(true)) {
        return;
    }
    let Some(window) = web_sys::window() else { return };
    let tick = Closure::<dyn Fn()>::new(|| flush(false));
    let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), FLUSH_EVERY_MS);
    tick.forget();
    let leave = Closure::<dyn Fn()>::new(|| flush(true));
    let _ = window.add_event_listener_with_callback("pagehide", leave.as_ref().unchecked_ref());
    leave.forget();
}

/// Queues an event; a full queue is sent at once.
pub fn record(event: ClientEvent) {
    let full = QUEUE.with(|queue| {
        let mut queue = queue.borrow_mut();
        queue.push(event);
        queue.len() >= FLUSH_AT
    });
    if full {
        flush(false);
    }
}

/// Sends what is queued. On page exit the browser's beacon carries it, since a fetch could be cancelled.
fn flush(leaving: bool) {
    let events = QUEUE.with(|queue| std::mem::take(&mut *queue.borrow_mut()));
    for chunk in events.chunks(MAX_EVENTS_PER_BATCH) {
        let Ok(body) = serde_json::to_string(&ClientBatch { v: SCHEMA_VERSION, events: chunk.to_vec() }) else {
            continue;
        };
        if !(leaving && send_beacon(&body)) {
            send_fetch(&body);
        }
    }
}

/// `sendBeacon` with a string body is sent as `text/plain`: a CORS-safe type, so no preflight is needed.
fn send_beacon(body: &str) -> bool {
    web_sys::window()
        .and_then(|window| window.navigator().send_beacon_with_opt_str(COLLECT_PATH, Some(body)).ok())
        .unwrap_or(false)
}

fn send_fetch(body: &str) {
    let Some(window) = web_sys::window() else { return };
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&wasm_bindgen::JsValue::from_str(body));
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
    let window = web_sys::window()?;
    let referrer = window.document()?.referrer();
    let origin = window.location().origin().ok()?;
    referrer.strip_prefix(&origin).filter(|path| path.starts_with('/')).map(str::to_owned)
}

/// The current document title.
pub fn document_title() -> Option<String> {
    let title = web_sys::window()?.document()?.title();
    (!title.is_empty()).then_some(title)
}
