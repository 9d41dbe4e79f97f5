//! Whole layouts: every property the drawing promises, on the seed lab and
//! on shapes that test the corners.

use super::super::fixtures;
use super::super::graph::tests::seed_view;
use super::*;

/// Every property the drawing promises: boxes apart, links inside their
/// namespace, text clear of boxes and of other text, all on the canvas,
/// and every edge running from one of its nodes to the other.
fn check(t: &Topology, l: &Layout) {
    // NETWASM_SVG_DUMP=DIR writes each drawing there, to look at.
    if let Some(dir) = std::env::var_os("NETWASM_SVG_DUMP") {
        let first = t.clusters.first().map_or("", |c| c.name.as_str());
        let name = format!("{}-{first}-{}.svg", t.lab, t.nodes.len());
        std::fs::write(
            std::path::Path::new(&dir).join(name),
            super::super::svg::render(t, l),
        )
        .unwrap();
    }
    let canvas = Rect {
        x: 0.0,
        y: 0.0,
        w: l.width,
        h: l.height,
    };
    check_boxes(t, l, &canvas);
    let mut texts: Vec<(String, Rect)> = Vec::new();
    for (i, c) in l.clusters.iter().enumerate() {
        texts.push((format!("title {i}"), c.title));
        if let Some(n) = c.note {
            texts.push((format!("note {i}"), n));
        }
    }
    for (i, e) in l.edges.iter().enumerate() {
        if let Some(r) = e.label {
            assert!(canvas.contains(&r), "label {i} off the canvas");
            texts.push((format!("label {i}"), r));
            for (j, n) in l.nodes.iter().enumerate() {
                assert!(
                    !r.overlaps(n),
                    "label of edge {i} over link {}",
                    t.nodes[j].name
                );
            }
        }
        check_ends(t, l, i);
    }
    for (i, (na, a)) in texts.iter().enumerate() {
        for (nb, b) in &texts[i + 1..] {
            assert!(!a.overlaps(b), "{na} and {nb} overlap: {a:?} {b:?}");
        }
    }
}

/// Namespaces on the canvas and apart, titles in their boxes, links in
/// their namespaces, clear of the title and of each other.
fn check_boxes(t: &Topology, l: &Layout, canvas: &Rect) {
    for (i, a) in l.clusters.iter().enumerate() {
        assert!(canvas.contains(&a.rect), "namespace {i} off the canvas");
        assert!(
            a.rect.contains(&a.title),
            "title of namespace {i} outside its box"
        );
        for b in &l.clusters[i + 1..] {
            assert!(!a.rect.overlaps(&b.rect), "namespaces overlap: {a:?} {b:?}");
        }
    }
    for (i, n) in l.nodes.iter().enumerate() {
        let c = &l.clusters[t.nodes[i].cluster];
        assert!(
            c.rect.contains(n),
            "link {} outside its namespace",
            t.nodes[i].name
        );
        assert!(
            !c.title.overlaps(n),
            "link {} under its namespace's title",
            t.nodes[i].name
        );
        for (j, m) in l.nodes.iter().enumerate().skip(i + 1) {
            assert!(
                !n.overlaps(m),
                "links {} and {} overlap",
                t.nodes[i].name,
                t.nodes[j].name
            );
        }
    }
}

/// Edge `i` runs from one of its nodes to the other, and not through the
/// title of the namespace it enters; it has a label when it should.
fn check_ends(t: &Topology, l: &Layout, i: usize) {
    let e = &l.edges[i];
    // A label that finds no free place is left out.
    assert!(e.label.is_none() || labelled(t, &t.edges[i]));
    let (from, to) = (l.nodes[t.edges[i].from], l.nodes[t.edges[i].to]);
    let (a, b) = if e.reversed { (to, from) } else { (from, to) };
    let on = |q: P, r: Rect| q.x >= r.x && q.x <= r.right() && (q.y == r.y || q.y == r.bottom());
    assert!(
        on(e.start, a),
        "edge {i} does not start on its node: {:?} {a:?}",
        e.start
    );
    let lower = if e.reversed {
        t.edges[i].from
    } else {
        t.edges[i].to
    };
    let upper = if e.reversed {
        t.edges[i].to
    } else {
        t.edges[i].from
    };
    let title = l.clusters[t.nodes[lower].cluster].title;
    if t.nodes[lower].cluster != t.nodes[upper].cluster && e.end().y == b.y {
        let x = e.end().x;
        assert!(
            x < title.x || x > title.right(),
            "edge {i} runs through the title of its namespace"
        );
    }
    assert!(
        on(e.end(), b),
        "edge {i} does not end on its node: {:?} {b:?}",
        e.end()
    );
}

#[test]
fn seed_lab_in_both_modes() {
    // Short and long names: titles wider than the links below them.
    for (prefix, mode) in [
        ("lab1", "bridge"),
        ("lab1", "vepa"),
        ("insp-bridge", "bridge"),
        ("a-much-longer-lab-prefix", "vepa"),
    ] {
        let t = Topology::from_view(&seed_view(prefix, mode));
        let l = layout(&t);
        check(&t, &l);
        let c = |name: &str| {
            let name = name.replace("lab1", prefix);
            l.clusters[t.clusters.iter().position(|c| c.name == name).unwrap()].rect
        };
        // The switch on top, the hosts below it, the children below theirs.
        assert!(c("lab1-lan").bottom() < c("lab1-net1").y);
        assert!(c("lab1-lan").bottom() < c("lab1-test").y);
        assert!(c("lab1-net1").bottom() < c("lab1-ns1").y);
        assert!(c("lab1-net1").bottom() < c("lab1-ns2").y);
        assert_eq!(c("lab1-ns1").y, c("lab1-ns2").y);
    }
}

#[test]
fn long_edges_get_corridors_and_same_layer_edges_go_around() {
    let t = fixtures::chain();
    let l = layout(&t);
    check(&t, &l);
}

#[test]
fn a_wide_switch_and_missing_namespaces() {
    let t = fixtures::wide();
    let l = layout(&t);
    check(&t, &l);
}

#[test]
fn empty_and_single() {
    let t = fixtures::empty();
    let l = layout(&t);
    check(&t, &l);
    assert!(l.width > 0.0 && l.height > 0.0);
    let t = fixtures::single();
    check(&t, &layout(&t));
}
