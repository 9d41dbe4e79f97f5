//! ICMP echo ("ping") from inside a namespace, in-process: a raw ICMP socket
//! opened in the namespace on the namespace thread, then driven by tokio.

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;

use crate::vocab::PingStats;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
const PAYLOAD: usize = 56;
/// Spacing between requests, as `ping -i 0.1`.
const INTERVAL: Duration = Duration::from_millis(100);

/// Echo identifiers, distinct per probe so parallel probes from one
/// namespace (raw sockets each see every ICMP packet) never mix replies.
static NEXT_ID: AtomicU16 = AtomicU16::new(0);

fn next_id() -> u16 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() as u16).rotate_left(7)
}

/// The socket domain and protocol for pinging `to`.
pub fn socket_kind(to: &IpAddr) -> (i32, i32) {
    match to {
        IpAddr::V4(_) => (libc::AF_INET, libc::IPPROTO_ICMP),
        IpAddr::V6(_) => (libc::AF_INET6, libc::IPPROTO_ICMPV6),
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from(chunk[0]) << 8
        };
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut pkt = vec![0u8; 8 + PAYLOAD];
    pkt[0] = if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    pkt[4..6].copy_from_slice(&id.to_be_bytes());
    pkt[6..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in pkt[8..].iter_mut().enumerate() {
        *b = i as u8;
    }
    // The kernel fills in the ICMPv6 checksum (it needs the pseudo-header).
    if !v6 {
        let sum = checksum(&pkt);
        pkt[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    pkt
}

fn sockaddr(to: &IpAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match to {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.octets()),
            };
            size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.octets(),
            };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn source_of(storage: &libc::sockaddr_storage) -> Option<IpAddr> {
    match storage.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says this is a sockaddr_in.
            let sin = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this is a sockaddr_in6.
            let sin6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

/// Sends `count` echo requests to `to` on `socket` (a raw ICMP socket of the
/// right family, opened in the namespace to probe from) and collects replies
/// until `timeout` after the last request.
pub async fn ping(
    socket: OwnedFd,
    to: IpAddr,
    count: u32,
    timeout: Duration,
) -> io::Result<PingStats> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(socket.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(socket.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    // SAFETY: `socket` is an owned, open descriptor, moved into the AsyncFd
    // and closed only when it is dropped (after deregistration).
    let fd = unsafe { AsyncFd::register(socket) }?;
    let v6 = to.is_ipv6();
    let id = next_id();
    let (addr, addr_len) = sockaddr(&to);
    let mut sent_at: Vec<Option<Instant>> = vec![None; count as usize];
    let mut rtts: Vec<Duration> = Vec::new();
    let mut seen = vec![false; count as usize];
    let start = Instant::now();
    let mut sent = 0u32;
    let mut buf = [0u8; 2048];
    loop {
        let now = Instant::now();
        let next_send = (sent < count).then(|| start + INTERVAL * sent);
        let end = start + INTERVAL * count.saturating_sub(1) + timeout;
        if sent == count && (now >= end || rtts.len() as u32 == count) {
            break;
        }
        if let Some(at) = next_send
            && now >= at
        {
            {
                let pkt = echo_request(v6, id, sent as u16);
                // SAFETY: valid buffer and sockaddr of the given length.
                let rc = unsafe {
                    libc::sendto(
                        fd.as_raw_fd(),
                        pkt.as_ptr().cast(),
                        pkt.len(),
                        0,
                        (&addr as *const libc::sockaddr_storage).cast(),
                        addr_len,
                    )
                };
                if rc < 0 {
                    let err = io::Error::last_os_error();
                    // A full buffer just loses that packet, as it would on
                    // the wire. Anything else (no route, a refusal such as
                    // EACCES for a broadcast address) is the caller's to
                    // judge: taken for loss, it would pass for
                    // "unreachable".
                    if !matches!(
                        err.raw_os_error(),
                        Some(libc::ENOBUFS | libc::EAGAIN | libc::EINTR)
                    ) {
                        return Err(err);
                    }
                } else {
                    sent_at[sent as usize] = Some(Instant::now());
                }
                sent += 1;
                continue;
            }
        }
        let wake = next_send.unwrap_or(end).min(end);
        let readable = tokio::time::timeout_at(wake.into(), fd.readable()).await;
        let Ok(guard) = readable else { continue };
        let mut guard = guard?;
        loop {
            // SAFETY: zeroed sockaddr_storage is valid; recvfrom fills it.
            let mut from: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut from_len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: valid buffer and sockaddr storage.
            let n = unsafe {
                libc::recvfrom(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut from as *mut libc::sockaddr_storage).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::WouldBlock {
                    guard.clear_ready();
                    break;
                }
                return Err(err);
            }
            let data = &buf[..n as usize];
            // IPv4 raw sockets deliver the IP header; IPv6 ones do not.
            let icmp = if v6 {
                data
            } else {
                let ihl = data.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
                if data.len() < ihl {
                    continue;
                }
                &data[ihl..]
            };
            if icmp.len() < 8 || source_of(&from) != Some(to) {
                continue;
            }
            let reply = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
            let rid = u16::from_be_bytes([icmp[4], icmp[5]]);
            let seq = u16::from_be_bytes([icmp[6], icmp[7]]) as usize;
            if icmp[0] != reply || rid != id || seq >= seen.len() || seen[seq] {
                continue;
            }
            if let Some(at) = sent_at[seq] {
                seen[seq] = true;
                rtts.push(at.elapsed());
            }
        }
    }
    let micros = |d: &Duration| d.as_micros().min(u128::from(u32::MAX)) as u32;
    Ok(PingStats {
        sent,
        received: rtts.len() as u32,
        rtt_min_us: rtts.iter().min().map(micros),
        rtt_avg_us: (!rtts.is_empty())
            .then(|| micros(&(rtts.iter().sum::<Duration>() / rtts.len() as u32))),
        rtt_max_us: rtts.iter().max().map(micros),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn checksum_of_a_known_packet() {
        // An echo request with id 0x1234 seq 1 and no payload.
        let pkt = [8u8, 0, 0, 0, 0x12, 0x34, 0, 1];
        let sum = super::checksum(&pkt);
        let mut full = pkt;
        full[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(super::checksum(&full), 0);
    }
}
