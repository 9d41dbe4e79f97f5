//! The parser's and checker's messages, without a host.

use super::parse;

const SEED: &str = include_str!("../../../examples/seed-macvlan.yaml");

fn err(text: &str) -> String {
    parse("lab.yaml", text).unwrap_err()
}

#[test]
fn the_seed_file_parses() {
    let lab = parse("seed.yaml", SEED).unwrap();
    assert_eq!(lab.name, "seed");
    assert_eq!(lab.nodes.len(), 5);
    assert_eq!(lab.nodes[0].namespace, "seed-lan");
    assert_eq!(lab.veths.len(), 2);
    assert_eq!(lab.expects.len(), 9);
}

#[test]
fn unknown_keys_name_their_line_and_key() {
    let e = err("name: a\ntopology:\n  nodes:\n    r1:\n      colour: red\n");
    assert!(
        e.starts_with("lab.yaml:5: topology.nodes.r1.colour: unknown field `colour`"),
        "{e}"
    );
}

#[test]
fn a_bad_endpoint_names_the_node() {
    let e = err(
        "name: a\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n    - endpoints: [\"a:eth0\", \"b:eth0\"]\n    - endpoints: [\"a:eth1\", \"c:eth0\"]\n",
    );
    assert_eq!(
        e,
        "lab.yaml:8: topology.links[1].endpoints[1]: node \"c\" is not in topology.nodes"
    );
}

#[test]
fn a_bad_cidr_is_refused() {
    let e = err(
        "name: a\ntopology:\n  nodes:\n    a:\n      interfaces:\n        lo:\n          addresses: [10.0.0.1/33]\n",
    );
    assert!(
        e.starts_with("lab.yaml:7: topology.nodes.a.interfaces.lo.addresses[0]: "),
        "{e}"
    );
}

#[test]
fn a_node_given_twice_is_refused() {
    let e = err("name: a\ntopology:\n  nodes:\n    a: {}\n    a: {}\n");
    assert_eq!(e, "lab.yaml:5: topology.nodes.a: \"a\" is given twice");
}

#[test]
fn a_missing_field_is_named() {
    let e = err("name: a\ntopology:\n  nodes:\n    a:\n      routes:\n        - via: 10.0.0.1\n");
    assert!(
        e.contains("topology.nodes.a.routes[0]") && e.contains("to"),
        "{e}"
    );
}

#[test]
fn the_tour_file_parses() {
    let lab = parse(
        "tour.yaml",
        include_str!("../../../examples/topology-tour.yaml"),
    )
    .unwrap();
    assert_eq!(lab.nodes.len(), 6);
    assert_eq!(lab.nodes[5].namespace, "tour-far");
    assert_eq!(lab.expects.len(), 5);
}

#[test]
fn host_is_the_machines_own_namespace() {
    let lab = parse(
        "lab.yaml",
        "name: a\ntopology:\n  nodes:\n    c:\n      interfaces:\n        mv0: {kind: macvlan, parent: \"host:eth0\"}\n",
    )
    .unwrap();
    assert_eq!(
        lab.nodes[0].interfaces[0].parent,
        Some(crate::check::Parent::Host("eth0".into()))
    );
    let e = err("name: a\ntopology:\n  nodes:\n    host: {}\n");
    assert!(
        e.starts_with("lab.yaml:4: topology.nodes.host: \"host\" is the machine's own namespace"),
        "{e}"
    );
    let e = err(
        "name: a\ntopology:\n  nodes:\n    c: {}\n  links:\n    - endpoints: [\"c:e0\", \"host:e0\"]\n",
    );
    assert!(e.starts_with("lab.yaml:6: topology.links[0].endpoints[1]: netwasm makes no link in the machine's own namespace"), "{e}");
}

#[test]
fn lo_is_every_node_s_own() {
    let e = err(
        "name: a\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n    - endpoints: [\"a:lo\", \"b:eth0\"]\n",
    );
    assert!(
        e.starts_with("lab.yaml:7: topology.links[0].endpoints[0]: node a has its lo already"),
        "{e}"
    );
    let e = err(
        "name: a\ntopology:\n  nodes:\n    a:\n      interfaces:\n        lo: {kind: bridge}\n",
    );
    assert!(
        e.starts_with("lab.yaml:6: topology.nodes.a.interfaces.lo.kind: node a has its lo already"),
        "{e}"
    );
}

#[test]
fn containerlab_keys_without_a_counterpart_say_so() {
    let e = err("name: a\nmgmt:\n  network: x\ntopology:\n  nodes: {}\n");
    assert!(
        e.ends_with("(netwasm labs have no management network)"),
        "{e}"
    );
    let e = err("name: a\ntopology:\n  nodes:\n    r1:\n      kind: netns\n      image: alpine\n");
    assert!(
        e.starts_with("lab.yaml:6: topology.nodes.r1.image: unknown field `image`")
            && e.contains("bare network namespace"),
        "{e}"
    );
}

#[test]
fn macvlans_whose_parents_lead_back_to_them_are_a_mistake_in_the_file() {
    let e = err(
        "name: a\ntopology:\n  nodes:\n    a:\n      interfaces:\n        m1: {kind: macvlan, parent: \"b:m2\"}\n    b:\n      interfaces:\n        m2: {kind: macvlan, parent: \"a:m1\"}\n",
    );
    assert!(
        e.starts_with("lab.yaml:6: topology.nodes.a.interfaces.m1")
            && e.ends_with("its parent is a macvlan whose own parents lead back to it"),
        "{e}"
    );
}
