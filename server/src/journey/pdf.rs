//! The journey report: an A4 PDF of vector shapes and the built-in Helvetica fonts. A cover with the visit's
//! details, outcome, headline numbers and funnel; the path as a snake of page boxes; and the timeline of the events.
//!
//! A document has at most [`MAX_PAGES`] pages whatever the visit: the summary on the cover counts every event, but
//! the path stops after [`MAX_PATH_PAGES`] pages and the timeline after [`MAX_TIMELINE_PAGES`], and the report
//! says how much it left out.

use anyhow::{anyhow, bail};
use chrono::{DateTime, TimeDelta, Utc};
use printpdf::{Mm, PdfDocument, PdfPage, PdfParseErrorSeverity, PdfSaveOptions};

use super::draw::{Align, Canvas, Paint, Rgb8, Style, PAGE_H, PAGE_W};
use super::metrics::{text_width, wrap, Font};
use super::model::{capitalize, clean_path, summarize, FunnelStage, JourneySummary, Outcome, PageKind, Step};
use super::{JourneyEvent, VisitInfo};

const NAVY: Rgb8 = Rgb8(0x12, 0x35, 0x5b);
const NAVY_MID: Rgb8 = Rgb8(0x4d, 0x6d, 0x92);
const NAVY_PALE: Rgb8 = Rgb8(0xa9, 0xbb, 0xd0);
const NAVY_TINT: Rgb8 = Rgb8(0xe6, 0xed, 0xf5);
const AMBER: Rgb8 = Rgb8(0xff, 0xb7, 0x03);
const AMBER_DEEP: Rgb8 = Rgb8(0xa8, 0x6f, 0x00);
const AMBER_TINT: Rgb8 = Rgb8(0xff, 0xf3, 0xd1);
const GREEN: Rgb8 = Rgb8(0x2a, 0x9d, 0x8f);
const GREEN_TINT: Rgb8 = Rgb8(0xe0, 0xf2, 0xef);
const RED: Rgb8 = Rgb8(0xc2, 0x4b, 0x3c);
const INK: Rgb8 = Rgb8(0x1f, 0x29, 0x33);
const MUTED: Rgb8 = Rgb8(0x6b, 0x77, 0x85);
const RULE: Rgb8 = Rgb8(0xd9, 0xde, 0xe4);
const WASH: Rgb8 = Rgb8(0xf4, 0xf6, 0xf8);
const WHITE: Rgb8 = Rgb8(0xff, 0xff, 0xff);

/// Left and right margin.
const MARGIN: f32 = 48.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Content stops here; the footer is below.
const CONTENT_BOTTOM: f32 = PAGE_H - 62.0;
/// Where the content of a page with a section heading starts.
const SECTION_TOP: f32 = 128.0;
/// Where the path's first row of boxes starts, leaving room for the arrow from the previous page.
const PATH_TOP: f32 = 140.0;

/// Path boxes per row.
const COLUMNS: usize = 4;
const BOX_W: f32 = 104.0;
const BOX_H: f32 = 64.0;
const ROW_GAP: f32 = 34.0;

/// Timeline row height, and the column offsets and widths.
const ROW_H: f32 = 15.5;
const TABLE_HEADER_H: f32 = 20.0;
const COL_TIME: (f32, f32) = (0.0, 50.0);
const COL_EVENT: (f32, f32) = (50.0, 92.0);
const COL_PAGE: (f32, f32) = (142.0, 140.0);
const COL_DETAIL: (f32, f32) = (282.0, CONTENT_W - 282.0);

/// The most pages of path boxes a report draws (24 boxes a page).
pub const MAX_PATH_PAGES: usize = 10;
/// The most timeline pages a report draws (40 rows a page).
pub const MAX_TIMELINE_PAGES: usize = 25;
/// The most pages a report has: the cover, the path and the timeline at their bounds.
pub const MAX_PAGES: usize = 1 + MAX_PATH_PAGES + MAX_TIMELINE_PAGES;

/// Path boxes on one page.
fn path_boxes_per_page() -> usize {
    let rows = (((CONTENT_BOTTOM - 24.0 - PATH_TOP + ROW_GAP) / (BOX_H + ROW_GAP)).floor() as usize).max(1);
    rows * COLUMNS
}

/// Timeline rows on one page.
fn timeline_rows_per_page() -> usize {
    (((CONTENT_BOTTOM - SECTION_TOP - TABLE_HEADER_H) / ROW_H).floor() as usize).max(1)
}

/// How much of a visit the report draws: the path's first steps and the timeline's first events, as many as the
/// page bounds allow. When the timeline is cut, its last row says how many events it left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Excerpt {
    /// Path steps drawn.
    steps_shown: usize,
    /// Path steps past the last page of boxes.
    steps_left_out: usize,
    /// Timeline rows drawn.
    events_shown: usize,
    /// Events of the visit not in the timeline: past its last page, or never loaded.
    events_left_out: u64,
    /// The visit's events in all, loaded or not (duplicates removed).
    events_total: u64,
}

impl Excerpt {
    fn of(summary: &JourneySummary, events_not_loaded: u64) -> Self {
        let steps = summary.steps.len();
        let steps_shown = steps.min(MAX_PATH_PAGES * path_boxes_per_page());
        let loaded = summary.events.len();
        let capacity = MAX_TIMELINE_PAGES * timeline_rows_per_page();
        // The note about what was left out takes the last row, so a cut timeline shows one event less.
        let cut = loaded > capacity || events_not_loaded > 0;
        let events_shown = if cut { loaded.min(capacity - 1) } else { loaded };
        let events_total = loaded as u64 + events_not_loaded;
        Excerpt {
            steps_shown,
            steps_left_out: steps - steps_shown,
            events_shown,
            events_left_out: events_total - events_shown as u64,
            events_total,
        }
    }

    /// "… and 4,001 more events not shown", when the timeline was cut.
    fn events_note(&self) -> Option<String> {
        (self.events_left_out > 0)
            .then(|| format!("\u{2026} and {} more events not shown", thousands(self.events_left_out)))
    }
}

/// Renders the journey report of one visit as a PDF. `events` may be in any order and contain duplicates.
/// Each rendered document is counted, with its render time, in `/metrics`.
pub fn render(visit: &VisitInfo, events: &[JourneyEvent], generated_at: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
    let started = std::time::Instant::now();
    let pdf = render_document(visit, events, generated_at)?;
    metrics::counter!(crate::prometheus::names::JOURNEY_PDFS).increment(1);
    metrics::histogram!(crate::prometheus::names::JOURNEY_RENDER).record(started.elapsed().as_secs_f64());
    Ok(pdf)
}

fn render_document(visit: &VisitInfo, events: &[JourneyEvent], generated_at: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
    let summary = summarize(events);
    let excerpt = Excerpt::of(&summary, visit.events_not_loaded);
    let short = short_id(visit);

    let mut pages = vec![cover(visit, &summary, &excerpt, generated_at)];
    pages.extend(path_pages(&summary, &excerpt, &short));
    pages.extend(timeline_pages(&summary, &excerpt, &short));

    let total = pages.len();
    let pdf_pages = pages
        .into_iter()
        .enumerate()
        .map(|(index, mut canvas)| {
            footer(&mut canvas, &short, index + 1, total);
            PdfPage::new(Mm(210.0), Mm(297.0), canvas.into_ops())
        })
        .collect();

    let title = format!("Cartograph journey {short}");
    let mut doc = PdfDocument::new(&title);
    let created = printpdf::DateTime::from_unix_timestamp(generated_at.timestamp()).map_err(|e| anyhow!(e))?;
    let info = &mut doc.metadata.info;
    info.author = "Cartograph".to_string();
    info.creator = "Cartograph".to_string();
    info.producer = "Cartograph (printpdf)".to_string();
    info.subject = format!("Clickstream journey of visit {}", visit.visit_id);
    info.creation_date = created;
    info.modification_date = created;
    info.metadata_date = created;
    doc.with_pages(pdf_pages);

    let mut warnings = Vec::new();
    let options = PdfSaveOptions { image_optimization: None, ..PdfSaveOptions::default() };
    let mut pdf = doc.to_lopdf_document(&options, &mut warnings);
    if let Some(error) = warnings.iter().find(|warning| warning.severity == PdfParseErrorSeverity::Error) {
        bail!("printpdf could not write the journey report: {}", error.msg);
    }
    // printpdf always writes a `GTS_PDFXVersion` (empty here), which readers take for a PDF/X claim; the report is
    // plain PDF. Empty keywords and identifier go too.
    let info_id = pdf.trailer.get(b"Info").and_then(|info| info.as_reference())?;
    let info = pdf.get_object_mut(info_id).and_then(|info| info.as_dict_mut())?;
    for key in [&b"GTS_PDFXVersion"[..], b"Keywords", b"Identifier"] {
        info.remove(key);
    }
    pdf.compress();
    let mut bytes = Vec::new();
    pdf.save_to(&mut bytes)?;
    Ok(bytes)
}

fn short_id(visit: &VisitInfo) -> String {
    visit.visit_id.simple().to_string().chars().take(8).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Cover
// ---------------------------------------------------------------------------------------------------------------

fn cover(visit: &VisitInfo, summary: &JourneySummary, excerpt: &Excerpt, generated_at: DateTime<Utc>) -> Canvas {
    let mut c = Canvas::default();
    let right = PAGE_W - MARGIN;

    // The band: title on the left, outcome on the right.
    c.rect(0.0, 0.0, PAGE_W, 180.0, Paint::Fill(NAVY));
    c.rect(0.0, 180.0, PAGE_W, 4.0, Paint::Fill(AMBER));
    c.text(MARGIN, 62.0, "CARTOGRAPH  \u{b7}  JOURNEY REPORT", Style::new(Font::Bold, 8.5, AMBER), Align::Left);
    c.text(MARGIN, 104.0, &format!("Visit {}", short_id(visit)), Style::new(Font::Bold, 30.0, WHITE), Align::Left);
    c.text(MARGIN, 126.0, &visit.visit_id.to_string(), Style::new(Font::Regular, 10.0, NAVY_PALE), Align::Left);
    let generated = format!("Generated {} UTC", generated_at.format("%Y-%m-%d %H:%M"));
    c.text(MARGIN, 154.0, &generated, Style::new(Font::Regular, 8.5, NAVY_PALE), Align::Left);

    c.text(right, 62.0, "OUTCOME", Style::new(Font::Bold, 8.5, NAVY_PALE), Align::Right);
    let (badge_fill, badge_ink, note) = match summary.outcome {
        Outcome::Bought => (GREEN, WHITE, "Payment succeeded"),
        Outcome::AbandonedCart => (AMBER, NAVY, "Added to cart, never paid"),
        Outcome::Browsed => (NAVY_TINT, NAVY, "No cart activity"),
    };
    let badge = capitalize(summary.outcome.label());
    let badge_w = text_width(&badge, Font::Bold, 13.0) + 36.0;
    c.rounded_rect(right - badge_w, 74.0, badge_w, 30.0, 15.0, Paint::Fill(badge_fill));
    c.text(right - badge_w / 2.0, 93.5, &badge, Style::new(Font::Bold, 13.0, badge_ink), Align::Center);
    c.text(right, 122.0, note, Style::new(Font::Regular, 9.0, NAVY_PALE), Align::Right);
    if visit.in_progress {
        let label = "In progress";
        let pill_w = text_width(label, Font::Bold, 9.0) + 30.0;
        c.rounded_rect(right - pill_w, 138.0, pill_w, 20.0, 10.0, Paint::Stroke(AMBER, 1.2));
        c.circle(right - pill_w + 12.0, 148.0, 3.0, Paint::Fill(AMBER));
        c.text(right - 10.0, 151.2, label, Style::new(Font::Bold, 9.0, AMBER), Align::Right);
    }

    // Visit details (left) and the most viewed pages (right).
    let fmt_time =
        |t: Option<DateTime<Utc>>| t.map_or("\u{2013}".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
    let ended = match (summary.ended_at, visit.in_progress) {
        (Some(_), true) => format!("{} (still open)", fmt_time(summary.ended_at)),
        _ => fmt_time(summary.ended_at),
    };
    let events = if visit.events_not_loaded > 0 {
        let loaded = thousands(summary.events.len() as u64);
        format!("{} (the summary counts the first {loaded})", thousands(excerpt.events_total))
    } else {
        format!("{} (duplicates removed)", summary.events.len())
    };
    let mut details = vec![
        ("Shopper", visit.shopper.clone().unwrap_or_else(|| "anonymous".to_string())),
        ("Device", visit.device.clone()),
        ("Started", fmt_time(summary.started_at)),
        ("Ended", ended),
        ("Duration", long_duration(summary.duration)),
        ("Events", events),
    ];
    if let Some(note) = excerpt.events_note() {
        details.push(("Left out", note));
    }
    let left_w = 262.0;
    section_label(&mut c, MARGIN, 226.0, "Visit details");
    for (i, (key, value)) in details.iter().enumerate() {
        let y = 252.0 + i as f32 * 20.0;
        c.text(MARGIN, y, key, Style::new(Font::Regular, 9.0, MUTED), Align::Left);
        c.text_fit(MARGIN + 64.0, y, value, Style::new(Font::Regular, 9.5, INK), left_w - 64.0);
        c.line(&[(MARGIN, y + 7.0), (MARGIN + left_w, y + 7.0)], RULE, 0.5, None);
    }

    let col_x = MARGIN + left_w + 28.0;
    let col_w = right - col_x;
    section_label(&mut c, col_x, 226.0, "Most viewed pages");
    if summary.node_visits.is_empty() {
        c.text(col_x, 252.0, "No page views", Style::new(Font::Regular, 9.0, MUTED), Align::Left);
    }
    let most = summary.node_visits.first().map_or(1, |node| node.visits.max(1));
    for (i, node) in summary.node_visits.iter().take(6).enumerate() {
        let y = 252.0 + i as f32 * 20.0;
        let count = node.visits.to_string();
        c.text_fit(col_x, y, &node.page.to_string(), Style::new(Font::Regular, 9.0, INK), col_w - 34.0);
        c.text(right, y, &count, Style::new(Font::Bold, 9.0, NAVY), Align::Right);
        let bar = (col_w - 34.0) * node.visits as f32 / most as f32;
        c.rect(col_x, y + 4.5, col_w - 34.0, 2.0, Paint::Fill(WASH));
        c.rect(col_x, y + 4.5, bar.max(2.0), 2.0, Paint::Fill(if i == 0 { AMBER } else { NAVY_PALE }));
    }

    // Headline numbers.
    section_label(&mut c, MARGIN, 398.0, "At a glance");
    let cards = [
        (short_duration(summary.duration), "DURATION"),
        (summary.pages.to_string(), "PAGES"),
        (summary.clicks.to_string(), "CLICKS"),
        (summary.cart_adds.to_string(), "CART ADDS"),
        (summary.searches.to_string(), "SEARCHES"),
    ];
    let gap = 10.0;
    let card_w = (CONTENT_W - gap * (cards.len() as f32 - 1.0)) / cards.len() as f32;
    for (i, (value, caption)) in cards.iter().enumerate() {
        let x = MARGIN + i as f32 * (card_w + gap);
        c.rounded_rect(x, 410.0, card_w, 62.0, 6.0, Paint::Fill(WASH));
        c.rect(x + 12.0, 410.0, 18.0, 3.0, Paint::Fill(AMBER));
        c.text_fit(x + 12.0, 443.0, value, Style::new(Font::Bold, 19.0, NAVY), card_w - 20.0);
        c.text(x + 12.0, 461.0, caption, Style::new(Font::Bold, 7.0, MUTED), Align::Left);
    }

    funnel(&mut c, summary, 508.0);
    path_strip(&mut c, summary, excerpt, 706.0);
    c
}

/// The funnel: five centred bars narrowing like a funnel; reached stages filled, the furthest one amber.
fn funnel(c: &mut Canvas, summary: &JourneySummary, top: f32) {
    section_label(c, MARGIN, top, "Funnel");
    let status = match summary.furthest_stage {
        Some(FunnelStage::Paid) => "Completed: paid".to_string(),
        Some(stage) => format!("Stopped at {}", stage.label().to_lowercase()),
        None => "No pages viewed".to_string(),
    };
    c.text(PAGE_W - MARGIN, top, &status, Style::new(Font::Bold, 9.0, NAVY), Align::Right);

    let widest = 340.0;
    let center = MARGIN + widest / 2.0;
    let notes_x = MARGIN + widest + 26.0;
    for (i, stage) in FunnelStage::ALL.into_iter().enumerate() {
        let y = top + 14.0 + i as f32 * 31.0;
        let w = widest - i as f32 * 44.0;
        let x = center - w / 2.0;
        let furthest = summary.furthest_stage == Some(stage);
        let (paint, ink) = if furthest {
            (Paint::Fill(AMBER), NAVY)
        } else if summary.reached(stage) {
            (Paint::Fill(NAVY), WHITE)
        } else {
            (Paint::FillStroke(WHITE, RULE, 1.0), MUTED)
        };
        c.rounded_rect(x, y, w, 25.0, 4.0, paint);
        c.text(center, y + 16.5, stage.label(), Style::new(Font::Bold, 9.5, ink), Align::Center);
        let (note, note_ink, font) = if furthest && stage == FunnelStage::Paid {
            ("completed", GREEN, Font::Bold)
        } else if furthest {
            ("stopped here", AMBER_DEEP, Font::Bold)
        } else if summary.reached(stage) {
            ("reached", MUTED, Font::Regular)
        } else {
            ("not reached", NAVY_PALE, Font::Regular)
        };
        if furthest {
            c.polygon(&[(notes_x - 14.0, y + 12.5), (notes_x - 7.0, y + 8.0), (notes_x - 7.0, y + 17.0)], AMBER);
        }
        c.text(notes_x, y + 16.0, note, Style::new(font, 9.0, note_ink), Align::Left);
    }
}

/// Entry page, exit page and step count in a tinted strip.
fn path_strip(c: &mut Canvas, summary: &JourneySummary, excerpt: &Excerpt, top: f32) {
    c.rounded_rect(MARGIN, top, CONTENT_W, 46.0, 6.0, Paint::Fill(NAVY_TINT));
    let entry = summary.steps.first().map_or("\u{2013}".to_string(), |step| step.page.to_string());
    let exit = summary.steps.last().map_or("\u{2013}".to_string(), |step| step.page.to_string());
    let third = CONTENT_W / 3.0;
    let steps = match excerpt.steps_left_out {
        0 => summary.steps.len().to_string(),
        _ => format!("{} (first {} drawn)", summary.steps.len(), excerpt.steps_shown),
    };
    let items = [("ENTRY", entry), ("EXIT", exit), ("STEPS IN THE PATH", steps)];
    for (i, (caption, value)) in items.iter().enumerate() {
        let x = MARGIN + 16.0 + i as f32 * third;
        c.text(x, top + 18.0, caption, Style::new(Font::Bold, 7.0, NAVY_MID), Align::Left);
        c.text_fit(x, top + 34.0, value, Style::new(Font::Bold, 10.0, NAVY), third - 28.0);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Path
// ---------------------------------------------------------------------------------------------------------------

/// The path as a snake of boxes (left to right, then right to left, …), up to [`MAX_PATH_PAGES`] pages.
fn path_pages(summary: &JourneySummary, excerpt: &Excerpt, short: &str) -> Vec<Canvas> {
    let per_page = path_boxes_per_page();
    let steps = &summary.steps;
    if steps.is_empty() {
        let mut c = Canvas::default();
        section_heading(&mut c, "Path", "No page views were recorded for this visit.", short);
        return vec![c];
    }

    let mut canvases = Vec::new();
    for (page, chunk) in steps[..excerpt.steps_shown].chunks(per_page).enumerate() {
        let first = page * per_page;
        let mut c = Canvas::default();
        let subtitle = format!(
            "Steps {}\u{2013}{} of {} \u{b7} follow the arrows \u{b7} time on the page at the bottom of each box \u{b7} \
             \u{d7}n = viewed n times in a row",
            first + 1,
            first + chunk.len(),
            steps.len()
        );
        section_heading(&mut c, "Path", &subtitle, short);

        for (offset, step) in chunk.iter().enumerate() {
            let index = first + offset;
            let (x, y) = box_origin(offset);
            let is_entry = index == 0;
            let is_exit = index + 1 == steps.len();
            if offset == 0 && !is_entry {
                let mid = x + BOX_W / 2.0;
                c.arrow((mid, y - 24.0), (mid, y - 3.0), NAVY_MID, Some(&[2.5, 2.0]));
                c.text(
                    mid + 8.0,
                    y - 10.0,
                    &format!("from step {index}"),
                    Style::new(Font::Regular, 7.5, MUTED),
                    Align::Left,
                );
            }
            step_box(&mut c, step, index, x, y, is_entry, is_exit);
            if offset + 1 < chunk.len() {
                connect(&mut c, offset);
            } else if index + 1 == excerpt.steps_shown && !is_exit {
                let note = format!(
                    "\u{2026} and {} more steps not shown (the exit is on the cover)",
                    thousands(excerpt.steps_left_out as u64)
                );
                c.text(x, y + BOX_H + 16.0, &note, Style::new(Font::Bold, 8.0, AMBER_DEEP), Align::Left);
            } else if !is_exit {
                let mid = x + BOX_W / 2.0;
                c.line(&[(mid, y + BOX_H + 3.0), (mid, y + BOX_H + 16.0)], NAVY_MID, 1.1, Some(&[2.5, 2.0]));
                let note = format!("continues on the next page (step {})", index + 2);
                c.text(mid + 8.0, y + BOX_H + 16.0, &note, Style::new(Font::Regular, 7.5, MUTED), Align::Left);
            }
        }
        legend(&mut c);
        canvases.push(c);
    }
    canvases
}

/// What the box colours mean, at the bottom of a path page.
fn legend(c: &mut Canvas) {
    let y = CONTENT_BOTTOM - 4.0;
    let mut x = MARGIN;
    for (kind, label) in [
        (PageKind::Home, "Browsing"),
        (PageKind::Product, "Product"),
        (PageKind::Cart, "Cart & checkout"),
        (PageKind::Order, "Order"),
    ] {
        let (accent, fill) = kind_colors(kind);
        c.rounded_rect(x, y - 8.0, 10.0, 10.0, 2.5, Paint::FillStroke(fill, accent, 0.8));
        c.text(x + 15.0, y, label, Style::new(Font::Regular, 8.0, MUTED), Align::Left);
        x += 15.0 + text_width(label, Font::Regular, 8.0) + 18.0;
    }
    c.rounded_rect(x, y - 8.0, 10.0, 10.0, 2.5, Paint::FillStroke(WHITE, AMBER, 1.4));
    c.text(x + 15.0, y, "Exit page", Style::new(Font::Regular, 8.0, MUTED), Align::Left);
}

/// The gap between two boxes of a row.
fn column_gap() -> f32 {
    (CONTENT_W - COLUMNS as f32 * BOX_W) / (COLUMNS as f32 - 1.0)
}

/// Top left corner of the box at `offset` on its page: rows alternate direction.
fn box_origin(offset: usize) -> (f32, f32) {
    let row = offset / COLUMNS;
    let position = offset % COLUMNS;
    let column = if row.is_multiple_of(2) { position } else { COLUMNS - 1 - position };
    let x = MARGIN + column as f32 * (BOX_W + column_gap());
    let y = PATH_TOP + row as f32 * (BOX_H + ROW_GAP);
    (x, y)
}

/// The arrow from the box at `offset` to the next one on the page.
fn connect(c: &mut Canvas, offset: usize) {
    let (x, y) = box_origin(offset);
    let (nx, ny) = box_origin(offset + 1);
    if ny > y {
        let mid = x + BOX_W / 2.0;
        c.arrow((mid, y + BOX_H + 3.0), (mid, ny - 3.0), NAVY_MID, None);
    } else if nx > x {
        c.arrow((x + BOX_W + 3.0, y + BOX_H / 2.0), (nx - 3.0, y + BOX_H / 2.0), NAVY_MID, None);
    } else {
        c.arrow((x - 3.0, y + BOX_H / 2.0), (nx + BOX_W + 3.0, y + BOX_H / 2.0), NAVY_MID, None);
    }
}

/// Accent and fill colours of a page kind: browsing in navy, buying in amber, orders in green.
fn kind_colors(kind: PageKind) -> (Rgb8, Rgb8) {
    match kind {
        PageKind::Product => (NAVY, NAVY_TINT),
        PageKind::Cart | PageKind::Checkout => (AMBER, AMBER_TINT),
        PageKind::Order => (GREEN, GREEN_TINT),
        PageKind::Home | PageKind::Catalog | PageKind::OrderHistory | PageKind::Other => (NAVY_MID, WASH),
    }
}

fn step_box(c: &mut Canvas, step: &Step, index: usize, x: f32, y: f32, is_entry: bool, is_exit: bool) {
    let (accent, fill) = kind_colors(step.page.kind);
    let paint = if is_exit { Paint::FillStroke(fill, AMBER, 1.8) } else { Paint::FillStroke(fill, RULE, 0.7) };
    c.rounded_rect(x, y, BOX_W, BOX_H, 7.0, paint);
    c.circle(x + 13.0, y + 18.0, 3.2, Paint::Fill(accent));
    c.text(x + 21.0, y + 21.5, step.page.kind.label(), Style::new(Font::Bold, 10.0, NAVY), Align::Left);
    let subtitle = step.page.subtitle.as_deref().unwrap_or_default();
    for (i, line) in wrap(subtitle, Font::Regular, 7.5, BOX_W - 20.0, 2).iter().enumerate() {
        c.text(x + 10.0, y + 34.0 + i as f32 * 9.5, line, Style::new(Font::Regular, 7.5, INK), Align::Left);
    }
    c.line(&[(x + 10.0, y + BOX_H - 17.0), (x + BOX_W - 10.0, y + BOX_H - 17.0)], RULE, 0.5, None);
    c.text(x + 10.0, y + BOX_H - 7.0, &long_duration(step.dwell), Style::new(Font::Regular, 7.5, MUTED), Align::Left);
    if step.repeats > 1 {
        let repeats = format!("\u{d7}{}", step.repeats);
        c.text(x + BOX_W - 10.0, y + BOX_H - 7.0, &repeats, Style::new(Font::Bold, 8.0, AMBER_DEEP), Align::Right);
    }

    // The step number on the top edge, entry / exit tags on the top right.
    let number = (index + 1).to_string();
    let number_w = text_width(&number, Font::Bold, 7.0) + 10.0;
    c.rounded_rect(x + 8.0, y - 6.5, number_w, 13.0, 6.5, Paint::Fill(NAVY));
    c.text(x + 8.0 + number_w / 2.0, y + 2.5, &number, Style::new(Font::Bold, 7.0, WHITE), Align::Center);
    let tag = match (is_entry, is_exit) {
        (true, true) => Some(("ENTRY & EXIT", AMBER, NAVY)),
        (true, false) => Some(("ENTRY", NAVY_TINT, NAVY)),
        (false, true) => Some(("EXIT", AMBER, NAVY)),
        (false, false) => None,
    };
    if let Some((label, tag_fill, tag_ink)) = tag {
        let tag_w = text_width(label, Font::Bold, 6.5) + 12.0;
        let tag_x = x + BOX_W - 8.0 - tag_w;
        c.rounded_rect(tag_x, y - 6.5, tag_w, 13.0, 6.5, Paint::FillStroke(tag_fill, WHITE, 1.0));
        c.text(tag_x + tag_w / 2.0, y + 2.3, label, Style::new(Font::Bold, 6.5, tag_ink), Align::Center);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Timeline
// ---------------------------------------------------------------------------------------------------------------

/// The events in a table, column headers repeated on each page, up to [`MAX_TIMELINE_PAGES`] pages; a cut table
/// ends with a row saying how many events it left out.
fn timeline_pages(summary: &JourneySummary, excerpt: &Excerpt, short: &str) -> Vec<Canvas> {
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
    match event_type {
        "page_view" => "Page view",
        "page_leave" => "Page leave",
        "click" => "Click",
        "product_view" => "Product view",
        "cart_add" => "Cart add",
        "cart_remove" => "Cart remove",
        "search" => "Search",
        "checkout_begin" => "Checkout begin",
        "payment_result" => "Payment",
        "error" => "Error",
        other => other,
    }
}

fn event_color(event: &JourneyEvent) -> Rgb8 {
    match event.event_type.as_str() {
        "page_view" => NAVY,
        "product_view" | "search" => NAVY_MID,
        "cart_add" | "cart_remove" | "checkout_begin" => AMBER,
        "payment_result" if event.label.as_deref() == Some("succeeded") => GREEN,
        "payment_result" | "error" => RED,
        _ => NAVY_PALE,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------------------------

/// A page's heading: title, amber rule, a line of explanation, and the visit on the right.
fn section_heading(c: &mut Canvas, title: &str, subtitle: &str, short: &str) {
    c.text(MARGIN, 74.0, title, Style::new(Font::Bold, 22.0, NAVY), Align::Left);
    c.text(PAGE_W - MARGIN, 74.0, &format!("Visit {short}"), Style::new(Font::Bold, 9.0, MUTED), Align::Right);
    c.rect(MARGIN, 84.0, 28.0, 3.0, Paint::Fill(AMBER));
    c.text_fit(MARGIN, 104.0, subtitle, Style::new(Font::Regular, 8.5, MUTED), CONTENT_W);
}

/// A small heading inside a page.
fn section_label(c: &mut Canvas, x: f32, y: f32, label: &str) {
    c.text(x, y, label, Style::new(Font::Bold, 11.0, NAVY), Align::Left);
}

fn footer(c: &mut Canvas, short: &str, page: usize, pages: usize) {
    let y = PAGE_H - 30.0;
    c.line(&[(MARGIN, y - 14.0), (PAGE_W - MARGIN, y - 14.0)], RULE, 0.6, None);
    c.text(MARGIN, y, &format!("Cartograph \u{b7} visit {short}"), Style::new(Font::Regular, 8.0, MUTED), Align::Left);
    c.text(PAGE_W - MARGIN, y, &format!("page {page} of {pages}"), Style::new(Font::Regular, 8.0, MUTED), Align::Right);
}

/// "42 s", "3 min 05 s", "1 h 02 min".
fn long_duration(duration: TimeDelta) -> String {
    let secs = duration.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {:02} s", secs / 60, secs % 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

/// "42s", "3m 05s", "1h 02m".
fn short_duration(duration: TimeDelta) -> String {
    let secs = duration.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// "4,001": a count with thousands separators.
fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// "+mm:ss", or "+h:mm:ss" from an hour on.
fn relative_time(offset: TimeDelta) -> String {
    let secs = offset.num_seconds().max(0);
    if secs < 3600 {
        format!("+{:02}:{:02}", secs / 60, secs % 60)
    } else {
        format!("+{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::Instant;

    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::journey::model::tests::event;

    fn visit(in_progress: bool) -> VisitInfo {
        VisitInfo {
            visit_id: Uuid::parse_str("6f1c2a3b-9d8e-4f00-8a11-5c2d3e4f5a6b").expect("uuid"),
            shopper: Some("Ada Lovelace".to_string()),
            device: "Firefox on Linux".to_string(),
            in_progress,
            events_not_loaded: 0,
        }
    }

    fn generated_at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 2, 12, 30, 0).single().expect("valid time")
    }

    /// Writes `bytes` to a file of the temp dir named after the test and this process.
    fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("cartograph-journey-{name}-{}.pdf", std::process::id()));
        std::fs::write(&path, bytes).expect("write the test PDF");
        path
    }

    /// Runs `program args… file` and returns its standard output.
    fn run(program: &str, args: &[&str], file: &Path) -> String {
        let mut command = Command::new(program);
        command.args(args).arg(file);
        if program == "pdftotext" {
            command.arg("-");
        }
        let output = command.output().unwrap_or_else(|e| panic!("run {program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn page_count(file: &Path) -> usize {
        run("qpdf", &["--show-npages"], file).trim().parse().expect("a page count")
    }

    /// Home → Catalog → Product → Cart, with a search, a product view and a cart add.
    fn small_visit() -> Vec<JourneyEvent> {
        vec![
            event(1, 0, "page_view", "/", None),
            event(2, 4, "search", "/", Some("tent")),
            event(3, 5, "page_view", "/products?q=tent", None),
            event(4, 21, "page_view", "/product/ridgeline-2-tent", None),
            event(5, 22, "product_view", "/product/ridgeline-2-tent", Some("ridgeline-2-tent")),
            event(6, 40, "cart_add", "/product/ridgeline-2-tent", Some("ridgeline-2-tent")),
            event(7, 42, "page_view", "/cart", None),
            event(8, 61, "page_leave", "/cart", None),
        ]
    }

    /// About fifteen steps: browsing, two searches, products, a reload, the cart, checkout and a paid order.
    fn sample_visit() -> Vec<JourneyEvent> {
        let script: [(i64, &str, &str, Option<&str>); 30] = [
            (0, "page_view", "/", None),
            (6, "click", "/", Some("Camping")),
            (8, "page_view", "/products?category=camping", None),
            (25, "search", "/products?category=camping", Some("tent")),
            (26, "page_view", "/products?q=tent", None),
            (41, "click", "/products?q=tent", Some("Ridgeline 2 Tent")),
            (42, "page_view", "/product/ridgeline-2-tent", None),
            (43, "product_view", "/product/ridgeline-2-tent", Some("ridgeline-2-tent")),
            (88, "page_view", "/product/ridgeline-2-tent", None),
            (120, "page_view", "/products?q=tent", None),
            (131, "page_view", "/product/summit-ultralight-1-tent", None),
            (132, "product_view", "/product/summit-ultralight-1-tent", Some("summit-ultralight-1-tent")),
            (170, "page_view", "/product/ridgeline-2-tent", None),
            (190, "cart_add", "/product/ridgeline-2-tent", Some("ridgeline-2-tent")),
            (195, "search", "/product/ridgeline-2-tent", Some("camp stove")),
            (196, "page_view", "/products?q=camp+stove", None),
            (214, "page_view", "/product/trailblazer-camp-stove", None),
            (215, "product_view", "/product/trailblazer-camp-stove", Some("trailblazer-camp-stove")),
            (240, "cart_add", "/product/trailblazer-camp-stove", Some("trailblazer-camp-stove")),
            (243, "page_view", "/cart", None),
            (260, "cart_remove", "/cart", Some("trailblazer-camp-stove")),
            (275, "page_view", "/product/trailblazer-camp-stove", None),
            (290, "page_view", "/cart", None),
            (305, "checkout_begin", "/cart", None),
            (306, "page_view", "/checkout", None),
            (380, "payment_result", "/checkout", Some("declined")),
            (420, "error", "/checkout", Some("card declined, retrying")),
            (455, "payment_result", "/checkout", Some("succeeded")),
            (458, "page_view", "/orders/9b2e7c1d-4a5f-4e3b-8c6d-1f2a3b4c5d6e", None),
            (490, "page_view", "/orders", None),
        ];
        script
            .iter()
            .enumerate()
            .map(|(i, &(secs, kind, path, label))| event(i as u128 + 1, secs, kind, path, label))
            .collect()
    }

    /// `n` events cycling through a shopping loop, one to five seconds apart.
    fn synthetic_visit(n: usize) -> Vec<JourneyEvent> {
        let products = ["ridgeline-2-tent", "enamel-mug", "trailblazer-camp-stove", "down-sleeping-bag"];
        let mut secs = 0;
        (0..n)
            .map(|i| {
                secs += 1 + (i as i64 * 7) % 5;
                let product = products[i / 6 % products.len()];
                let product_path = format!("/product/{product}");
                let (kind, path, label) = match i % 6 {
                    0 => ("page_view", "/products?q=camping".to_string(), None),
                    1 => ("search", "/products?q=camping".to_string(), Some("camping")),
                    2 => ("page_view", product_path, None),
                    3 => ("product_view", product_path, Some(product)),
                    4 => ("click", product_path, Some("Add to cart")),
                    _ => ("cart_add", product_path, Some(product)),
                };
                event(i as u128 + 1, secs, kind, &path, label)
            })
            .collect()
    }

    #[test]
    fn small_visit_pdf_has_its_pages_in_visit_order_and_page_numbers() {
        let bytes = render(&visit(false), &small_visit(), generated_at()).expect("render");
        assert!(bytes.starts_with(b"%PDF"), "not a PDF");
        let file = write_temp("small", &bytes);

        let all = run("pdftotext", &["-q"], &file);
        assert!(all.contains("page 1 of 3"), "{all}");
        assert!(all.contains("page 3 of 3"), "{all}");
        assert!(all.contains("Cartograph \u{b7} visit 6f1c2a3b"), "{all}");
        for expected in [
            "Visit 6f1c2a3b",
            "6f1c2a3b-9d8e-4f00-8a11-5c2d3e4f5a6b",
            "Ada Lovelace",
            "Firefox on Linux",
            "Abandoned cart",
            "Stopped at cart",
            "search: tent",
            "Ridgeline 2 Tent",
            "+00:21",
        ] {
            assert!(all.contains(expected), "{expected:?} missing from:\n{all}");
        }
        assert!(!all.contains("In progress"), "a finished visit is not in progress");

        // The path page, in content order: one line per text run, the page kinds in the order they were visited.
        let path_page = run("pdftotext", &["-q", "-raw", "-f", "2", "-l", "2"], &file);
        let lines: Vec<&str> = path_page.lines().map(str::trim).collect();
        let kinds: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|line| ["Home", "Catalog", "Product", "Cart", "Checkout"].contains(line))
            .collect();
        assert_eq!(kinds, ["Home", "Catalog", "Product", "Cart"], "{path_page}");
        std::fs::remove_file(&file).ok();
    }

    #[test]
    fn rendered_pdf_passes_qpdf_check_and_carries_metadata() {
        let bytes = render(&visit(true), &sample_visit(), generated_at()).expect("render");
        let file = write_temp("qpdf", &bytes);
        let check = run("qpdf", &["--check"], &file);
        assert!(check.contains("No syntax or stream encoding errors found"), "{check}");
        let info = run("pdfinfo", &[], &file);
        assert!(info.contains("Title:           Cartograph journey 6f1c2a3b"), "{info}");
        assert!(info.contains("Author:          Cartograph"), "{info}");
        assert!(info.contains("CreationDate:    Sat May  2 12:30:00 2026"), "{info}");
        assert!(info.contains("(A4)") && !info.contains("PDF/X"), "{info}");
        let text = run("pdftotext", &["-q"], &file);
        assert!(text.contains("In progress") && text.contains("Bought") && text.contains("Completed: paid"), "{text}");
        std::fs::remove_file(&file).ok();
    }

    /// Renders the sample visit to `<temp dir>/journey-sample.pdf` for looking at (`pdftoppm -png -r 60`).
    #[test]
    fn sample_visit_renders_to_the_temp_dir() {
        let events = sample_visit();
        assert!((14..=16).contains(&summarize(&events).steps.len()));
        let bytes = render(&visit(false), &events, generated_at()).expect("render");
        let file = std::env::temp_dir().join("journey-sample.pdf");
        std::fs::write(&file, &bytes).expect("write the sample");
        assert_eq!(page_count(&file), 3);
    }

    #[test]
    fn empty_visit_still_renders() {
        let bytes = render(&visit(true), &[], generated_at()).expect("render");
        let file = write_temp("empty", &bytes);
        let text = run("pdftotext", &["-q"], &file);
        assert!(text.contains("No page views were recorded") && text.contains("page 3 of 3"), "{text}");
        std::fs::remove_file(&file).ok();
    }

    #[test]
    fn long_visits_paginate_and_render_in_reasonable_time() {
        for n in [100, 1_000, 10_000] {
            let events = synthetic_visit(n);
            let started = Instant::now();
            let bytes = render(&visit(false), &events, generated_at()).expect("render");
            let elapsed = started.elapsed();
            let file = write_temp(&format!("long-{n}"), &bytes);
            let pages = page_count(&file);
            println!("render: {n:>6} events -> {pages:>4} pages, {:>8} bytes in {elapsed:?}", bytes.len());
            if n == 10_000 {
                assert!(pages > 3);
                let check = run("qpdf", &["--check"], &file);
                assert!(check.contains("No syntax or stream encoding errors found"), "{check}");
                let last = run("pdftotext", &["-q", "-f", &pages.to_string(), "-l", &pages.to_string()], &file);
                assert!(last.contains(&format!("page {pages} of {pages}")), "{last}");
                assert!(last.contains("of 10000"), "{last}");
            }
            std::fs::remove_file(&file).ok();
        }
    }

    #[test]
    fn a_visit_past_the_bounds_renders_within_the_page_bound_and_says_what_was_left_out() {
        let events = synthetic_visit(6_000);
        let summary = summarize(&events);
        let excerpt = Excerpt::of(&summary, 0);
        assert_eq!(excerpt.events_shown, MAX_TIMELINE_PAGES * timeline_rows_per_page() - 1);
        let left_out = 6_000 - excerpt.events_shown;
        let started = Instant::now();
        let bytes = render(&visit(false), &events, generated_at()).expect("render");
        let elapsed = started.elapsed();
        let file = write_temp("bounded", &bytes);
        let pages = page_count(&file);
        println!("render: 6000 events -> {pages} pages (bound {MAX_PAGES}), {} bytes in {elapsed:?}", bytes.len());
        assert!(pages <= MAX_PAGES, "{pages} pages");
        let check = run("qpdf", &["--check"], &file);
        assert!(check.contains("No syntax or stream encoding errors found"), "{check}");

        let note = format!("and {} more events not shown", thousands(left_out as u64));
        let cover = run("pdftotext", &["-q", "-f", "1", "-l", "1"], &file);
        assert!(cover.contains(&note), "{note:?} missing from the cover:\n{cover}");
        // The cover's numbers count every event, not only those drawn.
        assert!(cover.contains("6000 (duplicates removed)"), "{cover}");
        assert_eq!(summary.pages, 2_000);
        assert!(cover.contains("2000"), "{cover}");
        let last = run("pdftotext", &["-q", "-f", &pages.to_string(), "-l", &pages.to_string()], &file);
        assert!(last.contains(&note), "{note:?} missing where the timeline is cut:\n{last}");
        assert!(last.contains(&format!("Events 961\u{2013}{} of 6000", excerpt.events_shown)), "{last}");

        // Steps past the path's last page are counted, not drawn.
        let wanderer: Vec<JourneyEvent> =
            (0..400).map(|i| event(i as u128 + 1, i * 5, "page_view", &format!("/product/item-{i}"), None)).collect();
        let bytes = render(&visit(false), &wanderer, generated_at()).expect("render");
        let file = write_temp("bounded-path", &bytes);
        let text = run("pdftotext", &["-q"], &file);
        let drawn = MAX_PATH_PAGES * path_boxes_per_page();
        assert!(text.contains(&format!("and {} more steps not shown", 400 - drawn)), "{text}");
        assert!(text.contains(&format!("400 (first {drawn} drawn)")), "{text}");
        assert!(page_count(&file) <= MAX_PAGES);
        std::fs::remove_file(&file).ok();
    }

    #[test]
    fn events_that_were_not_loaded_are_counted_as_left_out() {
        let mut info = visit(false);
        info.events_not_loaded = 2_000;
        let bytes = render(&info, &sample_visit(), generated_at()).expect("render");
        let file = write_temp("not-loaded", &bytes);
        let text = run("pdftotext", &["-q"], &file);
        // 30 events loaded (one row is the note, so all 30 fit), 2,000 more never loaded.
        assert!(text.contains("and 2,000 more events not shown"), "{text}");
        assert!(text.contains("2,030 (the summary counts the first 30)"), "{text}");
        assert!(text.contains("Events 1\u{2013}30 of 2030"), "{text}");
        std::fs::remove_file(&file).ok();
    }

    #[test]
    fn counts_read_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(5_001), "5,001");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn durations_and_times_read_well() {
        assert_eq!(long_duration(TimeDelta::seconds(42)), "42 s");
        assert_eq!(long_duration(TimeDelta::seconds(185)), "3 min 05 s");
        assert_eq!(long_duration(TimeDelta::seconds(3720)), "1 h 02 min");
        assert_eq!(short_duration(TimeDelta::seconds(185)), "3m 05s");
        assert_eq!(relative_time(TimeDelta::seconds(65)), "+01:05");
        assert_eq!(relative_time(TimeDelta::seconds(3725)), "+1:02:05");
        assert_eq!(relative_time(TimeDelta::seconds(-3)), "+00:00");
    }
}
