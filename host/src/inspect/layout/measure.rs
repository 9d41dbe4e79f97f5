//! Measuring: the size of each link's box from its text, and of each
//! namespace's box from its title and its rows of links.

use super::super::graph::{EdgeKind, NodeKind, Topology};
use super::{
    CHAR_W, CLUSTER_HEADER, CLUSTER_MIN_W, CLUSTER_PAD, LINE_H, NODE_MIN_W, NODE_PAD_X, NODE_PAD_Y,
    PORT, PORT_BAND, ROW_GAP, text_w, title_size,
};

/// How many ports each bridge has.
pub(super) fn port_counts(t: &Topology) -> Vec<usize> {
    let mut ports = vec![0usize; t.nodes.len()];
    for e in t.edges.iter().filter(|e| e.kind == EdgeKind::Port) {
        ports[e.from] += 1;
    }
    ports
}

/// Each link's box: wide enough for its text and its port squares.
pub(super) fn node_sizes(t: &Topology, ports: &[usize]) -> Vec<(f64, f64)> {
    t.nodes
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
        .collect()
}

/// Each namespace's box: its title, its note, its rows of links `gaps`
/// apart, widened by `extra`.
pub(super) fn cluster_sizes(
    t: &Topology,
    rows: &[Vec<Vec<usize>>],
    size: &[(f64, f64)],
    gaps: &[f64],
    extra: &[f64],
) -> Vec<(f64, f64)> {
    (0..t.clusters.len())
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
                    row.iter().map(|&n| size[n].0).sum::<f64>() + gaps[c] * (row.len() - 1) as f64;
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
        .collect()
}
