//! A simulated kernel: namespaces, links, addresses, routes and a
//! reachability model, in memory, behind [`Kernel`], for tests and plans
//! that need no privileges.
//!
//! It answers as the netlink backend does on Linux 6.x: the same errnos
//! and extended-ACK messages where the kernel gives one, the same
//! `LinkInfo` fields (including what `link_add` leaves unresolved), and
//! pings that succeed exactly when the modelled frames and routes would
//! carry them there and back.
//!
//! What it leaves out, for whoever reads a surprising answer:
//!
//! - IPv6 link-local addresses (and their `fe80::/64` routes), DAD and
//!   router advertisements; an IPv6 link-local gateway is taken on faith
//!   when a device is given.
//! - An IPv4 address on a link that is down is not local (the kernel keeps
//!   the local route of one added while the link was down).
//! - Bridges flood (no FDB), have no STP, VLANs or MTU auto-adjustment, and
//!   keep the MAC they were made with.
//! - Macvlan `source` mode receives nothing; MAC clashes between macvlans
//!   are not refused.
//! - A vxlan reaches the vxlans its unicast remote is delivered to (see
//!   `reach.rs`); multicast groups, its forwarding database and the
//!   neighbour entries its underlay packets leave are not modelled.
//! - NICs made by [`Sim::with_root_links`] have no wire behind them.
//! - Neighbour entries appear for resolutions that succeeded (`reachable`
//!   on the asking side, `stale` on the answering one); failed ones leave
//!   none, and none ages.
//! - rp_filter, arp_ignore/arp_filter, firewalls and every sysctl but
//!   forwarding. A ping that comes back reports a 50 µs round trip; one
//!   that does not returns at once, not after its timeout.

mod ip;
mod links;
mod model;
mod reach;
#[cfg(test)]
mod tests;

use std::io;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use self::model::{Kind, World, errno};
use super::{CreateError, Kernel, RecordFn};
use crate::vocab::net::{Cidr, Mac};
use crate::vocab::{
    AddrInfo, LinkChange, LinkInfo, Neighbor, NewLink, NsId, NsIdent, NudState, PingStats, ROOT_NS,
    Removal, RouteInfo, RouteSpec,
};

/// The simulated kernel. Every call takes one lock and does map lookups,
/// so a plan of a thousand namespaces costs milliseconds.
pub struct Sim {
    world: Mutex<World>,
}

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

impl Sim {
    /// A machine with only `lo` in its root namespace, up.
    pub fn new() -> Self {
        Self {
            world: Mutex::new(World::new()),
        }
    }

    /// A machine whose root namespace also has these NICs (no rtnl kind,
    /// like a real NIC), indexes 2 up in order, up, MTU 1500, with the
    /// given MAC or a random one. They cannot be deleted; a namespace that
    /// dies with one in it gives it back to the root, as the kernel does.
    pub fn with_root_links(links: &[(&str, Option<Mac>)]) -> Self {
        let mut w = World::new();
        let root = w.root;
        for (name, mac) in links {
            let mac = mac.unwrap_or_else(|| w.random_mac());
            let id = w.insert_link(root, None, name, Kind::Physical, mac, 1500);
            w.set_up(id, true);
        }
        Self {
            world: Mutex::new(w),
        }
    }

    /// Adds a named namespace that exists before the run — one the
    /// guest may open, like the "physical" network of a benchmark — with
    /// these NICs in it (as [`Sim::with_root_links`] makes them).
    pub fn with_namespace(self, name: &str, links: &[&str]) -> Self {
        {
            let mut w = self.w();
            let (h, _) = w.make(name);
            if w.mount(h).is_ok()
                && let Ok(key) = w.ns_of(h)
            {
                for link in links {
                    let mac = w.random_mac();
                    let id = w.insert_link(key, None, link, Kind::Physical, mac, 1500);
                    w.set_up(id, true);
                }
            }
            w.close(h);
        }
        self
    }

    fn w(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Kernel for Sim {
    async fn ns_create(
        &self,
        name: &str,
        record: RecordFn,
    ) -> Result<(NsId, NsIdent), CreateError> {
        let (id, ident) = self.w().make(name);
        // Outside the lock: the journal may take its time.
        if let Err(e) = record(ident) {
            self.w().close(id);
            return Err(CreateError::Record(e));
        }
        let mut w = self.w();
        if let Err(e) = w.mount(id) {
            w.close(id);
            return Err(CreateError::Mount(e));
        }
        Ok((id, ident))
    }

    async fn ns_make(&self, name: &str) -> io::Result<(NsId, NsIdent)> {
        Ok(self.w().make(name))
    }

    async fn ns_mount(&self, ns: NsId) -> io::Result<()> {
        self.w().mount(ns)
    }

    async fn ns_open(&self, name: &str) -> io::Result<(NsId, NsIdent)> {
        let mut w = self.w();
        let key = *w.names.get(name).ok_or(errno(libc::ENOENT))?;
        Ok(w.open_handle(key, name))
    }

    async fn ns_open_root(&self) -> io::Result<(NsId, NsIdent)> {
        let mut w = self.w();
        let root = w.root;
        Ok(w.open_handle(root, ROOT_NS))
    }

    fn ns_home(&self) -> io::Result<NsIdent> {
        let w = self.w();
        Ok(w.ns(w.root).ident)
    }

    fn ns_ident(&self, ns: NsId) -> Option<NsIdent> {
        let w = self.w();
        let key = w.ns_of(ns).ok()?;
        Some(w.ns(key).ident)
    }

    async fn ns_delete(&self, ns: NsId) -> io::Result<Removal> {
        let (name, ident) = {
            let w = self.w();
            let key = w.ns_of(ns)?;
            (
                w.handle_name(ns).unwrap_or_default().to_string(),
                w.ns(key).ident,
            )
        };
        let removal = self.ns_remove(&name, Some(ident)).await?;
        self.w().close(ns);
        Ok(removal)
    }

    async fn ns_remove(&self, name: &str, expect: Option<NsIdent>) -> io::Result<Removal> {
        let mut w = self.w();
        let Some(key) = w.names.get(name).copied() else {
            return Ok(Removal::Gone);
        };
        let found = w.ns(key).ident;
        if key == w.root {
            return Ok(Removal::NotOurs(
                "it names the namespace netwasm runs in (the root namespace)".into(),
            ));
        }
        if let Some(expect) = expect
            && !found.same(&expect)
        {
            return Ok(Removal::NotOurs(format!(
                "it names another namespace now ({found}, not {expect})"
            )));
        }
        w.unname(name);
        Ok(Removal::Removed)
    }

    fn ns_close(&self, ns: NsId) {
        self.w().close(ns);
    }

    fn ns_exists(&self, name: &str) -> bool {
        self.w().names.contains_key(name)
    }

    fn ns_list(&self) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = self.w().names.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    fn ns_name(&self, ns: NsId) -> Option<String> {
        self.w().handle_name(ns).map(str::to_string)
    }

    async fn link_add(&self, link: &NewLink) -> io::Result<Vec<LinkInfo>> {
        self.w().link_add(link)
    }

    async fn link_by_index(&self, ns: NsId, index: u32) -> io::Result<LinkInfo> {
        let w = self.w();
        let id = w.link_at(w.ns_of(ns)?, index)?;
        Ok(w.link_get(ns, id))
    }

    async fn link_by_name(&self, ns: NsId, name: &str) -> io::Result<LinkInfo> {
        self.w().link_by_name(ns, name)
    }

    async fn link_list(&self, ns: NsId) -> io::Result<Vec<LinkInfo>> {
        self.w().link_list(ns)
    }

    async fn link_set(&self, ns: NsId, index: u32, change: &LinkChange) -> io::Result<()> {
        self.w().link_set(ns, index, change)
    }

    async fn link_move(
        &self,
        ns: NsId,
        index: u32,
        to: NsId,
        new_name: Option<&str>,
    ) -> io::Result<LinkInfo> {
        self.w().link_move(ns, index, to, new_name)
    }

    async fn link_del(&self, ns: NsId, index: u32) -> io::Result<()> {
        self.w().link_del(ns, index)
    }

    async fn addr_add(&self, ns: NsId, index: u32, cidr: Cidr) -> io::Result<()> {
        self.w().addr_add(ns, index, cidr)
    }

    async fn addr_del(&self, ns: NsId, index: u32, cidr: Cidr) -> io::Result<()> {
        self.w().addr_del(ns, index, cidr)
    }

    async fn addr_list(&self, ns: NsId, index: Option<u32>) -> io::Result<Vec<AddrInfo>> {
        self.w().addr_list(ns, index)
    }

    async fn route_add(&self, ns: NsId, route: &RouteSpec) -> io::Result<()> {
        self.w().route_add(ns, route)
    }

    async fn route_del(&self, ns: NsId, route: &RouteSpec) -> io::Result<()> {
        self.w().route_del(ns, route)
    }

    async fn route_list(&self, ns: NsId) -> io::Result<Vec<RouteInfo>> {
        self.w().route_list(ns)
    }

    async fn route_oif(&self, ns: NsId, to: IpAddr) -> io::Result<Option<u32>> {
        self.w().route_oif(ns, to)
    }

    async fn ns_set_forwarding(&self, ns: NsId, on: bool) -> io::Result<()> {
        let mut w = self.w();
        let key = w.ns_of(ns)?;
        w.ns_mut(key).forwarding = on;
        Ok(())
    }

    async fn ping(
        &self,
        ns: NsId,
        to: IpAddr,
        count: u32,
        _timeout: std::time::Duration,
    ) -> io::Result<PingStats> {
        let mut w = self.w();
        let key = w.ns_of(ns)?;
        let back = w.echo(key, to)?;
        let received = if back { count } else { 0 };
        let rtt = (received > 0).then_some(reach::RTT_US);
        Ok(PingStats {
            sent: count,
            received,
            rtt_min_us: rtt,
            rtt_avg_us: rtt,
            rtt_max_us: rtt,
        })
    }

    async fn neighbors(&self, ns: NsId) -> io::Result<Vec<Neighbor>> {
        let w = self.w();
        let key = w.ns_of(ns)?;
        Ok(w.ns(key)
            .neigh
            .iter()
            .map(|e| Neighbor {
                address: e.ip,
                mac: Some(e.mac),
                dev: w.link(e.dev).name.clone(),
                state: match e.state {
                    "reachable" => NudState::Reachable,
                    "stale" => NudState::Stale,
                    "failed" => NudState::Failed,
                    _ => NudState::None,
                },
            })
            .collect())
    }
}
