//! The clickstream as the hydrated app sends it (`app/src/tracking/tracker.rs`): events batched and posted to
//! the producer endpoint every 3 s or at 20 events, and on leaving; a refused batch is kept and retried, up to
//! 500 events.

use app::tracking::schema::{ClientBatch, ClientEvent, EventKind, SCHEMA_VERSION};
use rand::Rng;
use std::time::{Duration, Instant};

const FLUSH_EVERY: Duration = Duration::from_secs(3);
const FLUSH_AT: usize = 20;
const MAX_BATCH: usize = 100;
const MAX_KEPT: usize = 500;

/// One shopper's event buffer and the page it is on.
pub struct Tracker {
    pending: Vec<ClientEvent>,
    last_flush: Instant,
    page: Option<(String, Instant)>,
}

impl Tracker {
    pub fn new() -> Self {
        Self { pending: Vec::new(), last_flush: Instant::now(), page: None }
    }

    /// Whether a page is shown (the first page view has been recorded and not left).
    pub fn on_page(&self) -> bool {
        self.page.is_some()
    }

    /// Records an event on the current page.
    pub fn event(&mut self, kind: EventKind, rng: &mut impl Rng) {
        let path = self.page.as_ref().map_or_else(|| "/".to_string(), |(path, _)| path.clone());
        self.push(path, kind, rng);
    }

    fn push(&mut self, path: String, kind: EventKind, rng: &mut impl Rng) {
        let id = format!("{:032x}", rng.gen::<u128>());
        let client_ts = chrono::Utc::now().timestamp_millis();
        self.pending.push(ClientEvent { kind, path, client_ts: Some(client_ts), id: Some(id) });
    }

    /// A route change: `page_leave` for the page left (time on it, how far it was scrolled), then `page_view`.
    pub fn navigate(&mut self, path: &str, title: &str, rng: &mut impl Rng) {
        let referrer = self.leave(rng);
        self.page = Some((path.to_string(), Instant::now()));
        self.push(path.to_string(), EventKind::PageView { referrer, title: Some(title.to_string()) }, rng);
    }

    /// Leaves the current page (if any) and returns its path.
    pub fn leave(&mut self, rng: &mut impl Rng) -> Option<String> {
        let (path, since) = self.page.take()?;
        let kind = EventKind::PageLeave {
            duration_ms: since.elapsed().as_millis() as i64,
            scroll_depth_pct: rng.gen_range(10..=100),
        };
        self.push(path.clone(), kind, rng);
        Some(path)
    }

    /// Whether the tracker would send now: 20 events waiting, or 3 s since the last batch.
    pub fn due(&self) -> bool {
        self.pending.len() >= FLUSH_AT || (!self.pending.is_empty() && self.last_flush.elapsed() >= FLUSH_EVERY)
    }

    /// Takes the next batch (at most 100 events) as the JSON body the endpoint reads.
    pub fn take_batch(&mut self) -> Option<(Vec<ClientEvent>, String)> {
        if self.pending.is_empty() {
            return None;
        }
        self.last_flush = Instant::now();
        let events: Vec<ClientEvent> = self.pending.drain(..self.pending.len().min(MAX_BATCH)).collect();
        let body = serde_json::to_string(&ClientBatch { v: SCHEMA_VERSION, events: events.clone() }).ok()?;
        Some((events, body))
    }

    /// Puts back a batch the server did not take, dropping the oldest past 500 events.
    pub fn keep(&mut self, mut events: Vec<ClientEvent>) {
        events.append(&mut self.pending);
        let excess = events.len().saturating_sub(MAX_KEPT);
        self.pending = events.split_off(excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn a_batch_is_due_at_twenty_events_and_carries_the_wire_format() {
        let (mut tracker, mut rng) = (Tracker::new(), StdRng::seed_from_u64(1));
        tracker.navigate("/", "Home", &mut rng);
        assert!(!tracker.due(), "one event, just flushed: not due yet");
        for _ in 0..9 {
            tracker.navigate("/products?q=tent", "Search", &mut rng);
        }
        // Each navigation after the first is a page_leave and a page_view.
        assert_eq!(tracker.pending.len(), 19);
        assert!(!tracker.due());
        tracker.event(EventKind::Search { query: "tent".into(), results: 3 }, &mut rng);
        assert!(tracker.due());
        let (events, body) = tracker.take_batch().unwrap();
        assert_eq!(events.len(), 20);
        let batch: ClientBatch = serde_json::from_str(&body).unwrap();
        assert_eq!(batch.v, SCHEMA_VERSION);
        assert!(batch.events.iter().all(|event| event.validate().is_ok()));
        assert!(body.contains(r#""type":"page_leave""#) && body.contains(r#""type":"search""#));
    }

    #[test]
    fn a_refused_batch_is_kept_up_to_five_hundred_events() {
        let (mut tracker, mut rng) = (Tracker::new(), StdRng::seed_from_u64(2));
        for _ in 0..600 {
            tracker.event(EventKind::Click { element: "a".into(), label: "x".into(), href: None }, &mut rng);
        }
        let (first, _) = tracker.take_batch().unwrap();
        assert_eq!(first.len(), MAX_BATCH);
        let newest = tracker.pending.last().cloned();
        tracker.keep(first);
        assert_eq!(tracker.pending.len(), MAX_KEPT);
        assert_eq!(tracker.pending.last().cloned(), newest, "the oldest events are the ones dropped");
    }
}
