//! A self-contained SVG of a lab's topology, drawn from [`super::layout`]:
//! no scripts, no external fonts or files, so any browser shows it as is.

use std::fmt::Write;

use super::graph::{
    Cluster, ClusterState, EdgeKind, LinkState, Node, NodeKind, Topology, edge_colour, node_colours,
};
use super::layout::{
    self, ClusterBox, FONT, LABEL_FONT, LINE_H, Layout, NODE_PAD_Y, P, PORT_BAND, Rect, Seg,
    TITLE_FONT,
};

const FONT_FAMILY: &str = "'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace";
const TEXT: &str = "#1f2328";
const MUTED: &str = "#57606a";
const RED: &str = "#cf222e";

/// Escapes text for XML character data and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn n(v: f64) -> String {
    // Coordinates to one decimal; integers without one.
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn pt(q: P) -> String {
    format!("{} {}", n(q.x), n(q.y))
}

fn rect(s: &mut String, r: &Rect, rx: f64, attrs: &str) {
    let _ = writeln!(
        s,
        r#"<rect x="{}" y="{}" width="{}" height="{}" rx="{}" {attrs}/>"#,
        n(r.x),
        n(r.y),
        n(r.w),
        n(r.h),
        n(rx)
    );
}

fn text(s: &mut String, x: f64, y: f64, attrs: &str, content: &str) {
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" {attrs}>{}</text>"#,
        n(x),
        n(y),
        xml_escape(content)
    );
}

fn path_d(start: P, segs: &[Seg]) -> String {
    let mut d = format!("M {}", pt(start));
    for seg in segs {
        match seg {
            Seg::Line(q) => d += &format!(" L {}", pt(*q)),
            Seg::Quad(c, q) => d += &format!(" Q {} {}", pt(*c), pt(*q)),
            Seg::Cubic(a, b, q) => d += &format!(" C {} {} {}", pt(*a), pt(*b), pt(*q)),
        }
    }
    d
}

fn edge_style(kind: EdgeKind) -> String {
    let colour = edge_colour(kind);
    match kind {
        EdgeKind::Veth => format!(r#"stroke="{colour}" stroke-width="2.5""#),
        EdgeKind::Parent => format!(r#"stroke="{colour}" stroke-width="2" stroke-dasharray="7 4""#),
        EdgeKind::Port => format!(r#"stroke="{colour}" stroke-width="2""#),
        EdgeKind::Tunnel => {
            format!(r#"stroke="{colour}" stroke-width="2.5" stroke-dasharray="2 4""#)
        }
    }
}

/// The topology drawn as an SVG document.
pub fn svg(t: &Topology) -> String {
    render(t, &layout::layout(t))
}

/// Draws a topology at the positions `l` gives.
pub fn render(t: &Topology, l: &Layout) -> String {
    let mut s = String::new();
    header(&mut s, t, l);
    for (c, b) in t.clusters.iter().zip(&l.clusters) {
        namespace(&mut s, c, b);
    }
    edges(&mut s, t, l);
    for (i, (node, r)) in t.nodes.iter().zip(&l.nodes).enumerate() {
        link(&mut s, t, i, node, r);
    }
    ports_and_labels(&mut s, t, l);
    legend(&mut s, l.legend);
    s.push_str("</svg>\n");
    s
}

/// The document's start: the canvas, the arrow marker, the lab's title.
fn header(s: &mut String, t: &Topology, l: &Layout) {
    let (w, h) = (n(l.width), n(l.height));
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{}" font-size="{}">"#,
        xml_escape(FONT_FAMILY),
        n(FONT)
    );
    let _ = writeln!(
        s,
        "<title>{}</title>",
        xml_escape(&format!("netwasm lab {}", t.lab))
    );
    let parent = edge_colour(EdgeKind::Parent);
    let _ = writeln!(
        s,
        r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{parent}"/></marker></defs>"#
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    text(
        s,
        layout::MARGIN,
        layout::MARGIN + 16.0,
        &format!(r#"font-size="16" font-weight="bold" fill="{TEXT}""#),
        &format!("lab {}", t.lab),
    );
}

/// A namespace's box, title and note.
fn namespace(s: &mut String, c: &Cluster, b: &ClusterBox) {
    let (fill, stroke, dash) = match c.state {
        ClusterState::Lab => ("#f6f8fa", "#8c959f", ""),
        ClusterState::Held => ("#fbfbfc", "#8c959f", r#" stroke-dasharray="6 4""#),
        ClusterState::External => ("#ffffff", "#afb8c1", r#" stroke-dasharray="4 4""#),
        ClusterState::Missing | ClusterState::Unreadable(_) => {
            ("#fff5f5", RED, r#" stroke-dasharray="6 4""#)
        }
    };
    let _ = writeln!(
        s,
        "<g class=\"namespace\" data-name=\"{}\">",
        xml_escape(&c.name)
    );
    rect(
        s,
        &b.rect,
        10.0,
        &format!(r#"fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dash}"#),
    );
    let colour = if matches!(c.state, ClusterState::Missing | ClusterState::Unreadable(_)) {
        RED
    } else {
        TEXT
    };
    text(
        s,
        b.title.x + 4.0,
        b.title.y + 13.0,
        &format!(
            r#"font-size="{}" font-weight="bold" fill="{colour}""#,
            n(TITLE_FONT)
        ),
        &c.title(),
    );
    if let (Some(r), Some(note)) = (b.note, c.note()) {
        text(s, r.x, r.y + 12.0, &format!(r#"fill="{RED}""#), &note);
    }
    s.push_str("</g>\n");
}

/// Edges, drawn under the links they join.
fn edges(s: &mut String, t: &Topology, l: &Layout) {
    for (e, r) in t.edges.iter().zip(&l.edges) {
        let marker = match (e.kind, r.reversed) {
            (EdgeKind::Parent, false) => r#" marker-end="url(#arrow)""#,
            (EdgeKind::Parent, true) => r#" marker-start="url(#arrow)""#,
            _ => "",
        };
        let _ = writeln!(
            s,
            r#"<path class="edge {}" data-from="{}" data-to="{}" d="{}" fill="none" {}{marker}/>"#,
            match e.kind {
                EdgeKind::Parent => "parent",
                EdgeKind::Veth => "veth",
                EdgeKind::Port => "port",
                EdgeKind::Tunnel => "tunnel",
            },
            xml_escape(&t.dot_id(e.from)),
            xml_escape(&t.dot_id(e.to)),
            path_d(r.start, &r.segs),
            edge_style(e.kind)
        );
    }
}

/// A link's box and its lines of text (on a bridge, its port band).
fn link(s: &mut String, t: &Topology, i: usize, node: &Node, r: &Rect) {
    let (fill, stroke) = node_colours(node.kind, node.external);
    // Set down: red and dashed. No carrier: faded, grey dashed (its own
    // state is fine; something below it is down).
    let (stroke, dash) = match (node.external, node.state) {
        (true, _) => (stroke, r#" stroke-dasharray="5 3""#),
        (false, LinkState::Down) => (RED, r#" stroke-dasharray="6 3""#),
        (false, LinkState::NoCarrier) => (MUTED, r#" stroke-dasharray="3 3" fill-opacity="0.45""#),
        (false, LinkState::Up) => (stroke, ""),
    };
    let state = match node.state {
        LinkState::Up => "up",
        LinkState::NoCarrier => "no-carrier",
        LinkState::Down => "down",
    };
    let _ = writeln!(
        s,
        "<g class=\"link\" data-id=\"{}\" data-state=\"{state}\">",
        xml_escape(&t.dot_id(i))
    );
    rect(
        s,
        r,
        6.0,
        &format!(r#"fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dash}"#),
    );
    if node.kind == NodeKind::Bridge {
        // The switch's port band.
        let band = Rect {
            x: r.x,
            y: r.bottom() - PORT_BAND,
            w: r.w,
            h: PORT_BAND,
        };
        let _ = writeln!(
            s,
            r#"<path d="M {} {} H {}" stroke="{stroke}" stroke-width="1" stroke-opacity="0.5"/>"#,
            n(band.x),
            n(band.y),
            n(band.right())
        );
    }
    for (k, line) in node.lines().iter().enumerate() {
        let y = r.y + NODE_PAD_Y + (k as f64 + 1.0) * LINE_H - 4.0;
        let attrs = match k {
            0 => format!(r#"text-anchor="middle" font-weight="bold" fill="{TEXT}""#),
            1 if node.state == LinkState::Down => {
                format!(r#"text-anchor="middle" font-weight="bold" fill="{RED}""#)
            }
            1 => format!(r#"text-anchor="middle" fill="{MUTED}""#),
            _ => format!(r#"text-anchor="middle" fill="{TEXT}""#),
        };
        text(s, r.cx(), y, &attrs, line);
    }
    s.push_str("</g>\n");
}

/// Bridge ports, then edge labels, over the edges and links.
fn ports_and_labels(s: &mut String, t: &Topology, l: &Layout) {
    let port = edge_colour(EdgeKind::Port);
    for r in &l.edges {
        if let Some(p) = r.port {
            rect(
                s,
                &p,
                1.5,
                &format!(r##"fill="#ffffff" stroke="{port}" stroke-width="1.5""##),
            );
        }
    }
    for (e, r) in t.edges.iter().zip(&l.edges) {
        if let Some(b) = r.label {
            let colour = edge_colour(e.kind);
            let _ = writeln!(
                s,
                r#"<g class="label" data-from="{}" data-to="{}">"#,
                xml_escape(&t.dot_id(e.from)),
                xml_escape(&t.dot_id(e.to))
            );
            rect(
                s,
                &b,
                4.0,
                &format!(r##"fill="#ffffff" stroke="{colour}" stroke-width="1""##),
            );
            text(
                s,
                b.cx(),
                b.y + 11.0,
                &format!(
                    r#"text-anchor="middle" font-size="{}" fill="{colour}""#,
                    n(LABEL_FONT)
                ),
                &e.label,
            );
            s.push_str("</g>\n");
        }
    }
}

fn legend(s: &mut String, at: P) {
    let y = at.y + 14.0;
    let mut x = at.x;
    let _ = writeln!(
        s,
        "<g class=\"legend\" font-size=\"{}\" fill=\"{MUTED}\">",
        n(LABEL_FONT)
    );
    let items: [(EdgeKind, &str); 3] = [
        (EdgeKind::Veth, "veth pair"),
        (EdgeKind::Parent, "parent \u{2192} macvlan child (mode)"),
        (EdgeKind::Port, "bridge \u{2192} port"),
    ];
    for (kind, label) in items {
        let marker = if kind == EdgeKind::Parent {
            r#" marker-end="url(#arrow)""#
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r#"<path d="M {} {} H {}" fill="none" {}{marker}/>"#,
            n(x),
            n(y - 4.0),
            n(x + 34.0),
            edge_style(kind)
        );
        text(s, x + 42.0, y, "", label);
        x += 42.0 + label.chars().count() as f64 * layout::LABEL_CHAR_W + 24.0;
    }
    // Link boxes on a second line.
    let (mut x, y) = (at.x, y + 22.0);
    let boxes = [
        (
            r##"fill="#ffffff" stroke="#afb8c1" stroke-dasharray="5 3""##.to_string(),
            "outside the lab",
        ),
        (
            format!(
                r##"fill="#dbeafe" fill-opacity="0.45" stroke="{MUTED}" stroke-dasharray="3 3""##
            ),
            "NO-CARRIER: up, no carrier",
        ),
        (
            format!(r##"fill="#ffffff" stroke="{RED}" stroke-dasharray="6 3""##),
            "DOWN: set down",
        ),
    ];
    for (style, label) in boxes {
        let r = Rect {
            x,
            y: y - 11.0,
            w: 26.0,
            h: 14.0,
        };
        rect(s, &r, 3.0, &format!(r#"{style} stroke-width="1.5""#));
        text(s, x + 32.0, y, "", label);
        x += 32.0 + label.chars().count() as f64 * layout::LABEL_CHAR_W + 24.0;
    }
    s.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::super::graph::tests::seed_view;
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(n(1.0), "1");
        assert_eq!(n(1.25), "1.3");
    }

    #[test]
    fn seed_svg_names_every_namespace_and_link() {
        let t = Topology::from_view(&seed_view("x", "bridge"));
        let doc = svg(&t);
        assert!(doc.starts_with("<?xml"));
        for c in &t.clusters {
            assert!(doc.contains(&format!(">{}</text>", c.name)), "{}", c.name);
        }
        for node in &t.nodes {
            assert!(
                doc.contains(&format!(">{}</text>", node.name)),
                "{}",
                node.name
            );
        }
        assert!(doc.contains(">macvlan bridge</text>"));
        assert_eq!(
            doc.matches("marker-end=\"url(#arrow)\"").count(),
            3,
            "two edges and the legend"
        );
    }
}
