//! Pieces every part of the report uses: the page heading and footer, and how durations, counts and times read.

use chrono::TimeDelta;

use crate::journey::draw::{Align, Canvas, Paint, Style, PAGE_H, PAGE_W};
use crate::journey::metrics::Font;

use super::theme::{AMBER, CONTENT_W, MARGIN, MUTED, NAVY, RULE};

/// A page's heading: title, amber rule, a line of explanation, and what the document is about on the right
/// ("Visit 1a2b3c4d").
pub(super) fn section_heading(c: &mut Canvas, title: &str, subtitle: &str, about: &str) {
    c.text(MARGIN, 74.0, title, Style::new(Font::Bold, 22.0, NAVY), Align::Left);
    c.text(PAGE_W - MARGIN, 74.0, about, Style::new(Font::Bold, 9.0, MUTED), Align::Right);
    c.rect(MARGIN, 84.0, 28.0, 3.0, Paint::Fill(AMBER));
    c.text_fit(MARGIN, 104.0, subtitle, Style::new(Font::Regular, 8.5, MUTED), CONTENT_W);
}

/// A page's footer: "Cartograph · <what it is about>" and the page number.
pub(super) fn footer(c: &mut Canvas, about: &str, page: usize, pages: usize) {
    let y = PAGE_H - 30.0;
    c.line(&[(MARGIN, y - 14.0), (PAGE_W - MARGIN, y - 14.0)], RULE, 0.6, None);
    c.text(MARGIN, y, &format!("Cartograph \u{b7} {about}"), Style::new(Font::Regular, 8.0, MUTED), Align::Left);
    c.text(PAGE_W - MARGIN, y, &format!("page {page} of {pages}"), Style::new(Font::Regular, 8.0, MUTED), Align::Right);
}

/// "42 s", "3 min 05 s", "1 h 02 min".
pub(super) fn long_duration(duration: TimeDelta) -> String {
    let secs = duration.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {:02} s", secs / 60, secs % 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

/// "42s", "3m 05s", "1h 02m".
pub(super) fn short_duration(duration: TimeDelta) -> String {
    let secs = duration.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// "4,001": a count with thousands separators.
pub(super) fn thousands(count: u64) -> String {
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
pub(super) fn relative_time(offset: TimeDelta) -> String {
    let secs = offset.num_seconds().max(0);
    if secs < 3600 {
        format!("+{:02}:{:02}", secs / 60, secs % 60)
    } else {
        format!("+{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
