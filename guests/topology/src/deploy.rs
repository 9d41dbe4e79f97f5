//! Building a checked lab: every namespace at once, then links by kind
//! (bridges, veth pairs, macvlans parents first, vxlans), ports, link
//! settings, addresses, routes, and the expectations last.
//!
//! Single calls, not `batch.build`: a batch makes neither veth pairs nor
//! bridge ports, and a batch's macvlan needs its parent's namespace held
//! before the call, so the seed lab (veths to a switch, macvlans on a veth
//! end) would still need most steps one by one. The namespaces, which a
//! lab of many nodes spends most of its time on, are made concurrently
//! (`namespace.create-all`). A failed step fails the run, and netwasm
//! rolls back all the steps before it.

use std::collections::HashMap;

use netwasm_guest::{Error, Link, MacvlanMode, Namespace};

use crate::check::{At, Lab, Parent};
use crate::schema::{Kind, Mode};

/// A failed step, with the part of the file that asked for it.
pub struct StepError {
    pub at: At,
    pub error: Error,
}

trait Within<T> {
    fn at(self, at: &At) -> Result<T, StepError>;
}

impl<T> Within<T> for Result<T, Error> {
    fn at(self, at: &At) -> Result<T, StepError> {
        self.map_err(|error| StepError {
            at: at.clone(),
            error,
        })
    }
}

fn mode(m: Mode) -> MacvlanMode {
    match m {
        Mode::Private => MacvlanMode::Private,
        Mode::Vepa => MacvlanMode::Vepa,
        Mode::Bridge => MacvlanMode::Bridge,
        Mode::Passthru => MacvlanMode::Passthru,
        Mode::Source => MacvlanMode::Source,
    }
}

pub fn deploy(lab: &Lab) -> Result<(), StepError> {
    let names: Vec<&str> = lab.nodes.iter().map(|n| n.namespace.as_str()).collect();
    let whole = At {
        line: lab.nodes.first().map_or(1, |n| n.at.line),
        key: "topology.nodes".into(),
    };
    let ns = Namespace::create_all(&names).at(&whole)?;
    for (node, ns) in lab.nodes.iter().zip(&ns) {
        // As every lab script does: a namespace's lo starts down.
        ns.lo_up().at(&node.at)?;
        if let Some(on) = node.forwarding {
            ns.forwarding(on).at(&node.at)?;
        }
    }

    let mut links: HashMap<(usize, String), Link> = HashMap::new();
    for (ni, node) in lab.nodes.iter().enumerate() {
        for i in node.interfaces.iter().filter(|i| i.kind == Kind::Bridge) {
            let br = ns[ni].bridge(&i.name).at(&i.at)?;
            links.insert((ni, i.name.clone()), br);
        }
    }
    for v in &lab.veths {
        let (a, b) = ns[v.a.0].veth(&v.a.1, &ns[v.b.0], &v.b.1).at(&v.at)?;
        links.insert(v.a.clone(), a);
        links.insert(v.b.clone(), b);
    }
    // Macvlans whose parent is made, until none is left: a macvlan may be
    // the parent of another (the kernel puts the child on its own parent).
    let mut pending: Vec<(usize, usize)> = lab
        .nodes
        .iter()
        .enumerate()
        .flat_map(|(ni, n)| {
            n.interfaces
                .iter()
                .enumerate()
                .filter(|(_, i)| i.kind == Kind::Macvlan)
                .map(move |(ii, _)| (ni, ii))
        })
        .collect();
    // The machine's own namespace, opened for the first `host:LINK` parent
    // (the policy decides whether it may be: `[root] links`).
    let mut root: Option<Namespace> = None;
    let mut host_links: HashMap<String, Link> = HashMap::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for (ni, ii) in pending {
            let i = &lab.nodes[ni].interfaces[ii];
            let parent = i.parent.clone().expect("checked: a macvlan has a parent");
            let p = match &parent {
                Parent::Node(pi, pl) => match links.get(&(*pi, pl.clone())) {
                    Some(p) => p,
                    None => {
                        rest.push((ni, ii));
                        continue;
                    }
                },
                Parent::Host(pl) => {
                    if root.is_none() {
                        root = Some(Namespace::root().at(&i.at)?);
                    }
                    if !host_links.contains_key(pl) {
                        let ns = root.as_ref().expect("opened above");
                        host_links.insert(pl.clone(), ns.link(pl).at(&i.at)?);
                    }
                    &host_links[pl]
                }
            };
            let mut mv = p.macvlan(&i.name).in_namespace(&ns[ni]);
            if let Some(m) = i.mode {
                mv = mv.mode(mode(m));
            }
            let child = mv.create().at(&i.at)?;
            links.insert((ni, i.name.clone()), child);
        }
        if rest.len() == before {
            let (ni, ii) = rest[0];
            let i = &lab.nodes[ni].interfaces[ii];
            return Err(StepError {
                at: i.at.clone(),
                error: Error::msg("its parent is a macvlan whose own parents lead back to it"),
            });
        }
        pending = rest;
    }
    for (ni, node) in lab.nodes.iter().enumerate() {
        for i in &node.interfaces {
            let Some(vx) = &i.vxlan else { continue };
            let mut b = ns[ni].vxlan(&i.name, vx.id);
            if let Some(v) = &vx.remote {
                b = b.remote(v);
            }
            if let Some(v) = &vx.group {
                b = b.group(v);
            }
            if let Some(v) = &vx.local {
                b = b.local(v);
            }
            if let Some(v) = &vx.device {
                b = b.device(v);
            }
            if let Some(v) = vx.port {
                b = b.port(v);
            }
            if let Some(v) = vx.learning {
                b = b.learning(v);
            }
            if let Some(v) = vx.ttl {
                b = b.ttl(v);
            }
            let link = b.create().at(&i.at)?;
            links.insert((ni, i.name.clone()), link);
        }
    }

    let get =
        |ni: usize, name: &str, at: &At| -> Result<Link, StepError> { ns[ni].link(name).at(at) };
    for (ni, node) in lab.nodes.iter().enumerate() {
        for i in &node.interfaces {
            for port in &i.ports {
                let p = &links[&(ni, port.clone())];
                p.master(&links[&(ni, i.name.clone())]).at(&i.at)?;
            }
        }
    }
    for (ni, node) in lab.nodes.iter().enumerate() {
        for i in &node.interfaces {
            let link = match links.get(&(ni, i.name.clone())) {
                Some(l) => l,
                None => {
                    // lo, for its addresses.
                    let lo = get(ni, &i.name, &i.at)?;
                    for a in &i.addresses {
                        lo.addr(a).at(&i.at)?;
                    }
                    continue;
                }
            };
            if let Some(h) = i.hairpin {
                link.hairpin(h).at(&i.at)?;
            }
            if let Some(m) = i.mtu {
                link.mtu(m).at(&i.at)?;
            }
            if let Some(m) = &i.mac {
                link.mac(m).at(&i.at)?;
            }
            if i.up {
                link.up().at(&i.at)?;
            }
            for a in &i.addresses {
                link.addr(a).at(&i.at)?;
            }
        }
    }
    for (ni, node) in lab.nodes.iter().enumerate() {
        for r in &node.routes {
            let lo;
            let dev = match &r.dev {
                Some(d) => match links.get(&(ni, d.clone())) {
                    Some(l) => Some(l),
                    None => {
                        lo = get(ni, d, &r.at)?;
                        Some(&lo)
                    }
                },
                None => None,
            };
            let mut route = ns[ni].route(&r.to);
            if let Some(v) = &r.via {
                route = route.via(v);
            }
            if let Some(m) = r.metric {
                route = route.metric(m);
            }
            if let Some(d) = dev {
                route = route.dev(d);
            }
            route.add().at(&r.at)?;
        }
    }
    for e in &lab.expects {
        let from = &ns[e.from];
        if e.reachable {
            from.expect_reachable(&e.to, &e.label).at(&e.at)?;
        } else {
            from.expect_unreachable(&e.to, &e.label).at(&e.at)?;
        }
    }
    Ok(())
}
