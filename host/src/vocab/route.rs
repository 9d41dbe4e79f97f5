//! Addresses and routes.

use std::net::IpAddr;

use super::net::Cidr;

/// The protocol number netwasm gives the routes and addresses it adds
/// (`rtm_protocol`, `IFA_PROTO`): who added one is then the kernel's own
/// record, not a guess from its key, so a route or address someone else
/// added under the same key is never taken for the lab's. (`ip` shows it
/// as `proto 110`; no routing daemon uses it.)
pub const NETWASM_PROTO: u8 = 110;

/// An address on a link.
#[derive(Debug, Clone, PartialEq)]
pub struct AddrInfo {
    pub index: u32,
    pub cidr: Cidr,
    pub scope: String,
    /// Who added it (`IFA_PROTO`; 0 when not said).
    pub proto: u8,
}

/// A route to add or delete in the main table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    pub destination: Cidr,
    pub gateway: Option<IpAddr>,
    pub dev: Option<u32>,
    pub metric: Option<u32>,
    /// Deletes only a route added by this protocol; none matches any.
    /// (Adds always carry [`NETWASM_PROTO`].)
    pub protocol: Option<u8>,
}

/// A route as the kernel reports it (main table).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteInfo {
    pub destination: Cidr,
    pub gateway: Option<IpAddr>,
    pub dev_index: Option<u32>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
    pub protocol: String,
    /// `protocol` as the kernel's number.
    pub proto: u8,
    pub scope: String,
    pub source: Option<IpAddr>,
}
