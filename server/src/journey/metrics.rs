//! Text widths of the two built-in fonts the report uses (Adobe's Helvetica AFM metrics), and the WinAnsi
//! clean-up that the built-in fonts need.

use std::collections::VecDeque;

/// A font of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Font {
    Regular,
    Bold,
}

/// Helvetica advance widths (1/1000 em) of the printable ASCII characters, space (0x20) to tilde (0x7e).
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space .. /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 .. ?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ .. O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P .. _
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` .. o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p .. ~
];

/// Helvetica-Bold advance widths (1/1000 em) of the printable ASCII characters, space (0x20) to tilde (0x7e).
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // space .. /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0 .. ?
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // @ .. O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // P .. _
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // ` .. o
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // p .. ~
];

/// The advance width of one character in 1/1000 em. Characters outside ASCII get the width of their glyph where
/// the report uses them, and a typical letter width otherwise.
fn char_width(font: Font, c: char) -> u16 {
    let table = match font {
        Font::Regular => &HELVETICA,
        Font::Bold => &HELVETICA_BOLD,
    };
    match c {
        ' '..='~' => table[c as usize - 0x20],
        '\u{b7}' => 278,    // middle dot
        '\u{d7}' => 584,    // multiplication sign
        '\u{2013}' => 556,  // en dash
        '\u{2026}' => 1000, // ellipsis
        '\u{2022}' => 350,  // bullet
        _ => 556,
    }
}

/// The width of `text` in points at `size` points.
pub(crate) fn text_width(text: &str, font: Font, size: f32) -> f32 {
    let units: u32 = text.chars().map(|c| u32::from(char_width(font, c))).sum();
    units as f32 * size / 1000.0
}

/// The characters WinAnsi has besides ASCII and Latin-1 (in its 0x80–0x9f range).
const WIN_ANSI_EXTRA: &str =
    "\u{20ac}\u{201a}\u{192}\u{201e}\u{2026}\u{2020}\u{2021}\u{2c6}\u{2030}\u{160}\u{2039}\u{152}\
    \u{17d}\u{2018}\u{2019}\u{201c}\u{201d}\u{2022}\u{2013}\u{2014}\u{2dc}\u{2122}\u{161}\u{203a}\u{153}\u{17e}\u{178}";

/// Replaces what the built-in fonts' WinAnsi encoding cannot show (and control characters) with `?`.
pub(crate) fn win_ansi(text: &str) -> String {
    text.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => c,
            _ if WIN_ANSI_EXTRA.contains(c) => c,
            _ => '?',
        })
        .collect()
}

/// `text` cut to fit `max_width` points, ending in an ellipsis when something was cut.
pub(crate) fn fit(text: &str, font: Font, size: f32, max_width: f32) -> String {
    let text = win_ansi(text);
    if text_width(&text, font, size) <= max_width {
        return text;
    }
    let budget = max_width - text_width("\u{2026}", font, size);
    let mut width = 0.0;
    let mut kept = String::new();
    for c in text.chars() {
        width += text_width(c.encode_utf8(&mut [0; 4]), font, size);
        if width > budget {
            break;
        }
        kept.push(c);
    }
    format!("{}\u{2026}", kept.trim_end())
}

/// `text` broken at spaces into at most `max_lines` lines of at most `max_width` points. A word wider than a line is
/// cut where it stops fitting; the last line ends in an ellipsis when the rest does not fit.
pub(crate) fn wrap(text: &str, font: Font, size: f32, max_width: f32, max_lines: usize) -> Vec<String> {
    let mut words: VecDeque<String> = win_ansi(text).split_whitespace().map(str::to_string).collect();
    let mut lines = Vec::new();
    while !words.is_empty() && lines.len() < max_lines {
        if lines.len() + 1 == max_lines {
            let rest: Vec<String> = words.drain(..).collect();
            lines.push(fit(&rest.join(" "), font, size, max_width));
            break;
        }
        let mut line = String::new();
        while let Some(word) = words.front_mut() {
            let candidate = if line.is_empty() { word.clone() } else { format!("{line} {word}") };
            if text_width(&candidate, font, size) <= max_width {
                line = candidate;
                words.pop_front();
            } else {
                if line.is_empty() {
                    let cut = split_at_width(word, font, size, max_width);
                    line = word[..cut].to_string();
                    word.replace_range(..cut, "");
                }
                break;
            }
        }
        lines.push(line);
    }
    lines
}

/// The byte index up to which `word` fits in `max_width` points; at least one character.
fn split_at_width(word: &str, font: Font, size: f32, max_width: f32) -> usize {
    let mut width = 0.0;
    for (index, c) in word.char_indices() {
        width += text_width(c.encode_utf8(&mut [0; 4]), font, size);
        if width > max_width {
            return if index == 0 { c.len_utf8() } else { index };
        }
    }
    word.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use printpdf::BuiltinFont;

    /// Compares the tables with the glyph widths of the font programs printpdf ships for the built-in fonts.
    #[test]
    fn metrics_match_printpdf_builtin_fonts() {
        for (font, builtin) in [(Font::Regular, BuiltinFont::Helvetica), (Font::Bold, BuiltinFont::HelveticaBold)] {
            let parsed = builtin.get_parsed_font().expect("builtin font parses");
            let mut compared = 0;
            for c in (' '..='~').chain(['\u{b7}', '\u{d7}', '\u{2013}', '\u{2026}', '\u{2022}']) {
                let Some(gid) = parsed.lookup_glyph_index(c as u32) else { continue };
                let Some(width) = parsed.get_glyph_width(gid) else { continue };
                let expected = (u32::from(width) * 1000 / u32::from(parsed.units_per_em)) as i32;
                let ours = i32::from(char_width(font, c));
                assert!((expected - ours).abs() <= 2, "{font:?} {c:?}: font says {expected}, table says {ours}");
                compared += 1;
            }
            assert!(compared > 90, "only {compared} glyphs compared for {font:?}");
        }
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        assert_eq!(fit("Cart", Font::Bold, 10.0, 100.0), "Cart");
        let cut = fit("A very long product name that will not fit", Font::Regular, 10.0, 60.0);
        assert!(cut.ends_with('\u{2026}'), "{cut}");
        assert!(text_width(&cut, Font::Regular, 10.0) <= 60.0);
        assert_eq!(win_ansi("caf\u{e9} \u{2192} \u{65e5}"), "caf\u{e9} ? ?");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_ellipsizes_the_last_line() {
        assert_eq!(wrap("Ridgeline 2 Tent", Font::Regular, 8.0, 84.0, 2), ["Ridgeline 2 Tent"]);
        assert_eq!(
            wrap("Summit Ultralight 1 Person Tent", Font::Regular, 8.0, 84.0, 2),
            ["Summit Ultralight 1", "Person Tent"]
        );
        let lines =
            wrap("The Extraordinarily Long Name Of A Very Small Enamel Camping Mug", Font::Regular, 8.0, 84.0, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('\u{2026}'), "{lines:?}");
        assert!(lines.iter().all(|line| text_width(line, Font::Regular, 8.0) <= 84.0));
        let unbroken = wrap("/a-very-long-path-without-any-spaces-at-all", Font::Regular, 8.0, 84.0, 2);
        assert_eq!(unbroken.len(), 2);
        assert!(wrap("", Font::Regular, 8.0, 84.0, 2).is_empty());
    }
}
