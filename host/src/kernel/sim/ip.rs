//! Addresses and the main routing table, with the side effects the kernel
//! gives them: prefix routes, routes flushed with their address, and the
//! gateway checks of `fib_check_nh` and `ip6_validate_gw`.

use std::io;
use std::net::IpAddr;

use super::model::{Addr, Kind, LinkId, NsKey, Route, World, errno};
use crate::kernel::refused;
use crate::vocab::net::Cidr;
use crate::vocab::{AddrInfo, NETWASM_PROTO, NsId, RouteInfo, RouteSpec};

/// `RTPROT_KERNEL`.
const PROTO_KERNEL: u8 = 2;
/// IPv6's metric for routes added without one (`IP6_RT_PRIO_USER`).
const V6_USER_METRIC: u32 = 1024;
/// IPv6's metric for prefix routes (`IP6_RT_PRIO_ADDRCONF`).
const V6_ADDRCONF_METRIC: u32 = 256;

fn protocol_name(p: u8) -> String {
    match p {
        2 => "kernel".into(),
        3 => "boot".into(),
        4 => "static".into(),
        9 => "ra".into(),
        16 => "dhcp".into(),
        n => n.to_string(),
    }
}

fn v6_scope(ip: &IpAddr) -> &'static str {
    match ip {
        IpAddr::V6(a) if a.is_loopback() => "host",
        IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => "link",
        _ => "global",
    }
}

impl World {
    /// The prefix route an address brings (`fib_add_ifaddr`,
    /// `addrconf_prefix_route`); IPv4 ones only on a link that is up, and
    /// lo's IPv4 ones only in the local table.
    pub fn add_prefix_route(&mut self, id: LinkId, cidr: Cidr) {
        let l = self.link(id);
        let Some(dst) = cidr.prefix_route() else {
            return;
        };
        let v4 = cidr.addr.is_ipv4();
        // lo's routes (::1 too, on 6.x) live in the local table only.
        if (v4 && !l.up) || l.kind == Kind::Loopback {
            return;
        }
        let metric = if v4 { 0 } else { V6_ADDRCONF_METRIC };
        let route = Route {
            dst,
            gw: None,
            dev: id,
            metric,
            proto: PROTO_KERNEL,
            source: v4.then_some(cidr.addr),
        };
        let ns = self.ns_mut(l.ns);
        let same = |r: &Route| r.dst == dst && r.dev == id && r.gw.is_none() && r.metric == metric;
        if !ns.routes.iter().any(same) {
            ns.routes.push(route);
        }
    }

    pub fn addr_add(&mut self, h: NsId, index: u32, cidr: Cidr) -> io::Result<()> {
        let ns = self.ns_of(h)?;
        let id = self.link_at(ns, index)?;
        let l = self.link(id);
        let v4 = cidr.addr.is_ipv4();
        let dup = l
            .addrs
            .iter()
            .any(|a| a.cidr.addr == cidr.addr && (!v4 || a.cidr.prefix == cidr.prefix));
        if dup {
            // __inet_insert_ifa; IPv6 says nothing more.
            return Err(if v4 {
                crate::kernel::refused(libc::EEXIST, Some("ipv4: Address already assigned"))
            } else {
                errno(libc::EEXIST)
            });
        }
        // A second IPv4 address in a prefix the link has is secondary: it
        // brings no prefix route.
        let secondary = v4
            && l.addrs
                .iter()
                .any(|a| a.cidr.prefix == cidr.prefix && a.cidr.network() == cidr.network());
        let scope = if v4 { "global" } else { v6_scope(&cidr.addr) };
        self.link_mut(id).addrs.push(Addr {
            cidr,
            proto: NETWASM_PROTO,
            scope,
        });
        if !secondary {
            self.add_prefix_route(id, cidr);
        }
        Ok(())
    }

    pub fn addr_del(&mut self, h: NsId, index: u32, cidr: Cidr) -> io::Result<()> {
        let ns = self.ns_of(h)?;
        let id = self.link_at(ns, index)?;
        let l = self.link(id);
        let Some(pos) = l.addrs.iter().position(|a| a.cidr == cidr) else {
            return Err(errno(libc::EADDRNOTAVAIL));
        };
        let v4 = cidr.addr.is_ipv4();
        let primary = v4
            && !l.addrs[..pos]
                .iter()
                .any(|a| a.cidr.prefix == cidr.prefix && a.cidr.network() == cidr.network());
        let l = self.link_mut(id);
        l.addrs.remove(pos);
        if primary {
            // promote_secondaries is 0: the primary takes its secondaries along.
            l.addrs.retain(|a| {
                !(a.cidr.addr.is_ipv4()
                    && a.cidr.prefix == cidr.prefix
                    && a.cidr.network() == cidr.network())
            });
        }
        let last_v4 = v4 && !l.addrs.iter().any(|a| a.cidr.addr.is_ipv4());
        let still = l
            .addrs
            .iter()
            .any(|a| a.cidr.network() == cidr.network() && a.cidr.prefix == cidr.prefix);
        let n = self.ns_mut(ns);
        if v4 {
            // fib_del_ifaddr and fib_sync_down_addr: its prefix route and
            // routes preferring it as source; with the last address, every
            // IPv4 route through the link (fib_disable_ip).
            n.routes.retain(|r| {
                !(r.dev == id
                    && (last_v4
                        || r.source == Some(cidr.addr)
                        || (r.proto == PROTO_KERNEL && Some(r.dst) == cidr.prefix_route())))
            });
        } else if !still {
            n.routes.retain(|r| {
                !(r.dev == id && r.proto == PROTO_KERNEL && Some(r.dst) == cidr.prefix_route())
            });
        }
        Ok(())
    }

    /// The IPv6 link-local address the kernel gives a link once it is up
    /// with carrier (addrconf, EUI-64 from its MAC), with its `fe80::/64`
    /// route; it stays when the carrier goes, until the link is set down.
    /// The probes do not use it.
    pub fn link_local(&self, id: LinkId) -> Option<Cidr> {
        let l = self.link(id);
        if l.kind == Kind::Loopback || !l.link_local {
            return None;
        }
        let m = l.mac.0;
        let ip = std::net::Ipv6Addr::from([
            0xfe,
            0x80,
            0,
            0,
            0,
            0,
            0,
            0,
            m[0] ^ 0x02,
            m[1],
            m[2],
            0xff,
            0xfe,
            m[3],
            m[4],
            m[5],
        ]);
        Some(Cidr::new(IpAddr::V6(ip), 64))
    }

    /// Gives a link-local address to every link whose carrier may have
    /// come with a change to `id` (NETDEV_UP / NETDEV_CHANGE): it, its veth
    /// peer, the bridge it is a port of, and the macvlans stacked on any of
    /// them. Siblings are not affected, so a change to one of a thousand
    /// macvlans costs one link.
    pub fn settle_link_local(&mut self, id: LinkId) {
        let mut todo = vec![id];
        if let Kind::Veth { peer } = self.link(id).kind {
            todo.push(peer);
        }
        todo.extend(todo.clone().iter().filter_map(|l| self.link(*l).master));
        let mut seen = std::collections::HashSet::new();
        while let Some(l) = todo.pop() {
            if !seen.insert(l) {
                continue;
            }
            if self.link(l).up && self.oper_up(l) {
                self.link_mut(l).link_local = true;
            }
            todo.extend(self.link(l).children.iter().copied());
        }
    }

    pub fn addr_list(&self, h: NsId, index: Option<u32>) -> io::Result<Vec<AddrInfo>> {
        let ns = self.ns_of(h)?;
        let mut out = Vec::new();
        for id in self.ns(ns).by_index.values() {
            let l = self.link(*id);
            if index.is_some_and(|i| i != l.index) {
                continue;
            }
            out.extend(l.addrs.iter().map(|a| AddrInfo {
                index: l.index,
                cidr: a.cidr,
                scope: a.scope.to_string(),
                proto: a.proto,
            }));
            if let Some(cidr) = self.link_local(*id) {
                out.push(AddrInfo {
                    index: l.index,
                    cidr,
                    scope: "link".into(),
                    proto: 0,
                });
            }
        }
        out.sort_by_key(|a| (a.index, a.cidr.addr.is_ipv6()));
        Ok(out)
    }

    /// Whether `ip` is an address of namespace `ns` (its local table):
    /// any address on a link that is up, and all of 127/8 with lo up.
    pub fn is_local(&self, ns: NsKey, ip: &IpAddr) -> Option<LinkId> {
        let n = self.ns(ns);
        n.by_index.values().copied().find(|id| {
            let l = self.link(*id);
            l.up && l.addrs.iter().any(|a| {
                a.cidr.addr == *ip
                    || (l.kind == Kind::Loopback
                        && a.cidr.addr.is_ipv4()
                        && a.cidr.contains_addr(ip))
            })
        })
    }

    /// The main table's route to `to`: longest prefix, then lowest metric.
    pub fn lookup(
        &self,
        ns: NsKey,
        to: &IpAddr,
        dev: Option<LinkId>,
        link_only: bool,
    ) -> Option<&Route> {
        self.ns(ns)
            .routes
            .iter()
            .filter(|r| r.dst.contains_addr(to))
            .filter(|r| dev.is_none_or(|d| d == r.dev))
            .filter(|r| !link_only || r.gw.is_none())
            .min_by_key(|r| (u8::MAX - r.dst.prefix, r.metric))
    }

    pub fn route_add(&mut self, h: NsId, spec: &RouteSpec) -> io::Result<()> {
        let ns = self.ns_of(h)?;
        let dst = spec.destination;
        let v4 = dst.addr.is_ipv4();
        if v4 && dst.network() != dst {
            return Err(refused(
                libc::EINVAL,
                Some("Invalid prefix for given prefix length"),
            ));
        }
        let dst = dst.network();
        if spec.gateway.is_some_and(|g| g.is_ipv4() != v4) {
            return Err(errno(libc::EINVAL));
        }
        let dev = spec.dev.map(|i| self.link_at(ns, i)).transpose()?;
        let dev = match spec.gateway {
            None => {
                let dev = dev.ok_or(errno(libc::ENODEV))?;
                if !self.link(dev).up {
                    let msg = if v4 {
                        "Device for nexthop is not up"
                    } else {
                        "Nexthop device is not up"
                    };
                    return Err(refused(libc::ENETDOWN, Some(msg)));
                }
                dev
            }
            Some(gw) if v4 => {
                // fib_check_nh_v4_gw: the gateway must lie on a link-scope
                // route (a prefix or device route) or be local.
                match self.lookup(ns, &gw, dev, true) {
                    Some(r) => r.dev,
                    None => match self
                        .is_local(ns, &gw)
                        .filter(|l| dev.is_none_or(|d| d == *l))
                    {
                        Some(l) => l,
                        None => {
                            return Err(refused(
                                libc::ENETUNREACH,
                                Some("Nexthop has invalid gateway"),
                            ));
                        }
                    },
                }
            }
            Some(gw) => {
                if let Some(d) = dev
                    && self.link(d).addrs.iter().any(|a| a.cidr.addr == gw)
                {
                    return Err(refused(
                        libc::EINVAL,
                        Some("Gateway can not be a local address"),
                    ));
                }
                let link_local = matches!(gw, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80);
                match (link_local, dev) {
                    (true, Some(d)) => d,
                    _ => match self.lookup(ns, &gw, None, false) {
                        Some(r) if r.gw.is_none() && dev.is_none_or(|d| d == r.dev) => r.dev,
                        _ => return Err(errno(libc::EHOSTUNREACH)),
                    },
                }
            }
        };
        if !self.link(dev).up {
            return Err(refused(libc::ENETDOWN, Some("Nexthop device is not up")));
        }
        let metric = match spec.metric.unwrap_or(0) {
            0 if !v4 => V6_USER_METRIC,
            m => m,
        };
        let n = self.ns_mut(ns);
        if n.routes.iter().any(|r| r.dst == dst && r.metric == metric) {
            return Err(errno(libc::EEXIST));
        }
        n.routes.push(Route {
            dst,
            gw: spec.gateway,
            dev,
            metric,
            proto: NETWASM_PROTO,
            source: None,
        });
        Ok(())
    }

    pub fn route_del(&mut self, h: NsId, spec: &RouteSpec) -> io::Result<()> {
        let ns = self.ns_of(h)?;
        let dev = spec.dev.map(|i| self.link_at(ns, i)).transpose()?;
        let dst = spec.destination.network();
        let n = self.ns_mut(ns);
        let pos = n.routes.iter().position(|r| {
            r.dst == dst
                && spec.metric.is_none_or(|m| m == 0 || m == r.metric)
                && spec.gateway.is_none_or(|g| r.gw == Some(g))
                && dev.is_none_or(|d| d == r.dev)
                && spec.protocol.is_none_or(|p| p == 0 || p == r.proto)
        });
        match pos {
            Some(p) => {
                n.routes.remove(p);
                Ok(())
            }
            None => Err(errno(libc::ESRCH)),
        }
    }

    pub fn route_list(&self, h: NsId) -> io::Result<Vec<RouteInfo>> {
        let ns = self.ns_of(h)?;
        let link_local: Vec<Route> = self
            .ns(ns)
            .by_index
            .values()
            .filter(|id| self.link_local(**id).is_some())
            .map(|id| Route {
                dst: Cidr::new("fe80::".parse().unwrap(), 64),
                gw: None,
                dev: *id,
                metric: V6_ADDRCONF_METRIC,
                proto: PROTO_KERNEL,
                source: None,
            })
            .collect();
        let mut routes: Vec<&Route> = self.ns(ns).routes.iter().chain(&link_local).collect();
        // Roughly the kernel's dump order: by family, then by key.
        routes.sort_by_key(|r| (r.dst.addr.is_ipv6(), r.dst.addr, r.dst.prefix, r.metric));
        Ok(routes
            .into_iter()
            .map(|r| {
                let l = self.link(r.dev);
                let v4 = r.dst.addr.is_ipv4();
                RouteInfo {
                    destination: r.dst,
                    gateway: r.gw,
                    dev_index: Some(l.index),
                    dev: Some(l.name.clone()),
                    // IPv4 leaves RTA_PRIORITY out when it is 0.
                    metric: (!v4 || r.metric != 0).then_some(r.metric),
                    protocol: protocol_name(r.proto),
                    proto: r.proto,
                    // IPv6 routes are all of universe scope.
                    scope: if v4 && r.gw.is_none() {
                        "link"
                    } else {
                        "global"
                    }
                    .into(),
                    source: r.source,
                }
            })
            .collect())
    }

    pub fn route_oif(&self, h: NsId, to: IpAddr) -> io::Result<Option<u32>> {
        let ns = self.ns_of(h)?;
        if self.is_local(ns, &to).is_some() {
            // `ip route get` of a local address: "local ... dev lo".
            return Ok(Some(1));
        }
        match self.lookup(ns, &to, None, false) {
            Some(r) => Ok(Some(self.link(r.dev).index)),
            None => Err(errno(libc::ENETUNREACH)),
        }
    }
}
