//! `netwasm graph`: a lab's topology as a graph — namespaces as clusters,
//! links as nodes, and three kinds of edges: a lower link to its children
//! (macvlan and the like, labelled with the mode), the two ends of a veth
//! pair, and a bridge to its ports — written as Graphviz DOT, Mermaid, or
//! (through [`super::layout`] and [`super::svg`]) a self-contained SVG.
//!
//! Loopback links are left out, and so are link-local and host-scope
//! addresses: they say nothing about the topology. `netwasm show` has them.

use std::collections::HashMap;
use std::fmt::Write;

use super::view::{LabView, LinkRef, NsView};

/// What a namespace cluster stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterState {
    /// A namespace the lab created.
    Lab,
    /// A namespace the lab did not create but has links in.
    Held,
    /// A namespace the ledger records that is gone from the kernel.
    Missing,
    /// A namespace that exists but could not be read.
    Unreadable(String),
    /// Not held by the lab: it holds a parent or peer of a lab link.
    External,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The namespace's name (`/` for the root namespace, `?` for one
    /// netwasm could not identify).
    pub name: String,
    pub state: ClusterState,
}

impl Cluster {
    /// The cluster's caption.
    pub fn title(&self) -> String {
        let name = match self.name.as_str() {
            "/" => "root namespace /".to_string(),
            "?" => "unknown namespace".to_string(),
            n => n.to_string(),
        };
        match &self.state {
            ClusterState::Lab => name,
            ClusterState::Held => format!("{name} (not created by the lab)"),
            ClusterState::Missing => format!("{name} (missing)"),
            ClusterState::Unreadable(_) => format!("{name} (unreadable)"),
            ClusterState::External => format!("{name} (outside the lab)"),
        }
    }

    /// A line shown inside a cluster that has no links to show, if any.
    pub fn note(&self) -> Option<String> {
        match &self.state {
            ClusterState::Missing => {
                Some("the ledger records it; the kernel has no such namespace".into())
            }
            ClusterState::Unreadable(e) => Some(e.clone()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Bridge,
    Veth,
    Macvlan,
    Other,
}

/// Whether a link passes frames, and if not, whose doing that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Admin up, and operationally up or unknown (loopback-like drivers).
    Up,
    /// Admin up but not running: nothing below gives it a carrier (a
    /// bridge without running ports, a veth whose peer is down, a macvlan
    /// whose parent is: `LOWERLAYERDOWN`). Somebody else's link is down.
    NoCarrier,
    /// Set down (admin down): by the lab or by hand.
    Down,
}

impl LinkState {
    pub fn of(admin_up: bool, oper_state: &str) -> Self {
        match (admin_up, oper_state) {
            (false, _) => LinkState::Down,
            (true, "UP" | "UNKNOWN") => LinkState::Up,
            (true, _) => LinkState::NoCarrier,
        }
    }

    /// What a link's box says, when it is not up.
    pub fn text(self) -> Option<&'static str> {
        match self {
            LinkState::Up => None,
            LinkState::NoCarrier => Some("NO-CARRIER"),
            LinkState::Down => Some("DOWN"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub cluster: usize,
    pub name: String,
    pub kind: NodeKind,
    /// `veth`, `macvlan bridge`, `bridge`, ...; empty when unknown.
    pub kind_label: String,
    /// Global and site-scope addresses, as CIDRs.
    pub addresses: Vec<String>,
    pub state: LinkState,
    /// A link outside the lab, known only as a parent or peer.
    pub external: bool,
}

impl Node {
    /// The lines of text a node shows: its name first.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.name.clone()];
        let mut second = self.kind_label.clone();
        if let Some(state) = self.state.text().filter(|_| !self.external) {
            if !second.is_empty() {
                second.push_str(", ");
            }
            second.push_str(state);
        }
        if !second.is_empty() {
            lines.push(second);
        }
        lines.extend(self.addresses.iter().cloned());
        lines
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// `from` is the lower link (parent) of `to` (a macvlan, vlan, ...).
    Parent,
    /// `from` and `to` are the two ends of a veth pair.
    Veth,
    /// `from` is a bridge (or other master), `to` one of its ports.
    Port,
    /// `from` and `to` are vxlans that carry each other's frames: one's
    /// remote is an address of the other's namespace, and they share a
    /// VNI and port.
    Tunnel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// `macvlan bridge`, `veth`, `port`, ...
    pub label: String,
}

/// A lab's topology, ready to draw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    pub lab: String,
    pub clusters: Vec<Cluster>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

fn is_loopback(kind: Option<&str>, name: &str) -> bool {
    kind.is_none() && name == "lo"
}

impl Topology {
    /// The topology of a lab view.
    pub fn from_view(view: &LabView) -> Self {
        let mut t = Topology {
            lab: view.lab.clone(),
            ..Default::default()
        };
        let mut by_name: HashMap<(String, String), usize> = HashMap::new();
        let mut by_index: HashMap<(String, u32), usize> = HashMap::new();
        for ns in &view.namespaces {
            let state = match (&ns.error, ns.present, ns.created_by_lab) {
                (Some(e), _, _) => ClusterState::Unreadable(e.clone()),
                (None, false, _) => ClusterState::Missing,
                (None, true, true) => ClusterState::Lab,
                (None, true, false) => ClusterState::Held,
            };
            t.clusters.push(Cluster {
                name: ns.name.clone(),
                state,
            });
            let c = t.clusters.len() - 1;
            for l in &ns.links {
                if is_loopback(l.kind.as_deref(), &l.name) {
                    continue;
                }
                let kind = match l.kind.as_deref() {
                    Some("bridge") => NodeKind::Bridge,
                    Some("veth") => NodeKind::Veth,
                    Some("macvlan") | Some("macvtap") => NodeKind::Macvlan,
                    _ => NodeKind::Other,
                };
                let kind_label = match (&l.kind, &l.macvlan_mode, &l.vxlan) {
                    (Some(k), Some(m), _) => format!("{k} {m}"),
                    (Some(k), None, Some(v)) => format!("{k} {}", v.id),
                    (Some(k), None, None) => k.clone(),
                    (None, _, _) => String::new(),
                };
                let state = LinkState::of(l.admin_up, &l.oper_state);
                t.nodes.push(Node {
                    cluster: c,
                    name: l.name.clone(),
                    kind,
                    kind_label,
                    addresses: l
                        .addresses
                        .iter()
                        .filter(|a| matches!(a.scope.as_str(), "global" | "site"))
                        .map(|a| a.cidr.clone())
                        .collect(),
                    state,
                    external: false,
                });
                let id = t.nodes.len() - 1;
                by_name.insert((ns.name.clone(), l.name.clone()), id);
                by_index.insert((ns.name.clone(), l.index), id);
            }
        }
        for ns in &view.namespaces {
            t.add_edges(ns, &mut by_name, &mut by_index);
        }
        t.add_tunnels(view, &by_name);
        t
    }

    /// An edge between each two vxlans of the lab that carry each other's
    /// frames, as far as the view tells: same VNI and port, and the one's
    /// remote an address in the other's namespace. (Whether the underlay
    /// carries the packets there, the view does not say.)
    fn add_tunnels(&mut self, view: &LabView, by_name: &HashMap<(String, String), usize>) {
        let mut ends: Vec<(usize, &str, &super::view::VxlanView)> = Vec::new();
        for ns in &view.namespaces {
            for l in &ns.links {
                if let (Some(v), Some(&id)) =
                    (&l.vxlan, by_name.get(&(ns.name.clone(), l.name.clone())))
                {
                    ends.push((id, ns.name.as_str(), v));
                }
            }
        }
        let owns = |ns: &str, addr: &str| {
            view.namespaces.iter().any(|n| {
                n.name == ns
                    && n.links
                        .iter()
                        .any(|l| l.addresses.iter().any(|a| a.address == addr))
            })
        };
        for (a, _, va) in &ends {
            let Some(remote) = &va.remote else { continue };
            for (b, ns_b, vb) in &ends {
                if a == b || va.id != vb.id || va.port != vb.port || !owns(ns_b, remote) {
                    continue;
                }
                let (from, to) = ((*a).min(*b), (*a).max(*b));
                if !self
                    .edges
                    .iter()
                    .any(|e| e.kind == EdgeKind::Tunnel && e.from == from && e.to == to)
                {
                    self.edges.push(Edge {
                        from,
                        to,
                        kind: EdgeKind::Tunnel,
                        label: format!("vni {}", va.id),
                    });
                }
            }
        }
    }

    fn add_edges(
        &mut self,
        ns: &NsView,
        by_name: &mut HashMap<(String, String), usize>,
        by_index: &mut HashMap<(String, u32), usize>,
    ) {
        for l in &ns.links {
            let Some(&me) = by_name.get(&(ns.name.clone(), l.name.clone())) else {
                continue;
            };
            // A vxlan's device is its lower link, though the kernel does
            // not report it as one.
            let lower = l
                .parent
                .as_ref()
                .or(l.vxlan.as_ref().and_then(|v| v.device.as_ref()));
            if let Some(p) = lower {
                let parent = self.find_or_add(p, by_name, by_index);
                let label = match (&l.kind, &l.macvlan_mode, &l.vxlan) {
                    (Some(k), Some(m), _) => format!("{k} {m}"),
                    (Some(k), None, Some(v)) => format!("{k} {}", v.id),
                    (Some(k), None, None) => k.clone(),
                    (None, _, _) => "lower link".to_string(),
                };
                self.edges.push(Edge {
                    from: parent,
                    to: me,
                    kind: EdgeKind::Parent,
                    label,
                });
            }
            if let Some(p) = &l.peer {
                let peer = self.find_or_add(p, by_name, by_index);
                let (from, to) = (me.min(peer), me.max(peer));
                if !self
                    .edges
                    .iter()
                    .any(|e| e.kind == EdgeKind::Veth && e.from == from && e.to == to)
                {
                    self.edges.push(Edge {
                        from,
                        to,
                        kind: EdgeKind::Veth,
                        label: "veth".into(),
                    });
                }
            }
            if let Some(m) = &l.master
                && let Some(&bridge) = by_name.get(&(ns.name.clone(), m.clone()))
            {
                let label = if self.nodes[bridge].kind == NodeKind::Bridge {
                    "port"
                } else {
                    "master"
                };
                self.edges.push(Edge {
                    from: bridge,
                    to: me,
                    kind: EdgeKind::Port,
                    label: label.into(),
                });
            }
        }
    }

    /// The node of a link named by reference, adding it (in a cluster of
    /// its own namespace, outside the lab) when the lab does not show it.
    fn find_or_add(
        &mut self,
        r: &LinkRef,
        by_name: &mut HashMap<(String, String), usize>,
        by_index: &mut HashMap<(String, u32), usize>,
    ) -> usize {
        let ns = r.namespace.clone().unwrap_or_else(|| "?".to_string());
        let name = r.name.clone().unwrap_or_else(|| format!("if{}", r.index));
        if let Some(&id) = by_name.get(&(ns.clone(), name.clone())) {
            return id;
        }
        if let Some(&id) = by_index.get(&(ns.clone(), r.index)) {
            return id;
        }
        let cluster = match self.clusters.iter().position(|c| c.name == ns) {
            Some(c) => c,
            None => {
                self.clusters.push(Cluster {
                    name: ns.clone(),
                    state: ClusterState::External,
                });
                self.clusters.len() - 1
            }
        };
        self.nodes.push(Node {
            cluster,
            name: name.clone(),
            kind: NodeKind::Other,
            kind_label: String::new(),
            addresses: Vec::new(),
            state: LinkState::Up,
            external: true,
        });
        let id = self.nodes.len() - 1;
        by_name.insert((ns.clone(), name), id);
        by_index.insert((ns, r.index), id);
        id
    }

    /// The DOT id of a node: `namespace/link`.
    pub fn dot_id(&self, node: usize) -> String {
        let n = &self.nodes[node];
        format!("{}/{}", self.clusters[n.cluster].name, n.name)
    }
}

/// Colours shared by every format: (fill, stroke).
pub fn node_colours(kind: NodeKind, external: bool) -> (&'static str, &'static str) {
    if external {
        return ("#ffffff", "#8c959f");
    }
    match kind {
        NodeKind::Bridge => ("#fff1c2", "#9a6700"),
        NodeKind::Veth => ("#dbeafe", "#1d4ed8"),
        NodeKind::Macvlan => ("#dcfce7", "#15803d"),
        NodeKind::Other => ("#eef0f3", "#57606a"),
    }
}

/// The stroke of a link set down; a link without carrier keeps its
/// kind's colour, dashed.
pub const DOWN_COLOUR: &str = "#cf222e";

/// The stroke colour of an edge.
pub fn edge_colour(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Parent => "#15803d",
        EdgeKind::Veth => "#1d4ed8",
        EdgeKind::Port => "#9a6700",
        EdgeKind::Tunnel => "#8250df",
    }
}

fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Graphviz DOT: `dot -Tsvg` renders it.
pub fn dot(t: &Topology) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// The topology of netwasm lab {}; render with: dot -Tsvg",
        t.lab
    );
    let _ = writeln!(
        s,
        "digraph {} {{",
        dot_quote(&format!("netwasm lab {}", t.lab))
    );
    let _ = writeln!(
        s,
        "  graph [rankdir=TB, newrank=true, fontname=\"Helvetica\", labelloc=t, label={}];",
        dot_quote(&format!("lab {}", t.lab))
    );
    s.push_str(
        "  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\", fontsize=10];\n",
    );
    s.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (c, cluster) in t.clusters.iter().enumerate() {
        let (style, colour, fill) = match cluster.state {
            ClusterState::Lab => ("rounded,filled", "#57606a", "#f6f8fa"),
            ClusterState::Held => ("rounded,dashed", "#57606a", "#ffffff"),
            ClusterState::External => ("rounded,dashed", "#8c959f", "#ffffff"),
            ClusterState::Missing | ClusterState::Unreadable(_) => {
                ("rounded,dashed,filled", "#cf222e", "#fff5f5")
            }
        };
        let _ = writeln!(
            s,
            "  subgraph {} {{",
            dot_quote(&format!("cluster_{}", cluster.name))
        );
        let _ = writeln!(s, "    label={};", dot_quote(&cluster.title()));
        let _ = writeln!(
            s,
            "    style={}; color={}; fillcolor={};",
            dot_quote(style),
            dot_quote(colour),
            dot_quote(fill)
        );
        let mut empty = true;
        for (i, n) in t.nodes.iter().enumerate().filter(|(_, n)| n.cluster == c) {
            empty = false;
            let (fill, mut stroke) = node_colours(n.kind, n.external);
            if !n.external && n.state == LinkState::Down {
                stroke = DOWN_COLOUR;
            }
            let mut attrs = format!(
                "label={}, fillcolor={}, color={}",
                dot_quote(&n.lines().join("\n")),
                dot_quote(fill),
                dot_quote(stroke)
            );
            if n.kind == NodeKind::Bridge {
                attrs.push_str(", shape=box3d, style=filled");
            }
            match (n.external, n.state) {
                (true, _) | (false, LinkState::NoCarrier) => {
                    attrs.push_str(", style=\"rounded,dashed,filled\"");
                }
                (false, LinkState::Down) => {
                    attrs.push_str(", style=\"rounded,dashed,filled\", penwidth=2")
                }
                (false, LinkState::Up) => {}
            }
            let _ = writeln!(s, "    {} [{attrs}];", dot_quote(&t.dot_id(i)));
        }
        if empty {
            // Graphviz drops empty clusters; a note keeps the namespace in.
            let note = cluster.note().unwrap_or_else(|| "no links".to_string());
            let _ = writeln!(
                s,
                "    {} [label={}, shape=note, style=filled, fillcolor=\"#ffffff\"];",
                dot_quote(&format!("{}/", cluster.name)),
                dot_quote(&note)
            );
        }
        s.push_str("  }\n");
    }
    for e in &t.edges {
        let colour = edge_colour(e.kind);
        let extra = match e.kind {
            EdgeKind::Parent => ", style=dashed",
            EdgeKind::Veth => ", dir=none, penwidth=2",
            EdgeKind::Port => ", dir=none",
            EdgeKind::Tunnel => ", dir=none, style=dotted, penwidth=2",
        };
        let _ = writeln!(
            s,
            "  {} -> {} [label={}, color={}, fontcolor={}{extra}];",
            dot_quote(&t.dot_id(e.from)),
            dot_quote(&t.dot_id(e.to)),
            dot_quote(&e.label),
            dot_quote(colour),
            dot_quote(colour)
        );
    }
    s.push_str("}\n");
    s
}

fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A Mermaid flowchart: GitHub and most Markdown viewers render it.
pub fn mermaid(t: &Topology) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "%% The topology of netwasm lab {}", mermaid_text(&t.lab));
    s.push_str("flowchart TB\n");
    for (c, cluster) in t.clusters.iter().enumerate() {
        let _ = writeln!(
            s,
            "  subgraph ns{c}[\"{}\"]",
            mermaid_text(&cluster.title())
        );
        let mut empty = true;
        for (i, n) in t.nodes.iter().enumerate().filter(|(_, n)| n.cluster == c) {
            empty = false;
            let label: Vec<String> = n.lines().iter().map(|l| mermaid_text(l)).collect();
            let label = label.join("<br/>");
            if n.kind == NodeKind::Bridge {
                let _ = writeln!(s, "    n{i}{{{{\"{label}\"}}}}");
            } else {
                let _ = writeln!(s, "    n{i}[\"{label}\"]");
            }
        }
        if empty {
            let note = cluster.note().unwrap_or_else(|| "no links".to_string());
            let _ = writeln!(s, "    ns{c}note[\"{}\"]", mermaid_text(&note));
        }
        s.push_str("  end\n");
    }
    for e in &t.edges {
        let arrow = match e.kind {
            EdgeKind::Parent => "-.->",
            EdgeKind::Veth => "<==>",
            EdgeKind::Port => "---",
            EdgeKind::Tunnel => "-.-",
        };
        let _ = writeln!(
            s,
            "  n{} {arrow}|\"{}\"| n{}",
            e.from,
            mermaid_text(&e.label),
            e.to
        );
    }
    for (class, kind) in [
        ("bridge", NodeKind::Bridge),
        ("veth", NodeKind::Veth),
        ("macvlan", NodeKind::Macvlan),
        ("other", NodeKind::Other),
    ] {
        let (fill, stroke) = node_colours(kind, false);
        let _ = writeln!(
            s,
            "  classDef {class} fill:{fill},stroke:{stroke},color:#1f2328"
        );
        let members: Vec<String> = t
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.kind == kind && !n.external)
            .map(|(i, _)| format!("n{i}"))
            .collect();
        if !members.is_empty() {
            let _ = writeln!(s, "  class {} {class}", members.join(","));
        }
    }
    let external: Vec<String> = t
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.external)
        .map(|(i, _)| format!("n{i}"))
        .collect();
    if !external.is_empty() {
        s.push_str("  classDef external fill:#ffffff,stroke:#8c959f,stroke-dasharray:4 3\n");
        let _ = writeln!(s, "  class {} external", external.join(","));
    }
    for (class, state, style) in [
        (
            "nocarrier",
            LinkState::NoCarrier,
            "stroke-dasharray:5 3".to_string(),
        ),
        (
            "down",
            LinkState::Down,
            format!("stroke:{DOWN_COLOUR},stroke-width:2px,stroke-dasharray:5 3"),
        ),
    ] {
        let members: Vec<String> = t
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.state == state && !n.external)
            .map(|(i, _)| format!("n{i}"))
            .collect();
        if !members.is_empty() {
            let _ = writeln!(s, "  classDef {class} {style}");
            let _ = writeln!(s, "  class {} {class}", members.join(","));
        }
    }
    for (i, e) in t.edges.iter().enumerate() {
        let _ = writeln!(s, "  linkStyle {i} stroke:{}", edge_colour(e.kind));
    }
    for (c, cluster) in t.clusters.iter().enumerate() {
        let style = match cluster.state {
            ClusterState::Lab => "fill:#f6f8fa,stroke:#8c959f",
            ClusterState::Held | ClusterState::External => {
                "fill:#ffffff,stroke:#8c959f,stroke-dasharray:5 4"
            }
            ClusterState::Missing | ClusterState::Unreadable(_) => {
                "fill:#fff5f5,stroke:#cf222e,stroke-dasharray:5 4"
            }
        };
        let _ = writeln!(s, "  style ns{c} {style}");
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::view::*;
    use super::*;

    pub(crate) fn link(index: u32, name: &str, kind: Option<&str>) -> LinkView {
        LinkView {
            index,
            name: name.into(),
            kind: kind.map(Into::into),
            macvlan_mode: None,
            vxlan: None,
            parent: None,
            peer: None,
            master: None,
            mac: None,
            mtu: 1500,
            admin_up: true,
            oper_state: "UP".into(),
            in_ledger: true,
            addresses: vec![],
        }
    }

    pub(crate) fn addr(cidr: &str) -> AddrView {
        let (a, p) = cidr.split_once('/').unwrap();
        AddrView {
            cidr: cidr.into(),
            address: a.into(),
            prefix_len: p.parse().unwrap(),
            family: if a.contains(':') { "inet6" } else { "inet" },
            scope: if a.starts_with("fe80") {
                "link".into()
            } else {
                "global".into()
            },
        }
    }

    pub(crate) fn lref(index: u32, name: &str, ns: &str) -> Option<LinkRef> {
        Some(LinkRef {
            index,
            name: Some(name.into()),
            namespace: Some(ns.into()),
        })
    }

    pub(crate) fn ns(name: &str, links: Vec<LinkView>) -> NsView {
        NsView {
            name: name.into(),
            created_by_lab: true,
            present: true,
            error: None,
            links_shown: LinksShown::All,
            links,
            routes: vec![],
            processes: vec![],
        }
    }

    /// The seed lab, as `show` sees it.
    pub(crate) fn seed_view(p: &str, mode: &str) -> LabView {
        let n = |s: &str| format!("{p}-{s}");
        let mut br0 = link(2, "br0", Some("bridge"));
        br0.addresses = vec![addr("172.16.10.1/24"), addr("fe80::1/64")];
        let mut lan_test = link(3, "test", Some("veth"));
        lan_test.peer = lref(2, "eth0", &n("test"));
        lan_test.addresses = vec![addr("10.20.30.1/24")];
        let mut port = link(4, "net1", Some("veth"));
        port.peer = lref(2, "eth0", &n("net1"));
        port.master = Some("br0".into());
        let mut test_eth0 = link(2, "eth0", Some("veth"));
        test_eth0.peer = lref(3, "test", &n("lan"));
        test_eth0.addresses = vec![addr("10.20.30.10/24")];
        let mut host_eth0 = link(2, "eth0", Some("veth"));
        host_eth0.peer = lref(4, "net1", &n("lan"));
        host_eth0.addresses = vec![addr("172.16.10.2/24")];
        let child = |i: u32, ip: &str| {
            let mut c = link(2, &format!("macvlan{i}"), Some("macvlan"));
            c.macvlan_mode = Some(mode.into());
            c.parent = lref(2, "eth0", &n("net1"));
            c.addresses = vec![addr(ip)];
            c
        };
        LabView {
            schema: SCHEMA,
            lab: "demo".into(),
            journal_damage: None,
            namespaces: vec![
                ns(&n("lan"), vec![link(1, "lo", None), br0, lan_test, port]),
                ns(&n("test"), vec![link(1, "lo", None), test_eth0]),
                ns(&n("net1"), vec![link(1, "lo", None), host_eth0]),
                ns(
                    &n("ns1"),
                    vec![link(1, "lo", None), child(1, "172.16.10.5/24")],
                ),
                ns(
                    &n("ns2"),
                    vec![link(1, "lo", None), child(2, "172.16.10.6/24")],
                ),
            ],
        }
    }

    /// Two hosts on a veth underlay, each with a vxlan of VNI 42 on it
    /// pointed at the other, and a bridge holding the vxlan.
    pub(crate) fn vxlan_view() -> LabView {
        let host = |me: &str, other: &str, peer: &str| {
            let mut u = link(2, "u0", Some("veth"));
            u.peer = lref(2, "u0", peer);
            u.addresses = vec![addr(&format!("10.99.0.{me}/24"))];
            let mut vx = link(3, "vx0", Some("vxlan"));
            vx.oper_state = "UNKNOWN".into();
            vx.master = Some("br0".into());
            vx.vxlan = Some(VxlanView {
                id: 42,
                local: None,
                remote: Some(format!("10.99.0.{other}")),
                group: None,
                port: 4789,
                device: lref(2, "u0", &format!("x-h{me}")),
                learning: true,
                ttl: 0,
            });
            let mut br = link(4, "br0", Some("bridge"));
            br.addresses = vec![addr(&format!("192.168.77.{me}/24"))];
            vec![link(1, "lo", None), u, vx, br]
        };
        LabView {
            schema: SCHEMA,
            lab: "tunnel".into(),
            journal_damage: None,
            namespaces: vec![
                ns("x-h1", host("1", "2", "x-h2")),
                ns("x-h2", host("2", "1", "x-h1")),
            ],
        }
    }

    #[test]
    fn vxlans_hang_off_their_device_and_meet_through_their_tunnel() {
        let t = Topology::from_view(&vxlan_view());
        let count = |k| t.edges.iter().filter(|e| e.kind == k).count();
        assert_eq!(
            count(EdgeKind::Tunnel),
            1,
            "each tunnel once: {:?}",
            t.edges
        );
        assert_eq!(count(EdgeKind::Parent), 2);
        assert_eq!(count(EdgeKind::Veth), 1);
        let vx = t.nodes.iter().find(|n| n.name == "vx0").unwrap();
        assert_eq!(
            (vx.kind_label.as_str(), vx.state),
            ("vxlan 42", LinkState::Up)
        );
        let d = dot(&t);
        assert!(
            d.contains("\"x-h1/u0\" -> \"x-h1/vx0\" [label=\"vxlan 42\""),
            "{d}"
        );
        assert!(
            d.contains("\"x-h1/vx0\" -> \"x-h2/vx0\" [label=\"vni 42\"")
                && d.contains("style=dotted"),
            "{d}"
        );
        assert!(mermaid(&t).contains("-.-|\"vni 42\"|"));
        assert!(super::super::svg::svg(&t).contains("class=\"edge tunnel\""));
        // Another VNI, or a remote nobody in the lab holds: no tunnel.
        let mut v = vxlan_view();
        v.namespaces[1].links[2].vxlan.as_mut().unwrap().id = 43;
        assert!(
            !Topology::from_view(&v)
                .edges
                .iter()
                .any(|e| e.kind == EdgeKind::Tunnel)
        );
        let mut v = vxlan_view();
        v.namespaces[0].links[2].vxlan.as_mut().unwrap().remote = Some("10.99.0.9".into());
        let t = Topology::from_view(&v);
        assert_eq!(
            t.edges
                .iter()
                .filter(|e| e.kind == EdgeKind::Tunnel)
                .count(),
            1,
            "b to a only"
        );
    }

    #[test]
    fn seed_topology() {
        let t = Topology::from_view(&seed_view("x", "bridge"));
        assert_eq!(t.clusters.len(), 5);
        assert_eq!(t.nodes.len(), 7, "lo is left out: {:?}", t.nodes);
        let count = |k| t.edges.iter().filter(|e| e.kind == k).count();
        assert_eq!(count(EdgeKind::Veth), 2, "each pair once");
        assert_eq!(count(EdgeKind::Parent), 2);
        assert_eq!(count(EdgeKind::Port), 1);
        let br0 = t.nodes.iter().find(|n| n.name == "br0").unwrap();
        assert_eq!(
            br0.addresses,
            vec!["172.16.10.1/24"],
            "link-local addresses are left out"
        );
    }

    #[test]
    fn dot_and_mermaid_name_everything() {
        let t = Topology::from_view(&seed_view("x", "vepa"));
        let d = dot(&t);
        assert!(d.contains("subgraph \"cluster_x-lan\""), "{d}");
        assert!(
            d.contains("\"x-net1/eth0\" -> \"x-ns1/macvlan1\" [label=\"macvlan vepa\""),
            "{d}"
        );
        assert!(
            d.contains("\"x-lan/br0\" -> \"x-lan/net1\" [label=\"port\""),
            "{d}"
        );
        let m = mermaid(&t);
        assert!(
            m.starts_with("%% The topology of netwasm lab demo\nflowchart TB\n"),
            "{m}"
        );
        assert!(m.contains("-.->|\"macvlan vepa\"|"), "{m}");
    }

    #[test]
    fn unresolved_parents_get_an_outside_cluster() {
        let mut v = seed_view("x", "bridge");
        v.namespaces.truncate(1);
        v.namespaces[0].links[3].peer = Some(LinkRef {
            index: 9,
            name: None,
            namespace: None,
        });
        let mut mv = link(5, "mv0", Some("macvlan"));
        mv.parent = lref(2, "eth0", "/");
        v.namespaces[0].links.push(mv);
        let t = Topology::from_view(&v);
        let titles: Vec<String> = t.clusters.iter().map(Cluster::title).collect();
        assert!(
            titles.contains(&"unknown namespace (outside the lab)".to_string()),
            "{titles:?}"
        );
        assert!(
            titles.contains(&"root namespace / (outside the lab)".to_string()),
            "{titles:?}"
        );
        assert!(t.nodes.iter().any(|n| n.name == "if9" && n.external));
    }
}
