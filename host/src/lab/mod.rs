//! One run of a lab script: the guest's view of the kernel, through the
//! sandbox.
//!
//! Every operation a guest asks for goes through a [`Lab`] method, which in
//! this order: counts it against the operation quota, checks it against the
//! policy (a refusal changes nothing), asks the kernel, records what it
//! created in the journal (before the guest hears of it), and writes the
//! audit line. The WIT layer above only converts types and handles.

pub mod audit;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::{ErrorKind, Failure, HostResult, OpError};
use crate::kernel::{
    AddrInfo, Kernel, LinkChange, LinkInfo, MacvlanMode, NewLink, NewLinkKind, NsId, ROOT_NS,
    RouteInfo, RouteSpec,
};
use crate::ledger::{Entry, Ledger};
use crate::net::{Cidr, Mac, check_link_name, check_mtu, check_ns_name};
use crate::policy::{LinkKind, Policy};

use self::audit::Audit;

/// A route recorded by an earlier run: namespace, destination, gateway.
type AdoptedRoute = (String, String, Option<String>);

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
    pub actual: bool,
    /// What the probe saw, e.g. `2/2 replies, 0.061 ms` or `no route`.
    pub detail: String,
}

impl Checked {
    pub fn met(&self) -> bool {
        self.actual == self.expectation.reachable
    }
}

/// How hard an expectation probes: echo requests, and how long to wait for
/// replies after the last (which bounds the cost of an unreachable pair).
const EXPECT_COUNT: u32 = 2;
const EXPECT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1000);

/// What a run has used of its quotas.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub namespaces: u64,
    pub links: u64,
    pub addresses: u64,
    pub routes: u64,
    pub operations: u64,
}

pub struct Lab {
    kernel: Arc<dyn Kernel>,
    policy: Arc<Policy>,
    namespaces: HashMap<String, NsEntry>,
    links: HashMap<LinkKey, LinkEntry>,
    next_link: u64,
    /// Routes this lab added in namespaces it did not create, which it may
    /// therefore delete again.
    added_routes: HashSet<(String, RouteSpec)>,
    /// Namespaces recorded as the lab's own by earlier runs (`--attach`).
    adopted: HashSet<String>,
    /// Links (namespace, name) recorded as the lab's own by earlier runs.
    adopted_links: HashSet<(String, String)>,
    /// Routes recorded by earlier runs, which an attached run may delete.
    adopted_routes: Vec<AdoptedRoute>,
    usage: Usage,
    pending: Vec<Expectation>,
    checked: Vec<Checked>,
    audit: Option<Audit>,
    ledger: Option<Ledger>,
}

fn desc_ns(name: &str) -> String {
    if name == ROOT_NS {
        "the root namespace".to_string()
    } else {
        format!("namespace {name:?}")
    }
}

impl Lab {
    pub fn new(kernel: Arc<dyn Kernel>, policy: Arc<Policy>) -> Self {
        Self {
            kernel,
            policy,
            namespaces: HashMap::new(),
            links: HashMap::new(),
            next_link: 1,
            added_routes: HashSet::new(),
            adopted: HashSet::new(),
            adopted_links: HashSet::new(),
            adopted_routes: Vec::new(),
            usage: Usage::default(),
            pending: Vec::new(),
            checked: Vec::new(),
            audit: None,
            ledger: None,
        }
    }

    pub fn with_audit(mut self, audit: Audit) -> Self {
        self.audit = Some(audit);
        self
    }

    pub fn with_ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = Some(ledger);
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    pub fn ledger_mut(&mut self) -> Option<&mut Ledger> {
        self.ledger.as_mut()
    }

    pub fn take_ledger(&mut self) -> Option<Ledger> {
        self.ledger.take()
    }

    /// Marks the objects earlier runs of this lab recorded as the lab's
    /// own, so that an attached run may change and delete them.
    pub fn adopt(&mut self, objects: &[crate::ledger::undo::Object]) {
        use crate::ledger::undo::Object;
        for o in objects {
            match o {
                Object::Ns { ns } => {
                    self.adopted.insert(ns.clone());
                }
                Object::Link {
                    ns,
                    name,
                    peer,
                    peer_ns,
                    ..
                } => {
                    self.adopted_links.insert((ns.clone(), name.clone()));
                    if let (Some(p), Some(pns)) = (peer, peer_ns) {
                        self.adopted_links.insert((pns.clone(), p.clone()));
                    }
                }
                Object::Route {
                    ns,
                    destination,
                    gateway,
                    ..
                } => {
                    self.adopted_routes
                        .push((ns.clone(), destination.clone(), gateway.clone()));
                }
                Object::Addr { .. } => {}
            }
        }
    }

    /// Runs one operation with its bookkeeping: the operation quota, the
    /// policy's operation list, and the audit line.
    async fn op<T>(
        &mut self,
        op: &'static str,
        args: Value,
        f: impl AsyncFnOnce(&mut Self) -> HostResult<T>,
    ) -> HostResult<T> {
        let result = self.gate(op, &args);
        let result = match result {
            Ok(()) => f(self).await,
            Err(e) => Err(Failure::Op(e)),
        };
        if let Some(audit) = &mut self.audit {
            audit.record(op, args, &result)?;
        }
        result
    }

    fn gate(&mut self, op: &'static str, args: &Value) -> Result<(), OpError> {
        if self.usage.operations >= self.policy.quotas.operations {
            return Err(OpError::limit(format!(
                "{op}: the run has used its quota of {} operations ([quotas] operations in {})",
                self.policy.quotas.operations, self.policy.source
            )));
        }
        self.usage.operations += 1;
        self.policy.check_operation(op, &args.to_string())
    }

    fn quota(&self, what: &str, used: u64, max: u64, key: &str) -> Result<(), OpError> {
        if used >= max {
            return Err(OpError::limit(format!(
                "{what}: the run has used its quota of {max} {key} ([quotas] {key} in {})",
                self.policy.source
            )));
        }
        Ok(())
    }

    /// Records a created object before the guest learns of it. A ledger
    /// that cannot be written is a host failure: the run stops and rolls
    /// back rather than build what it could not undo.
    fn record(&mut self, entry: Entry) -> HostResult<()> {
        if let Some(ledger) = &mut self.ledger {
            ledger.append(&entry).map_err(Failure::Trap)?;
        }
        Ok(())
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
        self.record(entry)?;
        match kernel_op.await {
            Ok(v) => Ok(v),
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
            return Ok(());
        }
        if link.ns == ROOT_NS {
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

    /// May the lab create links in (or move links into) this namespace?
    fn check_target(&self, ns: &str, what: &str) -> Result<(), OpError> {
        self.ns(ns)?;
        if ns == ROOT_NS {
            return Err(OpError::denied(format!(
                "{what}: nothing is ever created in or moved into the root namespace, whatever the policy"
            )));
        }
        Ok(())
    }

    fn new_link_entry(&mut self, info: &LinkInfo, origin: Origin) -> LinkKey {
        let key = LinkKey(self.next_link);
        self.next_link += 1;
        self.links.insert(
            key,
            LinkEntry {
                ns: info.namespace.clone(),
                index: info.index,
                name: info.name.clone(),
                origin,
            },
        );
        key
    }

    /// The origin of an existing link found by name in a namespace of
    /// origin `ns_origin`.
    fn found_origin(&self, ns: &str, name: &str, ns_origin: Origin) -> Origin {
        if ns_origin == Origin::Created
            || self
                .adopted_links
                .contains(&(ns.to_string(), name.to_string()))
        {
            Origin::Created
        } else {
            Origin::Granted
        }
    }

    /// The key of a link the lab already holds, if it holds it.
    fn find_link(&self, ns: &str, index: u32) -> Option<LinkKey> {
        self.links
            .iter()
            .find(|(_, l)| l.ns == ns && l.index == index)
            .map(|(k, _)| *k)
    }

    // ---- namespaces ----------------------------------------------------

    pub async fn ns_create(&mut self, name: &str) -> HostResult<String> {
        self.op("namespace.create", json!({ "name": name }), async |lab| {
            check_ns_name(name)?;
            lab.policy.check_ns_create(name)?;
            lab.quota(
                &format!("create namespace {name:?}"),
                lab.usage.namespaces,
                lab.policy.quotas.namespaces,
                "namespaces",
            )?;
            if lab.kernel.ns_exists(name) {
                return Err(OpError::new(
                    ErrorKind::AlreadyExists,
                    format!("create namespace {name:?}: a namespace of that name exists"),
                )
                .into());
            }
            let k = lab.kernel.clone();
            let entry = Entry::NsCreate {
                ns: name.to_string(),
            };
            let id = lab
                .journaled(
                    entry,
                    format!("create namespace {name:?}"),
                    k.ns_create(name),
                )
                .await?;
            lab.usage.namespaces += 1;
            lab.namespaces.insert(
                name.to_string(),
                NsEntry {
                    id,
                    origin: Origin::Created,
                },
            );
            Ok(name.to_string())
        })
        .await
    }

    /// Creates every namespace in `names`, concurrently, all or nothing.
    ///
    /// Each name goes through what [`Lab::ns_create`] does: the operation
    /// quota and `[operations]` (as `namespace.create`), the name check, the
    /// policy, the namespace quota, a write-ahead journal entry, and an
    /// audit line. All names are checked before any is created, so a
    /// refusal changes nothing; when the kernel fails on one, the namespaces
    /// this call created are deleted again (and journaled as deleted) before
    /// the error, which names the failing name, is returned.
    pub async fn ns_create_all(&mut self, names: &[String]) -> HostResult<Vec<String>> {
        let result = self.create_all(names).await;
        if let Some(audit) = &mut self.audit {
            for name in names {
                let outcome: HostResult<()> = match &result {
                    Ok(_) => Ok(()),
                    Err(Failure::Op(e)) => Err(Failure::Op(e.clone())),
                    Err(Failure::Trap(e)) => Err(Failure::Trap(anyhow::anyhow!("{e:#}"))),
                };
                let args = json!({ "name": name, "batch": names.len() });
                audit.record("namespace.create", args, &outcome)?;
            }
        }
        result
    }

    async fn create_all(&mut self, names: &[String]) -> HostResult<Vec<String>> {
        let n = names.len() as u64;
        let op = "namespace.create";
        if self.usage.operations.saturating_add(n) > self.policy.quotas.operations {
            return Err(OpError::limit(format!(
                "{op}: creating {n} namespaces would pass the run's quota of {} operations ([quotas] operations in {})",
                self.policy.quotas.operations, self.policy.source
            ))
            .into());
        }
        self.usage.operations += n;
        let mut seen = HashSet::new();
        for name in names {
            self.policy
                .check_operation(op, &json!({ "name": name }).to_string())?;
            check_ns_name(name)?;
            if !seen.insert(name.as_str()) {
                return Err(OpError::invalid(format!(
                    "create namespace {name:?}: the name is given twice"
                ))
                .into());
            }
            self.policy.check_ns_create(name)?;
        }
        let room = self
            .policy
            .quotas
            .namespaces
            .saturating_sub(self.usage.namespaces);
        if n > room {
            let name = &names[room as usize];
            self.quota(
                &format!("create namespace {name:?}"),
                self.policy.quotas.namespaces,
                self.policy.quotas.namespaces,
                "namespaces",
            )?;
        }
        for name in names {
            if self.kernel.ns_exists(name) {
                return Err(OpError::new(
                    ErrorKind::AlreadyExists,
                    format!("create namespace {name:?}: a namespace of that name exists"),
                )
                .into());
            }
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // Write-ahead, as `journaled` does for one.
        for name in names {
            self.record(Entry::NsCreate { ns: name.clone() })?;
        }
        let k = self.kernel.clone();
        let results = k.ns_create_all(names).await;
        if results.iter().all(Result::is_ok) {
            for (name, r) in names.iter().zip(results) {
                let id = r.expect("checked above");
                self.usage.namespaces += 1;
                self.namespaces.insert(
                    name.clone(),
                    NsEntry {
                        id,
                        origin: Origin::Created,
                    },
                );
            }
            return Ok(names.to_vec());
        }
        // All or nothing: delete what this call created, and cancel every
        // journal entry it wrote.
        let mut error = None;
        let mut created = Vec::new();
        for (name, r) in names.iter().zip(results) {
            match r {
                Ok(id) => created.push((name, id)),
                Err(e) => {
                    if error.is_none() {
                        error = Some(OpError::io(format!("create namespace {name:?}"), &e));
                    }
                    self.record(Entry::NsDelete { ns: name.clone() })?;
                }
            }
        }
        let mut error = error.expect("one failed");
        for (name, id) in created {
            if let Err(e) = k.ns_delete(id).await {
                // Still journaled as created: the run's rollback removes it.
                return Err(Failure::Trap(anyhow::anyhow!(
                    "{}; then could not delete namespace {name:?}, created in the same call: {e}",
                    error.message
                )));
            }
            self.record(Entry::NsDelete { ns: name.clone() })?;
        }
        error.message = format!("{}; none of the {n} namespaces was created", error.message);
        Err(error.into())
    }

    pub async fn ns_open(&mut self, name: &str) -> HostResult<String> {
        self.op("namespace.open", json!({ "name": name }), async |lab| {
            check_ns_name(name)?;
            if lab.namespaces.contains_key(name) {
                return Ok(name.to_string());
            }
            let adopted = lab.adopted.contains(name);
            if !adopted {
                lab.policy.check_ns_open(name)?;
            }
            if !lab.kernel.ns_exists(name) {
                return Err(OpError::not_found(format!(
                    "open namespace {name:?}: no such namespace"
                ))
                .into());
            }
            if lab.kernel.ns_is_root(name).unwrap_or(true) {
                lab.policy.check_root()?;
            }
            let id = lab
                .kernel
                .ns_open(name)
                .await
                .map_err(|e| Self::kernel_err(format!("open namespace {name:?}"), e))?;
            let origin = if adopted {
                Origin::Created
            } else {
                Origin::Granted
            };
            lab.namespaces
                .insert(name.to_string(), NsEntry { id, origin });
            Ok(name.to_string())
        })
        .await
    }

    pub async fn ns_root(&mut self) -> HostResult<String> {
        self.op("namespace.root", json!({}), async |lab| {
            lab.policy.check_root()?;
            if !lab.namespaces.contains_key(ROOT_NS) {
                let id = lab
                    .kernel
                    .ns_open_root()
                    .await
                    .map_err(|e| Self::kernel_err("open the root namespace", e))?;
                lab.namespaces.insert(
                    ROOT_NS.to_string(),
                    NsEntry {
                        id,
                        origin: Origin::Granted,
                    },
                );
            }
            Ok(ROOT_NS.to_string())
        })
        .await
    }

    pub async fn ns_delete(&mut self, name: &str) -> HostResult<()> {
        self.op("namespace.delete", json!({ "name": name }), async |lab| {
            let entry = lab.ns(name)?;
            if name == ROOT_NS {
                return Err(OpError::denied("delete the root namespace: never allowed").into());
            }
            if entry.origin != Origin::Created {
                lab.policy.check_ns_delete_opened(name)?;
            }
            let id = entry.id;
            lab.kernel
                .ns_delete(id)
                .await
                .map_err(|e| Self::kernel_err(format!("delete namespace {name:?}"), e))?;
            lab.namespaces.remove(name);
            lab.links.retain(|_, l| l.ns != name);
            lab.added_routes.retain(|(ns, _)| ns != name);
            lab.record(Entry::NsDelete {
                ns: name.to_string(),
            })?;
            Ok(())
        })
        .await
    }

    pub async fn ns_set_forwarding(&mut self, name: &str, on: bool) -> HostResult<()> {
        self.op("namespace.set-forwarding", json!({ "name": name, "on": on }), async |lab| {
            let entry = lab.ns(name)?;
            if entry.origin != Origin::Created {
                return Err(OpError::denied(format!(
                    "set forwarding in {}: only in namespaces the lab created; a policy cannot grant this",
                    desc_ns(name)
                ))
                .into());
            }
            let id = entry.id;
            lab.kernel
                .ns_set_forwarding(id, on)
                .await
                .map_err(|e| Self::kernel_err(format!("set forwarding in {}", desc_ns(name)), e))
        })
        .await
    }

    pub async fn ns_list(&mut self) -> HostResult<Vec<String>> {
        self.op("namespace.list", json!({}), async |lab| {
            let all = lab
                .kernel
                .ns_list()
                .map_err(|e| Self::kernel_err("list namespaces", e))?;
            Ok(all
                .into_iter()
                .filter(|n| {
                    lab.namespaces.contains_key(n)
                        || lab.adopted.contains(n)
                        || lab.policy.ns_open.iter().any(|g| g.matches(n))
                })
                .collect())
        })
        .await
    }

    // ---- links ---------------------------------------------------------

    pub async fn link_get(&mut self, ns: &str, name: &str) -> HostResult<LinkKey> {
        self.op(
            "link.get",
            json!({ "namespace": ns, "name": name }),
            async |lab| {
                check_link_name(name)?;
                let entry = lab.ns(ns)?;
                let (id, origin) = (entry.id, entry.origin);
                if ns == ROOT_NS && !lab.policy.root_links.iter().any(|l| l == name) {
                    lab.policy.check_parent(ns, name, true)?;
                }
                let info = lab.kernel.link_by_name(id, name).await.map_err(|e| {
                    Self::kernel_err(format!("get link {name:?} in {}", desc_ns(ns)), e)
                })?;
                if let Some(key) = lab.find_link(ns, info.index) {
                    return Ok(key);
                }
                // A link found in a namespace the lab created is the lab's: it
                // lives and dies with the namespace (`lo`, for one).
                let origin = lab.found_origin(ns, name, origin);
                Ok(lab.new_link_entry(&info, origin))
            },
        )
        .await
    }

    pub async fn link_list(&mut self, ns: &str) -> HostResult<Vec<LinkInfo>> {
        self.op("link.list", json!({ "namespace": ns }), async |lab| {
            let id = lab.ns_id(ns)?;
            let mut links = lab
                .kernel
                .link_list(id)
                .await
                .map_err(|e| Self::kernel_err(format!("list links in {}", desc_ns(ns)), e))?;
            if ns == ROOT_NS {
                links.retain(|l| lab.policy.root_links.contains(&l.name));
            }
            Ok(links)
        })
        .await
    }

    pub async fn link_info(&mut self, key: LinkKey) -> HostResult<LinkInfo> {
        let desc = self.desc_link(key);
        self.op("link.info", json!({ "link": desc }), async |lab| {
            let link = lab.link(key)?.clone();
            let id = lab.ns_id(&link.ns)?;
            lab.kernel
                .link_by_index(id, link.index)
                .await
                .map_err(|e| Self::kernel_err(format!("get {desc}"), e))
        })
        .await
    }

    /// Name and namespace of a link handle, without asking the kernel.
    pub fn link_names(&self, key: LinkKey) -> Result<(String, String), OpError> {
        let l = self.link(key)?;
        Ok((l.name.clone(), l.ns.clone()))
    }

    pub async fn add_macvlan(
        &mut self,
        parent: LinkKey,
        config: MacvlanConfig,
        target: Option<String>,
    ) -> HostResult<LinkKey> {
        let args = json!({
            "parent": self.desc_link(parent),
            "name": config.name,
            "mode": config.mode.map(|m| m.as_str()),
            "mac": config.mac,
            "mtu": config.mtu,
            "target": target,
        });
        self.op("link.add-macvlan", args, async |lab| {
            lab.add_macvlan_inner(parent, config, target).await
        })
        .await
    }

    pub async fn add_macvlan_on(
        &mut self,
        ns: &str,
        parent: &str,
        config: MacvlanConfig,
        target: Option<String>,
    ) -> HostResult<LinkKey> {
        let args = json!({
            "namespace": ns,
            "parent": parent,
            "name": config.name,
            "mode": config.mode.map(|m| m.as_str()),
            "mac": config.mac,
            "mtu": config.mtu,
            "target": target,
        });
        self.op("link.add-macvlan", args, async |lab| {
            check_link_name(parent)?;
            let id = lab.ns_id(ns)?;
            if ns == ROOT_NS {
                lab.policy.check_parent(ns, parent, true)?;
            }
            let info = lab.kernel.link_by_name(id, parent).await.map_err(|e| {
                Self::kernel_err(format!("find parent link {parent:?} in {}", desc_ns(ns)), e)
            })?;
            let key = match lab.find_link(ns, info.index) {
                Some(k) => k,
                None => {
                    let origin = lab.found_origin(ns, parent, lab.ns(ns)?.origin);
                    lab.new_link_entry(&info, origin)
                }
            };
            lab.add_macvlan_inner(key, config, target).await
        })
        .await
    }

    async fn add_macvlan_inner(
        &mut self,
        parent: LinkKey,
        config: MacvlanConfig,
        target: Option<String>,
    ) -> HostResult<LinkKey> {
        let name = config.name.as_str();
        check_link_name(name)?;
        let mac = config.mac.as_deref().map(Mac::parse_unicast).transpose()?;
        if let Some(mtu) = config.mtu {
            check_mtu(mtu)?;
        }
        let p = self.link(parent)?.clone();
        let target_ns = target.clone().unwrap_or_else(|| p.ns.clone());
        self.policy.check_kind(LinkKind::Macvlan, name)?;
        self.policy
            .check_macvlan_mode(config.mode.unwrap_or(MacvlanMode::Vepa), name)?;
        let parent_ns_origin = self.ns(&p.ns)?.origin;
        if p.origin != Origin::Created && parent_ns_origin != Origin::Created {
            self.policy.check_parent(&p.ns, &p.name, p.ns == ROOT_NS)?;
        }
        self.check_target(&target_ns, &format!("create macvlan {name:?}"))?;
        self.quota(
            &format!("create macvlan {name:?}"),
            self.usage.links,
            self.policy.quotas.links,
            "links",
        )?;
        let spec = NewLink {
            name: name.to_string(),
            ns: self.ns_id(&target_ns)?,
            kind: NewLinkKind::Macvlan {
                parent_ns: self.ns_id(&p.ns)?,
                parent: p.index,
                mode: config.mode,
            },
            mac,
            mtu: config.mtu,
        };
        let op = format!(
            "create macvlan {name:?} on {:?} in {}{}",
            p.name,
            desc_ns(&p.ns),
            if target_ns != p.ns {
                format!(" into {}", desc_ns(&target_ns))
            } else {
                String::new()
            }
        );
        let entry = Entry::LinkAdd {
            ns: target_ns,
            name: name.to_string(),
            kind: "macvlan".into(),
            mode: config
                .mode
                .or(Some(MacvlanMode::Vepa))
                .map(|m| m.as_str().to_string()),
            parent: Some(p.name.clone()),
            parent_ns: Some(p.ns.clone()),
            peer: None,
            peer_ns: None,
        };
        let k = self.kernel.clone();
        let created = self.journaled(entry, op, k.link_add(&spec)).await?;
        self.usage.links += 1;
        Ok(self.new_link_entry(&created[0], Origin::Created))
    }

    pub async fn add_veth(
        &mut self,
        ns: &str,
        name: &str,
        peer_ns: &str,
        peer_name: &str,
    ) -> HostResult<(LinkKey, LinkKey)> {
        let args = json!({ "namespace": ns, "name": name, "peer-namespace": peer_ns, "peer-name": peer_name });
        self.op("link.add-veth", args, async |lab| {
            check_link_name(name)?;
            check_link_name(peer_name)?;
            if ns == peer_ns && name == peer_name {
                return Err(OpError::invalid(format!(
                    "create veth {name:?}: both ends have the same name in the same namespace"
                ))
                .into());
            }
            lab.policy.check_kind(LinkKind::Veth, name)?;
            lab.check_target(ns, &format!("create veth {name:?}"))?;
            lab.check_target(peer_ns, &format!("create veth peer {peer_name:?}"))?;
            lab.quota(
                &format!("create veth {name:?}"),
                lab.usage.links + 1,
                lab.policy.quotas.links,
                "links",
            )?;
            let spec = NewLink {
                name: name.to_string(),
                ns: lab.ns_id(ns)?,
                kind: NewLinkKind::Veth {
                    peer_name: peer_name.to_string(),
                    peer_ns: lab.ns_id(peer_ns)?,
                },
                mac: None,
                mtu: None,
            };
            let op = format!(
                "create veth {name:?} in {} with peer {peer_name:?} in {}",
                desc_ns(ns),
                desc_ns(peer_ns)
            );
            let entry = Entry::LinkAdd {
                ns: ns.to_string(),
                name: name.to_string(),
                kind: "veth".into(),
                mode: None,
                parent: None,
                parent_ns: None,
                peer: Some(peer_name.to_string()),
                peer_ns: Some(peer_ns.to_string()),
            };
            let k = lab.kernel.clone();
            let created = lab.journaled(entry, op, k.link_add(&spec)).await?;
            lab.usage.links += 2;
            let a = lab.new_link_entry(&created[0], Origin::Created);
            let b = lab.new_link_entry(&created[1], Origin::Created);
            Ok((a, b))
        })
        .await
    }

    pub async fn add_bridge(&mut self, ns: &str, name: &str) -> HostResult<LinkKey> {
        self.op(
            "link.add-bridge",
            json!({ "namespace": ns, "name": name }),
            async |lab| {
                check_link_name(name)?;
                lab.policy.check_kind(LinkKind::Bridge, name)?;
                lab.check_target(ns, &format!("create bridge {name:?}"))?;
                lab.quota(
                    &format!("create bridge {name:?}"),
                    lab.usage.links,
                    lab.policy.quotas.links,
                    "links",
                )?;
                let spec = NewLink {
                    name: name.to_string(),
                    ns: lab.ns_id(ns)?,
                    kind: NewLinkKind::Bridge,
                    mac: None,
                    mtu: None,
                };
                let op = format!("create bridge {name:?} in {}", desc_ns(ns));
                let entry = Entry::LinkAdd {
                    ns: ns.to_string(),
                    name: name.to_string(),
                    kind: "bridge".into(),
                    mode: None,
                    parent: None,
                    parent_ns: None,
                    peer: None,
                    peer_ns: None,
                };
                let k = lab.kernel.clone();
                let created = lab.journaled(entry, op, k.link_add(&spec)).await?;
                lab.usage.links += 1;
                Ok(lab.new_link_entry(&created[0], Origin::Created))
            },
        )
        .await
    }

    /// Applies one change to a link the lab may change.
    pub async fn link_set(&mut self, key: LinkKey, change: LinkChange) -> HostResult<()> {
        let (op, action, arg) = match &change {
            LinkChange::Up => ("link.set-up", "set up".to_string(), Value::Null),
            LinkChange::Down => ("link.set-down", "set down".to_string(), Value::Null),
            LinkChange::Mtu(m) => ("link.set-mtu", format!("set mtu {m} on"), json!(m)),
            LinkChange::Mac(m) => (
                "link.set-mac",
                format!("set MAC {m} on"),
                json!(m.to_string()),
            ),
            LinkChange::Hairpin(h) => (
                "link.set-hairpin",
                format!("set hairpin {} on", if *h { "on" } else { "off" }),
                json!(h),
            ),
            LinkChange::Master(_) => (
                "link.unset-master",
                "remove from its bridge".to_string(),
                Value::Null,
            ),
        };
        let desc = self.desc_link(key);
        self.op(op, json!({ "link": desc, "value": arg }), async |lab| {
            if let LinkChange::Mtu(m) = change {
                check_mtu(m)?;
            }
            lab.check_change(key, &action)?;
            let link = lab.link(key)?.clone();
            let id = lab.ns_id(&link.ns)?;
            if let LinkChange::Hairpin(_) = change {
                let info = lab
                    .kernel
                    .link_by_index(id, link.index)
                    .await
                    .map_err(|e| Self::kernel_err(format!("{action} {desc}"), e))?;
                if info.master.is_none() {
                    return Err(OpError::invalid(format!(
                        "{action} {desc}: the link is not a bridge port; attach it with set-master first"
                    ))
                    .into());
                }
            }
            lab.kernel
                .link_set(id, link.index, &change)
                .await
                .map_err(|e| Self::kernel_err(format!("{action} {desc}"), e))?;
            let change = match change {
                LinkChange::Up => "up".to_string(),
                LinkChange::Down => "down".to_string(),
                LinkChange::Mtu(m) => format!("mtu={m}"),
                LinkChange::Mac(m) => format!("mac={m}"),
                LinkChange::Hairpin(h) => format!("hairpin={}", if h { "on" } else { "off" }),
                LinkChange::Master(_) => "nomaster".to_string(),
            };
            lab.record(Entry::LinkSet { ns: link.ns.clone(), name: link.name.clone(), change })
        })
        .await
    }

    pub async fn link_set_master(&mut self, key: LinkKey, bridge: LinkKey) -> HostResult<()> {
        let desc = self.desc_link(key);
        let bridge_desc = self.desc_link(bridge);
        self.op(
            "link.set-master",
            json!({ "link": desc, "bridge": bridge_desc }),
            async |lab| {
                lab.check_change(key, "attach to a bridge")?;
                lab.check_change(bridge, "attach a port to")?;
                let link = lab.link(key)?.clone();
                let br = lab.link(bridge)?.clone();
                if link.ns != br.ns {
                    return Err(OpError::invalid(format!(
                        "attach {desc} to {bridge_desc}: they are in different namespaces"
                    ))
                    .into());
                }
                let id = lab.ns_id(&link.ns)?;
                let info = lab
                    .kernel
                    .link_by_index(id, br.index)
                    .await
                    .map_err(|e| Self::kernel_err(format!("get {bridge_desc}"), e))?;
                if info.kind.as_deref() != Some("bridge") {
                    return Err(OpError::invalid(format!(
                        "attach {desc} to {bridge_desc}: that link is not a bridge"
                    ))
                    .into());
                }
                lab.kernel
                    .link_set(id, link.index, &LinkChange::Master(Some(br.index)))
                    .await
                    .map_err(|e| Self::kernel_err(format!("attach {desc} to {bridge_desc}"), e))?;
                lab.record(Entry::LinkSet {
                    ns: link.ns.clone(),
                    name: link.name.clone(),
                    change: format!("master={}", br.name),
                })
            },
        )
        .await
    }

    pub async fn link_move(
        &mut self,
        key: LinkKey,
        to: &str,
        new_name: Option<String>,
    ) -> HostResult<()> {
        let desc = self.desc_link(key);
        self.op(
            "link.move-to",
            json!({ "link": desc, "namespace": to, "new-name": new_name }),
            async |lab| {
                if let Some(n) = &new_name {
                    check_link_name(n)?;
                }
                lab.check_change(key, "move")?;
                lab.check_target(to, &format!("move {desc}"))?;
                let link = lab.link(key)?.clone();
                let from = lab.ns_id(&link.ns)?;
                let to_id = lab.ns_id(to)?;
                let entry = Entry::LinkMove {
                    from_ns: link.ns.clone(),
                    name: link.name.clone(),
                    to_ns: to.to_string(),
                    new_name: new_name.clone().unwrap_or_else(|| link.name.clone()),
                };
                let k = lab.kernel.clone();
                let op = format!("move {desc} to {}", desc_ns(to));
                let info = lab
                    .journaled(
                        entry,
                        op,
                        k.link_move(from, link.index, to_id, new_name.as_deref()),
                    )
                    .await?;
                if let Some(entry) = lab.links.get_mut(&key) {
                    entry.ns = to.to_string();
                    entry.index = info.index;
                    entry.name = info.name.clone();
                }
                Ok(())
            },
        )
        .await
    }

    pub async fn link_delete(&mut self, key: LinkKey) -> HostResult<()> {
        let desc = self.desc_link(key);
        self.op("link.delete", json!({ "link": desc }), async |lab| {
            lab.check_change(key, "delete")?;
            let link = lab.link(key)?.clone();
            let id = lab.ns_id(&link.ns)?;
            let info = lab.kernel.link_by_index(id, link.index).await.ok();
            lab.kernel
                .link_del(id, link.index)
                .await
                .map_err(|e| Self::kernel_err(format!("delete {desc}"), e))?;
            lab.links.remove(&key);
            // The kernel takes a veth's peer with it.
            if let Some(info) = info.filter(|i| i.kind.as_deref() == Some("veth"))
                && let Some(pi) = info.parent_index
                && let Some(peer) =
                    lab.find_link(&info.parent_namespace.unwrap_or(link.ns.clone()), pi)
            {
                lab.links.remove(&peer);
            }
            lab.record(Entry::LinkDelete {
                ns: link.ns.clone(),
                name: link.name.clone(),
            })?;
            Ok(())
        })
        .await
    }

    // ---- addresses -----------------------------------------------------

    pub async fn addr_add(&mut self, key: LinkKey, cidr: &str) -> HostResult<()> {
        let desc = self.desc_link(key);
        self.op(
            "addr.add",
            json!({ "link": desc, "address": cidr }),
            async |lab| {
                let c = Cidr::parse(cidr, "address", false)?;
                lab.check_change(key, &format!("add address {c} to"))?;
                lab.policy.check_address(&c)?;
                lab.quota(
                    &format!("add address {c}"),
                    lab.usage.addresses,
                    lab.policy.quotas.addresses,
                    "addresses",
                )?;
                let link = lab.link(key)?.clone();
                let id = lab.ns_id(&link.ns)?;
                let entry = Entry::AddrAdd {
                    ns: link.ns.clone(),
                    link: link.name.clone(),
                    cidr: c.to_string(),
                };
                let k = lab.kernel.clone();
                let op = format!("add address {c} to {desc}");
                lab.journaled(entry, op, k.addr_add(id, link.index, c))
                    .await?;
                lab.usage.addresses += 1;
                Ok(())
            },
        )
        .await
    }

    pub async fn addr_delete(&mut self, key: LinkKey, cidr: &str) -> HostResult<()> {
        let desc = self.desc_link(key);
        self.op(
            "addr.delete",
            json!({ "link": desc, "address": cidr }),
            async |lab| {
                let c = Cidr::parse(cidr, "address", false)?;
                lab.check_change(key, &format!("delete address {c} from"))?;
                let link = lab.link(key)?.clone();
                let id = lab.ns_id(&link.ns)?;
                lab.kernel
                    .addr_del(id, link.index, c)
                    .await
                    .map_err(|e| Self::kernel_err(format!("delete address {c} from {desc}"), e))?;
                lab.record(Entry::AddrDelete {
                    ns: link.ns.clone(),
                    link: link.name.clone(),
                    cidr: c.to_string(),
                })?;
                Ok(())
            },
        )
        .await
    }

    pub async fn addr_list(&mut self, key: LinkKey) -> HostResult<Vec<AddrInfo>> {
        let desc = self.desc_link(key);
        self.op("addr.list", json!({ "link": desc }), async |lab| {
            let link = lab.link(key)?.clone();
            let id = lab.ns_id(&link.ns)?;
            lab.kernel
                .addr_list(id, Some(link.index))
                .await
                .map_err(|e| Self::kernel_err(format!("list addresses of {desc}"), e))
        })
        .await
    }

    // ---- routes --------------------------------------------------------

    fn route_spec(
        &self,
        destination: &str,
        gateway: Option<&str>,
        metric: Option<u32>,
        dev: Option<LinkKey>,
        ns: &str,
    ) -> Result<RouteSpec, OpError> {
        let gateway: Option<IpAddr> = gateway
            .map(|g| crate::net::parse_ip(g, "gateway"))
            .transpose()?;
        let dest =
            crate::net::parse_destination(destination, gateway.is_some_and(|g| g.is_ipv6()))?;
        if let Some(gw) = gateway
            && gw.is_ipv4() != dest.addr.is_ipv4()
        {
            return Err(OpError::invalid(format!(
                "route to {dest} via {gw}: destination and gateway are of different IP families"
            )));
        }
        let dev = match dev {
            Some(k) => {
                let l = self.link(k)?;
                if l.ns != ns {
                    return Err(OpError::invalid(format!(
                        "route to {dest}: dev {:?} is in {}, not {}",
                        l.name,
                        desc_ns(&l.ns),
                        desc_ns(ns)
                    )));
                }
                Some(l.index)
            }
            None => None,
        };
        if gateway.is_none() && dev.is_none() {
            return Err(OpError::invalid(format!(
                "route to {dest}: give a gateway, a dev, or both"
            )));
        }
        Ok(RouteSpec {
            destination: dest,
            gateway,
            dev,
            metric,
        })
    }

    fn describe_route(r: &RouteSpec, ns: &str) -> String {
        let mut s = format!(
            "route to {}",
            if r.destination.is_default() {
                "default".to_string()
            } else {
                r.destination.to_string()
            }
        );
        if let Some(g) = r.gateway {
            s += &format!(" via {g}");
        }
        if let Some(m) = r.metric {
            s += &format!(" metric {m}");
        }
        s + &format!(" in {}", desc_ns(ns))
    }

    pub async fn route_add(
        &mut self,
        ns: &str,
        destination: &str,
        gateway: Option<&str>,
        metric: Option<u32>,
        dev: Option<LinkKey>,
    ) -> HostResult<()> {
        let args = json!({ "namespace": ns, "destination": destination, "gateway": gateway, "metric": metric, "dev": dev.map(|d| self.desc_link(d)) });
        self.op("route.add", args, async |lab| {
            let spec = lab.route_spec(destination, gateway, metric, dev, ns)?;
            let what = Self::describe_route(&spec, ns);
            let origin = lab.ns(ns)?.origin;
            if ns == ROOT_NS {
                return Err(OpError::denied(format!(
                    "add {what}: never allowed in the root namespace"
                ))
                .into());
            }
            lab.policy
                .check_route(&spec.destination, spec.gateway.as_ref())?;
            lab.quota(
                &format!("add {what}"),
                lab.usage.routes,
                lab.policy.quotas.routes,
                "routes",
            )?;
            let id = lab.ns_id(ns)?;
            let dev_name = dev.and_then(|d| lab.links.get(&d)).map(|l| l.name.clone());
            let entry = Entry::RouteAdd {
                ns: ns.to_string(),
                destination: spec.destination.to_string(),
                gateway: spec.gateway.map(|g| g.to_string()),
                dev: dev_name,
                metric: spec.metric,
            };
            let k = lab.kernel.clone();
            lab.journaled(entry, format!("add {what}"), k.route_add(id, &spec))
                .await?;
            lab.usage.routes += 1;
            if origin != Origin::Created {
                lab.added_routes.insert((ns.to_string(), spec.clone()));
            }
            Ok(())
        })
        .await
    }

    pub async fn route_delete(
        &mut self,
        ns: &str,
        destination: &str,
        gateway: Option<&str>,
        metric: Option<u32>,
        dev: Option<LinkKey>,
    ) -> HostResult<()> {
        let args = json!({ "namespace": ns, "destination": destination, "gateway": gateway, "metric": metric, "dev": dev.map(|d| self.desc_link(d)) });
        self.op("route.delete", args, async |lab| {
            let spec = lab.route_spec(destination, gateway, metric, dev, ns)?;
            let what = Self::describe_route(&spec, ns);
            let origin = lab.ns(ns)?.origin;
            let adopted = lab.adopted_routes.iter().any(|(n, d, g)| {
                n == ns
                    && crate::net::parse_destination(d, false).ok().map(|c| c.to_string())
                        == Some(spec.destination.to_string())
                    && g.as_deref() == spec.gateway.map(|g| g.to_string()).as_deref()
            });
            if origin != Origin::Created && !adopted && !lab.added_routes.contains(&(ns.to_string(), spec.clone())) {
                return Err(OpError::denied(format!(
                    "delete {what}: the lab did not add this route and did not create the namespace; a policy cannot grant this"
                ))
                .into());
            }
            let id = lab.ns_id(ns)?;
            lab.kernel
                .route_del(id, &spec)
                .await
                .map_err(|e| Self::kernel_err(format!("delete {what}"), e))?;
            lab.added_routes.remove(&(ns.to_string(), spec.clone()));
            let dev_name = dev.and_then(|d| lab.links.get(&d)).map(|l| l.name.clone());
            lab.record(Entry::RouteDelete {
                ns: ns.to_string(),
                destination: spec.destination.to_string(),
                gateway: spec.gateway.map(|g| g.to_string()),
                dev: dev_name,
                metric: spec.metric,
            })?;
            Ok(())
        })
        .await
    }

    pub async fn route_list(&mut self, ns: &str) -> HostResult<Vec<RouteInfo>> {
        self.op("route.list", json!({ "namespace": ns }), async |lab| {
            let id = lab.ns_id(ns)?;
            lab.kernel
                .route_list(id)
                .await
                .map_err(|e| Self::kernel_err(format!("list routes in {}", desc_ns(ns)), e))
        })
        .await
    }

    // ---- probes and expectations ---------------------------------------

    /// May the guest probe from this namespace? Any it holds, but the root.
    fn check_probe_from(&self, ns: &str) -> Result<NsId, OpError> {
        let id = self.ns_id(ns)?;
        if ns == ROOT_NS {
            return Err(OpError::denied(
                "probe from the root namespace: never allowed",
            ));
        }
        Ok(id)
    }

    pub async fn probe_ping(
        &mut self,
        ns: &str,
        to: &str,
        count: u32,
        timeout_ms: u32,
    ) -> HostResult<crate::kernel::PingStats> {
        let args = json!({ "namespace": ns, "to": to, "count": count, "timeout-ms": timeout_ms });
        self.op("probe.ping", args, async |lab| {
            let addr = crate::net::parse_ip(to, "ping destination")?;
            if !(1..=100).contains(&count) {
                return Err(
                    OpError::invalid(format!("ping count {count}: must be 1 to 100")).into(),
                );
            }
            if !(1..=60_000).contains(&timeout_ms) {
                return Err(OpError::invalid(format!(
                    "ping timeout {timeout_ms} ms: must be 1 to 60000"
                ))
                .into());
            }
            let id = lab.check_probe_from(ns)?;
            let timeout = std::time::Duration::from_millis(u64::from(timeout_ms));
            lab.kernel
                .ping(id, addr, count, timeout)
                .await
                .map_err(|e| Self::kernel_err(format!("ping {addr} from {}", desc_ns(ns)), e))
        })
        .await
    }

    pub async fn probe_neighbors(&mut self, ns: &str) -> HostResult<Vec<crate::kernel::Neighbor>> {
        self.op("probe.neighbors", json!({ "namespace": ns }), async |lab| {
            let id = lab.check_probe_from(ns)?;
            lab.kernel
                .neighbors(id)
                .await
                .map_err(|e| Self::kernel_err(format!("list neighbours in {}", desc_ns(ns)), e))
        })
        .await
    }

    pub async fn verify_expect(
        &mut self,
        ns: &str,
        to: &str,
        reachable: bool,
        label: &str,
    ) -> HostResult<()> {
        let args = json!({ "namespace": ns, "to": to, "reachable": reachable, "label": label });
        self.op("verify.expect", args, async |lab| {
            let addr = crate::net::parse_ip(to, "expected address")?;
            lab.check_probe_from(ns)?;
            lab.pending.push(Expectation {
                from: ns.to_string(),
                to: addr,
                reachable,
                label: crate::runtime::stdio::neutralise(label.as_bytes()),
            });
            Ok(())
        })
        .await
    }

    pub async fn verify_check(&mut self) -> HostResult<Vec<Checked>> {
        self.op(
            "verify.check",
            json!({ "pending": self.pending.len() }),
            async |lab| Ok(lab.run_pending().await),
        )
        .await
    }

    /// Probes every pending expectation, all at once, prints the matrix and
    /// returns the outcomes.
    pub async fn run_pending(&mut self) -> Vec<Checked> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Vec::new();
        }
        let probes = pending.iter().map(|e| {
            let id = self.ns_id(&e.from);
            let kernel = self.kernel.clone();
            let to = e.to;
            async move {
                match id {
                    Ok(id) => kernel.ping(id, to, EXPECT_COUNT, EXPECT_TIMEOUT).await,
                    Err(e) => Err(std::io::Error::other(e.message)),
                }
            }
        });
        let results = futures::future::join_all(probes).await;
        let checked: Vec<Checked> = pending
            .into_iter()
            .zip(results)
            .map(|(expectation, r)| {
                let (actual, detail) = match r {
                    Ok(s) if s.received > 0 => (
                        true,
                        format!(
                            "{}/{} replies, {:.3} ms",
                            s.received,
                            s.sent,
                            f64::from(s.rtt_avg_us.unwrap_or(0)) / 1000.0
                        ),
                    ),
                    Ok(s) => (false, format!("0/{} replies", s.sent)),
                    Err(e) if e.raw_os_error() == Some(libc::ENETUNREACH) => {
                        (false, "no route".to_string())
                    }
                    Err(e) => (false, format!("probe failed: {e}")),
                };
                Checked {
                    expectation,
                    actual,
                    detail,
                }
            })
            .collect();
        print_matrix(&checked);
        self.checked.extend(checked.iter().cloned());
        checked
    }

    /// Checks what is still pending when the run ends; returns every
    /// unmet expectation of the run.
    pub async fn finish_expectations(&mut self) -> Vec<Checked> {
        self.run_pending().await;
        self.checked.iter().filter(|c| !c.met()).cloned().collect()
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

/// Prints checked expectations as a matrix: one row per pair, with a mark.
pub fn print_matrix(checked: &[Checked]) {
    let word = |b: bool| if b { "reachable" } else { "unreachable" };
    let unmet = checked.iter().filter(|c| !c.met()).count();
    let mut out = format!(
        "reachability: {} checked, {} met, {} NOT met\n",
        checked.len(),
        checked.len() - unmet,
        unmet
    );
    let w_from = checked
        .iter()
        .map(|c| c.expectation.from.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let w_to = checked
        .iter()
        .map(|c| c.expectation.to.to_string().len())
        .max()
        .unwrap_or(2)
        .max(2);
    out += &format!(
        "      {:<w_from$}  {:<w_to$}  {:<11}  {:<11}  {}\n",
        "FROM", "TO", "EXPECTED", "ACTUAL", "DETAIL"
    );
    for c in checked {
        let e = &c.expectation;
        let mark = if c.met() { " ok " } else { "FAIL" };
        let label = if e.label.is_empty() {
            String::new()
        } else {
            format!("  ({})", e.label)
        };
        out += &format!(
            " {mark} {:<w_from$}  {:<w_to$}  {:<11}  {:<11}  {}{label}\n",
            e.from,
            e.to.to_string(),
            word(e.reachable),
            word(c.actual),
            c.detail
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}
