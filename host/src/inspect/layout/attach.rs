//! Where edges meet their links: which end of an edge is upper, which side
//! of each link it leaves from, and where along that side, spread out in
//! the order of where the edges go (so they do not cross).

use std::collections::HashMap;

use super::super::graph::Topology;
use super::coords::Frame;
use super::{Rect, Work, route, rows};

/// A side of a link's box.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Side {
    Top,
    Bottom,
}

/// An edge's two ends, upper first, and the side each leaves from.
pub(super) struct Ends {
    pub upper: usize,
    pub lower: usize,
    pub upper_side: Side,
    pub lower_side: Side,
}

/// (node, on its top side) -> (x of the next point, edge, whether the node
/// is the edge's upper end)
pub(super) type Attachments = HashMap<(usize, bool), Vec<(f64, usize, bool)>>;

/// Each edge's ends: the one in the higher row or layer is upper; edges
/// between links side by side leave both from the bottom.
pub(super) fn ends(t: &Topology, layer: &[usize], rows: &[Vec<Vec<usize>>]) -> Vec<Ends> {
    let cl = |n: usize| t.nodes[n].cluster;
    let row_of = rows::row_of(rows);
    t.edges
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
        .collect()
}

impl Work<'_> {
    /// The edges on each side of each link, with the x of the next point
    /// along each (to order attachments and avoid crossings).
    pub(super) fn attachments(
        &self,
        layer: &[usize],
        ends: &[Ends],
        dummies: &[Vec<usize>],
        frame: &Frame,
    ) -> Attachments {
        let t = self.t;
        let nodes = &frame.nodes;
        let cl = |n: usize| t.nodes[n].cluster;
        let in_way = |c, skip, y0, y1| route::in_way(t, frame, c, skip, y0, y1);
        let columns = route::within_columns(t, ends, frame);
        let mut attach: Attachments = HashMap::new();
        for (ei, en) in ends.iter().enumerate() {
            let first_dummy = dummies[ei].first().map(|&b| self.dummy_cx(frame.shift, b));
            let last_dummy = dummies[ei].last().map(|&b| self.dummy_cx(frame.shift, b));
            let mut toward_lower = first_dummy.unwrap_or(nodes[en.lower].cx());
            let mut toward_upper = last_dummy.unwrap_or(nodes[en.upper].cx());
            let (u, l) = (nodes[en.upper], nodes[en.lower]);
            let skip = [en.upper, en.lower];
            if en.lower_side == Side::Top {
                let (cu, cl_) = (cl(en.upper), cl(en.lower));
                if cu == cl_ {
                    if let Some(col) = columns[ei] {
                        (toward_lower, toward_upper) = (col, col);
                    }
                } else {
                    let below = in_way(cu, skip, u.bottom(), frame.layer_bottom[layer[cu]]);
                    if !below.is_empty() {
                        let prefer = route::toward(&u, toward_lower);
                        toward_lower = route::column(prefer, &below, &[]);
                    }
                    let above = in_way(cl_, skip, frame.layer_top[layer[cl_]], l.y);
                    if !above.is_empty() {
                        let prefer = route::toward(&l, toward_upper);
                        toward_upper = route::column(prefer, &above, &[]);
                    }
                }
            }
            attach
                .entry((en.upper, en.upper_side == Side::Top))
                .or_default()
                .push((toward_lower, ei, true));
            attach
                .entry((en.lower, en.lower_side == Side::Top))
                .or_default()
                .push((toward_upper, ei, false));
        }
        attach
    }
}

/// The x where each edge leaves its upper and its lower link: spread along
/// the side in order, within the range `free` leaves beside a namespace's
/// title on the top of a link that edges enter from above.
pub(super) fn spread(
    attach: &mut Attachments,
    nodes: &[Rect],
    free: &HashMap<usize, (f64, f64)>,
    edges: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut upper_x = vec![0.0; edges];
    let mut lower_x = vec![0.0; edges];
    for ((n, top), list) in attach {
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
    (upper_x, lower_x)
}
