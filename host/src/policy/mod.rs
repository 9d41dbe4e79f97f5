//! The sandbox policy: what a guest may touch, and how much.
//!
//! A policy is loaded and validated once per run ([`file`]); every host call
//! is then checked against it at the boundary, before anything reaches the
//! kernel. A refusal is an [`OpError`] of kind `denied` whose message names
//! the operation, the object, and the policy entry that would allow it.

pub mod file;
mod glob;

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{ErrorKind, OpError, OpResult};
pub use crate::vocab::LinkKind;
use crate::vocab::Operation;
use crate::vocab::net::Cidr;
use crate::vocab::{MacvlanMode, VNI_MAX};

pub use glob::Glob;

/// Where a policy came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(String),
    /// The policy of a CNI plugin run without a `policy` key.
    Cni,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("the default policy"),
            Source::File(p) => write!(f, "policy {p}"),
            Source::Cni => f.write_str(
                "the CNI policy (the container namespace, and the configuration's master as a macvlan parent)",
            ),
        }
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
    /// Bytes the lab's journal may grow to.
    pub journal: u64,
    /// Distinct (source namespace, destination) pairs the run may probe.
    /// Every pair an on-link probe tries leaves an entry in the kernel's
    /// neighbour table, which all network namespaces share (its
    /// `gc_thresh3`, 1024 by default, is the root namespace's).
    pub probes: u64,
    /// Programs the run may start (`process.start`).
    pub processes: u64,
    /// The most one read of a program's output returns (and so the most
    /// of it the host holds at once).
    pub process_output: u64,
    /// The size at which each of a program's logs (stdout, stderr) stops
    /// growing: its `RLIMIT_FSIZE`, which holds after netwasm has exited.
    pub program_log: u64,
}

/// A program a guest may start: as the policy names it, where it was found
/// on the fixed PATH, and what that resolves to (every symbolic link
/// followed), which is what runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand {
    pub given: String,
    pub found: PathBuf,
    pub path: PathBuf,
}

/// The unprivileged user programs run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub name: String,
    /// Its uid and primary gid, looked up when the policy was loaded; none
    /// in a policy that lists no commands (nothing runs as it).
    pub ids: Option<(u32, u32)>,
}

/// `[exec]`: what a guest may run in its namespaces, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub commands: Vec<ExecCommand>,
    pub user: ExecUser,
    /// The tasks (processes and threads) a program may fork into:
    /// `RLIMIT_NPROC`, which counts every task of `user` on the machine,
    /// and `pids.max` of its cgroup where the pids controller is offered.
    pub max_tasks: u64,
}

impl Default for Exec {
    fn default() -> Self {
        Self {
            commands: Vec::new(),
            user: ExecUser {
                name: "nobody".into(),
                ids: None,
            },
            max_tasks: 128,
        }
    }
}

/// Hard limits on the guest itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of all the guest's linear memories and tables together.
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
    /// Existing namespaces the guest may also build in (open included):
    /// create links in or move links into, add routes, probe from.
    pub ns_modify: Vec<Glob>,
    /// Whether it may delete namespaces it opened but did not create.
    pub ns_delete_opened: bool,
    pub link_kinds: Vec<LinkKind>,
    pub macvlan_modes: Vec<MacvlanMode>,
    /// The VXLAN network identifiers a vxlan may have.
    pub vxlan_ids: Vec<RangeInclusive<u32>>,
    /// The UDP ports a vxlan may send to.
    pub vxlan_ports: Vec<RangeInclusive<u32>>,
    /// Where a vxlan may send: the prefixes its `remote` or `group` must
    /// be in. (Its `local` is an address of the lab's, under `addresses`.)
    pub vxlan_remotes: Vec<Cidr>,
    /// Existing links the guest may use as macvlan parents (and as vxlan
    /// devices).
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
    pub exec: Exec,
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
            ns_modify: Vec::new(),
            ns_delete_opened: false,
            link_kinds: LinkKind::ALL.to_vec(),
            macvlan_modes: MacvlanMode::ALL.to_vec(),
            vxlan_ids: vec![0..=VNI_MAX],
            vxlan_ports: vec![1..=u16::MAX as u32],
            vxlan_remotes: any_prefix(),
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
                journal: 16 << 20,
                probes: 512,
                processes: 64,
                process_output: 1 << 20,
                program_log: 1 << 20,
            },
            limits: Limits::default(),
            exec: Exec::default(),
        }
    }
}

impl Policy {
    /// The policy of a CNI plugin run without a `policy` key: act in the
    /// container namespace `container` (links, addresses, routes, probes),
    /// change the attachment's interface `ifname` there when an earlier
    /// plugin of a chain made it, and use the host link `master` as a
    /// macvlan parent in any mode but passthru (which would take the host's
    /// link over); nothing else.
    pub fn for_cni(container: &str, ifname: &str, master: Option<&str>) -> Policy {
        let mut p = Policy {
            source: Source::Cni,
            ns_create: Vec::new(),
            link_kinds: vec![LinkKind::Macvlan],
            macvlan_modes: MacvlanMode::ALL
                .into_iter()
                .filter(|m| *m != MacvlanMode::Passthru)
                .collect(),
            ..Policy::default()
        };
        if let Some(m) = master {
            p.root_links.push(m.to_string());
            p.parents.push(LinkGrant {
                namespace: crate::vocab::ROOT_NS.to_string(),
                link: m.to_string(),
            });
        }
        p.grant_container(container, ifname);
        p
    }

    /// Lets the guest build in the container namespace it serves, and
    /// change the attachment's own interface there (`CNI_IFNAME`, which a
    /// chained plugin acts on when an earlier one made it), on top of what
    /// the operator's policy grants.
    pub fn grant_container(&mut self, container: &str, ifname: &str) {
        self.ns_modify.push(Glob::literal(container));
        if !ifname.is_empty() {
            self.manage.push(LinkGrant {
                namespace: container.to_string(),
                link: ifname.to_string(),
            });
        }
    }

    fn deny(&self, what: impl std::fmt::Display, fix: impl std::fmt::Display) -> OpError {
        OpError::new(
            ErrorKind::Denied,
            format!("{what}: not allowed by {}; {fix}", self.source),
        )
    }

    /// Whether `[operations]` allows the operation `op`.
    pub fn operation_allowed(&self, op: Operation) -> bool {
        let op = op.as_str();
        !self.ops_deny.iter().any(|g| g.matches(op)) && self.ops_allow.iter().any(|g| g.matches(op))
    }

    /// Checks the operation itself against `[operations]`.
    pub fn check_operation(&self, op: Operation, object: &str) -> OpResult<()> {
        let op = op.as_str();
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

    /// The program `program` (a guest's `argv[0]`) names, if `[exec]
    /// commands` lists it: by the name or path the policy gives, by where
    /// that was found, or by what it resolves to. Nothing is looked up now:
    /// what runs is what the policy resolved when it was loaded.
    pub fn check_exec(&self, program: &str) -> OpResult<&ExecCommand> {
        if program.contains('/') && !program.starts_with('/') {
            return Err(OpError::invalid(format!(
                "start program {program:?}: a relative path; give an absolute path or a bare name"
            )));
        }
        let p = Path::new(program);
        if let Some(c) = self
            .exec
            .commands
            .iter()
            .find(|c| c.given == program || c.found == p || c.path == p)
        {
            return Ok(c);
        }
        Err(self.deny(
            format!("start program {program:?}"),
            format!("add {program:?} to [exec] commands"),
        ))
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
        if self
            .ns_open
            .iter()
            .chain(&self.ns_modify)
            .any(|g| g.matches(name))
        {
            return Ok(());
        }
        Err(self.deny(
            format!("open namespace {name:?} (it was not created by this lab)"),
            format!("add {name:?} to [namespaces] open"),
        ))
    }

    /// Building in a namespace the lab did not create: creating links in
    /// it or moving links into it, adding routes, probing from it. `open`
    /// alone grants none of it: the namespace is someone else's network,
    /// and a link, a route or a probe there acts in it.
    pub fn check_ns_modify(&self, name: &str, what: &str) -> OpResult<()> {
        if self.ns_modify.iter().any(|g| g.matches(name)) {
            return Ok(());
        }
        Err(self.deny(
            format!("{what} (namespace {name:?} was not created by this lab)"),
            format!("add {name:?} to [namespaces] modify"),
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

    /// The VNI, port and addresses of new vxlan `name`: where the guest
    /// makes the kernel send (`remote`, `group`) and from what (`local`).
    pub fn check_vxlan(
        &self,
        name: &str,
        id: u32,
        port: u16,
        local: Option<&IpAddr>,
        remote: Option<&IpAddr>,
        group: Option<&IpAddr>,
    ) -> OpResult<()> {
        let what = format!("create vxlan {name:?}");
        if !self.vxlan_ids.iter().any(|r| r.contains(&id)) {
            return Err(self.deny(
                format!("{what} with VNI {id}"),
                format!("add {id} to [links] vxlan-ids"),
            ));
        }
        if !self
            .vxlan_ports
            .iter()
            .any(|r| r.contains(&u32::from(port)))
        {
            return Err(self.deny(
                format!("{what} with port {port}"),
                format!("add {port} to [links] vxlan-ports"),
            ));
        }
        for (role, addr) in [("remote", remote), ("group", group)] {
            if let Some(a) = addr
                && !self.vxlan_remotes.iter().any(|p| p.contains_addr(a))
            {
                return Err(self.deny(
                    format!(
                        "{what} with {role} {a} (the kernel would send its tunnel's packets there)"
                    ),
                    format!("add a prefix containing {a} to [links] vxlan-remotes"),
                ));
            }
        }
        if let Some(a) = local
            && !self.addresses.iter().any(|p| p.contains_addr(a))
        {
            return Err(self.deny(
                format!("{what} with local {a} (its tunnel's packets would come from there)"),
                format!("add a prefix containing {a} to [addresses] allow"),
            ));
        }
        Ok(())
    }

    /// A pre-existing link used as a vxlan's device: its tunnel's packets
    /// leave by it. Granted as a macvlan parent is, for the same reason.
    pub fn check_device(&self, namespace: &str, link: &str, vxlan: &str) -> OpResult<()> {
        if self.link_granted(namespace, link, false) {
            return Ok(());
        }
        Err(self.deny(
            format!(
                "create vxlan {vxlan:?} on device {link:?} in namespace {namespace:?} (the lab did not create it)"
            ),
            format!("add {{ namespace = {namespace:?}, link = {link:?} }} to [links] parents"),
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

    /// Whether the policy names this pre-existing link (as a parent, or to
    /// manage, or as a root link): the only pre-existing links a guest may
    /// see in namespaces it did not create.
    pub fn link_granted(&self, namespace: &str, link: &str, root: bool) -> bool {
        if root {
            return self.root_links.iter().any(|l| l == link);
        }
        self.parents
            .iter()
            .chain(&self.manage)
            .any(|g| g.namespace == namespace && g.link == link)
    }

    /// Getting a pre-existing link of a namespace the lab did not create.
    pub fn check_link_visible(&self, namespace: &str, link: &str, root: bool) -> OpResult<()> {
        if self.link_granted(namespace, link, root) {
            return Ok(());
        }
        if root {
            return self.check_parent(namespace, link, true);
        }
        Err(self.deny(
            format!("get link {link:?} in namespace {namespace:?} (the lab did not create it)"),
            format!(
                "add {{ namespace = {namespace:?}, link = {link:?} }} to [links] parents (to use it as a macvlan parent) or to [links] manage (to change it)"
            ),
        ))
    }

    /// A change whose effect lands on pre-existing link `link`, which the
    /// lab uses as a macvlan parent: a passthru child, or a child the
    /// kernel makes pass promiscuity on (a bridge port), takes the parent
    /// over. That is managing the parent, so it needs the parent in
    /// `[links] manage`, and on the root namespace it is never allowed.
    /// `what` says what the guest asked and what it would do to the parent.
    pub fn check_takeover(
        &self,
        namespace: &str,
        link: &str,
        root: bool,
        what: &str,
    ) -> OpResult<()> {
        if root {
            return Err(OpError::new(
                ErrorKind::Denied,
                format!(
                    "{what}: takes over link {link:?} in the root namespace: never allowed, whatever the policy; the root namespace's links can only be macvlan parents, in a mode other than passthru"
                ),
            ));
        }
        if self.manages(namespace, link) {
            return Ok(());
        }
        Err(self.deny(
            format!(
                "{what}: takes over link {link:?} in namespace {namespace:?} (the lab did not create it; [links] parents grants it only as a parent)"
            ),
            format!("add {{ namespace = {namespace:?}, link = {link:?} }} to [links] manage"),
        ))
    }

    /// Whether `[links] manage` names this link.
    fn manages(&self, namespace: &str, link: &str) -> bool {
        self.manage
            .iter()
            .any(|g| g.namespace == namespace && g.link == link)
    }

    /// A change to a pre-existing link.
    pub fn check_manage(&self, namespace: &str, link: &str, action: &str) -> OpResult<()> {
        if self.manages(namespace, link) {
            return Ok(());
        }
        Err(self.deny(
            format!(
                "{action} link {link:?} in namespace {namespace:?} (the lab did not create it)"
            ),
            format!("add {{ namespace = {namespace:?}, link = {link:?} }} to [links] manage"),
        ))
    }

    /// An interface address. Its prefix length says which network is on
    /// the link, and the kernel routes that whole network out of the link:
    /// so the network, not only the address, must be granted, and so must
    /// the route.
    pub fn check_address(&self, cidr: &Cidr) -> OpResult<()> {
        let net = cidr.network();
        if !self.addresses.iter().any(|p| p.contains(&net)) {
            return Err(self.deny(
                format!("assign address {cidr} (its network {net} would be on the link)"),
                format!(
                    "add a prefix containing {net} to [addresses] allow, or give the address a longer prefix"
                ),
            ));
        }
        if let Some(route) = cidr.prefix_route()
            && !self.route_destinations.iter().any(|p| p.contains(&route))
        {
            return Err(self.deny(
                format!(
                    "assign address {cidr} (the kernel would add a route to {route} out of the link)"
                ),
                format!(
                    "add a prefix containing {route} to [routes] destinations, or give the address a longer prefix"
                ),
            ));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        Cidr::parse(s, "address", false).unwrap()
    }

    #[test]
    fn the_cni_policy_grants_the_container_its_interface_and_the_master_only() {
        let p = Policy::for_cni("cni-1", "eth0", Some("ens3"));
        assert!(p.check_ns_modify("cni-1", "build in").is_ok());
        assert!(p.check_ns_open("cni-2").is_err());
        assert!(p.check_ns_create("x").is_err());
        assert!(p.check_manage("cni-1", "eth0", "set mtu").is_ok());
        assert!(p.check_manage("cni-1", "eth1", "set mtu").is_err());
        assert!(p.check_manage("cni-2", "eth0", "set mtu").is_err());
        assert!(p.check_parent(crate::vocab::ROOT_NS, "ens3", true).is_ok());
        assert!(p.check_parent(crate::vocab::ROOT_NS, "ens4", true).is_err());
        assert!(p.check_macvlan_mode(MacvlanMode::Passthru, "mv").is_err());
        assert!(p.check_macvlan_mode(MacvlanMode::Bridge, "mv").is_ok());
        assert!(p.check_kind(LinkKind::Veth, "v").is_err());
        // A container name holding pattern characters is itself only.
        let q = Policy::for_cni("c*", "eth0", None);
        assert!(q.check_ns_modify("c*", "build in").is_ok());
        assert!(q.check_ns_modify("cx", "build in").is_err());
    }

    fn prefixes(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|s| cidr(s)).collect()
    }

    fn denial(r: OpResult<()>) -> String {
        let e = r.expect_err("denied");
        assert_eq!(e.kind, ErrorKind::Denied, "{}", e.message);
        e.message
    }

    #[test]
    fn an_address_needs_its_network_and_its_route() {
        let p = Policy {
            source: Source::File("p.toml".into()),
            addresses: prefixes(&["172.16.10.0/24", "fd00::/64"]),
            route_destinations: prefixes(&["172.16.10.0/24", "fd00::/64"]),
            ..Policy::default()
        };
        for ok in [
            "172.16.10.9/24",
            "172.16.10.9/32",
            "172.16.10.9/30",
            "fd00::5/64",
            "fd00::5/128",
        ] {
            assert!(p.check_address(&cidr(ok)).is_ok(), "{ok}");
        }
        assert_eq!(
            denial(p.check_address(&cidr("172.16.10.9/1"))),
            "assign address 172.16.10.9/1 (its network 128.0.0.0/1 would be on the link): not allowed by policy p.toml; add a prefix containing 128.0.0.0/1 to [addresses] allow, or give the address a longer prefix"
        );
        assert!(
            denial(p.check_address(&cidr("fd00::5/0")))
                .contains("add a prefix containing ::/0 to [addresses] allow")
        );
        assert!(
            denial(p.check_address(&cidr("172.16.10.9/23")))
                .contains("172.16.10.0/23 to [addresses] allow")
        );
        assert!(denial(p.check_address(&cidr("10.0.0.1/8"))).contains("[addresses] allow"));

        // The network is granted, its route is not.
        let p = Policy {
            source: Source::File("p.toml".into()),
            addresses: prefixes(&["0.0.0.0/0", "::/0"]),
            route_destinations: prefixes(&["10.0.0.0/8"]),
            ..Policy::default()
        };
        assert_eq!(
            denial(p.check_address(&cidr("172.16.10.9/24"))),
            "assign address 172.16.10.9/24 (the kernel would add a route to 172.16.10.0/24 out of the link): not allowed by policy p.toml; add a prefix containing 172.16.10.0/24 to [routes] destinations, or give the address a longer prefix"
        );
        assert!(denial(p.check_address(&cidr("fd00::5/0"))).contains("route to ::/0"));
        assert!(denial(p.check_address(&cidr("fd00::5/128"))).contains("route to fd00::5/128"));
        assert!(
            p.check_address(&cidr("172.16.10.9/32")).is_ok(),
            "a /32 adds no route"
        );
        assert!(p.check_address(&cidr("10.1.2.3/16")).is_ok());

        // The default policy grants every prefix, and so every route.
        let d = Policy::default();
        for ok in ["172.16.10.9/1", "fd00::5/0", "10.0.0.1/8", "192.0.2.1/32"] {
            assert!(d.check_address(&cidr(ok)).is_ok(), "{ok}");
        }
    }

    #[test]
    fn takeover_needs_manage_and_never_on_the_root() {
        let grant = |ns: &str, link: &str| LinkGrant {
            namespace: ns.into(),
            link: link.into(),
        };
        let p = Policy {
            source: Source::File("p.toml".into()),
            parents: vec![grant("up", "eth0")],
            manage: vec![grant("up", "eth1")],
            root_links: vec!["eth0".into()],
            ..Policy::default()
        };
        let what = "create macvlan \"mv0\" in mode passthru";
        assert!(p.check_parent("up", "eth0", false).is_ok());
        assert_eq!(
            denial(p.check_takeover("up", "eth0", false, what)),
            "create macvlan \"mv0\" in mode passthru: takes over link \"eth0\" in namespace \"up\" (the lab did not create it; [links] parents grants it only as a parent): not allowed by policy p.toml; add { namespace = \"up\", link = \"eth0\" } to [links] manage"
        );
        assert!(p.check_takeover("up", "eth1", false, what).is_ok());
        assert!(p.check_parent("/", "eth0", true).is_ok());
        let root = denial(p.check_takeover("/", "eth0", true, what));
        assert!(
            root.contains("takes over link \"eth0\" in the root namespace: never allowed"),
            "{root}"
        );
        assert!(root.contains("can only be macvlan parents"), "{root}");
        // Managing a root link cannot be granted: "/" is no namespace name.
        assert!(crate::vocab::net::check_ns_name("/").is_err());
    }

    #[test]
    fn a_vxlan_sends_only_where_the_policy_says() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let p = Policy {
            source: Source::File("p.toml".into()),
            addresses: prefixes(&["10.0.0.0/24"]),
            vxlan_ids: vec![100..=199],
            vxlan_ports: vec![4789..=4789],
            vxlan_remotes: prefixes(&["10.0.0.0/24", "239.1.0.0/16"]),
            parents: vec![LinkGrant {
                namespace: "up".into(),
                link: "eth0".into(),
            }],
            ..Policy::default()
        };
        let (l, r, g) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("239.1.1.1"));
        assert!(
            p.check_vxlan("vx0", 100, 4789, Some(&l), Some(&r), None)
                .is_ok()
        );
        assert!(
            p.check_vxlan("vx0", 199, 4789, None, None, Some(&g))
                .is_ok()
        );
        assert!(p.check_vxlan("vx0", 150, 4789, None, None, None).is_ok());
        assert_eq!(
            denial(p.check_vxlan("vx0", 200, 4789, None, Some(&r), None)),
            "create vxlan \"vx0\" with VNI 200: not allowed by policy p.toml; add 200 to [links] vxlan-ids"
        );
        assert_eq!(
            denial(p.check_vxlan("vx0", 100, 8472, None, Some(&r), None)),
            "create vxlan \"vx0\" with port 8472: not allowed by policy p.toml; add 8472 to [links] vxlan-ports"
        );
        assert_eq!(
            denial(p.check_vxlan("vx0", 100, 4789, None, Some(&ip("192.0.2.9")), None)),
            "create vxlan \"vx0\" with remote 192.0.2.9 (the kernel would send its tunnel's packets there): not allowed by policy p.toml; add a prefix containing 192.0.2.9 to [links] vxlan-remotes"
        );
        assert!(
            denial(p.check_vxlan("vx0", 100, 4789, None, None, Some(&ip("239.2.0.1"))))
                .contains("with group 239.2.0.1")
        );
        assert!(
            denial(p.check_vxlan("vx0", 100, 4789, Some(&ip("10.0.1.1")), Some(&r), None))
                .contains("with local 10.0.1.1 (its tunnel's packets would come from there): not allowed by policy p.toml; add a prefix containing 10.0.1.1 to [addresses] allow")
        );
        assert!(p.check_device("up", "eth0", "vx0").is_ok());
        assert_eq!(
            denial(p.check_device("up", "eth1", "vx0")),
            "create vxlan \"vx0\" on device \"eth1\" in namespace \"up\" (the lab did not create it): not allowed by policy p.toml; add { namespace = \"up\", link = \"eth1\" } to [links] parents"
        );
        // The default policy: any VNI, port and address; the CNI one: no
        // vxlans at all.
        let d = Policy::default();
        assert!(
            d.check_vxlan(
                "vx0",
                crate::vocab::VNI_MAX,
                1,
                Some(&l),
                Some(&ip("fd00::1")),
                None
            )
            .is_ok()
        );
        assert!(d.check_kind(LinkKind::Vxlan, "vx0").is_ok());
        assert!(
            Policy::for_cni("c", "eth0", None)
                .check_kind(LinkKind::Vxlan, "vx0")
                .is_err()
        );
    }

    #[test]
    fn only_granted_links_are_visible() {
        let p = Policy {
            source: Source::File("p.toml".into()),
            parents: vec![LinkGrant {
                namespace: "up".into(),
                link: "p0".into(),
            }],
            root_links: vec!["eth0".into()],
            ..Policy::default()
        };
        assert!(p.check_link_visible("up", "p0", false).is_ok());
        assert!(p.check_link_visible("/", "eth0", true).is_ok());
        let e = denial(p.check_link_visible("up", "p1", false));
        assert!(e.contains("get link \"p1\" in namespace \"up\""), "{e}");
        assert!(
            e.contains("to [links] parents") && e.contains("[links] manage"),
            "{e}"
        );
        assert!(
            denial(p.check_link_visible("/", "lo", true)).contains("add \"lo\" to [root] links")
        );
        assert!(!p.link_granted("other", "p0", false));
        assert!(!p.link_granted("/", "p0", true));
    }
}
