//! A small layered layout for lab topologies, so that netwasm can draw its
//! own SVG without Graphviz.
//!
//! Namespaces are laid out as boxes in layers (a Sugiyama-style layout one
//! level up): the namespace holding the busiest bridge goes on top, the
//! others follow by distance along veth pairs and parent links, and a
//! macvlan's namespace always sits below its parent's. Boxes in a layer
//! never overlap because they are placed side by side; edges that skip a
//! layer get a reserved corridor (a dummy block) in each layer they cross,
//! so no edge runs through a namespace it does not belong to. Inside a box,
//! links sit in rows: a bridge above its ports, a parent above its
//! children, links with neighbours below in the bottom row. Block orders
//! come from barycenter sweeps; each row of links takes the order that
//! crosses fewest edges (every order up to seven links, neighbour swaps
//! beyond); x positions come from an isotonic regression that pulls
//! connected links above each other without letting boxes overlap. A layer
//! wider than a 16:9 picture allows wraps onto sub-layers. Where links of
//! its own namespace lie in an edge's way, it passes them in a free column;
//! labels go where no other edge, link or label is.
//!
//! Why not a layout crate: see `docs/architecture.md` (neither `layout-rs`
//! nor `rust-sugiyama` draws namespaces as clusters).
//!
//! Text is measured as monospace (the SVG asks for a monospace font), so
//! sizes computed here hold in any browser.
//!
//! The phases, in order ([`layout`] runs them):
//! - `measure`: the size of each link's box and of each namespace's box;
//! - `layers`: which layer each namespace goes in, wrapped near 16:9;
//! - `rows`: the rows of links inside each namespace, their order and
//!   positions in the box;
//! - `blocks`: namespaces and corridors as blocks in layers, ordered by
//!   barycenter sweeps;
//! - `position`: the blocks' x positions (isotonic regression);
//! - `coords`: final coordinates on the canvas;
//! - `attach`: where each edge meets its links;
//! - `titles`: namespace titles beside the edges coming in, and the boxes;
//! - `route`: each edge's path and port square;
//! - `labels`: edge labels clear of other edges, and how far down the
//!   drawing reaches.

use super::graph::{Edge, EdgeKind, Topology};
use blocks::{Block, Link};

mod attach;
mod blocks;
mod coords;
mod labels;
mod layers;
mod measure;
mod position;
mod route;
mod rows;
mod titles;

#[cfg(test)]
mod tests;

/// Font size of link text, in px.
pub const FONT: f64 = 12.0;
/// Advance of one monospace character at [`FONT`] (DejaVu Sans Mono and
/// its kin measure 0.6 em; a little more leaves room for others).
pub const CHAR_W: f64 = 7.4;
/// Font size and character advance of namespace titles.
pub const TITLE_FONT: f64 = 13.0;
pub const TITLE_CHAR_W: f64 = 8.0;
/// Font size and character advance of edge labels.
pub const LABEL_FONT: f64 = 11.0;
pub const LABEL_CHAR_W: f64 = 6.8;
pub const LINE_H: f64 = 16.0;
pub const NODE_PAD_X: f64 = 10.0;
pub const NODE_PAD_Y: f64 = 7.0;
/// Side of a bridge's port square, and the band that holds them.
pub const PORT: f64 = 10.0;
pub const PORT_BAND: f64 = 16.0;
const NODE_MIN_W: f64 = 96.0;
const NODE_GAP: f64 = 24.0;
const ROW_GAP: f64 = 48.0;
const CLUSTER_PAD: f64 = 14.0;
const CLUSTER_HEADER: f64 = 30.0;
const CLUSTER_MIN_W: f64 = 150.0;
const CLUSTER_GAP: f64 = 40.0;
const CHANNEL: f64 = 86.0;
const SAME_LAYER_STEP: f64 = 10.0;
const DUMMY_W: f64 = 12.0;
pub const MARGIN: f64 = 20.0;
/// Height of the lab's title above the drawing.
pub const HEADER_H: f64 = 34.0;
/// Height and width of the legend below the drawing.
pub const LEGEND_H: f64 = 62.0;
pub const LEGEND_W: f64 = 780.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct P {
    pub x: f64,
    pub y: f64,
}

fn p(x: f64, y: f64) -> P {
    P { x, y }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    pub fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    /// Whether the interiors intersect (touching edges do not count).
    pub fn overlaps(&self, o: &Rect) -> bool {
        const E: f64 = 0.01;
        self.x + E < o.right()
            && o.x + E < self.right()
            && self.y + E < o.bottom()
            && o.y + E < self.bottom()
    }
    pub fn contains(&self, o: &Rect) -> bool {
        const E: f64 = 0.01;
        o.x + E >= self.x
            && o.y + E >= self.y
            && o.right() <= self.right() + E
            && o.bottom() <= self.bottom() + E
    }
}

/// One piece of an edge's path, from where the previous one ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seg {
    Line(P),
    Quad(P, P),
    Cubic(P, P, P),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRoute {
    pub start: P,
    pub segs: Vec<Seg>,
    /// Whether the path runs from the edge's `to` node to its `from` node.
    pub reversed: bool,
    /// Where the edge's label goes, when it has one drawn.
    pub label: Option<Rect>,
    /// The port square on a bridge, for a port edge.
    pub port: Option<Rect>,
}

impl EdgeRoute {
    pub fn end(&self) -> P {
        match self.segs.last() {
            Some(Seg::Line(e)) | Some(Seg::Quad(_, e)) | Some(Seg::Cubic(_, _, e)) => *e,
            None => self.start,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterBox {
    pub rect: Rect,
    pub title: Rect,
    /// Where a cluster without links shows its note.
    pub note: Option<Rect>,
}

/// Where everything goes, in px; the origin is the top left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub clusters: Vec<ClusterBox>,
    pub nodes: Vec<Rect>,
    pub edges: Vec<EdgeRoute>,
    /// The top left corner of the legend.
    pub legend: P,
}

pub fn text_w(s: &str, char_w: f64) -> f64 {
    s.chars().count() as f64 * char_w
}

/// Which edges get a label drawn on them in the SVG: parent edges between
/// namespaces (the macvlan mode) and tunnels (the VNI; the legend has no
/// room for them). Veths and ports are told apart by colour and the
/// legend; a parent edge inside a namespace is short, and its child's box
/// just below it names the same kind and mode.
pub fn labelled(t: &Topology, e: &Edge) -> bool {
    match e.kind {
        EdgeKind::Tunnel => true,
        EdgeKind::Parent => t.nodes[e.from].cluster != t.nodes[e.to].cluster,
        EdgeKind::Veth | EdgeKind::Port => false,
    }
}

fn title_size(title: &str) -> (f64, f64) {
    (text_w(title, TITLE_CHAR_W) + 8.0, 18.0)
}

fn label_size(label: &str) -> (f64, f64) {
    (text_w(label, LABEL_CHAR_W) + 8.0, 15.0)
}

/// The layout in progress: sizes, rows and blocks, moved about by the
/// phases until [`Work::finish`] fixes the coordinates.
struct Work<'a> {
    t: &'a Topology,
    size: Vec<(f64, f64)>,
    /// Each cluster's rows of nodes, top to bottom.
    rows: Vec<Vec<Vec<usize>>>,
    /// The space between links in a row, per cluster.
    row_gap: Vec<f64>,
    /// Each node's position inside its cluster box.
    rel: Vec<P>,
    cluster_size: Vec<(f64, f64)>,
    blocks: Vec<Block>,
    layers: Vec<Vec<usize>>,
    links: Vec<Link>,
    cluster_block: Vec<usize>,
}

/// Lays a topology out. Wide layers wrap at a width from the namespaces'
/// area; as wrapping moves whole namespaces, a few widths around it are
/// tried and the picture nearest 16:9 is kept.
pub fn layout(t: &Topology) -> Layout {
    let target = (16.0f64 / 9.0).ln();
    let off = |l: &Layout| ((l.width / l.height).ln() - target).abs();
    let tried: Vec<Layout> = [0.5, 0.65, 0.8, 1.0, 1.15, 1.3, 1.5, 1.7, 2.2, f64::INFINITY]
        .into_iter()
        .map(|wrap| layout_wrapped(t, wrap))
        .collect();
    // Of those about as near, the one wrapped least: each wrap costs
    // longer edges.
    let best = tried.iter().map(off).fold(f64::INFINITY, f64::min);
    tried
        .into_iter()
        .rev()
        .find(|l| off(l) <= best + 0.1)
        .expect("several tried")
}

/// Lays a topology out with layers wrapped at `wrap` times the width its
/// area gives.
fn layout_wrapped(t: &Topology, wrap: f64) -> Layout {
    // A namespace too narrow for its title beside the edges coming in from
    // above, or for the columns edges take past its links, is widened, and
    // the whole layout done again.
    let mut extra = vec![0.0; t.clusters.len()];
    for _ in 0..4 {
        let (l, short) = layout_with(t, &extra, wrap);
        if short.is_empty() {
            return l;
        }
        for (c, d) in short {
            extra[c] += d;
        }
    }
    layout_with(t, &extra, wrap).0
}

/// Lays a topology out with namespaces widened by `extra` and layers
/// wrapped at `wrap` times the width their area gives; also returns
/// the namespaces whose titles had to sit in an edge's way, or too narrow
/// for the columns edges take through them, with how much wider they need
/// to be.
fn layout_with(t: &Topology, extra: &[f64], wrap: f64) -> (Layout, Vec<(usize, f64)>) {
    let ports = measure::port_counts(t);
    let size = measure::node_sizes(t, &ports);
    let mut layering = layers::assign(t, &ports);
    let mut rows = rows::rows(t, &layering.layer);
    let gaps = vec![NODE_GAP; t.clusters.len()];
    let cluster_size = measure::cluster_sizes(t, &rows, &size, &gaps, extra);
    let max_w = layers::target_width(&cluster_size) * wrap;
    let gaps = rows::wrap(&mut rows, &size, max_w);
    let cluster_size = measure::cluster_sizes(t, &rows, &size, &gaps, extra);
    let widths: Vec<f64> = cluster_size.iter().map(|s| s.0).collect();
    layers::wrap(t, &mut layering, &widths, max_w);
    // Wrapping turns edges between namespaces side by side into edges
    // between layers, which moves links between rows.
    let mut rows = rows::rows(t, &layering.layer);
    let gaps = rows::wrap(&mut rows, &size, max_w);
    let cluster_size = measure::cluster_sizes(t, &rows, &size, &gaps, extra);
    let graph = blocks::build(t, &layering, &cluster_size);

    let mut w = Work {
        t,
        size,
        rows,
        row_gap: gaps,
        rel: vec![p(0.0, 0.0); t.nodes.len()],
        cluster_size,
        blocks: graph.blocks,
        layers: graph.layers,
        links: graph.links,
        cluster_block: graph.cluster_block,
    };
    w.order_blocks();
    w.place_rows();
    // Again, now that the links have places in their boxes.
    w.order_blocks();
    w.pack_layers();
    for _ in 0..4 {
        w.sweep_x();
        w.order_rows();
        w.place_rows();
    }
    w.sweep_x();
    w.finish(&layering.layer, &graph.dummies)
}

impl Work<'_> {
    /// Final coordinates, edge routes, titles and labels.
    fn finish(self, layer: &[usize], dummies: &[Vec<usize>]) -> (Layout, Vec<(usize, f64)>) {
        let t = self.t;
        let frame = self.frame(layer);
        let ends = attach::ends(t, layer, &self.rows);
        let mut attach = self.attachments(layer, &ends, dummies, &frame);
        let entering = titles::entering(t, &ends, &attach);
        let placed = titles::place(t, &frame, &entering);
        let (upper_x, lower_x) =
            attach::spread(&mut attach, &frame.nodes, &placed.free, t.edges.len());
        let routes = self.route(
            layer,
            dummies,
            &ends,
            &frame,
            &placed.titles,
            &upper_x,
            &lower_x,
        );
        let mut edges = routes.edges;
        let clusters = titles::boxes(t, &self.rows, &frame, &placed.titles);
        labels::place(t, &mut edges, &routes.label_curves, &frame.nodes, &clusters);

        let legend = p(MARGIN, labels::content_bottom(frame.bottom, &edges) + 24.0);
        let layout = Layout {
            width: frame.width,
            height: (legend.y + LEGEND_H).ceil(),
            clusters,
            nodes: frame.nodes,
            edges,
            legend,
        };
        let mut short = placed.short;
        short.extend(routes.wider);
        (layout, short)
    }
}

/// A point on a cubic Bézier curve.
pub fn bezier(c: &[P; 4], t: f64) -> P {
    let u = 1.0 - t;
    let (a, b, cc, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    p(
        a * c[0].x + b * c[1].x + cc * c[2].x + d * c[3].x,
        a * c[0].y + b * c[1].y + cc * c[2].y + d * c[3].y,
    )
}

/// A point on a quadratic Bézier curve.
fn quad(a: P, c: P, b: P, t: f64) -> P {
    let u = 1.0 - t;
    p(
        u * u * a.x + 2.0 * u * t * c.x + t * t * b.x,
        u * u * a.y + 2.0 * u * t * c.y + t * t * b.y,
    )
}

/// A path as a polyline: each curve cut into short straight pieces.
pub fn flatten(start: P, segs: &[Seg]) -> Vec<P> {
    const STEPS: usize = 16;
    let mut out = vec![start];
    let mut at = start;
    for s in segs {
        match *s {
            Seg::Line(q) => out.push(q),
            Seg::Quad(c, q) => {
                out.extend((1..=STEPS).map(|i| quad(at, c, q, i as f64 / STEPS as f64)));
            }
            Seg::Cubic(a, b, q) => {
                let c = [at, a, b, q];
                out.extend((1..=STEPS).map(|i| bezier(&c, i as f64 / STEPS as f64)));
            }
        }
        let (Seg::Line(q) | Seg::Quad(_, q) | Seg::Cubic(_, _, q)) = s;
        at = *q;
    }
    out
}

/// Whether the segment from `a` to `b` runs through the inside of `r`
/// (running along its border or touching it does not count).
pub fn segment_hits(a: P, b: P, r: &Rect) -> bool {
    const E: f64 = 0.5;
    let (x0, x1, y0, y1) = (r.x + E, r.right() - E, r.y + E, r.bottom() - E);
    if x0 >= x1 || y0 >= y1 {
        return false;
    }
    // Liang-Barsky: clip the segment to the rectangle.
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (pp, q) in [
        (-dx, a.x - x0),
        (dx, x1 - a.x),
        (-dy, a.y - y0),
        (dy, y1 - a.y),
    ] {
        if pp == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let r = q / pp;
            if pp < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    t0 < t1
}

/// Whether a polyline runs through the inside of `r`.
pub fn polyline_hits(points: &[P], r: &Rect) -> bool {
    points.windows(2).any(|w| segment_hits(w[0], w[1], r))
}
