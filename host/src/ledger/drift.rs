//! Drift: where the kernel no longer matches what a lab's ledger recorded.
//! (`inspect::committed` compares every property with the lab as its last
//! run committed it.)

use std::collections::HashMap;

use crate::kernel::{Kernel, process};
use crate::vocab::net::{Cidr, parse_destination};
use crate::vocab::{LinkInfo, LinkKind, NsId};

use super::replay::Object;

/// A recorded program of which nothing runs any more: it exited (or was
/// killed) while the lab is up, and the lab no longer does what it did.
/// One that exited but left what it started running (a daemon that
/// forks into the background) still does its work: no drift.
fn program_drift(obj: &Object, cgroup: &str, pid: Option<(u32, u64)>) -> Option<String> {
    let left = process::Cgroup::at(cgroup)
        .map(|c| c.members().len())
        .unwrap_or(0);
    match pid {
        Some((p, t)) if process::alive(p, t) => None,
        Some(_) if left > 0 => None,
        Some(_) => Some(format!("{} has exited", obj.describe())),
        None if left > 0 => None,
        None => Some(format!(
            "{} never started: the run died while starting it",
            obj.describe()
        )),
    }
}

/// Compares every recorded object with the kernel; returns one line per
/// difference, naming the object and what differs. A namespace whose name
/// now denotes another namespace is reported as replaced, and nothing
/// recorded in it is compared with the impostor.
pub async fn check(kernel: &dyn Kernel, objects: &[Object]) -> Vec<String> {
    check_objects(kernel, objects, Props::Recorded).await
}

/// Which link properties the journal's check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Props {
    /// Those the journal records (what the lab set).
    Recorded,
    /// None: the caller compares them all with the lab as committed.
    Snapshot,
}

/// What [`check`] says of the objects themselves — missing, replaced,
/// of another kind — and of their addresses, routes and programs, without
/// comparing link properties: for a caller that compares every property
/// with the lab as it was committed (`inspect::committed`).
pub async fn check_presence(kernel: &dyn Kernel, objects: &[Object]) -> Vec<String> {
    check_objects(kernel, objects, Props::Snapshot).await
}

async fn check_objects(kernel: &dyn Kernel, objects: &[Object], compared: Props) -> Vec<String> {
    let mut out = Vec::new();
    // Per (namespace name, recorded identity): the namespace, if it is
    // still the one recorded.
    let mut open: HashMap<(String, Option<crate::vocab::NsIdent>), Option<NsId>> = HashMap::new();
    let mut links: HashMap<NsId, Vec<LinkInfo>> = HashMap::new();
    for obj in objects {
        if let Object::Process {
            cgroup, pid, start, ..
        } = obj
        {
            out.extend(program_drift(obj, cgroup, pid.zip(*start)));
            continue;
        }
        let ns = obj.ns().to_string();
        let key = (ns.clone(), obj.ns_id());
        if !open.contains_key(&key) {
            let found = if kernel.ns_exists(&ns) {
                kernel.ns_open(&ns).await.ok()
            } else {
                None
            };
            let id = match (found, obj.ns_id()) {
                (None, _) => {
                    out.push(format!("namespace {ns} is missing"));
                    None
                }
                (Some((id, now)), Some(recorded)) if !now.same(&recorded) => {
                    kernel.ns_close(id);
                    out.push(format!(
                        "namespace {ns} was replaced: the name now denotes another namespace ({now}, recorded {recorded})"
                    ));
                    None
                }
                (Some((id, _)), recorded) => {
                    if recorded.is_none() && matches!(obj, Object::Ns { .. }) {
                        out.push(format!(
                            "namespace {ns} was recorded without its kernel identity (an old journal): it cannot be told from a namespace someone else made under that name"
                        ));
                    }
                    links.insert(id, kernel.link_list(id).await.unwrap_or_default());
                    Some(id)
                }
            };
            open.insert(key.clone(), id);
        }
        let Some(id) = open[&key] else { continue };
        let here = &links[&id];
        match obj {
            Object::Ns { .. } => {}
            Object::Link {
                name,
                index,
                kind,
                mode,
                vxlan,
                props,
                ..
            } => {
                let by_index = index.and_then(|i| here.iter().find(|l| l.index == i));
                let l = match (index, by_index) {
                    (Some(_), Some(l)) if &l.name != name => {
                        out.push(format!(
                            "{} was replaced: its interface index {} is {} now",
                            obj.describe(),
                            l.index,
                            l.name
                        ));
                        continue;
                    }
                    (Some(_), Some(l)) => l,
                    (Some(i), None) => {
                        match here.iter().find(|l| &l.name == name) {
                            Some(other) => out.push(format!(
                                "{} was replaced: {name} is interface {} now, not {i}",
                                obj.describe(),
                                other.index
                            )),
                            None => out.push(format!("{} is missing", obj.describe())),
                        }
                        continue;
                    }
                    (None, _) => match here.iter().find(|l| &l.name == name) {
                        Some(l) => l,
                        None => {
                            out.push(format!("{} is missing", obj.describe()));
                            continue;
                        }
                    },
                };
                if l.kind.as_deref() != Some(kind.as_str()) {
                    out.push(format!(
                        "{} is now of kind {}",
                        obj.describe(),
                        l.kind.as_deref().unwrap_or("none")
                    ));
                }
                if compared == Props::Snapshot {
                    continue;
                }
                // Only a macvlan has a mode to drift (a journal can record
                // one for any kind; it means nothing on the others).
                if let (Some(m), LinkKind::Macvlan) = (mode, kind) {
                    let now = l.macvlan_mode.map(|m| m.as_str()).unwrap_or("none");
                    if l.macvlan_mode != Some(*m) {
                        out.push(format!(
                            "{}: macvlan mode is {now}, recorded {m}",
                            obj.describe()
                        ));
                    }
                }
                // A tunnel cannot be changed in place through netwasm;
                // one that differs was remade or changed by someone else.
                if let Some(v) = vxlan {
                    let now = l.vxlan.as_ref().map(|n| super::VxlanRecord {
                        id: n.id,
                        port: n.port,
                        local: n.local,
                        remote: n.remote,
                        group: n.group,
                    });
                    if now.as_ref() != Some(v) {
                        out.push(format!(
                            "{}: tunnel is {}, recorded {v}",
                            obj.describe(),
                            now.map_or("none".to_string(), |n| n.to_string())
                        ));
                    }
                }
                if let Some(up) = props.admin_up
                    && l.admin_up != up
                {
                    {
                        let s = |b: bool| if b { "up" } else { "down" };
                        out.push(format!(
                            "{}: is {}, recorded {}",
                            obj.describe(),
                            s(l.admin_up),
                            s(up)
                        ));
                    }
                }
                if let Some(mtu) = props.mtu
                    && l.mtu != mtu
                {
                    {
                        out.push(format!(
                            "{}: mtu is {}, recorded {mtu}",
                            obj.describe(),
                            l.mtu
                        ));
                    }
                }
                if let Some(mac) = &props.mac {
                    let now = l.mac.map(|m| m.to_string()).unwrap_or_default();
                    if &now != mac {
                        out.push(format!("{}: MAC is {now}, recorded {mac}", obj.describe()));
                    }
                }
                if let Some(master) = &props.master
                    && &l.master != master
                {
                    {
                        out.push(format!(
                            "{}: master is {}, recorded {}",
                            obj.describe(),
                            l.master.as_deref().unwrap_or("none"),
                            master.as_deref().unwrap_or("none")
                        ));
                    }
                }
            }
            Object::Addr { link, cidr, .. } => {
                let Some(l) = here.iter().find(|l| &l.name == link) else {
                    out.push(format!("{}: link {link} is missing", obj.describe()));
                    continue;
                };
                let want = Cidr::parse(cidr, "address", false).ok();
                let have = kernel
                    .addr_list(id, Some(l.index))
                    .await
                    .unwrap_or_default();
                if !have.iter().any(|a| Some(a.cidr) == want) {
                    let now: Vec<String> = have
                        .iter()
                        .filter(|a| a.scope == "global")
                        .map(|a| a.cidr.to_string())
                        .collect();
                    out.push(format!(
                        "{} is missing (the link has {})",
                        obj.describe(),
                        if now.is_empty() {
                            "no global addresses".to_string()
                        } else {
                            now.join(", ")
                        }
                    ));
                }
            }
            Object::Route {
                destination,
                gateway,
                oif,
                metric,
                ..
            } => {
                let gw = gateway.as_deref().and_then(|g| g.parse().ok());
                let want =
                    parse_destination(destination, matches!(gw, Some(std::net::IpAddr::V6(_))))
                        .ok();
                let have = kernel.route_list(id).await.unwrap_or_default();
                // The whole key, as `down` would delete it: output link and
                // metric where recorded, and netwasm's protocol.
                let same_key = |r: &crate::vocab::RouteInfo| {
                    Some(r.destination) == want
                        && r.gateway == gw
                        && oif.is_none_or(|i| r.dev_index == Some(i))
                        && metric.is_none_or(|m| r.metric.unwrap_or(0) == m)
                };
                let ours = |r: &crate::vocab::RouteInfo| {
                    obj.ns_id().is_none() || r.proto == crate::vocab::NETWASM_PROTO
                };
                match have.iter().find(|r| same_key(r)) {
                    None => out.push(format!("{} is missing", obj.describe())),
                    Some(r) if !ours(r) => out.push(format!(
                        "{} was replaced: a route of that key is someone else's (protocol {})",
                        obj.describe(),
                        r.protocol
                    )),
                    Some(_) => {}
                }
            }
            Object::Process { .. } => {}
        }
    }
    for id in open.into_values().flatten() {
        kernel.ns_close(id);
    }
    out
}
