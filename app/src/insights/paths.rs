//! The top paths: how visits move through the shop's first pages, as a flow diagram (Sankey-style) and a table.
//!
//! The worker keeps each visit's path (its first [`PATH_PAGES`] pages, a page shown again straight after itself
//! being one step) and how many visits made each path. The diagram has a column per step, the busiest pages of
//! each step as its nodes (the rest folded into one), and a band from each page to the next as wide as the
//! visits that took it. What leaves a node by no band is the visits that ended there. The geometry is computed
//! here, once, for the page's SVG and the PDF alike.

use serde::{Deserialize, Serialize};

/// The pages of a visit's path that count.
pub const PATH_PAGES: usize = 5;
/// The busiest pages a column shows; the others are one node.
pub const NODES_PER_STEP: usize = 5;

/// Visits whose `step`th page (from 1) was `source`, followed by `target` (`None`: the path ends there).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathLink {
    pub step: i32,
    pub source: String,
    pub target: Option<String>,
    pub visits: i64,
}

/// A whole path (a visit's first pages) and how many visits made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopPath {
    pub pages: Vec<String>,
    pub visits: i64,
}

impl TopPath {
    /// The path as the admin reads it: `/ → /products → /product/tent`.
    pub fn label(&self) -> String {
        self.pages.join(" \u{2192} ")
    }

    /// The path as the visit list's `path` filter takes it: the pages, separated by spaces (a page is a URL
    /// path, which holds none).
    pub fn filter(&self) -> String {
        self.pages.join(" ")
    }
}

/// A node of the diagram: a page at a step (`None`: the step's other pages), and the visits there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowNode {
    pub page: Option<String>,
    pub visits: i64,
}

impl FlowNode {
    pub fn label(&self) -> &str {
        self.page.as_deref().unwrap_or("Other pages")
    }
}

/// A band between two consecutive columns: from the `source`th node of `column` to the `target`th of the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowBand {
    pub column: usize,
    pub source: usize,
    pub target: usize,
    pub visits: i64,
}

/// The diagram's data: per step, its nodes (busiest first, the folded ones last), and the bands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub columns: Vec<Vec<FlowNode>>,
    pub bands: Vec<FlowBand>,
}

impl Flow {
    /// The diagram of `links`, keeping `per_step` pages in each column.
    pub fn of(links: &[PathLink], per_step: usize) -> Flow {
        let steps = links.iter().map(|link| link.step).max().unwrap_or(0).max(0) as usize;
        // A node's visits are those whose path had it at its step: its links, the exit included.
        let mut columns: Vec<Vec<FlowNode>> = vec![Vec::new(); steps];
        for link in links.iter().filter(|link| link.step >= 1) {
            let column = &mut columns[link.step as usize - 1];
            match column.iter_mut().find(|node| node.page.as_deref() == Some(link.source.as_str())) {
                Some(node) => node.visits += link.visits,
                None => column.push(FlowNode { page: Some(link.source.clone()), visits: link.visits }),
            }
        }
        for column in &mut columns {
            column.sort_by(|a, b| b.visits.cmp(&a.visits).then_with(|| a.page.cmp(&b.page)));
            if column.len() > per_step {
                let folded: i64 = column.drain(per_step..).map(|node| node.visits).sum();
                column.push(FlowNode { page: None, visits: folded });
            }
        }
        // A page's node in a column, or the folded one.
        let index = |columns: &[Vec<FlowNode>], column: usize, page: &str| {
            let nodes = &columns[column];
            nodes
                .iter()
                .position(|node| node.page.as_deref() == Some(page))
                .or_else(|| nodes.iter().position(|node| node.page.is_none()))
        };
        let mut bands: Vec<FlowBand> = Vec::new();
        for link in links.iter().filter(|link| link.step >= 1 && (link.step as usize) < steps) {
            let Some(target) = &link.target else { continue };
            let column = link.step as usize - 1;
            let (Some(source), Some(target)) =
                (index(&columns, column, &link.source), index(&columns, column + 1, target))
            else {
                continue;
            };
            match bands.iter_mut().find(|band| (band.column, band.source, band.target) == (column, source, target)) {
                Some(band) => band.visits += link.visits,
                None => bands.push(FlowBand { column, source, target, visits: link.visits }),
            }
        }
        bands.sort_by_key(|band| (band.column, band.source, band.target));
        Flow { columns, bands }
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Where everything goes in a `width` × `height` drawing (y downwards).
    pub fn layout(&self, width: f64, height: f64) -> FlowLayout {
        const NODE_W: f64 = 10.0;
        const GAP: f64 = 14.0;
        let count = self.columns.len();
        let x_of = |column: usize| if count > 1 { column as f64 * (width - NODE_W) / (count - 1) as f64 } else { 0.0 };
        // One scale for every column, so a band is as wide at both ends and later steps show the visits lost.
        let scale = self
            .columns
            .iter()
            .filter(|column| !column.is_empty())
            .map(|column| {
                let visits: i64 = column.iter().map(|node| node.visits).sum();
                (height - GAP * (column.len() - 1) as f64) / visits.max(1) as f64
            })
            .fold(f64::INFINITY, f64::min);
        let scale = if scale.is_finite() { scale.max(0.0) } else { 0.0 };
        let mut nodes = Vec::new();
        for (column, members) in self.columns.iter().enumerate() {
            let mut y = 0.0;
            for node in members {
                let size = (node.visits as f64 * scale).max(1.0);
                let last = column + 1 == count && count > 1;
                nodes.push(NodeBox {
                    column,
                    x: x_of(column),
                    y,
                    width: NODE_W,
                    height: size,
                    label: format!("{} ({})", shorten(node.label(), 28), node.visits),
                    label_x: if last { x_of(column) - 4.0 } else { x_of(column) + NODE_W + 4.0 },
                    label_at_end: last,
                    page: node.page.clone(),
                    visits: node.visits,
                });
                y += size + GAP;
            }
        }
        // A node's place in `nodes`, which lists the columns one after another.
        let flat = |column: usize, index: usize| self.columns[..column].iter().map(Vec::len).sum::<usize>() + index;
        let node_at = |column: usize, index: usize| &nodes[flat(column, index)];
        // Bands leave a node in the order of their targets and enter one in the order of their sources.
        let mut out_used = vec![0.0; nodes.len()];
        let mut in_used = vec![0.0; nodes.len()];
        let mut entering: Vec<&FlowBand> = self.bands.iter().collect();
        entering.sort_by_key(|band| (band.column, band.target, band.source));
        let mut enter_at = std::collections::HashMap::new();
        for band in entering {
            let to = flat(band.column + 1, band.target);
            enter_at.insert((band.column, band.source, band.target), in_used[to]);
            in_used[to] += band.visits as f64 * scale;
        }
        let bands = self
            .bands
            .iter()
            .map(|band| {
                let (from, to) = (node_at(band.column, band.source), node_at(band.column + 1, band.target));
                let thickness = (band.visits as f64 * scale).max(1.0);
                let from_flat = flat(band.column, band.source);
                let y0 = from.y + out_used[from_flat] + thickness / 2.0;
                out_used[from_flat] += band.visits as f64 * scale;
                let y1 = to.y + enter_at[&(band.column, band.source, band.target)] + thickness / 2.0;
                BandCurve {
                    x0: from.x + from.width,
                    y0,
                    x1: to.x,
                    y1,
                    thickness,
                    title: format!("{} \u{2192} {}: {} visits", from.page_label(), to.page_label(), band.visits),
                }
            })
            .collect();
        FlowLayout { width, height, nodes, bands }
    }
}

/// `text` cut to `chars` characters, with an ellipsis when cut.
fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        format!("{}\u{2026}", text.chars().take(chars - 1).collect::<String>())
    }
}

/// The diagram placed in a drawing.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowLayout {
    pub width: f64,
    pub height: f64,
    /// Column by column, top to bottom.
    pub nodes: Vec<NodeBox>,
    pub bands: Vec<BandCurve>,
}

/// A node's box and its label (`label_x` is where the label starts, or ends when `label_at_end`).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeBox {
    pub column: usize,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub label: String,
    pub label_x: f64,
    pub label_at_end: bool,
    pub page: Option<String>,
    pub visits: i64,
}

impl NodeBox {
    fn page_label(&self) -> &str {
        self.page.as_deref().unwrap_or("Other pages")
    }
}

/// A band: a horizontal S-curve from (`x0`, `y0`) to (`x1`, `y1`), `thickness` wide.
#[derive(Clone, Debug, PartialEq)]
pub struct BandCurve {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
    pub thickness: f64,
    pub title: String,
}

impl BandCurve {
    /// The curve as an SVG path (a cubic Bézier with its handles half way across).
    pub fn svg_path(&self) -> String {
        let middle = (self.x0 + self.x1) / 2.0;
        format!(
            "M{:.1} {:.1}C{middle:.1} {:.1} {middle:.1} {:.1} {:.1} {:.1}",
            self.x0, self.y0, self.y0, self.y1, self.x1, self.y1
        )
    }

    /// `segments + 1` points along the same curve (for a drawing without curves).
    pub fn points(&self, segments: usize) -> Vec<(f64, f64)> {
        let middle = (self.x0 + self.x1) / 2.0;
        (0..=segments)
            .map(|n| {
                let t = n as f64 / segments.max(1) as f64;
                let u = 1.0 - t;
                let x = u * u * u * self.x0 + 3.0 * u * u * t * middle + 3.0 * u * t * t * middle + t * t * t * self.x1;
                let y =
                    u * u * u * self.y0 + 3.0 * u * u * t * self.y0 + 3.0 * u * t * t * self.y1 + t * t * t * self.y1;
                (x, y)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(step: i32, source: &str, target: Option<&str>, visits: i64) -> PathLink {
        PathLink { step, source: source.into(), target: target.map(Into::into), visits }
    }

    /// Ten visits: 6 home → search (4 on to the tent, 2 stop), 3 home only, 1 straight to the tent.
    fn sample() -> Vec<PathLink> {
        vec![
            link(1, "/", Some("/products"), 6),
            link(1, "/", None, 3),
            link(1, "/product/tent", None, 1),
            link(2, "/products", Some("/product/tent"), 4),
            link(2, "/products", None, 2),
            link(3, "/product/tent", None, 4),
        ]
    }

    #[test]
    fn a_column_counts_the_visits_at_its_step_and_bands_join_consecutive_steps() {
        let flow = Flow::of(&sample(), NODES_PER_STEP);
        let column =
            |n: usize| -> Vec<(&str, i64)> { flow.columns[n].iter().map(|node| (node.label(), node.visits)).collect() };
        assert_eq!(column(0), vec![("/", 9), ("/product/tent", 1)]);
        assert_eq!(column(1), vec![("/products", 6)]);
        assert_eq!(column(2), vec![("/product/tent", 4)]);
        assert_eq!(
            flow.bands,
            vec![
                FlowBand { column: 0, source: 0, target: 0, visits: 6 },
                FlowBand { column: 1, source: 0, target: 0, visits: 4 },
            ]
        );
    }

    #[test]
    fn the_quiet_pages_of_a_step_fold_into_one_node_and_keep_their_bands() {
        let flow = Flow::of(&sample(), 1);
        assert_eq!(
            flow.columns[0],
            vec![FlowNode { page: Some("/".into()), visits: 9 }, FlowNode { page: None, visits: 1 },]
        );
        let mut links = sample();
        links.push(link(1, "/about", Some("/products"), 2));
        links[3].visits += 2;
        let flow = Flow::of(&links, 1);
        assert_eq!(flow.columns[0][1], FlowNode { page: None, visits: 3 });
        assert!(flow.bands.contains(&FlowBand { column: 0, source: 1, target: 0, visits: 2 }), "{:?}", flow.bands);
    }

    #[test]
    fn the_layout_shares_one_scale_and_fits_the_drawing() {
        let layout = Flow::of(&sample(), NODES_PER_STEP).layout(600.0, 300.0);
        assert_eq!(layout.nodes.len(), 4);
        for node in &layout.nodes {
            assert!(node.y >= 0.0 && node.y + node.height <= 300.0 + 1e-6, "{node:?}");
            assert!(node.x >= 0.0 && node.x + node.width <= 600.0 + 1e-6, "{node:?}");
        }
        // Home (9 visits) is 9 times as tall as the tent's 1 visit in the first column.
        let (home, tent) = (&layout.nodes[0], &layout.nodes[1]);
        assert!((home.height / tent.height - 9.0).abs() < 1e-9);
        // A band is as thick as its visits on the same scale, and leaves from the right edge of its source.
        let band = &layout.bands[0];
        assert!((band.thickness / home.height - 6.0 / 9.0).abs() < 1e-9);
        assert_eq!(band.x0, home.x + home.width);
        assert_eq!(band.title, "/ \u{2192} /products: 6 visits");
        assert!(band.svg_path().starts_with("M10.0 "), "{}", band.svg_path());
        let points = band.points(8);
        assert_eq!(points.first(), Some(&(band.x0, band.y0)));
        assert_eq!(points.last(), Some(&(band.x1, band.y1)));
        // The last column's labels end at its nodes.
        assert!(layout.nodes[3].label_at_end);
        assert_eq!(layout.nodes[3].label, "/product/tent (4)");
    }

    #[test]
    fn no_paths_make_an_empty_diagram_and_paths_read_naturally() {
        let flow = Flow::of(&[], NODES_PER_STEP);
        assert!(flow.is_empty());
        assert!(flow.layout(600.0, 300.0).nodes.is_empty());
        let path = TopPath { pages: vec!["/".into(), "/products".into()], visits: 3 };
        assert_eq!(path.label(), "/ \u{2192} /products");
        assert_eq!(path.filter(), "/ /products");
        assert_eq!(shorten("/product/a-very-long-product-name-indeed", 12), "/product/a-\u{2026}");
    }
}
