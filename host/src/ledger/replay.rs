//! From a journal to the objects the lab holds now, each with the kernel
//! identity it was made with.

use std::collections::{HashMap, HashSet};

use crate::vocab::text::printable;
use crate::vocab::{LinkKind, MacvlanMode, NsIdent};

use super::{Entry, LinkSetting, RunOutcome, VxlanRecord};

/// Properties recorded for drift checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkProps {
    pub admin_up: Option<bool>,
    pub mtu: Option<u32>,
    pub mac: Option<String>,
    pub master: Option<Option<String>>,
    pub hairpin: Option<bool>,
}

/// One object the journal says the lab holds now. `ns_id` is the identity
/// of the namespace `ns` as the run that made the object recorded it (none
/// in journals of version 1): an object is the lab's only while its
/// namespace still is that namespace.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Ns {
        ns: String,
        id: Option<NsIdent>,
    },
    Link {
        ns: String,
        ns_id: Option<NsIdent>,
        name: String,
        index: Option<u32>,
        kind: LinkKind,
        mode: Option<MacvlanMode>,
        parent: Option<String>,
        parent_ns: Option<String>,
        peer: Option<String>,
        peer_ns: Option<String>,
        peer_index: Option<u32>,
        vxlan: Option<VxlanRecord>,
        props: LinkProps,
    },
    /// `done`: the journal says the kernel took the add (see `Entry::Done`).
    Addr {
        ns: String,
        ns_id: Option<NsIdent>,
        link: String,
        index: Option<u32>,
        cidr: String,
        done: bool,
    },
    Route {
        ns: String,
        ns_id: Option<NsIdent>,
        destination: String,
        gateway: Option<String>,
        dev: Option<String>,
        oif: Option<u32>,
        metric: Option<u32>,
        done: bool,
    },
    /// A program the lab started, with everything it started in turn: all
    /// held in its cgroup. `pid` and `start` are missing when the run died
    /// between starting it and recording them.
    Process {
        ns: String,
        ns_id: Option<NsIdent>,
        cgroup: String,
        command: String,
        pid: Option<u32>,
        start: Option<u64>,
    },
}

impl Object {
    pub fn ns(&self) -> &str {
        match self {
            Object::Ns { ns, .. }
            | Object::Link { ns, .. }
            | Object::Addr { ns, .. }
            | Object::Route { ns, .. }
            | Object::Process { ns, .. } => ns,
        }
    }

    /// The identity of the object's namespace, as recorded.
    pub fn ns_id(&self) -> Option<NsIdent> {
        match self {
            Object::Ns { id, .. } => *id,
            Object::Link { ns_id, .. }
            | Object::Addr { ns_id, .. }
            | Object::Route { ns_id, .. }
            | Object::Process { ns_id, .. } => *ns_id,
        }
    }

    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            Object::Ns { ns, .. } => format!("namespace {ns}"),
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
                vxlan: Some(v),
                ..
            } => format!("{kind} {name} (vni {}) in {ns}", v.id),
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
            Object::Addr { ns, link, cidr, .. } => format!("address {cidr} on {link} in {ns}"),
            Object::Process {
                ns, command, pid, ..
            } => {
                // The guest chose argv: shown escaped, whatever the journal held.
                let command = printable(command);
                match pid {
                    Some(pid) => format!("program {pid} ({command}) in {ns}"),
                    None => format!("program ({command}) in {ns}"),
                }
            }
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
            Entry::End { outcome } if *outcome == RunOutcome::RolledBack => {
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
                                | Entry::ProcessStart { .. }
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
    // The identity each namespace name has in the run being read. A run
    // records the identity of every namespace it acts in before acting, so
    // the map starts empty with each run: an identity recorded by an
    // earlier run says nothing about what the name denotes later.
    let mut idents: HashMap<&str, NsIdent> = HashMap::new();
    for e in effective(entries) {
        match e {
            Entry::Begin { .. } => idents.clear(),
            Entry::Header { .. } | Entry::End { .. } | Entry::Abort => {}
            Entry::Done => {
                if let Some(Object::Addr { done, .. } | Object::Route { done, .. }) =
                    objs.last_mut()
                {
                    *done = true;
                }
            }
            Entry::NsCreate { ns, id } => {
                match id {
                    Some(id) => idents.insert(ns, *id),
                    None => idents.remove(ns.as_str()),
                };
                objs.push(Object::Ns {
                    ns: ns.clone(),
                    id: *id,
                })
            }
            Entry::NsOpen { ns, id } => {
                idents.insert(ns, *id);
            }
            Entry::ProcessStart {
                ns,
                cgroup,
                command,
            } => objs.push(Object::Process {
                ns: ns.clone(),
                ns_id: idents.get(ns.as_str()).copied(),
                cgroup: cgroup.clone(),
                command: command.clone(),
                pid: None,
                start: None,
            }),
            Entry::ProcessPid {
                cgroup: c,
                pid: p,
                start: t,
            } => {
                if let Some(Object::Process { pid, start, .. }) = objs
                    .iter_mut()
                    .rev()
                    .find(|o| matches!(o, Object::Process { cgroup, .. } if cgroup == c))
                {
                    *pid = Some(*p);
                    *start = Some(*t);
                }
            }
            Entry::ProcessEnd { cgroup: c } => {
                objs.retain(|o| !matches!(o, Object::Process { cgroup, .. } if cgroup == c));
            }
            Entry::NsDelete { ns } => {
                // The namespace takes with it everything inside, veth pairs
                // with an end inside, and macvlans whose parent was inside.
                let gone = ns.clone();
                objs.retain(|o| match o {
                    Object::Link {
                        ns,
                        peer_ns,
                        parent_ns,
                        ..
                    } => {
                        *ns != gone
                            && peer_ns.as_deref() != Some(&gone)
                            && parent_ns.as_deref() != Some(&gone)
                    }
                    // A program keeps its namespace alive whatever its name:
                    // it stays the lab's until it is recorded as ended.
                    Object::Process { .. } => true,
                    other => other.ns() != gone,
                });
            }
            Entry::LinkAdd {
                ns,
                name,
                index,
                kind,
                mode,
                parent,
                parent_ns,
                peer,
                peer_ns,
                peer_index,
                vxlan,
            } => {
                held_names.insert((ns, name));
                objs.push(Object::Link {
                    ns: ns.clone(),
                    ns_id: idents.get(ns.as_str()).copied(),
                    name: name.clone(),
                    index: *index,
                    kind: *kind,
                    mode: *mode,
                    parent: parent.clone(),
                    parent_ns: parent_ns.clone(),
                    peer: peer.clone(),
                    peer_ns: peer_ns.clone(),
                    peer_index: *peer_index,
                    vxlan: vxlan.clone(),
                    props: LinkProps::default(),
                })
            }
            Entry::LinkDelete { ns, name } => {
                // Its macvlan children, addresses and routes go with it.
                objs.retain(|o| match o {
                    Object::Link {
                        parent, parent_ns, ..
                    } => {
                        let child_of_it =
                            parent.as_deref() == Some(name) && parent_ns.as_deref() == Some(ns);
                        !(o.is_link(ns, name) || child_of_it)
                    }
                    Object::Addr { ns: a, link, .. } => !(a == ns && link == name),
                    Object::Route { ns: a, dev, .. } => !(a == ns && dev.as_deref() == Some(name)),
                    Object::Ns { .. } | Object::Process { .. } => true,
                });
                // A bridge's ports are freed with it: they have no master
                // now, by the lab's own doing.
                for o in &mut objs {
                    if let Object::Link { ns: n2, props, .. } = o
                        && n2 == ns
                        && props
                            .master
                            .as_ref()
                            .is_some_and(|m| m.as_deref() == Some(name))
                    {
                        props.master = Some(None);
                    }
                }
            }
            Entry::LinkMove {
                from_ns,
                name,
                to_ns,
                new_name,
                index,
                to_id,
            } => {
                held_names.insert((to_ns, new_name));
                // Addresses do not survive a move; routes through it go too,
                // and so do the vxlans it is the device of (the kernel
                // deletes them as the device leaves their namespace).
                objs.retain(|o| match o {
                    Object::Addr { ns, link, .. } => !(ns == from_ns && link == name),
                    Object::Route { ns, dev, .. } => {
                        !(ns == from_ns && dev.as_deref() == Some(name))
                    }
                    Object::Link {
                        kind: LinkKind::Vxlan,
                        parent,
                        parent_ns,
                        ..
                    } => {
                        !(parent_ns.as_deref() == Some(from_ns) && parent.as_deref() == Some(name))
                    }
                    _ => true,
                });
                // Recorded with the move itself: the run that created the
                // target may have been rolled back since, its `ns-create`
                // cancelled with it.
                let to_id = to_id.or_else(|| idents.get(to_ns.as_str()).copied());
                for o in &mut objs {
                    if let Object::Link {
                        ns,
                        ns_id,
                        name: n,
                        index: i,
                        peer,
                        peer_ns,
                        props,
                        ..
                    } = o
                    {
                        if ns == from_ns && n == name {
                            // The kernel closes a link it moves (and frees
                            // it from its bridge): what the lab set before
                            // the move no longer holds.
                            if props.admin_up.is_some() {
                                props.admin_up = Some(false);
                            }
                            if props.master.is_some() {
                                props.master = Some(None);
                            }
                            *ns = to_ns.clone();
                            *ns_id = to_id;
                            *n = new_name.clone();
                            if index.is_some() {
                                *i = *index;
                            }
                        } else if peer_ns.as_deref() == Some(from_ns)
                            && peer.as_deref() == Some(name)
                        {
                            *peer_ns = Some(to_ns.clone());
                            *peer = Some(new_name.clone());
                        }
                    }
                    // Children follow their parent's new name.
                    if let Object::Link {
                        parent, parent_ns, ..
                    } = o
                        && parent_ns.as_deref() == Some(from_ns)
                        && parent.as_deref() == Some(name)
                    {
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
                    Object::Link {
                        ns: n2,
                        name: l,
                        props,
                        ..
                    } if n2 == ns && l == name => Some(props),
                    _ => None,
                });
                if let Some(props) = held {
                    apply_change(props, change);
                }
            }
            Entry::AddrAdd {
                ns,
                link,
                index,
                cidr,
            } => objs.push(Object::Addr {
                ns: ns.clone(),
                ns_id: idents.get(ns.as_str()).copied(),
                link: link.clone(),
                index: *index,
                cidr: cidr.clone(),
                done: false,
            }),
            Entry::AddrDelete { ns, link, cidr } => objs.retain(|o| {
                !matches!(o, Object::Addr { ns: a, link: b, cidr: c, .. }
                    if a == ns && b == link && c == cidr)
            }),
            Entry::RouteAdd {
                ns,
                destination,
                gateway,
                dev,
                oif,
                metric,
            } => objs.push(Object::Route {
                ns: ns.clone(),
                ns_id: idents.get(ns.as_str()).copied(),
                destination: destination.clone(),
                gateway: gateway.clone(),
                dev: dev.clone(),
                oif: *oif,
                metric: *metric,
                done: false,
            }),
            Entry::RouteDelete {
                ns,
                destination,
                gateway,
                oif,
                metric,
                ..
            } => {
                // The whole key where the entry has it (version 2), so that
                // deleting one of two routes that differ only in their
                // metric or output link forgets the right one.
                if let Some(pos) = objs.iter().position(|o| {
                    matches!(o, Object::Route { ns: a, destination: d, gateway: g, oif: i, metric: m, .. }
                        if a == ns && d == destination && g == gateway
                            // A route recorded without its output link or
                            // metric (added in a lab namespace, the kernel
                            // choosing) is the one deleted with them.
                            && (oif.is_none() || i.is_none() || i == oif)
                            && (metric.is_none() || m.is_none() || m == metric))
                }) {
                    objs.remove(pos);
                }
            }
        }
    }
    objs
}

fn apply_change(props: &mut LinkProps, change: &LinkSetting) {
    match change {
        LinkSetting::Up => props.admin_up = Some(true),
        LinkSetting::Down => props.admin_up = Some(false),
        LinkSetting::NoMaster => props.master = Some(None),
        LinkSetting::Mtu(m) => props.mtu = Some(*m),
        LinkSetting::Mac(m) => props.mac = Some(m.to_string()),
        LinkSetting::Master(b) => props.master = Some(Some(b.clone())),
        LinkSetting::Hairpin(on) => props.hairpin = Some(*on),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NsIdent = NsIdent {
        dev: 4,
        ino: 4026532177,
        id: 7,
    };

    fn create(ns: &str) -> Entry {
        Entry::NsCreate {
            ns: ns.into(),
            id: Some(A),
        }
    }

    fn link(ns: &str, name: &str) -> Entry {
        Entry::LinkAdd {
            ns: ns.into(),
            name: name.into(),
            index: Some(1 << 24),
            kind: crate::vocab::LinkKind::Macvlan,
            mode: Some(crate::vocab::MacvlanMode::Vepa),
            parent: Some("eth0".into()),
            parent_ns: Some("up".into()),
            peer: None,
            peer_ns: None,
            peer_index: None,
            vxlan: None,
        }
    }

    fn vxlan(ns: &str, name: &str, device: Option<&str>) -> Entry {
        Entry::LinkAdd {
            ns: ns.into(),
            name: name.into(),
            index: Some(1 << 25),
            kind: LinkKind::Vxlan,
            mode: None,
            parent: device.map(Into::into),
            parent_ns: Some(ns.into()),
            peer: None,
            peer_ns: None,
            peer_index: None,
            vxlan: Some(VxlanRecord {
                id: 42,
                port: 4789,
                local: None,
                remote: Some("10.0.0.2".parse().unwrap()),
                group: None,
            }),
        }
    }

    fn begin() -> Entry {
        Entry::Begin {
            pid: 1,
            guest: "g".into(),
            args: vec![],
            time: 0,
            started: None,
        }
    }

    #[test]
    fn replay_follows_deletes_and_moves() {
        let entries = vec![
            create("a"),
            create("b"),
            link("a", "mv1"),
            Entry::AddrAdd {
                ns: "a".into(),
                link: "mv1".into(),
                index: Some(1 << 24),
                cidr: "10.0.0.1/24".into(),
            },
            Entry::LinkMove {
                from_ns: "a".into(),
                name: "mv1".into(),
                to_ns: "b".into(),
                new_name: "eth0".into(),
                index: Some(1 << 24),
                to_id: None,
            },
            Entry::NsDelete { ns: "a".into() },
        ];
        let objs = replay(&entries);
        assert_eq!(objs.len(), 2, "{objs:?}");
        assert!(matches!(&objs[1], Object::Link { ns, name, .. } if ns == "b" && name == "eth0"));
    }

    #[test]
    fn objects_carry_the_identity_their_run_recorded() {
        let b = NsIdent { id: 8, ..A };
        let entries = vec![
            begin(),
            Entry::NsOpen {
                ns: "up".into(),
                id: b,
            },
            link("up", "mv1"),
            Entry::End {
                outcome: RunOutcome::Committed,
            },
            // A later run that did not open "up" says nothing about it.
            begin(),
            link("up", "mv2"),
        ];
        let objs = replay(&entries);
        assert!(matches!(&objs[0], Object::Link { ns_id: Some(id), .. } if *id == b));
        assert!(matches!(&objs[1], Object::Link { ns_id: None, .. }));
    }

    #[test]
    fn changes_apply_to_recorded_links_under_their_current_names() {
        let set = |ns: &str, name: &str, change: &str| Entry::LinkSet {
            ns: ns.into(),
            name: name.into(),
            change: change.parse().unwrap(),
        };
        let entries = vec![
            create("a"),
            create("b"),
            set("a", "lo", "up"),
            link("a", "mv1"),
            set("a", "mv1", "mtu=1400"),
            Entry::LinkMove {
                from_ns: "a".into(),
                name: "mv1".into(),
                to_ns: "b".into(),
                new_name: "eth0".into(),
                index: None,
                to_id: None,
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
        let entries = vec![create("a"), create("taken"), Entry::Abort, link("a", "mv1")];
        let objs = replay(&entries);
        assert_eq!(objs.len(), 2);
        assert!(!objs.iter().any(|o| o.ns() == "taken"));
    }

    #[test]
    fn a_completed_rollback_cancels_its_run() {
        let entries = vec![
            begin(),
            create("kept"),
            Entry::End {
                outcome: RunOutcome::Committed,
            },
            begin(),
            create("undone"),
            link("kept", "mv1"),
            Entry::End {
                outcome: RunOutcome::RolledBack,
            },
        ];
        assert_eq!(
            replay(&entries),
            vec![Object::Ns {
                ns: "kept".into(),
                id: Some(A)
            }]
        );
    }

    #[test]
    fn programs_last_until_they_end_or_their_run_is_rolled_back() {
        let start = |cg: &str| Entry::ProcessStart {
            ns: "a".into(),
            cgroup: cg.into(),
            command: "/bin/sleep 9".into(),
        };
        let entries = vec![
            begin(),
            create("a"),
            start("netwasm/l/1-1"),
            Entry::ProcessPid {
                cgroup: "netwasm/l/1-1".into(),
                pid: 42,
                start: 7,
            },
            start("netwasm/l/1-2"),
            Entry::ProcessEnd {
                cgroup: "netwasm/l/1-2".into(),
            },
            start("netwasm/l/1-3"),
            Entry::Abort,
            Entry::End {
                outcome: RunOutcome::Committed,
            },
        ];
        let objs = replay(&entries);
        assert_eq!(objs.len(), 2, "{objs:?}");
        assert!(matches!(
            &objs[1],
            Object::Process {
                pid: Some(42),
                start: Some(7),
                ns_id: Some(_),
                ..
            }
        ));
        let mut rolled = entries[..4].to_vec();
        rolled.push(Entry::End {
            outcome: RunOutcome::RolledBack,
        });
        assert!(replay(&rolled).is_empty());
    }

    #[test]
    fn deleting_a_namespace_takes_veths_with_an_end_inside() {
        let entries = vec![
            create("a"),
            Entry::LinkAdd {
                ns: "up".into(),
                name: "v0".into(),
                index: None,
                kind: LinkKind::Veth,
                mode: None,
                parent: None,
                parent_ns: None,
                peer: Some("v1".into()),
                peer_ns: Some("a".into()),
                peer_index: None,
                vxlan: None,
            },
            Entry::NsDelete { ns: "a".into() },
        ];
        assert!(replay(&entries).is_empty());
    }

    #[test]
    fn a_vxlan_goes_with_its_device_and_with_its_tunnels_namespace() {
        let names = |objs: &[Object]| -> Vec<String> {
            objs.iter()
                .filter_map(|o| match o {
                    Object::Link { name, .. } => Some(name.clone()),
                    _ => None,
                })
                .collect()
        };
        let veth = |ns: &str, name: &str| Entry::LinkAdd {
            ns: ns.into(),
            name: name.into(),
            index: None,
            kind: LinkKind::Veth,
            mode: None,
            parent: None,
            parent_ns: None,
            peer: Some(format!("{name}p")),
            peer_ns: Some(ns.into()),
            peer_index: None,
            vxlan: None,
        };
        let moved = |name: &str| Entry::LinkMove {
            from_ns: "a".into(),
            name: name.into(),
            to_ns: "b".into(),
            new_name: name.into(),
            index: None,
            to_id: None,
        };
        let base = vec![
            create("a"),
            create("b"),
            veth("a", "u0"),
            vxlan("a", "vx0", Some("u0")),
        ];
        let objs = replay(&base);
        assert_eq!(names(&objs), ["u0", "vx0"]);
        assert_eq!(objs[3].describe(), "vxlan vx0 (vni 42) in a");
        // Deleting the device deletes the vxlan; so does moving it away
        // (a macvlan would follow its parent).
        let mut e = base.clone();
        e.push(Entry::LinkDelete {
            ns: "a".into(),
            name: "u0".into(),
        });
        assert_eq!(names(&replay(&e)), Vec::<String>::new());
        let mut e = base.clone();
        e.push(moved("u0"));
        assert_eq!(names(&replay(&e)), ["u0"]);
        // A vxlan moved elsewhere dies with the namespace of its tunnel.
        let mut e = vec![create("a"), create("b"), vxlan("a", "vx1", None)];
        e.push(moved("vx1"));
        assert_eq!(names(&replay(&e)), ["vx1"]);
        e.push(Entry::NsDelete { ns: "a".into() });
        assert_eq!(names(&replay(&e)), Vec::<String>::new());
    }

    #[test]
    fn a_route_delete_forgets_the_route_of_its_metric() {
        let route = |metric: u32, delete: bool| {
            let (ns, destination, gateway, dev, oif, metric) = (
                "up".to_string(),
                "fd00::/64".to_string(),
                Some("fd99::ff".to_string()),
                None,
                Some(7),
                Some(metric),
            );
            if delete {
                Entry::RouteDelete {
                    ns,
                    destination,
                    gateway,
                    dev,
                    oif,
                    metric,
                }
            } else {
                Entry::RouteAdd {
                    ns,
                    destination,
                    gateway,
                    dev,
                    oif,
                    metric,
                }
            }
        };
        let objs = replay(&[route(1024, false), route(200, false), route(1024, true)]);
        assert!(matches!(
            &objs[..],
            [Object::Route {
                metric: Some(200),
                ..
            }]
        ));
    }
}
