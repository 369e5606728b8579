//! The report's look: its colours, and the layout of its pages shared by the cover, the path and the timeline.

use crate::journey::draw::{Rgb8, PAGE_H, PAGE_W};

pub(super) const NAVY: Rgb8 = Rgb8(0x12, 0x35, 0x5b);
pub(super) const NAVY_MID: Rgb8 = Rgb8(0x4d, 0x6d, 0x92);
pub(super) const NAVY_PALE: Rgb8 = Rgb8(0xa9, 0xbb, 0xd0);
pub(super) const NAVY_TINT: Rgb8 = Rgb8(0xe6, 0xed, 0xf5);
pub(super) const AMBER: Rgb8 = Rgb8(0xff, 0xb7, 0x03);
pub(super) const AMBER_DEEP: Rgb8 = Rgb8(0xa8, 0x6f, 0x00);
pub(super) const AMBER_TINT: Rgb8 = Rgb8(0xff, 0xf3, 0xd1);
pub(super) const GREEN: Rgb8 = Rgb8(0x2a, 0x9d, 0x8f);
pub(super) const GREEN_TINT: Rgb8 = Rgb8(0xe0, 0xf2, 0xef);
pub(super) const RED: Rgb8 = Rgb8(0xc2, 0x4b, 0x3c);
pub(super) const INK: Rgb8 = Rgb8(0x1f, 0x29, 0x33);
pub(super) const MUTED: Rgb8 = Rgb8(0x6b, 0x77, 0x85);
pub(super) const RULE: Rgb8 = Rgb8(0xd9, 0xde, 0xe4);
pub(super) const WASH: Rgb8 = Rgb8(0xf4, 0xf6, 0xf8);
pub(super) const WHITE: Rgb8 = Rgb8(0xff, 0xff, 0xff);

/// Left and right margin.
pub(super) const MARGIN: f32 = 48.0;
pub(super) const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Content stops here; the footer is below.
pub(super) const CONTENT_BOTTOM: f32 = PAGE_H - 62.0;
/// Where the content of a page with a section heading starts.
pub(super) const SECTION_TOP: f32 = 128.0;
/// Where the path's first row of boxes starts, leaving room for the arrow from the previous page.
pub(super) const PATH_TOP: f32 = 140.0;

/// Path boxes per row.
pub(super) const COLUMNS: usize = 4;
pub(super) const BOX_W: f32 = 104.0;
pub(super) const BOX_H: f32 = 64.0;
pub(super) const ROW_GAP: f32 = 34.0;

/// Timeline row height, and the column offsets and widths.
pub(super) const ROW_H: f32 = 15.5;
pub(super) const TABLE_HEADER_H: f32 = 20.0;
pub(super) const COL_TIME: (f32, f32) = (0.0, 50.0);
pub(super) const COL_EVENT: (f32, f32) = (50.0, 92.0);
pub(super) const COL_PAGE: (f32, f32) = (142.0, 140.0);
pub(super) const COL_DETAIL: (f32, f32) = (282.0, CONTENT_W - 282.0);
