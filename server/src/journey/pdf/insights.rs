//! The insights report an admin downloads (`/admin/insights.pdf`, a week by default): the funnel, the top paths,
//! the searches that found nothing or led nowhere, where shoppers struggle, the Web Vitals, how the
//! recommendations did and the carts left unpaid; the same numbers as `/admin/insights`, in the journey report's
//! look.

use app::insights::{rating, Insights, Stage};

use crate::journey::draw::{Align, Canvas, Paint, Style};
use crate::journey::metrics::Font;

use super::parts::{section_heading, thousands};
use super::theme::{
    AMBER, CONTENT_BOTTOM, CONTENT_W, GREEN, INK, MARGIN, MUTED, NAVY, NAVY_MID, NAVY_PALE, ROW_H, RULE, SECTION_TOP,
    TABLE_HEADER_H, WASH, WHITE,
};

/// The room a section's title takes above its table.
const TITLE_H: f32 = 30.0;
/// The space after a section.
const SECTION_GAP: f32 = 22.0;

/// The report's pages.
pub(super) fn insights_pages(insights: &Insights, about: &str) -> Vec<Canvas> {
    let range = format!("{} to {}", insights.range.from, insights.range.to);
    let mut report = Pages::new(about, &format!("{range} \u{b7} visits that started in these days, bots left out"));
    funnel(&mut report, insights);
    paths(&mut report, insights);

    let searches = |rows: &[app::insights::SearchOutcome]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|row| vec![row.query.clone(), thousands(row.count as u64), thousands(row.searches as u64)])
            .collect()
    };
    report.table(
        "Searches that found nothing",
        &[("Query", 0.6), ("Found nothing", 0.2), ("Searches", 0.2)],
        searches(&insights.no_results),
        "Every search found something.",
    );
    report.table(
        "Searches that led to no product",
        &[("Query", 0.6), ("No product viewed", 0.2), ("Searches", 0.2)],
        searches(&insights.no_click),
        "Every search that found products led to one.",
    );
    let trouble = insights
        .trouble
        .iter()
        .map(|row| {
            let n = |count: i64| thousands(count as u64);
            vec![
                row.page.clone(),
                n(row.rage_clicks),
                n(row.dead_clicks),
                n(row.quick_backs),
                n(row.errors),
                n(row.page_views),
            ]
        })
        .collect();
    report.table(
        "Where shoppers struggle",
        &[("Page", 0.4), ("Rage", 0.12), ("Dead", 0.12), ("Quick backs", 0.12), ("Errors", 0.12), ("Views", 0.12)],
        trouble,
        "No rage clicks, dead clicks, quick backs or errors.",
    );
    // The rating in a word or two, to fit a column: "good", "to improve", "poor".
    let rated = |metric: &str, value: i64| match rating(metric, value) {
        "needs improvement" => "to improve",
        other => other,
    };
    let vital = |metric: &str, value: Option<i64>| match value {
        None => "\u{2013}".to_string(),
        Some(value) if metric == "cls" => format!("{:.2} \u{b7} {}", value as f64 / 1000.0, rated(metric, value)),
        Some(value) => format!("{value} ms \u{b7} {}", rated(metric, value)),
    };
    let vitals = insights
        .vitals
        .iter()
        .map(|row| {
            vec![
                row.page.clone(),
                vital("lcp", row.lcp_ms),
                vital("cls", row.cls_milli),
                vital("inp", row.inp_ms),
                thousands(row.samples as u64),
            ]
        })
        .collect();
    report.table(
        "Web Vitals (75th percentile)",
        &[("Page", 0.24), ("LCP", 0.22), ("CLS", 0.2), ("INP", 0.22), ("Measured", 0.12)],
        vitals,
        "No page reported its Web Vitals.",
    );
    let slots = insights
        .slots
        .iter()
        .map(|row| {
            let ctr = row.click_through_pct().map_or("\u{2013}".to_string(), |pct| format!("{pct:.1}%"));
            vec![
                row.slot.heading().to_string(),
                thousands(row.impressions as u64),
                thousands(row.clicks as u64),
                ctr,
                thousands(row.orders as u64),
                row.revenue_text(),
            ]
        })
        .collect();
    report.table(
        "Recommendations",
        &[
            ("Slot", 0.3),
            ("Shown", 0.12),
            ("Clicks", 0.12),
            ("Click-through", 0.14),
            ("Orders", 0.12),
            ("Revenue", 0.2),
        ],
        slots,
        "No slot of recommendations.",
    );
    let abandoned = insights
        .abandoned
        .iter()
        .map(|cart| {
            vec![
                cart.started_at.clone(),
                cart.shopper.clone().unwrap_or_else(|| "Anonymous".into()),
                cart.cart_adds.to_string(),
                cart.last_page.clone().unwrap_or_else(|| "\u{2013}".into()),
            ]
        })
        .collect();
    report.table(
        "Carts left unpaid",
        &[("Started", 0.25), ("Shopper", 0.25), ("Cart adds", 0.12), ("Last page", 0.38)],
        abandoned,
        "No visit added to its cart and left without paying.",
    );
    report.pages
}

/// Pages filled from the top, a new one (with the heading) when the next block does not fit.
struct Pages {
    pages: Vec<Canvas>,
    y: f32,
    about: String,
    subtitle: String,
}

impl Pages {
    fn new(about: &str, subtitle: &str) -> Self {
        let mut pages = Self { pages: Vec::new(), y: 0.0, about: about.to_string(), subtitle: subtitle.to_string() };
        pages.new_page();
        pages
    }

    fn new_page(&mut self) {
        let mut c = Canvas::default();
        let title = if self.pages.is_empty() { "Insights" } else { "Insights (continued)" };
        section_heading(&mut c, title, &self.subtitle, &self.about);
        self.pages.push(c);
        self.y = SECTION_TOP;
    }

    /// The canvas to draw `height` more on, starting a page if needed; returns it and the top of the block.
    fn room(&mut self, height: f32) -> (&mut Canvas, f32) {
        if self.y + height > CONTENT_BOTTOM {
            self.new_page();
        }
        let top = self.y;
        self.y += height + SECTION_GAP;
        (self.pages.last_mut().expect("a page"), top)
    }

    /// A titled table with `columns` (heading, share of the width); `empty` in place of a table without rows.
    fn table(&mut self, title: &str, columns: &[(&str, f32)], rows: Vec<Vec<String>>, empty: &str) {
        let height = TITLE_H + if rows.is_empty() { ROW_H } else { TABLE_HEADER_H + rows.len() as f32 * ROW_H };
        let (c, top) = self.room(height);
        section_title(c, top, title);
        let y = top + TITLE_H;
        if rows.is_empty() {
            c.text(MARGIN, y + 10.6, empty, Style::new(Font::Regular, 8.5, MUTED), Align::Left);
            return;
        }
        c.rect(MARGIN, y, CONTENT_W, TABLE_HEADER_H, Paint::Fill(NAVY));
        let mut x = MARGIN;
        let lefts: Vec<(f32, f32)> = columns
            .iter()
            .map(|(_, share)| {
                let left = (x, share * CONTENT_W);
                x += share * CONTENT_W;
                left
            })
            .collect();
        for ((left, width), (heading, _)) in lefts.iter().zip(columns) {
            c.text_fit(left + 6.0, y + 13.2, heading, Style::new(Font::Bold, 7.5, WHITE), width - 12.0);
        }
        for (n, row) in rows.iter().enumerate() {
            let row_y = y + TABLE_HEADER_H + n as f32 * ROW_H;
            if n % 2 == 1 {
                c.rect(MARGIN, row_y, CONTENT_W, ROW_H, Paint::Fill(WASH));
            }
            for ((left, width), cell) in lefts.iter().zip(row) {
                c.text_fit(left + 6.0, row_y + 10.6, cell, Style::new(Font::Regular, 8.0, INK), width - 12.0);
            }
        }
        let bottom = y + TABLE_HEADER_H + rows.len() as f32 * ROW_H;
        c.line(&[(MARGIN, bottom), (MARGIN + CONTENT_W, bottom)], RULE, 0.7, None);
    }
}

/// A section's title with its amber rule, at the top of its block.
fn section_title(c: &mut Canvas, top: f32, title: &str) {
    c.text(MARGIN, top + 14.0, title, Style::new(Font::Bold, 13.0, NAVY), Align::Left);
    c.rect(MARGIN, top + 19.0, 20.0, 2.0, Paint::Fill(AMBER));
}

/// The funnel: a bar per stage, as wide as its share of the visits that browsed, with the count and the
/// conversion from the stage before.
fn funnel(report: &mut Pages, insights: &Insights) {
    let bar_h = 22.0;
    let height = TITLE_H + Stage::ALL.len() as f32 * (bar_h + 6.0);
    let (c, top) = report.room(height);
    section_title(c, top, "Funnel");
    let funnel = &insights.funnel;
    let most = funnel.reached.first().copied().unwrap_or(0).max(1) as f32;
    let (label_w, value_w) = (120.0, 150.0);
    for (n, stage) in Stage::ALL.iter().enumerate() {
        let reached = funnel.reached.get(n).copied().unwrap_or(0);
        let y = top + TITLE_H + n as f32 * (bar_h + 6.0);
        c.text(MARGIN, y + 14.5, stage.label(), Style::new(Font::Bold, 9.0, INK), Align::Left);
        let width = ((CONTENT_W - label_w - value_w) * reached as f32 / most).max(2.0);
        let fill = if *stage == Stage::Paid { GREEN } else { NAVY_MID };
        c.rounded_rect(MARGIN + label_w, y, width, bar_h, 4.0, Paint::Fill(fill));
        let conversion = match (n, funnel.conversion_pct(n)) {
            (0, _) => String::new(),
            (_, Some(pct)) => format!(" \u{b7} {pct:.1}% of the stage before"),
            (_, None) => " \u{b7} \u{2013}".to_string(),
        };
        let text = format!("{}{conversion}", thousands(reached as u64));
        let room = CONTENT_W - label_w - width - 8.0;
        c.text_fit(MARGIN + label_w + width + 8.0, y + 14.5, &text, Style::new(Font::Regular, 8.5, INK), room);
    }
}

/// The top paths: the flow diagram of the visits' first pages (bands drawn as short straight segments along the
/// page's curves), then the paths most made.
fn paths(report: &mut Pages, insights: &Insights) {
    let flow = &insights.flow;
    if !flow.is_empty() {
        let diagram_h = 190.0;
        let (c, top) = report.room(TITLE_H + diagram_h);
        section_title(c, top, "Top paths");
        // Room on the right for the last column's labels, which end at their nodes.
        let layout = flow.layout(f64::from(CONTENT_W), f64::from(diagram_h));
        let at = |x: f64, y: f64| (MARGIN + x as f32, top + TITLE_H + y as f32);
        for band in &layout.bands {
            let points: Vec<(f32, f32)> = band.points(16).into_iter().map(|(x, y)| at(x, y)).collect();
            c.line(&points, NAVY_PALE, band.thickness as f32, None);
        }
        for node in &layout.nodes {
            let (x, y) = at(node.x, node.y);
            c.rect(x, y, node.width as f32, node.height as f32, Paint::Fill(NAVY));
            let (label_x, middle) = at(node.label_x, node.y + node.height / 2.0);
            let style = Style::new(Font::Regular, 7.0, INK);
            let align = if node.label_at_end { Align::Right } else { Align::Left };
            c.text(label_x, middle + 2.5, &node.label, style, align);
        }
    }
    let rows = insights.paths.iter().map(|path| vec![path.pages.join(" > "), thousands(path.visits as u64)]).collect();
    let title = if flow.is_empty() { "Top paths" } else { "Paths most made" };
    report.table(title, &[("Path (first pages of a visit)", 0.85), ("Visits", 0.15)], rows, "No visit viewed a page.");
}
