//! Edge labels: each on or beside its own edge, wherever it covers no
//! link, title, note, other label or other edge; and how far down the
//! drawing reaches. A label that finds no such place is left out: the
//! child's box names the same kind and mode.

use super::super::graph::Topology;
use super::{
    ClusterBox, EdgeRoute, P, Rect, Seg, bezier, flatten, label_size, labelled, polyline_hits,
};

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
    taken.extend(edges.iter().filter_map(|e| e.port));
    let lines: Vec<Vec<P>> = edges.iter().map(|e| flatten(e.start, &e.segs)).collect();
    for (ei, e) in t.edges.iter().enumerate() {
        if !labelled(t, e) {
            continue;
        }
        let Some(c) = curves[ei] else { continue };
        let free = |r: &Rect| {
            !taken.iter().any(|o| o.overlaps(r))
                && !lines
                    .iter()
                    .enumerate()
                    .any(|(j, l)| j != ei && polyline_hits(l, r))
        };
        // Near the middle of its curve first, then anywhere along the edge.
        let along = [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]
            .into_iter()
            .map(|tt| bezier(&c, tt))
            .chain(lines[ei].iter().copied());
        let r = along
            .flat_map(|at| candidates(at, label_size(&e.label)))
            .find(|r| free(r));
        if let Some(r) = r {
            taken.push(r);
            edges[ei].label = Some(r);
        }
    }
}

/// A label of size `(w, h)` centred on `at`, or beside it.
fn candidates(at: P, (w, h): (f64, f64)) -> impl Iterator<Item = Rect> {
    [0.0, w / 2.0 + 6.0, -(w / 2.0 + 6.0)]
        .into_iter()
        .map(move |dx| Rect {
            x: (at.x - w / 2.0 + dx).round(),
            y: (at.y - h / 2.0).round(),
            w,
            h,
        })
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
