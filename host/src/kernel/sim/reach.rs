//! Who a ping reaches: routing in each namespace, neighbour resolution over
//! a model of the L2 segments, forwarding through routers, and the reply.
//!
//! Frames are followed through the devices rather than matched against a
//! table of rules, so that the macvlan modes come out as the driver makes
//! them: a frame leaves a child through its parent's wire and comes back
//! only if something out there sends it back (a bridge port with hairpin
//! on); `macvlan_handle_frame` then sorts what came back by the sender's
//! mode. Bridges flood: learning is not modelled, which changes no answer
//! on a tree.
//!
//! A vxlan carries frames to the vxlans its packets reach: those of the
//! same VNI, port and address family whose tunnel's namespace is where its
//! `remote` is delivered over the underlay (followed as a packet is, from
//! the vxlan's tunnel namespace out of its device, if it has one). The
//! receiver's own `remote` plays no part, as in the kernel, which accepts
//! a VNI from any sender. Multicast groups are not modelled: a vxlan with
//! a `group` and no `remote` floods nowhere. Neither are its FDB (every
//! frame goes to the default remote) nor the underlay neighbour entries
//! its packets would leave; tunnels nest at most four deep.

use std::collections::HashSet;
use std::net::IpAddr;

use super::model::{Kind, LinkId, NeighEntry, NsKey, World};
use crate::vocab::MacvlanMode;

/// The TTL a ping starts with.
const TTL: u32 = 64;
/// The round trip a reachable simulated ping reports, in microseconds.
pub(super) const RTT_US: u32 = 50;
/// How many vxlans deep a frame is followed: a tunnel inside a tunnel
/// sends its packets through the outer one.
const TUNNEL_DEPTH: u32 = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    Broadcast,
    To(LinkId),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Step {
    Emit,
    Out,
    Rx,
    Stack,
}

struct Walk<'a> {
    w: &'a World,
    /// The link whose stack sent the frame.
    origin: LinkId,
    frame: Frame,
    seen: HashSet<(Step, LinkId)>,
    got: HashSet<LinkId>,
    /// How many tunnels the frame is inside.
    depth: u32,
}

impl Walk<'_> {
    fn first(&mut self, step: Step, id: LinkId) -> bool {
        self.seen.insert((step, id)) && self.w.oper_up(id)
    }

    /// `id`'s stack (or a bridge forwarding out of it) sends the frame.
    fn emit(&mut self, id: LinkId) {
        if !self.first(Step::Emit, id) {
            return;
        }
        let Kind::Macvlan { parent, mode } = self.w.link(id).kind else {
            return self.out(id);
        };
        if mode == MacvlanMode::Bridge {
            // macvlan_queue_xmit: bridge-mode siblings get it directly.
            for &sib in &self.w.link(parent).children {
                if sib == id || !self.w.oper_up(sib) {
                    continue;
                }
                let bridged = matches!(
                    self.w.link(sib).kind,
                    Kind::Macvlan {
                        mode: MacvlanMode::Bridge,
                        ..
                    }
                );
                match self.frame {
                    Frame::Broadcast if bridged => {
                        self.got.insert(sib);
                    }
                    Frame::To(t) if t == sib && bridged => {
                        self.got.insert(sib);
                        return;
                    }
                    _ => {}
                }
            }
        }
        self.out(parent);
    }

    /// `id` puts the frame on its wire.
    fn out(&mut self, id: LinkId) {
        if !self.first(Step::Out, id) {
            return;
        }
        let l = self.w.link(id);
        match l.kind {
            Kind::Veth { peer } => self.rx(peer),
            Kind::Bridge => {
                for &p in &l.ports {
                    self.out(p);
                }
            }
            Kind::Macvlan { .. } => self.emit(id),
            Kind::Vxlan(_) => {
                for far in self.w.tunnel_ends(id, self.depth) {
                    self.rx(far);
                }
            }
            Kind::Physical | Kind::Loopback => {}
        }
    }

    /// `id` takes the frame off its wire.
    fn rx(&mut self, id: LinkId) {
        if !self.first(Step::Rx, id) {
            return;
        }
        let l = self.w.link(id);
        let Some(br) = l.master else {
            return self.stack(id);
        };
        if self.w.oper_up(br) {
            self.stack(br);
        }
        // Hairpin: back out of the port it came in by. A link already
        // sent out of in this walk adds no receiver, so `out` stops there.
        for &p in &self.w.link(br).ports {
            if p != id || l.hairpin {
                self.out(p);
            }
        }
    }

    /// The frame reaches `id` from below: its macvlan children, if it has
    /// any, sort it (`macvlan_handle_frame`), then its IP stack.
    fn stack(&mut self, id: LinkId) {
        if !self.first(Step::Stack, id) {
            return;
        }
        let l = self.w.link(id);
        if l.children.is_empty() {
            self.got.insert(id);
            return;
        }
        let mode_of = |c: LinkId| match self.w.link(c).kind {
            Kind::Macvlan { mode, .. } => mode,
            _ => MacvlanMode::Source,
        };
        let from_child = l
            .children
            .contains(&self.origin)
            .then(|| mode_of(self.origin));
        let children: Vec<LinkId> = l
            .children
            .iter()
            .copied()
            .filter(|c| self.w.oper_up(*c) && mode_of(*c) != MacvlanMode::Source)
            .collect();
        match self.frame {
            Frame::Broadcast => {
                use MacvlanMode::*;
                let to: &[MacvlanMode] = match from_child {
                    // Back to the sender alone, and consumed.
                    Some(Private | Passthru | Source) => return,
                    Some(Vepa) => &[Vepa, Bridge],
                    // Bridge-mode siblings saw it on the way out.
                    Some(Bridge) => &[Vepa],
                    None => &[Private, Vepa, Bridge, Passthru],
                };
                for c in children {
                    if c != self.origin && to.contains(&mode_of(c)) {
                        self.got.insert(c);
                    }
                }
                self.got.insert(id);
            }
            Frame::To(t) => {
                let passthru = children
                    .iter()
                    .any(|c| mode_of(*c) == MacvlanMode::Passthru);
                if children.contains(&t) {
                    self.got.insert(t);
                } else if !passthru {
                    self.got.insert(id);
                }
            }
        }
    }
}

impl World {
    /// The links whose stacks get a frame that `from`'s stack sends from
    /// inside `depth` tunnels.
    fn hear_at(&self, from: LinkId, frame: Frame, depth: u32) -> HashSet<LinkId> {
        let mut walk = Walk {
            w: self,
            origin: from,
            frame,
            seen: HashSet::new(),
            got: HashSet::new(),
            depth,
        };
        walk.emit(from);
        walk.got
    }

    /// The vxlans that a frame sent out of vxlan `id` reaches, inside a
    /// tunnel `depth` tunnels deep (see the module's comment).
    fn tunnel_ends(&self, id: LinkId, depth: u32) -> Vec<LinkId> {
        let Kind::Vxlan(t) = self.link(id).kind else {
            return Vec::new();
        };
        let Some(remote) = t.remote else {
            return Vec::new();
        };
        if depth >= TUNNEL_DEPTH {
            return Vec::new();
        }
        let Some(there) = self.carry(t.underlay, remote, t.device, depth + 1) else {
            return Vec::new();
        };
        self.vxlans
            .iter()
            .copied()
            .filter(|o| *o != id && self.oper_up(*o))
            .filter(|o| {
                matches!(self.link(*o).kind, Kind::Vxlan(u)
                    if u.underlay == there && u.id == t.id && u.port == t.port && u.v6() == t.v6())
            })
            .collect()
    }

    /// Where a packet from `ns` to `dst` (out of `dev`, if given) is
    /// delivered, as [`World::deliver`] finds it but without learning
    /// neighbours: a tunnel's packets, followed while a frame is.
    fn carry(&self, mut ns: NsKey, dst: IpAddr, dev: Option<LinkId>, depth: u32) -> Option<NsKey> {
        let mut dev = dev;
        for _ in 0..TTL {
            if self.is_local(ns, &dst).is_some() {
                return Some(ns);
            }
            let (hop, out) = self
                .lookup(ns, &dst, dev.take(), false)
                .map(|r| (r.gw.unwrap_or(dst), r.dev))?;
            let (answered, _) = self.answerer(out, hop, depth)?;
            let next = self.link(answered).ns;
            if self.is_local(next, &dst).is_some() {
                return Some(next);
            }
            if !self.ns(next).forwarding {
                return None;
            }
            ns = next;
        }
        None
    }

    /// The address `out` sends from in family of `to` (`inet_select_addr`,
    /// roughly): the route's preferred source, an address of the link, or
    /// any global one of the namespace.
    fn source_addr(
        &self,
        ns: NsKey,
        out: LinkId,
        preferred: Option<IpAddr>,
        to: &IpAddr,
    ) -> Option<IpAddr> {
        if preferred.is_some() {
            return preferred;
        }
        let fits =
            |a: &super::model::Addr| a.cidr.addr.is_ipv4() == to.is_ipv4() && a.scope == "global";
        if let Some(a) = self.link(out).addrs.iter().find(|a| fits(a)) {
            return Some(a.cidr.addr);
        }
        let mut ids: Vec<LinkId> = self.ns(ns).by_index.values().copied().collect();
        ids.sort_unstable();
        ids.into_iter()
            .filter(|id| self.link(*id).up)
            .find_map(|id| {
                self.link(id)
                    .addrs
                    .iter()
                    .find(|a| fits(a))
                    .map(|a| a.cidr.addr)
            })
    }

    /// ARP or NDP for `hop` out of `out`: the link that answers, once the
    /// request reaches it and the answer and the packet can cross, and
    /// what the two namespaces learn.
    fn resolve(&mut self, out: LinkId, hop: IpAddr) -> Option<LinkId> {
        let (r, asked) = self.answerer(out, hop, 0)?;
        if asked {
            let ons = self.link(out).ns;
            let rns = self.link(r).ns;
            self.learn(ons, out, hop, r, "reachable");
            if let Some(from) = self.source_addr(ons, out, None, &hop) {
                self.learn(rns, r, from, out, "stale");
            }
        }
        Some(r)
    }

    /// The link that answers for `hop` out of `out`, and whether it had to
    /// be asked (rather than known from the neighbour table).
    fn answerer(&self, out: LinkId, hop: IpAddr, depth: u32) -> Option<(LinkId, bool)> {
        let crosses = |w: &World, r: LinkId| {
            w.hear_at(r, Frame::To(out), depth).contains(&out)
                && w.hear_at(out, Frame::To(r), depth).contains(&r)
        };
        // What the namespace learnt, from an answer or from a request it
        // got, it uses without asking: a unicast may pass where the
        // broadcast would not (a private macvlan's).
        let ons = self.link(out).ns;
        let known = self
            .ns(ons)
            .neigh
            .iter()
            .find(|e| e.dev == out && e.ip == hop);
        if let Some(peer) = known.map(|e| e.peer)
            && self.links.contains_key(&peer)
            && self.is_local(self.link(peer).ns, &hop).is_some()
            && crosses(self, peer)
        {
            return Some((peer, false));
        }
        let mut heard: Vec<LinkId> = self
            .hear_at(out, Frame::Broadcast, depth)
            .into_iter()
            .collect();
        heard.sort_unstable();
        let answers = |w: &World, r: LinkId| {
            let l = w.link(r);
            if hop.is_ipv4() {
                // arp_ignore 0: any address of the namespace.
                w.is_local(l.ns, &hop).is_some()
            } else {
                // NDP answers only for the receiving link's own addresses.
                l.addrs.iter().any(|a| a.cidr.addr == hop)
            }
        };
        heard
            .into_iter()
            .filter(|r| *r != out && answers(self, *r))
            .find(|r| crosses(self, *r))
            .map(|r| (r, true))
    }

    fn learn(&mut self, ns: NsKey, dev: LinkId, ip: IpAddr, peer: LinkId, state: &'static str) {
        let mac = self.link(peer).mac;
        let n = self.ns_mut(ns);
        let entry = NeighEntry {
            dev,
            peer,
            ip,
            mac,
            state,
        };
        match n.neigh.iter_mut().find(|e| e.dev == dev && e.ip == ip) {
            // A request only refreshes what an answer confirmed.
            Some(e) if state == "stale" && e.state == "reachable" && e.peer == peer => {}
            Some(e) => *e = entry,
            None => n.neigh.push(entry),
        }
    }

    /// Carries a packet for `dst` from namespace `ns`: the namespace it is
    /// delivered in, if any.
    fn deliver(&mut self, mut ns: NsKey, dst: IpAddr) -> Option<NsKey> {
        for _ in 0..TTL {
            if self.is_local(ns, &dst).is_some() {
                return Some(ns);
            }
            let (hop, out) = self
                .lookup(ns, &dst, None, false)
                .map(|r| (r.gw.unwrap_or(dst), r.dev))?;
            let answered = self.resolve(out, hop)?;
            let next = self.link(answered).ns;
            if self.is_local(next, &dst).is_some() {
                return Some(next);
            }
            if !self.ns(next).forwarding {
                return None;
            }
            ns = next;
        }
        None
    }

    /// Whether an echo from `ns` to `to` comes back; ENETUNREACH when `ns`
    /// has no route to send it by, as `sendto` says.
    pub fn echo(&mut self, ns: NsKey, to: IpAddr) -> std::io::Result<bool> {
        if self.is_local(ns, &to).is_some() {
            let lo = self.ns_lo(ns);
            return Ok(self.link(lo).up);
        }
        let Some(r) = self.lookup(ns, &to, None, false) else {
            return Err(super::model::errno(libc::ENETUNREACH));
        };
        let (out, preferred) = (r.dev, r.source);
        let Some(src) = self.source_addr(ns, out, preferred, &to) else {
            return Ok(false);
        };
        let Some(there) = self.deliver(ns, to) else {
            return Ok(false);
        };
        Ok(self.deliver(there, src) == Some(ns))
    }
}
