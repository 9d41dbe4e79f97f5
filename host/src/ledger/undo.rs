//! From a journal to the objects that exist, and from those to a teardown.

use std::collections::{HashMap, HashSet};

use crate::kernel::{Kernel, NsId, RouteSpec};
use crate::net::{Cidr, parse_destination, parse_ip};

use super::Entry;

/// Properties recorded for drift checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkProps {
    pub admin_up: Option<bool>,
    pub mtu: Option<u32>,
    pub mac: Option<String>,
    pub master: Option<Option<String>>,
    pub hairpin: Option<bool>,
}

/// One object the journal says the lab holds now.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Ns {
        ns: String,
    },
    Link {
        ns: String,
        name: String,
        kind: String,
        mode: Option<String>,
        parent: Option<String>,
        parent_ns: Option<String>,
        peer: Option<String>,
        peer_ns: Option<String>,
        props: LinkProps,
    },
    Addr {
        ns: String,
        link: String,
        cidr: String,
    },
    Route {
        ns: String,
        destination: String,
        gateway: Option<String>,
        dev: Option<String>,
        metric: Option<u32>,
    },
}

impl Object {
    pub fn ns(&self) -> &str {
        match self {
            Object::Ns { ns }
            | Object::Link { ns, .. }
            | Object::Addr { ns, .. }
            | Object::Route { ns, .. } => ns,
        }
    }

    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            Object::Ns { ns } => format!("namespace {ns}"),
            Object::Link {
                ns,
                name,
                kind,
                peer: Some(peer),
                peer_ns: Some(pns),
                ..
            } => {
                format!("{kind} {name} in {ns} (peer {peer} in {pns})")
            }
            Object::Link {
                ns,
                name,
                kind,
                mode,
                ..
            } => match mode {
                Some(m) => format!("{kind} {name} ({m}) in {ns}"),
                None => format!("{kind} {name} in {ns}"),
            },
            Object::Addr { ns, link, cidr } => format!("address {cidr} on {link} in {ns}"),
            Object::Route {
                ns,
                destination,
                gateway,
                ..
            } => match gateway {
                Some(g) => format!("route {destination} via {g} in {ns}"),
                None => format!("route {destination} in {ns}"),
            },
        }
    }

    /// Whether this object is (an end of) link `name` in `ns`.
    fn is_link(&self, at_ns: &str, at_name: &str) -> bool {
        match self {
            Object::Link {
                ns,
                name,
                peer,
                peer_ns,
                ..
            } => {
                (ns == at_ns && name == at_name)
                    || (peer_ns.as_deref() == Some(at_ns) && peer.as_deref() == Some(at_name))
            }
            _ => false,
        }
    }
}

/// The entries that took effect: each `abort` cancels the entry before it,
/// and a completed rollback (`end` with outcome `rolled-back`) cancels what
/// its run created. (Deletions stay: the run really did them.)
fn effective(entries: &[Entry]) -> Vec<&Entry> {
    let mut out: Vec<&Entry> = Vec::with_capacity(entries.len());
    for e in entries {
        match e {
            Entry::Abort => {
                out.pop();
            }
            Entry::End { outcome } if outcome == "rolled-back" => {
                let begin = out
                    .iter()
                    .rposition(|e| matches!(e, Entry::Begin { .. }))
                    .unwrap_or(0);
                let mut position = 0;
                out.retain(|e| {
                    position += 1;
                    position <= begin + 1
                        || !matches!(
                            e,
                            Entry::NsCreate { .. }
                                | Entry::LinkAdd { .. }
                                | Entry::AddrAdd { .. }
                                | Entry::RouteAdd { .. }
                        )
                });
                out.push(e);
            }
            _ => out.push(e),
        }
    }
    out
}

/// The objects a journal's entries leave in place, in creation order.
pub fn replay(entries: &[Entry]) -> Vec<Object> {
    let mut objs: Vec<Object> = Vec::new();
    // Every (namespace, name) a recorded link has held. Most changes are
    // to links the lab did not create (each namespace's `lo`), and a search
    // for those would go through every object: quadratic in a lab of
    // thousands. A stale pair costs only a search that finds nothing.
    let mut held_names: HashSet<(&str, &str)> = HashSet::new();
    for e in effective(entries) {
        match e {
            Entry::Header { .. } | Entry::Begin { .. } | Entry::End { .. } | Entry::Abort => {}
            Entry::NsCreate { ns } => objs.push(Object::Ns { ns: ns.clone() }),
            Entry::NsDelete { ns } => {
                // The namespace takes with it everything inside, veth pairs
                // with an end inside, and macvlans whose parent was inside.
                let gone = ns.clone();
                objs.retain(|o| match o {
                    Object::Link { ns, peer_ns, parent_ns, .. } => {
                        *ns != gone && peer_ns.as_deref() != Some(&gone) && parent_ns.as_deref() != Some(&gone)
                    }
                    other => other.ns() != gone,
                });
            }
            Entry::LinkAdd { ns, name, kind, mode, parent, parent_ns, peer, peer_ns } => {
                held_names.insert((ns, name));
                objs.push(Object::Link {
                    ns: ns.clone(),
                    name: name.clone(),
                    kind: kind.clone(),
                    mode: mode.clone(),
                    parent: parent.clone(),
                    parent_ns: parent_ns.clone(),
                    peer: peer.clone(),
                    peer_ns: peer_ns.clone(),
                    props: LinkProps::default(),
                })
            }
            Entry::LinkDelete { ns, name } => {
                // Its macvlan children, addresses and routes go with it.
                objs.retain(|o| match o {
                    Object::Link { parent, parent_ns, .. } => {
                        let child_of_it = parent.as_deref() == Some(name) && parent_ns.as_deref() == Some(ns);
                        !(o.is_link(ns, name) || child_of_it)
                    }
                    Object::Addr { ns: a, link, .. } => !(a == ns && link == name),
                    Object::Route { ns: a, dev, .. } => !(a == ns && dev.as_deref() == Some(name)),
                    Object::Ns { .. } => true,
                });
            }
            Entry::LinkMove { from_ns, name, to_ns, new_name } => {
                held_names.insert((to_ns, new_name));
                // Addresses do not survive a move; routes through it go too.
                objs.retain(|o| match o {
                    Object::Addr { ns, link, .. } => !(ns == from_ns && link == name),
                    Object::Route { ns, dev, .. } => !(ns == from_ns && dev.as_deref() == Some(name)),
                    _ => true,
                });
                for o in &mut objs {
                    if let Object::Link { ns, name: n, peer, peer_ns, .. } = o {
                        if ns == from_ns && n == name {
                            *ns = to_ns.clone();
                            *n = new_name.clone();
                        } else if peer_ns.as_deref() == Some(from_ns) && peer.as_deref() == Some(name) {
                            *peer_ns = Some(to_ns.clone());
                            *peer = Some(new_name.clone());
                        }
                    }
                    // Children follow their parent's new name.
                    if let Object::Link { parent, parent_ns, .. } = o
                        && parent_ns.as_deref() == Some(from_ns) && parent.as_deref() == Some(name) {
                            *parent_ns = Some(to_ns.clone());
                            *parent = Some(new_name.clone());
                        }
                }
            }
            Entry::LinkSet { ns, name, change } => {
                if !held_names.contains(&(ns.as_str(), name.as_str())) {
                    continue;
                }
                // A name is held by one link at a time, and a change mostly
                // follows its link's creation closely: searching from the end
                // keeps replay linear for a lab of thousands of links.
                let held = objs.iter_mut().rev().find_map(|o| match o {
                    Object::Link { ns: n2, name: l, props, .. } if n2 == ns && l == name => Some(props),
                    _ => None,
                });
                if let Some(props) = held {
                    apply_change(props, change);
                }
            }
            Entry::AddrAdd { ns, link, cidr } => objs.push(Object::Addr {
                ns: ns.clone(),
                link: link.clone(),
                cidr: cidr.clone(),
            }),
            Entry::AddrDelete { ns, link, cidr } => {
                objs.retain(|o| !matches!(o, Object::Addr { ns: a, link: b, cidr: c } if a == ns && b == link && c == cidr))
            }
            Entry::RouteAdd { ns, destination, gateway, dev, metric } => objs.push(Object::Route {
                ns: ns.clone(),
                destination: destination.clone(),
                gateway: gateway.clone(),
                dev: dev.clone(),
                metric: *metric,
            }),
            Entry::RouteDelete { ns, destination, gateway, .. } => {
                if let Some(pos) = objs.iter().position(|o| {
                    matches!(o, Object::Route { ns: a, destination: d, gateway: g, .. }
                        if a == ns && d == destination && g == gateway)
                }) {
                    objs.remove(pos);
                }
            }
        }
    }
    objs
}

fn apply_change(props: &mut LinkProps, change: &str) {
    match change.split_once('=') {
        None if change == "up" => props.admin_up = Some(true),
        None if change == "down" => props.admin_up = Some(false),
        None if change == "nomaster" => props.master = Some(None),
        Some(("mtu", v)) => props.mtu = v.parse().ok(),
        Some(("mac", v)) => props.mac = Some(v.to_string()),
        Some(("master", v)) => props.master = Some(Some(v.to_string())),
        Some(("hairpin", v)) => props.hairpin = Some(v == "on"),
        _ => {}
    }
}

/// What a teardown did.
#[derive(Debug, Default)]
pub struct UndoReport {
    /// Objects removed, described.
    pub undone: Vec<String>,
    /// Objects that were already gone.
    pub gone: Vec<String>,
    /// Objects that could not be removed, with why.
    pub failed: Vec<String>,
    /// Objects removed with their namespace, not one by one.
    pub with_namespace: usize,
}

impl UndoReport {
    fn record(&mut self, what: String, result: Result<bool, String>) {
        match result {
            Ok(true) => self.undone.push(what),
            Ok(false) => self.gone.push(what),
            Err(why) => self.failed.push(format!("{what}: {why}")),
        }
    }

    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }

    /// One line saying what happened. Long lists are cut after a few
    /// names (a lab of a thousand namespaces would fill the screen); what
    /// could not be undone is always listed whole.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.undone.is_empty() {
            let mut s = format!("undid {}", abridged(&self.undone));
            if self.with_namespace > 0 {
                s += &format!(
                    " ({} more objects went with their namespaces)",
                    self.with_namespace
                );
            }
            parts.push(s);
        }
        if !self.gone.is_empty() {
            parts.push(format!("already gone: {}", abridged(&self.gone)));
        }
        if !self.failed.is_empty() {
            parts.push(format!("could not undo: {}", self.failed.join("; ")));
        }
        if parts.is_empty() {
            "nothing was left to undo".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// The first few of `items`, and how many more there are.
fn abridged(items: &[String]) -> String {
    const SHOWN: usize = 8;
    if items.len() <= SHOWN {
        return items.join(", ");
    }
    format!(
        "{} and {} more",
        items[..SHOWN].join(", "),
        items.len() - SHOWN
    )
}

/// Undoes `objects` (as [`replay`] returns them) in reverse order. Best
/// effort and complete: a failing step is reported and the rest go on.
/// Objects inside a namespace the lab created go with the namespace.
pub async fn undo(kernel: &dyn Kernel, objects: &[Object]) -> UndoReport {
    let mut report = UndoReport::default();
    let created: HashSet<&str> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Ns { ns } => Some(ns.as_str()),
            _ => None,
        })
        .collect();
    let mut open: HashMap<String, NsId> = HashMap::new();
    let inside_created = |obj: &Object| match obj {
        Object::Ns { .. } => false,
        Object::Link { ns, peer_ns, .. } => {
            created.contains(ns.as_str()) || peer_ns.as_deref().is_some_and(|p| created.contains(p))
        }
        other => created.contains(other.ns()),
    };
    let mut pending = objects.iter().rev().peekable();
    while let Some(obj) = pending.next() {
        if let Object::Ns { .. } = obj {
            // A run of namespaces has no order among its members (each takes
            // what is inside it along), so they are removed in one call,
            // which the backend spreads over several threads. What lies
            // between them inside such namespaces (a `batch.build` journals
            // each namespace with its links, addresses and routes) goes
            // with them and does not end the run.
            let mut run = vec![obj];
            while let Some(next) =
                pending.next_if(|o| matches!(o, Object::Ns { .. }) || inside_created(o))
            {
                if let Object::Ns { .. } = next {
                    run.push(next);
                } else {
                    report.with_namespace += 1;
                }
            }
            let names: Vec<String> = run.iter().map(|o| o.ns().to_string()).collect();
            let results = kernel.ns_remove_all(&names).await;
            for (o, result) in run.iter().zip(results) {
                report.record(o.describe(), removal(result));
            }
            continue;
        }
        if inside_created(obj) {
            report.with_namespace += 1;
            continue;
        }
        let what = obj.describe();
        let result = undo_one(kernel, obj, &mut open).await;
        report.record(what, result);
    }
    for (_, id) in open {
        kernel.ns_close(id);
    }
    report
}

/// An undo step's outcome: `Ok(true)` when removed, `Ok(false)` when it was
/// already gone. (Namespaces get no existence check first: the backend
/// removes a name after any creation of it still in flight.)
fn removal(result: std::io::Result<()>) -> Result<bool, String> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if is_gone(&e) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether an undo step failed only because its object is already gone.
fn is_gone(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT | libc::ENODEV | libc::ESRCH | libc::EADDRNOTAVAIL)
    )
}

/// Undoes one object other than a namespace: `Ok(true)` when removed,
/// `Ok(false)` when it was already gone.
async fn undo_one(
    kernel: &dyn Kernel,
    obj: &Object,
    open: &mut HashMap<String, NsId>,
) -> Result<bool, String> {
    let ns = obj.ns().to_string();
    if !kernel.ns_exists(&ns) {
        return Ok(false);
    }
    let id = match open.get(&ns) {
        Some(id) => *id,
        None => {
            let id = kernel
                .ns_open(&ns)
                .await
                .map_err(|e| format!("open namespace {ns}: {e}"))?;
            open.insert(ns.clone(), id);
            id
        }
    };
    let index_of = async |name: &str| kernel.link_by_name(id, name).await.map(|l| l.index);
    let result = match obj {
        Object::Link { name, .. } => match index_of(name).await {
            Ok(i) => kernel.link_del(id, i).await,
            Err(e) => Err(e),
        },
        Object::Addr { link, cidr, .. } => {
            let cidr = Cidr::parse(cidr, "address", false).map_err(|e| e.message)?;
            match index_of(link).await {
                Ok(i) => kernel.addr_del(id, i, cidr).await,
                Err(e) => Err(e),
            }
        }
        Object::Route {
            destination,
            gateway,
            dev,
            metric,
            ..
        } => {
            let gateway = gateway
                .as_deref()
                .map(|g| parse_ip(g, "gateway"))
                .transpose()
                .map_err(|e| e.message)?;
            let destination = parse_destination(destination, gateway.is_some_and(|g| g.is_ipv6()))
                .map_err(|e| e.message)?;
            let dev = match dev {
                Some(d) => match index_of(d).await {
                    Ok(i) => Some(i),
                    Err(e) if is_gone(&e) => return Ok(false),
                    Err(e) => return Err(e.to_string()),
                },
                None => None,
            };
            kernel
                .route_del(
                    id,
                    &RouteSpec {
                        destination,
                        gateway,
                        dev,
                        metric: *metric,
                    },
                )
                .await
        }
        Object::Ns { .. } => unreachable!("handled above"),
    };
    removal(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(ns: &str, name: &str) -> Entry {
        Entry::LinkAdd {
            ns: ns.into(),
            name: name.into(),
            kind: "macvlan".into(),
            mode: Some("vepa".into()),
            parent: Some("eth0".into()),
            parent_ns: Some("up".into()),
            peer: None,
            peer_ns: None,
        }
    }

    #[test]
    fn replay_follows_deletes_and_moves() {
        let entries = vec![
            Entry::NsCreate { ns: "a".into() },
            Entry::NsCreate { ns: "b".into() },
            link("a", "mv1"),
            Entry::AddrAdd {
                ns: "a".into(),
                link: "mv1".into(),
                cidr: "10.0.0.1/24".into(),
            },
            Entry::LinkMove {
                from_ns: "a".into(),
                name: "mv1".into(),
                to_ns: "b".into(),
                new_name: "eth0".into(),
            },
            Entry::NsDelete { ns: "a".into() },
        ];
        let objs = replay(&entries);
        assert_eq!(objs.len(), 2, "{objs:?}");
        assert!(matches!(&objs[1], Object::Link { ns, name, .. } if ns == "b" && name == "eth0"));
    }

    #[test]
    fn changes_apply_to_recorded_links_under_their_current_names() {
        let set = |ns: &str, name: &str, change: &str| Entry::LinkSet {
            ns: ns.into(),
            name: name.into(),
            change: change.into(),
        };
        let entries = vec![
            Entry::NsCreate { ns: "a".into() },
            Entry::NsCreate { ns: "b".into() },
            set("a", "lo", "up"),
            link("a", "mv1"),
            set("a", "mv1", "mtu=1400"),
            Entry::LinkMove {
                from_ns: "a".into(),
                name: "mv1".into(),
                to_ns: "b".into(),
                new_name: "eth0".into(),
            },
            set("b", "eth0", "up"),
            // The old name no longer names it.
            set("a", "mv1", "down"),
        ];
        let objs = replay(&entries);
        assert_eq!(objs.len(), 3, "lo is not the lab's: {objs:?}");
        let Object::Link {
            ns, name, props, ..
        } = &objs[2]
        else {
            panic!("{objs:?}")
        };
        assert_eq!((ns.as_str(), name.as_str()), ("b", "eth0"));
        assert_eq!((props.mtu, props.admin_up), (Some(1400), Some(true)));
    }

    #[test]
    fn an_abort_cancels_the_entry_before_it() {
        let entries = vec![
            Entry::NsCreate { ns: "a".into() },
            Entry::NsCreate { ns: "taken".into() },
            Entry::Abort,
            link("a", "mv1"),
        ];
        let objs = replay(&entries);
        assert_eq!(objs.len(), 2);
        assert!(!objs.iter().any(|o| o.ns() == "taken"));
    }

    #[test]
    fn a_completed_rollback_cancels_its_run() {
        let begin = || Entry::Begin {
            pid: 1,
            guest: "g".into(),
            args: vec![],
            time: 0,
        };
        let entries = vec![
            begin(),
            Entry::NsCreate { ns: "kept".into() },
            Entry::End {
                outcome: "committed".into(),
            },
            begin(),
            Entry::NsCreate {
                ns: "undone".into(),
            },
            link("kept", "mv1"),
            Entry::End {
                outcome: "rolled-back".into(),
            },
        ];
        assert_eq!(replay(&entries), vec![Object::Ns { ns: "kept".into() }]);
    }

    #[test]
    fn deleting_a_namespace_takes_veths_with_an_end_inside() {
        let entries = vec![
            Entry::NsCreate { ns: "a".into() },
            Entry::LinkAdd {
                ns: "up".into(),
                name: "v0".into(),
                kind: "veth".into(),
                mode: None,
                parent: None,
                parent_ns: None,
                peer: Some("v1".into()),
                peer_ns: Some("a".into()),
            },
            Entry::NsDelete { ns: "a".into() },
        ];
        assert!(replay(&entries).is_empty());
    }

    #[test]
    fn a_long_summary_is_abridged() {
        let report = UndoReport {
            undone: (0..20).map(|i| format!("namespace n{i}")).collect(),
            with_namespace: 60,
            ..Default::default()
        };
        assert_eq!(
            report.summary(),
            "undid namespace n0, namespace n1, namespace n2, namespace n3, namespace n4, \
             namespace n5, namespace n6, namespace n7 and 12 more \
             (60 more objects went with their namespaces)"
        );
    }
}
