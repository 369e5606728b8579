//! The path: the visit's steps as a snake of page boxes, left to right, then right to left, down the page.

use crate::journey::draw::{Align, Canvas, Paint, Rgb8, Style};
use crate::journey::metrics::{text_width, wrap, Font};
use crate::journey::model::{JourneySummary, PageKind, Step};

use super::parts::{long_duration, section_heading, thousands};
use super::theme::{
    AMBER, AMBER_DEEP, AMBER_TINT, BOX_H, BOX_W, COLUMNS, CONTENT_BOTTOM, CONTENT_W, GREEN, GREEN_TINT, INK, MARGIN,
    MUTED, NAVY, NAVY_MID, NAVY_TINT, PATH_TOP, ROW_GAP, RULE, WASH, WHITE,
};
use super::Excerpt;

/// Path boxes on one page.
pub(super) fn path_boxes_per_page() -> usize {
    let rows = (((CONTENT_BOTTOM - 24.0 - PATH_TOP + ROW_GAP) / (BOX_H + ROW_GAP)).floor() as usize).max(1);
    rows * COLUMNS
}

/// The path as a snake of boxes (left to right, then right to left, …), up to
/// [`MAX_PATH_PAGES`](super::MAX_PATH_PAGES) pages.
pub(super) fn path_pages(summary: &JourneySummary, excerpt: &Excerpt, short: &str) -> Vec<Canvas> {
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
