//! The kernel boundary: typed network operations, and the netlink backend
//! that performs them.
//!
//! Everything above this module (the sandbox, the WIT host, the ledger)
//! speaks these types only. Netlink messages, sockets and namespace file
//! descriptors stay below it, so a second backend — a simulated kernel for
//! tests without privileges — can implement [`Kernel`] without touching the
//! WIT layer. Errors here are plain `io::Error`s carrying the errno; the
//! caller knows which object and operation to name in the message.

pub mod icmp;
pub mod netlink;
pub mod netns;

use std::io;
use std::net::IpAddr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::net::{Cidr, Mac};

/// The name netwasm gives the root namespace (the one it runs in). No
/// named namespace can be called this: names cannot contain `/`.
pub const ROOT_NS: &str = "/";

/// A namespace the backend has open. Ids are never reused within a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NsId(pub u64);

/// Who a network namespace is, as opposed to what it is called: a name
/// under `/run/netns` can be removed and given to another namespace at any
/// time, so everything that outlives one host call (the journal, `down`,
/// `--attach`, `status`) names namespaces by this.
///
/// `dev` and `ino` are the namespace file's device and inode (what `stat`
/// shows for `/run/netns/NAME` or `/proc/PID/ns/net`). The kernel hands a
/// freed namespace's inode number to the next namespace made, so they alone
/// cannot tell a namespace from its successor; `id` can: the 64-bit id the
/// kernel gives each namespace and never gives again while it runs
/// (`NS_GET_ID`, Linux 6.18; before that the network namespace cookie,
/// `SO_NETNS_COOKIE`, read through a socket inside). 0 when the kernel has
/// neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NsIdent {
    pub dev: u64,
    pub ino: u64,
    pub id: u64,
}

impl NsIdent {
    /// Whether `other` is the same namespace. An id of 0 (a kernel that
    /// could not say) leaves the inode alone to decide.
    pub fn same(&self, other: &NsIdent) -> bool {
        self.dev == other.dev
            && self.ino == other.ino
            && (self.id == other.id || self.id == 0 || other.id == 0)
    }
}

impl std::fmt::Display for NsIdent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "net:[{}] id {}", self.ino, self.id)
    }
}

/// An interface index for a new link. The kernel numbers links from 1 up in
/// each namespace; this is drawn at random from far above that (2^24 to
/// 2^31), so it is free in practice, and the kernel refuses it (EEXIST)
/// rather than reuse it if not. Choosing the index lets the journal record
/// which link a creation makes before the link exists, so that no crash can
/// leave a link the journal knows only by a name someone else may take.
pub fn pick_ifindex() -> u32 {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    const LOW: u64 = 1 << 24;
    const SPAN: u64 = i32::MAX as u64 - LOW;
    // RandomState's keys come from the operating system's random source.
    let draw = std::collections::hash_map::RandomState::new()
        .hash_one(DRAWS.fetch_add(1, Ordering::Relaxed));
    (LOW + draw % SPAN) as u32
}

/// What [`Kernel::ns_create`] calls between making a namespace and naming
/// it: journals its identity. An error stops the creation.
pub type RecordFn = Box<dyn FnOnce(NsIdent) -> io::Result<()> + Send>;

/// Which step of [`Kernel::ns_create`] failed, for the caller to know what
/// the journal holds: nothing (`Make`, `Record`), or the namespace's
/// creation, which did not take effect (`Mount`).
#[derive(Debug)]
pub enum CreateError {
    Make(io::Error),
    Record(io::Error),
    Mount(io::Error),
}

/// What removing a namespace's name found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// The name denoted the namespace expected, and is removed.
    Removed,
    /// There was no such name: the namespace is gone already.
    Gone,
    /// The name denotes something else now (another namespace, the one
    /// netwasm runs in, or no namespace at all): it was left alone. Why.
    NotOurs(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacvlanMode {
    Private,
    Vepa,
    Bridge,
    Passthru,
    Source,
}

impl MacvlanMode {
    pub const ALL: [MacvlanMode; 5] = [
        MacvlanMode::Private,
        MacvlanMode::Vepa,
        MacvlanMode::Bridge,
        MacvlanMode::Passthru,
        MacvlanMode::Source,
    ];

    /// The name `ip -d link` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            MacvlanMode::Private => "private",
            MacvlanMode::Vepa => "vepa",
            MacvlanMode::Bridge => "bridge",
            MacvlanMode::Passthru => "passthru",
            MacvlanMode::Source => "source",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// RFC 2863 operational state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperState {
    Unknown,
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
}

impl OperState {
    /// The name `ip link` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            OperState::Unknown => "UNKNOWN",
            OperState::NotPresent => "NOTPRESENT",
            OperState::Down => "DOWN",
            OperState::LowerLayerDown => "LOWERLAYERDOWN",
            OperState::Testing => "TESTING",
            OperState::Dormant => "DORMANT",
            OperState::Up => "UP",
        }
    }
}

/// A link as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub namespace: String,
    pub kind: Option<String>,
    pub mac: Option<Mac>,
    pub mtu: u32,
    pub admin_up: bool,
    pub state: OperState,
    pub parent_index: Option<u32>,
    pub parent_name: Option<String>,
    pub parent_namespace: Option<String>,
    pub macvlan_mode: Option<MacvlanMode>,
    pub master: Option<String>,
    /// The bridge's index (in this link's namespace), when it has one.
    pub master_index: Option<u32>,
    pub hairpin: Option<bool>,
}

/// Which kind of link to create, with its kind-specific settings.
#[derive(Debug, Clone)]
pub enum NewLinkKind {
    /// A macvlan child of link `parent` (an index in namespace `parent_ns`).
    Macvlan {
        parent_ns: NsId,
        parent: u32,
        mode: Option<MacvlanMode>,
    },
    /// A veth pair; the peer is created directly in `peer_ns`.
    Veth {
        peer_name: String,
        peer_ns: NsId,
        /// The peer's interface index, chosen by the caller (see
        /// [`NewLink::index`]).
        peer_index: Option<u32>,
    },
    Bridge,
}

/// A link to create, directly in namespace `ns`.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub name: String,
    pub ns: NsId,
    /// The interface index to give the link, chosen by the caller so that
    /// it can journal the link's identity before the link exists; none lets
    /// the kernel choose.
    pub index: Option<u32>,
    pub kind: NewLinkKind,
    pub mac: Option<Mac>,
    pub mtu: Option<u32>,
    /// Set it administratively up as it is created (`ip link add ... up`):
    /// one request fewer than creating it and then setting it up.
    pub up: bool,
}

/// One change to an existing link.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkChange {
    Up,
    Down,
    Mtu(u32),
    Mac(Mac),
    /// Make the link a port of the bridge with this index, or of none.
    Master(Option<u32>),
    Hairpin(bool),
}

/// The protocol number netwasm gives the routes and addresses it adds
/// (`rtm_protocol`, `IFA_PROTO`): who added one is then the kernel's own
/// record, not a guess from its key, so a route or address someone else
/// added under the same key is never taken for the lab's. (`ip` shows it
/// as `proto 110`; no routing daemon uses it.)
pub const NETWASM_PROTO: u8 = 110;

/// An address on a link.
#[derive(Debug, Clone, PartialEq)]
pub struct AddrInfo {
    pub index: u32,
    pub cidr: Cidr,
    pub scope: String,
    /// Who added it (`IFA_PROTO`; 0 when not said).
    pub proto: u8,
}

/// A route to add or delete in the main table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    pub destination: Cidr,
    pub gateway: Option<IpAddr>,
    pub dev: Option<u32>,
    pub metric: Option<u32>,
    /// Deletes only a route added by this protocol; none matches any.
    /// (Adds always carry [`NETWASM_PROTO`].)
    pub protocol: Option<u8>,
}

/// A route as the kernel reports it (main table).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteInfo {
    pub destination: Cidr,
    pub gateway: Option<IpAddr>,
    pub dev_index: Option<u32>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
    pub protocol: String,
    /// `protocol` as the kernel's number.
    pub proto: u8,
    pub scope: String,
    pub source: Option<IpAddr>,
}

/// What a ping saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PingStats {
    pub sent: u32,
    pub received: u32,
    pub rtt_min_us: Option<u32>,
    pub rtt_avg_us: Option<u32>,
    pub rtt_max_us: Option<u32>,
}

/// One neighbour-table entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbor {
    pub address: IpAddr,
    pub mac: Option<Mac>,
    pub dev: String,
    /// `ip neigh` state name, lower case: reachable, stale, failed, ...
    pub state: String,
}

/// The typed operations netwasm performs on the kernel.
#[async_trait]
pub trait Kernel: Send + Sync {
    /// Creates and opens namespace `name` in one job on the thread that
    /// makes it: makes it with no name, calls `record` with its identity,
    /// and only then names it (see [`Kernel::ns_make`] for why). A plan of
    /// a batch journals itself in `record`, so each namespace costs one
    /// trip to a namespace thread, not two.
    async fn ns_create(&self, name: &str, record: RecordFn)
    -> Result<(NsId, NsIdent), CreateError>;
    /// Stops every namespace creation not yet under way and waits for those
    /// that are: afterwards everything the backend will ever have made is
    /// made and recorded. A run cut short (a deadline, a signal) calls this
    /// before it reads what to roll back, since a creation it abandoned may
    /// still be running on a namespace thread.
    async fn settle(&self) {}
    /// Makes a new namespace, with no name yet, and opens it. It lives as
    /// long as the backend holds it; [`Kernel::ns_mount`] names it. The two
    /// steps let the caller journal the namespace's identity before any name
    /// refers to it, so that no crash can leave a name the journal does not
    /// pin to its namespace. `name` is the name it is meant to get.
    async fn ns_make(&self, name: &str) -> io::Result<(NsId, NsIdent)>;
    /// Makes several namespaces, concurrently where the backend can: one
    /// result per name, in order. It undoes nothing: the caller closes the
    /// ones it does not keep. The default makes them one after another.
    async fn ns_make_all(&self, names: &[String]) -> Vec<io::Result<(NsId, NsIdent)>> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(self.ns_make(name).await);
        }
        out
    }
    /// Gives a namespace made by [`Kernel::ns_make`] its name (EEXIST when
    /// the name is taken, atomically: two makers racing for a name cannot
    /// both win).
    async fn ns_mount(&self, ns: NsId) -> io::Result<()>;
    /// Names several made namespaces, concurrently where the backend can.
    async fn ns_mount_all(&self, ns: &[NsId]) -> Vec<io::Result<()>> {
        let mut out = Vec::with_capacity(ns.len());
        for id in ns {
            out.push(self.ns_mount(*id).await);
        }
        out
    }
    /// Opens an existing named namespace.
    async fn ns_open(&self, name: &str) -> io::Result<(NsId, NsIdent)>;
    /// Opens the namespace this process runs in (the root namespace),
    /// under the name [`ROOT_NS`].
    async fn ns_open_root(&self) -> io::Result<(NsId, NsIdent)>;
    /// The identity of the namespace this process runs in: the root
    /// namespace, whatever other names it may have.
    fn ns_home(&self) -> io::Result<NsIdent>;
    /// The identity of an open namespace.
    fn ns_ident(&self, ns: NsId) -> Option<NsIdent>;
    /// Removes the name of an open namespace if it still names it, and
    /// closes everything held in it; the kernel destroys the namespace once
    /// no one else holds it.
    async fn ns_delete(&self, ns: NsId) -> io::Result<Removal>;
    /// Removes the name `name` if it names the namespace `expect`, without
    /// opening it. With no `expect` (a namespace recorded without its
    /// identity, removed by force), any network namespace under that name
    /// but the one this process runs in is removed.
    async fn ns_remove(&self, name: &str, expect: Option<NsIdent>) -> io::Result<Removal>;
    /// Removes several names as [`Kernel::ns_remove`] does, concurrently
    /// where the backend can: one result per name, in order. The default
    /// removes them one after another.
    async fn ns_remove_all(&self, names: &[(String, Option<NsIdent>)]) -> Vec<io::Result<Removal>> {
        let mut out = Vec::with_capacity(names.len());
        for (name, expect) in names {
            out.push(self.ns_remove(name, *expect).await);
        }
        out
    }
    /// Closes what the backend holds in `ns` without deleting it.
    fn ns_close(&self, ns: NsId);
    fn ns_exists(&self, name: &str) -> bool;
    fn ns_list(&self) -> io::Result<Vec<String>>;
    /// The name `ns` was opened or created under.
    fn ns_name(&self, ns: NsId) -> Option<String>;

    /// Creates a link; returns it (and the peer, for a veth) as created.
    async fn link_add(&self, link: &NewLink) -> io::Result<Vec<LinkInfo>>;
    async fn link_by_index(&self, ns: NsId, index: u32) -> io::Result<LinkInfo>;
    async fn link_by_name(&self, ns: NsId, name: &str) -> io::Result<LinkInfo>;
    async fn link_list(&self, ns: NsId) -> io::Result<Vec<LinkInfo>>;
    async fn link_set(&self, ns: NsId, index: u32, change: &LinkChange) -> io::Result<()>;
    /// Moves a link to namespace `to`, optionally renaming it; returns it as
    /// it is there.
    async fn link_move(
        &self,
        ns: NsId,
        index: u32,
        to: NsId,
        new_name: Option<&str>,
    ) -> io::Result<LinkInfo>;
    async fn link_del(&self, ns: NsId, index: u32) -> io::Result<()>;

    async fn addr_add(&self, ns: NsId, index: u32, cidr: Cidr) -> io::Result<()>;
    async fn addr_del(&self, ns: NsId, index: u32, cidr: Cidr) -> io::Result<()>;
    /// The addresses in `ns`, of one link or of all.
    async fn addr_list(&self, ns: NsId, index: Option<u32>) -> io::Result<Vec<AddrInfo>>;

    async fn route_add(&self, ns: NsId, route: &RouteSpec) -> io::Result<()>;
    async fn route_del(&self, ns: NsId, route: &RouteSpec) -> io::Result<()>;
    async fn route_list(&self, ns: NsId) -> io::Result<Vec<RouteInfo>>;
    /// The output link of the route the kernel would use to reach `to`
    /// from `ns` (`ip route get`), if it names one.
    async fn route_oif(&self, ns: NsId, to: IpAddr) -> io::Result<Option<u32>>;

    /// Turns IPv4 and IPv6 forwarding on or off in `ns`.
    async fn ns_set_forwarding(&self, ns: NsId, on: bool) -> io::Result<()>;

    /// ICMP echo from inside `ns` to `to`.
    async fn ping(
        &self,
        ns: NsId,
        to: IpAddr,
        count: u32,
        timeout: std::time::Duration,
    ) -> io::Result<PingStats>;
    /// The neighbour tables (ARP and NDP) of `ns`.
    async fn neighbors(&self, ns: NsId) -> io::Result<Vec<Neighbor>>;
}
