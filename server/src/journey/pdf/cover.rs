//! The cover: the visit's details and outcome, its most viewed pages, the headline numbers, the funnel, and
//! the path's entry and exit.

use chrono::{DateTime, Utc};

use crate::journey::draw::{Align, Canvas, Paint, Style, PAGE_W};
use crate::journey::metrics::{text_width, Font};
use crate::journey::model::{capitalize, FunnelStage, JourneySummary, Outcome};
use crate::journey::VisitInfo;

use super::parts::{long_duration, short_duration, thousands};
use super::theme::{
    AMBER, AMBER_DEEP, CONTENT_W, GREEN, INK, MARGIN, MUTED, NAVY, NAVY_MID, NAVY_PALE, NAVY_TINT, RULE, WASH, WHITE,
};
use super::{short_id, Excerpt};

pub(super) fn cover(
    visit: &VisitInfo,
    summary: &JourneySummary,
    excerpt: &Excerpt,
    generated_at: DateTime<Utc>,
) -> Canvas {
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
        (summary.frustrations.to_string(), "FRUSTRATIONS"),
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

/// A small heading inside a page.
fn section_label(c: &mut Canvas, x: f32, y: f32, label: &str) {
    c.text(x, y, label, Style::new(Font::Bold, 11.0, NAVY), Align::Left);
}
