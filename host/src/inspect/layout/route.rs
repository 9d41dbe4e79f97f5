//! Edge routes: down through the channels and corridors between layers on
//! smooth curves, around under the row or layer for links side by side,
//! with a port square where an edge meets a bridge. Each route also gives
//! the curve its label may sit on.

use super::super::graph::EdgeKind;
use super::attach::{Ends, Side};
use super::coords::Frame;
use super::{EdgeRoute, P, PORT, Rect, SAME_LAYER_STEP, Seg, Work, p};

/// A route's pieces, and the curve its label may sit on.
type Path = (Vec<Seg>, Option<[P; 4]>);

impl Work<'_> {
    /// Every edge's route, and the curve each label may sit on.
    pub(super) fn route(
        &self,
        layer: &[usize],
        dummies: &[Vec<usize>],
        ends: &[Ends],
        frame: &Frame,
        upper_x: &[f64],
        lower_x: &[f64],
    ) -> (Vec<EdgeRoute>, Vec<Option<[P; 4]>>) {
        let t = self.t;
        let nodes = &frame.nodes;
        let cl = |n: usize| t.nodes[n].cluster;
        let mut edges: Vec<EdgeRoute> = Vec::new();
        // For each edge, the curve its label may sit on.
        let mut label_curves: Vec<Option<[P; 4]>> = Vec::new();
        let mut same_layer_seen = vec![0usize; self.layers.len()];
        for (ei, e) in t.edges.iter().enumerate() {
            let en = &ends[ei];
            let (u, l) = (nodes[en.upper], nodes[en.lower]);
            let (xu, xl) = (upper_x[ei], lower_x[ei]);
            let start = p(xu, u.bottom());
            let (cu, cl_) = (cl(en.upper), cl(en.lower));
            let (segs, curve) = if en.lower_side == Side::Bottom {
                let base = if cu == cl_ {
                    u.bottom().max(l.bottom()) + 20.0
                } else {
                    let k = layer[cu];
                    same_layer_seen[k] += 1;
                    frame.layer_bottom[k] + 14.0 + SAME_LAYER_STEP * same_layer_seen[k] as f64
                };
                around(xu, xl, base, l)
            } else if cu == cl_ {
                within(start, xl, l)
            } else {
                let corridors: Vec<f64> = dummies[ei]
                    .iter()
                    .map(|&b| self.dummy_cx(frame.shift, b))
                    .collect();
                across(start, xl, l, layer[cu], layer[cl_], &corridors, frame)
            };
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
        (edges, label_curves)
    }
}

/// Side by side: down from `xu`, across at `base`, up to `xl` on the
/// bottom of `l`.
fn around(xu: f64, xl: f64, base: f64, l: Rect) -> Path {
    let mut segs = Vec::new();
    let r = ((xl - xu).abs() / 2.0).min(8.0);
    let dir = if xl >= xu { 1.0 } else { -1.0 };
    segs.push(Seg::Line(p(xu, base - r)));
    segs.push(Seg::Quad(p(xu, base), p(xu + dir * r, base)));
    segs.push(Seg::Line(p(xl - dir * r, base)));
    segs.push(Seg::Quad(p(xl, base), p(xl, base - r)));
    segs.push(Seg::Line(p(xl, l.bottom())));
    let mid = (xu + xl) / 2.0;
    let curve = Some([
        p(mid, base + 10.0),
        p(mid, base + 10.0),
        p(mid, base + 10.0),
        p(mid, base + 10.0),
    ]);
    (segs, curve)
}

/// Inside one namespace: one curve from `start` down to `xl` on the top of
/// `l`.
fn within(start: P, xl: f64, l: Rect) -> Path {
    let xu = start.x;
    let (y0, y1) = (start.y, l.y);
    let ym = (y0 + y1) / 2.0;
    let c = [start, p(xu, ym), p(xl, ym), p(xl, y1)];
    (vec![Seg::Cubic(c[1], c[2], c[3])], Some(c))
}

/// Between namespaces in different layers: from `start` in layer `from`,
/// through the `corridors` (their x, one per layer skipped) to `xl` on the
/// top of `l` in layer `to`, with a curve across each channel.
fn across(
    start: P,
    xl: f64,
    l: Rect,
    from: usize,
    to: usize,
    corridors: &[f64],
    frame: &Frame,
) -> Path {
    let mut segs = Vec::new();
    let mut curve = None;
    let mut at = start;
    let mut k = from;
    let mut waypoints: Vec<(f64, usize)> = corridors.iter().map(|&x| (x, 0)).collect::<Vec<_>>();
    for (i, w) in waypoints.iter_mut().enumerate() {
        w.1 = from + 1 + i;
    }
    waypoints.push((xl, to));
    for (x, next) in waypoints {
        let y0 = frame.layer_bottom[k];
        if (at.y - y0).abs() > 0.01 {
            segs.push(Seg::Line(p(at.x, y0)));
        }
        let y1 = frame.layer_top[next];
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
    (segs, curve)
}
