//! Topologies the layout and snapshot tests share.

use super::graph::{Cluster, ClusterState, Edge, EdgeKind, Node, NodeKind, Topology};

pub(crate) fn node(cluster: usize, name: &str, kind: NodeKind) -> Node {
    Node {
        cluster,
        name: name.into(),
        kind,
        kind_label: String::new(),
        addresses: vec!["10.0.0.1/24".into()],
        up: true,
        state: "UP".into(),
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
