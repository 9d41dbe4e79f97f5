//! Links: their kinds and macvlan modes, what the kernel reports of one,
//! what to create, and the changes netwasm makes.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::net::Mac;
use super::ns::NsId;

/// The kinds of link netwasm creates. (The kernel reports others, as
/// strings: [`LinkInfo::kind`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    Macvlan,
    Veth,
    Bridge,
    Vxlan,
}

impl LinkKind {
    pub const ALL: [LinkKind; 4] = [
        LinkKind::Macvlan,
        LinkKind::Veth,
        LinkKind::Bridge,
        LinkKind::Vxlan,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The name `ip -d link` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Macvlan => "macvlan",
            LinkKind::Veth => "veth",
            LinkKind::Bridge => "bridge",
            LinkKind::Vxlan => "vxlan",
        }
    }
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

impl fmt::Display for MacvlanMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// The tunnel settings, for vxlan links.
    pub vxlan: Option<Vxlan>,
}

/// The largest VXLAN network identifier: a VNI has 24 bits.
pub const VNI_MAX: u32 = (1 << 24) - 1;

/// The UDP port netwasm asks for when the guest names none: IANA's VXLAN
/// port. The kernel's own default (no `IFLA_VXLAN_PORT`) is Linux's older
/// 8472, which no other VXLAN implementation uses by default.
pub const VXLAN_PORT: u16 = 4789;

/// A vxlan's tunnel: what to create, and what the kernel reports
/// (`ip -d link show` prints it after `vxlan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vxlan {
    /// The VXLAN network identifier, 0 to [`VNI_MAX`].
    pub id: u32,
    /// The underlay address it sends from; none lets the route decide.
    pub local: Option<IpAddr>,
    /// The unicast endpoint it sends to when it knows no better (its
    /// default FDB entry); at most one of `remote` and `group`.
    pub remote: Option<IpAddr>,
    /// The multicast group it sends to and joins.
    pub group: Option<IpAddr>,
    /// The underlay link, by index in the namespace the vxlan was made in.
    pub device: Option<u32>,
    /// The underlay link's name, when the backend resolved it.
    pub device_name: Option<String>,
    /// The UDP destination port.
    pub port: u16,
    /// Whether it learns remote MACs from the frames it receives.
    pub learning: bool,
    /// The TTL of its packets; 0 is `ttl auto` (the route's default).
    pub ttl: u8,
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
    /// A vxlan; its `device`, if any, is an index in the new link's
    /// namespace (`device_name` is not read).
    Vxlan(Vxlan),
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
