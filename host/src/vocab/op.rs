//! The operations a guest can ask for, by the names policies, audit lines
//! and errors use: one list, so that a policy can name nothing the host
//! does not do, and the host does nothing a policy cannot name.

use std::fmt;

/// One step a guest asks for. `create-all` and `batch.build` are made of
/// steps (each checked, counted and audited as its own step); they have
/// names of their own only for the audit line of a call refused as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    NamespaceCreate,
    NamespaceOpen,
    NamespaceRoot,
    NamespaceDelete,
    NamespaceList,
    NamespaceSetForwarding,
    LinkAddMacvlan,
    LinkAddVeth,
    LinkAddBridge,
    LinkAddVxlan,
    LinkGet,
    LinkList,
    LinkInfo,
    LinkSetUp,
    LinkSetDown,
    LinkSetMtu,
    LinkSetMac,
    LinkSetMaster,
    LinkUnsetMaster,
    LinkSetHairpin,
    LinkMoveTo,
    LinkDelete,
    AddrAdd,
    AddrDelete,
    AddrList,
    RouteAdd,
    RouteDelete,
    RouteList,
    ProbePing,
    ProbeNeighbors,
    VerifyExpect,
    VerifyCheck,
    ProcessStart,
    ProcessWait,
    ProcessSignal,
    /// A `namespace.create-all` call refused before any of its steps.
    NamespaceCreateAll,
    /// A `batch.build` call refused before any of its steps.
    BatchBuild,
}

impl Operation {
    /// Every step, as `[operations]` names them.
    pub const STEPS: [Operation; 35] = [
        Operation::NamespaceCreate,
        Operation::NamespaceOpen,
        Operation::NamespaceRoot,
        Operation::NamespaceDelete,
        Operation::NamespaceList,
        Operation::NamespaceSetForwarding,
        Operation::LinkAddMacvlan,
        Operation::LinkAddVeth,
        Operation::LinkAddBridge,
        Operation::LinkAddVxlan,
        Operation::LinkGet,
        Operation::LinkList,
        Operation::LinkInfo,
        Operation::LinkSetUp,
        Operation::LinkSetDown,
        Operation::LinkSetMtu,
        Operation::LinkSetMac,
        Operation::LinkSetMaster,
        Operation::LinkUnsetMaster,
        Operation::LinkSetHairpin,
        Operation::LinkMoveTo,
        Operation::LinkDelete,
        Operation::AddrAdd,
        Operation::AddrDelete,
        Operation::AddrList,
        Operation::RouteAdd,
        Operation::RouteDelete,
        Operation::RouteList,
        Operation::ProbePing,
        Operation::ProbeNeighbors,
        Operation::VerifyExpect,
        Operation::VerifyCheck,
        Operation::ProcessStart,
        Operation::ProcessWait,
        Operation::ProcessSignal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::NamespaceCreate => "namespace.create",
            Operation::NamespaceOpen => "namespace.open",
            Operation::NamespaceRoot => "namespace.root",
            Operation::NamespaceDelete => "namespace.delete",
            Operation::NamespaceList => "namespace.list",
            Operation::NamespaceSetForwarding => "namespace.set-forwarding",
            Operation::LinkAddMacvlan => "link.add-macvlan",
            Operation::LinkAddVeth => "link.add-veth",
            Operation::LinkAddBridge => "link.add-bridge",
            Operation::LinkAddVxlan => "link.add-vxlan",
            Operation::LinkGet => "link.get",
            Operation::LinkList => "link.list",
            Operation::LinkInfo => "link.info",
            Operation::LinkSetUp => "link.set-up",
            Operation::LinkSetDown => "link.set-down",
            Operation::LinkSetMtu => "link.set-mtu",
            Operation::LinkSetMac => "link.set-mac",
            Operation::LinkSetMaster => "link.set-master",
            Operation::LinkUnsetMaster => "link.unset-master",
            Operation::LinkSetHairpin => "link.set-hairpin",
            Operation::LinkMoveTo => "link.move-to",
            Operation::LinkDelete => "link.delete",
            Operation::AddrAdd => "addr.add",
            Operation::AddrDelete => "addr.delete",
            Operation::AddrList => "addr.list",
            Operation::RouteAdd => "route.add",
            Operation::RouteDelete => "route.delete",
            Operation::RouteList => "route.list",
            Operation::ProbePing => "probe.ping",
            Operation::ProbeNeighbors => "probe.neighbors",
            Operation::VerifyExpect => "verify.expect",
            Operation::VerifyCheck => "verify.check",
            Operation::ProcessStart => "process.start",
            Operation::ProcessWait => "process.wait",
            Operation::ProcessSignal => "process.signal",
            Operation::NamespaceCreateAll => "namespace.create-all",
            Operation::BatchBuild => "batch.build",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_are_distinct_and_dotted() {
        let mut names: Vec<&str> = Operation::STEPS.iter().map(|o| o.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Operation::STEPS.len());
        assert!(names.iter().all(|n| n.contains('.')));
    }
}
