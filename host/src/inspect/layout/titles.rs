//! Namespace titles and boxes. A title goes where no edge comes in from
//! above: left, right or centred, and the edges coming in from above a
//! namespace land on their links beside its title, not through it. A
//! namespace too narrow for that asks to be widened.

use std::collections::HashMap;

use super::super::graph::Topology;
use super::attach::{Attachments, Ends};
use super::coords::Frame;
use super::{CHAR_W, CLUSTER_HEADER, CLUSTER_PAD, ClusterBox, LINE_H, Rect, text_w, title_size};

/// For some links, the range of their top side clear of the title.
type Ranges = Vec<(usize, (f64, f64))>;

/// Where the titles went.
pub(super) struct Titles {
    pub titles: Vec<Rect>,
    /// For a link that edges enter from above: the range of its top side
    /// clear of its namespace's title.
    pub free: HashMap<usize, (f64, f64)>,
    /// The namespaces whose titles sit in an edge's way, with how much
    /// wider they need to be.
    pub short: Vec<(usize, f64)>,
}

/// For each namespace, its links that edges enter from another namespace
/// above, with how many edges meet each on its top side.
pub(super) fn entering(
    t: &Topology,
    ends: &[Ends],
    attach: &Attachments,
) -> Vec<Vec<(usize, usize)>> {
    let cl = |n: usize| t.nodes[n].cluster;
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
    entering
}

pub(super) fn place(t: &Topology, frame: &Frame, entering: &[Vec<(usize, usize)>]) -> Titles {
    let mut free: HashMap<usize, (f64, f64)> = HashMap::new();
    let mut short: Vec<(usize, f64)> = Vec::new();
    let titles: Vec<Rect> = t
        .clusters
        .iter()
        .enumerate()
        .map(|(c, cluster)| {
            let r = frame.clusters[c];
            let (w, h) = title_size(&cluster.title());
            let chosen = match place_title(r, w, &entering[c], &frame.nodes) {
                Ok((x, ranges)) => {
                    free.extend(ranges);
                    Some(x)
                }
                Err(need) => {
                    short.push((c, need));
                    None
                }
            };
            Rect {
                x: chosen.unwrap_or(r.x + 10.0),
                y: r.y + 6.0,
                w,
                h,
            }
        })
        .collect();
    Titles {
        titles,
        free,
        short,
    }
}

/// The x of a title `w` wide in the box `r`, and the ranges it leaves free
/// on the links edges enter; or, when it fits nowhere, how much wider the
/// box needs to be.
fn place_title(
    r: Rect,
    w: f64,
    entering: &[(usize, usize)],
    nodes: &[Rect],
) -> Result<(f64, Ranges), f64> {
    for x in [r.x + 10.0, r.right() - 10.0 - w, r.cx() - w / 2.0] {
        let (t0, t1) = (x - 8.0, x + w + 8.0);
        let mut ranges = Vec::new();
        for &(n, k) in entering {
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
        if ranges.len() == entering.len() {
            return Ok((x, ranges));
        }
    }
    // With the title on the left: how far the links coming in fall short
    // of clearing it. Widening the box by twice that moves its centred rows
    // far enough right.
    let need = entering
        .iter()
        .map(|&(n, k)| r.x + 10.0 + w + 8.0 + 6.0 * (k as f64 - 1.0) - (nodes[n].right() - 6.0))
        .fold(0.0, f64::max);
    Err(2.0 * need + 4.0)
}

/// The namespaces' boxes, with their titles, and a note where one has no
/// links.
pub(super) fn boxes(
    t: &Topology,
    rows: &[Vec<Vec<usize>>],
    frame: &Frame,
    titles: &[Rect],
) -> Vec<ClusterBox> {
    t.clusters
        .iter()
        .enumerate()
        .map(|(c, cluster)| {
            let r = frame.clusters[c];
            let note = cluster.note().filter(|_| rows[c].is_empty()).map(|n| Rect {
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
        .collect()
}
