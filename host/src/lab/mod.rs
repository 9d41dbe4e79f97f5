//! One run of a lab script: the guest's view of the kernel, through the
//! sandbox.
//!
//! Every operation a guest asks for goes through a [`Lab`] method, which in
//! this order: counts it against the operation quota, checks it against the
//! policy (a refusal changes nothing), asks the kernel, records what it
//! created in the journal (before the guest hears of it), and writes the
//! audit line. The WIT layer above only converts types and handles.

mod addrs;
pub mod audit;
mod batch;
mod gate;
mod links;
mod loops;
mod namespaces;
mod processes;
mod routes;
#[cfg(test)]
mod tests_sim;
#[cfg(test)]
pub(crate) mod tests_support;
mod verify;
pub(crate) use verify::probe_error;

pub use self::batch::{NsPlan, PlanLink, PlanRoute, PlanVxlan};
pub use self::gate::{Quota, Usage};
pub use self::processes::{ProcKey, StartSpec, Taken, Which};
pub use self::verify::matrix_lines;

use self::gate::is_root;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Failure, HostResult, OpError};
use crate::kernel::Kernel;
use crate::ledger::replay::Object;
use crate::ledger::{Entry, Ledger};
use crate::policy::Policy;
use crate::vocab::Operation;
use crate::vocab::{LinkInfo, MacvlanMode, NsId, NsIdent, RouteSpec};

use self::audit::Audit;
use self::gate::Gate;

/// How the lab came to hold a namespace or link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Created by this lab (in this run, or recorded in its ledger).
    Created,
    /// Pre-existing, opened as the policy allows.
    Granted,
}

#[derive(Debug)]
struct NsEntry {
    id: NsId,
    origin: Origin,
}

/// A link the lab holds. Handles refer to it by [`LinkKey`], so every handle
/// follows the link when it is renamed or moved.
#[derive(Debug, Clone)]
struct LinkEntry {
    ns: String,
    /// Interface indices are allocated per namespace from a counter that
    /// only grows, so a stale index cannot silently denote a newer link.
    index: u32,
    name: String,
    origin: Origin,
    /// Whether the journal records the link (it was made by this lab), so
    /// that changes to it are journaled too. Changes to links the journal
    /// does not hold (`lo`, links granted by `[links] manage`) would only
    /// make the journal grow: nothing reads them.
    journaled: bool,
    /// Its place in the layer-2 topology, for the loop check.
    l2: loops::L2,
    /// The kind the kernel reported (`macvlan`, `veth`, ...).
    kind: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkKey(u64);

/// Settings of a new macvlan.
#[derive(Debug, Clone)]
pub struct MacvlanConfig {
    pub name: String,
    pub mode: Option<MacvlanMode>,
    pub mac: Option<String>,
    pub mtu: Option<u32>,
}

/// Settings of a new vxlan, as the guest gave them (see `vxlan-config`
/// in `wit/link.wit`).
#[derive(Debug, Clone, Default)]
pub struct VxlanConfig {
    pub id: u32,
    pub local: Option<String>,
    pub remote: Option<String>,
    pub group: Option<String>,
    /// The underlay link, by name in the vxlan's namespace.
    pub device: Option<String>,
    /// None is [`crate::vocab::VXLAN_PORT`].
    pub port: Option<u16>,
    pub learning: Option<bool>,
    pub ttl: Option<u8>,
}

/// A reachability expectation stated by the guest.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub from: String,
    pub to: IpAddr,
    pub reachable: bool,
    pub label: String,
}

/// An expectation, checked.
#[derive(Debug, Clone)]
pub struct Checked {
    pub expectation: Expectation,
    /// Whether the address answered. When the probe failed, the opposite
    /// of what was expected, so that no reading of it (WIT
    /// `outcome.actual`) counts as met.
    pub actual: bool,
    /// The probe itself failed: it cannot tell either way.
    pub failed: bool,
    /// What the probe saw, e.g. `2/2 replies, 0.061 ms`, `no route` or
    /// `probe failed: ...`.
    pub detail: String,
}

impl Checked {
    pub fn met(&self) -> bool {
        !self.failed && self.actual == self.expectation.reachable
    }
}

/// How hard an expectation probes: echo requests, and how long to wait for
/// replies after the last (which bounds the cost of an unreachable pair).
const EXPECT_COUNT: u32 = 2;
const EXPECT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1000);

pub struct Lab {
    kernel: Arc<dyn Kernel>,
    policy: Arc<Policy>,
    namespaces: HashMap<String, NsEntry>,
    links: HashMap<LinkKey, LinkEntry>,
    next_link: u64,
    /// Routes this lab added, with their whole key: in a namespace it did
    /// not create, the only routes it may delete; anywhere, the only route
    /// deletions it journals (deleting what the kernel made, which it makes
    /// again, would otherwise grow the journal without bound). Routes
    /// recorded by earlier runs (`--attach`) are here too.
    added_routes: HashSet<(String, RouteSpec)>,
    /// Addresses this lab added (namespace, link index, address), likewise
    /// the only address deletions it journals.
    added_addrs: HashSet<(String, u32, crate::vocab::net::Cidr)>,
    /// Namespaces recorded as the lab's own by earlier runs (`--attach`),
    /// with the identity they still had when the run began.
    adopted: HashMap<String, NsIdent>,
    /// Links (namespace, index, name) recorded as the lab's own by earlier
    /// runs, as they still were when the run began.
    adopted_links: HashSet<(String, u32, String)>,
    /// The operation quota, `[operations]`, the object quotas and the
    /// audit: what every operation passes.
    gate: Gate,
    pending: Vec<Expectation>,
    checked: Vec<Checked>,
    /// Whether the batch call under way got past its checks (for its audit).
    batch_started: bool,
    /// The (source namespace, destination) pairs probed so far (see
    /// `[quotas] probes`).
    probed: HashSet<(String, IpAddr)>,
    /// Who hears of each round of checked expectations (the runtime prints
    /// them as a matrix, charged to the guest's output budget).
    on_checked: Option<OnChecked>,
    ledger: Option<Ledger>,
    /// The programs the guest holds handles to.
    processes: HashMap<ProcKey, processes::ProcEntry>,
    next_proc_key: u64,
    /// Programs started, for naming their cgroups.
    next_proc: u64,
    /// Where programs' stdout and stderr go: the lab's directory in the
    /// state directory, and the lab's name there. None in a scratch
    /// session, where no program runs.
    program_logs: Option<(crate::ledger::StateDir, String)>,
    /// Searches of other labs' journals for a namespace's holder made in
    /// this run (each may read many journals: a few per run, not one per
    /// guest call).
    holder_searches: std::sync::atomic::AtomicU32,
}

/// See [`Lab::on_checked`].
type OnChecked = Arc<dyn Fn(&[Checked]) + Send + Sync>;

fn desc_ns(name: &str) -> String {
    if is_root(name) {
        "the root namespace".to_string()
    } else {
        format!("namespace {name:?}")
    }
}

impl Lab {
    pub fn new(kernel: Arc<dyn Kernel>, policy: Arc<Policy>) -> Self {
        let gate = Gate::new(Arc::clone(&policy));
        Self {
            kernel,
            policy,
            namespaces: HashMap::new(),
            links: HashMap::new(),
            next_link: 1,
            added_routes: HashSet::new(),
            added_addrs: HashSet::new(),
            adopted: HashMap::new(),
            adopted_links: HashSet::new(),
            gate,
            pending: Vec::new(),
            checked: Vec::new(),
            batch_started: false,
            probed: HashSet::new(),
            on_checked: None,
            ledger: None,
            processes: HashMap::new(),
            next_proc_key: 0,
            next_proc: 0,
            program_logs: None,
            holder_searches: std::sync::atomic::AtomicU32::new(0),
        }
    }

    pub fn with_audit(mut self, audit: Audit) -> Self {
        self.gate.set_audit(audit);
        self
    }

    pub fn with_ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Keeps programs' output in lab `lab`'s directory under `state`,
    /// whose lock the caller holds.
    pub fn with_program_logs(mut self, state: crate::ledger::StateDir, lab: &str) -> Self {
        self.program_logs = Some((state, lab.to_string()));
        self
    }

    /// Calls `report` with each round of checked expectations.
    pub fn on_checked(mut self, report: impl Fn(&[Checked]) + Send + Sync + 'static) -> Self {
        self.on_checked = Some(Arc::new(report));
        self
    }

    /// Every expectation checked so far, in order.
    pub fn checked(&self) -> &[Checked] {
        &self.checked
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn usage(&self) -> &Usage {
        &self.gate.usage
    }

    pub fn take_ledger(&mut self) -> Option<Ledger> {
        self.ledger.take()
    }

    /// Marks the objects earlier runs of this lab recorded as the lab's
    /// own, so that an attached run may change and delete them, after
    /// checking each against the kernel: a namespace whose name now denotes
    /// another namespace, a link whose index now is another link, or an
    /// object recorded without its identity is not the lab's to hand over.
    /// Returns one line per object left out, and why.
    ///
    /// The lab's own namespaces are held from then on, with every link in
    /// them and every recorded link elsewhere, so that what earlier runs
    /// built counts in this run's checks (the layer-2 loop check above all)
    /// before the guest asks for any of it.
    pub async fn adopt(&mut self, objects: &[Object]) -> anyhow::Result<Vec<String>> {
        let mut refused = Vec::new();
        let home = self.kernel.ns_home().ok();
        // The identity each recorded namespace has now, if it exists.
        let mut now: HashMap<String, Option<(NsId, NsIdent)>> = HashMap::new();
        // The namespaces of links' parents and peers too, so that the links
        // held below resolve what they hang off across namespaces.
        let related = objects.iter().flat_map(|o| {
            let (parent, peer) = match o {
                Object::Link {
                    parent_ns, peer_ns, ..
                } => (parent_ns.as_deref(), peer_ns.as_deref()),
                _ => (None, None),
            };
            std::iter::once(o.ns()).chain(parent).chain(peer)
        });
        for ns in related {
            if is_root(ns) {
                continue;
            }
            if !now.contains_key(ns) {
                let found = if self.kernel.ns_exists(ns) {
                    self.kernel.ns_open(ns).await.ok()
                } else {
                    None
                };
                now.insert(ns.to_string(), found);
            }
        }
        let verified = |o: &Object| -> Result<NsId, String> {
            let Some(recorded) = o.ns_id() else {
                return Err("it was recorded without its kernel identity".into());
            };
            match now.get(o.ns()).copied().flatten() {
                None => Err(format!("namespace {} is gone", o.ns())),
                Some((_, found)) if home.is_some_and(|h| h.same(&found)) => {
                    Err(format!("namespace {} is the root namespace", o.ns()))
                }
                Some((_, found)) if !found.same(&recorded) => {
                    Err(format!("namespace {} is another namespace now", o.ns()))
                }
                Some((id, _)) => Ok(id),
            }
        };
        for o in objects {
            // An earlier run's programs stay recorded for `down`; a guest
            // gets no handle to them.
            if matches!(o, Object::Process { .. }) {
                continue;
            }
            let id = match verified(o) {
                Ok(id) => id,
                Err(why) => {
                    refused.push(format!("{}: {why}", o.describe()));
                    continue;
                }
            };
            match o {
                Object::Ns {
                    ns,
                    id: Some(ident),
                } => {
                    self.adopted.insert(ns.clone(), *ident);
                    if !self.namespaces.contains_key(ns) {
                        self.namespaces.insert(
                            ns.clone(),
                            NsEntry {
                                id,
                                origin: Origin::Created,
                            },
                        );
                        self.record(Entry::NsOpen {
                            ns: ns.clone(),
                            id: *ident,
                        })
                        .map_err(|e| match e {
                            Failure::Trap(e) => e,
                            Failure::Op(e) => anyhow::anyhow!("{e}"),
                        })?;
                    }
                }
                Object::Ns { .. } => {}
                Object::Link {
                    ns,
                    name,
                    index: Some(index),
                    kind,
                    peer,
                    peer_ns,
                    peer_index,
                    ..
                } => match self.kernel.link_by_index(id, *index).await {
                    Ok(l) if &l.name == name && l.kind.as_deref() == Some(kind.as_str()) => {
                        self.adopted_links
                            .insert((ns.clone(), *index, name.clone()));
                        if let (Some(p), Some(pns), Some(pi)) = (peer, peer_ns, peer_index) {
                            self.adopted_links.insert((pns.clone(), *pi, p.clone()));
                        }
                    }
                    Ok(l) => refused.push(format!(
                        "{}: interface index {index} is {} now",
                        o.describe(),
                        l.name
                    )),
                    Err(_) => refused.push(format!("{}: it is gone", o.describe())),
                },
                Object::Link { .. } => refused.push(format!(
                    "{}: it was recorded without its interface index",
                    o.describe()
                )),
                Object::Route {
                    ns,
                    destination,
                    gateway,
                    oif,
                    metric,
                    done: true,
                    ..
                } => {
                    let gateway = gateway.as_deref().and_then(|g| g.parse().ok());
                    let dest = crate::vocab::net::parse_destination(
                        destination,
                        matches!(gateway, Some(IpAddr::V6(_))),
                    );
                    if let Ok(destination) = dest {
                        self.added_routes.insert((
                            ns.clone(),
                            RouteSpec {
                                destination,
                                gateway,
                                dev: *oif,
                                metric: *metric,
                                protocol: None,
                            },
                        ));
                    }
                }
                Object::Addr {
                    ns,
                    index: Some(index),
                    cidr,
                    done: true,
                    ..
                } => {
                    if let Ok(c) = crate::vocab::net::Cidr::parse(cidr, "address", false) {
                        self.added_addrs.insert((ns.clone(), *index, c));
                    }
                }
                // Added, but the journal does not say the kernel took it:
                // not the lab's to hand over.
                Object::Route { .. } | Object::Addr { .. } | Object::Process { .. } => {}
            }
        }
        self.hold_adopted_links(objects, &now).await;
        let held: HashSet<NsId> = self.namespaces.values().map(|e| e.id).collect();
        for (id, _) in now.into_values().flatten() {
            if !held.contains(&id) {
                self.kernel.ns_close(id);
            }
        }
        Ok(refused)
    }

    /// Holds every link of the adopted namespaces, and the recorded links
    /// of the lab's in other namespaces, with what the kernel says of them
    /// (while every recorded namespace is open, so that links between
    /// namespaces resolve).
    async fn hold_adopted_links(
        &mut self,
        objects: &[Object],
        now: &HashMap<String, Option<(NsId, NsIdent)>>,
    ) {
        let adopted: Vec<(String, NsId)> = self
            .adopted
            .keys()
            .filter_map(|ns| self.namespaces.get(ns).map(|e| (ns.clone(), e.id)))
            .collect();
        for (ns, id) in adopted {
            for info in self.kernel.link_list(id).await.unwrap_or_default() {
                if self.find_link(&ns, info.index).is_none() {
                    self.hold_found(&ns, &info, Origin::Created);
                }
            }
        }
        for o in objects {
            let Object::Link {
                ns,
                index: Some(index),
                name,
                ..
            } = o
            else {
                continue;
            };
            let recorded = (ns.clone(), *index, name.clone());
            if self.find_link(ns, *index).is_some() || !self.adopted_links.contains(&recorded) {
                continue;
            }
            if let Some((id, _)) = now.get(ns).copied().flatten()
                && let Ok(info) = self.kernel.link_by_index(id, *index).await
            {
                self.new_link_entry(&info, Origin::Created, true);
            }
        }
        // And what those hang off, where the lab can see it (a recorded
        // veth's other end, a macvlan's parent in a granted namespace), so
        // that two links hanging off one are seen to meet there.
        for _ in 0..8 {
            let missing: Vec<(String, u32)> = self
                .links
                .values()
                .filter_map(|l| l.l2.lower.clone())
                .filter(|(ns, i)| self.find_link(ns, *i).is_none())
                .collect();
            let mut found = false;
            for (ns, i) in missing {
                let Some((id, _)) = now.get(&ns).copied().flatten() else {
                    continue;
                };
                if self.find_link(&ns, i).is_some() {
                    continue;
                }
                if let Ok(info) = self.kernel.link_by_index(id, i).await {
                    let origin = if self.adopted.contains_key(&ns) {
                        Origin::Created
                    } else {
                        Origin::Granted
                    };
                    self.hold_found(&ns, &info, origin);
                    found = true;
                }
            }
            if !found {
                break;
            }
        }
    }

    /// Runs one operation with its bookkeeping: the operation quota, the
    /// policy's operation list, and the audit line.
    async fn op<T>(
        &mut self,
        op: Operation,
        args: Value,
        f: impl AsyncFnOnce(&mut Self) -> HostResult<T>,
    ) -> HostResult<T> {
        let result = match self.gate.admit(op, &args) {
            Ok(()) => f(self).await,
            Err(e) => Err(e),
        };
        self.gate.audit(op, args, &result)?;
        result
    }

    /// Records a created object before the guest learns of it. A ledger
    /// that cannot be written is a host failure: the run stops and rolls
    /// back rather than build what it could not undo.
    fn record(&mut self, entry: Entry) -> HostResult<()> {
        if let Some(ledger) = &self.ledger {
            ledger.append(&entry).map_err(Failure::Trap)?;
        }
        Ok(())
    }

    /// Records several entries at once (one write), as [`Lab::record`].
    fn record_all(&mut self, entries: &[Entry]) -> HostResult<()> {
        if let Some(ledger) = &self.ledger {
            ledger.append_all(entries).map_err(Failure::Trap)?;
        }
        Ok(())
    }

    /// Refuses `what` when the journal has no room for about `entries`
    /// more entries (`[quotas] journal`): what cannot be recorded is not
    /// made.
    fn journal_room(&self, what: &str, entries: u64) -> Result<(), OpError> {
        /// A generous size of one entry: a macvlan's is about 250 bytes.
        const ENTRY: u64 = 400;
        let Some(ledger) = &self.ledger else {
            return Ok(());
        };
        ledger.room(entries.saturating_mul(ENTRY)).map_err(|full| {
            OpError::limit(format!(
                "{what}: the lab's journal holds {} bytes, at its cap of {} ([quotas] journal in {})",
                full.size,
                crate::vocab::limit::bytes(full.cap),
                self.policy.source
            ))
        })
    }

    /// Runs a kernel operation that creates or moves something, journaling
    /// it first (write-ahead): a crash at any instant then leaves the ledger
    /// listing at least everything that exists, and teardown finds the rest
    /// already gone. If the kernel refuses, an `abort` entry cancels the
    /// entry.
    async fn journaled<T>(
        &mut self,
        entry: Entry,
        op: String,
        kernel_op: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> HostResult<T> {
        // Routes and addresses have keys another party may hold already
        // (the kernel then refuses ours): their adds are confirmed with a
        // `done` entry once the kernel took them, and only a confirmed one
        // is the lab's — even if this run is cut short between the two.
        let confirm = matches!(entry, Entry::RouteAdd { .. } | Entry::AddrAdd { .. });
        self.journal_room(&op, 2)?;
        self.record(entry)?;
        match kernel_op.await {
            Ok(v) => {
                if confirm {
                    self.record(Entry::Done)?;
                }
                Ok(v)
            }
            Err(e) => {
                self.record(Entry::Abort)?;
                Err(Self::kernel_err(op, e))
            }
        }
    }

    fn ns(&self, name: &str) -> Result<&NsEntry, OpError> {
        self.namespaces
            .get(name)
            .ok_or_else(|| OpError::not_found(format!("{} was deleted", desc_ns(name))))
    }

    fn ns_id(&self, name: &str) -> Result<NsId, OpError> {
        Ok(self.ns(name)?.id)
    }

    fn link(&self, key: LinkKey) -> Result<&LinkEntry, OpError> {
        self.links
            .get(&key)
            .ok_or_else(|| OpError::not_found("the link was deleted"))
    }

    fn desc_link(&self, key: LinkKey) -> String {
        match self.links.get(&key) {
            Some(l) => format!("link {:?} in {}", l.name, desc_ns(&l.ns)),
            None => "a deleted link".to_string(),
        }
    }

    fn kernel_err(op: impl Into<String>, e: std::io::Error) -> Failure {
        Failure::Op(OpError::io(op, &e))
    }

    /// May the lab change this link (state, MTU, MAC, addresses, delete)?
    fn check_change(&self, key: LinkKey, action: &str) -> Result<(), OpError> {
        let link = self.link(key)?;
        if link.origin == Origin::Created {
            // The lab's own link in someone else's namespace acts there as
            // much as a new one would (an address brings a route): under
            // this run's policy, not the one it was made under.
            if !is_root(&link.ns) && self.ns(&link.ns)?.origin != Origin::Created {
                return self.check_builds_in(
                    &link.ns,
                    &format!("{action} link {:?} in {}", link.name, desc_ns(&link.ns)),
                );
            }
            return Ok(());
        }
        if is_root(&link.ns) {
            return Err(OpError::denied(format!(
                "{action} link {:?} in the root namespace: never allowed; the root namespace's links can only be macvlan parents",
                link.name
            )));
        }
        if self.ns(&link.ns)?.origin == Origin::Created {
            return Ok(());
        }
        self.policy.check_manage(&link.ns, &link.name, action)
    }

    /// Whether the link is the lab's own: made by it, or in a namespace it
    /// made. Moving or deleting a link takes it (and what hangs off it: a
    /// veth's peer, macvlan children, the addresses and routes on it) away
    /// from its owner, and a link moved into a namespace the lab made would
    /// die with that namespace; no policy grants that for another's link.
    fn check_own(&self, key: LinkKey, action: &str) -> Result<(), OpError> {
        let link = self.link(key)?;
        if link.origin == Origin::Created {
            return Ok(());
        }
        Err(OpError::denied(format!(
            "{action} link {:?} in {}: the lab did not create it, and only its own links can be moved or deleted; a policy cannot grant this",
            link.name,
            desc_ns(&link.ns)
        )))
    }

    /// May the lab act in this namespace as in its own: create links in it,
    /// move links into it, add routes, probe from it? In the namespaces it
    /// created, yes; in the root, never; in others only where `[namespaces]
    /// modify` says so.
    fn check_builds_in(&self, ns: &str, what: &str) -> Result<(), OpError> {
        let entry = self.ns(ns)?;
        if is_root(ns) {
            return Err(OpError::denied(format!(
                "{what}: nothing is ever created in or moved into the root namespace, whatever the policy"
            )));
        }
        if entry.origin == Origin::Created {
            return Ok(());
        }
        self.policy.check_ns_modify(ns, what)
    }

    /// Holds a link from now on. `journaled`: the journal records it (see
    /// [`LinkEntry::journaled`]).
    fn new_link_entry(&mut self, info: &LinkInfo, origin: Origin, journaled: bool) -> LinkKey {
        let key = LinkKey(self.next_link);
        self.next_link += 1;
        self.links.insert(
            key,
            LinkEntry {
                ns: info.namespace.clone(),
                index: info.index,
                name: info.name.clone(),
                origin,
                journaled,
                l2: loops::L2::from_info(info),
                kind: info.kind.clone(),
            },
        );
        key
    }

    /// Holds a link found in namespace `ns` (of origin `ns_origin`): the
    /// lab's own when the namespace is, or when an earlier run recorded
    /// this very link (by index and name).
    fn hold_found(&mut self, ns: &str, info: &LinkInfo, ns_origin: Origin) -> LinkKey {
        let recorded =
            self.adopted_links
                .contains(&(ns.to_string(), info.index, info.name.clone()));
        let origin = if ns_origin == Origin::Created || recorded {
            Origin::Created
        } else {
            Origin::Granted
        };
        self.new_link_entry(info, origin, recorded)
    }

    /// The key of a link the lab already holds, if it holds it.
    fn find_link(&self, ns: &str, index: u32) -> Option<LinkKey> {
        self.links
            .iter()
            .find(|(_, l)| l.ns == ns && l.index == index)
            .map(|(k, _)| *k)
    }

    /// Closes every namespace connection the run opened.
    pub fn close(&mut self) {
        for (_, ns) in self.namespaces.drain() {
            self.kernel.ns_close(ns.id);
        }
        self.links.clear();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.close();
    }
}
