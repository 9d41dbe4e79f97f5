//! Topologies the layout and snapshot tests share.

use super::graph::tests::{addr, link, lref, ns};
use super::graph::{Cluster, ClusterState, Edge, EdgeKind, LinkState, Node, NodeKind, Topology};
use super::view::{LabView, SCHEMA};

pub(crate) fn node(cluster: usize, name: &str, kind: NodeKind) -> Node {
    Node {
        cluster,
        name: name.into(),
        kind,
        kind_label: String::new(),
        addresses: vec!["10.0.0.1/24".into()],
        state: LinkState::Up,
        external: false,
    }
}

pub(crate) fn cluster(name: &str) -> Cluster {
    Cluster {
        name: name.into(),
        state: ClusterState::Lab,
    }
}

pub(crate) fn edge(from: usize, to: usize, kind: EdgeKind) -> Edge {
    Edge {
        from,
        to,
        kind,
        label: "macvlan bridge".into(),
    }
}

/// a - b - c in a chain by veths, a - c directly (same layer as b's
/// neighbour), d a macvlan child of a's link two layers down.
pub(crate) fn chain() -> Topology {
    Topology {
        lab: "t".into(),
        clusters: vec![
            cluster("a"),
            cluster("b"),
            cluster("c"),
            cluster("d"),
            cluster("e"),
        ],
        nodes: vec![
            node(0, "a0", NodeKind::Veth),
            node(0, "a1", NodeKind::Veth),
            node(1, "b0", NodeKind::Veth),
            node(1, "b1", NodeKind::Veth),
            node(2, "c0", NodeKind::Veth),
            node(2, "c1", NodeKind::Veth),
            node(3, "d0", NodeKind::Macvlan),
            node(4, "e0", NodeKind::Veth),
            node(0, "a2", NodeKind::Other),
        ],
        edges: vec![
            edge(0, 2, EdgeKind::Veth),
            edge(3, 4, EdgeKind::Veth),
            edge(1, 5, EdgeKind::Veth),
            edge(8, 6, EdgeKind::Parent),
            edge(4, 7, EdgeKind::Veth),
        ],
    }
}

/// A switch with six ports to hosts that each have a macvlan child, a
/// missing namespace, and a parent outside the lab.
pub(crate) fn wide() -> Topology {
    let mut nodes = vec![node(0, "br0", NodeKind::Bridge)];
    let mut edges = Vec::new();
    let mut clusters = vec![cluster("sw")];
    for i in 0..6 {
        clusters.push(cluster(&format!("host{i}")));
        nodes.push(node(0, &format!("p{i}"), NodeKind::Veth));
        nodes.push(node(i + 1, "eth0", NodeKind::Veth));
        let (port, end) = (nodes.len() - 2, nodes.len() - 1);
        edges.push(Edge {
            from: 0,
            to: port,
            kind: EdgeKind::Port,
            label: "port".into(),
        });
        edges.push(Edge {
            from: port,
            to: end,
            kind: EdgeKind::Veth,
            label: "veth".into(),
        });
        nodes.push(node(i + 1, "mv0", NodeKind::Macvlan));
        edges.push(edge(end, nodes.len() - 1, EdgeKind::Parent));
    }
    clusters.push(Cluster {
        name: "gone".into(),
        state: ClusterState::Missing,
    });
    clusters.push(Cluster {
        name: "/".into(),
        state: ClusterState::External,
    });
    nodes.push(node(clusters.len() - 1, "eth0", NodeKind::Other));
    nodes.push(node(1, "mv1", NodeKind::Macvlan));
    edges.push(edge(nodes.len() - 2, nodes.len() - 1, EdgeKind::Parent));
    Topology {
        lab: "wide".into(),
        clusters,
        nodes,
        edges,
    }
}

/// A lab with nothing in it, and one with a single link.
pub(crate) fn empty() -> Topology {
    Topology {
        lab: "empty".into(),
        ..Default::default()
    }
}

pub(crate) fn single() -> Topology {
    Topology {
        lab: "one".into(),
        clusters: vec![cluster("a")],
        nodes: vec![node(0, "x", NodeKind::Other)],
        edges: vec![],
    }
}

/// The newcomer lab of issue 18, as `show` sees it: in `nc-host` a bridge
/// with a veth port and three macvlan children of its own; the port's
/// other end in `nc-peer`, set down by hand, so the port, the bridge and
/// the children have no carrier.
pub(crate) fn newcomer_view() -> LabView {
    let mut br0 = link(2, "br0", Some("bridge"));
    br0.addresses = vec![addr("192.168.50.1/24")];
    br0.oper_state = "DOWN".into();
    let mut port = link(3, "veth0", Some("veth"));
    port.master = Some("br0".into());
    port.peer = lref(2, "eth0", "nc-peer");
    port.oper_state = "LOWERLAYERDOWN".into();
    let child = |i: u32| {
        let mut c = link(3 + i, &format!("mv{i}"), Some("macvlan"));
        c.macvlan_mode = Some("bridge".into());
        c.parent = lref(2, "br0", "nc-host");
        c.addresses = vec![addr(&format!("192.168.50.1{i}/24"))];
        c.oper_state = "LOWERLAYERDOWN".into();
        c
    };
    let mut eth0 = link(2, "eth0", Some("veth"));
    eth0.peer = lref(3, "veth0", "nc-host");
    eth0.addresses = vec![addr("192.168.50.2/24")];
    eth0.admin_up = false;
    eth0.oper_state = "DOWN".into();
    LabView {
        schema: SCHEMA,
        lab: "newcomer".into(),
        journal_damage: None,
        namespaces: vec![
            ns(
                "nc-host",
                vec![link(1, "lo", None), br0, port, child(1), child(2), child(3)],
            ),
            ns("nc-peer", vec![link(1, "lo", None), eth0]),
        ],
    }
}

/// Thirty namespaces: a switch with five veth ports to five hosts, and
/// twenty-four namespaces holding macvlan children of the hosts' links.
pub(crate) fn thirty_view() -> LabView {
    let mut lan = vec![link(1, "lo", None)];
    let mut br0 = link(2, "br0", Some("bridge"));
    br0.addresses = vec![addr("10.30.0.1/16")];
    lan.push(br0);
    let mut namespaces = Vec::new();
    let mut hosts = Vec::new();
    let mut children = Vec::new();
    for h in 0..5u32 {
        let host = format!("h{h}");
        let mut port = link(3 + h, &format!("p{h}"), Some("veth"));
        port.master = Some("br0".into());
        port.peer = lref(2, "eth0", &host);
        lan.push(port);
        let mut eth0 = link(2, "eth0", Some("veth"));
        eth0.peer = lref(3 + h, &format!("p{h}"), "lan");
        eth0.addresses = vec![addr(&format!("10.30.{h}.1/16"))];
        hosts.push(ns(&host, vec![link(1, "lo", None), eth0]));
        for c in 0..if h < 4 { 5 } else { 4 } {
            let mut mv = link(2, "mv0", Some("macvlan"));
            mv.macvlan_mode = Some(if c % 2 == 0 { "bridge" } else { "vepa" }.into());
            mv.parent = lref(2, "eth0", &host);
            mv.addresses = vec![addr(&format!("10.30.{h}.{}/16", 10 + c))];
            children.push(ns(&format!("h{h}-c{c}"), vec![link(1, "lo", None), mv]));
        }
    }
    namespaces.push(ns("lan", lan));
    namespaces.extend(hosts);
    namespaces.extend(children);
    LabView {
        schema: SCHEMA,
        lab: "thirty".into(),
        journal_damage: None,
        namespaces,
    }
}

/// The newcomer lab with each macvlan child in a namespace of its own:
/// their edges leave the bridge past its port, in the row below it.
pub(crate) fn newcomer_apart_view() -> LabView {
    let mut v = newcomer_view();
    let children: Vec<_> = v.namespaces[0].links.drain(3..).collect();
    for (i, c) in children.into_iter().enumerate() {
        v.namespaces
            .push(ns(&format!("nc-c{}", i + 1), vec![link(1, "lo", None), c]));
    }
    v
}

/// One switch namespace with a bridge of twenty-four veth ports, and the
/// twenty-four hosts at their other ends: a namespace too wide for one
/// row of links.
pub(crate) fn switch_view() -> LabView {
    let mut sw = vec![link(1, "lo", None)];
    let mut br0 = link(2, "br0", Some("bridge"));
    br0.addresses = vec![addr("10.24.0.1/16")];
    sw.push(br0);
    let mut namespaces = Vec::new();
    for h in 0..24u32 {
        let host = format!("host{h:02}");
        let mut port = link(3 + h, &format!("p{h:02}"), Some("veth"));
        port.master = Some("br0".into());
        port.peer = lref(2, "eth0", &host);
        sw.push(port);
        let mut eth0 = link(2, "eth0", Some("veth"));
        eth0.peer = lref(3 + h, &format!("p{h:02}"), "sw");
        eth0.addresses = vec![addr(&format!("10.24.{h}.1/16"))];
        namespaces.push(ns(&host, vec![link(1, "lo", None), eth0]));
    }
    namespaces.insert(0, ns("sw", sw));
    LabView {
        schema: SCHEMA,
        lab: "switch".into(),
        journal_damage: None,
        namespaces,
    }
}
