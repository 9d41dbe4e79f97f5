//! Addresses: adding, deleting and listing a link's IPv4 and IPv6
//! addresses.

use std::io;
use std::net::IpAddr;

use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::request::{CHANGE, CREATE, DUMP, request};
use super::{Netlink, parse};
use crate::vocab::net::Cidr;
use crate::vocab::{AddrInfo, NsId};

fn message(index: u32, cidr: Cidr, adding: bool) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.index = index;
    msg.header.prefix_len = cidr.prefix;
    match cidr.addr {
        IpAddr::V4(_) => {
            msg.header.family = AddressFamily::Inet;
            // As iproute2 does: IFA_LOCAL is the address, IFA_ADDRESS the
            // same on a broadcast link.
            msg.attributes.push(AddressAttribute::Local(cidr.addr));
            msg.attributes.push(AddressAttribute::Address(cidr.addr));
        }
        IpAddr::V6(_) => {
            msg.header.family = AddressFamily::Inet6;
            msg.attributes.push(AddressAttribute::Address(cidr.addr));
        }
    }
    if adding {
        msg.attributes.push(AddressAttribute::Protocol(
            netlink_packet_route::address::AddressProtocol::from(crate::vocab::NETWASM_PROTO),
        ));
    }
    msg
}

pub(super) async fn add(nl: &Netlink, ns: NsId, index: u32, cidr: Cidr) -> io::Result<()> {
    let space = nl.space(ns)?;
    request(
        &space.socket,
        RouteNetlinkMessage::NewAddress(message(index, cidr, true)),
        CREATE,
    )
    .await?;
    Ok(())
}

pub(super) async fn delete(nl: &Netlink, ns: NsId, index: u32, cidr: Cidr) -> io::Result<()> {
    let space = nl.space(ns)?;
    request(
        &space.socket,
        RouteNetlinkMessage::DelAddress(message(index, cidr, false)),
        CHANGE,
    )
    .await?;
    Ok(())
}

pub(super) async fn list(nl: &Netlink, ns: NsId, index: Option<u32>) -> io::Result<Vec<AddrInfo>> {
    let space = nl.space(ns)?;
    let replies = request(
        &space.socket,
        RouteNetlinkMessage::GetAddress(AddressMessage::default()),
        DUMP,
    )
    .await?;
    let mut out: Vec<AddrInfo> = replies
        .iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a) => parse::address(a),
            _ => None,
        })
        .filter(|a| index.is_none_or(|i| a.index == i))
        .collect();
    out.sort_by_key(|a| (a.index, a.cidr.addr.is_ipv6()));
    Ok(out)
}
