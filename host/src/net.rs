//! Network value types parsed from guest input: interface and namespace
//! names, MAC addresses, IP prefixes. Parsing here is the one place guest
//! strings become typed values; anything malformed is an
//! `invalid-argument` error before the kernel sees it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::{OpError, OpResult};

/// Checks a namespace name: it becomes a file name under `/run/netns`.
pub fn check_ns_name(name: &str) -> OpResult<()> {
    let bad = |why: &str| Err(OpError::invalid(format!("namespace name {name:?}: {why}")));
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > 64 {
        return bad("is longer than 64 bytes");
    }
    if name == "." || name == ".." {
        return bad("is not a file name");
    }
    if name.contains(['/', '\0']) {
        return bad("contains '/' or NUL");
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("contains whitespace or control characters");
    }
    Ok(())
}

/// Checks an interface name the way the kernel's `dev_valid_name` does.
pub fn check_link_name(name: &str) -> OpResult<()> {
    let bad = |why: &str| Err(OpError::invalid(format!("link name {name:?}: {why}")));
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > 15 {
        return bad("is longer than 15 bytes (IFNAMSIZ)");
    }
    if name == "." || name == ".." {
        return bad("is not a valid interface name");
    }
    if name.contains(['/', ':', '\0']) || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return bad("contains '/', ':', whitespace or control characters");
    }
    Ok(())
}

/// Checks an MTU against what any Linux link accepts.
pub fn check_mtu(mtu: u32) -> OpResult<()> {
    if !(68..=65535).contains(&mtu) {
        return Err(OpError::invalid(format!(
            "MTU {mtu}: must be between 68 and 65535"
        )));
    }
    Ok(())
}

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Parses a unicast MAC address given by a guest.
    pub fn parse_unicast(s: &str) -> OpResult<Mac> {
        let mac: Mac = s.parse().map_err(|()| {
            OpError::invalid(format!(
                "MAC address {s:?}: expected six hex pairs like 02:00:00:00:00:01"
            ))
        })?;
        if mac.0[0] & 1 == 1 {
            return Err(OpError::invalid(format!("MAC address {s:?}: is multicast")));
        }
        if mac.0 == [0; 6] {
            return Err(OpError::invalid(format!("MAC address {s:?}: is all zeros")));
        }
        Ok(mac)
    }

    pub fn from_slice(b: &[u8]) -> Option<Mac> {
        Some(Mac(b.try_into().ok()?))
    }
}

impl FromStr for Mac {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in &mut out {
            let p = parts.next().ok_or(())?;
            if p.len() != 2 {
                return Err(());
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| ())?;
        }
        if parts.next().is_some() {
            return Err(());
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// An IP address with a prefix length: `172.16.10.5/24` (an interface
/// address) or `10.0.0.0/8` (a network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn new(addr: IpAddr, prefix: u8) -> Self {
        Self { addr, prefix }
    }

    pub fn max_prefix(addr: &IpAddr) -> u8 {
        if addr.is_ipv4() { 32 } else { 128 }
    }

    /// Parses `ADDR/LEN`. With `host_default`, a bare address means a host
    /// prefix (/32 or /128); without it the length is required.
    pub fn parse(s: &str, what: &str, host_default: bool) -> OpResult<Cidr> {
        let bad = |why: String| OpError::invalid(format!("{what} {s:?}: {why}"));
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| bad("not an IPv4 or IPv6 address".into()))?;
        let max = Self::max_prefix(&addr);
        let prefix = match len {
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| bad(format!("prefix length must be 0 to {max}")))?,
            None if host_default => max,
            None => {
                return Err(bad(
                    "a prefix length is required, like 172.16.10.5/24".into()
                ));
            }
        };
        Ok(Cidr { addr, prefix })
    }

    /// The network part: the address with host bits cleared.
    pub fn network(&self) -> Cidr {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        };
        Cidr {
            addr,
            prefix: self.prefix,
        }
    }

    /// Whether `other` (an address or a whole prefix) lies inside this prefix.
    pub fn contains(&self, other: &Cidr) -> bool {
        self.addr.is_ipv4() == other.addr.is_ipv4()
            && other.prefix >= self.prefix
            && Cidr::new(other.addr, self.prefix).network() == self.network()
    }

    pub fn contains_addr(&self, addr: &IpAddr) -> bool {
        self.contains(&Cidr::new(*addr, Self::max_prefix(addr)))
    }

    pub fn is_default(&self) -> bool {
        self.prefix == 0
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parses a bare IP address given by a guest.
pub fn parse_ip(s: &str, what: &str) -> OpResult<IpAddr> {
    s.trim()
        .parse()
        .map_err(|_| OpError::invalid(format!("{what} {s:?}: not an IPv4 or IPv6 address")))
}

/// Parses a route destination: a prefix, a host address, or `default`.
/// `default` is IPv4 unless `v6_hint` (an IPv6 gateway) says otherwise.
pub fn parse_destination(s: &str, v6_hint: bool) -> OpResult<Cidr> {
    match s.trim() {
        "default" | "" => Ok(if v6_hint {
            Cidr::new(IpAddr::V6(0.into()), 0)
        } else {
            Cidr::new(IpAddr::V4(0.into()), 0)
        }),
        other => {
            let c = Cidr::parse(other, "route destination", true)?;
            if c.network() != c {
                return Err(OpError::invalid(format!(
                    "route destination {s:?}: has host bits set; did you mean {}?",
                    c.network()
                )));
            }
            Ok(c)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_link_name("macvlan1").is_ok());
        assert!(check_link_name("a-very-long-name-x").is_err());
        assert!(check_link_name("a/b").is_err());
        assert!(check_link_name("").is_err());
        assert!(check_ns_name("lab-ns1").is_ok());
        assert!(check_ns_name("..").is_err());
        assert!(check_ns_name("a/b").is_err());
    }

    #[test]
    fn macs() {
        assert_eq!(
            Mac::parse_unicast("02:00:00:00:00:0a").unwrap().to_string(),
            "02:00:00:00:00:0a"
        );
        assert!(Mac::parse_unicast("01:00:5e:00:00:01").is_err());
        assert!(Mac::parse_unicast("02:00:00:00:00").is_err());
        assert!(Mac::parse_unicast("zz:00:00:00:00:00").is_err());
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("172.16.10.5/24", "address", false).unwrap();
        assert_eq!(c.network().to_string(), "172.16.10.0/24");
        assert!(Cidr::parse("172.16.10.5", "address", false).is_err());
        assert!(Cidr::parse("172.16.10.5/33", "address", false).is_err());
        assert!(Cidr::parse("fd00::1/64", "address", false).is_ok());
        let net = Cidr::parse("172.16.0.0/12", "x", false).unwrap();
        assert!(net.contains(&c));
        assert!(!c.contains(&net));
        assert!(!net.contains(&Cidr::parse("fd00::1/64", "x", false).unwrap()));
        assert!(parse_destination("default", false).unwrap().is_default());
        assert!(parse_destination("10.0.0.1/8", false).is_err());
        assert_eq!(parse_destination("10.0.0.1", false).unwrap().prefix, 32);
    }
}
