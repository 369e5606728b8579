//! Journey PDF render time at 100, 1,000 and 10,000 events, next to printpdf's own floor: the same events as
//! one plain line of text each, paginated and saved the same way (lopdf, compressed). The floor is what the
//! library costs for that much text; the gap is the report's layout (summary, path schematic, timeline rows).
//!
//! The report is bounded in pages (`cartograph::journey::MAX_PAGES`): past about a thousand events the timeline is
//! cut, so 5,000 events (a full visit at the default cap), 6,000 and 10,000 cost about the same, while the floor
//! keeps growing. Those sizes also get a row for the render's peak heap (`memory`), against the floor's.

use crate::report::{Better, Report, Row};
use cartograph::journey::{render, JourneyEvent, VisitInfo};
use printpdf::{BuiltinFont, Mm, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, TextItem};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A synthetic visit: a shopper browsing, searching, adding to the cart and paying, repeated.
pub fn synthetic_events(count: usize) -> Vec<JourneyEvent> {
    let start = chrono::Utc::now() - chrono::Duration::hours(2);
    let pages = [
        "/",
        "/products?q=tent",
        "/product/ridgeline-2-tent",
        "/products?category=kitchen",
        "/product/oak-cutting-board",
        "/cart",
        "/checkout",
    ];
    (0..count)
        .map(|i| {
            let (event_type, label) = match i % 5 {
                0 => ("page_view", None),
                1 => ("click", Some("Add to cart".to_string())),
                2 => ("search", Some("tent".to_string())),
                3 => ("cart_add", Some("Oak Cutting Board".to_string())),
                _ => ("page_leave", None),
            };
            JourneyEvent {
                event_id: Uuid::new_v4(),
                event_type: event_type.into(),
                path: pages[(i / 5) % pages.len()].into(),
                received_at: start + chrono::Duration::milliseconds(i as i64 * 700),
                seq: (i % 5) as i32,
                label,
            }
        })
        .collect()
}

/// The floor: each event as one line of Helvetica, 50 lines a page, saved like the report.
fn plain_text_pdf(events: &[JourneyEvent]) -> Vec<u8> {
    let pages = events
        .chunks(50)
        .map(|chunk| {
            let mut ops = Vec::with_capacity(chunk.len() * 4 + 2);
            ops.push(Op::StartTextSection);
            ops.push(Op::SetFont { font: PdfFontHandle::Builtin(BuiltinFont::Helvetica), size: Pt(9.0) });
            for (line, event) in chunk.iter().enumerate() {
                let text = format!(
                    "{} {} {} {}",
                    event.received_at.format("%H:%M:%S"),
                    event.event_type,
                    event.path,
                    event.label.as_deref().unwrap_or("")
                );
                ops.push(Op::SetTextCursor { pos: Point { x: Pt(48.0), y: Pt(800.0 - line as f32 * 15.5) } });
                ops.push(Op::ShowText { items: vec![TextItem::Text(text)] });
            }
            ops.push(Op::EndTextSection);
            PdfPage::new(Mm(210.0), Mm(297.0), ops)
        })
        .collect();
    let mut doc = PdfDocument::new("floor");
    doc.with_pages(pages);
    let mut warnings = Vec::new();
    let mut pdf =
        doc.to_lopdf_document(&PdfSaveOptions { image_optimization: None, ..PdfSaveOptions::default() }, &mut warnings);
    pdf.compress();
    let mut bytes = Vec::new();
    pdf.save_to(&mut bytes).expect("writing to memory");
    bytes
}

/// The median of repeated runs: repeats until half a second has passed (at least 3 runs, at most 25).
fn median_time(mut work: impl FnMut() -> anyhow::Result<usize>) -> anyhow::Result<(Duration, usize)> {
    let (mut times, mut bytes, started) = (Vec::new(), 0, Instant::now());
    while times.len() < 3 || (started.elapsed() < Duration::from_millis(500) && times.len() < 25) {
        let began = Instant::now();
        bytes = work()?;
        times.push(began.elapsed());
    }
    times.sort();
    Ok((times[times.len() / 2], bytes))
}

/// The pages of a PDF the report wrote: its `/Type /Page` dictionaries (not `/Pages`).
fn page_count(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.match_indices("/Type")
        .filter(|(at, _)| {
            let rest = text[at + 5..].trim_start();
            rest.starts_with("/Page") && !rest.starts_with("/Pages")
        })
        .count()
}

/// Adds one row per size: render milliseconds against the plain-text floor.
pub fn run(report: &mut Report) -> anyhow::Result<()> {
    let visit = VisitInfo {
        visit_id: Uuid::new_v4(),
        shopper: Some("Bench Shopper".into()),
        device: "Firefox on Linux".into(),
        in_progress: false,
        events_not_loaded: 0,
    };
    let mut sizes = Vec::new();
    for count in [100, 1_000, 5_000, 6_000, 10_000] {
        eprintln!("journey: {count} events");
        let events = synthetic_events(count);
        let (rendered, bytes) = median_time(|| Ok(render(&visit, &events, chrono::Utc::now())?.len()))?;
        let (floor, _) = median_time(|| Ok(plain_text_pdf(&events).len()))?;
        report.add(Row::new(
            "journey PDF",
            &format!("render ms, {count} events"),
            rendered.as_secs_f64() * 1000.0,
            floor.as_secs_f64() * 1000.0,
            "printpdf writing the events as plain lines",
            Better::Lower,
        ));
        if count >= 5_000 {
            let (pdf, report_peak) = crate::memory::peak_heap_mib(|| render(&visit, &events, chrono::Utc::now()));
            let (_, floor_peak) = crate::memory::peak_heap_mib(|| plain_text_pdf(&events));
            let pdf = pdf?;
            report.add(Row::new(
                "journey PDF",
                &format!("render peak heap MiB, {count} events"),
                report_peak,
                floor_peak,
                "the plain-lines PDF's peak heap",
                Better::Lower,
            ));
            sizes.push(format!("{count}: {} KiB, {} pages", bytes / 1024, page_count(&pdf)));
        } else {
            sizes.push(format!("{count}: {} KiB", bytes / 1024));
        }
    }
    report.note(format!(
        "journey PDF: median of repeated renders on one core (at least 3, up to half a second); the events cycle \
         through 7 pages and 5 event types. Report sizes: {}.",
        sizes.join(", ")
    ));
    Ok(())
}
