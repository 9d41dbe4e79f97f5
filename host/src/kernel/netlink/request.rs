//! One netlink round trip: send a request, collect the replies, turn a
//! kernel NACK into an `io::Error` carrying its errno and, when the kernel
//! explained it (extended ACK), its message ([`crate::kernel::refused`]).
//!
//! Each namespace's route socket is driven directly by the task that makes
//! the request, with no connection task in between. The kernel handles an
//! rtnetlink request synchronously inside `send(2)` and queues its replies
//! before the call returns (a dump's further parts are made inside the
//! `recv(2)` that reads them), so a round trip is one `send` and one `recv`
//! on the caller's own thread: no channel hop, no other thread to wake, no
//! event loop turn. Only if a reply is not there yet does the request wait
//! for the socket to become readable.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_MULTIPART,
    NLM_F_REQUEST, NetlinkBuffer, NetlinkMessage, NetlinkPayload, NlasIterator,
};
use netlink_packet_route::RouteNetlinkMessage;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Create a new object; fail if it exists.
pub const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
/// Change or delete an existing object.
pub const CHANGE: u16 = NLM_F_REQUEST | NLM_F_ACK;
/// List objects.
pub const DUMP: u16 = NLM_F_REQUEST | NLM_F_DUMP;
/// Get one object.
pub const GET: u16 = NLM_F_REQUEST;

/// The largest datagram a reply can come in. The kernel caps a dump's
/// datagrams at 32 KiB unless one message needs more; 64 KiB is what
/// netlink-proto assumes too. The buffer is not zeroed, so only the bytes a
/// reply fills are ever touched.
const RECV_CAPACITY: usize = 64 * 1024;

/// A route netlink socket opened inside one namespace (non-blocking).
pub struct Socket {
    /// The socket's registration with tokio's reactor, made the first time
    /// a request has to wait for a reply, which is rare (see above). Left
    /// unregistered, the socket does not wake a runtime thread with every
    /// reply. Declared before `fd`, so it is dropped (deregistered) first.
    readiness: OnceLock<AsyncFd<RawSocket>>,
    fd: OwnedFd,
    /// Serializes round trips on the socket and numbers them. A reply
    /// carrying another number belongs to an earlier request that was
    /// abandoned halfway (its future dropped) and is skipped.
    seq: tokio::sync::Mutex<u32>,
}

/// The socket's descriptor, as the reactor registration sees it.
struct RawSocket(RawFd);

impl AsRawFd for RawSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

impl Socket {
    /// Takes over `fd`, a non-blocking `NETLINK_ROUTE` socket.
    pub fn new(fd: OwnedFd) -> Self {
        Self {
            readiness: OnceLock::new(),
            fd,
            seq: tokio::sync::Mutex::new(0),
        }
    }

    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: a valid buffer of that length. An unconnected netlink
            // socket sends to the kernel (port 0) and binds itself first.
            let n =
                unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
            if n >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// One datagram into `buf`'s spare capacity; its full length, which is
    /// larger than the capacity if it was cut.
    fn recv(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        buf.clear();
        loop {
            let spare = buf.spare_capacity_mut();
            // SAFETY: writes at most `spare.len()` bytes into memory `buf`
            // owns; MSG_TRUNC makes the result the datagram's real length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    spare.as_mut_ptr().cast(),
                    spare.len(),
                    libc::MSG_TRUNC | libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                let n = n as usize;
                // SAFETY: the kernel initialised the first min(n, capacity) bytes.
                unsafe { buf.set_len(n.min(buf.capacity())) };
                return Ok(n);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Reads one datagram, waiting for one if none is queued. The caller
    /// holds `seq`, so only one task at a time gets here.
    async fn recv_wait(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self.recv(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
        if self.readiness.get().is_none() {
            // SAFETY: the descriptor stays open, and the same, while the
            // registration lives: `fd` is dropped after `readiness`.
            let registration = unsafe {
                AsyncFd::register_with_interest(RawSocket(self.fd.as_raw_fd()), Interest::READABLE)?
            };
            let _ = self.readiness.set(registration);
        }
        let readiness = self.readiness.get().expect("registered above");
        loop {
            let mut ready = readiness.readable().await?;
            match ready.try_io(|_| self.recv(buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

/// Sends `message` with `flags` on `socket` and returns every reply message.
pub async fn request(
    socket: &Socket,
    message: RouteNetlinkMessage,
    flags: u16,
) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut seq = socket.seq.lock().await;
    *seq = seq.wrapping_add(1);
    let seq = *seq;

    let mut req = NetlinkMessage::from(message);
    req.header.flags = flags;
    req.header.sequence_number = seq;
    req.finalize();
    let mut bytes = vec![0; req.buffer_len()];
    req.serialize(&mut bytes);
    socket.send(&bytes)?;

    let mut out = Vec::new();
    let mut buf = Vec::with_capacity(RECV_CAPACITY);
    loop {
        let len = socket.recv_wait(&mut buf).await?;
        if len > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a netlink reply of {len} bytes is larger than {RECV_CAPACITY}"),
            ));
        }
        let mut at = 0;
        while at < buf.len() {
            let part = NetlinkBuffer::new_checked(&buf[at..]).map_err(bad_reply)?;
            let size = part.length() as usize;
            let (reply_seq, reply_flags) = (part.sequence_number(), part.flags());
            let bytes = &buf[at..at + size];
            at += (size + 3) & !3;
            if reply_seq != seq {
                continue;
            }
            let reply =
                NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes).map_err(bad_reply)?;
            match reply.payload {
                NetlinkPayload::InnerMessage(inner) => {
                    out.push(inner);
                    // A lone reply ends a request that asked for no ACK.
                    if flags & NLM_F_ACK == 0 && reply_flags & NLM_F_MULTIPART == 0 {
                        return Ok(out);
                    }
                }
                // An ACK (no code) or a NACK ends the request.
                NetlinkPayload::Error(err) => {
                    return match err.code {
                        Some(code) => Err(crate::kernel::refused(
                            -code.get(),
                            ext_ack_message(reply_flags, &err.header).as_deref(),
                        )),
                        None => Ok(out),
                    };
                }
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::Noop | NetlinkPayload::Overrun(_) => {}
                _ => {}
            }
        }
    }
}

/// `NLMSGERR_ATTR_MSG`: the extended ACK's message, a NUL-terminated string.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// The size of a netlink message header.
const NLMSG_HDRLEN: usize = 16;

/// The message of an error's extended ACK, if it has one. `flags` are the
/// error message's header flags; `payload` is what follows its error code:
/// the original request (only its header with `NLM_F_CAPPED`), then, with
/// `NLM_F_ACK_TLVS`, the extended ACK's attributes.
///
/// netlink-packet-core 0.9 keeps that payload as raw bytes (its
/// `ErrorMessage::header`) and does not read the attributes, so they are
/// found here and read with its attribute iterator.
fn ext_ack_message(flags: u16, payload: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let original = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        // The whole request, as long as its header says, padded to 4.
        let len = u32::from_ne_bytes(payload.get(..4)?.try_into().ok()?) as usize;
        (len.max(NLMSG_HDRLEN) + 3) & !3
    };
    let tlvs = payload.get(original..)?;
    NlasIterator::new(tlvs)
        .map_while(Result::ok)
        .find(|nla| nla.kind() == NLMSGERR_ATTR_MSG)
        .map(|nla| {
            let value = nla.value();
            let text = value.split(|b| *b == 0).next().unwrap_or(value);
            String::from_utf8_lossy(text).into_owned()
        })
}

fn bad_reply(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed netlink reply: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error payload: the original request's header (its length field
    /// `len`), `extra` bytes of its body, then the attributes.
    fn payload(len: u32, extra: usize, tlvs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut p = len.to_ne_bytes().to_vec();
        p.resize(NLMSG_HDRLEN + extra, 0);
        for (kind, value) in tlvs {
            let l = 4 + value.len();
            p.extend_from_slice(&(l as u16).to_ne_bytes());
            p.extend_from_slice(&kind.to_ne_bytes());
            p.extend_from_slice(value);
            p.resize((p.len() + 3) & !3, 0);
        }
        p
    }

    const MSG: &[u8] = b"Nexthop has invalid gateway\0";

    #[test]
    fn capped_message_is_read_after_the_header() {
        // The header says 60 bytes, but capped only its 16 are there.
        let p = payload(60, 0, &[(2, &[0, 0, 0, 0]), (NLMSGERR_ATTR_MSG, MSG)]);
        assert_eq!(
            ext_ack_message(NLM_F_CAPPED | NLM_F_ACK_TLVS, &p).as_deref(),
            Some("Nexthop has invalid gateway")
        );
    }

    #[test]
    fn uncapped_message_is_read_after_the_whole_request() {
        // A 42-byte request, padded to 44.
        let p = payload(42, 28, &[(NLMSGERR_ATTR_MSG, MSG)]);
        assert_eq!(
            ext_ack_message(NLM_F_ACK_TLVS, &p).as_deref(),
            Some("Nexthop has invalid gateway")
        );
    }

    #[test]
    fn no_message_without_tlvs_or_when_cut() {
        let p = payload(16, 0, &[(NLMSGERR_ATTR_MSG, MSG)]);
        assert_eq!(ext_ack_message(NLM_F_CAPPED, &p), None);
        assert_eq!(ext_ack_message(NLM_F_ACK_TLVS, &p[..10]), None);
        let offset_only = payload(16, 0, &[(2, &[4, 0, 0, 0])]);
        assert_eq!(
            ext_ack_message(NLM_F_CAPPED | NLM_F_ACK_TLVS, &offset_only),
            None
        );
        assert_eq!(ext_ack_message(NLM_F_ACK_TLVS, &p[..20]), None);
    }
}
