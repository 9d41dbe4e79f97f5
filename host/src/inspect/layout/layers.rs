//! Ranking: which layer each namespace goes in. In each connected group of
//! namespaces, the one with the busiest bridge is the root, the others
//! follow by distance from it, and a macvlan's namespace always sits below
//! its parent's.

use std::collections::HashMap;

use super::super::graph::{EdgeKind, NodeKind, Topology};

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
