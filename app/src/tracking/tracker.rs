//! The browser side of the clickstream.
//!
//! Events wait in a small queue and are flushed every few seconds, at a batch size, and when the page is
//! hidden or left (`visibilitychange`, `pagehide`) with `navigator.sendBeacon` as `text/plain`, a CORS-safe
//! type. A batch the server could not take (network error, 429, 503) is kept — bounded — and retried with
//! backoff; on page exit it is parked in `sessionStorage` and sent by the next page. Nothing is sent under
//! Do-Not-Track, Global Privacy Control, when the shopper switched tracking off, or once the server said the
//! visit is full (it holds the most events a visit may, until it ends). Every failure is
//! swallowed: tracking must never break or slow the shop.
//!
//! Besides what the shopper does, it reports signs of trouble (schema version 2): rage clicks (a burst of quick
//! clicks on one element), dead clicks (a click on something that looks clickable after which nothing changed),
//! quick backs (a product page left within seconds) and each page's Core Web Vitals (LCP, CLS and INP from
//! `PerformanceObserver`), sent when the page is left.

use super::schema::{
    ClientBatch, ClientEvent, EventKind, DEAD_CLICK_MS, MAX_EVENTS_PER_BATCH, QUICK_BACK_MS, RAGE_CLICK_WINDOW_MS,
    SCHEMA_VERSION,
};
use super::signals::{Burst, Interactions, LayoutShifts};
use super::COLLECT_PATH;
use std::{cell::RefCell, collections::VecDeque, rc::Rc};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{Element, RequestCredentials, RequestInit};

/// Flush when this many events are waiting.
const FLUSH_AT: usize = 20;
/// Flush at least this often while events are waiting.
const FLUSH_EVERY_MS: i32 = 3_000;
/// At most this many unsent events are kept for retries; the oldest go first.
const MAX_PENDING_EVENTS: usize = 500;
const MAX_RETRY_DELAY_MS: i32 = 60_000;
const PENDING_KEY: &str = "cartograph.tracking.pending";
/// `sessionStorage` key: until this time (ms since the epoch) the visit is full and nothing is sent.
const FULL_UNTIL_KEY: &str = "cartograph.tracking.visit_full_until";
/// A full visit is over once idle this long (the server's visit idle time); then a new one may be recorded.
const VISIT_IDLE_MS: i64 = 30 * 60 * 1000;
/// `localStorage` key of the shopper's switch: `"off"` stops all tracking.
pub const CONSENT_KEY: &str = "cartograph.tracking";

#[derive(Default)]
struct Tracker {
    installed: bool,
    queue: Vec<ClientEvent>,
    /// Batches written and waiting for a retry: kept as the request bodies they are, never read back into events.
    pending: VecDeque<Batch>,
    retry_delay_ms: i32,
    retry_scheduled: bool,
    page: Option<PageTimer>,
    /// The clicks of the current burst, on one element.
    burst: Option<Burst<Clicked>>,
    vitals: Vitals,
}

/// What a click landed on, as the clickstream names it.
#[derive(Clone, PartialEq)]
struct Clicked {
    element: Element,
    kind: String,
    label: String,
}

/// This page's Core Web Vitals so far.
#[derive(Default)]
struct Vitals {
    lcp_ms: Option<f64>,
    shifts: LayoutShifts,
    interactions: Interactions,
}

impl Vitals {
    /// The `web_vitals` event for what was measured, if anything; the page's measures start again.
    fn take_event(&mut self) -> Option<EventKind> {
        let vitals = std::mem::take(self);
        let lcp_ms = vitals.lcp_ms.map(|ms| ms.round() as i64);
        let (cls_milli, inp_ms) = (vitals.shifts.cls_milli(), vitals.interactions.inp_ms());
        (lcp_ms.is_some() || cls_milli.is_some() || inp_ms.is_some()).then_some(EventKind::WebVitals {
            lcp_ms,
            cls_milli,
            inp_ms,
        })
    }
}

/// A batch as it is sent: the request body, and how many events it carries.
struct Batch {
    events: usize,
    body: String,
}

impl Batch {
    fn new(events: &[ClientEvent]) -> Option<Self> {
        let body = serde_json::to_string(&ClientBatch { v: SCHEMA_VERSION, events: events.to_vec() }).ok()?;
        Some(Self { events: events.len(), body })
    }

    /// A body parked by an earlier page; its event count only bounds what is kept, so one body counts as a batch.
    fn parked(body: &str) -> Self {
        Self { events: MAX_EVENTS_PER_BATCH, body: body.to_string() }
    }
}

/// Parked bodies are stored one a line: JSON written by `serde_json` holds no raw line break.
const PARKED_SEPARATOR: char = '\n';

struct PageTimer {
    path: String,
    started_ms: f64,
    max_scroll_pct: i32,
}

thread_local! {
    static TRACKER: RefCell<Tracker> = RefCell::new(Tracker::default());
}

fn with<T>(f: impl FnOnce(&mut Tracker) -> T) -> T {
    TRACKER.with(|tracker| f(&mut tracker.borrow_mut()))
}

/// Whether the browser asks not to be tracked (Do-Not-Track or Global Privacy Control).
pub fn browser_opted_out() -> bool {
    let Some(window) = web_sys::window() else { return true };
    let navigator = window.navigator();
    let dnt = js_sys::Reflect::get(&navigator, &"doNotTrack".into()).ok().and_then(|v| v.as_string());
    let gpc = js_sys::Reflect::get(&navigator, &"globalPrivacyControl".into()).ok().and_then(|v| v.as_bool());
    dnt.as_deref() == Some("1") || gpc == Some(true)
}

/// The shopper's own switch (on unless they turned it off).
pub fn consent_given() -> bool {
    local_storage().and_then(|s| s.get_item(CONSENT_KEY).ok().flatten()).as_deref() != Some("off")
}

/// Turns tracking on or off for this browser; off also drops whatever was waiting.
pub fn set_consent(on: bool) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(CONSENT_KEY, if on { "on" } else { "off" });
    }
    if !on {
        with(|t| {
            t.queue.clear();
            t.pending.clear();
        });
        if let Some(storage) = session_storage() {
            let _ = storage.remove_item(PENDING_KEY);
        }
    }
}

fn enabled() -> bool {
    !browser_opted_out() && consent_given() && !visit_full()
}

/// The server said this visit holds all the events it may: stop sending until the visit is over.
fn visit_full() -> bool {
    let until = session_storage().and_then(|s| s.get_item(FULL_UNTIL_KEY).ok().flatten());
    // Whole milliseconds: formatting and parsing a float would bring the float formatter into the bundle.
    until.and_then(|until| until.parse::<i64>().ok()).is_some_and(|until| (js_sys::Date::now() as i64) < until)
}

fn mark_visit_full() {
    if let Some(storage) = session_storage() {
        let _ = storage.set_item(FULL_UNTIL_KEY, &(js_sys::Date::now() as i64 + VISIT_IDLE_MS).to_string());
    }
    with(|t| {
        t.queue.clear();
        t.pending.clear();
    });
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn listen(target: &web_sys::EventTarget, name: &str, capture: bool, handler: impl Fn(web_sys::Event) + 'static) {
    let closure = Closure::<dyn Fn(web_sys::Event)>::new(handler);
    let options = web_sys::AddEventListenerOptions::new();
    options.set_capture(capture);
    options.set_passive(true);
    let _ = target.add_event_listener_with_callback_and_add_event_listener_options(
        name,
        closure.as_ref().unchecked_ref(),
        &options,
    );
    closure.forget();
}

/// Starts the flush timer and the listeners, once per page load; resends what an earlier page parked.
pub fn install() {
    if with(|t| std::mem::replace(&mut t.installed, true)) {
        return;
    }
    let Some(window) = web_sys::window() else { return };
    let Some(document) = window.document() else { return };
    if let Some(parked) = session_storage().and_then(|s| {
        let value = s.get_item(PENDING_KEY).ok().flatten();
        let _ = s.remove_item(PENDING_KEY);
        value
    }) {
        let batches = parked.split(PARKED_SEPARATOR).filter(|body| !body.is_empty()).map(Batch::parked);
        with(|t| t.pending.extend(batches));
    }
    let tick = Closure::<dyn Fn()>::new(|| flush(false));
    let _ =
        window.set_interval_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), FLUSH_EVERY_MS);
    tick.forget();
    listen(&window, "pagehide", false, |_| {
        leave_page();
        flush(true);
    });
    listen(&document, "visibilitychange", false, |_| {
        let hidden = web_sys::window().and_then(|w| w.document()).map(|d| d.hidden()).unwrap_or(false);
        if hidden {
            flush(true);
        }
    });
    listen(&document, "click", true, |event| on_click(&event));
    observe_vitals();
    listen(&window, "scroll", false, |_| {
        let depth = scroll_depth();
        with(|t| {
            if let Some(page) = &mut t.page {
                page.max_scroll_pct = page.max_scroll_pct.max(depth);
            }
        });
    });
}

/// Queues an event; a full queue is sent at once.
pub fn record(event: ClientEvent) {
    if !enabled() {
        return;
    }
    if with(|t| {
        t.queue.push(event);
        t.queue.len() >= FLUSH_AT
    }) {
        flush(false);
    }
}

/// A new page is shown: closes the previous page's timer with a `page_leave` event.
pub fn page_changed(path: &str) {
    leave_page();
    with(|t| {
        t.page =
            Some(PageTimer { path: path.to_string(), started_ms: js_sys::Date::now(), max_scroll_pct: scroll_depth() })
    });
}

fn leave_page() {
    end_burst(true);
    let Some(page) = with(|t| t.page.take()) else { return };
    let duration_ms = (js_sys::Date::now() - page.started_ms).max(0.0) as i64;
    let on_page = |kind: EventKind| {
        let mut event = ClientEvent::now(kind);
        event.path = page.path.clone();
        record(event);
    };
    if let Some(vitals) = with(|t| t.vitals.take_event()) {
        on_page(vitals);
    }
    if page.path.starts_with("/product/") && duration_ms <= QUICK_BACK_MS {
        on_page(EventKind::QuickBack { duration_ms });
    }
    on_page(EventKind::PageLeave { duration_ms, scroll_depth_pct: page.max_scroll_pct.clamp(0, 100) });
}

/// How far down the page the bottom of the viewport is, in percent.
fn scroll_depth() -> i32 {
    let Some(window) = web_sys::window() else { return 0 };
    let Some(root) = window.document().and_then(|d| d.document_element()) else { return 0 };
    let viewport = window.inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(0.0);
    let scrolled = window.scroll_y().unwrap_or(0.0);
    let height = f64::from(root.scroll_height()).max(1.0);
    (((scrolled + viewport) / height) * 100.0).round().clamp(0.0, 100.0) as i32
}

/// What the tracker counts as a control: a click on one (or inside one) is a `click` event.
const CONTROLS: &str = "a, button, input, select, textarea, summary, [role=button], [data-track]";

/// A click anywhere: a `click` event for a control, and the element counted toward a rage click and watched for
/// a dead click. Anything inside `[data-no-track]` is skipped.
fn on_click(event: &web_sys::Event) {
    let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else { return };
    if target.closest("[data-no-track]").ok().flatten().is_some() {
        return;
    }
    let control = target.closest(CONTROLS).ok().flatten();
    if let Some(control) = &control {
        record_click(control);
    }
    let element = control.unwrap_or(target);
    let clicked = describe(&element);
    // The first click of a burst is watched: the rest of a rage click would only repeat its dead click.
    if count_toward_rage(clicked.clone()) && looks_clickable(&element) {
        watch_for_dead_click(clicked);
    }
}

/// Clicks on links, buttons and form controls, labelled by `data-track`, `aria-label` or their text —
/// never by an input's value.
fn record_click(element: &Element) {
    let Clicked { kind, label, .. } = describe(element);
    let href = (kind == "a").then(|| element.get_attribute("href")).flatten().map(|href| {
        if href.starts_with('/') {
            href
        } else {
            "external".to_string()
        }
    });
    record(ClientEvent::now(EventKind::Click { element: kind, label, href }));
}

/// The element's kind (`a`, `button`, `input:checkbox`, `img`…) and label: `data-track`, `aria-label`, then an
/// image's `alt`, a field's name or a control's text. Something that is not a control is never labelled by its
/// text, which may be anything the page shows (an address, say).
fn describe(element: &Element) -> Clicked {
    // Tag names are ASCII: the Unicode case tables stay out of the bundle.
    let tag = element.tag_name().to_ascii_lowercase();
    let is_field = matches!(tag.as_str(), "input" | "select" | "textarea");
    let is_control = element.matches(CONTROLS).unwrap_or(false);
    let label = element
        .get_attribute("data-track")
        .or_else(|| element.get_attribute("aria-label"))
        .or_else(|| match tag.as_str() {
            "img" => element.get_attribute("alt"),
            _ if is_field => element.get_attribute("name"),
            _ if is_control => element.text_content(),
            _ => None,
        })
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
        .map(|text| text.chars().take(80).collect::<String>())
        .unwrap_or_default();
    let kind = match (tag.as_str(), element.get_attribute("type")) {
        ("input", Some(kind)) => format!("input:{kind}"),
        _ => tag,
    };
    Clicked { element: element.clone(), kind, label }
}

/// Counts a click into the current burst, and says whether it began a new one. A burst another click ended is
/// reported if it was a rage click, and a burst still open once its window has passed.
fn count_toward_rage(clicked: Clicked) -> bool {
    let now = js_sys::Date::now();
    let (ended, first) = with(|t| {
        let ended = Burst::click(&mut t.burst, clicked, now);
        (ended, t.burst.as_ref().is_some_and(|burst| burst.clicks == 1))
    });
    if let Some(ended) = ended {
        report_burst(ended);
    }
    after_ms(RAGE_CLICK_WINDOW_MS as i32 + 50, Box::new(|| end_burst(false)));
    first
}

/// Reports the current burst if it can grow no more (or at once when `now`, as the page is left).
fn end_burst(now: bool) {
    let ended = with(|t| if now { t.burst.take() } else { Burst::ended(&mut t.burst, js_sys::Date::now()) });
    if let Some(ended) = ended {
        report_burst(ended);
    }
}

fn report_burst(burst: Burst<Clicked>) {
    if burst.is_rage() {
        let Clicked { kind, label, .. } = burst.target;
        record(ClientEvent::now(EventKind::RageClick { element: kind, label, clicks: burst.clicks }));
    }
}

/// Whether a click on `element` should do something: a button (or what plays one), an image, or anything with a
/// pointer cursor. Links are left out (they navigate, or download, which changes nothing on the page), and so are
/// form fields and labels (focusing one is their effect).
fn looks_clickable(element: &Element) -> bool {
    if element.closest("a[href], input, select, textarea, label").ok().flatten().is_some() {
        return false;
    }
    if element.matches("button, summary, [role=button], img, [data-track]").unwrap_or(false) {
        return true;
    }
    web_sys::window()
        .and_then(|window| window.get_computed_style(element).ok().flatten())
        .and_then(|style| style.get_property_value("cursor").ok())
        .is_some_and(|cursor| cursor == "pointer")
}

/// Reports a dead click if, for [`DEAD_CLICK_MS`] after it, the page does not change (no element, attribute or
/// text), does not scroll, is not left or hidden, and no text gets selected.
fn watch_for_dead_click(clicked: Clicked) {
    let Some(window) = web_sys::window() else { return };
    let Some(root) = window.document().and_then(|document| document.document_element()) else { return };
    let changed = Rc::new(std::cell::Cell::new(false));
    let seen = changed.clone();
    let on_change = Closure::<dyn Fn()>::new(move || seen.set(true));
    let Ok(observer) = web_sys::MutationObserver::new(on_change.as_ref().unchecked_ref()) else { return };
    let options = web_sys::MutationObserverInit::new();
    options.set_subtree(true);
    options.set_child_list(true);
    options.set_attributes(true);
    options.set_character_data(true);
    if observer.observe_with_options(&root, &options).is_err() {
        return;
    }
    let scrolled_from = window.scroll_y().unwrap_or(0.0);
    after_ms(
        DEAD_CLICK_MS as i32,
        Box::new(move || {
            observer.disconnect();
            drop(on_change);
            let Some(window) = web_sys::window() else { return };
            let hidden = window.document().is_none_or(|document| document.hidden());
            let scrolled = window.scroll_y().unwrap_or(0.0) != scrolled_from;
            let selected = window.get_selection().ok().flatten().is_some_and(|selection| !selection.is_collapsed());
            if !changed.get() && !hidden && !scrolled && !selected {
                let Clicked { kind, label, .. } = clicked;
                record(ClientEvent::now(EventKind::DeadClick { element: kind, label }));
            }
        }),
    );
}

/// Runs `run` once after `delay` ms. (Boxed: one copy of the closure glue for every caller, not one each.)
fn after_ms(delay: i32, run: Box<dyn FnOnce()>) {
    if let Some(window) = web_sys::window() {
        let run = Closure::once_into_js(run);
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(run.unchecked_ref(), delay);
    }
}

/// Watches this page's largest contentful paint, layout shifts and interactions (each from the start of the
/// page: the observers ask for what was buffered before the tracker started). A browser without one of them
/// leaves that vital out.
fn observe_vitals() {
    observe(
        "largest-contentful-paint",
        Box::new(|entry| {
            let at = entry.start_time();
            with(|t| t.vitals.lcp_ms = Some(at));
        }),
    );
    observe(
        "layout-shift",
        Box::new(|entry| {
            let field = |name: &str| js_sys::Reflect::get(entry, &name.into()).ok();
            let recent_input = field("hadRecentInput").and_then(|v| v.as_bool()).unwrap_or(false);
            let value = field("value").and_then(|v| v.as_f64()).unwrap_or(0.0);
            with(|t| {
                if recent_input {
                    t.vitals.shifts.observed()
                } else {
                    t.vitals.shifts.add(entry.start_time(), value)
                }
            });
        }),
    );
    observe(
        "event",
        Box::new(|entry| {
            let id = js_sys::Reflect::get(entry, &"interactionId".into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
            let duration = entry.duration();
            with(|t| t.vitals.interactions.add(id as u64, duration));
        }),
    );
    // Layout shifts are reported only when they happen: a page that supports them and has none has a CLS of 0.
    let supported = js_sys::Reflect::get(&js_sys::global(), &"PerformanceObserver".into())
        .ok()
        .and_then(|observer| js_sys::Reflect::get(&observer, &"supportedEntryTypes".into()).ok())
        .map(|types| js_sys::Array::from(&types).includes(&"layout-shift".into(), 0))
        .unwrap_or(false);
    if supported {
        with(|t| t.vitals.shifts.observed());
    }
}

/// Calls `each` for every entry of `entry_type`, buffered ones first. (Boxed, as [`after_ms`].)
fn observe(entry_type: &str, each: Box<dyn Fn(&web_sys::PerformanceEntry)>) {
    let callback = Closure::<dyn Fn(web_sys::PerformanceObserverEntryList)>::new(
        move |list: web_sys::PerformanceObserverEntryList| {
            for entry in list.get_entries().iter() {
                each(entry.unchecked_ref());
            }
        },
    );
    let Ok(observer) = web_sys::PerformanceObserver::new(callback.as_ref().unchecked_ref()) else { return };
    let options = js_sys::Object::new();
    let set = |key: &str, value: JsValue| js_sys::Reflect::set(&options, &key.into(), &value).is_ok();
    if !(set("type", entry_type.into()) && set("buffered", true.into()) && set("durationThreshold", 16.into())) {
        return;
    }
    observer.observe(options.unchecked_ref::<web_sys::PerformanceObserverInit>());
    callback.forget();
}

/// Sends what is queued and what waits for a retry.
fn flush(leaving: bool) {
    let (queued, mut batches) = with(|t| (std::mem::take(&mut t.queue), std::mem::take(&mut t.pending)));
    batches.extend(queued.chunks(MAX_EVENTS_PER_BATCH).filter_map(Batch::new));
    if batches.is_empty() {
        return;
    }
    if leaving {
        // A fetch could be cancelled with the page; the beacon outlives it. What it refuses is parked.
        let refused: Vec<String> =
            batches.into_iter().filter(|batch| !send_beacon(&batch.body)).map(|batch| batch.body).collect();
        if let (false, Some(storage)) = (refused.is_empty(), session_storage()) {
            let _ = storage.set_item(PENDING_KEY, &refused.join(&PARKED_SEPARATOR.to_string()));
        }
        return;
    }
    for batch in batches {
        wasm_bindgen_futures::spawn_local(async move {
            if !send_fetch(&batch.body).await {
                keep_for_retry(batch);
            } else {
                with(|t| t.retry_delay_ms = 0);
            }
        });
    }
}

fn keep_for_retry(batch: Batch) {
    let schedule = with(|t| {
        t.pending.push_back(batch);
        while t.pending.iter().map(|batch| batch.events).sum::<usize>() > MAX_PENDING_EVENTS {
            t.pending.pop_front();
        }
        t.retry_delay_ms = (t.retry_delay_ms.max(1_000) * 2).min(MAX_RETRY_DELAY_MS);
        (!std::mem::replace(&mut t.retry_scheduled, true)).then_some(t.retry_delay_ms)
    });
    if let (Some(delay), Some(window)) = (schedule, web_sys::window()) {
        let retry = Closure::once_into_js(|| {
            with(|t| t.retry_scheduled = false);
            flush(false);
        });
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(retry.unchecked_ref(), delay);
    }
}

/// `sendBeacon` with a string body goes out as `text/plain;charset=UTF-8`: no CORS preflight.
fn send_beacon(body: &str) -> bool {
    web_sys::window()
        .and_then(|window| window.navigator().send_beacon_with_opt_str(COLLECT_PATH, Some(body)).ok())
        .unwrap_or(false)
}

/// What the endpoint answers a batch it took.
#[derive(serde::Deserialize)]
struct Accepted {
    #[serde(default)]
    visit_full: bool,
}

/// Posts a batch; `false` when it should be retried (network error, 429 or 5xx).
async fn send_fetch(body: &str) -> bool {
    let Some(window) = web_sys::window() else { return true };
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    init.set_credentials(RequestCredentials::SameOrigin);
    // web-sys has no setter for `keepalive` yet; it is a plain field of the init dictionary.
    let _ = js_sys::Reflect::set(&init, &"keepalive".into(), &true.into());
    if let Ok(headers) = web_sys::Headers::new() {
        let _ = headers.set("Content-Type", "text/plain;charset=UTF-8");
        init.set_headers(&headers);
    }
    let Ok(response) = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(COLLECT_PATH, &init)).await
    else {
        return false;
    };
    let Ok(response) = response.dyn_into::<web_sys::Response>() else { return false };
    let status = response.status();
    if status == 202 {
        let text = match response.text() {
            Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await.ok().and_then(|text| text.as_string()),
            Err(_) => None,
        };
        let answer = text.and_then(|text| serde_json::from_str::<Accepted>(&text).ok());
        if answer.is_some_and(|answer| answer.visit_full) {
            mark_visit_full();
        }
    }
    // A 4xx other than 429 means the batch itself is refused (and recorded as such): do not resend it.
    !(status == 0 || status == 429 || status >= 500)
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
