//! Final coordinates: layers stacked top to bottom with a channel under
//! each for the edges, the drawing left-aligned at the margin (or centred
//! on a wider canvas), and every box rounded to whole pixels.

use super::blocks::BlockKind;
use super::{
    CHANNEL, HEADER_H, LEGEND_W, MARGIN, Rect, SAME_LAYER_STEP, TITLE_CHAR_W, Work, text_w,
};

/// Where the layers and boxes end up, in px.
pub(super) struct Frame {
    pub layer_top: Vec<f64>,
    pub layer_bottom: Vec<f64>,
    /// The bottom of the last layer.
    pub bottom: f64,
    pub width: f64,
    /// What moves a block's x onto the canvas.
    pub shift: f64,
    pub clusters: Vec<Rect>,
    pub nodes: Vec<Rect>,
}

impl Work<'_> {
    pub(super) fn frame(&self, layer: &[usize]) -> Frame {
        let t = self.t;
        let (layer_top, layer_bottom, bottom) = self.vertical(layer);
        let (width, shift) = self.horizontal();
        let clusters: Vec<Rect> = (0..t.clusters.len())
            .map(|c| {
                let (w, h) = self.cluster_size[c];
                Rect {
                    x: self.block_x(shift, self.cluster_block[c]),
                    y: layer_top[layer[c]],
                    w,
                    h,
                }
            })
            .collect();
        let nodes: Vec<Rect> = (0..t.nodes.len())
            .map(|n| {
                let c = &clusters[t.nodes[n].cluster];
                Rect {
                    x: c.x + self.rel[n].x,
                    y: c.y + self.rel[n].y,
                    w: self.size[n].0,
                    h: self.size[n].1,
                }
            })
            .collect();
        Frame {
            layer_top,
            layer_bottom,
            bottom,
            width,
            shift,
            clusters,
            nodes,
        }
    }

    /// Vertical: layers, with a channel under each for the edges. Returns
    /// each layer's top and bottom, and the bottom of the drawing.
    fn vertical(&self, layer: &[usize]) -> (Vec<f64>, Vec<f64>, f64) {
        let t = self.t;
        let nl = self.layers.len();
        let cl = |n: usize| t.nodes[n].cluster;
        let mut same_layer_edges = vec![0usize; nl];
        for e in &t.edges {
            let (ca, cb) = (cl(e.from), cl(e.to));
            if ca != cb && layer[ca] == layer[cb] {
                same_layer_edges[layer[ca]] += 1;
            }
        }
        let mut layer_top = vec![0.0; nl];
        let mut layer_bottom = vec![0.0; nl];
        let mut y = MARGIN + HEADER_H;
        for k in 0..nl {
            layer_top[k] = y;
            let h = self.layers[k]
                .iter()
                .filter_map(|&b| match self.blocks[b].kind {
                    BlockKind::Cluster(c) => Some(self.cluster_size[c].1),
                    BlockKind::Dummy => None,
                })
                .fold(0.0, f64::max);
            layer_bottom[k] = y + h;
            y += h + CHANNEL + SAME_LAYER_STEP * same_layer_edges[k] as f64;
        }
        let bottom = if nl > 0 { layer_bottom[nl - 1] } else { y };
        (layer_top, layer_bottom, bottom)
    }

    /// Left-aligned at the margin, or centred when the legend or the
    /// title makes the canvas wider than the drawing. Returns the canvas's
    /// width and the shift onto it.
    fn horizontal(&self) -> (f64, f64) {
        let min_x = self
            .blocks
            .iter()
            .map(|b| b.x)
            .fold(f64::INFINITY, f64::min);
        let max_x = self
            .blocks
            .iter()
            .map(|b| b.x + b.w)
            .fold(f64::NEG_INFINITY, f64::max);
        let drawing_w = if min_x.is_finite() {
            max_x - min_x
        } else {
            0.0
        };
        let width = (drawing_w + 2.0 * MARGIN)
            .max(LEGEND_W + 2.0 * MARGIN)
            .max(text_w(&format!("lab {}", self.t.lab), TITLE_CHAR_W) + 2.0 * MARGIN)
            .ceil();
        let centring = ((width - 2.0 * MARGIN - drawing_w) / 2.0).floor();
        let shift = if min_x.is_finite() {
            MARGIN + centring - min_x
        } else {
            MARGIN
        };
        (width, shift)
    }

    /// A block's left edge on the canvas.
    pub(super) fn block_x(&self, shift: f64, b: usize) -> f64 {
        (self.blocks[b].x + shift).round()
    }

    /// The middle of a corridor on the canvas.
    pub(super) fn dummy_cx(&self, shift: f64, b: usize) -> f64 {
        self.block_x(shift, b) + self.blocks[b].w / 2.0
    }
}
