//! Drift: where the kernel no longer matches what a lab's ledger recorded.

use std::collections::HashMap;

use crate::kernel::{Kernel, LinkInfo, NsId};
use crate::net::{Cidr, parse_destination};

use super::undo::Object;

/// Compares every recorded object with the kernel; returns one line per
/// difference, naming the object and what differs.
pub async fn check(kernel: &dyn Kernel, objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    let mut open: HashMap<String, Option<NsId>> = HashMap::new();
    let mut links: HashMap<String, Vec<LinkInfo>> = HashMap::new();
    for obj in objects {
        let ns = obj.ns().to_string();
        if !open.contains_key(&ns) {
            let id = if kernel.ns_exists(&ns) {
                kernel.ns_open(&ns).await.ok()
            } else {
                None
            };
            if id.is_none() {
                out.push(format!("namespace {ns} is missing"));
            }
            if let Some(id) = id {
                links.insert(ns.clone(), kernel.link_list(id).await.unwrap_or_default());
            }
            open.insert(ns.clone(), id);
        }
        let Some(id) = open[&ns] else { continue };
        let here = &links[&ns];
        match obj {
            Object::Ns { .. } => {}
            Object::Link {
                name,
                kind,
                mode,
                props,
                ..
            } => {
                let Some(l) = here.iter().find(|l| &l.name == name) else {
                    out.push(format!("{} is missing", obj.describe()));
                    continue;
                };
                if l.kind.as_deref() != Some(kind.as_str()) {
                    out.push(format!(
                        "{} is now of kind {}",
                        obj.describe(),
                        l.kind.as_deref().unwrap_or("none")
                    ));
                }
                if let Some(m) = mode {
                    let now = l.macvlan_mode.map(|m| m.as_str()).unwrap_or("none");
                    if now != m {
                        out.push(format!(
                            "{}: macvlan mode is {now}, recorded {m}",
                            obj.describe()
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
                ..
            } => {
                let gw = gateway.as_deref().and_then(|g| g.parse().ok());
                let want =
                    parse_destination(destination, matches!(gw, Some(std::net::IpAddr::V6(_))))
                        .ok();
                let have = kernel.route_list(id).await.unwrap_or_default();
                if !have
                    .iter()
                    .any(|r| Some(r.destination) == want && r.gateway == gw)
                {
                    out.push(format!("{} is missing", obj.describe()));
                }
            }
        }
    }
    for id in open.into_values().flatten() {
        kernel.ns_close(id);
    }
    out
}
