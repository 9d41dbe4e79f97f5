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

/// Splits rows wider than `max_w` into rows that fit, in order: a bridge
/// with many ports gets them on several rows rather than one endless one.
/// Returns the space between links in each namespace: where rows were
/// split, wide enough for the edges to lower rows to pass between links.
pub(super) fn wrap(rows: &mut [Vec<Vec<usize>>], size: &[(f64, f64)], max_w: f64) -> Vec<f64> {
    let mut gaps = vec![NODE_GAP; rows.len()];
    for (c, c_rows) in rows.iter_mut().enumerate() {
        let mut out: Vec<Vec<usize>> = Vec::new();
        for row in c_rows.drain(..) {
            let total: f64 = row.iter().map(|&n| size[n].0 + WRAPPED_GAP).sum();
            // As many rows as it takes, filled evenly.
            let parts = ((total / max_w).ceil() as usize).clamp(1, row.len().max(1));
            if parts > 1 {
                gaps[c] = WRAPPED_GAP;
            }
            let per = row.len().div_ceil(parts);
            out.extend(row.chunks(per.max(1)).map(<[usize]>::to_vec));
        }
        *c_rows = out;
    }
    gaps
}

/// The space between links in a namespace whose rows were split.
const WRAPPED_GAP: f64 = 48.0;

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
                    + self.row_gap[c] * (row.len() - 1) as f64;
                let mut x = ((cw - row_w) / 2.0).floor();
                let row_h = row.iter().map(|&n| self.size[n].1).fold(0.0, f64::max);
                for &n in row {
                    self.rel[n] = p(x, y);
                    x += self.size[n].0 + self.row_gap[c];
                }
                y += row_h + ROW_GAP;
            }
        }
    }

    fn node_abs_cx(&self, n: usize) -> f64 {
        let b = self.cluster_block[self.t.nodes[n].cluster];
        self.blocks[b].x + self.rel[n].x + self.size[n].0 / 2.0
    }

    /// Reorders each row to cross as few edges as it can, given where
    /// the other ends are now: every order when a row holds at most
    /// [`EXACT`] links, else the barycenter order improved by swapping
    /// neighbours while that removes crossings.
    pub(super) fn order_rows(&mut self) {
        let t = self.t;
        let row_of = row_of(&self.rows);
        let mut block_layer = vec![0usize; self.blocks.len()];
        for (k, l) in self.layers.iter().enumerate() {
            for &b in l {
                block_layer[b] = k;
            }
        }
        let cluster_block = self.cluster_block.clone();
        let level = |n: usize| {
            let c = t.nodes[n].cluster;
            (block_layer[cluster_block[c]], row_of[&n])
        };
        let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); t.nodes.len()];
        for e in &t.edges {
            neighbours[e.from].push(e.to);
            neighbours[e.to].push(e.from);
        }
        for c in 0..self.rows.len() {
            for r in 0..self.rows[c].len() {
                let row = self.rows[c][r].clone();
                // Each link's edges leaving the row: (goes down, x there,
                // stays inside the namespace).
                let ends: Vec<Vec<End>> = row
                    .iter()
                    .map(|&n| {
                        neighbours[n]
                            .iter()
                            .filter(|&&o| level(o) != level(n) || t.nodes[o].cluster != c)
                            .map(|&o| {
                                let inside = t.nodes[o].cluster == c;
                                (level(o) > level(n), self.node_abs_cx(o), inside)
                            })
                            .collect()
                    })
                    .collect();
                let mut keyed: Vec<(f64, usize)> = (0..row.len())
                    .map(|i| {
                        let xs = &ends[i];
                        let key = if xs.is_empty() {
                            self.node_abs_cx(row[i]) + i as f64 * 0.001
                        } else {
                            xs.iter().map(|e| e.1).sum::<f64>() / xs.len() as f64
                        };
                        (key, i)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
                let start: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
                let best = least_crossing(&start, &ends);
                self.rows[c][r] = best.into_iter().map(|i| row[i]).collect();
                // The next row orders against where this one is now, not
                // where it was (else two rows can swap past each other).
                self.place_rows();
            }
        }
    }
}

/// Rows up to this many links are ordered by trying every order.
pub(super) const EXACT: usize = 7;

/// An edge leaving a link of a row: whether it goes down, the x of its
/// other end, and whether that end is in the same namespace.
pub(super) type End = (bool, f64, bool);

/// How many edges cross between a row in `order` and the other ends; two
/// edges inside the namespace crossing count a hundred (those are what
/// the drawing promises to keep apart). Edges from one link never cross
/// each other: they leave it spread in the order of where they go.
pub(super) fn crossings(order: &[usize], ends: &[Vec<End>]) -> usize {
    let mut count = 0;
    for (i, &a) in order.iter().enumerate() {
        for &b in &order[i + 1..] {
            for &(down_a, xa, in_a) in &ends[a] {
                for &(down_b, xb, in_b) in &ends[b] {
                    if down_a == down_b && xa > xb + 0.5 {
                        count += if in_a && in_b { 100 } else { 1 };
                    }
                }
            }
        }
    }
    count
}

/// The order of a row with the fewest crossings, the first such found
/// from `start` (the barycenter order) on.
pub(super) fn least_crossing(start: &[usize], ends: &[Vec<End>]) -> Vec<usize> {
    let mut best = start.to_vec();
    let mut best_count = crossings(&best, ends);
    if best_count == 0 {
        return best;
    }
    if start.len() <= EXACT {
        let mut order = start.to_vec();
        permute(&mut order, 0, &mut |o| {
            let c = crossings(o, ends);
            if c < best_count {
                best_count = c;
                best = o.to_vec();
            }
        });
        return best;
    }
    // Swap neighbours while that helps (bounded: each pass removes one).
    let mut improved = true;
    while improved && best_count > 0 {
        improved = false;
        for i in 0..best.len() - 1 {
            best.swap(i, i + 1);
            let c = crossings(&best, ends);
            if c < best_count {
                best_count = c;
                improved = true;
            } else {
                best.swap(i, i + 1);
            }
        }
    }
    best
}

/// Calls `f` with every order of `v[k..]` (in lexicographic order of
/// positions, so orders near the start come first).
fn permute(v: &mut [usize], k: usize, f: &mut dyn FnMut(&[usize])) {
    if k == v.len() {
        f(v);
        return;
    }
    for i in k..v.len() {
        v[k..=i].rotate_right(1);
        permute(v, k + 1, f);
        v[k..=i].rotate_left(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_find_an_order_without_crossings_when_one_exists() {
        // Three links going down to x = 30, 10, 20: the order 1, 2, 0.
        let ends = vec![
            vec![(true, 30.0, true)],
            vec![(true, 10.0, true)],
            vec![(true, 20.0, true)],
        ];
        assert_eq!(crossings(&[0, 1, 2], &ends), 200);
        assert_eq!(least_crossing(&[0, 1, 2], &ends), vec![1, 2, 0]);
        // One up and down each way: the order that untangles both.
        let ends = vec![
            vec![(true, 10.0, false), (false, 50.0, false)],
            vec![(true, 20.0, false), (false, 40.0, false)],
        ];
        assert_eq!(crossings(&[0, 1], &ends), 1);
        assert_eq!(
            crossings(&least_crossing(&[0, 1], &ends), &ends),
            1,
            "no order avoids it"
        );
        // Inside the namespace first: one crossing outside it rather.
        let ends = vec![
            vec![(true, 10.0, true), (false, 50.0, false)],
            vec![(true, 20.0, true), (false, 40.0, false)],
        ];
        assert_eq!(least_crossing(&[1, 0], &ends), vec![0, 1]);
        // Beyond EXACT: swapping neighbours sorts a reversed row.
        let n = EXACT + 3;
        let ends: Vec<Vec<End>> = (0..n).map(|i| vec![(true, (n - i) as f64, true)]).collect();
        let start: Vec<usize> = (0..n).collect();
        assert_eq!(crossings(&least_crossing(&start, &ends), &ends), 0);
    }
}
