//! The sandbox policy: what a guest may touch, and how much.
//!
//! A policy is loaded and validated once per run ([`file`]); every host call
//! is then checked against it at the boundary, before anything reaches the
//! kernel. A refusal is an [`OpError`] of kind `denied` whose message names
//! the operation, the object, and the policy entry that would allow it.

pub mod file;
mod glob;

use std::time::Duration;

use crate::error::{ErrorKind, OpError, OpResult};
use crate::kernel::MacvlanMode;
use crate::net::Cidr;

pub use glob::Glob;

/// Where a policy came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("the default policy"),
            Source::File(p) => write!(f, "policy {p}"),
        }
    }
}

/// The kinds of link a guest can create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Macvlan,
    Veth,
    Bridge,
}

impl LinkKind {
    pub const ALL: [LinkKind; 3] = [LinkKind::Macvlan, LinkKind::Veth, LinkKind::Bridge];

    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Macvlan => "macvlan",
            LinkKind::Veth => "veth",
            LinkKind::Bridge => "bridge",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A link in a namespace not created by the guest, named by the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkGrant {
    pub namespace: String,
    pub link: String,
}

/// Caps on how much a run may create or do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    pub namespaces: u64,
    pub links: u64,
    pub addresses: u64,
    pub routes: u64,
    pub operations: u64,
}

/// Hard limits on the guest itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory, bytes, per guest.
    pub memory: u64,
    /// Wall-clock time for the whole run, host calls included.
    pub deadline: Duration,
    /// Fuel (roughly, wasm instructions) for the whole run.
    pub fuel: u64,
    /// Namespace and link handles held at once.
    pub handles: u64,
    /// Bytes of stdout plus stderr.
    pub output: u64,
    /// Bytes of guest arguments.
    pub args: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: 64 << 20,
            deadline: Duration::from_secs(60),
            fuel: 20_000_000_000,
            handles: 10_000,
            output: 1 << 20,
            args: 64 << 10,
        }
    }
}

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub source: Source,
    /// Namespace names the guest may create.
    pub ns_create: Vec<Glob>,
    /// Existing namespaces the guest may open.
    pub ns_open: Vec<Glob>,
    /// Whether it may delete namespaces it opened but did not create.
    pub ns_delete_opened: bool,
    pub link_kinds: Vec<LinkKind>,
    pub macvlan_modes: Vec<MacvlanMode>,
    /// Existing links the guest may use as macvlan parents.
    pub parents: Vec<LinkGrant>,
    /// Existing links the guest may change (state, MTU, MAC, master, addresses).
    pub manage: Vec<LinkGrant>,
    /// Links of the root namespace it may use as macvlan parents. Empty
    /// means the root namespace cannot be opened at all.
    pub root_links: Vec<String>,
    pub addresses: Vec<Cidr>,
    pub route_destinations: Vec<Cidr>,
    pub route_gateways: Vec<Cidr>,
    pub ops_allow: Vec<Glob>,
    pub ops_deny: Vec<Glob>,
    pub quotas: Quotas,
    pub limits: Limits,
}

fn any_prefix() -> Vec<Cidr> {
    vec![
        Cidr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0),
        Cidr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0),
    ]
}

impl Default for Policy {
    /// The safe lab policy: create namespaces under any unused name, do
    /// anything inside them, and nothing else — no root namespace, no
    /// pre-existing namespace, no pre-existing link.
    fn default() -> Self {
        Self {
            source: Source::Default,
            ns_create: vec![Glob::new("*")],
            ns_open: Vec::new(),
            ns_delete_opened: false,
            link_kinds: LinkKind::ALL.to_vec(),
            macvlan_modes: MacvlanMode::ALL.to_vec(),
            parents: Vec::new(),
            manage: Vec::new(),
            root_links: Vec::new(),
            addresses: any_prefix(),
            route_destinations: any_prefix(),
            route_gateways: any_prefix(),
            ops_allow: vec![Glob::new("*")],
            ops_deny: Vec::new(),
            quotas: Quotas {
                namespaces: 1_000,
                links: 10_000,
                addresses: 10_000,
                routes: 10_000,
                operations: 1_000_000,
            },
            limits: Limits::default(),
        }
    }
}

/// Every operation a guest can ask for, by the name policies use.
pub const OPERATIONS: &[&str] = &[
    "namespace.create",
    "namespace.open",
    "namespace.root",
    "namespace.delete",
    "namespace.list",
    "namespace.set-forwarding",
    "link.add-macvlan",
    "link.add-veth",
    "link.add-bridge",
    "link.get",
    "link.list",
    "link.info",
    "link.set-up",
    "link.set-down",
    "link.set-mtu",
    "link.set-mac",
    "link.set-master",
    "link.unset-master",
    "link.set-hairpin",
    "link.move-to",
    "link.delete",
    "addr.add",
    "addr.delete",
    "addr.list",
    "route.add",
    "route.delete",
    "route.list",
    "probe.ping",
    "probe.neighbors",
    "verify.expect",
    "verify.check",
];

impl Policy {
    fn deny(&self, what: impl std::fmt::Display, fix: impl std::fmt::Display) -> OpError {
        OpError::new(
            ErrorKind::Denied,
            format!("{what}: not allowed by {}; {fix}", self.source),
        )
    }

    /// Whether `[operations]` allows the operation `op`.
    pub fn operation_allowed(&self, op: &str) -> bool {
        !self.ops_deny.iter().any(|g| g.matches(op)) && self.ops_allow.iter().any(|g| g.matches(op))
    }

    /// Checks the operation itself against `[operations]`.
    pub fn check_operation(&self, op: &str, object: &str) -> OpResult<()> {
        if let Some(rule) = self.ops_deny.iter().find(|g| g.matches(op)) {
            return Err(self.deny(
                format!("{op} {object}"),
                format!("remove \"{rule}\" from [operations] deny"),
            ));
        }
        if !self.ops_allow.iter().any(|g| g.matches(op)) {
            return Err(self.deny(
                format!("{op} {object}"),
                format!("add \"{op}\" to [operations] allow"),
            ));
        }
        Ok(())
    }

    pub fn check_ns_create(&self, name: &str) -> OpResult<()> {
        if self.ns_create.iter().any(|g| g.matches(name)) {
            return Ok(());
        }
        Err(self.deny(
            format!("create namespace {name:?}"),
            format!("add a pattern matching {name:?} to [namespaces] create"),
        ))
    }

    pub fn check_ns_open(&self, name: &str) -> OpResult<()> {
        if self.ns_open.iter().any(|g| g.matches(name)) {
            return Ok(());
        }
        Err(self.deny(
            format!("open namespace {name:?} (it was not created by this lab)"),
            format!("add {name:?} to [namespaces] open"),
        ))
    }

    pub fn check_ns_delete_opened(&self, name: &str) -> OpResult<()> {
        if self.ns_delete_opened {
            return Ok(());
        }
        Err(self.deny(
            format!("delete namespace {name:?} (it was not created by this lab)"),
            "set delete-opened = true in [namespaces]",
        ))
    }

    pub fn check_root(&self) -> OpResult<()> {
        if !self.root_links.is_empty() {
            return Ok(());
        }
        Err(self.deny(
            "open the root network namespace",
            "list the root links the guest may use as macvlan parents in [root] links",
        ))
    }

    pub fn check_kind(&self, kind: LinkKind, name: &str) -> OpResult<()> {
        if self.link_kinds.contains(&kind) {
            return Ok(());
        }
        Err(self.deny(
            format!("create {} link {name:?}", kind.as_str()),
            format!("add \"{}\" to [links] kinds", kind.as_str()),
        ))
    }

    pub fn check_macvlan_mode(&self, mode: MacvlanMode, name: &str) -> OpResult<()> {
        if self.macvlan_modes.contains(&mode) {
            return Ok(());
        }
        Err(self.deny(
            format!("create macvlan {name:?} in mode {}", mode.as_str()),
            format!("add \"{}\" to [links] macvlan-modes", mode.as_str()),
        ))
    }

    /// A pre-existing link used as a macvlan parent.
    pub fn check_parent(&self, namespace: &str, link: &str, root: bool) -> OpResult<()> {
        let ok = if root {
            self.root_links.iter().any(|l| l == link)
        } else {
            self.parents
                .iter()
                .chain(&self.manage)
                .any(|g| g.namespace == namespace && g.link == link)
        };
        if ok {
            return Ok(());
        }
        let fix = if root {
            format!("add {link:?} to [root] links")
        } else {
            format!("add {{ namespace = {namespace:?}, link = {link:?} }} to [links] parents")
        };
        let place = if root {
            "the root namespace".to_string()
        } else {
            format!("namespace {namespace:?}")
        };
        Err(self.deny(
            format!("use link {link:?} in {place} as a macvlan parent (the lab did not create it)"),
            fix,
        ))
    }

    /// A change to a pre-existing link.
    pub fn check_manage(&self, namespace: &str, link: &str, action: &str) -> OpResult<()> {
        if self
            .manage
            .iter()
            .any(|g| g.namespace == namespace && g.link == link)
        {
            return Ok(());
        }
        Err(self.deny(
            format!(
                "{action} link {link:?} in namespace {namespace:?} (the lab did not create it)"
            ),
            format!("add {{ namespace = {namespace:?}, link = {link:?} }} to [links] manage"),
        ))
    }

    pub fn check_address(&self, cidr: &Cidr) -> OpResult<()> {
        if self.addresses.iter().any(|p| p.contains_addr(&cidr.addr)) {
            return Ok(());
        }
        Err(self.deny(
            format!("assign address {cidr}"),
            format!("add a prefix containing {} to [addresses] allow", cidr.addr),
        ))
    }

    pub fn check_route(
        &self,
        destination: &Cidr,
        gateway: Option<&std::net::IpAddr>,
    ) -> OpResult<()> {
        if !self
            .route_destinations
            .iter()
            .any(|p| p.contains(destination))
        {
            return Err(self.deny(
                format!("add route to {destination}"),
                format!("add a prefix containing {destination} to [routes] destinations"),
            ));
        }
        if let Some(gw) = gateway
            && !self.route_gateways.iter().any(|p| p.contains_addr(gw))
        {
            return Err(self.deny(
                format!("add route to {destination} via {gw}"),
                format!("add a prefix containing {gw} to [routes] gateways"),
            ));
        }
        Ok(())
    }
}
