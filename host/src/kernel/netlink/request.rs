//! One netlink round trip: send a request, collect the replies, turn a
//! kernel NACK into an `io::Error` carrying its errno.

use std::io;

use futures::StreamExt;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::Handle;

/// Create a new object; fail if it exists.
pub const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
/// Change or delete an existing object.
pub const CHANGE: u16 = NLM_F_REQUEST | NLM_F_ACK;
/// List objects.
pub const DUMP: u16 = NLM_F_REQUEST | NLM_F_DUMP;
/// Get one object.
pub const GET: u16 = NLM_F_REQUEST;

/// Sends `message` with `flags` and returns every reply message.
pub async fn request(
    handle: &Handle,
    message: RouteNetlinkMessage,
    flags: u16,
) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut req = NetlinkMessage::from(message);
    req.header.flags = flags;
    let mut responses = handle
        .clone()
        .request(req)
        .map_err(|e| io::Error::other(format!("netlink connection closed: {e}")))?;
    let mut out = Vec::new();
    while let Some(msg) = responses.next().await {
        match msg.payload {
            NetlinkPayload::InnerMessage(inner) => out.push(inner),
            NetlinkPayload::Error(err) => {
                if let Some(code) = err.code {
                    return Err(io::Error::from_raw_os_error(-code.get()));
                }
            }
            NetlinkPayload::Done(_) | NetlinkPayload::Noop | NetlinkPayload::Overrun(_) => {}
            _ => {}
        }
    }
    Ok(out)
}
