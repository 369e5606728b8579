//! The journey report: an A4 PDF of vector shapes and the built-in Helvetica fonts. A cover with the visit's
//! details, outcome, headline numbers and funnel; the path as a snake of page boxes; and the timeline of the events.
//!
//! A document has at most [`MAX_PAGES`] pages whatever the visit: the summary on the cover counts every event, but
//! the path stops after [`MAX_PATH_PAGES`] pages and the timeline after [`MAX_TIMELINE_PAGES`], and the report
//! says how much it left out.

mod cover;
mod insights;
mod parts;
mod path;
mod theme;
mod timeline;

use anyhow::{anyhow, bail};
use chrono::{DateTime, Utc};
use printpdf::{Mm, PdfDocument, PdfPage, PdfParseErrorSeverity, PdfSaveOptions};

use super::draw::Canvas;
use super::model::{summarize, JourneySummary};
use super::{JourneyEvent, VisitInfo};

use cover::cover;
use parts::{footer, thousands};
use path::{path_boxes_per_page, path_pages};
use timeline::{timeline_pages, timeline_rows_per_page};

/// The most pages of path boxes a report draws (24 boxes a page).
pub const MAX_PATH_PAGES: usize = 10;
/// The most timeline pages a report draws (40 rows a page).
pub const MAX_TIMELINE_PAGES: usize = 25;
/// The most pages a report has: the cover, the path and the timeline at their bounds.
pub const MAX_PAGES: usize = 1 + MAX_PATH_PAGES + MAX_TIMELINE_PAGES;

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

/// Renders the insights report of a range of days (`/admin/insights.pdf`), in the journey report's look.
pub fn render_insights(insights: &app::insights::Insights, generated_at: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
    let range = format!("{} to {}", insights.range.from, insights.range.to);
    let pages = insights::insights_pages(insights, &format!("Insights {range}"));
    let document = Document {
        title: format!("Cartograph insights {range}"),
        subject: format!("Funnel, searches, frustration, Web Vitals and carts left unpaid, {range}"),
        footer: format!("insights {range}"),
    };
    assemble(pages, &document, generated_at)
}

fn render_document(visit: &VisitInfo, events: &[JourneyEvent], generated_at: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
    let summary = summarize(events);
    let excerpt = Excerpt::of(&summary, visit.events_not_loaded);
    let short = short_id(visit);
    let about = format!("Visit {short}");

    let mut pages = vec![cover(visit, &summary, &excerpt, generated_at)];
    pages.extend(path_pages(&summary, &excerpt, &about));
    pages.extend(timeline_pages(&summary, &excerpt, &about));
    let document = Document {
        title: format!("Cartograph journey {short}"),
        subject: format!("Clickstream journey of visit {}", visit.visit_id),
        footer: format!("visit {short}"),
    };
    assemble(pages, &document, generated_at)
}

/// What a document says about itself: its title and subject (the PDF's metadata) and its footer's words.
struct Document {
    title: String,
    subject: String,
    footer: String,
}

/// The PDF of `pages`, each with the footer and its number, and the document's metadata.
fn assemble(pages: Vec<Canvas>, document: &Document, generated_at: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
    let total = pages.len();
    let pdf_pages = pages
        .into_iter()
        .enumerate()
        .map(|(index, mut canvas)| {
            footer(&mut canvas, &document.footer, index + 1, total);
            PdfPage::new(Mm(210.0), Mm(297.0), canvas.into_ops())
        })
        .collect();

    let mut doc = PdfDocument::new(&document.title);
    let created = printpdf::DateTime::from_unix_timestamp(generated_at.timestamp()).map_err(|e| anyhow!(e))?;
    let info = &mut doc.metadata.info;
    info.author = "Cartograph".to_string();
    info.creator = "Cartograph".to_string();
    info.producer = "Cartograph (printpdf)".to_string();
    info.subject = document.subject.clone();
    info.creation_date = created;
    info.modification_date = created;
    info.metadata_date = created;
    doc.with_pages(pdf_pages);

    let mut warnings = Vec::new();
    let options = PdfSaveOptions { image_optimization: None, ..PdfSaveOptions::default() };
    let mut pdf = doc.to_lopdf_document(&options, &mut warnings);
    if let Some(error) = warnings.iter().find(|warning| warning.severity == PdfParseErrorSeverity::Error) {
        bail!("printpdf could not write {}: {}", document.title, error.msg);
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
}
