//! From the file as written to a lab that can be built: every name,
//! reference, address and combination checked before the first host call,
//! each mistake reported with its line and key. The sandbox checks it all
//! again (policy, names, the kernel's own rules); this is for messages
//! that point into the file.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::schema::{self, File, Kind, Mode, Spanned};

/// A mistake in the file: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub line: u64,
    pub key: String,
    pub message: String,
}

/// Where in the file something was written, for the errors of building it.
#[derive(Debug, Clone)]
pub struct At {
    pub line: u64,
    pub key: String,
}

impl At {
    fn of<T>(s: &Spanned<T>, key: impl Into<String>) -> Self {
        Self {
            line: s.referenced.line(),
            key: key.into(),
        }
    }

    fn error(&self, message: impl Into<String>) -> FileError {
        FileError {
            line: self.line,
            key: self.key.clone(),
            message: message.into(),
        }
    }
}

fn bad<T>(s: &Spanned<T>, key: impl Into<String>, message: impl Into<String>) -> FileError {
    At::of(s, key).error(message)
}

/// The lab, checked.
#[derive(Debug)]
pub struct Lab {
    pub name: String,
    pub nodes: Vec<Node>,
    pub veths: Vec<Veth>,
    pub expects: Vec<Expect>,
}

#[derive(Debug)]
pub struct Node {
    pub name: String,
    /// The namespace's name: the prefix, `-`, the node's name.
    pub namespace: String,
    pub forwarding: Option<bool>,
    pub interfaces: Vec<Interface>,
    pub routes: Vec<Route>,
    pub at: At,
}

#[derive(Debug)]
pub struct Interface {
    pub name: String,
    pub kind: Kind,
    pub parent: Option<Parent>,
    pub mode: Option<Mode>,
    pub ports: Vec<String>,
    pub vxlan: Option<Vxlan>,
    pub addresses: Vec<String>,
    pub mtu: Option<u32>,
    pub mac: Option<String>,
    pub up: bool,
    pub hairpin: Option<bool>,
    pub at: At,
}

/// A macvlan's parent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Parent {
    /// A link of the lab: the node's index and the link's name.
    Node(usize, String),
    /// A link of the machine's own namespace (`host:eth0`, as containerlab
    /// writes it), which the policy must grant (`[root] links`).
    Host(String),
}

/// The node name that stands for the machine's own namespace, as in
/// containerlab's endpoints.
pub const HOST: &str = "host";

#[derive(Debug, Clone)]
pub struct Vxlan {
    pub id: u32,
    pub remote: Option<String>,
    pub group: Option<String>,
    pub local: Option<String>,
    pub device: Option<String>,
    pub port: Option<u16>,
    pub learning: Option<bool>,
    pub ttl: Option<u8>,
}

#[derive(Debug)]
pub struct Veth {
    /// (node index, link name) of each end.
    pub a: (usize, String),
    pub b: (usize, String),
    pub at: At,
}

#[derive(Debug)]
pub struct Route {
    pub to: String,
    pub via: Option<String>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
    pub at: At,
}

#[derive(Debug)]
pub struct Expect {
    pub from: usize,
    pub to: String,
    pub reachable: bool,
    pub label: String,
    pub at: At,
}

/// A name the kernel takes for a namespace and that reads well in
/// `NODE:LINK`: letters, digits, `-`, `_`, `.`.
fn check_node_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!("node name {name:?} must have 1 to 64 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        return Err(format!(
            "node name {name:?} may hold only letters, digits, '-', '_' and '.' (not first)"
        ));
    }
    Ok(())
}

/// The kernel's rules for a link name (IFNAMSIZ, no `/`, `:` or blanks),
/// with `:` refused too since it separates node and link.
fn check_link_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 15 {
        return Err(format!("link name {name:?} must have 1 to 15 bytes"));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':', '%'])
        || name.contains(char::is_whitespace)
    {
        return Err(format!(
            "link name {name:?} may not be '.' or '..' nor hold '/', ':', '%' or blanks"
        ));
    }
    Ok(())
}

fn check_ip(s: &str) -> Result<IpAddr, String> {
    s.parse::<IpAddr>()
        .map_err(|_| format!("{s:?} is not an IPv4 or IPv6 address"))
}

/// `ADDRESS/LENGTH`, the length within the family's.
pub fn check_cidr(s: &str) -> Result<(), String> {
    let bad =
        || format!("{s:?} is not an address with a prefix length (172.16.10.5/24, fd00::5/64)");
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(format!("{s:?}: the prefix length is at most {max}"));
    }
    Ok(())
}

fn check_mac(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        Ok(())
    } else {
        Err(format!("{s:?} is not a MAC address (02:00:00:00:00:01)"))
    }
}

/// `NODE:LINK`, split.
fn split_endpoint(s: &str) -> Result<(&str, &str), String> {
    match s.split_once(':') {
        Some((n, l)) if !n.is_empty() && !l.is_empty() => Ok((n, l)),
        _ => Err(format!("{s:?} is not NODE:LINK (e.g. \"r1:eth0\")")),
    }
}

/// Checks the file and returns the lab to build, or the first mistake
/// (in the order of the file's parts: name, nodes, links, expectations).
pub fn check(file: File) -> Result<Lab, FileError> {
    let name = file.name.value.clone();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        return Err(bad(
            &file.name,
            "name",
            format!(
                "lab name {name:?} must have 1 to 64 letters, digits, '-', '_' or '.' (not first)"
            ),
        ));
    }
    let prefix = match &file.prefix {
        None => format!("{name}-"),
        Some(p) if p.value.is_empty() => String::new(),
        Some(p) => {
            check_node_name(&p.value)
                .map_err(|m| bad(p, "prefix", m.replace("node name", "prefix")))?;
            format!("{}-", p.value)
        }
    };

    // Nodes first, with their interfaces' names: everything else refers to them.
    let mut nodes: Vec<Node> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (key, node) in &file.topology.nodes.0 {
        let n = &key.value;
        let at = At::of(key, format!("topology.nodes.{n}"));
        check_node_name(n).map_err(|m| at.error(m))?;
        if n == HOST {
            return Err(at.error(
                "\"host\" is the machine's own namespace (host:eth0, as in containerlab); give the node another name",
            ));
        }
        if index.contains_key(n) {
            return Err(at.error(format!("node {n:?} is given twice")));
        }
        if let Some(k) = &node.kind
            && k.value != "netns"
        {
            return Err(bad(
                k,
                format!("topology.nodes.{n}.kind"),
                format!(
                    "{:?}: a netwasm node is a network namespace: kind netns, or none",
                    k.value
                ),
            ));
        }
        index.insert(n.clone(), nodes.len());
        nodes.push(Node {
            name: n.clone(),
            namespace: format!("{prefix}{n}"),
            forwarding: node.forwarding,
            interfaces: Vec::new(),
            routes: Vec::new(),
            at,
        });
    }
    let node_of = |s: &Spanned<String>, key: &str, n: &str| -> Result<usize, FileError> {
        index
            .get(n)
            .copied()
            .ok_or_else(|| bad(s, key, format!("node {n:?} is not in topology.nodes")))
    };

    // Veth pairs: each end a link name of its node, used once.
    let mut veths = Vec::new();
    let mut veth_ends: HashMap<(usize, String), At> = HashMap::new();
    for (i, link) in file.topology.links.iter().enumerate() {
        let key = format!("topology.links[{i}].endpoints");
        let eps = &link.value.endpoints;
        if eps.value.len() != 2 {
            return Err(bad(
                eps,
                key,
                format!(
                    "a link joins two endpoints, \"NODE:LINK\"; {} given",
                    eps.value.len()
                ),
            ));
        }
        let mut ends = Vec::new();
        for (j, ep) in eps.value.iter().enumerate() {
            let k = format!("{key}[{j}]");
            let (n, l) = split_endpoint(&ep.value).map_err(|m| bad(ep, &k, m))?;
            if n == HOST {
                return Err(bad(
                    ep,
                    &k,
                    "netwasm makes no link in the machine's own namespace; a macvlan `parent: host:LINK` uses one there",
                ));
            }
            let ni = node_of(ep, &k, n)?;
            check_link_name(l).map_err(|m| bad(ep, &k, m))?;
            if l == "lo" {
                return Err(bad(
                    ep,
                    &k,
                    format!("node {n} has its lo already; name the veth end otherwise"),
                ));
            }
            if let Some(before) = veth_ends.get(&(ni, l.to_string())) {
                return Err(bad(
                    ep,
                    &k,
                    format!(
                        "{n}:{l} is already an endpoint ({}, line {})",
                        before.key, before.line
                    ),
                ));
            }
            veth_ends.insert((ni, l.to_string()), At::of(ep, &k));
            ends.push((ni, l.to_string()));
        }
        let b = ends.pop().unwrap();
        let a = ends.pop().unwrap();
        veths.push(Veth {
            a,
            b,
            at: At::of(eps, key),
        });
    }

    // Interfaces: their kinds and own settings, then the references between them.
    let mut names: Vec<HashSet<String>> = vec![HashSet::new(); nodes.len()];
    for (ni, (_, node)) in file.topology.nodes.0.iter().enumerate() {
        let n = nodes[ni].name.clone();
        for (key, ifc) in &node.interfaces.0 {
            let l = &key.value;
            let base = format!("topology.nodes.{n}.interfaces.{l}");
            check_link_name(l).map_err(|m| bad(key, &base, m))?;
            let is_end = veth_ends.contains_key(&(ni, l.clone()));
            let kind = match &ifc.kind {
                Some(k) if l == "lo" => {
                    return Err(bad(
                        k,
                        format!("{base}.kind"),
                        format!("node {n} has its lo already: lo takes addresses only"),
                    ));
                }
                Some(k) => {
                    if is_end && k.value != Kind::Veth {
                        return Err(bad(
                            k,
                            format!("{base}.kind"),
                            format!(
                                "{n}:{l} is a veth endpoint in topology.links; it cannot also be made here"
                            ),
                        ));
                    }
                    if !is_end && k.value == Kind::Veth {
                        return Err(bad(
                            k,
                            format!("{base}.kind"),
                            format!(
                                "a veth is made by topology.links, and no link there has the endpoint {n}:{l}"
                            ),
                        ));
                    }
                    k.value
                }
                None if is_end => Kind::Veth,
                None if l == "lo" => Kind::Veth,
                None => {
                    return Err(bad(
                        key,
                        &base,
                        format!(
                            "{n}:{l} is not an endpoint in topology.links; give it a kind (bridge, macvlan, vxlan)"
                        ),
                    ));
                }
            };
            let iface = interface(&n, l, kind, ifc, &base, key)?;
            names[ni].insert(l.clone());
            nodes[ni].interfaces.push(iface);
        }
    }
    // Veth ends the file does not list: up, no addresses.
    for v in &veths {
        for (ni, l) in [&v.a, &v.b] {
            if names[*ni].insert(l.clone()) {
                nodes[*ni].interfaces.push(Interface {
                    name: l.clone(),
                    kind: Kind::Veth,
                    parent: None,
                    mode: None,
                    ports: Vec::new(),
                    vxlan: None,
                    addresses: Vec::new(),
                    mtu: None,
                    mac: None,
                    up: true,
                    hairpin: None,
                    at: v.at.clone(),
                });
            }
        }
    }
    resolve_references(&file, &mut nodes, &names, &index)?;
    no_parent_cycles(&nodes)?;

    // Routes.
    for (ni, (_, node)) in file.topology.nodes.0.iter().enumerate() {
        let n = nodes[ni].name.clone();
        for (i, r) in node.routes.iter().enumerate() {
            let base = format!("topology.nodes.{n}.routes[{i}]");
            let to = &r.value.to;
            if to.value != "default" {
                check_cidr(&to.value).map_err(|m| bad(to, format!("{base}.to"), m))?;
            }
            if let Some(via) = &r.value.via {
                check_ip(&via.value).map_err(|m| bad(via, format!("{base}.via"), m))?;
            }
            if let Some(dev) = &r.value.dev
                && !names[ni].contains(&dev.value)
                && dev.value != "lo"
            {
                return Err(bad(
                    dev,
                    format!("{base}.dev"),
                    format!("node {n} has no link {:?}", dev.value),
                ));
            }
            if r.value.via.is_none() && r.value.dev.is_none() {
                return Err(bad(r, &base, "a route needs `via`, `dev` or both"));
            }
            nodes[ni].routes.push(Route {
                to: to.value.clone(),
                via: r.value.via.as_ref().map(|v| v.value.clone()),
                dev: r.value.dev.as_ref().map(|v| v.value.clone()),
                metric: r.value.metric,
                at: At::of(r, base),
            });
        }
    }

    let mut expects = Vec::new();
    for (i, e) in file.expect.iter().enumerate() {
        let base = format!("expect[{i}]");
        let from = &e.value.from;
        let fi = node_of(from, &format!("{base}.from"), &from.value)?;
        let to = &e.value.to;
        check_ip(&to.value).map_err(|m| bad(to, format!("{base}.to"), m))?;
        expects.push(Expect {
            from: fi,
            to: to.value.clone(),
            reachable: e.value.reachable,
            label: e
                .value
                .label
                .clone()
                .unwrap_or_else(|| format!("line {}", e.referenced.line())),
            at: At::of(e, base),
        });
    }
    Ok(Lab {
        name,
        nodes,
        veths,
        expects,
    })
}

/// One interface's own settings, checked against its kind.
fn interface(
    n: &str,
    l: &str,
    kind: Kind,
    ifc: &schema::Interface,
    base: &str,
    key: &Spanned<String>,
) -> Result<Interface, FileError> {
    fn only<T>(
        v: &Option<Spanned<T>>,
        base: &str,
        name: &str,
        allowed: bool,
        what: &str,
    ) -> Result<(), FileError> {
        match v {
            Some(s) if !allowed => Err(bad(
                s,
                format!("{base}.{name}"),
                format!("only {what} have `{name}`"),
            )),
            _ => Ok(()),
        }
    }
    let macvlan = kind == Kind::Macvlan;
    let vxlan = kind == Kind::Vxlan;
    only(&ifc.parent, base, "parent", macvlan, "macvlans")?;
    only(&ifc.mode, base, "mode", macvlan, "macvlans")?;
    only(&ifc.ports, base, "ports", kind == Kind::Bridge, "bridges")?;
    for (name, v) in [
        ("remote", &ifc.remote),
        ("group", &ifc.group),
        ("local", &ifc.local),
        ("device", &ifc.device),
    ] {
        only(v, base, name, vxlan, "vxlans")?;
    }
    only(&ifc.id, base, "id", vxlan, "vxlans")?;
    only(&ifc.port, base, "port", vxlan, "vxlans")?;
    only(&ifc.learning, base, "learning", vxlan, "vxlans")?;
    only(&ifc.ttl, base, "ttl", vxlan, "vxlans")?;
    if l == "lo" {
        for (name, present) in [
            ("mtu", ifc.mtu.is_some()),
            ("mac", ifc.mac.is_some()),
            ("hairpin", ifc.hairpin.is_some()),
            ("up", ifc.up.is_some()),
        ] {
            if present {
                return Err(bad(
                    key,
                    format!("{base}.{name}"),
                    "lo takes addresses only (netwasm sets it up)",
                ));
            }
        }
    }
    if macvlan && ifc.parent.is_none() {
        return Err(bad(
            key,
            base,
            format!("macvlan {n}:{l} needs a `parent` (NODE:LINK)"),
        ));
    }
    let vx = if vxlan {
        let Some(id) = &ifc.id else {
            return Err(bad(
                key,
                base,
                format!("vxlan {n}:{l} needs an `id` (its VNI)"),
            ));
        };
        for (name, v) in [
            ("remote", &ifc.remote),
            ("group", &ifc.group),
            ("local", &ifc.local),
        ] {
            if let Some(s) = v {
                check_ip(&s.value).map_err(|m| bad(s, format!("{base}.{name}"), m))?;
            }
        }
        Some(Vxlan {
            id: id.value,
            remote: ifc.remote.as_ref().map(|s| s.value.clone()),
            group: ifc.group.as_ref().map(|s| s.value.clone()),
            local: ifc.local.as_ref().map(|s| s.value.clone()),
            device: ifc.device.as_ref().map(|s| s.value.clone()),
            port: ifc.port.as_ref().map(|s| s.value),
            learning: ifc.learning.as_ref().map(|s| s.value),
            ttl: ifc.ttl.as_ref().map(|s| s.value),
        })
    } else {
        None
    };
    let mut addresses = Vec::new();
    for (i, a) in ifc.addresses.iter().enumerate() {
        check_cidr(&a.value).map_err(|m| bad(a, format!("{base}.addresses[{i}]"), m))?;
        addresses.push(a.value.clone());
    }
    if let Some(m) = &ifc.mac {
        check_mac(&m.value).map_err(|e| bad(m, format!("{base}.mac"), e))?;
    }
    if let Some(m) = &ifc.mtu
        && !(68..=65535).contains(&m.value)
    {
        return Err(bad(
            m,
            format!("{base}.mtu"),
            format!("{} is not an MTU from 68 to 65535", m.value),
        ));
    }
    Ok(Interface {
        name: l.to_string(),
        kind,
        parent: None,
        mode: ifc.mode.as_ref().map(|m| m.value),
        ports: Vec::new(),
        vxlan: vx,
        addresses,
        mtu: ifc.mtu.as_ref().map(|m| m.value),
        mac: ifc.mac.as_ref().map(|m| m.value.clone()),
        up: ifc.up.unwrap_or(true),
        hairpin: ifc.hairpin.as_ref().map(|h| h.value),
        at: At::of(key, base),
    })
}

/// Parents, ports and devices: each a link the lab has, and no link a port
/// of two bridges.
/// Refuses macvlans whose parents lead back to them: caught here, it is a
/// mistake in the file (nothing built), not a failure halfway through.
fn no_parent_cycles(nodes: &[Node]) -> Result<(), FileError> {
    let find = |ni: usize, name: &str| nodes[ni].interfaces.iter().position(|i| i.name == name);
    for (ni, node) in nodes.iter().enumerate() {
        for (ii, start) in node.interfaces.iter().enumerate() {
            let mut at = (ni, ii);
            // A chain longer than there are interfaces has come round.
            let bound: usize = nodes.iter().map(|n| n.interfaces.len()).sum();
            for _ in 0..=bound {
                let i = &nodes[at.0].interfaces[at.1];
                let Some(Parent::Node(pi, pl)) = &i.parent else {
                    break;
                };
                if i.kind != Kind::Macvlan {
                    break;
                }
                let Some(pii) = find(*pi, pl) else { break };
                at = (*pi, pii);
                if at == (ni, ii) {
                    return Err(start
                        .at
                        .error("its parent is a macvlan whose own parents lead back to it"));
                }
            }
        }
    }
    Ok(())
}

fn resolve_references(
    file: &File,
    nodes: &mut [Node],
    names: &[HashSet<String>],
    index: &HashMap<String, usize>,
) -> Result<(), FileError> {
    for (ni, (_, node)) in file.topology.nodes.0.iter().enumerate() {
        let n = nodes[ni].name.clone();
        let mut port_of: HashMap<String, String> = HashMap::new();
        for (ii, (key, ifc)) in node.interfaces.0.iter().enumerate() {
            let l = &key.value;
            let base = format!("topology.nodes.{n}.interfaces.{l}");
            if let Some(p) = &ifc.parent {
                let k = format!("{base}.parent");
                let (pn, pl) = split_endpoint(&p.value).map_err(|m| bad(p, &k, m))?;
                if pn == HOST {
                    check_link_name(pl).map_err(|m| bad(p, &k, m))?;
                    nodes[ni].interfaces[ii].parent = Some(Parent::Host(pl.to_string()));
                    continue;
                }
                let pi = *index
                    .get(pn)
                    .ok_or_else(|| bad(p, &k, format!("node {pn:?} is not in topology.nodes")))?;
                if !names[pi].contains(pl) || pl == "lo" {
                    return Err(bad(
                        p,
                        &k,
                        format!("node {pn} has no link {pl:?} to be a parent"),
                    ));
                }
                if pi == ni && pl == l {
                    return Err(bad(p, &k, "a macvlan cannot be its own parent"));
                }
                nodes[ni].interfaces[ii].parent = Some(Parent::Node(pi, pl.to_string()));
            }
            if let Some(ports) = &ifc.ports {
                for (j, p) in ports.value.iter().enumerate() {
                    let k = format!("{base}.ports[{j}]");
                    if !names[ni].contains(&p.value) || p.value == "lo" {
                        return Err(bad(p, &k, format!("node {n} has no link {:?}", p.value)));
                    }
                    if &p.value == l {
                        return Err(bad(p, &k, "a bridge cannot be its own port"));
                    }
                    if let Some(other) = port_of.insert(p.value.clone(), l.clone()) {
                        return Err(bad(
                            p,
                            &k,
                            format!("{:?} is already a port of bridge {other:?}", p.value),
                        ));
                    }
                    nodes[ni].interfaces[ii].ports.push(p.value.clone());
                }
            }
            if let Some(d) = &ifc.device
                && !names[ni].contains(&d.value)
                && d.value != "lo"
            {
                return Err(bad(
                    d,
                    format!("{base}.device"),
                    format!("node {n} has no link {:?}", d.value),
                ));
            }
        }
        // Hairpin is a port's setting.
        for (key, ifc) in &node.interfaces.0 {
            if let Some(h) = &ifc.hairpin
                && !port_of.contains_key(&key.value)
            {
                return Err(bad(
                    h,
                    format!("topology.nodes.{n}.interfaces.{}.hairpin", key.value),
                    "only a bridge's port has `hairpin`",
                ));
            }
        }
    }
    Ok(())
}
