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
    /// `ip neigh` state name, lower case: reachable, stale, failed, ...
    pub state: String,
}
