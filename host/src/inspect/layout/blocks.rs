//! Blocks: one per namespace, and a corridor (a dummy block) in each layer
//! an edge skips, so no edge runs through a namespace it does not belong
//! to; then the order of the blocks in each layer, from barycenter sweeps.

use std::collections::HashMap;

use super::super::graph::Topology;
use super::layers::Layering;
use super::{CLUSTER_GAP, DUMMY_W, Work};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum BlockKind {
    Cluster(usize),
    Dummy,
}

#[derive(Debug, Clone)]
pub(super) struct Block {
    pub kind: BlockKind,
    pub comp: usize,
    pub w: f64,
    /// Left edge.
    pub x: f64,
    /// Position in the initial order, to keep sorts stable and meaningful.
    pub key: f64,
}

/// A connection between two blocks in adjacent layers, at points given as
/// offsets from each block's left edge (found through `upper_node` and
/// `lower_node`, or the middle of a dummy).
#[derive(Debug, Clone, Copy)]
pub(super) struct Link {
    pub upper: usize,
    pub lower: usize,
    pub upper_node: Option<usize>,
    pub lower_node: Option<usize>,
}

/// The blocks in their layers, and what connects them.
pub(super) struct Blocks {
    pub blocks: Vec<Block>,
    pub layers: Vec<Vec<usize>>,
    /// Each namespace's block.
    pub cluster_block: Vec<usize>,
    pub links: Vec<Link>,
    /// Each edge's corridors, top to bottom.
    pub dummies: Vec<Vec<usize>>,
}

pub(super) fn build(t: &Topology, layering: &Layering, cluster_size: &[(f64, f64)]) -> Blocks {
    let nc = t.clusters.len();
    let (comp, layer) = (&layering.comp, &layering.layer);
    let mut g = Blocks {
        blocks: Vec::new(),
        layers: vec![Vec::new(); layering.count],
        cluster_block: vec![0usize; nc],
        links: Vec::new(),
        dummies: vec![Vec::new(); t.edges.len()],
    };
    for c in 0..nc {
        g.blocks.push(Block {
            kind: BlockKind::Cluster(c),
            comp: comp[c],
            w: cluster_size[c].0,
            x: 0.0,
            key: c as f64,
        });
        g.cluster_block[c] = g.blocks.len() - 1;
        g.layers[layer[c]].push(g.blocks.len() - 1);
    }
    for ei in 0..t.edges.len() {
        g.add_corridors(t, layering, ei);
    }
    let blocks = &g.blocks;
    for l in &mut g.layers {
        l.sort_by(|a, b| {
            (blocks[*a].comp, blocks[*a].key)
                .partial_cmp(&(blocks[*b].comp, blocks[*b].key))
                .unwrap()
        });
    }
    g
}

impl Blocks {
    /// Links edge `ei` across the layers between its namespaces, through a
    /// corridor in each layer it skips.
    fn add_corridors(&mut self, t: &Topology, layering: &Layering, ei: usize) {
        let (comp, layer) = (&layering.comp, &layering.layer);
        let cl = |n: usize| t.nodes[n].cluster;
        let e = &t.edges[ei];
        let (ca, cb) = (cl(e.from), cl(e.to));
        if ca == cb || layer[ca] == layer[cb] {
            return;
        }
        let (top, bottom) = if layer[ca] < layer[cb] {
            (e.from, e.to)
        } else {
            (e.to, e.from)
        };
        let (lt, lb) = (layer[cl(top)], layer[cl(bottom)]);
        let mut prev = (self.cluster_block[cl(top)], Some(top));
        for layer_blocks in self.layers.iter_mut().take(lb).skip(lt + 1) {
            let key = (ca.min(cb)) as f64 + 0.5;
            self.blocks.push(Block {
                kind: BlockKind::Dummy,
                comp: comp[ca],
                w: DUMMY_W,
                x: 0.0,
                key,
            });
            let b = self.blocks.len() - 1;
            layer_blocks.push(b);
            self.dummies[ei].push(b);
            self.links.push(Link {
                upper: prev.0,
                lower: b,
                upper_node: prev.1,
                lower_node: None,
            });
            prev = (b, None);
        }
        self.links.push(Link {
            upper: prev.0,
            lower: self.cluster_block[cl(bottom)],
            upper_node: prev.1,
            lower_node: Some(bottom),
        });
    }
}

impl Work<'_> {
    /// The space between two neighbouring blocks.
    pub(super) fn gap(&self, a: usize, b: usize) -> f64 {
        match (self.blocks[a].kind, self.blocks[b].kind) {
            (BlockKind::Dummy, BlockKind::Dummy) => 8.0,
            (BlockKind::Dummy, _) | (_, BlockKind::Dummy) => 18.0,
            _ => CLUSTER_GAP,
        }
    }

    /// Barycenter sweeps over block orders.
    pub(super) fn order_blocks(&mut self) {
        for _ in 0..6 {
            for downward in [true, false] {
                let range: Vec<usize> = if downward {
                    (1..self.layers.len()).collect()
                } else {
                    (0..self.layers.len().saturating_sub(1)).rev().collect()
                };
                for k in range {
                    let reference = if downward { k - 1 } else { k + 1 };
                    self.order_layer(k, reference);
                }
            }
        }
    }

    /// Orders layer `k` by the mean position of what its blocks connect to
    /// in layer `reference`, keeping components apart.
    fn order_layer(&mut self, k: usize, reference: usize) {
        let pos: HashMap<usize, usize> = self.layers[reference]
            .iter()
            .enumerate()
            .map(|(i, b)| (*b, i))
            .collect();
        let mut keyed: Vec<(usize, f64, usize)> = Vec::new();
        for (i, &b) in self.layers[k].iter().enumerate() {
            let ns: Vec<f64> = self
                .links
                .iter()
                .filter_map(|l| {
                    let (other, node) = if l.upper == b {
                        (l.lower, l.lower_node)
                    } else if l.lower == b {
                        (l.upper, l.upper_node)
                    } else {
                        return None;
                    };
                    // Within the block, where its link is: blocks hanging
                    // off one namespace follow the order of their links.
                    let within = node.map_or(0.5, |n| {
                        ((self.rel[n].x + self.size[n].0 / 2.0) / self.blocks[other].w)
                            .clamp(0.0, 0.99)
                    });
                    pos.get(&other).map(|&x| x as f64 + within)
                })
                .collect();
            let bary = if ns.is_empty() {
                i as f64
            } else {
                ns.iter().sum::<f64>() / ns.len() as f64
            };
            keyed.push((self.blocks[b].comp, bary, b));
        }
        keyed.sort_by(|a, b| (a.0, a.1).partial_cmp(&(b.0, b.1)).unwrap());
        self.layers[k] = keyed.into_iter().map(|(_, _, b)| b).collect();
    }
}
