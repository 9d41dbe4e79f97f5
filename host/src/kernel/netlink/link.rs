//! Links: creating (veth, macvlan, bridge, vxlan), reading, changing, moving and
//! deleting them, and naming the links other links refer to by index.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoMacVlan, InfoPortData, InfoPortKind, InfoVeth,
    LinkAttribute, LinkInfo as NlInfo, LinkMessage,
};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use rtnetlink::{LinkMessageBuilder, LinkUnspec};

use super::request::{CHANGE, CREATE, DUMP, GET, request};
use super::{Netlink, Space, parse};
use crate::vocab::{LinkChange, LinkInfo, NewLink, NewLinkKind, NsId};

/// The link `msg` asks for (by index or by name), as the kernel has it.
pub(super) async fn get(space: &Space, msg: LinkMessage) -> io::Result<LinkMessage> {
    let replies = request(&space.socket, RouteNetlinkMessage::GetLink(msg), GET).await?;
    replies
        .into_iter()
        .find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(l),
            _ => None,
        })
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
}

/// Every link of the namespace, as the kernel has them.
pub(super) async fn dump(space: &Space) -> io::Result<Vec<LinkMessage>> {
    let replies = request(
        &space.socket,
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        DUMP,
    )
    .await?;
    Ok(replies
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(l),
            _ => None,
        })
        .collect())
}

/// The name of every link of the namespace, by index: for the objects
/// (routes, neighbours) the kernel reports with a link index only.
pub(super) async fn names_by_index(space: &Space) -> io::Result<HashMap<u32, String>> {
    Ok(dump(space)
        .await?
        .iter()
        .map(|l| {
            let p = parse::link(l, &space.name);
            (p.info.index, p.info.name)
        })
        .collect())
}

/// Fills in the names behind a link's indices: its master (same
/// namespace) and its lower link, which may live in another namespace
/// this process holds.
async fn resolve(
    nl: &Netlink,
    ns: NsId,
    space: &Space,
    parsed: parse::ParsedLink,
    same_ns: Option<&[LinkInfo]>,
) -> LinkInfo {
    let mut info = parsed.info;
    let lookup = |list: &[LinkInfo], index: u32| {
        list.iter()
            .find(|l| l.index == index)
            .map(|l| l.name.clone())
    };
    if let Some(master) = parsed.master_index {
        info.master = match same_ns {
            Some(list) => lookup(list, master),
            None => name_of(space, master).await,
        };
    }
    // A vxlan's device is in the namespace of its tunnel, which is its own
    // unless it was moved (then IFLA_LINK_NETNSID names the tunnel's).
    if let Some(v) = &mut info.vxlan
        && let Some(dev) = v.device
        && parsed.link_netnsid.is_none()
    {
        v.device_name = match same_ns {
            Some(list) => lookup(list, dev),
            None => name_of(space, dev).await,
        };
    }
    let Some(parent) = info.parent_index else {
        return info;
    };
    match parsed.link_netnsid {
        None => {
            info.parent_name = match same_ns {
                Some(list) => lookup(list, parent),
                None => name_of(space, parent).await,
            };
        }
        Some(nsid) => {
            if let Some(other) = peer_space(nl, ns, space, nsid).await
                && let Ok(other_space) = nl.space(other)
            {
                info.parent_name = name_of(&other_space, parent).await;
                info.parent_namespace = Some(other_space.name.clone());
            }
        }
    }
    info
}

async fn name_of(space: &Space, index: u32) -> Option<String> {
    let msg = LinkUnspec::new_with_index(index).build();
    let reply = get(space, msg).await.ok()?;
    Some(parse::link(&reply, &space.name).info.name)
}

/// Which open namespace `ns` knows as `nsid`. Asks the kernel for the id
/// of each candidate as seen from `ns`, caching every answer. Namespaces
/// already found as another's peer are asked first: the links of many
/// namespaces usually hang off one (a shared "physical" network), and
/// asking every open namespace in turn would cost each lookup as many
/// requests as there are namespaces (`show` of a lab of a thousand
/// macvlans took seconds).
async fn peer_space(nl: &Netlink, ns: NsId, space: &Space, nsid: i32) -> Option<NsId> {
    if let Some(found) = nl.nsids.lock().unwrap().get(&(ns, nsid)) {
        return Some(*found);
    }
    let (known, peers) = {
        let nsids = nl.nsids.lock().unwrap();
        let known: std::collections::HashSet<NsId> = nsids
            .iter()
            .filter(|((from, _), _)| *from == ns)
            .map(|(_, v)| *v)
            .collect();
        let mut peers: Vec<NsId> = nsids.values().copied().collect();
        peers.sort_unstable_by_key(|id| id.0);
        peers.dedup();
        (known, peers)
    };
    let untried = |id: &NsId| *id != ns && !known.contains(id);
    let first: Vec<(NsId, Arc<Space>)> = {
        let spaces = nl.spaces.lock().unwrap();
        peers
            .iter()
            .filter(|id| untried(id))
            .filter_map(|id| Some((*id, spaces.get(id)?.clone())))
            .collect()
    };
    for (id, other) in &first {
        if ask_nsid(nl, ns, space, *id, other).await == Some(nsid) {
            return Some(*id);
        }
    }
    let rest: Vec<(NsId, Arc<Space>)> = {
        let spaces = nl.spaces.lock().unwrap();
        spaces
            .iter()
            .filter(|(id, _)| untried(id) && peers.binary_search_by_key(&id.0, |p| p.0).is_err())
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    };
    for (id, other) in &rest {
        if ask_nsid(nl, ns, space, *id, other).await == Some(nsid) {
            return Some(*id);
        }
    }
    None
}

/// The id namespace `ns` (open as `space`) knows `other` by, if it has
/// one; cached.
async fn ask_nsid(nl: &Netlink, ns: NsId, space: &Space, id: NsId, other: &Space) -> Option<i32> {
    let mut msg = NsidMessage::default();
    msg.attributes
        .push(NsidAttribute::Fd(other.fd.as_raw_fd() as u32));
    let replies = request(&space.socket, RouteNetlinkMessage::GetNsId(msg), CHANGE)
        .await
        .ok()?;
    let seen = replies.iter().find_map(|m| match m {
        RouteNetlinkMessage::NewNsId(r) => r.attributes.iter().find_map(|a| match a {
            NsidAttribute::Id(i) if *i >= 0 => Some(*i),
            _ => None,
        }),
        _ => None,
    })?;
    nl.nsids.lock().unwrap().insert((ns, seen), id);
    Some(seen)
}

async fn set(space: &Space, msg: LinkMessage) -> io::Result<()> {
    request(&space.socket, RouteNetlinkMessage::NewLink(msg), CHANGE).await?;
    Ok(())
}

pub(super) async fn add(nl: &Netlink, link: &NewLink) -> io::Result<Vec<LinkInfo>> {
    let target = nl.space(link.ns)?;
    // A macvlan's parent index means something only in the parent's
    // namespace, so the request goes there and names the target by fd:
    // the kernel then creates the child directly in the target, which
    // is far cheaper than creating it next to the parent and moving it.
    let (via, info_data, kind, peer) = match &link.kind {
        NewLinkKind::Macvlan {
            parent_ns,
            parent,
            mode,
        } => {
            let mut data = Vec::new();
            if let Some(m) = mode {
                data.push(InfoMacVlan::Mode(parse::nl_macvlan_mode(*m)));
            }
            let via = nl.space(*parent_ns)?;
            (
                via,
                Some((InfoData::MacVlan(data), *parent)),
                InfoKind::MacVlan,
                None,
            )
        }
        NewLinkKind::Veth {
            peer_name,
            peer_ns,
            peer_index,
        } => {
            let peer_space = nl.space(*peer_ns)?;
            let mut peer_msg = LinkUnspec::new_with_name(peer_name).build();
            if let Some(i) = peer_index {
                peer_msg.header.index = *i;
            }
            if *peer_ns != link.ns {
                peer_msg
                    .attributes
                    .push(LinkAttribute::NetNsFd(peer_space.fd.as_raw_fd()));
            }
            let data = InfoData::Veth(InfoVeth::Peer(peer_msg));
            (
                target.clone(),
                Some((data, 0)),
                InfoKind::Veth,
                Some((peer_space, peer_name.clone(), *peer_index)),
            )
        }
        NewLinkKind::Bridge => (target.clone(), None, InfoKind::Bridge, None),
        // Asked in its own namespace, so that its tunnel's socket, its
        // device and the routes to its remote are that namespace's.
        NewLinkKind::Vxlan(v) => (
            target.clone(),
            Some((InfoData::Vxlan(parse::nl_vxlan(v)), 0)),
            InfoKind::Vxlan,
            None,
        ),
    };
    let mut builder =
        LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(kind).name(link.name.clone());
    if let Some((data, parent)) = info_data {
        builder = builder.set_info_data(data);
        if parent != 0 {
            builder = builder.link(parent);
        }
    }
    if let Some(mac) = link.mac {
        builder = builder.address(mac.0.to_vec());
    }
    if let Some(mtu) = link.mtu {
        builder = builder.mtu(mtu);
    }
    if link.up {
        builder = builder.up();
    }
    if !Arc::ptr_eq(&via, &target) {
        builder = builder.setns_by_fd(target.fd.as_raw_fd());
    }
    let mut msg = builder.build();
    if let Some(i) = link.index {
        // With NLM_F_EXCL the kernel creates the link with this index,
        // or refuses (EEXIST) if any link has it: it never changes a
        // link that has.
        msg.header.index = i;
    }
    request(&via.socket, RouteNetlinkMessage::NewLink(msg), CREATE).await?;

    // By the index it was created with, where one was chosen: its name
    // may be someone else's by now (a rename in a namespace others act
    // in), its index not.
    let by = |index: Option<u32>, name: &str| match index {
        Some(i) => LinkUnspec::new_with_index(i).build(),
        None => LinkUnspec::new_with_name(name).build(),
    };
    let mut created = Vec::new();
    let msg = get(&target, by(link.index, &link.name)).await?;
    let mut info = parse::link(&msg, &target.name).info;
    if let NewLinkKind::Macvlan { .. } = &link.kind {
        // We know the parent; spare the lookup.
        if !Arc::ptr_eq(&via, &target) {
            info.parent_namespace = Some(via.name.clone());
        }
    }
    created.push(info);
    if let Some((peer_space, peer_name, peer_index)) = peer {
        let msg = get(&peer_space, by(peer_index, &peer_name)).await?;
        created.push(parse::link(&msg, &peer_space.name).info);
    }
    Ok(created)
}

pub(super) async fn by_index(nl: &Netlink, ns: NsId, index: u32) -> io::Result<LinkInfo> {
    let space = nl.space(ns)?;
    let msg = get(&space, LinkUnspec::new_with_index(index).build()).await?;
    Ok(resolve(nl, ns, &space, parse::link(&msg, &space.name), None).await)
}

pub(super) async fn by_name(nl: &Netlink, ns: NsId, name: &str) -> io::Result<LinkInfo> {
    let space = nl.space(ns)?;
    let msg = get(&space, LinkUnspec::new_with_name(name).build()).await?;
    Ok(resolve(nl, ns, &space, parse::link(&msg, &space.name), None).await)
}

pub(super) async fn list(nl: &Netlink, ns: NsId) -> io::Result<Vec<LinkInfo>> {
    let space = nl.space(ns)?;
    let parsed: Vec<_> = dump(&space)
        .await?
        .iter()
        .map(|m| parse::link(m, &space.name))
        .collect();
    let plain: Vec<LinkInfo> = parsed.iter().map(|p| p.info.clone()).collect();
    let mut out = Vec::with_capacity(parsed.len());
    for p in parsed {
        out.push(resolve(nl, ns, &space, p, Some(&plain)).await);
    }
    out.sort_by_key(|l| l.index);
    Ok(out)
}

pub(super) async fn change(
    nl: &Netlink,
    ns: NsId,
    index: u32,
    change: &LinkChange,
) -> io::Result<()> {
    let space = nl.space(ns)?;
    let b = LinkUnspec::new_with_index(index);
    let msg = match change {
        LinkChange::Up => b.up().build(),
        LinkChange::Down => b.down().build(),
        LinkChange::Mtu(m) => b.mtu(*m).build(),
        LinkChange::Mac(mac) => b.address(mac.0.to_vec()).build(),
        LinkChange::Master(Some(br)) => b.controller(*br).build(),
        LinkChange::Master(None) => b.nocontroller().build(),
        LinkChange::Hairpin(on) => {
            let mut msg = b.build();
            msg.attributes.push(LinkAttribute::LinkInfo(vec![
                NlInfo::PortKind(InfoPortKind::Bridge),
                NlInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                    *on,
                )])),
            ]));
            msg
        }
    };
    set(&space, msg).await
}

pub(super) async fn move_to(
    nl: &Netlink,
    ns: NsId,
    index: u32,
    to: NsId,
    new_name: Option<&str>,
) -> io::Result<LinkInfo> {
    let space = nl.space(ns)?;
    let target = nl.space(to)?;
    let mut b = LinkUnspec::new_with_index(index).setns_by_fd(target.fd.as_raw_fd());
    if let Some(n) = new_name {
        b = b.name(n.to_string());
    }
    let mut msg = b.build();
    // The link keeps its index in the new namespace, or the move fails
    // (EBUSY): the caller journals the move by that index, and finds the
    // link by it if the move half succeeds (the kernel moves before it
    // renames, and a failed rename leaves the link moved, unrenamed).
    msg.attributes.push(LinkAttribute::NewIfIndex(index as i32));
    set(&space, msg).await?;
    by_index(nl, to, index).await
}

pub(super) async fn delete(nl: &Netlink, ns: NsId, index: u32) -> io::Result<()> {
    let space = nl.space(ns)?;
    let msg = LinkUnspec::new_with_index(index).build();
    request(&space.socket, RouteNetlinkMessage::DelLink(msg), CHANGE).await?;
    Ok(())
}
