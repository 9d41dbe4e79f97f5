//! Kernel messages to netwasm's typed facts.

use std::net::IpAddr;

use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoMacVlan, InfoPortData, InfoVxlan, LinkAttribute, LinkFlags,
    LinkInfo as NlInfo, LinkMessage, MacVlanMode as NlMode, State,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};

use std::collections::HashMap;

use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};

use crate::vocab::net::{Cidr, Mac};
use crate::vocab::{
    AddrInfo, LinkInfo, MacvlanMode, Neighbor, NudState, OperState, RouteInfo, Vxlan,
};

/// The main routing table's id.
pub const RT_TABLE_MAIN: u32 = 254;

/// A link message, parsed, with the references still to resolve.
pub struct ParsedLink {
    pub info: LinkInfo,
    /// `IFLA_LINK_NETNSID`: the lower link lives in the namespace this
    /// namespace knows by that id.
    pub link_netnsid: Option<i32>,
    pub master_index: Option<u32>,
}

pub fn link(msg: &LinkMessage, namespace: &str) -> ParsedLink {
    let mut info = LinkInfo {
        index: msg.header.index,
        name: String::new(),
        namespace: namespace.to_string(),
        kind: None,
        mac: None,
        mtu: 0,
        admin_up: msg.header.flags.contains(LinkFlags::Up),
        state: OperState::Unknown,
        parent_index: None,
        parent_name: None,
        parent_namespace: None,
        macvlan_mode: None,
        master: None,
        master_index: None,
        hairpin: None,
        vxlan: None,
    };
    let mut link_netnsid = None;
    let mut master_index = None;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name = n.clone(),
            LinkAttribute::Address(a) => info.mac = Mac::from_slice(a),
            LinkAttribute::Mtu(m) => info.mtu = *m,
            LinkAttribute::OperState(s) => info.state = oper_state(s),
            LinkAttribute::Link(i) => info.parent_index = Some(*i),
            LinkAttribute::LinkNetNsId(id) => link_netnsid = Some(*id),
            LinkAttribute::Controller(i) => {
                master_index = Some(*i);
                info.master_index = Some(*i);
            }
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    match i {
                        NlInfo::Kind(k) => info.kind = Some(k.to_string()),
                        NlInfo::Data(InfoData::MacVlan(d)) => {
                            for m in d {
                                if let InfoMacVlan::Mode(mode) = m {
                                    info.macvlan_mode = macvlan_mode(*mode);
                                }
                            }
                        }
                        NlInfo::Data(InfoData::Vxlan(d)) => info.vxlan = Some(vxlan(d)),
                        NlInfo::PortData(InfoPortData::BridgePort(p)) => {
                            for a in p {
                                if let InfoBridgePort::HairpinMode(h) = a {
                                    info.hairpin = Some(*h);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    // Index 0, or our own index within our own namespace, is no lower link.
    // (Across namespaces the parent may well share our index number.)
    if info.parent_index == Some(0)
        || (link_netnsid.is_none() && info.parent_index == Some(info.index))
    {
        info.parent_index = None;
    }
    ParsedLink {
        info,
        link_netnsid,
        master_index,
    }
}

/// A vxlan's settings. The kernel keeps a unicast remote and a multicast
/// group in one attribute (`IFLA_VXLAN_GROUP`/`GROUP6`), as `ip` does:
/// which it is, the address says.
fn vxlan(d: &[InfoVxlan]) -> Vxlan {
    let mut v = Vxlan {
        id: 0,
        local: None,
        remote: None,
        group: None,
        device: None,
        device_name: None,
        // No IFLA_VXLAN_PORT: the kernel's default.
        port: 8472,
        learning: false,
        ttl: 0,
    };
    let mut dest: Option<IpAddr> = None;
    for a in d {
        match a {
            InfoVxlan::Id(id) => v.id = *id,
            InfoVxlan::Group(g) => dest = Some(IpAddr::V4(*g)),
            InfoVxlan::Group6(g) => dest = Some(IpAddr::V6(*g)),
            InfoVxlan::Local(l) => v.local = Some(IpAddr::V4(*l)),
            InfoVxlan::Local6(l) => v.local = Some(IpAddr::V6(*l)),
            InfoVxlan::Link(i) if *i != 0 => v.device = Some(*i),
            InfoVxlan::Port(p) => v.port = *p,
            InfoVxlan::Learning(l) => v.learning = *l,
            InfoVxlan::Ttl(t) => v.ttl = *t,
            _ => {}
        }
    }
    // The kernel reports an unset address as all zeros.
    v.local = v.local.filter(|a| !a.is_unspecified());
    match dest.filter(|a| !a.is_unspecified()) {
        Some(a) if a.is_multicast() => v.group = Some(a),
        other => v.remote = other,
    }
    v
}

/// The request for a new vxlan (see [`vxlan`] for the one address of
/// `remote` and `group`).
pub fn nl_vxlan(v: &Vxlan) -> Vec<InfoVxlan> {
    let mut d = vec![
        InfoVxlan::Id(v.id),
        InfoVxlan::Port(v.port),
        InfoVxlan::Learning(v.learning),
        InfoVxlan::Ttl(v.ttl),
    ];
    if let Some(dest) = v.remote.or(v.group) {
        d.push(match dest {
            IpAddr::V4(a) => InfoVxlan::Group(a),
            IpAddr::V6(a) => InfoVxlan::Group6(a),
        });
    }
    if let Some(local) = v.local {
        d.push(match local {
            IpAddr::V4(a) => InfoVxlan::Local(a),
            IpAddr::V6(a) => InfoVxlan::Local6(a),
        });
    }
    if let Some(dev) = v.device {
        d.push(InfoVxlan::Link(dev));
    }
    d
}

fn oper_state(s: &State) -> OperState {
    match s {
        State::NotPresent => OperState::NotPresent,
        State::Down => OperState::Down,
        State::LowerLayerDown => OperState::LowerLayerDown,
        State::Testing => OperState::Testing,
        State::Dormant => OperState::Dormant,
        State::Up => OperState::Up,
        _ => OperState::Unknown,
    }
}

fn macvlan_mode(m: NlMode) -> Option<MacvlanMode> {
    Some(match m {
        NlMode::Private => MacvlanMode::Private,
        NlMode::Vepa => MacvlanMode::Vepa,
        NlMode::Bridge => MacvlanMode::Bridge,
        NlMode::Passthrough => MacvlanMode::Passthru,
        NlMode::Source => MacvlanMode::Source,
        _ => return None,
    })
}

pub fn nl_macvlan_mode(m: MacvlanMode) -> NlMode {
    match m {
        MacvlanMode::Private => NlMode::Private,
        MacvlanMode::Vepa => NlMode::Vepa,
        MacvlanMode::Bridge => NlMode::Bridge,
        MacvlanMode::Passthru => NlMode::Passthrough,
        MacvlanMode::Source => NlMode::Source,
    }
}

pub fn address(msg: &AddressMessage) -> Option<AddrInfo> {
    // For IPv4 IFA_LOCAL is the interface's own address; IFA_ADDRESS is the
    // peer on point-to-point links. IPv6 has only IFA_ADDRESS.
    let mut local = None;
    let mut addr = None;
    for a in &msg.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => addr = Some(*ip),
            _ => {}
        }
    }
    let ip: IpAddr = local.or(addr)?;
    let proto = msg
        .attributes
        .iter()
        .find_map(|a| match a {
            AddressAttribute::Protocol(p) => Some(u8::from(*p)),
            _ => None,
        })
        .unwrap_or(0);
    Some(AddrInfo {
        proto,
        index: msg.header.index,
        cidr: Cidr::new(ip, msg.header.prefix_len),
        scope: addr_scope(msg.header.scope),
    })
}

fn addr_scope(s: AddressScope) -> String {
    match s {
        AddressScope::Universe => "global".into(),
        AddressScope::Site => "site".into(),
        AddressScope::Link => "link".into(),
        AddressScope::Host => "host".into(),
        AddressScope::Nowhere => "nowhere".into(),
        AddressScope::Other(n) => n.to_string(),
        _ => "unknown".into(),
    }
}

/// Parses a route of the main table, one [`RouteInfo`] per next hop (an
/// IPv6 route with siblings, or any multipath route, has several, each of
/// which is a route as far as a key goes); other tables and non-unicast
/// routes (local, broadcast, multicast) give none.
pub fn routes(msg: &RouteMessage) -> Vec<RouteInfo> {
    let Some(first) = route(msg) else {
        return Vec::new();
    };
    let hops = msg.attributes.iter().find_map(|a| match a {
        RouteAttribute::MultiPath(hops) => Some(hops),
        _ => None,
    });
    match hops {
        Some(hops) if !hops.is_empty() => hops
            .iter()
            .map(|h| RouteInfo {
                gateway: h.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Gateway(g) => route_addr(g),
                    _ => None,
                }),
                dev_index: Some(h.interface_index),
                ..first.clone()
            })
            .collect(),
        _ => vec![first],
    }
}

fn route(msg: &RouteMessage) -> Option<RouteInfo> {
    let mut table = msg.header.table as u32;
    let mut dst = None;
    let mut gateway = None;
    let mut dev_index = None;
    let mut metric = None;
    let mut source = None;
    for a in &msg.attributes {
        match a {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(d) => dst = route_addr(d),
            RouteAttribute::Gateway(g) => gateway = route_addr(g),
            RouteAttribute::Oif(i) => dev_index = Some(*i),
            RouteAttribute::Priority(p) => metric = Some(*p),
            RouteAttribute::PrefSource(s) => source = route_addr(s),
            _ => {}
        }
    }
    if table != RT_TABLE_MAIN || msg.header.kind != RouteType::Unicast {
        return None;
    }
    let unspecified = match msg.header.address_family {
        AddressFamily::Inet6 => IpAddr::V6(0.into()),
        _ => IpAddr::V4(0.into()),
    };
    Some(RouteInfo {
        proto: u8::from(msg.header.protocol),
        destination: Cidr::new(
            dst.unwrap_or(unspecified),
            msg.header.destination_prefix_length,
        ),
        gateway,
        dev_index,
        dev: None,
        metric,
        protocol: protocol_name(msg.header.protocol),
        scope: route_scope(msg.header.scope),
        source,
    })
}

fn route_addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn protocol_name(p: RouteProtocol) -> String {
    match p {
        RouteProtocol::Kernel => "kernel".into(),
        RouteProtocol::Boot => "boot".into(),
        RouteProtocol::Static => "static".into(),
        RouteProtocol::Ra => "ra".into(),
        RouteProtocol::Dhcp => "dhcp".into(),
        other => u8::from(other).to_string(),
    }
}

fn route_scope(s: RouteScope) -> String {
    match s {
        RouteScope::Universe => "global".into(),
        RouteScope::Site => "site".into(),
        RouteScope::Link => "link".into(),
        RouteScope::Host => "host".into(),
        RouteScope::NoWhere => "nowhere".into(),
        RouteScope::Other(n) => n.to_string(),
        _ => "unknown".into(),
    }
}

/// A neighbour entry; multicast and other non-IP entries give `None`.
pub fn neighbor(msg: &NeighbourMessage, names: &HashMap<u32, String>) -> Option<Neighbor> {
    let mut address = None;
    let mut mac = None;
    for a in &msg.attributes {
        match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                address = Some(IpAddr::V4(*v4))
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                address = Some(IpAddr::V6(*v6))
            }
            NeighbourAttribute::LinkLayerAddress(l) => mac = Mac::from_slice(l),
            _ => {}
        }
    }
    let state = match msg.header.state {
        NeighbourState::Incomplete => NudState::Incomplete,
        NeighbourState::Reachable => NudState::Reachable,
        NeighbourState::Stale => NudState::Stale,
        NeighbourState::Delay => NudState::Delay,
        NeighbourState::Probe => NudState::Probe,
        NeighbourState::Failed => NudState::Failed,
        NeighbourState::Noarp => NudState::Noarp,
        NeighbourState::Permanent => NudState::Permanent,
        _ => NudState::None,
    };
    Some(Neighbor {
        address: address?,
        mac,
        dev: names
            .get(&msg.header.ifindex)
            .cloned()
            .unwrap_or_else(|| msg.header.ifindex.to_string()),
        state,
    })
}
