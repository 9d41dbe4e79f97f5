//! Edge labels: each along its curve, wherever it hits no link, title,
//! note or other label; and how far down the drawing reaches.

use super::super::graph::Topology;
use super::{ClusterBox, EdgeRoute, P, Rect, Seg, bezier, label_size, labelled};

/// Places the labels of the edges that have one drawn.
pub(super) fn place(
    t: &Topology,
    edges: &mut [EdgeRoute],
    curves: &[Option<[P; 4]>],
    nodes: &[Rect],
    clusters: &[ClusterBox],
) {
    let mut taken: Vec<Rect> = nodes.to_vec();
    taken.extend(clusters.iter().map(|c| c.title));
    taken.extend(clusters.iter().filter_map(|c| c.note));
    for (ei, e) in t.edges.iter().enumerate() {
        if !labelled(e.kind) {
            continue;
        }
        let Some(c) = curves[ei] else { continue };
        let r = place_one(&c, label_size(&e.label), &taken);
        taken.push(r);
        edges[ei].label = Some(r);
    }
}

/// A label of size `(w, h)` on the curve `c`: near its middle, beside it
/// when that is taken, on its middle when everywhere is.
fn place_one(c: &[P; 4], (w, h): (f64, f64), taken: &[Rect]) -> Rect {
    for tt in [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8] {
        let at = bezier(c, tt);
        for dx in [0.0, w / 2.0 + 6.0, -(w / 2.0 + 6.0), w + 8.0, -(w + 8.0)] {
            let r = Rect {
                x: (at.x - w / 2.0 + dx).round(),
                y: (at.y - h / 2.0).round(),
                w,
                h,
            };
            if !taken.iter().any(|o| o.overlaps(&r)) {
                return r;
            }
        }
    }
    let at = bezier(c, 0.5);
    Rect {
        x: (at.x - w / 2.0).round(),
        y: (at.y - h / 2.0).round(),
        w,
        h,
    }
}

/// The lowest point of the drawing: the layers' `bottom`, or an edge or a
/// label below it.
pub(super) fn content_bottom(bottom: f64, edges: &[EdgeRoute]) -> f64 {
    let mut content_bottom = bottom;
    for e in edges {
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
    content_bottom
}
