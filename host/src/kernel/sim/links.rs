//! Link operations as rtnetlink answers them: creation, changes, moves and
//! deletion, with the kernel's errnos.

use std::io;

use super::model::{Addr, Kind, LinkId, NsKey, Tunnel, World, errno};
use crate::kernel::refused;
use crate::vocab::net::Mac;
use crate::vocab::{LinkChange, LinkInfo, MacvlanMode, NewLink, NewLinkKind, NsId, VNI_MAX, Vxlan};

/// `dev_valid_name`: what the kernel refuses with EINVAL.
fn check_name(name: &str) -> io::Result<()> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.chars().any(char::is_whitespace);
    if bad {
        return Err(errno(libc::EINVAL));
    }
    Ok(())
}

/// `dev_validate_mtu` with the limits of veth, bridge and macvlan.
fn check_mtu(mtu: u32) -> io::Result<()> {
    if mtu < 68 {
        return Err(refused(libc::EINVAL, Some("mtu less than device minimum")));
    }
    if mtu > 65535 {
        return Err(refused(
            libc::EINVAL,
            Some("mtu greater than device maximum"),
        ));
    }
    Ok(())
}

/// The drivers' `validate`: a given address must be a valid unicast one.
fn check_mac(mac: &Mac) -> io::Result<()> {
    if mac.0[0] & 1 == 1 || mac.0 == [0; 6] {
        return Err(errno(libc::EADDRNOTAVAIL));
    }
    Ok(())
}

impl World {
    fn check_free(&self, ns: NsKey, name: &str, index: Option<u32>) -> io::Result<()> {
        let n = self.ns(ns);
        if n.by_name.contains_key(name) || index.is_some_and(|i| n.by_index.contains_key(&i)) {
            return Err(errno(libc::EEXIST));
        }
        Ok(())
    }

    pub fn link_add(&mut self, nl: &NewLink) -> io::Result<Vec<LinkInfo>> {
        let target = self.ns_of(nl.ns)?;
        let target_name = self.handle_name(nl.ns).unwrap_or_default().to_string();
        check_name(&nl.name)?;
        if let Some(m) = &nl.mac {
            check_mac(m)?;
        }
        if let Some(mtu) = nl.mtu {
            check_mtu(mtu)?;
        }
        let mut out = Vec::new();
        match &nl.kind {
            NewLinkKind::Bridge => {
                self.check_free(target, &nl.name, nl.index)?;
                let mac = nl.mac.unwrap_or_else(|| self.random_mac());
                let id = self.insert_link(
                    target,
                    nl.index,
                    &nl.name,
                    Kind::Bridge,
                    mac,
                    nl.mtu.unwrap_or(1500),
                );
                self.set_up(id, nl.up);
                out.push(self.info(id, &target_name, false, None));
            }
            NewLinkKind::Veth {
                peer_name,
                peer_ns,
                peer_index,
            } => {
                let pns = self.ns_of(*peer_ns)?;
                let pns_name = self.handle_name(*peer_ns).unwrap_or_default().to_string();
                check_name(peer_name)?;
                self.check_free(target, &nl.name, nl.index)?;
                self.check_free(pns, peer_name, *peer_index)?;
                if pns == target
                    && (*peer_name == nl.name || (nl.index.is_some() && nl.index == *peer_index))
                {
                    return Err(errno(libc::EEXIST));
                }
                let mac = nl.mac.unwrap_or_else(|| self.random_mac());
                let peer_mac = self.random_mac();
                let mtu = nl.mtu.unwrap_or(1500);
                // The peer's id is known before it exists: ids are sequential.
                let a =
                    self.insert_link(target, nl.index, &nl.name, Kind::Veth { peer: 0 }, mac, mtu);
                let b = self.insert_link(
                    pns,
                    *peer_index,
                    peer_name,
                    Kind::Veth { peer: a },
                    peer_mac,
                    1500,
                );
                self.link_mut(a).kind = Kind::Veth { peer: b };
                self.set_up(a, nl.up);
                out.push(self.info(a, &target_name, false, None));
                out.push(self.info(b, &pns_name, false, None));
            }
            NewLinkKind::Macvlan {
                parent_ns,
                parent,
                mode,
            } => {
                let pns = self.ns_of(*parent_ns)?;
                let via = self.handle_name(*parent_ns).unwrap_or_default().to_string();
                let given = self.link_at(pns, *parent)?;
                // A macvlan on a macvlan sits on the real device.
                let lower = self.lower(given);
                let mode = mode.unwrap_or(MacvlanMode::Vepa);
                let low = self.link(lower);
                // In macvlan_common_newlink's order.
                if nl.mtu.is_some_and(|m| m > low.mtu) {
                    return Err(errno(libc::EINVAL));
                }
                if low.kind == Kind::Loopback {
                    return Err(errno(libc::EINVAL));
                }
                // Its rx handler is the bridge's: macvlan cannot take it.
                if low.master.is_some() {
                    return Err(errno(libc::EBUSY));
                }
                // A passthru child is its parent's only one: look at the first.
                let passthru_child = low.children.first().is_some_and(|c| {
                    matches!(
                        self.link(*c).kind,
                        Kind::Macvlan {
                            mode: MacvlanMode::Passthru,
                            ..
                        }
                    )
                });
                if passthru_child || (mode == MacvlanMode::Passthru && !low.children.is_empty()) {
                    return Err(errno(libc::EINVAL));
                }
                self.check_free(target, &nl.name, nl.index)?;
                let (low_mtu, low_mac) = (low.mtu, low.mac);
                let mac = if mode == MacvlanMode::Passthru {
                    low_mac
                } else {
                    nl.mac.unwrap_or_else(|| self.random_mac())
                };
                let id = self.insert_link(
                    target,
                    nl.index,
                    &nl.name,
                    Kind::Macvlan {
                        parent: lower,
                        mode,
                    },
                    mac,
                    nl.mtu.unwrap_or(low_mtu),
                );
                self.link_mut(lower).children.push(id);
                self.set_up(id, nl.up);
                out.push(self.info(id, &target_name, false, Some(&via)));
            }
            NewLinkKind::Vxlan(v) => {
                let t = self.check_vxlan(target, v)?;
                self.check_free(target, &nl.name, nl.index)?;
                // vxlan_config_apply: the device's MTU less the headroom,
                // which also caps a given one (silently).
                let max = match t.device {
                    Some(d) => self.link(d).mtu.saturating_sub(t.headroom()).max(68),
                    None => 65535,
                };
                let mtu = match (nl.mtu, t.device) {
                    (Some(m), _) => m.min(max),
                    (None, Some(_)) => max,
                    (None, None) => 1500,
                };
                let mac = nl.mac.unwrap_or_else(|| self.random_mac());
                let id = self.insert_link(target, nl.index, &nl.name, Kind::Vxlan(t), mac, mtu);
                self.vxlans.insert(id);
                self.set_up(id, nl.up);
                out.push(self.info(id, &target_name, false, None));
            }
        }
        Ok(out)
    }

    /// `vxlan_validate` and `vxlan_config_validate`, in their order, with
    /// their extended-ACK messages. (Not modelled: IPv6 link-local scopes,
    /// GPE, metadata mode.)
    fn check_vxlan(&self, ns: NsKey, v: &Vxlan) -> io::Result<Tunnel> {
        if v.id > VNI_MAX {
            return Err(refused(
                libc::ERANGE,
                Some("VXLAN ID must be lower than 16777216"),
            ));
        }
        let dest = v.remote.or(v.group);
        if let (Some(l), Some(d)) = (v.local, dest)
            && l.is_ipv4() != d.is_ipv4()
        {
            return Err(refused(
                libc::EINVAL,
                Some("Local and remote address must be from the same family"),
            ));
        }
        if v.local.is_some_and(|l| l.is_multicast()) {
            return Err(refused(
                libc::EINVAL,
                Some("Local address cannot be multicast"),
            ));
        }
        let device = match v.device {
            Some(i) => Some(self.link_at(ns, i).map_err(|_| {
                refused(
                    libc::ENODEV,
                    Some("Invalid local interface, device not found"),
                )
            })?),
            None if dest.is_some_and(|d| d.is_multicast()) => {
                return Err(refused(
                    libc::EINVAL,
                    Some("Local interface required for multicast remote destination"),
                ));
            }
            None => None,
        };
        let t = Tunnel {
            id: v.id,
            local: v.local,
            remote: dest.filter(|d| !d.is_multicast()),
            group: dest.filter(|d| d.is_multicast()),
            device,
            underlay: ns,
            // No IFLA_VXLAN_PORT is the module's default port.
            port: if v.port == 0 { 8472 } else { v.port },
            learning: v.learning,
            ttl: v.ttl,
        };
        let clash = self.vxlans.iter().any(|o| {
            matches!(self.link(*o).kind, Kind::Vxlan(u)
                if u.underlay == ns && u.id == t.id && u.port == t.port && u.v6() == t.v6())
        });
        if clash {
            return Err(refused(
                libc::EEXIST,
                Some("A VXLAN device with the specified VNI already exists"),
            ));
        }
        Ok(t)
    }

    pub fn link_get(&self, h: NsId, id: LinkId) -> LinkInfo {
        self.info(id, self.handle_name(h).unwrap_or_default(), true, None)
    }

    pub fn link_by_name(&self, h: NsId, name: &str) -> io::Result<LinkInfo> {
        let ns = self.ns_of(h)?;
        let id = self
            .ns(ns)
            .by_name
            .get(name)
            .copied()
            .ok_or(errno(libc::ENODEV))?;
        Ok(self.link_get(h, id))
    }

    pub fn link_list(&self, h: NsId) -> io::Result<Vec<LinkInfo>> {
        let ns = self.ns_of(h)?;
        let mut out: Vec<LinkInfo> = self
            .ns(ns)
            .by_index
            .values()
            .map(|id| self.link_get(h, *id))
            .collect();
        out.sort_by_key(|l| l.index);
        Ok(out)
    }

    /// Brings a link up or down with what follows in the kernel: lo's
    /// loopback addresses on up; IPv4 prefix routes come back on up; on
    /// down every route through it goes, and so do its IPv6 addresses
    /// (`keep_addr_on_down` is 0) and its neighbours.
    pub fn set_up(&mut self, id: LinkId, on: bool) {
        let l = self.link(id);
        if l.up == on {
            return;
        }
        let ns = l.ns;
        self.link_mut(id).up = on;
        if on {
            if self.link(id).kind == Kind::Loopback {
                for (a, p) in [("127.0.0.1", 8), ("::1", 128)] {
                    let cidr = crate::vocab::net::Cidr::new(a.parse().unwrap(), p);
                    let l = self.link_mut(id);
                    if !l.addrs.iter().any(|x| x.cidr == cidr) {
                        l.addrs.push(Addr {
                            cidr,
                            proto: 0,
                            scope: "host",
                        });
                        self.add_prefix_route(id, cidr);
                    }
                }
            }
            let v4: Vec<_> = self
                .link(id)
                .addrs
                .iter()
                .filter(|a| a.cidr.addr.is_ipv4())
                .map(|a| a.cidr)
                .collect();
            for cidr in v4 {
                self.add_prefix_route(id, cidr);
            }
            self.settle_link_local(id);
        } else {
            self.link_mut(id).link_local = false;
            let n = self.ns_mut(ns);
            n.routes.retain(|r| r.dev != id);
            n.neigh.retain(|x| x.dev != id);
            self.link_mut(id).addrs.retain(|a| a.cidr.addr.is_ipv4());
        }
    }

    pub fn link_set(&mut self, h: NsId, index: u32, change: &LinkChange) -> io::Result<()> {
        let ns = self.ns_of(h)?;
        let id = self.link_at(ns, index)?;
        match change {
            LinkChange::Up => self.set_up(id, true),
            LinkChange::Down => self.set_up(id, false),
            LinkChange::Mtu(m) => {
                let lo = self.link(id).kind == Kind::Loopback;
                if !(lo && *m == super::model::LO_MTU) {
                    check_mtu(*m)?;
                }
                if let Kind::Macvlan { parent, .. } = self.link(id).kind
                    && self.link(parent).mtu < *m
                {
                    return Err(errno(libc::EINVAL));
                }
                // vxlan_change_mtu: within its device's, less the headroom.
                if let Kind::Vxlan(t) = self.link(id).kind
                    && let Some(d) = t.device
                    && self.link(d).mtu.saturating_sub(t.headroom()) < *m
                {
                    return Err(errno(libc::EINVAL));
                }
                self.link_mut(id).mtu = *m;
                // macvlan follows its lower device down (NETDEV_CHANGEMTU).
                for c in self.link(id).children.clone() {
                    let c = self.link_mut(c);
                    c.mtu = c.mtu.min(*m);
                }
            }
            LinkChange::Mac(mac) => {
                check_mac(mac)?;
                self.link_mut(id).mac = *mac;
                // A passthru child follows its parent (NETDEV_CHANGEADDR).
                for c in self.link(id).children.clone() {
                    if let Kind::Macvlan {
                        mode: MacvlanMode::Passthru,
                        ..
                    } = self.link(c).kind
                    {
                        self.link_mut(c).mac = *mac;
                    }
                }
            }
            LinkChange::Master(to) => {
                self.set_master(ns, id, *to)?;
                self.settle_link_local(id);
            }
            LinkChange::Hairpin(on) => {
                let l = self.link_mut(id);
                if l.master.is_none() {
                    return Err(errno(libc::EOPNOTSUPP));
                }
                l.hairpin = *on;
            }
        }
        Ok(())
    }

    /// `do_set_master` and `br_add_if`.
    fn set_master(&mut self, ns: NsKey, id: LinkId, to: Option<u32>) -> io::Result<()> {
        let current = self.link(id).master;
        if let (Some(m), Some(to)) = (current, to)
            && self.link(m).index == to
        {
            return Ok(());
        }
        let Some(to) = to else {
            self.release(id);
            return Ok(());
        };
        let Some(br) = self.ns(ns).by_index.get(&to).copied() else {
            self.release(id);
            return Err(errno(libc::EINVAL));
        };
        self.release(id);
        if self.link(br).kind != Kind::Bridge {
            return Err(errno(libc::EOPNOTSUPP));
        }
        let l = self.link(id);
        match l.kind {
            Kind::Loopback => return Err(errno(libc::EINVAL)),
            Kind::Bridge => {
                return Err(refused(
                    libc::ELOOP,
                    Some("Can not enslave a bridge to a bridge"),
                ));
            }
            // The bridge is already its lower device (an upper of itself).
            Kind::Macvlan { parent, .. } if parent == br => return Err(errno(libc::EBUSY)),
            _ => {}
        }
        // A macvlan parent's rx handler is taken.
        if !l.children.is_empty() {
            return Err(errno(libc::EBUSY));
        }
        self.link_mut(id).master = Some(br);
        self.link_mut(br).ports.push(id);
        Ok(())
    }

    pub fn link_move(
        &mut self,
        h: NsId,
        index: u32,
        to: NsId,
        new_name: Option<&str>,
    ) -> io::Result<LinkInfo> {
        let ns = self.ns_of(h)?;
        let target = self.ns_of(to)?;
        let id = self.link_at(ns, index)?;
        if let Some(n) = new_name {
            check_name(n)?;
        }
        // NETIF_F_NETNS_LOCAL.
        if matches!(self.link(id).kind, Kind::Loopback | Kind::Bridge) {
            return Err(errno(libc::EINVAL));
        }
        let name = new_name.unwrap_or(&self.link(id).name).to_string();
        if target == ns {
            if name != self.link(id).name {
                self.check_free(ns, &name, None)?;
                let old = std::mem::replace(&mut self.link_mut(id).name, name.clone());
                let n = self.ns_mut(ns);
                n.by_name.remove(&old);
                n.by_name.insert(name, id);
            }
            return Ok(self.link_get(to, id));
        }
        // `__dev_change_net_namespace` keeps the link's name where it is
        // free in the target, and takes the new one only where it is not;
        // `do_setlink` renames afterwards. So a new name taken in the
        // target, with the old one free, fails the rename (EEXIST) after
        // the move: the link stays moved, under its old name.
        let taken = |w: &Self, n: &str| w.ns(target).by_name.contains_key(n);
        let old = self.link(id).name.clone();
        let moved_as = if !taken(self, &old) {
            old
        } else if new_name.is_some() && !taken(self, &name) {
            name.clone()
        } else {
            return Err(errno(libc::EEXIST));
        };
        // The backend asks to keep the index (IFLA_NEW_IFINDEX).
        if self.ns(target).by_index.contains_key(&index) {
            return Err(errno(libc::EBUSY));
        }
        self.move_link(id, target, &moved_as, Some(index));
        if name != moved_as {
            if taken(self, &name) {
                return Err(errno(libc::EEXIST));
            }
            let n = self.ns_mut(target);
            n.by_name.remove(&moved_as);
            n.by_name.insert(name.clone(), id);
            self.link_mut(id).name = name;
        }
        Ok(self.link_get(to, id))
    }

    pub fn link_del(&mut self, h: NsId, index: u32) -> io::Result<()> {
        let ns = self.ns_of(h)?;
        let id = self.link_at(ns, index)?;
        // No rtnl_link_ops, no dellink.
        if matches!(self.link(id).kind, Kind::Loopback | Kind::Physical) {
            return Err(errno(libc::EOPNOTSUPP));
        }
        self.destroy_link(id);
        Ok(())
    }
}
