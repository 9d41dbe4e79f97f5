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
    if let Some(why) = name_hazard(name) {
        return bad(&why);
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
    if let Some(why) = name_hazard(name) {
        return bad(&why);
    }
    Ok(())
}

/// What makes `name` unfit to name a namespace or link beyond the syntax:
/// a character the kernel rewrites, or one that lets two different names
/// look alike (or a name look like nothing) in `ip`, `netwasm show`, logs
/// and policy files. Names come from hostile guests and are shown to
/// people who decide by what they read, so whatever a terminal could
/// render as another name is refused, not escaped.
fn name_hazard(name: &str) -> Option<String> {
    use icu_properties::props::{
        BidiControl, DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup as G,
    };
    use icu_properties::{CodePointMapData, CodePointSetData};

    if name.contains('%') {
        // The kernel turns a link name with "%d" into the first free
        // "mv0", "mv1", ...: the lab would record a name that does not exist.
        return Some("contains '%' (the kernel expands \"%d\" in link names)".into());
    }
    if name.is_ascii() {
        return None;
    }
    let category = CodePointMapData::<GeneralCategory>::new();
    let bidi = CodePointSetData::new::<BidiControl>();
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii() {
            continue;
        }
        let code = format!("U+{:04X}", c as u32);
        let gc = category.get(c);
        let why = if bidi.contains(c) {
            "a bidirectional control, which reorders how the name is displayed"
        } else if ignorable.contains(c) || gc == GeneralCategory::Format {
            "an invisible (format or default-ignorable) character"
        } else if gc == GeneralCategory::PrivateUse {
            "a private-use character, which means whatever a font makes of it"
        } else if gc == GeneralCategory::Unassigned {
            "an unassigned code point, which a later Unicode may give any look"
        } else if gc == GeneralCategory::EnclosingMark || (i == 0 && G::Mark.contains(gc)) {
            // A leading mark draws onto whatever is printed before the name.
            "a combining mark that draws outside the name"
        } else if !(G::Letter.contains(gc) || G::Mark.contains(gc) || G::Number.contains(gc)) {
            // Non-ASCII punctuation and symbols include look-alikes of
            // '/', ':', '.', '-' and blank-looking signs (U+2800).
            "a symbol, punctuation or separator outside ASCII"
        } else {
            continue;
        };
        return Some(format!("contains {code}, {why}"));
    }
    if !icu_normalizer::ComposingNormalizerBorrowed::new_nfkc().is_normalized(name) {
        // Fullwidth, ligature, mathematical and other compatibility forms,
        // and decomposed letters, each look like another spelling.
        return Some(
            "is not in Unicode normalization form NFKC (it spells a letter in a second way that looks like the first)"
                .into(),
        );
    }
    if mixes_scripts(name) {
        return Some(
            "mixes letters of different scripts (like Cyrillic \"е\" in Latin \"eth0\"), which makes it look like another name"
                .into(),
        );
    }
    None
}

/// Whether `name` mixes scripts beyond what UTS #39 calls "highly
/// restrictive": one script, or Latin with the scripts written alongside
/// Han in Chinese, Japanese and Korean. Characters used by every script
/// (digits, punctuation, combining accents) count for any.
fn mixes_scripts(name: &str) -> bool {
    use icu_properties::props::Script;
    use icu_properties::script::ScriptWithExtensions;

    let scripts = ScriptWithExtensions::new();
    let sets: Vec<Vec<Script>> = name
        .chars()
        .map(|c| scripts.get_script_extensions_val(c))
        .filter(|s| !s.contains(&Script::Common) && !s.contains(&Script::Inherited))
        .map(|s| s.iter().collect())
        .collect();
    let Some(first) = sets.first() else {
        return false;
    };
    if first.iter().any(|s| sets.iter().all(|set| set.contains(s))) {
        return false;
    }
    let allowed: [&[Script]; 3] = [
        &[
            Script::Latin,
            Script::Han,
            Script::Hiragana,
            Script::Katakana,
        ],
        &[Script::Latin, Script::Han, Script::Bopomofo],
        &[Script::Latin, Script::Han, Script::Hangul],
    ];
    !allowed
        .iter()
        .any(|combo| sets.iter().all(|set| set.iter().any(|s| combo.contains(s))))
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

    /// The route the kernel adds for this interface address: its network,
    /// out of the link it is on. IPv4 adds none for a /32; IPv6 adds one
    /// for every length, /128 included, and ::/0 becomes a default route
    /// (both seen on Linux 6.18). The kernel also skips IPv4 networks
    /// inside 0.0.0.0/8; this does not, so a check errs on refusing.
    pub fn prefix_route(&self) -> Option<Cidr> {
        match self.addr {
            IpAddr::V4(_) if self.prefix == 32 => None,
            _ => Some(self.network()),
        }
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
    fn names_that_expand_or_spoof() {
        let refused = |name: &str, why: &str| {
            for (kind, r) in [("ns", check_ns_name(name)), ("link", check_link_name(name))] {
                let e = r.expect_err(&format!("{kind} {name:?} is refused"));
                assert_eq!(e.kind, crate::error::ErrorKind::InvalidArgument);
                assert!(e.message.contains(why), "{kind} {name:?}: {}", e.message);
            }
        };
        refused("mv%d", "'%'");
        refused("%", "'%'");
        refused("ab\u{202e}c", "U+202E, a bidirectional control");
        refused("a\u{2066}b", "U+2066, a bidirectional control");
        refused("a\u{061c}", "U+061C, a bidirectional control");
        refused("e\u{200b}th0", "U+200B, an invisible");
        refused("\u{feff}eth0", "U+FEFF, an invisible");
        refused("eth\u{ad}0", "U+00AD, an invisible");
        refused("eth0\u{e0041}", "U+E0041, an invisible");
        refused("\u{3164}", "U+3164, an invisible");
        refused("e\u{fe0f}", "U+FE0F, an invisible");
        refused("e\u{34f}x", "U+034F, an invisible");
        refused("a\u{e000}", "U+E000, a private-use");
        refused("a\u{10ffff}", "U+10FFFF, an unassigned");
        refused("a\u{fdd0}", "U+FDD0, an unassigned");
        refused("a\u{0378}", "U+0378, an unassigned");
        refused("\u{301}eth0", "U+0301, a combining mark");
        refused("eth\u{20dd}", "U+20DD, a combining mark");
        refused("a\u{2215}b", "U+2215, a symbol");
        refused("\u{2800}", "U+2800, a symbol");
        refused("eth\u{ff10}", "NFKC");
        refused("\u{ff45}th0", "NFKC");
        refused("\u{212a}vm", "NFKC");
        refused("\u{1d41e}th0", "NFKC");
        refused("cafe\u{301}", "NFKC");
        refused("\u{435}th0", "mixes letters");
        refused("p\u{430}y", "mixes letters");
        refused("eth\u{966}", "mixes letters");
        for ok in [
            "eth0",
            "mv-1_a.b",
            "café",
            "lab-日本語",
            "ラボ-1",
            "實驗室",
            "실험실",
            "сеть0",
            "δίκτυο",
        ] {
            assert!(
                check_ns_name(ok).is_ok(),
                "ns {ok:?}: {:?}",
                check_ns_name(ok)
            );
            if ok.len() <= 15 {
                assert!(check_link_name(ok).is_ok(), "link {ok:?}");
            }
        }
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

    #[test]
    fn prefix_routes() {
        let route = |s: &str| {
            Cidr::parse(s, "address", false)
                .unwrap()
                .prefix_route()
                .map(|c| c.to_string())
        };
        assert_eq!(route("172.16.10.9/24").as_deref(), Some("172.16.10.0/24"));
        assert_eq!(route("172.16.10.9/1").as_deref(), Some("128.0.0.0/1"));
        assert_eq!(route("172.16.11.9/31").as_deref(), Some("172.16.11.8/31"));
        assert_eq!(route("172.16.10.9/32"), None);
        assert_eq!(route("fd00::5/0").as_deref(), Some("::/0"));
        assert_eq!(route("fd00::5/64").as_deref(), Some("fd00::/64"));
        assert_eq!(route("fd00::5/128").as_deref(), Some("fd00::5/128"));
    }
}
