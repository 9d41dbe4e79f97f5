//! Neighbours: the ARP and NDP tables.

use std::io;

use netlink_packet_route::RouteNetlinkMessage;

use super::request::{DUMP, request};
use super::{Netlink, link, parse};
use crate::vocab::{Neighbor, NsId};

pub(super) async fn list(nl: &Netlink, ns: NsId) -> io::Result<Vec<Neighbor>> {
    let space = nl.space(ns)?;
    let replies = request(
        &space.socket,
        RouteNetlinkMessage::GetNeighbour(Default::default()),
        DUMP,
    )
    .await?;
    let names = link::names_by_index(&space).await?;
    Ok(replies
        .iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewNeighbour(n) => parse::neighbor(n, &names),
            _ => None,
        })
        .collect())
}
