//! Rows inside each namespace: a bridge above its ports, a parent above its
//! children, links with neighbours only below in the bottom row; then the
//! order of each row (by where the nodes' neighbours are) and the position
//! of each link inside its box.

use std::collections::HashMap;

use super::super::graph::Topology;
use super::{CLUSTER_HEADER, NODE_GAP, ROW_GAP, Work, p};

/// Each namespace's rows of links, top to bottom.
pub(super) fn rows(t: &Topology, layer: &[usize]) -> Vec<Vec<Vec<usize>>> {
    let nn = t.nodes.len();
    let cl = |n: usize| t.nodes[n].cluster;
    let internal: Vec<(usize, usize)> = t
        .edges
        .iter()
        .filter(|e| cl(e.from) == cl(e.to) && e.from != e.to)
        .map(|e| (e.from, e.to))
        .collect();
    let mut rank = ranks(nn, &internal);
    let (ext_up, ext_down) = outside_neighbours(t, layer);
    let mut rows: Vec<Vec<Vec<usize>>> = vec![Vec::new(); t.clusters.len()];
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
    rows
}

/// Each link's rank below the links above it in its own namespace.
fn ranks(nn: usize, internal: &[(usize, usize)]) -> Vec<usize> {
    let mut rank = vec![0usize; nn];
    for _ in 0..nn {
        let mut changed = false;
        for &(a, b) in internal {
            if rank[b] <= rank[a] && rank[a] < nn {
                rank[b] = rank[a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    rank
}

/// For each link, whether it has neighbours in other namespaces above it,
/// and below it (or beside it, in the same layer).
fn outside_neighbours(t: &Topology, layer: &[usize]) -> (Vec<bool>, Vec<bool>) {
    let nn = t.nodes.len();
    let cl = |n: usize| t.nodes[n].cluster;
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
    (ext_up, ext_down)
}

/// The row each link sits in, inside its namespace.
pub(super) fn row_of(rows: &[Vec<Vec<usize>>]) -> HashMap<usize, usize> {
    rows.iter()
        .flat_map(|rows| {
            rows.iter()
                .enumerate()
                .flat_map(|(r, row)| row.iter().map(move |&n| (n, r)))
        })
        .collect()
}

impl Work<'_> {
    /// Node positions inside their boxes, from the current row orders.
    pub(super) fn place_rows(&mut self) {
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

    fn node_abs_cx(&self, n: usize) -> f64 {
        let b = self.cluster_block[self.t.nodes[n].cluster];
        self.blocks[b].x + self.rel[n].x + self.size[n].0 / 2.0
    }

    /// Reorders each row by where its nodes' neighbours are.
    pub(super) fn order_rows(&mut self) {
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
}
