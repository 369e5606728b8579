//! A small drawing surface over printpdf's page operations, in points with the origin at the top left of an A4
//! page (printpdf's origin is the bottom left).

use printpdf::{
    BuiltinFont, Color, Line, LineCapStyle, LineDashPattern, LinePoint, Op, PaintMode, PdfFontHandle, Point, Polygon,
    PolygonRing, Pt, Rect, Rgb, TextItem, WindingOrder,
};

use super::metrics::{fit, text_width, win_ansi, Font};

/// A4 width in points.
pub(crate) const PAGE_W: f32 = 595.276;
/// A4 height in points.
pub(crate) const PAGE_H: f32 = 841.89;

/// Bézier handle length for a quarter circle of radius 1.
const KAPPA: f32 = 0.552_284_8;

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rgb8(pub u8, pub u8, pub u8);

impl Rgb8 {
    fn color(self) -> Color {
        Color::Rgb(Rgb::new(f32::from(self.0) / 255.0, f32::from(self.1) / 255.0, f32::from(self.2) / 255.0, None))
    }
}

/// How a shape is painted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Paint {
    /// Filled.
    Fill(Rgb8),
    /// Outlined with a line of the given width.
    Stroke(Rgb8, f32),
    /// Filled with the first colour and outlined with the second.
    FillStroke(Rgb8, Rgb8, f32),
}

/// Font, size in points and colour of a text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    font: Font,
    size: f32,
    color: Rgb8,
}

impl Style {
    /// A text style.
    pub const fn new(font: Font, size: f32, color: Rgb8) -> Self {
        Self { font, size, color }
    }
}

/// Where a text's `x` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

/// The operations of one page.
///
/// Consecutive texts share one text section, and a font or colour is set only when it changes: a timeline row
/// is five texts, and printpdf's cost (translating, formatting numbers, compressing) grows with every operation.
#[derive(Debug, Default)]
pub(crate) struct Canvas {
    ops: Vec<Op>,
    /// The font, size and colour in force when a text section is open.
    text_state: Option<TextState>,
}

/// What the open text section last set.
#[derive(Debug, Clone, Copy)]
struct TextState {
    font: Option<(Font, f32)>,
    color: Option<Rgb8>,
    /// Where the previous text started, which the next `Td` moves from.
    line_start: Option<Point>,
}

fn point(x: f32, y: f32) -> Point {
    Point { x: Pt(x), y: Pt(PAGE_H - y) }
}

fn corner(x: f32, y: f32) -> LinePoint {
    LinePoint { p: point(x, y), bezier: false }
}

fn handle(x: f32, y: f32) -> LinePoint {
    LinePoint { p: point(x, y), bezier: true }
}

impl Canvas {
    /// The page's operations, with any open text section closed.
    pub fn into_ops(mut self) -> Vec<Op> {
        self.end_text();
        self.ops
    }

    /// Closes the open text section: shapes and lines cannot be drawn inside one.
    fn end_text(&mut self) {
        if self.text_state.take().is_some() {
            self.ops.push(Op::EndTextSection);
        }
    }

    /// Sets colours and line width for `paint` and returns the paint mode to draw with.
    fn apply(&mut self, paint: Paint) -> PaintMode {
        self.end_text();
        let stroke = |ops: &mut Vec<Op>, color: Rgb8, width: f32| {
            ops.push(Op::SetOutlineColor { col: color.color() });
            ops.push(Op::SetOutlineThickness { pt: Pt(width) });
        };
        match paint {
            Paint::Fill(fill) => {
                self.ops.push(Op::SetFillColor { col: fill.color() });
                PaintMode::Fill
            }
            Paint::Stroke(color, width) => {
                stroke(&mut self.ops, color, width);
                PaintMode::Stroke
            }
            Paint::FillStroke(fill, color, width) => {
                self.ops.push(Op::SetFillColor { col: fill.color() });
                stroke(&mut self.ops, color, width);
                PaintMode::FillStroke
            }
        }
    }

    fn shape(&mut self, points: Vec<LinePoint>, paint: Paint) {
        let mode = self.apply(paint);
        self.ops.push(Op::DrawPolygon {
            polygon: Polygon { rings: vec![PolygonRing { points }], mode, winding_order: WindingOrder::NonZero },
        });
    }

    /// A rectangle; `(x, y)` is its top left corner.
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, paint: Paint) {
        let mode = self.apply(paint);
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(PAGE_H - y - h),
                width: Pt(w),
                height: Pt(h),
                mode: Some(mode),
                winding_order: Some(WindingOrder::NonZero),
            },
        });
    }

    /// A rectangle with corners rounded to radius `r`; `(x, y)` is its top left corner.
    pub fn rounded_rect(&mut self, x: f32, y: f32, w: f32, h: f32, r: f32, paint: Paint) {
        let r = r.min(w / 2.0).min(h / 2.0);
        let k = r * KAPPA;
        let (right, bottom) = (x + w, y + h);
        let points = vec![
            corner(x + r, y),
            corner(right - r, y),
            handle(right - r + k, y),
            handle(right, y + r - k),
            corner(right, y + r),
            corner(right, bottom - r),
            handle(right, bottom - r + k),
            handle(right - r + k, bottom),
            corner(right - r, bottom),
            corner(x + r, bottom),
            handle(x + r - k, bottom),
            handle(x, bottom - r + k),
            corner(x, bottom - r),
            corner(x, y + r),
            handle(x, y + r - k),
            handle(x + r - k, y),
            corner(x + r, y),
        ];
        self.shape(points, paint);
    }

    /// A circle around `(cx, cy)`.
    pub fn circle(&mut self, cx: f32, cy: f32, r: f32, paint: Paint) {
        let k = r * KAPPA;
        let points = vec![
            corner(cx, cy - r),
            handle(cx + k, cy - r),
            handle(cx + r, cy - k),
            corner(cx + r, cy),
            handle(cx + r, cy + k),
            handle(cx + k, cy + r),
            corner(cx, cy + r),
            handle(cx - k, cy + r),
            handle(cx - r, cy + k),
            corner(cx - r, cy),
            handle(cx - r, cy - k),
            handle(cx - k, cy - r),
            corner(cx, cy - r),
        ];
        self.shape(points, paint);
    }

    /// A small filled disc around `(cx, cy)`: a zero-length line with round caps, which PDF viewers must paint as
    /// a disc (ISO 32000-1, 8.5.3.2). It writes 10 numbers where a Bézier circle writes 29, and the timeline draws
    /// one per event.
    pub fn dot(&mut self, cx: f32, cy: f32, r: f32, color: Rgb8) {
        self.end_text();
        self.ops.push(Op::SetLineCapStyle { cap: LineCapStyle::Round });
        self.apply(Paint::Stroke(color, 2.0 * r));
        self.ops.push(Op::DrawLine { line: Line { points: vec![corner(cx, cy), corner(cx, cy)], is_closed: false } });
        self.ops.push(Op::SetLineCapStyle { cap: LineCapStyle::Butt });
    }

    /// A filled polygon through `points`.
    pub fn polygon(&mut self, points: &[(f32, f32)], fill: Rgb8) {
        self.shape(points.iter().map(|&(x, y)| corner(x, y)).collect(), Paint::Fill(fill));
    }

    /// An open line through `points`, dashed when `dash` is given (dash and gap lengths).
    pub fn line(&mut self, points: &[(f32, f32)], color: Rgb8, width: f32, dash: Option<&[f32]>) {
        self.end_text();
        if let Some(pattern) = dash {
            self.ops.push(Op::SetLineDashPattern { dash: LineDashPattern::new(0.0, pattern) });
        }
        self.apply(Paint::Stroke(color, width));
        self.ops.push(Op::DrawLine {
            line: Line { points: points.iter().map(|&(x, y)| corner(x, y)).collect(), is_closed: false },
        });
        if dash.is_some() {
            self.ops.push(Op::SetLineDashPattern { dash: LineDashPattern::solid() });
        }
    }

    /// An arrow from `from` to `to` with a filled head at `to`.
    pub fn arrow(&mut self, from: (f32, f32), to: (f32, f32), color: Rgb8, dash: Option<&[f32]>) {
        const HEAD: f32 = 5.5;
        let (dx, dy) = (to.0 - from.0, to.1 - from.1);
        let length = (dx * dx + dy * dy).sqrt().max(f32::EPSILON);
        let (ux, uy) = (dx / length, dy / length);
        let base = (to.0 - ux * HEAD, to.1 - uy * HEAD);
        self.line(&[from, base], color, 1.1, dash);
        let half = HEAD * 0.55;
        self.polygon(&[to, (base.0 - uy * half, base.1 + ux * half), (base.0 + uy * half, base.1 - ux * half)], color);
    }

    /// Left-aligned text, cut with an ellipsis to at most `max_width` points.
    pub fn text_fit(&mut self, x: f32, y: f32, text: &str, style: Style, max_width: f32) {
        let text = fit(text, style.font, style.size, max_width);
        self.text(x, y, &text, style, Align::Left);
    }

    /// One line of text; `y` is the baseline. Characters the built-in fonts cannot show become `?`.
    pub fn text(&mut self, x: f32, y: f32, text: &str, style: Style, align: Align) {
        let Style { font, size, color } = style;
        let text = win_ansi(text);
        let x = match align {
            Align::Left => x,
            Align::Center => x - text_width(&text, font, size) / 2.0,
            Align::Right => x - text_width(&text, font, size),
        };
        let builtin = match font {
            Font::Regular => BuiltinFont::Helvetica,
            Font::Bold => BuiltinFont::HelveticaBold,
        };
        let state = self.text_state.get_or_insert_with(|| {
            self.ops.push(Op::StartTextSection);
            TextState { font: None, color: None, line_start: None }
        });
        if state.font != Some((font, size)) {
            state.font = Some((font, size));
            self.ops.push(Op::SetFont { font: PdfFontHandle::Builtin(builtin), size: Pt(size) });
        }
        if state.color != Some(color) {
            state.color = Some(color);
            self.ops.push(Op::SetFillColor { col: color.color() });
        }
        // `Td` moves from the previous text's start within a section (from the origin for the first): two numbers
        // where an absolute `Tm` would write six.
        let at = point(x, y);
        let (dx, dy) = state.line_start.map_or((at.x.0, at.y.0), |from| (at.x.0 - from.x.0, at.y.0 - from.y.0));
        state.line_start = Some(at);
        self.ops.extend([
            Op::SetTextCursor { pos: Point { x: Pt(dx), y: Pt(dy) } },
            Op::ShowText { items: vec![TextItem::Text(text)] },
        ]);
    }
}
