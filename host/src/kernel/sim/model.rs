//! The simulated kernel's state: namespaces, the handles netwasm holds on
//! them, and links. Links have ids of their own, independent of namespace
//! and index, so that moving one rewrites no reference to it.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use crate::vocab::net::{Cidr, Mac};
use crate::vocab::{LinkInfo, MacvlanMode, NsId, NsIdent, OperState, ROOT_NS, Vxlan};

pub(super) type LinkId = u64;
pub(super) type NsKey = u64;

pub(super) fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// nsfs's device number as `stat` shows it on Linux; any fixed value would
/// do, since only equality matters.
const NSFS_DEV: u64 = 4;
/// The root namespace's inode on Linux (`PROC_NET_INIT_INO`).
const ROOT_INO: u64 = 4026531840;
pub(super) const LO_MTU: u32 = 65536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Loopback,
    /// A device with no rtnl kind (a NIC): it outlives namespaces.
    Physical,
    Veth {
        peer: LinkId,
    },
    Bridge,
    Macvlan {
        parent: LinkId,
        mode: MacvlanMode,
    },
    Vxlan(Tunnel),
}

/// A vxlan's tunnel. Its socket, its device and the routes its packets
/// take are those of the namespace it was made in (`underlay`), wherever
/// the link itself is moved afterwards, as in the kernel (`vxlan->net`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tunnel {
    pub id: u32,
    pub local: Option<IpAddr>,
    pub remote: Option<IpAddr>,
    pub group: Option<IpAddr>,
    pub device: Option<LinkId>,
    pub underlay: NsKey,
    pub port: u16,
    pub learning: bool,
    pub ttl: u8,
}

impl Tunnel {
    /// Whether it speaks IPv6 (`VXLAN_F_IPV6`): one of its addresses is.
    pub fn v6(&self) -> bool {
        [self.local, self.remote, self.group]
            .into_iter()
            .flatten()
            .any(|a| a.is_ipv6())
    }

    /// What encapsulation costs of the device's MTU (`vxlan_headroom`).
    pub fn headroom(&self) -> u32 {
        if self.v6() { 70 } else { 50 }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Addr {
    pub cidr: Cidr,
    pub proto: u8,
    pub scope: &'static str,
}

#[derive(Debug, Clone)]
pub(super) struct Link {
    pub ns: NsKey,
    pub index: u32,
    pub name: String,
    pub kind: Kind,
    pub mac: Mac,
    pub mtu: u32,
    pub up: bool,
    pub master: Option<LinkId>,
    pub hairpin: bool,
    pub addrs: Vec<Addr>,
    /// Bridge ports, for a bridge.
    pub ports: Vec<LinkId>,
    /// Macvlan children, for a macvlan parent.
    pub children: Vec<LinkId>,
    /// Whether addrconf gave it its IPv6 link-local address: once it was
    /// up with carrier, until it is set down (see `World::link_local`).
    pub link_local: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Route {
    /// Always a network (host bits clear).
    pub dst: Cidr,
    pub gw: Option<IpAddr>,
    pub dev: LinkId,
    /// The effective metric: IPv6's 0 is already 1024 here.
    pub metric: u32,
    pub proto: u8,
    pub source: Option<IpAddr>,
}

#[derive(Debug, Clone)]
pub(super) struct NeighEntry {
    pub dev: LinkId,
    /// The link that answered: where frames to `mac` go.
    pub peer: LinkId,
    pub ip: IpAddr,
    pub mac: Mac,
    pub state: &'static str,
}

#[derive(Debug)]
pub(super) struct Ns {
    pub name: String,
    pub mounted: bool,
    /// Handles netwasm holds; with no name and no handle, the kernel
    /// destroys a namespace.
    pub handles: usize,
    pub ident: NsIdent,
    pub by_index: HashMap<u32, LinkId>,
    pub by_name: HashMap<String, LinkId>,
    pub next_index: u32,
    pub forwarding: bool,
    pub routes: Vec<Route>,
    pub neigh: Vec<NeighEntry>,
}

pub(super) struct World {
    pub nss: HashMap<NsKey, Ns>,
    /// Mounted names (`/run/netns`).
    pub names: HashMap<String, NsKey>,
    pub handles: HashMap<NsId, (NsKey, String)>,
    pub links: HashMap<LinkId, Link>,
    /// Every vxlan, so that what dies with a device or a namespace is
    /// found without going through every link.
    pub vxlans: std::collections::BTreeSet<LinkId>,
    pub root: NsKey,
    next_ns: u64,
    next_handle: u64,
    next_link: u64,
    rng: u64,
}

impl World {
    pub fn new() -> Self {
        use std::hash::BuildHasher;
        let seed = std::collections::hash_map::RandomState::new().hash_one(0u8) | 1;
        let mut w = World {
            nss: HashMap::new(),
            names: HashMap::new(),
            handles: HashMap::new(),
            links: HashMap::new(),
            vxlans: Default::default(),
            root: 1,
            next_ns: 1,
            next_handle: 1,
            next_link: 1,
            rng: seed,
        };
        let root = w.new_ns(ROOT_NS);
        w.root = root;
        let lo = w.ns_lo(root);
        w.set_up(lo, true);
        w
    }

    fn new_ns(&mut self, name: &str) -> NsKey {
        let key = self.next_ns;
        self.next_ns += 1;
        let ns = Ns {
            name: name.to_string(),
            mounted: false,
            handles: 0,
            // Ids are never reused, like the kernel's namespace ids; inodes
            // are not reused here either, which the kernel does not promise.
            ident: NsIdent {
                dev: NSFS_DEV,
                ino: ROOT_INO + key - 1,
                id: key,
            },
            by_index: HashMap::new(),
            by_name: HashMap::new(),
            next_index: 2,
            forwarding: false,
            routes: Vec::new(),
            neigh: Vec::new(),
        };
        self.nss.insert(key, ns);
        let mac = Mac([0; 6]);
        self.insert_link(key, Some(1), "lo", Kind::Loopback, mac, LO_MTU);
        key
    }

    pub fn ns_lo(&self, ns: NsKey) -> LinkId {
        self.nss[&ns].by_index[&1]
    }

    pub fn ns(&self, key: NsKey) -> &Ns {
        &self.nss[&key]
    }

    pub fn ns_mut(&mut self, key: NsKey) -> &mut Ns {
        self.nss.get_mut(&key).expect("a live namespace")
    }

    pub fn random_mac(&mut self) -> Mac {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        let b = x.to_le_bytes();
        // Locally administered unicast, as eth_hw_addr_random makes.
        Mac([(b[0] & 0xfe) | 0x02, b[1], b[2], b[3], b[4], b[5]])
    }

    pub fn insert_link(
        &mut self,
        ns: NsKey,
        index: Option<u32>,
        name: &str,
        kind: Kind,
        mac: Mac,
        mtu: u32,
    ) -> LinkId {
        let id = self.next_link;
        self.next_link += 1;
        let n = self.ns_mut(ns);
        let index = index.unwrap_or_else(|| {
            while n.by_index.contains_key(&n.next_index) {
                n.next_index += 1;
            }
            n.next_index += 1;
            n.next_index - 1
        });
        n.by_index.insert(index, id);
        n.by_name.insert(name.to_string(), id);
        self.links.insert(
            id,
            Link {
                ns,
                index,
                name: name.to_string(),
                kind,
                mac,
                mtu,
                up: false,
                master: None,
                hairpin: false,
                addrs: Vec::new(),
                ports: Vec::new(),
                children: Vec::new(),
                link_local: false,
            },
        );
        id
    }

    // --- namespaces and handles ---

    pub fn open_handle(&mut self, key: NsKey, name: &str) -> (NsId, NsIdent) {
        let id = NsId(self.next_handle);
        self.next_handle += 1;
        let ns = self.ns_mut(key);
        ns.handles += 1;
        let ident = ns.ident;
        self.handles.insert(id, (key, name.to_string()));
        (id, ident)
    }

    pub fn make(&mut self, name: &str) -> (NsId, NsIdent) {
        let key = self.new_ns(name);
        self.open_handle(key, name)
    }

    /// The namespace a handle holds (ENOENT, as the real backend says of a
    /// handle it does not have).
    pub fn ns_of(&self, h: NsId) -> io::Result<NsKey> {
        self.handles
            .get(&h)
            .map(|(k, _)| *k)
            .ok_or_else(|| errno(libc::ENOENT))
    }

    pub fn handle_name(&self, h: NsId) -> Option<&str> {
        self.handles.get(&h).map(|(_, n)| n.as_str())
    }

    pub fn mount(&mut self, h: NsId) -> io::Result<()> {
        let (key, name) = self.handles.get(&h).cloned().ok_or(errno(libc::ENOENT))?;
        if self.names.contains_key(&name) {
            return Err(errno(libc::EEXIST));
        }
        self.names.insert(name, key);
        self.ns_mut(key).mounted = true;
        Ok(())
    }

    pub fn close(&mut self, h: NsId) {
        if let Some((key, _)) = self.handles.remove(&h) {
            if let Some(ns) = self.nss.get_mut(&key) {
                ns.handles -= 1;
            }
            self.reap(key);
        }
    }

    pub fn unname(&mut self, name: &str) {
        if let Some(key) = self.names.remove(name) {
            self.ns_mut(key).mounted = false;
            self.reap(key);
        }
    }

    /// Destroys a namespace nothing holds any more.
    fn reap(&mut self, key: NsKey) {
        let Some(ns) = self.nss.get(&key) else { return };
        if key == self.root || ns.mounted || ns.handles > 0 {
            return;
        }
        let mut ids: Vec<LinkId> = ns.by_index.values().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(link) = self.links.get(&id) else {
                continue;
            };
            match link.kind {
                // As default_device_exit does: a device with no rtnl kind
                // goes home, under its name or "devN" if that is taken.
                Kind::Physical => {
                    let root = self.root;
                    let mut name = link.name.clone();
                    let mut n = 0;
                    while self.nss[&root].by_name.contains_key(&name) {
                        name = format!("dev{n}");
                        n += 1;
                    }
                    let index = link.index;
                    let index = (!self.nss[&root].by_index.contains_key(&index)).then_some(index);
                    self.move_link(id, root, &name, index);
                }
                _ => self.destroy_link(id),
            }
        }
        // A vxlan moved out of the namespace dies with its tunnel's
        // (`vxlan_destroy_tunnels`).
        let moved: Vec<LinkId> = self
            .vxlans
            .iter()
            .copied()
            .filter(|v| matches!(self.link(*v).kind, Kind::Vxlan(t) if t.underlay == key))
            .collect();
        for id in moved {
            self.destroy_link(id);
        }
        self.nss.remove(&key);
    }

    // --- links ---

    pub fn link_at(&self, ns: NsKey, index: u32) -> io::Result<LinkId> {
        self.nss[&ns]
            .by_index
            .get(&index)
            .copied()
            .ok_or_else(|| errno(libc::ENODEV))
    }

    pub fn link(&self, id: LinkId) -> &Link {
        &self.links[&id]
    }

    pub fn link_mut(&mut self, id: LinkId) -> &mut Link {
        self.links.get_mut(&id).expect("a live link")
    }

    /// The vxlans whose device is `id` (`vxlan_handle_lowerdev_unregister`
    /// deletes them when it goes, or leaves their namespace).
    pub fn tunnels_on(&self, id: LinkId) -> Vec<LinkId> {
        self.vxlans
            .iter()
            .copied()
            .filter(|v| matches!(self.link(*v).kind, Kind::Vxlan(t) if t.device == Some(id)))
            .collect()
    }

    /// Destroys a link and what dies with it: a veth's peer, a parent's
    /// macvlan children, the vxlans it is the device of; a bridge's ports
    /// are released.
    pub fn destroy_link(&mut self, id: LinkId) {
        let mut work = vec![id];
        while let Some(id) = work.pop() {
            work.extend(self.tunnels_on(id));
            let Some(l) = self.links.remove(&id) else {
                continue;
            };
            self.vxlans.remove(&id);
            let ns = self.ns_mut(l.ns);
            ns.by_index.remove(&l.index);
            ns.by_name.remove(&l.name);
            ns.routes.retain(|r| r.dev != id);
            ns.neigh.retain(|n| n.dev != id);
            match l.kind {
                Kind::Veth { peer } => work.push(peer),
                Kind::Macvlan { parent, .. } => {
                    if let Some(p) = self.links.get_mut(&parent) {
                        p.children.retain(|c| *c != id);
                    }
                }
                _ => {}
            }
            work.extend(l.children.iter().copied());
            for port in l.ports {
                if let Some(p) = self.links.get_mut(&port) {
                    p.master = None;
                    p.hairpin = false;
                }
            }
            if let Some(m) = l.master
                && let Some(b) = self.links.get_mut(&m)
            {
                b.ports.retain(|p| *p != id);
            }
        }
    }

    /// Moves a link as `dev_change_net_namespace` does: closed, released
    /// from its bridge, addresses and routes gone; index `index` there or a
    /// free one.
    pub fn move_link(&mut self, id: LinkId, to: NsKey, name: &str, index: Option<u32>) {
        // The move unregisters the device where it was: its vxlans go.
        for t in self.tunnels_on(id) {
            self.destroy_link(t);
        }
        self.release(id);
        self.set_up(id, false);
        let l = self.link_mut(id);
        l.addrs.clear();
        let (from, old_index, old_name) = (l.ns, l.index, l.name.clone());
        let ns = self.ns_mut(from);
        ns.by_index.remove(&old_index);
        ns.by_name.remove(&old_name);
        ns.routes.retain(|r| r.dev != id);
        ns.neigh.retain(|n| n.dev != id);
        let n = self.ns_mut(to);
        let index = index.unwrap_or_else(|| {
            while n.by_index.contains_key(&n.next_index) {
                n.next_index += 1;
            }
            n.next_index
        });
        n.by_index.insert(index, id);
        n.by_name.insert(name.to_string(), id);
        let l = self.link_mut(id);
        l.ns = to;
        l.index = index;
        l.name = name.to_string();
    }

    /// Takes a port out of its bridge.
    pub fn release(&mut self, id: LinkId) {
        let l = self.link_mut(id);
        let Some(m) = l.master.take() else { return };
        l.hairpin = false;
        if let Some(b) = self.links.get_mut(&m) {
            b.ports.retain(|p| *p != id);
        }
    }

    /// The device a macvlan's frames really leave by.
    pub fn lower(&self, id: LinkId) -> LinkId {
        match self.link(id).kind {
            Kind::Macvlan { parent, .. } => parent,
            _ => id,
        }
    }

    /// Whether the link has carrier (`netif_carrier_ok`). Depth-bounded:
    /// bridges and macvlans look below themselves.
    pub fn carrier(&self, id: LinkId, depth: u32) -> bool {
        let l = self.link(id);
        if depth > 16 {
            return false;
        }
        match l.kind {
            Kind::Loopback | Kind::Physical => l.up,
            Kind::Veth { peer } => l.up && self.link(peer).up,
            // STP is off: a port forwards as soon as it is up.
            Kind::Bridge => l.up && l.ports.iter().any(|p| self.oper_up_at(*p, depth + 1)),
            // netif_stacked_transfer_operstate copies the lower's carrier.
            Kind::Macvlan { parent, .. } => self.carrier(parent, depth + 1),
            // It never touches its carrier, which is on from the start.
            Kind::Vxlan(_) => l.up,
        }
    }

    pub fn oper(&self, id: LinkId) -> OperState {
        self.oper_at(id, 0)
    }

    /// `netif_oper_up`: UP, or UNKNOWN (a vxlan's, which never sets it).
    pub fn oper_up(&self, id: LinkId) -> bool {
        self.oper_up_at(id, 0)
    }

    fn oper_up_at(&self, id: LinkId, depth: u32) -> bool {
        matches!(self.oper_at(id, depth), OperState::Up | OperState::Unknown)
    }

    /// `default_operstate` of Linux 6.1 on: without carrier, a link stacked
    /// on another (veth, macvlan) is LOWERLAYERDOWN unless the link its
    /// IFLA_LINK index names in its own namespace has carrier (or is none:
    /// a peer in another namespace).
    fn oper_at(&self, id: LinkId, depth: u32) -> OperState {
        let l = self.link(id);
        if !l.up {
            return OperState::Down;
        }
        // Neither touches its carrier, so linkwatch never sets a state.
        if matches!(l.kind, Kind::Loopback | Kind::Vxlan(_)) {
            return OperState::Unknown;
        }
        if self.carrier(id, depth) {
            return OperState::Up;
        }
        let iflink = match l.kind {
            Kind::Veth { peer } => self.link(peer).index,
            Kind::Macvlan { parent, .. } => self.link(parent).index,
            _ => l.index,
        };
        if iflink == l.index || depth > 16 {
            return OperState::Down;
        }
        match self.nss[&l.ns].by_index.get(&iflink) {
            None => OperState::Down,
            Some(other) if self.carrier(*other, depth + 1) => OperState::Down,
            Some(_) => OperState::LowerLayerDown,
        }
    }

    /// The link as the netlink backend reports it: `resolved` as
    /// `link_by_*`/`link_list` do (names behind indices), otherwise as
    /// `link_add` returns it (indices only; a cross-namespace macvlan's
    /// parent namespace is `via`).
    pub fn info(&self, id: LinkId, namespace: &str, resolved: bool, via: Option<&str>) -> LinkInfo {
        let l = self.link(id);
        let lower = match l.kind {
            Kind::Veth { peer } => Some(peer),
            Kind::Macvlan { parent, .. } => Some(parent),
            _ => None,
        };
        let mut info = LinkInfo {
            index: l.index,
            name: l.name.clone(),
            namespace: namespace.to_string(),
            kind: match l.kind {
                Kind::Loopback | Kind::Physical => None,
                Kind::Veth { .. } => Some("veth".into()),
                Kind::Bridge => Some("bridge".into()),
                Kind::Macvlan { .. } => Some("macvlan".into()),
                Kind::Vxlan(_) => Some("vxlan".into()),
            },
            mac: Some(l.mac),
            mtu: l.mtu,
            admin_up: l.up,
            state: self.oper(id),
            parent_index: lower.map(|p| self.link(p).index),
            parent_name: None,
            parent_namespace: None,
            macvlan_mode: match l.kind {
                Kind::Macvlan { mode, .. } => Some(mode),
                _ => None,
            },
            master: None,
            master_index: l.master.map(|m| self.link(m).index),
            hairpin: l.master.map(|_| l.hairpin),
            vxlan: match l.kind {
                Kind::Vxlan(t) => Some(Vxlan {
                    id: t.id,
                    local: t.local,
                    remote: t.remote,
                    group: t.group,
                    device: t.device.map(|d| self.link(d).index),
                    // Named only where it is the link's own namespace's.
                    device_name: t
                        .device
                        .filter(|_| resolved && t.underlay == l.ns)
                        .map(|d| self.link(d).name.clone()),
                    port: t.port,
                    learning: t.learning,
                    ttl: t.ttl,
                }),
                _ => None,
            },
        };
        if !resolved {
            if let (Some(via), Some(p)) = (via, lower)
                && self.link(p).ns != l.ns
            {
                info.parent_namespace = Some(via.to_string());
            }
            return info;
        }
        info.master = l.master.map(|m| self.link(m).name.clone());
        if let Some(p) = lower {
            let p = self.link(p);
            if p.ns == l.ns {
                info.parent_name = Some(p.name.clone());
            } else {
                // The backend names the other namespace only when it holds
                // it open (it finds it by asking each one it holds).
                let other = &self.nss[&p.ns];
                if other.handles > 0 {
                    info.parent_name = Some(p.name.clone());
                    info.parent_namespace = Some(other.name.clone());
                }
            }
        }
        info
    }
}
