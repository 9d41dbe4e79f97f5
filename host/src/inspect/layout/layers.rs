//! Ranking: which layer each namespace goes in. In each connected group of
//! namespaces, the one with the busiest bridge is the root, the others
//! follow by distance from it, and a macvlan's namespace always sits below
//! its parent's.

use std::collections::HashMap;

use super::super::graph::{EdgeKind, NodeKind, Topology};
use super::{CHANNEL, CLUSTER_GAP};

/// Each namespace's connected component and layer, and how many layers.
pub(super) struct Layering {
    pub comp: Vec<usize>,
    pub layer: Vec<usize>,
    pub count: usize,
}

pub(super) fn assign(t: &Topology, ports: &[usize]) -> Layering {
    let nc = t.clusters.len();
    let (adj, down) = cluster_graph(t);
    let mut comp = vec![usize::MAX; nc];
    let mut ncomp = 0;
    let mut layer = vec![0usize; nc];
    for start in 0..nc {
        if comp[start] != usize::MAX {
            continue;
        }
        let members = component(&adj, start, ncomp, &mut comp);
        let root = root(t, &adj, &down, ports, &members);
        let dist = distances(&adj, root);
        for &c in &members {
            layer[c] = dist[&c];
        }
        ncomp += 1;
    }
    push_below_parents(&mut layer, &down);
    let count = compact(&mut layer);
    Layering { comp, layer, count }
}

/// Which namespaces edges join, and (parent, child) for parent edges.
fn cluster_graph(t: &Topology) -> (Vec<Vec<usize>>, Vec<(usize, usize)>) {
    let cl = |n: usize| t.nodes[n].cluster;
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); t.clusters.len()];
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
    (adj, down)
}

/// The namespaces connected to `start`, in order, marked as component `id`.
fn component(adj: &[Vec<usize>], start: usize, id: usize, comp: &mut [usize]) -> Vec<usize> {
    let mut members = vec![start];
    comp[start] = id;
    let mut i = 0;
    while i < members.len() {
        let c = members[i];
        for &o in &adj[c] {
            if comp[o] == usize::MAX {
                comp[o] = id;
                members.push(o);
            }
        }
        i += 1;
    }
    members.sort_unstable();
    members
}

/// The root: the namespace with the busiest bridge, else the best
/// connected one; never one whose links hang off another's.
fn root(
    t: &Topology,
    adj: &[Vec<usize>],
    down: &[(usize, usize)],
    ports: &[usize],
    members: &[usize],
) -> usize {
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
    for &c in members {
        if score(c) > score(root) {
            root = c;
        }
    }
    root
}

/// Breadth-first distances from `root`.
fn distances(adj: &[Vec<usize>], root: usize) -> HashMap<usize, usize> {
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
    dist
}

/// Moves each macvlan's namespace below its parent's.
fn push_below_parents(layer: &mut [usize], down: &[(usize, usize)]) {
    for _ in 0..layer.len() {
        let mut changed = false;
        for &(a, b) in down {
            if layer[b] <= layer[a] {
                layer[b] = layer[a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Renumbers the layers in use from 0 without gaps; returns how many there
/// are (at least one).
fn compact(layer: &mut [usize]) -> usize {
    let mut used = layer.to_vec();
    used.sort_unstable();
    used.dedup();
    for l in layer.iter_mut() {
        *l = used.binary_search(l).unwrap_or(0);
    }
    used.len().max(1)
}

/// Wraps layers wider than `max_w` (given each namespace's width) onto
/// more layers, so that a switch with many hosts does not make one endless
/// row; what was below moves down. The namespaces hanging off one upper
/// namespace are split alike (the first of them on the first sub-layer,
/// the next on the second, ...), so each group stays under its parent as
/// a small block and its edges stay short; edges into a lower sub-layer
/// pass the one above through corridors.
pub(super) fn wrap(t: &Topology, layering: &mut Layering, widths: &[f64], max_w: f64) {
    let old = layering.layer.clone();
    let (adj, _) = cluster_graph(t);
    let mut next = 0;
    for k in 0..layering.count {
        let members: Vec<usize> = (0..old.len()).filter(|&c| old[c] == k).collect();
        // Group by the first namespace above each connects to.
        let mut groups: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
        for &c in &members {
            let parent = adj[c].iter().copied().filter(|&o| old[o] < k).min();
            match groups.iter_mut().find(|g| g.0 == parent) {
                Some(g) => g.1.push(c),
                None => groups.push((parent, vec![c])),
            }
        }
        // The fewest sub-layers that bring the widest one within reach
        // of `max_w` (a little over it rather than a sub-layer more).
        let split = |subs: usize| -> Vec<(usize, usize)> {
            groups
                .iter()
                .flat_map(|(_, g)| {
                    let per = g.len().div_ceil(subs);
                    g.iter().enumerate().map(move |(j, &c)| (c, j / per))
                })
                .collect()
        };
        let widest = |placed: &[(usize, usize)]| {
            let mut w = vec![0.0; members.len()];
            for &(c, sub) in placed {
                w[sub] += widths[c] + CLUSTER_GAP;
            }
            w.into_iter().fold(0.0, f64::max)
        };
        let mut placed = split(1);
        for subs in 1..=members.len() {
            placed = split(subs);
            if widest(&placed) <= max_w {
                break;
            }
        }
        let subs = placed.iter().map(|p| p.1 + 1).max().unwrap_or(1);
        for (c, sub) in placed {
            layering.layer[c] = next + sub;
        }
        next += subs;
    }
    layering.count = compact(&mut layering.layer);
}

/// The widest a layer may be, for a drawing near 16:9: the side of a
/// 16:9 rectangle holding every namespace with its share of the gaps
/// between them, and never narrower than the widest namespace.
pub(super) fn target_width(sizes: &[(f64, f64)]) -> f64 {
    let area: f64 = sizes
        .iter()
        .map(|(w, h)| (w + CLUSTER_GAP) * (h + CHANNEL))
        .sum();
    let widest = sizes.iter().map(|s| s.0).fold(0.0, f64::max);
    (area * 16.0 / 9.0).sqrt().max(widest).max(MIN_WRAP)
}

/// Layers narrower than this are never wrapped: a small lab stays as it
/// is, however tall.
const MIN_WRAP: f64 = 900.0;
