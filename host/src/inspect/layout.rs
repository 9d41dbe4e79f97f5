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
//! children, links with neighbours below in the bottom row. Orders come from
//! barycenter sweeps; x positions from an isotonic regression that pulls
//! connected links above each other without letting boxes overlap.
//!
//! Text is measured as monospace (the SVG asks for a monospace font), so
//! sizes computed here hold in any browser.

use std::collections::HashMap;

use super::graph::{EdgeKind, NodeKind, Topology};

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
pub const LEGEND_H: f64 = 40.0;
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

/// Which edges get a label drawn on them in the SVG: parent edges (the
/// macvlan mode). Veths and ports are told apart by colour and the legend.
pub fn labelled(kind: EdgeKind) -> bool {
    kind == EdgeKind::Parent
}

fn title_size(title: &str) -> (f64, f64) {
    (text_w(title, TITLE_CHAR_W) + 8.0, 18.0)
}

fn label_size(label: &str) -> (f64, f64) {
    (text_w(label, LABEL_CHAR_W) + 8.0, 15.0)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BlockKind {
    Cluster(usize),
    Dummy,
}

#[derive(Debug, Clone)]
struct Block {
    kind: BlockKind,
    comp: usize,
    w: f64,
    /// Left edge.
    x: f64,
    /// Position in the initial order, to keep sorts stable and meaningful.
    key: f64,
}

/// A connection between two blocks in adjacent layers, at points given as
/// offsets from each block's left edge (found through `upper_node` and
/// `lower_node`, or the middle of a dummy).
#[derive(Debug, Clone, Copy)]
struct Link {
    upper: usize,
    lower: usize,
    upper_node: Option<usize>,
    lower_node: Option<usize>,
}

struct Work<'a> {
    t: &'a Topology,
    size: Vec<(f64, f64)>,
    /// Each cluster's rows of nodes, top to bottom.
    rows: Vec<Vec<Vec<usize>>>,
    /// Each node's position inside its cluster box.
    rel: Vec<P>,
    cluster_size: Vec<(f64, f64)>,
    blocks: Vec<Block>,
    layers: Vec<Vec<usize>>,
    links: Vec<Link>,
    cluster_block: Vec<usize>,
}

/// Lays a topology out.
pub fn layout(t: &Topology) -> Layout {
    // A namespace too narrow for its title beside the edges coming in from
    // above is widened, and the whole layout done again.
    let mut extra = vec![0.0; t.clusters.len()];
    for _ in 0..4 {
        let (l, short) = layout_with(t, &extra);
        if short.is_empty() {
            return l;
        }
        for (c, d) in short {
            extra[c] += d;
        }
    }
    layout_with(t, &extra).0
}

/// Lays a topology out with namespaces widened by `extra`; also returns
/// the namespaces whose titles had to sit in an edge's way, with how much
/// wider they need to be.
fn layout_with(t: &Topology, extra: &[f64]) -> (Layout, Vec<(usize, f64)>) {
    let nn = t.nodes.len();
    let nc = t.clusters.len();
    let cl = |n: usize| t.nodes[n].cluster;

    let mut ports = vec![0usize; nn];
    for e in t.edges.iter().filter(|e| e.kind == EdgeKind::Port) {
        ports[e.from] += 1;
    }
    let size: Vec<(f64, f64)> = t
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let lines = n.lines();
            let w = lines.iter().map(|l| text_w(l, CHAR_W)).fold(0.0, f64::max) + 2.0 * NODE_PAD_X;
            let port_w = ports[i] as f64 * (PORT + 12.0) + 12.0;
            let mut h = lines.len() as f64 * LINE_H + 2.0 * NODE_PAD_Y;
            if n.kind == NodeKind::Bridge {
                h += PORT_BAND;
            }
            (w.max(NODE_MIN_W).max(port_w).ceil(), h)
        })
        .collect();

    // Layers of namespaces.
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); nc];
    let mut down: Vec<(usize, usize)> = Vec::new();
    for e in &t.edges {
        let (a, b) = (cl(e.from), cl(e.to));
        if a != b {
            adj[a].push(b);
            adj[b].push(a);
            if e.kind == EdgeKind::Parent {
                down.push((a, b));
            }
        }
    }
    let mut comp = vec![usize::MAX; nc];
    let mut ncomp = 0;
    let mut layer = vec![0usize; nc];
    for start in 0..nc {
        if comp[start] != usize::MAX {
            continue;
        }
        let mut members = vec![start];
        comp[start] = ncomp;
        let mut i = 0;
        while i < members.len() {
            let c = members[i];
            for &o in &adj[c] {
                if comp[o] == usize::MAX {
                    comp[o] = ncomp;
                    members.push(o);
                }
            }
            i += 1;
        }
        members.sort_unstable();
        // The root: the namespace with the busiest bridge, else the best
        // connected one; never one whose links hang off another's.
        let score = |c: usize| -> i64 {
            let mut s = adj[c].len() as i64;
            for (i, n) in t.nodes.iter().enumerate() {
                if n.cluster == c && n.kind == NodeKind::Bridge && ports[i] > 0 {
                    s += 1000 + 10 * ports[i] as i64;
                }
            }
            if down.iter().any(|&(_, b)| b == c) {
                s -= 100_000;
            }
            s
        };
        let mut root = members[0];
        for &c in &members {
            if score(c) > score(root) {
                root = c;
            }
        }
        let mut dist: HashMap<usize, usize> = HashMap::from([(root, 0)]);
        let mut queue = vec![root];
        let mut i = 0;
        while i < queue.len() {
            let c = queue[i];
            let mut next = adj[c].clone();
            next.sort_unstable();
            let d = dist[&c];
            for o in next {
                if let std::collections::hash_map::Entry::Vacant(v) = dist.entry(o) {
                    v.insert(d + 1);
                    queue.push(o);
                }
            }
            i += 1;
        }
        for &c in &members {
            layer[c] = dist[&c];
        }
        ncomp += 1;
    }
    for _ in 0..nc {
        let mut changed = false;
        for &(a, b) in &down {
            if layer[b] <= layer[a] {
                layer[b] = layer[a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut used = layer.clone();
    used.sort_unstable();
    used.dedup();
    for l in &mut layer {
        *l = used.binary_search(l).unwrap_or(0);
    }
    let nl = used.len().max(1);

    // Rows inside each namespace.
    let mut rank = vec![0usize; nn];
    let internal: Vec<(usize, usize)> = t
        .edges
        .iter()
        .filter(|e| cl(e.from) == cl(e.to) && e.from != e.to)
        .map(|e| (e.from, e.to))
        .collect();
    for _ in 0..nn {
        let mut changed = false;
        for &(a, b) in &internal {
            if rank[b] <= rank[a] && rank[a] < nn {
                rank[b] = rank[a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let (mut ext_up, mut ext_down) = (vec![false; nn], vec![false; nn]);
    for e in &t.edges {
        let (la, lb) = (layer[cl(e.from)], layer[cl(e.to)]);
        if cl(e.from) == cl(e.to) {
            continue;
        }
        if la < lb {
            ext_down[e.from] = true;
            ext_up[e.to] = true;
        } else if la > lb {
            ext_up[e.from] = true;
            ext_down[e.to] = true;
        } else {
            ext_down[e.from] = true;
            ext_down[e.to] = true;
        }
    }
    let mut rows: Vec<Vec<Vec<usize>>> = vec![Vec::new(); nc];
    for (c, c_rows) in rows.iter_mut().enumerate() {
        let members: Vec<usize> = (0..nn).filter(|&n| cl(n) == c).collect();
        let max_rank = members.iter().map(|&n| rank[n]).max().unwrap_or(0);
        for &n in &members {
            // A link with neighbours only below and nothing under it in
            // its own namespace goes to the bottom row.
            let has_out = internal.iter().any(|&(a, _)| a == n);
            if !has_out && ext_down[n] && !ext_up[n] {
                rank[n] = max_rank;
            }
        }
        let mut by_rank: Vec<Vec<usize>> = vec![Vec::new(); max_rank + 1];
        for &n in &members {
            by_rank[rank[n]].push(n);
        }
        *c_rows = by_rank.into_iter().filter(|r| !r.is_empty()).collect();
    }

    // Namespace box sizes.
    let cluster_size: Vec<(f64, f64)> = (0..nc)
        .map(|c| {
            let cluster = &t.clusters[c];
            let mut w = title_size(&cluster.title()).0 + 20.0;
            if let Some(note) = cluster.note() {
                w = w.max(text_w(&note, CHAR_W));
            }
            let mut h = CLUSTER_HEADER;
            if rows[c].is_empty() {
                h += LINE_H;
            }
            for (r, row) in rows[c].iter().enumerate() {
                let row_w: f64 =
                    row.iter().map(|&n| size[n].0).sum::<f64>() + NODE_GAP * (row.len() - 1) as f64;
                w = w.max(row_w);
                h += row.iter().map(|&n| size[n].1).fold(0.0, f64::max);
                if r > 0 {
                    h += ROW_GAP;
                }
            }
            (
                ((w + 2.0 * CLUSTER_PAD).max(CLUSTER_MIN_W) + extra[c]).ceil(),
                h + CLUSTER_PAD,
            )
        })
        .collect();

    // Blocks: namespaces, and a corridor for each layer an edge skips.
    let mut blocks: Vec<Block> = Vec::new();
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); nl];
    let mut cluster_block = vec![0usize; nc];
    for c in 0..nc {
        blocks.push(Block {
            kind: BlockKind::Cluster(c),
            comp: comp[c],
            w: cluster_size[c].0,
            x: 0.0,
            key: c as f64,
        });
        cluster_block[c] = blocks.len() - 1;
        layers[layer[c]].push(blocks.len() - 1);
    }
    let mut links: Vec<Link> = Vec::new();
    let mut dummies: Vec<Vec<usize>> = vec![Vec::new(); t.edges.len()];
    for (ei, e) in t.edges.iter().enumerate() {
        let (ca, cb) = (cl(e.from), cl(e.to));
        if ca == cb || layer[ca] == layer[cb] {
            continue;
        }
        let (top, bottom) = if layer[ca] < layer[cb] {
            (e.from, e.to)
        } else {
            (e.to, e.from)
        };
        let (lt, lb) = (layer[cl(top)], layer[cl(bottom)]);
        let mut prev = (cluster_block[cl(top)], Some(top));
        for layer_blocks in layers.iter_mut().take(lb).skip(lt + 1) {
            let key = (ca.min(cb)) as f64 + 0.5;
            blocks.push(Block {
                kind: BlockKind::Dummy,
                comp: comp[ca],
                w: DUMMY_W,
                x: 0.0,
                key,
            });
            let b = blocks.len() - 1;
            layer_blocks.push(b);
            dummies[ei].push(b);
            links.push(Link {
                upper: prev.0,
                lower: b,
                upper_node: prev.1,
                lower_node: None,
            });
            prev = (b, None);
        }
        links.push(Link {
            upper: prev.0,
            lower: cluster_block[cl(bottom)],
            upper_node: prev.1,
            lower_node: Some(bottom),
        });
    }
    for l in &mut layers {
        l.sort_by(|a, b| {
            (blocks[*a].comp, blocks[*a].key)
                .partial_cmp(&(blocks[*b].comp, blocks[*b].key))
                .unwrap()
        });
    }

    let mut w = Work {
        t,
        size,
        rows,
        rel: vec![p(0.0, 0.0); nn],
        cluster_size,
        blocks,
        layers,
        links,
        cluster_block,
    };
    w.order_blocks();
    w.place_rows();
    w.pack_layers();
    for _ in 0..4 {
        w.sweep_x();
        w.order_rows();
        w.place_rows();
    }
    w.sweep_x();
    w.finish(&layer, &dummies)
}

/// Pool-adjacent-violators: the non-decreasing sequence closest (least
/// squares) to `target`.
fn isotonic(target: &[f64]) -> Vec<f64> {
    // Each pool: (sum, count).
    let mut pools: Vec<(f64, f64, usize)> = Vec::new();
    for &v in target {
        pools.push((v, 1.0, 1));
        while pools.len() > 1 {
            let (s2, c2, n2) = pools[pools.len() - 1];
            let (s1, c1, n1) = pools[pools.len() - 2];
            if s1 / c1 <= s2 / c2 {
                break;
            }
            pools.pop();
            let last = pools.len() - 1;
            pools[last] = (s1 + s2, c1 + c2, n1 + n2);
        }
    }
    pools
        .into_iter()
        .flat_map(|(s, c, n)| std::iter::repeat_n(s / c, n))
        .collect()
}

impl Work<'_> {
    fn gap(&self, a: usize, b: usize) -> f64 {
        match (self.blocks[a].kind, self.blocks[b].kind) {
            (BlockKind::Dummy, BlockKind::Dummy) => 8.0,
            (BlockKind::Dummy, _) | (_, BlockKind::Dummy) => 18.0,
            _ => CLUSTER_GAP,
        }
    }

    /// Barycenter sweeps over block orders.
    fn order_blocks(&mut self) {
        for _ in 0..6 {
            for downward in [true, false] {
                let range: Vec<usize> = if downward {
                    (1..self.layers.len()).collect()
                } else {
                    (0..self.layers.len().saturating_sub(1)).rev().collect()
                };
                for k in range {
                    let reference = if downward { k - 1 } else { k + 1 };
                    let pos: HashMap<usize, usize> = self.layers[reference]
                        .iter()
                        .enumerate()
                        .map(|(i, b)| (*b, i))
                        .collect();
                    let mut keyed: Vec<(usize, f64, usize)> = Vec::new();
                    for (i, &b) in self.layers[k].iter().enumerate() {
                        let ns: Vec<f64> = self
                            .links
                            .iter()
                            .filter_map(|l| {
                                let other = if l.upper == b {
                                    l.lower
                                } else if l.lower == b {
                                    l.upper
                                } else {
                                    return None;
                                };
                                pos.get(&other).map(|&x| x as f64)
                            })
                            .collect();
                        let bary = if ns.is_empty() {
                            i as f64
                        } else {
                            ns.iter().sum::<f64>() / ns.len() as f64
                        };
                        keyed.push((self.blocks[b].comp, bary, b));
                    }
                    keyed.sort_by(|a, b| (a.0, a.1).partial_cmp(&(b.0, b.1)).unwrap());
                    self.layers[k] = keyed.into_iter().map(|(_, _, b)| b).collect();
                }
            }
        }
    }

    /// Node positions inside their boxes, from the current row orders.
    fn place_rows(&mut self) {
        for c in 0..self.rows.len() {
            let (cw, _) = self.cluster_size[c];
            let mut y = CLUSTER_HEADER;
            for row in &self.rows[c] {
                let row_w: f64 = row.iter().map(|&n| self.size[n].0).sum::<f64>()
                    + NODE_GAP * (row.len() - 1) as f64;
                let mut x = ((cw - row_w) / 2.0).floor();
                let row_h = row.iter().map(|&n| self.size[n].1).fold(0.0, f64::max);
                for &n in row {
                    self.rel[n] = p(x, y);
                    x += self.size[n].0 + NODE_GAP;
                }
                y += row_h + ROW_GAP;
            }
        }
    }

    /// The x of a link's attachment point relative to its block.
    fn offset(&self, block: usize, node: Option<usize>) -> f64 {
        match node {
            Some(n) => self.rel[n].x + self.size[n].0 / 2.0,
            None => self.blocks[block].w / 2.0,
        }
    }

    fn node_abs_cx(&self, n: usize) -> f64 {
        let b = self.cluster_block[self.t.nodes[n].cluster];
        self.blocks[b].x + self.rel[n].x + self.size[n].0 / 2.0
    }

    /// Places each layer packed and centered, as a start.
    fn pack_layers(&mut self) {
        for k in 0..self.layers.len() {
            let mut x = 0.0;
            let order = self.layers[k].clone();
            for (i, &b) in order.iter().enumerate() {
                if i > 0 {
                    x += self.gap(order[i - 1], b);
                }
                self.blocks[b].x = x;
                x += self.blocks[b].w;
            }
            for &b in &order {
                self.blocks[b].x -= x / 2.0;
            }
        }
    }

    /// Moves a layer's blocks as close as they can get to `desired` left
    /// edges, in order, without overlapping.
    fn place_layer(&mut self, k: usize, desired: &[f64]) {
        let order = self.layers[k].clone();
        let mut offsets = Vec::with_capacity(order.len());
        let mut acc = 0.0;
        for (i, &b) in order.iter().enumerate() {
            if i > 0 {
                acc += self.blocks[order[i - 1]].w + self.gap(order[i - 1], b);
            }
            offsets.push(acc);
        }
        let target: Vec<f64> = desired.iter().zip(&offsets).map(|(d, o)| d - o).collect();
        let fit = isotonic(&target);
        for (i, &b) in order.iter().enumerate() {
            self.blocks[b].x = fit[i] + offsets[i];
        }
    }

    /// Down, up and down again: each layer moves under (or over) what it
    /// connects to.
    fn sweep_x(&mut self) {
        let nl = self.layers.len();
        let passes: Vec<(usize, bool)> = (1..nl)
            .map(|k| (k, true))
            .chain((0..nl.saturating_sub(1)).rev().map(|k| (k, false)))
            .chain((1..nl).map(|k| (k, true)))
            .collect();
        for (k, from_above) in passes {
            let desired: Vec<f64> = self.layers[k]
                .iter()
                .map(|&b| {
                    let mut sum = 0.0;
                    let mut count = 0.0;
                    for l in &self.links {
                        let (me_node, other, other_node) = if from_above && l.lower == b {
                            (l.lower_node, l.upper, l.upper_node)
                        } else if !from_above && l.upper == b {
                            (l.upper_node, l.lower, l.lower_node)
                        } else {
                            continue;
                        };
                        sum += self.blocks[other].x + self.offset(other, other_node)
                            - self.offset(b, me_node);
                        count += 1.0;
                    }
                    if count > 0.0 {
                        sum / count
                    } else {
                        self.blocks[b].x
                    }
                })
                .collect();
            self.place_layer(k, &desired);
        }
    }

    /// Reorders each row by where its nodes' neighbours are.
    fn order_rows(&mut self) {
        let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); self.t.nodes.len()];
        for e in &self.t.edges {
            neighbours[e.from].push(e.to);
            neighbours[e.to].push(e.from);
        }
        for c in 0..self.rows.len() {
            for r in 0..self.rows[c].len() {
                let row = self.rows[c][r].clone();
                let mut keyed: Vec<(f64, usize)> = row
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| {
                        let xs: Vec<f64> =
                            neighbours[n].iter().map(|&o| self.node_abs_cx(o)).collect();
                        let key = if xs.is_empty() {
                            self.node_abs_cx(n) + i as f64 * 0.001
                        } else {
                            xs.iter().sum::<f64>() / xs.len() as f64
                        };
                        (key, n)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
                self.rows[c][r] = keyed.into_iter().map(|(_, n)| n).collect();
            }
        }
    }

    /// Final coordinates, edge routes, titles and labels.
    fn finish(self, layer: &[usize], dummies: &[Vec<usize>]) -> (Layout, Vec<(usize, f64)>) {
        let t = self.t;
        let nl = self.layers.len();
        let cl = |n: usize| t.nodes[n].cluster;

        // Vertical: layers, with a channel under each for the edges.
        let mut same_layer_edges = vec![0usize; nl];
        for e in &t.edges {
            let (ca, cb) = (cl(e.from), cl(e.to));
            if ca != cb && layer[ca] == layer[cb] {
                same_layer_edges[layer[ca]] += 1;
            }
        }
        let mut layer_top = vec![0.0; nl];
        let mut layer_bottom = vec![0.0; nl];
        let mut y = MARGIN + HEADER_H;
        for k in 0..nl {
            layer_top[k] = y;
            let h = self.layers[k]
                .iter()
                .filter_map(|&b| match self.blocks[b].kind {
                    BlockKind::Cluster(c) => Some(self.cluster_size[c].1),
                    BlockKind::Dummy => None,
                })
                .fold(0.0, f64::max);
            layer_bottom[k] = y + h;
            y += h + CHANNEL + SAME_LAYER_STEP * same_layer_edges[k] as f64;
        }
        let bottom = if nl > 0 { layer_bottom[nl - 1] } else { y };

        // Left-aligned at the margin, or centred when the legend or the
        // title makes the canvas wider than the drawing.
        let min_x = self
            .blocks
            .iter()
            .map(|b| b.x)
            .fold(f64::INFINITY, f64::min);
        let max_x = self
            .blocks
            .iter()
            .map(|b| b.x + b.w)
            .fold(f64::NEG_INFINITY, f64::max);
        let drawing_w = if min_x.is_finite() {
            max_x - min_x
        } else {
            0.0
        };
        let width = (drawing_w + 2.0 * MARGIN)
            .max(LEGEND_W + 2.0 * MARGIN)
            .max(text_w(&format!("lab {}", t.lab), TITLE_CHAR_W) + 2.0 * MARGIN)
            .ceil();
        let centring = ((width - 2.0 * MARGIN - drawing_w) / 2.0).floor();
        let shift = if min_x.is_finite() {
            MARGIN + centring - min_x
        } else {
            MARGIN
        };
        let block_x = |b: usize| (self.blocks[b].x + shift).round();

        let clusters_rect: Vec<Rect> = (0..t.clusters.len())
            .map(|c| {
                let (w, h) = self.cluster_size[c];
                Rect {
                    x: block_x(self.cluster_block[c]),
                    y: layer_top[layer[c]],
                    w,
                    h,
                }
            })
            .collect();
        let nodes: Vec<Rect> = (0..t.nodes.len())
            .map(|n| {
                let c = &clusters_rect[cl(n)];
                Rect {
                    x: c.x + self.rel[n].x,
                    y: c.y + self.rel[n].y,
                    w: self.size[n].0,
                    h: self.size[n].1,
                }
            })
            .collect();
        let row_of: HashMap<usize, usize> = self
            .rows
            .iter()
            .flat_map(|rows| {
                rows.iter()
                    .enumerate()
                    .flat_map(|(r, row)| row.iter().map(move |&n| (n, r)))
            })
            .collect();

        // Which side of each node an edge leaves from, and the x of the
        // next point along it (to order attachments and avoid crossings).
        #[derive(Clone, Copy, PartialEq)]
        enum Side {
            Top,
            Bottom,
        }
        struct Ends {
            upper: usize,
            lower: usize,
            upper_side: Side,
            lower_side: Side,
        }
        let ends: Vec<Ends> = t
            .edges
            .iter()
            .map(|e| {
                let (ca, cb) = (cl(e.from), cl(e.to));
                let (a_first, same_level) = if ca == cb {
                    (
                        row_of[&e.from] <= row_of[&e.to],
                        row_of[&e.from] == row_of[&e.to],
                    )
                } else {
                    (layer[ca] <= layer[cb], layer[ca] == layer[cb])
                };
                let (upper, lower) = if a_first {
                    (e.from, e.to)
                } else {
                    (e.to, e.from)
                };
                let lower_side = if same_level { Side::Bottom } else { Side::Top };
                Ends {
                    upper,
                    lower,
                    upper_side: Side::Bottom,
                    lower_side,
                }
            })
            .collect();
        let dummy_cx = |b: usize| block_x(b) + self.blocks[b].w / 2.0;
        // (node, on its top side) -> (x of the next point, edge, whether
        // the node is the edge's upper end)
        type Attachments = HashMap<(usize, bool), Vec<(f64, usize, bool)>>;
        let mut attach: Attachments = HashMap::new();
        for (ei, en) in ends.iter().enumerate() {
            let first_dummy = dummies[ei].first().map(|&b| dummy_cx(b));
            let last_dummy = dummies[ei].last().map(|&b| dummy_cx(b));
            let toward_lower = first_dummy.unwrap_or(nodes[en.lower].cx());
            let toward_upper = last_dummy.unwrap_or(nodes[en.upper].cx());
            attach
                .entry((en.upper, en.upper_side == Side::Top))
                .or_default()
                .push((toward_lower, ei, true));
            attach
                .entry((en.lower, en.lower_side == Side::Top))
                .or_default()
                .push((toward_upper, ei, false));
        }

        // Titles go where no edge comes in from above: left, right or
        // centred, and the edges coming in from above a namespace land on
        // their links beside its title, not through it.
        let mut entering: Vec<Vec<(usize, usize)>> = vec![Vec::new(); t.clusters.len()];
        for (n, top) in attach.keys() {
            if *top {
                let from_outside = attach[&(*n, true)]
                    .iter()
                    .filter(|(_, ei, _)| cl(ends[*ei].upper) != cl(*n))
                    .count();
                if from_outside > 0 {
                    entering[cl(*n)].push((*n, attach[&(*n, true)].len()));
                }
            }
        }
        let mut free: HashMap<usize, (f64, f64)> = HashMap::new();
        let mut short: Vec<(usize, f64)> = Vec::new();
        let titles: Vec<Rect> = t
            .clusters
            .iter()
            .enumerate()
            .map(|(c, cluster)| {
                let r = clusters_rect[c];
                let (w, h) = title_size(&cluster.title());
                let mut chosen = None;
                for x in [r.x + 10.0, r.right() - 10.0 - w, r.cx() - w / 2.0] {
                    let (t0, t1) = (x - 8.0, x + w + 8.0);
                    let mut ranges = Vec::new();
                    for &(n, k) in &entering[c] {
                        let (a, b) = (nodes[n].x + 6.0, nodes[n].right() - 6.0);
                        let range = if b <= t0 || a >= t1 {
                            (a, b)
                        } else if t0 - a >= b - t1 {
                            (a, t0.min(b))
                        } else {
                            (t1.max(a), b)
                        };
                        if range.1 - range.0 < 6.0 * (k as f64 - 1.0) || range.1 < range.0 {
                            ranges.clear();
                            break;
                        }
                        ranges.push((n, range));
                    }
                    if ranges.len() == entering[c].len() {
                        free.extend(ranges);
                        chosen = Some(x);
                        break;
                    }
                }
                if chosen.is_none() {
                    // With the title on the left: how far the links coming
                    // in fall short of clearing it. Widening the box by
                    // twice that moves its centred rows far enough right.
                    let need = entering[c]
                        .iter()
                        .map(|&(n, k)| {
                            r.x + 10.0 + w + 8.0 + 6.0 * (k as f64 - 1.0) - (nodes[n].right() - 6.0)
                        })
                        .fold(0.0, f64::max);
                    short.push((c, 2.0 * need + 4.0));
                }
                Rect {
                    x: chosen.unwrap_or(r.x + 10.0),
                    y: r.y + 6.0,
                    w,
                    h,
                }
            })
            .collect();

        let mut upper_x = vec![0.0; t.edges.len()];
        let mut lower_x = vec![0.0; t.edges.len()];
        for ((n, top), list) in &mut attach {
            list.sort_by(|a, b| (a.0, a.1).partial_cmp(&(b.0, b.1)).unwrap());
            let r = nodes[*n];
            let (a, b) = match free.get(n) {
                Some(range) if *top => *range,
                _ => (r.x, r.right()),
            };
            let k = list.len() as f64;
            for (i, (_, ei, is_upper)) in list.iter().enumerate() {
                let x = if *top && free.contains_key(n) && k == 1.0 {
                    ((a + b) / 2.0).round()
                } else if *top && free.contains_key(n) {
                    (a + (b - a) * i as f64 / (k - 1.0)).round()
                } else {
                    (a + (b - a) * (i as f64 + 1.0) / (k + 1.0)).round()
                };
                if *is_upper {
                    upper_x[*ei] = x;
                } else {
                    lower_x[*ei] = x;
                }
            }
        }

        let mut edges: Vec<EdgeRoute> = Vec::new();
        // For each edge, the curve its label may sit on.
        let mut label_curves: Vec<Option<[P; 4]>> = Vec::new();
        let mut same_layer_seen = vec![0usize; nl];
        for (ei, e) in t.edges.iter().enumerate() {
            let en = &ends[ei];
            let (u, l) = (nodes[en.upper], nodes[en.lower]);
            let (xu, xl) = (upper_x[ei], lower_x[ei]);
            let start = p(xu, u.bottom());
            let mut segs = Vec::new();
            let mut curve = None;
            let (cu, cl_) = (cl(en.upper), cl(en.lower));
            if en.lower_side == Side::Bottom {
                // Side by side: down, across under the row or layer, up.
                let base = if cu == cl_ {
                    u.bottom().max(l.bottom()) + 20.0
                } else {
                    let k = layer[cu];
                    same_layer_seen[k] += 1;
                    layer_bottom[k] + 14.0 + SAME_LAYER_STEP * same_layer_seen[k] as f64
                };
                let r = ((xl - xu).abs() / 2.0).min(8.0);
                let dir = if xl >= xu { 1.0 } else { -1.0 };
                segs.push(Seg::Line(p(xu, base - r)));
                segs.push(Seg::Quad(p(xu, base), p(xu + dir * r, base)));
                segs.push(Seg::Line(p(xl - dir * r, base)));
                segs.push(Seg::Quad(p(xl, base), p(xl, base - r)));
                segs.push(Seg::Line(p(xl, l.bottom())));
                let mid = (xu + xl) / 2.0;
                curve = Some([
                    p(mid, base + 10.0),
                    p(mid, base + 10.0),
                    p(mid, base + 10.0),
                    p(mid, base + 10.0),
                ]);
            } else if cu == cl_ {
                let (y0, y1) = (u.bottom(), l.y);
                let ym = (y0 + y1) / 2.0;
                let c = [start, p(xu, ym), p(xl, ym), p(xl, y1)];
                segs.push(Seg::Cubic(c[1], c[2], c[3]));
                curve = Some(c);
            } else {
                let mut at = start;
                let mut k = layer[cu];
                let mut waypoints: Vec<(f64, usize)> = dummies[ei]
                    .iter()
                    .map(|&b| (dummy_cx(b), 0))
                    .collect::<Vec<_>>();
                for (i, w) in waypoints.iter_mut().enumerate() {
                    w.1 = layer[cu] + 1 + i;
                }
                waypoints.push((xl, layer[cl_]));
                for (x, next) in waypoints {
                    let y0 = layer_bottom[k];
                    if (at.y - y0).abs() > 0.01 {
                        segs.push(Seg::Line(p(at.x, y0)));
                    }
                    let y1 = layer_top[next];
                    let ym = (y0 + y1) / 2.0;
                    let c = [p(at.x, y0), p(at.x, ym), p(x, ym), p(x, y1)];
                    segs.push(Seg::Cubic(c[1], c[2], c[3]));
                    if curve.is_none() {
                        curve = Some(c);
                    }
                    at = p(x, y1);
                    k = next;
                }
                segs.push(Seg::Line(p(xl, l.y)));
            }
            let port = (e.kind == EdgeKind::Port).then(|| {
                let bridge = if en.upper == e.from { (xu, u) } else { (xl, l) };
                Rect {
                    x: bridge.0 - PORT / 2.0,
                    y: bridge.1.bottom() - PORT - 3.0,
                    w: PORT,
                    h: PORT,
                }
            });
            edges.push(EdgeRoute {
                start,
                segs,
                reversed: en.upper != e.from,
                label: None,
                port,
            });
            label_curves.push(curve);
        }
        let clusters: Vec<ClusterBox> = t
            .clusters
            .iter()
            .enumerate()
            .map(|(c, cluster)| {
                let r = clusters_rect[c];
                let note = cluster
                    .note()
                    .filter(|_| self.rows[c].is_empty())
                    .map(|n| Rect {
                        x: r.x + CLUSTER_PAD,
                        y: r.y + CLUSTER_HEADER - 4.0,
                        w: text_w(&n, CHAR_W),
                        h: LINE_H,
                    });
                ClusterBox {
                    rect: r,
                    title: titles[c],
                    note,
                }
            })
            .collect();

        // Labels: along their curve, wherever they hit nothing.
        let mut taken: Vec<Rect> = nodes.clone();
        taken.extend(clusters.iter().map(|c| c.title));
        taken.extend(clusters.iter().filter_map(|c| c.note));
        for (ei, e) in t.edges.iter().enumerate() {
            if !labelled(e.kind) {
                continue;
            }
            let Some(c) = label_curves[ei] else { continue };
            let (w, h) = label_size(&e.label);
            let mut chosen = None;
            'search: for tt in [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8] {
                let at = bezier(&c, tt);
                for dx in [0.0, w / 2.0 + 6.0, -(w / 2.0 + 6.0), w + 8.0, -(w + 8.0)] {
                    let r = Rect {
                        x: (at.x - w / 2.0 + dx).round(),
                        y: (at.y - h / 2.0).round(),
                        w,
                        h,
                    };
                    if !taken.iter().any(|o| o.overlaps(&r)) {
                        chosen = Some(r);
                        break 'search;
                    }
                }
            }
            let r = chosen.unwrap_or_else(|| {
                let at = bezier(&c, 0.5);
                Rect {
                    x: (at.x - w / 2.0).round(),
                    y: (at.y - h / 2.0).round(),
                    w,
                    h,
                }
            });
            taken.push(r);
            edges[ei].label = Some(r);
        }

        let mut content_bottom = bottom;
        for e in &edges {
            if let Some(l) = e.label {
                content_bottom = content_bottom.max(l.bottom());
            }
            for s in &e.segs {
                let (Seg::Line(q) | Seg::Quad(_, q) | Seg::Cubic(_, _, q)) = s;
                content_bottom = content_bottom.max(q.y);
                if let Seg::Quad(q, _) = s {
                    content_bottom = content_bottom.max(q.y);
                }
            }
        }
        let legend = p(MARGIN, content_bottom + 24.0);
        let layout = Layout {
            width,
            height: (legend.y + LEGEND_H).ceil(),
            clusters,
            nodes,
            edges,
            legend,
        };
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

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::super::graph::tests::seed_view;
    use super::*;

    /// Every property the drawing promises: boxes apart, links inside their
    /// namespace, text clear of boxes and of other text, all on the canvas,
    /// and every edge running from one of its nodes to the other.
    fn check(t: &Topology, l: &Layout) {
        // NETWASM_SVG_DUMP=DIR writes each drawing there, to look at.
        if let Some(dir) = std::env::var_os("NETWASM_SVG_DUMP") {
            let first = t.clusters.first().map_or("", |c| c.name.as_str());
            let name = format!("{}-{first}-{}.svg", t.lab, t.nodes.len());
            std::fs::write(
                std::path::Path::new(&dir).join(name),
                super::super::svg::render(t, l),
            )
            .unwrap();
        }
        let canvas = Rect {
            x: 0.0,
            y: 0.0,
            w: l.width,
            h: l.height,
        };
        for (i, a) in l.clusters.iter().enumerate() {
            assert!(canvas.contains(&a.rect), "namespace {i} off the canvas");
            assert!(
                a.rect.contains(&a.title),
                "title of namespace {i} outside its box"
            );
            for b in &l.clusters[i + 1..] {
                assert!(!a.rect.overlaps(&b.rect), "namespaces overlap: {a:?} {b:?}");
            }
        }
        for (i, n) in l.nodes.iter().enumerate() {
            let c = &l.clusters[t.nodes[i].cluster];
            assert!(
                c.rect.contains(n),
                "link {} outside its namespace",
                t.nodes[i].name
            );
            assert!(
                !c.title.overlaps(n),
                "link {} under its namespace's title",
                t.nodes[i].name
            );
            for (j, m) in l.nodes.iter().enumerate().skip(i + 1) {
                assert!(
                    !n.overlaps(m),
                    "links {} and {} overlap",
                    t.nodes[i].name,
                    t.nodes[j].name
                );
            }
        }
        let mut texts: Vec<(String, Rect)> = Vec::new();
        for (i, c) in l.clusters.iter().enumerate() {
            texts.push((format!("title {i}"), c.title));
            if let Some(n) = c.note {
                texts.push((format!("note {i}"), n));
            }
        }
        for (i, e) in l.edges.iter().enumerate() {
            if let Some(r) = e.label {
                assert!(canvas.contains(&r), "label {i} off the canvas");
                texts.push((format!("label {i}"), r));
                for (j, n) in l.nodes.iter().enumerate() {
                    assert!(
                        !r.overlaps(n),
                        "label of edge {i} over link {}",
                        t.nodes[j].name
                    );
                }
            }
            assert_eq!(e.label.is_some(), labelled(t.edges[i].kind));
            let (from, to) = (l.nodes[t.edges[i].from], l.nodes[t.edges[i].to]);
            let (a, b) = if e.reversed { (to, from) } else { (from, to) };
            let on =
                |q: P, r: Rect| q.x >= r.x && q.x <= r.right() && (q.y == r.y || q.y == r.bottom());
            assert!(
                on(e.start, a),
                "edge {i} does not start on its node: {:?} {a:?}",
                e.start
            );
            let lower = if e.reversed {
                t.edges[i].from
            } else {
                t.edges[i].to
            };
            let upper = if e.reversed {
                t.edges[i].to
            } else {
                t.edges[i].from
            };
            let title = l.clusters[t.nodes[lower].cluster].title;
            if t.nodes[lower].cluster != t.nodes[upper].cluster && e.end().y == b.y {
                let x = e.end().x;
                assert!(
                    x < title.x || x > title.right(),
                    "edge {i} runs through the title of its namespace"
                );
            }
            assert!(
                on(e.end(), b),
                "edge {i} does not end on its node: {:?} {b:?}",
                e.end()
            );
        }
        for (i, (na, a)) in texts.iter().enumerate() {
            for (nb, b) in &texts[i + 1..] {
                assert!(!a.overlaps(b), "{na} and {nb} overlap: {a:?} {b:?}");
            }
        }
    }

    #[test]
    fn seed_lab_in_both_modes() {
        // Short and long names: titles wider than the links below them.
        for (prefix, mode) in [
            ("lab1", "bridge"),
            ("lab1", "vepa"),
            ("insp-bridge", "bridge"),
            ("a-much-longer-lab-prefix", "vepa"),
        ] {
            let t = Topology::from_view(&seed_view(prefix, mode));
            let l = layout(&t);
            check(&t, &l);
            let c = |name: &str| {
                let name = name.replace("lab1", prefix);
                l.clusters[t.clusters.iter().position(|c| c.name == name).unwrap()].rect
            };
            // The switch on top, the hosts below it, the children below theirs.
            assert!(c("lab1-lan").bottom() < c("lab1-net1").y);
            assert!(c("lab1-lan").bottom() < c("lab1-test").y);
            assert!(c("lab1-net1").bottom() < c("lab1-ns1").y);
            assert!(c("lab1-net1").bottom() < c("lab1-ns2").y);
            assert_eq!(c("lab1-ns1").y, c("lab1-ns2").y);
        }
    }

    #[test]
    fn long_edges_get_corridors_and_same_layer_edges_go_around() {
        let t = fixtures::chain();
        let l = layout(&t);
        check(&t, &l);
    }

    #[test]
    fn a_wide_switch_and_missing_namespaces() {
        let t = fixtures::wide();
        let l = layout(&t);
        check(&t, &l);
    }

    #[test]
    fn empty_and_single() {
        let t = fixtures::empty();
        let l = layout(&t);
        check(&t, &l);
        assert!(l.width > 0.0 && l.height > 0.0);
        let t = fixtures::single();
        check(&t, &layout(&t));
    }

    #[test]
    fn isotonic_fits() {
        assert_eq!(isotonic(&[1.0, 2.0, 3.0]), vec![1.0, 2.0, 3.0]);
        assert_eq!(isotonic(&[3.0, 1.0]), vec![2.0, 2.0]);
        assert_eq!(isotonic(&[0.0, 5.0, 1.0, 0.0]), vec![0.0, 2.0, 2.0, 2.0]);
    }
}
