//! The timeline: the visit's events in a table, one row each, times relative to the first event.

use app::tracking::schema::EventType;
use chrono::{DateTime, Utc};

use crate::journey::draw::{Align, Canvas, Paint, Rgb8, Style, PAGE_W};
use crate::journey::metrics::Font;
use crate::journey::model::{clean_path, JourneySummary};
use crate::journey::JourneyEvent;

use super::parts::{relative_time, section_heading};
use super::theme::{
    AMBER, AMBER_DEEP, AMBER_TINT, COL_DETAIL, COL_EVENT, COL_PAGE, COL_TIME, CONTENT_BOTTOM, CONTENT_W, GREEN, INK,
    MARGIN, MUTED, NAVY, NAVY_MID, NAVY_PALE, RED, ROW_H, RULE, SECTION_TOP, TABLE_HEADER_H, WASH, WHITE,
};
use super::Excerpt;

/// Timeline rows on one page.
pub(super) fn timeline_rows_per_page() -> usize {
    (((CONTENT_BOTTOM - SECTION_TOP - TABLE_HEADER_H) / ROW_H).floor() as usize).max(1)
}

/// The events in a table, column headers repeated on each page, up to
/// [`MAX_TIMELINE_PAGES`](super::MAX_TIMELINE_PAGES) pages; a cut table ends with a row saying how many events it
/// left out.
pub(super) fn timeline_pages(summary: &JourneySummary, excerpt: &Excerpt, short: &str) -> Vec<Canvas> {
    let events = &summary.events[..excerpt.events_shown];
    let Some(start) = summary.started_at else {
        let mut c = Canvas::default();
        section_heading(&mut c, "Timeline", "No events were recorded for this visit.", short);
        return vec![c];
    };
    let rows_per_page = timeline_rows_per_page();
    let note = excerpt.events_note();
    let rows = events.len() + usize::from(note.is_some());
    let mut canvases = Vec::new();
    for page in 0..rows.div_ceil(rows_per_page) {
        let mut c = Canvas::default();
        let first = page * rows_per_page;
        let chunk = &events[first.min(events.len())..(first + rows_per_page).min(events.len())];
        let subtitle = match chunk.len() {
            0 => format!("{} events in all", excerpt.events_total),
            shown => format!(
                "Events {}\u{2013}{} of {} \u{b7} times relative to the first event, {} UTC",
                first + 1,
                first + shown,
                excerpt.events_total,
                start.format("%Y-%m-%d %H:%M:%S")
            ),
        };
        section_heading(&mut c, "Timeline", &subtitle, short);
        table_header(&mut c, SECTION_TOP);
        for (i, event) in chunk.iter().enumerate() {
            let y = SECTION_TOP + TABLE_HEADER_H + i as f32 * ROW_H;
            timeline_row(&mut c, event, start, y, (first + i) % 2 == 1);
        }
        let mut bottom = SECTION_TOP + TABLE_HEADER_H + chunk.len() as f32 * ROW_H;
        if let Some(note) = note.as_deref().filter(|_| first + chunk.len() == events.len()) {
            c.rect(MARGIN, bottom, CONTENT_W, ROW_H, Paint::Fill(AMBER_TINT));
            c.text(MARGIN + 6.0, bottom + 10.6, note, Style::new(Font::Bold, 8.0, AMBER_DEEP), Align::Left);
            bottom += ROW_H;
        }
        c.line(&[(MARGIN, bottom), (PAGE_W - MARGIN, bottom)], RULE, 0.7, None);
        canvases.push(c);
    }
    canvases
}

fn table_header(c: &mut Canvas, y: f32) {
    c.rect(MARGIN, y, CONTENT_W, TABLE_HEADER_H, Paint::Fill(NAVY));
    for ((x, _), label) in [COL_TIME, COL_EVENT, COL_PAGE, COL_DETAIL].iter().zip(["TIME", "EVENT", "PAGE", "DETAIL"]) {
        c.text(MARGIN + x + 6.0, y + 13.2, label, Style::new(Font::Bold, 7.5, WHITE), Align::Left);
    }
}

fn timeline_row(c: &mut Canvas, event: &JourneyEvent, start: DateTime<Utc>, y: f32, zebra: bool) {
    if zebra {
        c.rect(MARGIN, y, CONTENT_W, ROW_H, Paint::Fill(WASH));
    }
    let baseline = y + 10.6;
    let cell = |(x, w): (f32, f32)| (MARGIN + x + 6.0, w - 12.0);

    let (x, _) = cell(COL_TIME);
    c.text(x, baseline, &relative_time(event.received_at - start), Style::new(Font::Regular, 8.0, MUTED), Align::Left);

    let (x, w) = cell(COL_EVENT);
    c.dot(x + 2.5, y + ROW_H / 2.0, 2.6, event_color(event));
    c.text_fit(x + 10.0, baseline, event_name(&event.event_type), Style::new(Font::Bold, 8.0, INK), w - 10.0);

    let (x, w) = cell(COL_PAGE);
    c.text_fit(x, baseline, &clean_path(&event.path).to_string(), Style::new(Font::Regular, 8.0, INK), w);

    let (x, w) = cell(COL_DETAIL);
    let (detail, ink) = match &event.label {
        Some(label) => (label.as_str(), INK),
        None => (event.path.as_str(), MUTED),
    };
    c.text_fit(x, baseline, detail, Style::new(Font::Regular, 8.0, ink), w);
}

/// A readable name for an event type; unknown types are shown as they are.
fn event_name(event_type: &str) -> &str {
    let Some(known) = EventType::parse(event_type) else { return event_type };
    match known {
        EventType::PageView => "Page view",
        EventType::PageLeave => "Page leave",
        EventType::Click => "Click",
        EventType::ProductView => "Product view",
        EventType::CartAdd => "Cart add",
        EventType::CartRemove => "Cart remove",
        EventType::Search => "Search",
        EventType::CheckoutBegin => "Checkout begin",
        EventType::PaymentResult => "Payment",
        EventType::Error => "Error",
        EventType::RageClick => "Rage click",
        EventType::DeadClick => "Dead click",
        EventType::QuickBack => "Quick back",
        EventType::WebVitals => "Web Vitals",
        EventType::RecImpression => "Recommended",
        EventType::CouponApplied => "Coupon applied",
        EventType::CouponRejected => "Coupon refused",
        EventType::TaxShown => "Tax shown",
        EventType::ShippingSelected => "Delivery chosen",
    }
}

fn event_color(event: &JourneyEvent) -> Rgb8 {
    match EventType::parse(&event.event_type) {
        Some(EventType::PageView) => NAVY,
        Some(EventType::ProductView | EventType::Search) => NAVY_MID,
        Some(
            EventType::CartAdd
            | EventType::CartRemove
            | EventType::CheckoutBegin
            | EventType::CouponApplied
            | EventType::ShippingSelected,
        ) => AMBER,
        Some(EventType::PaymentResult) if event.label.as_deref() == Some("succeeded") => GREEN,
        Some(EventType::PaymentResult | EventType::Error | EventType::RageClick) => RED,
        Some(EventType::DeadClick | EventType::QuickBack | EventType::CouponRejected) => AMBER_DEEP,
        Some(
            EventType::Click
            | EventType::PageLeave
            | EventType::WebVitals
            | EventType::RecImpression
            | EventType::TaxShown,
        )
        | None => NAVY_PALE,
    }
}
