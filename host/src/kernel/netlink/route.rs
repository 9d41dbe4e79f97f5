//! Routes: adding, deleting and listing routes of the main table, and
//! asking which link the kernel would send through (`ip route get`).

use std::io;
use std::net::IpAddr;

use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::request::{CHANGE, CREATE, DUMP, GET, request};
use super::{Netlink, link, parse};
use crate::vocab::{NsId, RouteInfo, RouteSpec};

fn message(route: &RouteSpec, deleting: bool) -> RouteMessage {
    let mut msg = RouteMessage::default();
    let family = if route.destination.addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    msg.header = RouteHeader {
        address_family: family,
        destination_prefix_length: route.destination.prefix,
        table: RouteHeader::RT_TABLE_MAIN,
        protocol: if deleting {
            RouteProtocol::from(route.protocol.unwrap_or(0))
        } else {
            RouteProtocol::from(crate::vocab::NETWASM_PROTO)
        },
        // On delete, "nowhere" matches a route of any scope, as `ip route del`.
        scope: if deleting {
            RouteScope::NoWhere
        } else if route.gateway.is_none() {
            RouteScope::Link
        } else {
            RouteScope::Universe
        },
        kind: RouteType::Unicast,
        ..Default::default()
    };
    if route.destination.prefix > 0 {
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(
                route.destination.addr,
            )));
    }
    if let Some(gw) = route.gateway {
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
    }
    if let Some(dev) = route.dev {
        msg.attributes.push(RouteAttribute::Oif(dev));
    }
    if let Some(metric) = route.metric {
        msg.attributes.push(RouteAttribute::Priority(metric));
    }
    msg
}

pub(super) async fn add(nl: &Netlink, ns: NsId, route: &RouteSpec) -> io::Result<()> {
    let space = nl.space(ns)?;
    request(
        &space.socket,
        RouteNetlinkMessage::NewRoute(message(route, false)),
        CREATE,
    )
    .await?;
    Ok(())
}

pub(super) async fn delete(nl: &Netlink, ns: NsId, route: &RouteSpec) -> io::Result<()> {
    let space = nl.space(ns)?;
    request(
        &space.socket,
        RouteNetlinkMessage::DelRoute(message(route, true)),
        CHANGE,
    )
    .await?;
    Ok(())
}

pub(super) async fn list(nl: &Netlink, ns: NsId) -> io::Result<Vec<RouteInfo>> {
    let space = nl.space(ns)?;
    let replies = request(
        &space.socket,
        RouteNetlinkMessage::GetRoute(RouteMessage::default()),
        DUMP,
    )
    .await?;
    let mut routes: Vec<RouteInfo> = replies
        .iter()
        .flat_map(|m| match m {
            RouteNetlinkMessage::NewRoute(r) => parse::routes(r),
            _ => Vec::new(),
        })
        .collect();
    if routes.iter().any(|r| r.dev_index.is_some()) {
        let names = link::names_by_index(&space).await?;
        for r in &mut routes {
            r.dev = r.dev_index.and_then(|i| names.get(&i).cloned());
        }
    }
    routes.sort_by_key(|r| r.destination.addr.is_ipv6());
    Ok(routes)
}

pub(super) async fn oif(nl: &Netlink, ns: NsId, to: IpAddr) -> io::Result<Option<u32>> {
    let space = nl.space(ns)?;
    let mut msg = RouteMessage::default();
    msg.header.address_family = if to.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    msg.header.destination_prefix_length = if to.is_ipv4() { 32 } else { 128 };
    msg.attributes
        .push(RouteAttribute::Destination(RouteAddress::from(to)));
    let replies = request(&space.socket, RouteNetlinkMessage::GetRoute(msg), GET).await?;
    Ok(replies.iter().find_map(|m| match m {
        RouteNetlinkMessage::NewRoute(r) => r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Oif(i) => Some(*i),
            _ => None,
        }),
        _ => None,
    }))
}
