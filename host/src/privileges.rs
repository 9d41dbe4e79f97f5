//! The Linux capabilities netwasm needs, checked up front so that a run
//! without them fails with a clear sentence instead of a stray EPERM halfway.

use std::fmt;

/// A capability netwasm needs, and what for.
#[derive(Debug, Clone, Copy)]
pub struct Capability {
    pub name: &'static str,
    pub bit: u32,
    pub why: &'static str,
}

pub const CAP_NET_ADMIN: Capability = Capability {
    name: "CAP_NET_ADMIN",
    bit: 12,
    why: "to create and configure links, addresses and routes",
};
pub const CAP_NET_RAW: Capability = Capability {
    name: "CAP_NET_RAW",
    bit: 13,
    why: "to send ICMP echo requests for reachability probes",
};
pub const CAP_SYS_ADMIN: Capability = Capability {
    name: "CAP_SYS_ADMIN",
    bit: 21,
    why: "to create, name and enter network namespaces",
};

/// What a lab run needs.
pub const FOR_LABS: &[Capability] = &[CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW];

#[derive(Debug)]
pub struct MissingCapability {
    pub missing: Vec<Capability>,
}

impl fmt::Display for MissingCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self
            .missing
            .iter()
            .map(|c| format!("{} ({})", c.name, c.why))
            .collect();
        write!(
            f,
            "missing privileges: netwasm needs {}; run it as root (for example with sudo)",
            list.join(" and ")
        )
    }
}

impl std::error::Error for MissingCapability {}

/// The effective capability set of this process.
fn effective() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// Fails unless this process has every capability in `caps`.
pub fn require(caps: &[Capability]) -> Result<(), MissingCapability> {
    let eff = effective();
    let missing: Vec<Capability> = caps
        .iter()
        .copied()
        .filter(|c| eff & (1 << c.bit) == 0)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MissingCapability { missing })
    }
}
