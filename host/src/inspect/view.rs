//! A lab as it is in the kernel now: the namespaces its ledger says it
//! holds, and what netlink reports inside them.
//!
//! This is the one data model behind `netwasm show` (table and JSON) and
//! `netwasm graph`. Its serialized form is the `netwasm.show/1` schema,
//! documented field by field in `docs/show-json.md`; change it only by
//! adding fields, or by moving to `netwasm.show/2`.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::kernel::{Kernel, process};
use crate::ledger::StateDir;
use crate::ledger::replay::Object;
use crate::vocab::process::LogStream;
use crate::vocab::{AddrInfo, LinkInfo, NsId, ROOT_NS, RouteInfo};

/// The `schema` value of `netwasm show --json`.
pub const SCHEMA: &str = "netwasm.show/1";

/// Everything `netwasm show` reports about one lab.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabView {
    pub schema: &'static str,
    pub lab: String,
    /// Why the ledger could be read only in part, if it could.
    pub journal_damage: Option<String>,
    pub namespaces: Vec<NsView>,
}

/// Which links of a namespace are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinksShown {
    /// Every link: the lab created the namespace.
    All,
    /// Only the links the ledger records there: the namespace existed
    /// before the lab (the root namespace, or one it was granted).
    Lab,
}

/// One namespace the lab holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NsView {
    /// Its name; `/` is the root namespace.
    pub name: String,
    /// Whether the lab created it (rather than creating links in it).
    pub created_by_lab: bool,
    /// Whether it exists now.
    pub present: bool,
    /// Why it exists but could not be read, if so.
    pub error: Option<String>,
    pub links_shown: LinksShown,
    pub links: Vec<LinkView>,
    pub routes: Vec<RouteView>,
    /// The programs the lab started here that its ledger still holds.
    pub processes: Vec<ProcessView>,
}

/// A program the lab started (`process.start`), as the ledger records it
/// and `/proc` and its cgroup show it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessView {
    /// Its pid; `null` when the run died before recording it.
    pub pid: Option<u32>,
    /// Its argv, joined by spaces (cut after 256 characters).
    pub command: String,
    /// Whether the program itself still runs (the recorded pid with the
    /// recorded start time).
    pub running: bool,
    /// How many processes its cgroup holds now: the program and all it
    /// started that still runs.
    pub processes: usize,
    /// Its cgroup, relative to the cgroup v2 mount point.
    pub cgroup: String,
    /// The files its stdout and stderr go to, in the lab's state
    /// directory; none when there is no such file.
    pub stdout_log: Option<String>,
    pub stderr_log: Option<String>,
}

/// A link, with its addresses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkView {
    pub index: u32,
    pub name: String,
    /// `veth`, `macvlan`, `bridge`, ...; `null` for links without one
    /// (loopback, physical devices).
    pub kind: Option<String>,
    pub macvlan_mode: Option<String>,
    /// The lower link (a macvlan's or vlan's parent); not set for veths.
    pub parent: Option<LinkRef>,
    /// A veth's other end.
    pub peer: Option<LinkRef>,
    /// A vxlan's tunnel.
    pub vxlan: Option<VxlanView>,
    /// The bridge (or other master) this link is a port of.
    pub master: Option<String>,
    pub mac: Option<String>,
    pub mtu: u32,
    pub admin_up: bool,
    pub oper_state: String,
    /// Whether the lab's ledger records this link (as created by the lab).
    pub in_ledger: bool,
    pub addresses: Vec<AddrView>,
}

/// Another link, named by its index and, when netwasm can tell, its name
/// and namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct LinkRef {
    pub index: u32,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

impl LinkRef {
    /// `name@namespace`, or `ifINDEX@?` for what cannot be resolved.
    pub fn display(&self) -> String {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("if{}", self.index));
        format!("{name}@{}", self.namespace.as_deref().unwrap_or("?"))
    }
}

/// A vxlan's tunnel, as `ip -d link show` prints it after `vxlan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VxlanView {
    /// The VXLAN network identifier.
    pub id: u32,
    pub local: Option<String>,
    pub remote: Option<String>,
    pub group: Option<String>,
    /// The UDP destination port.
    pub port: u16,
    /// The underlay link, in the namespace of the vxlan's tunnel.
    pub device: Option<LinkRef>,
    pub learning: bool,
    /// 0 is `ttl auto`.
    pub ttl: u8,
}

/// An address on a link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddrView {
    /// `address/prefix_len`.
    pub cidr: String,
    pub address: String,
    pub prefix_len: u8,
    /// `inet` or `inet6`.
    pub family: &'static str,
    /// `global`, `link`, `host`, ...
    pub scope: String,
}

/// A route of the main table (unicast routes only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteView {
    /// Always `address/prefix_len`; the default route is `0.0.0.0/0` or `::/0`.
    pub destination: String,
    pub family: &'static str,
    pub gateway: Option<String>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
    pub protocol: String,
    pub scope: String,
    /// The preferred source address.
    pub source: Option<String>,
}

impl RouteView {
    /// `default` for a default route, the destination otherwise.
    pub fn destination_display(&self) -> &str {
        if self.destination.ends_with("/0") {
            "default"
        } else {
            &self.destination
        }
    }
}

fn family(ip: &std::net::IpAddr) -> &'static str {
    if ip.is_ipv4() { "inet" } else { "inet6" }
}

/// The namespaces a lab holds, in the order its ledger first names them,
/// with whether it created each: those it created, and those where it
/// created links (a veth's other end counts) or added addresses or routes.
pub fn held_namespaces(objects: &[Object]) -> Vec<(String, bool)> {
    let created: HashSet<&str> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Ns { ns, .. } => Some(ns.as_str()),
            _ => None,
        })
        .collect();
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut add = |ns: &str| {
        if !out.iter().any(|(n, _)| n == ns) {
            out.push((ns.to_string(), created.contains(ns)));
        }
    };
    for o in objects {
        add(o.ns());
        if let Object::Link {
            peer_ns: Some(p), ..
        } = o
        {
            add(p);
        }
    }
    out
}

/// Reads the kernel for every namespace the lab holds. Namespaces that are
/// gone or unreadable are reported in the view, never fatal.
/// `state` is where the lab's program logs are, if it has a state
/// directory.
pub async fn gather(
    kernel: &dyn Kernel,
    lab: &str,
    objects: &[Object],
    journal_damage: Option<String>,
    state: Option<&StateDir>,
) -> LabView {
    let logs = state.map(|s| (s, lab));
    let held = held_namespaces(objects);
    let ledger = LedgerLinks::new(objects);
    let (open, errors) = open_namespaces(kernel, &held, objects, &ledger.parent_namespaces).await;
    let mut namespaces = Vec::new();
    for (name, created) in held {
        let mut view = ns_view(kernel, name, created, &open, &errors, &ledger, objects).await;
        view.processes = process_views(&view.name, objects, logs);
        namespaces.push(view);
    }
    for id in open.into_values() {
        kernel.ns_close(id);
    }
    LabView {
        schema: SCHEMA,
        lab: lab.to_string(),
        journal_damage,
        namespaces,
    }
}

/// Links recorded in the ledger, and the links a namespace the lab did
/// not create shows: its own links there, and links it put addresses or
/// routes on.
struct LedgerLinks {
    /// (namespace, link) the ledger records, a veth's other end included.
    recorded: HashSet<(String, String)>,
    /// (namespace, link) the lab put addresses or routes on.
    touched: HashSet<(String, String)>,
    /// The namespaces of recorded links' parents.
    parent_namespaces: Vec<String>,
}

impl LedgerLinks {
    fn new(objects: &[Object]) -> Self {
        let mut recorded: HashSet<(String, String)> = HashSet::new();
        let mut touched: HashSet<(String, String)> = HashSet::new();
        let mut parent_namespaces: Vec<String> = Vec::new();
        for o in objects {
            match o {
                Object::Link {
                    ns,
                    name,
                    peer,
                    peer_ns,
                    parent_ns,
                    ..
                } => {
                    recorded.insert((ns.clone(), name.clone()));
                    if let (Some(p), Some(pns)) = (peer, peer_ns) {
                        recorded.insert((pns.clone(), p.clone()));
                    }
                    if let Some(pns) = parent_ns {
                        parent_namespaces.push(pns.clone());
                    }
                }
                Object::Addr { ns, link, .. } => {
                    touched.insert((ns.clone(), link.clone()));
                }
                Object::Route {
                    ns, dev: Some(dev), ..
                } => {
                    touched.insert((ns.clone(), dev.clone()));
                }
                _ => {}
            }
        }
        LedgerLinks {
            recorded,
            touched,
            parent_namespaces,
        }
    }
}

/// Opens every namespace first: a link's parent or peer in another
/// namespace can be named only when that namespace is open too. The root
/// namespace is opened for the same reason (a macvlan on a host NIC).
/// Returns the namespaces open, and why the others could not be.
async fn open_namespaces(
    kernel: &dyn Kernel,
    held: &[(String, bool)],
    objects: &[Object],
    parent_namespaces: &[String],
) -> (HashMap<String, NsId>, HashMap<String, String>) {
    let mut open: HashMap<String, NsId> = HashMap::new();
    let mut errors: HashMap<String, String> = HashMap::new();
    if let Ok((id, _)) = kernel.ns_open_root().await {
        open.insert(ROOT_NS.to_string(), id);
    }
    // The identity each namespace had when the lab recorded it: a name
    // that denotes another namespace now is not shown as the lab's.
    let mut recorded_ids: HashMap<&str, crate::vocab::NsIdent> = HashMap::new();
    for o in objects {
        if let Some(id) = o.ns_id() {
            recorded_ids.entry(o.ns()).or_insert(id);
        }
    }
    let wanted = held
        .iter()
        .map(|(n, _)| n.clone())
        .chain(parent_namespaces.iter().cloned());
    for ns in wanted {
        if open.contains_key(&ns)
            || errors.contains_key(&ns)
            || ns == ROOT_NS
            || !kernel.ns_exists(&ns)
        {
            continue;
        }
        match kernel.ns_open(&ns).await {
            Ok((id, now)) => match recorded_ids.get(ns.as_str()) {
                Some(recorded) if !now.same(recorded) => {
                    kernel.ns_close(id);
                    errors.insert(
                        ns,
                        "replaced: the name now denotes another namespace, not the lab's".into(),
                    );
                }
                _ => {
                    open.insert(ns, id);
                }
            },
            Err(e) => {
                errors.insert(ns, format!("cannot open: {e}"));
            }
        }
    }
    (open, errors)
}

/// What the kernel has in one namespace the lab holds.
async fn ns_view(
    kernel: &dyn Kernel,
    name: String,
    created: bool,
    open: &HashMap<String, NsId>,
    errors: &HashMap<String, String>,
    ledger: &LedgerLinks,
    objects: &[Object],
) -> NsView {
    let (recorded, touched) = (&ledger.recorded, &ledger.touched);
    let links_shown = if created {
        LinksShown::All
    } else {
        LinksShown::Lab
    };
    let mut view = NsView {
        name: name.clone(),
        created_by_lab: created,
        present: false,
        error: None,
        links_shown,
        links: Vec::new(),
        routes: Vec::new(),
        processes: Vec::new(),
    };
    if let Some(e) = errors.get(&name) {
        view.present = true;
        view.error = Some(e.clone());
    } else if let Some(id) = open.get(&name) {
        view.present = true;
        match read_ns(kernel, *id).await {
            Ok((links, addrs, routes)) => {
                let shown = |l: &LinkInfo| {
                    created
                        || recorded.contains(&(name.clone(), l.name.clone()))
                        || touched.contains(&(name.clone(), l.name.clone()))
                };
                let recorded_routes: Vec<&Object> = objects
                    .iter()
                    .filter(|o| matches!(o, Object::Route { ns, .. } if *ns == name))
                    .collect();
                let mut names: HashSet<String> = HashSet::new();
                for l in links.iter().filter(|l| shown(l)) {
                    names.insert(l.name.clone());
                    let in_ledger = recorded.contains(&(name.clone(), l.name.clone()));
                    view.links.push(link_view(&name, l, &addrs, in_ledger));
                }
                view.routes = routes
                    .iter()
                    .filter(|r| {
                        created
                            || r.dev.as_ref().is_some_and(|d| names.contains(d))
                            || recorded_routes.iter().any(|o| route_matches(o, r))
                    })
                    .map(route_view)
                    .collect();
            }
            Err(e) => view.error = Some(format!("cannot read: {e}")),
        }
    }
    view
}

fn process_views(
    ns_name: &str,
    objects: &[Object],
    logs: Option<(&StateDir, &str)>,
) -> Vec<ProcessView> {
    let log = |cgroup: &str, stream| {
        let (state, lab) = logs?;
        let path = state.program_log(lab, cgroup, stream)?;
        std::fs::symlink_metadata(&path)
            .is_ok_and(|m| m.is_file())
            .then(|| path.display().to_string())
    };
    objects
        .iter()
        .filter_map(|o| match o {
            Object::Process {
                ns,
                cgroup,
                command,
                pid,
                start,
                ..
            } if ns == ns_name => Some(ProcessView {
                pid: *pid,
                command: command.clone(),
                running: pid.zip(*start).is_some_and(|(p, t)| process::alive(p, t)),
                processes: process::Cgroup::at(cgroup)
                    .map(|c| c.members().len())
                    .unwrap_or(0),
                cgroup: cgroup.clone(),
                stdout_log: log(cgroup, LogStream::Stdout),
                stderr_log: log(cgroup, LogStream::Stderr),
            }),
            _ => None,
        })
        .collect()
}

async fn read_ns(
    kernel: &dyn Kernel,
    id: NsId,
) -> std::io::Result<(Vec<LinkInfo>, Vec<AddrInfo>, Vec<RouteInfo>)> {
    let links = kernel.link_list(id).await?;
    let addrs = kernel.addr_list(id, None).await?;
    let routes = kernel.route_list(id).await?;
    Ok((links, addrs, routes))
}

fn route_matches(o: &Object, r: &RouteInfo) -> bool {
    let Object::Route {
        destination,
        gateway,
        ..
    } = o
    else {
        return false;
    };
    let gw = gateway.as_deref().and_then(|g| g.parse().ok());
    let v6 = matches!(gw, Some(std::net::IpAddr::V6(_)));
    crate::vocab::net::parse_destination(destination, v6).ok() == Some(r.destination)
        && gw == r.gateway
}

fn link_view(ns: &str, l: &LinkInfo, addrs: &[AddrInfo], in_ledger: bool) -> LinkView {
    let other = l.parent_index.map(|index| LinkRef {
        index,
        name: l.parent_name.clone(),
        // The backend leaves the namespace unset for a lower link in the
        // link's own namespace (which it names) and for one it could not
        // find (which it leaves unnamed).
        namespace: match (&l.parent_namespace, &l.parent_name) {
            (Some(n), _) => Some(n.clone()),
            (None, Some(_)) => Some(ns.to_string()),
            (None, None) => None,
        },
    });
    let is_veth = l.kind.as_deref() == Some("veth");
    LinkView {
        index: l.index,
        name: l.name.clone(),
        kind: l.kind.clone(),
        macvlan_mode: l.macvlan_mode.map(|m| m.as_str().to_string()),
        parent: if is_veth { None } else { other.clone() },
        peer: if is_veth { other } else { None },
        vxlan: l.vxlan.as_ref().map(|v| VxlanView {
            id: v.id,
            local: v.local.map(|a| a.to_string()),
            remote: v.remote.map(|a| a.to_string()),
            group: v.group.map(|a| a.to_string()),
            port: v.port,
            // Resolved only when it is in the vxlan's own namespace.
            device: v.device.map(|index| LinkRef {
                index,
                name: v.device_name.clone(),
                namespace: v.device_name.as_ref().map(|_| ns.to_string()),
            }),
            learning: v.learning,
            ttl: v.ttl,
        }),
        master: l.master.clone(),
        mac: l.mac.map(|m| m.to_string()),
        mtu: l.mtu,
        admin_up: l.admin_up,
        oper_state: l.state.as_str().to_string(),
        in_ledger,
        addresses: addrs
            .iter()
            .filter(|a| a.index == l.index)
            .map(|a| AddrView {
                cidr: a.cidr.to_string(),
                address: a.cidr.addr.to_string(),
                prefix_len: a.cidr.prefix,
                family: family(&a.cidr.addr),
                scope: a.scope.clone(),
            })
            .collect(),
    }
}

fn route_view(r: &RouteInfo) -> RouteView {
    RouteView {
        destination: r.destination.to_string(),
        family: family(&r.destination.addr),
        gateway: r.gateway.map(|g| g.to_string()),
        dev: r.dev.clone(),
        metric: r.metric,
        protocol: r.protocol.clone(),
        scope: r.scope.clone(),
        source: r.source.map(|s| s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_namespaces_in_ledger_order() {
        let objects = vec![
            Object::Ns {
                ns: "a".into(),
                id: None,
            },
            Object::Link {
                ns: "/".into(),
                ns_id: None,
                name: "v0".into(),
                index: None,
                kind: crate::vocab::LinkKind::Veth,
                mode: None,
                parent: None,
                parent_ns: None,
                peer: Some("v1".into()),
                peer_ns: Some("b".into()),
                peer_index: None,
                vxlan: None,
                props: Default::default(),
            },
            Object::Addr {
                ns: "a".into(),
                ns_id: None,
                link: "x".into(),
                index: None,
                cidr: "10.0.0.1/24".into(),
                done: true,
            },
        ];
        assert_eq!(
            held_namespaces(&objects),
            vec![
                ("a".to_string(), true),
                ("/".to_string(), false),
                ("b".to_string(), false)
            ]
        );
    }

    #[test]
    fn link_refs_display() {
        let r = LinkRef {
            index: 3,
            name: Some("eth0".into()),
            namespace: Some("lab-net1".into()),
        };
        assert_eq!(r.display(), "eth0@lab-net1");
        let r = LinkRef {
            index: 7,
            name: None,
            namespace: None,
        };
        assert_eq!(r.display(), "if7@?");
    }
}
