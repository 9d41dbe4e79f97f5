//! What probes see.

use std::net::IpAddr;

use super::net::Mac;

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
    pub state: NudState,
}

/// A neighbour entry's state (`NUD_*`; `ip neigh` prints them in capitals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NudState {
    None,
    Incomplete,
    Reachable,
    Stale,
    Delay,
    Probe,
    Failed,
    Noarp,
    Permanent,
}
