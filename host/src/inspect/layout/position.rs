//! Horizontal positions of the blocks: packed and centred at first, then
//! swept down, up and down again, each layer moving under (or over) what it
//! connects to, by an isotonic regression that keeps the layer's order and
//! lets no two blocks overlap.

use super::Work;

/// Pool-adjacent-violators: the non-decreasing sequence closest (least
/// squares) to `target`.
fn isotonic(target: &[f64]) -> Vec<f64> {
    // Each pool: (sum, count).
    let mut pools: Vec<(f64, f64, usize)> = Vec::new();
    for &v in target {
        pools.push((v, 1.0, 1));
        while pools.len() > 1 {
            let (s2, c2, n2) = pools[pools.len() - 1];
            let (s1, c1, n1) = pools[pools.len() - 2];
            if s1 / c1 <= s2 / c2 {
                break;
            }
            pools.pop();
            let last = pools.len() - 1;
            pools[last] = (s1 + s2, c1 + c2, n1 + n2);
        }
    }
    pools
        .into_iter()
        .flat_map(|(s, c, n)| std::iter::repeat_n(s / c, n))
        .collect()
}

impl Work<'_> {
    /// The x of a link's attachment point relative to its block.
    fn offset(&self, block: usize, node: Option<usize>) -> f64 {
        match node {
            Some(n) => self.rel[n].x + self.size[n].0 / 2.0,
            None => self.blocks[block].w / 2.0,
        }
    }

    /// Places each layer packed and centered, as a start.
    pub(super) fn pack_layers(&mut self) {
        for k in 0..self.layers.len() {
            let mut x = 0.0;
            let order = self.layers[k].clone();
            for (i, &b) in order.iter().enumerate() {
                if i > 0 {
                    x += self.gap(order[i - 1], b);
                }
                self.blocks[b].x = x;
                x += self.blocks[b].w;
            }
            for &b in &order {
                self.blocks[b].x -= x / 2.0;
            }
        }
    }

    /// Moves a layer's blocks as close as they can get to `desired` left
    /// edges, in order, without overlapping.
    fn place_layer(&mut self, k: usize, desired: &[f64]) {
        let order = self.layers[k].clone();
        let mut offsets = Vec::with_capacity(order.len());
        let mut acc = 0.0;
        for (i, &b) in order.iter().enumerate() {
            if i > 0 {
                acc += self.blocks[order[i - 1]].w + self.gap(order[i - 1], b);
            }
            offsets.push(acc);
        }
        let target: Vec<f64> = desired.iter().zip(&offsets).map(|(d, o)| d - o).collect();
        let fit = isotonic(&target);
        for (i, &b) in order.iter().enumerate() {
            self.blocks[b].x = fit[i] + offsets[i];
        }
    }

    /// Down, up and down again: each layer moves under (or over) what it
    /// connects to.
    pub(super) fn sweep_x(&mut self) {
        let nl = self.layers.len();
        let passes: Vec<(usize, bool)> = (1..nl)
            .map(|k| (k, true))
            .chain((0..nl.saturating_sub(1)).rev().map(|k| (k, false)))
            .chain((1..nl).map(|k| (k, true)))
            .collect();
        for (k, from_above) in passes {
            let desired: Vec<f64> = self.layers[k]
                .iter()
                .map(|&b| self.desired_x(b, from_above))
                .collect();
            self.place_layer(k, &desired);
        }
    }

    /// Where block `b` would like its left edge: the mean of what lines it
    /// up with its links to the layer above (or below); where it is, when it
    /// has none.
    fn desired_x(&self, b: usize, from_above: bool) -> f64 {
        let mut sum = 0.0;
        let mut count = 0.0;
        for l in &self.links {
            let (me_node, other, other_node) = if from_above && l.lower == b {
                (l.lower_node, l.upper, l.upper_node)
            } else if !from_above && l.upper == b {
                (l.upper_node, l.lower, l.lower_node)
            } else {
                continue;
            };
            sum += self.blocks[other].x + self.offset(other, other_node) - self.offset(b, me_node);
            count += 1.0;
        }
        if count > 0.0 {
            sum / count
        } else {
            self.blocks[b].x
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_fits() {
        assert_eq!(isotonic(&[1.0, 2.0, 3.0]), vec![1.0, 2.0, 3.0]);
        assert_eq!(isotonic(&[3.0, 1.0]), vec![2.0, 2.0]);
        assert_eq!(isotonic(&[0.0, 5.0, 1.0, 0.0]), vec![0.0, 2.0, 2.0, 2.0]);
    }
}
