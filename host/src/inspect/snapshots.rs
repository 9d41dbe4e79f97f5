//! Byte-for-byte snapshots of what `show` and `graph` print for fixed labs
//! (the seed lab in both macvlan modes, and the layout tests' topologies),
//! kept in `snapshots/`. A change to the drawing or the tables shows up
//! here; `NETWASM_BLESS=1` rewrites the files after a deliberate one.

use std::path::PathBuf;

use super::fixtures;
use super::graph::tests::{seed_view, vxlan_view};
use super::graph::{self, Topology};
use super::{show, svg};

fn check(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/inspect/snapshots")
        .join(name);
    if std::env::var_os("NETWASM_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (NETWASM_BLESS=1 writes it)", path.display()));
    assert!(
        got == want,
        "{name} differs from {}:\n{got}",
        path.display()
    );
}

fn drawings(name: &str, t: &Topology) {
    check(&format!("{name}.svg"), &svg::svg(t));
    check(&format!("{name}.dot"), &graph::dot(t));
    check(&format!("{name}.mmd"), &graph::mermaid(t));
}

#[test]
fn seed_lab() {
    for (prefix, mode) in [
        ("lab1", "bridge"),
        ("lab1", "vepa"),
        ("insp-bridge", "bridge"),
        ("a-much-longer-lab-prefix", "vepa"),
    ] {
        let v = seed_view(prefix, mode);
        let name = format!("seed-{prefix}-{mode}");
        check(&format!("{name}.txt"), &show::table(&v));
        check(&format!("{name}.json"), &show::json(&v));
        drawings(&name, &Topology::from_view(&v));
    }
}

#[test]
fn vxlan_lab() {
    let v = vxlan_view();
    check("vxlan.txt", &show::table(&v));
    check("vxlan.json", &show::json(&v));
    drawings("vxlan", &Topology::from_view(&v));
}

#[test]
fn issue_18_labs() {
    for (name, v) in [
        ("newcomer", fixtures::newcomer_view()),
        ("newcomer-apart", fixtures::newcomer_apart_view()),
        ("thirty", fixtures::thirty_view()),
        ("switch", fixtures::switch_view()),
    ] {
        check(&format!("{name}.txt"), &show::table(&v));
        drawings(name, &Topology::from_view(&v));
    }
}

#[test]
fn layout_topologies() {
    drawings("chain", &fixtures::chain());
    drawings("wide", &fixtures::wide());
    drawings("empty", &fixtures::empty());
    drawings("single", &fixtures::single());
}
