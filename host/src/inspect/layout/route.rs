//! Edge routes: down through the channels and corridors between layers on
//! smooth curves, around under the row or layer for links side by side,
//! with a port square where an edge meets a bridge. Each route also gives
//! the curve its label may sit on.
//!
//! A vertical run never crosses a link it does not join: where rows of
//! its own namespace are in the way (a bridge's child in another namespace,
//! below the bridge's ports), the edge steps aside into a free column
//! between or beside those rows' links, in the gap above them, and steps
//! back in the gap above the link it ends on.

use super::super::graph::{EdgeKind, Topology};
use super::attach::{Ends, Side};
use super::coords::Frame;
use super::{EdgeRoute, P, PORT, Rect, SAME_LAYER_STEP, Seg, Work, p};

/// A route's pieces, and the curve its label may sit on.
type Path = (Vec<Seg>, Option<[P; 4]>);

/// How far a column keeps from the links beside it.
const CLEAR: f64 = 7.0;

impl Work<'_> {
    /// Every edge's route, and the curve each label may sit on.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn route(
        &self,
        layer: &[usize],
        dummies: &[Vec<usize>],
        ends: &[Ends],
        frame: &Frame,
        titles: &[Rect],
        upper_x: &[f64],
        lower_x: &[f64],
    ) -> Routes {
        let t = self.t;
        let nodes = &frame.nodes;
        let cl = |n: usize| t.nodes[n].cluster;
        let in_way = |c, skip, y0, y1| in_way(t, frame, c, skip, y0, y1);
        let columns = within_columns(t, ends, frame);
        let mut edges: Vec<EdgeRoute> = Vec::new();
        // For each edge, the curve its label may sit on.
        let mut label_curves: Vec<Option<[P; 4]>> = Vec::new();
        let mut same_layer_seen = vec![0usize; self.layers.len()];
        // Columns edges between namespaces take keep clear of those that
        // edges inside one take.
        let mut lanes: Vec<Vec<f64>> = vec![Vec::new(); t.clusters.len()];
        for (ei, col) in columns.iter().enumerate() {
            if let Some(col) = col {
                lanes[cl(t.edges[ei].from)].push(*col);
            }
        }
        for (ei, e) in t.edges.iter().enumerate() {
            let en = &ends[ei];
            let (u, l) = (nodes[en.upper], nodes[en.lower]);
            let (xu, xl) = (upper_x[ei], lower_x[ei]);
            let start = p(xu, u.bottom());
            let (cu, cl_) = (cl(en.upper), cl(en.lower));
            let skip = [en.upper, en.lower];
            let (segs, curve) = if en.lower_side == Side::Bottom {
                if cu == cl_ {
                    let base = u.bottom().max(l.bottom()) + 20.0;
                    let mut none = Vec::new();
                    let lanes = Lanes {
                        upper: &mut lanes[cu],
                        lower: &mut none,
                    };
                    around(start, p(xl, l.bottom()), base, &[], &[], lanes)
                } else {
                    let k = layer[cu];
                    same_layer_seen[k] += 1;
                    let base =
                        frame.layer_bottom[k] + 14.0 + SAME_LAYER_STEP * same_layer_seen[k] as f64;
                    let below_u = in_way(cu, skip, u.bottom(), base);
                    let below_l = in_way(cl_, skip, l.bottom(), base);
                    let lanes = two(&mut lanes, cu, cl_);
                    around(start, p(xl, l.bottom()), base, &below_u, &below_l, lanes)
                }
            } else if cu == cl_ {
                within(
                    start,
                    xl,
                    l,
                    &in_way(cu, skip, u.bottom(), l.y),
                    columns[ei],
                )
            } else {
                let corridors: Vec<f64> = dummies[ei]
                    .iter()
                    .map(|&b| self.dummy_cx(frame.shift, b))
                    .collect();
                let k_u = layer[cu];
                let k_l = layer[cl_];
                let below = in_way(cu, skip, u.bottom(), frame.layer_bottom[k_u]);
                let mut above = in_way(cl_, skip, frame.layer_top[k_l], l.y);
                if !above.is_empty() {
                    above.push(titles[cl_]);
                }
                let ways = Ways {
                    below: &below,
                    above: &above,
                    prefer: (
                        toward(&u, corridors.first().copied().unwrap_or(l.cx())),
                        toward(&l, corridors.last().copied().unwrap_or(u.cx())),
                    ),
                };
                let lanes = two(&mut lanes, cu, cl_);
                across(start, xl, l, (k_u, k_l), &corridors, frame, ways, lanes)
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
        // A column that found no room inside its namespace ran outside it:
        // ask for the namespace to be wider (its rows are centred, so it
        // takes twice the shortfall).
        let mut wider: Vec<(usize, f64)> = Vec::new();
        for (c, cols) in lanes.iter().enumerate() {
            let b = frame.clusters[c];
            let over = cols
                .iter()
                .map(|&x| (b.x + 4.0 - x).max(x - (b.right() - 4.0)))
                .fold(0.0, f64::max);
            if over > 0.0 {
                wider.push((c, 2.0 * (over + 2.0 * CLEAR)));
            }
        }
        Routes {
            edges,
            label_curves,
            wider,
        }
    }
}

/// Every edge's route, the curve each label may sit on, and the
/// namespaces too narrow for the columns through them, with how much
/// wider they need to be.
pub(super) struct Routes {
    pub edges: Vec<EdgeRoute>,
    pub label_curves: Vec<Option<[P; 4]>>,
    pub wider: Vec<(usize, f64)>,
}

/// Where a column past the links below (or above) link `r` would best be
/// for an edge heading to `x`: beside `r`, on that side.
pub(super) fn toward(r: &Rect, x: f64) -> f64 {
    x.clamp(r.x, r.right())
}

/// The links of namespace `c` but `skip` in the rows between `y0` and
/// `y1` (a taller link beside the start, in its row, is not).
/// When there are any, the namespace's walls come with them, so that the
/// column found between or beside them stays inside its box.
pub(super) fn in_way(
    t: &Topology,
    frame: &Frame,
    c: usize,
    skip: [usize; 2],
    y0: f64,
    y1: f64,
) -> Vec<Rect> {
    let mut rects: Vec<Rect> = (0..t.nodes.len())
        .filter(|&n| t.nodes[n].cluster == c && !skip.contains(&n))
        .map(|n| frame.nodes[n])
        .filter(|r| r.y > y0 - 0.01 && r.bottom() < y1 + 0.01)
        .collect();
    if let Some(top) = rects.iter().map(|r| r.y).reduce(f64::min) {
        let bottom = rects.iter().map(|r| r.bottom()).fold(top, f64::max);
        let b = frame.clusters[c];
        let wall = |x: f64| Rect {
            x,
            y: top,
            w: 0.0,
            h: bottom - top,
        };
        // A column may run as close as 4 px to the wall.
        rects.push(wall(b.x - CLEAR + 4.0));
        rects.push(wall(b.right() + CLEAR - 4.0));
    }
    rects
}

/// For each edge inside one namespace that skips rows, the column it takes
/// past them: beside the link it goes to, on the side it comes from,
/// clear of the columns taken before. Worked out once, for where the edge
/// leaves its upper link (`attach`) and for its route.
pub(super) fn within_columns(t: &Topology, ends: &[Ends], frame: &Frame) -> Vec<Option<f64>> {
    let nodes = &frame.nodes;
    let mut taken: Vec<Vec<f64>> = vec![Vec::new(); t.clusters.len()];
    ends.iter()
        .map(|en| {
            let c = t.nodes[en.upper].cluster;
            if c != t.nodes[en.lower].cluster || en.lower_side != Side::Top {
                return None;
            }
            let (u, l) = (nodes[en.upper], nodes[en.lower]);
            let rects = in_way(t, frame, c, [en.upper, en.lower], u.bottom(), l.y);
            if rects.is_empty() {
                return None;
            }
            let col = column(toward(&l, u.cx()), &rects, &taken[c]);
            taken[c].push(col);
            Some(col)
        })
        .collect()
}

/// The columns taken so far in an edge's upper and lower namespaces.
struct Lanes<'a> {
    upper: &'a mut Vec<f64>,
    lower: &'a mut Vec<f64>,
}

/// The two namespaces' lanes, apart (`a` != `b`).
fn two(lanes: &mut [Vec<f64>], a: usize, b: usize) -> Lanes<'_> {
    if a < b {
        let (x, y) = lanes.split_at_mut(b);
        Lanes {
            upper: &mut x[a],
            lower: &mut y[0],
        }
    } else {
        let (x, y) = lanes.split_at_mut(a);
        Lanes {
            upper: &mut y[0],
            lower: &mut x[b],
        }
    }
}

/// The links in an edge's way in its upper namespace (below where it
/// leaves) and in its lower one (above where it lands).
struct Ways<'a> {
    below: &'a [Rect],
    above: &'a [Rect],
    /// Where the columns would best be: toward where the edge goes next
    /// (as `attach` orders the edges by them).
    prefer: (f64, f64),
}

/// The x nearest `x` where a vertical line keeps clear of `rects` and of
/// the columns other edges `taken` there; in a narrow gap between two
/// links, the gap's middle.
pub(super) fn column(x: f64, rects: &[Rect], taken: &[f64]) -> f64 {
    if rects.is_empty() {
        return x;
    }
    let mut spans: Vec<(f64, f64)> = rects
        .iter()
        .map(|r| (r.x - CLEAR, r.right() + CLEAR))
        .chain(taken.iter().map(|&t| (t - 2.0 * CLEAR, t + 2.0 * CLEAR)))
        .collect();
    spans.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for s in spans {
        match merged.last_mut() {
            Some(m) if s.0 <= m.1 => m.1 = m.1.max(s.1),
            _ => merged.push(s),
        }
    }
    if merged.iter().all(|m| x <= m.0 || x >= m.1) {
        return x;
    }
    // The free gaps between the merged spans, and the two outside them.
    let mut gaps = vec![(f64::NEG_INFINITY, merged[0].0)];
    gaps.extend(merged.windows(2).map(|w| (w[0].1, w[1].0)));
    gaps.push((merged[merged.len() - 1].1, f64::INFINITY));
    gaps.into_iter()
        .map(|(a, b)| {
            if b - a < 4.0 * CLEAR {
                (a + b) / 2.0
            } else {
                x.clamp(a, b)
            }
        })
        .min_by(|a, b| (a - x).abs().partial_cmp(&(b - x).abs()).unwrap())
        .unwrap()
        .round()
}

/// Down from `from` to `to` (below it), through the column `col` past the
/// links `rects` between them: it steps aside in the gap above the first
/// of them and back in the gap above `to`.
fn through(from: P, to: P, col: f64, rects: &[Rect]) -> Vec<Seg> {
    let mut segs = Vec::new();
    let mut at = from;
    let line = |segs: &mut Vec<Seg>, at: &mut P, q: P| {
        if (q.y - at.y).abs() > 0.01 || (q.x - at.x).abs() > 0.01 {
            segs.push(Seg::Line(q));
            *at = q;
        }
    };
    if (col - from.x).abs() > 0.5 {
        // Across the whole gap, as the curves to the links of that row
        // go: edges leaving side by side then keep their order.
        // Ending level with the tops of that row's links, like those
        // curves, it cannot cross them.
        let top = rects.iter().map(|r| r.y).fold(to.y, f64::min);
        let y1 = top;
        segs.push(step(at, p(col, y1)));
        at = p(col, y1);
    }
    if (col - to.x).abs() > 0.5 {
        let (y0, y1) = ((to.y - 34.0).max(at.y), to.y - 8.0);
        line(&mut segs, &mut at, p(col, y0));
        segs.push(step(at, p(to.x, y1)));
        at = p(to.x, y1);
    }
    line(&mut segs, &mut at, to);
    segs
}

/// An S-curve from `a` down to `b`, leaving and arriving vertically.
fn step(a: P, b: P) -> Seg {
    let ym = (a.y + b.y) / 2.0;
    Seg::Cubic(p(a.x, ym), p(b.x, ym), b)
}

/// The same path, run from its end to its start.
fn reverse(start: P, segs: &[Seg]) -> (P, Vec<Seg>) {
    let mut points = vec![start];
    for s in segs {
        let (Seg::Line(q) | Seg::Quad(_, q) | Seg::Cubic(_, _, q)) = s;
        points.push(*q);
    }
    let mut out = Vec::new();
    for (i, s) in segs.iter().enumerate().rev() {
        let from = points[i];
        out.push(match *s {
            Seg::Line(_) => Seg::Line(from),
            Seg::Quad(c, _) => Seg::Quad(c, from),
            Seg::Cubic(a, b, _) => Seg::Cubic(b, a, from),
        });
    }
    (points[points.len() - 1], out)
}

/// Side by side: down from `start`, across at `base`, up to `end` on the
/// bottom of its link; each vertical run through a column clear of the
/// links below its end (`below_u`, `below_l`).
fn around(start: P, end: P, base: f64, below_u: &[Rect], below_l: &[Rect], lanes: Lanes) -> Path {
    let cu = column(start.x, below_u, lanes.upper);
    let cl = column(end.x, below_l, lanes.lower);
    lanes.upper.push(cu);
    lanes.lower.push(cl);
    let dir = if cl >= cu { 1.0 } else { -1.0 };
    let r = ((cl - cu).abs() / 2.0).min(8.0);
    let mut segs = through(start, p(cu, base - r), cu, below_u);
    segs.push(Seg::Quad(p(cu, base), p(cu + dir * r, base)));
    segs.push(Seg::Line(p(cl - dir * r, base)));
    segs.push(Seg::Quad(p(cl, base), p(cl, base - r)));
    // Up to the end: the way down from it, reversed.
    let (_, up) = reverse(end, &through(end, p(cl, base - r), cl, below_l));
    segs.extend(up);
    let mid = (cu + cl) / 2.0;
    let at = p(mid, base + 10.0);
    (segs, Some([at, at, at, at]))
}

/// Inside one namespace: one curve from `start` down to `xl` on the top of
/// `l`, or through the column `col` past the links `rects` in between.
fn within(start: P, xl: f64, l: Rect, rects: &[Rect], col: Option<f64>) -> Path {
    let xu = start.x;
    let (y0, y1) = (start.y, l.y);
    let Some(col) = col.filter(|_| !rects.is_empty()) else {
        let ym = (y0 + y1) / 2.0;
        let c = [start, p(xu, ym), p(xl, ym), p(xl, y1)];
        return (vec![Seg::Cubic(c[1], c[2], c[3])], Some(c));
    };
    let segs = through(start, p(xl, y1), col, rects);
    let curve = segs
        .iter()
        .zip(std::iter::once(start).chain(ends(&segs)))
        .find_map(|(s, from)| match *s {
            Seg::Cubic(a, b, q) => Some([from, a, b, q]),
            _ => None,
        });
    (segs, curve)
}

/// Where each piece of a path ends.
fn ends(segs: &[Seg]) -> impl Iterator<Item = P> + '_ {
    segs.iter().map(|s| {
        let (Seg::Line(q) | Seg::Quad(_, q) | Seg::Cubic(_, _, q)) = s;
        *q
    })
}

/// Between namespaces in different layers: from `start` in layer
/// `layers.0`, through the `corridors` (their x, one per layer skipped) to
/// `xl` on the top of `l` in layer `layers.1`, with a curve across each
/// channel, and through columns past the links in its way.
#[allow(clippy::too_many_arguments)]
fn across(
    start: P,
    xl: f64,
    l: Rect,
    (from, to): (usize, usize),
    corridors: &[f64],
    frame: &Frame,
    ways: Ways,
    lanes: Lanes,
) -> Path {
    let mut curve = None;
    // Straight on where nothing is in the way.
    let out = match ways.below {
        [] => start.x,
        below => column(ways.prefer.0, below, lanes.upper),
    };
    lanes.upper.push(out);
    let mut segs = through(start, p(out, frame.layer_bottom[from]), out, ways.below);
    let mut at = p(out, frame.layer_bottom[from]);
    let entry = match ways.above {
        [] => xl,
        above => column(ways.prefer.1, above, lanes.lower),
    };
    lanes.lower.push(entry);
    let mut k = from;
    let mut waypoints: Vec<(f64, usize)> = corridors
        .iter()
        .enumerate()
        .map(|(i, &x)| (x, from + 1 + i))
        .collect();
    waypoints.push((entry, to));
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
    segs.extend(through(at, p(xl, l.y), entry, ways.above));
    (segs, curve)
}
