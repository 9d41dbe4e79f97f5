//! `batch.build`: many namespaces, each with its links, addresses and
//! routes, in one call.
//!
//! Every step of every plan goes through what its single-step operation
//! does (operation quota and `[operations]`, argument checks, policy,
//! quotas, journal, audit), but all of it before the kernel is asked for
//! anything, so a refusal changes nothing. The plans are then built as
//! tasks, several in flight at once: a namespace is made on its namespace
//! thread while other tasks send link, address and route requests on the
//! runtime's worker threads. The kernel does rtnetlink work inside the
//! sender's `send(2)`, so only requests sent from several threads at once
//! use more than one core; that, and not fewer requests, is what makes a
//! batch faster than the same steps called one by one.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::gate::Quota;
use super::links::PlannedLink;
use super::{Lab, LinkKey, MacvlanConfig, NsEntry, Origin, VxlanConfig, desc_ns};
use crate::error::{Failure, HostResult, OpError};
use crate::kernel::{CreateError, Kernel};
use crate::ledger::{Entry, Ledger, LinkSetting};
use crate::vocab::Operation;
use crate::vocab::net::{Cidr, check_link_name, check_ns_name};
use crate::vocab::{LinkChange, LinkInfo, NsId, NsIdent, RouteSpec};

/// Plans in progress at once. Their namespaces are made on the namespace
/// threads while the workers send the link, address and route requests of
/// plans whose namespace is ready. On the 2-core benchmark machine, 100
/// units took 0.82 ms each with 16 in flight, 0.90 with 8, 0.86 to 0.87
/// with 32 or 64 (bench/run.py, interleaved runs; docs/performance.md).
const IN_FLIGHT: usize = 16;

/// The loopback link has this index in every network namespace.
const LOOPBACK_INDEX: u32 = 1;

/// One namespace to build, as the guest planned it.
#[derive(Debug, Clone)]
pub struct NsPlan {
    pub name: String,
    pub links: Vec<PlanLink>,
    /// Links to set up: `lo` or links of `links`.
    pub up: Vec<String>,
    /// (link, CIDR) pairs.
    pub addresses: Vec<(String, String)>,
    pub routes: Vec<PlanRoute>,
}

#[derive(Debug, Clone)]
pub enum PlanLink {
    Macvlan {
        parent_ns: String,
        parent: String,
        config: MacvlanConfig,
    },
    Bridge(String),
    /// A vxlan; its device, if any, is `lo` or a link the plan makes
    /// before it.
    Vxlan {
        name: String,
        config: VxlanConfig,
    },
}

/// A vxlan for the plan of namespace `namespace` (see the WIT
/// `batch.build-with-vxlans`).
#[derive(Debug, Clone)]
pub struct PlanVxlan {
    pub namespace: String,
    pub name: String,
    pub config: VxlanConfig,
}

#[derive(Debug, Clone)]
pub struct PlanRoute {
    pub destination: String,
    pub gateway: Option<String>,
    pub metric: Option<u32>,
    pub dev: Option<String>,
}

/// A link of a plan: its loopback, or the n-th link the plan creates.
#[derive(Debug, Clone, Copy)]
enum LinkRef {
    Lo,
    Made(usize),
}

/// One request of a checked plan, with what to call it in an error.
enum Step {
    Up(LinkRef),
    Addr(LinkRef, Cidr),
    Route(RouteSpec, Option<LinkRef>),
}

/// A plan, checked: what to ask the kernel, in order.
struct Job {
    name: String,
    links: Vec<PlannedLink>,
    steps: Vec<(Step, String)>,
    /// What the plan journals after its namespace's creation: its links,
    /// addresses and routes, written ahead of them.
    entries: Vec<Entry>,
}

/// What building one plan did: the namespace, if it was made (so a
/// rollback can delete it), whether its creation is journaled and whether
/// it got its name, the links made in it, and the first failure.
#[derive(Default)]
struct Built {
    ns: Option<(NsId, NsIdent)>,
    journaled: bool,
    named: bool,
    links: Vec<LinkInfo>,
    /// What each made link hangs off (see `PlannedLink::lower`).
    lowers: Vec<Option<(String, u32)>>,
    failed: Option<(String, io::Error)>,
    /// The journal could not be written: a host failure, not the plan's.
    journal_error: Option<anyhow::Error>,
}

impl NsPlan {
    /// How many operations the plan is: one per step.
    fn operation_count(&self) -> usize {
        1 + self.links.len() + self.up.len() + self.addresses.len() + self.routes.len()
    }

    /// The names of the operations the plan consists of.
    fn operation_names(&self) -> impl Iterator<Item = Operation> + '_ {
        let links = self.links.iter().map(|l| match l {
            PlanLink::Macvlan { .. } => Operation::LinkAddMacvlan,
            PlanLink::Bridge(_) => Operation::LinkAddBridge,
            PlanLink::Vxlan { .. } => Operation::LinkAddVxlan,
        });
        std::iter::once(Operation::NamespaceCreate)
            .chain(links)
            .chain(self.up.iter().map(|_| Operation::LinkSetUp))
            .chain(self.addresses.iter().map(|_| Operation::AddrAdd))
            .chain(self.routes.iter().map(|_| Operation::RouteAdd))
    }

    /// The operations this plan consists of, as the single-step functions
    /// name and audit them.
    fn operations(&self, batch: usize) -> Vec<(Operation, Value)> {
        let ns = &self.name;
        let link = |name: &str| format!("link {name:?} in {}", desc_ns(ns));
        let mut ops = vec![(
            Operation::NamespaceCreate,
            json!({ "name": ns, "batch": batch }),
        )];
        for l in &self.links {
            ops.push(match l {
                PlanLink::Macvlan {
                    parent_ns,
                    parent,
                    config,
                } => (
                    Operation::LinkAddMacvlan,
                    json!({
                        "namespace": parent_ns,
                        "parent": parent,
                        "name": config.name,
                        "mode": config.mode.map(|m| m.as_str()),
                        "mac": config.mac,
                        "mtu": config.mtu,
                        "target": ns,
                        "batch": batch,
                    }),
                ),
                PlanLink::Bridge(name) => (
                    Operation::LinkAddBridge,
                    json!({ "namespace": ns, "name": name, "batch": batch }),
                ),
                PlanLink::Vxlan { name, config } => (Operation::LinkAddVxlan, {
                    let mut args = super::links::vxlan_args(ns, name, config);
                    args["batch"] = json!(batch);
                    args
                }),
            });
        }
        for name in &self.up {
            ops.push((
                Operation::LinkSetUp,
                json!({ "link": link(name), "value": null, "batch": batch }),
            ));
        }
        for (name, cidr) in &self.addresses {
            ops.push((
                Operation::AddrAdd,
                json!({ "link": link(name), "address": cidr, "batch": batch }),
            ));
        }
        for r in &self.routes {
            ops.push((
                Operation::RouteAdd,
                json!({
                    "namespace": ns,
                    "destination": r.destination,
                    "gateway": r.gateway,
                    "metric": r.metric,
                    "dev": r.dev.as_deref().map(link),
                    "batch": batch,
                }),
            ));
        }
        ops
    }
}

impl Lab {
    /// [`Lab::build`], with each vxlan made after the links of the plan of
    /// its namespace.
    pub async fn build_with_vxlans(
        &mut self,
        mut plans: Vec<NsPlan>,
        vxlans: Vec<PlanVxlan>,
    ) -> HostResult<Vec<String>> {
        let mut orphan = None;
        for v in vxlans {
            match plans.iter_mut().find(|p| p.name == v.namespace) {
                Some(p) => p.links.push(PlanLink::Vxlan {
                    name: v.name,
                    config: v.config,
                }),
                None => {
                    orphan.get_or_insert(v);
                }
            }
        }
        if let Some(v) = orphan {
            let result = Err(OpError::invalid(format!(
                "build: vxlan {:?} is planned in namespace {:?}, which no plan creates",
                v.name, v.namespace
            ))
            .into());
            let steps: usize = plans.iter().map(NsPlan::operation_count).sum::<usize>() + 1;
            let args = json!({ "plans": plans.len(), "steps": steps });
            self.gate.audit(Operation::BatchBuild, args, &result)?;
            return result;
        }
        self.build(&plans).await
    }

    /// Builds every plan, concurrently, all or nothing (see the WIT
    /// `batch.build`). Returns the namespaces' names in plan order.
    pub async fn build(&mut self, plans: &[NsPlan]) -> HostResult<Vec<String>> {
        self.batch_started = false;
        let result = self.build_all(plans).await;
        if self.batch_started {
            // Every step was checked and counted: one line each, as the
            // single-step calls write, and no more than the quotas allow.
            if self.gate.audited() {
                for (op, args) in plans.iter().flat_map(|p| p.operations(plans.len())) {
                    self.gate.audit(op, args, &result)?;
                }
            }
        } else {
            // Refused before anything was done: one line for the call,
            // however many steps the guest packed into it.
            let steps: usize = plans.iter().map(NsPlan::operation_count).sum();
            let args = json!({ "plans": plans.len(), "steps": steps });
            self.gate.audit(Operation::BatchBuild, args, &result)?;
        }
        result
    }

    async fn build_all(&mut self, plans: &[NsPlan]) -> HostResult<Vec<String>> {
        let n_ops: u64 = plans.iter().map(|p| p.operation_count() as u64).sum();
        // Counts first: what a call may ask for is bounded before any of it
        // is looked at one by one.
        self.check_quotas(plans)?;
        let what = format!("build {} namespaces", plans.len());
        let ops: BTreeSet<Operation> = plans.iter().flat_map(NsPlan::operation_names).collect();
        self.gate.admit_all(&what, n_ops, ops, || {
            plans
                .iter()
                .flat_map(|p| p.operations(plans.len()))
                .collect()
        })?;
        let mut seen = HashSet::new();
        let mut parents = HashMap::new();
        let mut jobs = Vec::with_capacity(plans.len());
        for plan in plans {
            if !seen.insert(plan.name.as_str()) {
                return Err(OpError::invalid(format!(
                    "build namespace {:?}: the name is planned twice",
                    plan.name
                ))
                .into());
            }
            jobs.push(self.check_plan(plan, &mut parents).await?);
        }
        for plan in plans {
            if self.kernel.ns_exists(&plan.name) {
                return Err(self.taken(&plan.name).into());
            }
        }
        let steps: u64 = plans.iter().map(|p| p.operation_count() as u64).sum();
        self.journal_room(&format!("build {} namespaces", plans.len()), steps)?;
        // Each task journals its plan once its namespace exists, before the
        // namespace has its name (see `build_one`): a plan that never ran,
        // because the call failed or the run's deadline struck first, is
        // not in the journal, so nothing can later claim its name.
        self.batch_started = true;
        let built = Self::run_jobs(self.kernel.clone(), jobs, self.ledger.clone()).await?;
        if built
            .iter()
            .all(|b| b.failed.is_none() && b.journal_error.is_none())
        {
            let mut changes = Vec::new();
            for (plan, b) in plans.iter().zip(built) {
                let (id, _) = b.ns.expect("built without failure");
                self.gate.usage.namespaces += 1;
                self.namespaces.insert(
                    plan.name.clone(),
                    NsEntry {
                        id,
                        origin: Origin::Created,
                    },
                );
                for (info, planned) in b.links.iter().zip(&b.lowers) {
                    self.gate.usage.links += 1;
                    let key = self.new_link_entry(info, Origin::Created, true);
                    self.set_lower(key, planned.clone());
                    if let Some(l) = self.links.get_mut(&key)
                        && l.l2.tunnel
                    {
                        l.l2.tunnel_ns = Some(plan.name.clone());
                    }
                }
                self.gate.usage.addresses += plan.addresses.len() as u64;
                self.gate.usage.routes += plan.routes.len() as u64;
                self.record_plan_objects(plan, &b.links);
                // Only the links the plan made are journaled: `lo` is no
                // object of the lab's.
                changes.extend(
                    plan.up
                        .iter()
                        .filter(|name| b.links.iter().any(|l| &l.name == *name))
                        .map(|name| Entry::LinkSet {
                            ns: plan.name.clone(),
                            name: name.clone(),
                            change: LinkSetting::Up,
                        }),
                );
            }
            self.record_all(&changes)?;
            return Ok(plans.iter().map(|p| p.name.clone()).collect());
        }
        self.roll_back(plans, built).await
    }

    /// Remembers the addresses and routes a built plan added as the lab's
    /// (see `Lab::added_addrs`): their values were checked with the plan.
    fn record_plan_objects(&mut self, plan: &NsPlan, links: &[LinkInfo]) {
        let index = |name: &str| {
            if name == "lo" {
                Some(LOOPBACK_INDEX)
            } else {
                links.iter().find(|l| l.name == name).map(|l| l.index)
            }
        };
        for (link, cidr) in &plan.addresses {
            if let (Some(i), Ok(c)) = (index(link), Cidr::parse(cidr, "address", false)) {
                self.added_addrs.insert((plan.name.clone(), i, c));
            }
        }
        for r in &plan.routes {
            if let Ok(mut spec) = Self::parse_route(&r.destination, r.gateway.as_deref(), r.metric)
            {
                spec.metric = Some(super::routes::effective_metric(
                    &spec.destination,
                    spec.metric,
                ));
                spec.dev = r.dev.as_deref().and_then(index);
                self.added_routes.insert((plan.name.clone(), spec));
            }
        }
    }

    /// Deletes every namespace a failed build made, journals each one that
    /// was journaled as deleted, and returns the first failure.
    async fn roll_back(&mut self, plans: &[NsPlan], built: Vec<Built>) -> HostResult<Vec<String>> {
        let n = plans.len();
        let k = self.kernel.clone();
        let mut trap = None;
        for (plan, b) in plans.iter().zip(&built) {
            let Some((id, _)) = b.ns else {
                // Journaled, then refused its name: nothing to delete, but
                // the journal must not claim it.
                if b.journaled {
                    self.record(Entry::NsDelete {
                        ns: plan.name.clone(),
                    })?;
                }
                continue;
            };
            if b.named {
                if let Err(e) = k.ns_delete(id).await {
                    // Still journaled as created: the run's rollback removes it.
                    trap.get_or_insert(anyhow::anyhow!(
                        "could not delete namespace {:?}, created in a batch that failed: {e}",
                        plan.name
                    ));
                    continue;
                }
            } else {
                k.ns_close(id);
            }
            if b.journaled {
                self.record(Entry::NsDelete {
                    ns: plan.name.clone(),
                })?;
            }
        }
        let mut built = built;
        if let Some(e) = built.iter_mut().find_map(|b| b.journal_error.take()) {
            return Err(Failure::Trap(e));
        }
        if let Some(e) = trap {
            return Err(Failure::Trap(e));
        }
        let (op, e) = built
            .iter()
            .find_map(|b| b.failed.as_ref())
            .expect("one failed");
        let mut error = OpError::io(op.clone(), e);
        error.message = format!(
            "{}; none of the {n} planned namespaces was kept",
            error.message
        );
        Err(error.into())
    }

    /// What a step journals before it is done (changes are journaled
    /// after, as `link.set-up` does).
    fn step_entry(job: &Job, step: &Step) -> Option<Entry> {
        let link = |r: &LinkRef| match r {
            LinkRef::Lo => ("lo".to_string(), LOOPBACK_INDEX),
            LinkRef::Made(i) => (job.links[*i].name().to_string(), job.links[*i].index),
        };
        match step {
            Step::Up(_) => None,
            Step::Addr(r, cidr) => {
                let (name, index) = link(r);
                Some(Entry::AddrAdd {
                    ns: job.name.clone(),
                    link: name,
                    index: Some(index),
                    cidr: cidr.to_string(),
                })
            }
            Step::Route(spec, dev) => Some(Entry::RouteAdd {
                ns: job.name.clone(),
                destination: spec.destination.to_string(),
                gateway: spec.gateway.map(|g| g.to_string()),
                dev: dev.as_ref().map(|r| link(r).0),
                oif: dev.as_ref().map(|r| link(r).1),
                metric: spec.metric,
            }),
        }
    }

    /// Checks one plan as the single-step operations would check each of
    /// its steps, resolving (and caching in `parents`) macvlan parents.
    async fn check_plan(
        &mut self,
        plan: &NsPlan,
        parents: &mut HashMap<(String, String), LinkKey>,
    ) -> HostResult<Job> {
        let ns = plan.name.as_str();
        check_ns_name(ns)?;
        self.policy.check_ns_create(ns)?;
        let mut links = Vec::with_capacity(plan.links.len());
        let mut names: HashMap<&str, LinkRef> = HashMap::from([("lo", LinkRef::Lo)]);
        for l in &plan.links {
            let planned = match l {
                PlanLink::Macvlan {
                    parent_ns,
                    parent,
                    config,
                } => {
                    if !self.namespaces.contains_key(parent_ns) {
                        return Err(OpError::not_found(format!(
                            "build namespace {ns:?}: the parent's namespace {parent_ns:?} is not held by this run; create or open it first (for the root namespace: namespace.root)"
                        ))
                        .into());
                    }
                    let key = (parent_ns.clone(), parent.clone());
                    let p = match parents.get(&key) {
                        Some(p) => *p,
                        None => {
                            let p = self.macvlan_parent(parent_ns, parent).await?;
                            parents.insert(key, p);
                            p
                        }
                    };
                    self.macvlan_plan(p, config, ns)?
                }
                PlanLink::Bridge(name) => Self::bridge_plan(&self.policy, ns, name)?,
                PlanLink::Vxlan { name, config } => {
                    let tunnel = Self::vxlan_tunnel(&self.policy, name, config)?;
                    let device = match config.device.as_deref() {
                        None => None,
                        Some("lo") => Some(("lo".to_string(), LOOPBACK_INDEX)),
                        Some(d) => match names.get(d) {
                            Some(LinkRef::Made(i)) => {
                                let l: &PlannedLink = &links[*i];
                                Some((l.name().to_string(), l.index))
                            }
                            _ => {
                                return Err(OpError::invalid(format!(
                                    "build namespace {ns:?}: vxlan {name:?} has device {d:?}, which is neither `lo` nor a link the plan creates before it"
                                ))
                                .into());
                            }
                        },
                    };
                    Self::vxlan_plan(ns, name, tunnel, device)
                }
            };
            let name = match l {
                PlanLink::Macvlan { config, .. } => config.name.as_str(),
                PlanLink::Bridge(name) | PlanLink::Vxlan { name, .. } => name.as_str(),
            };
            if names.contains_key(name) {
                return Err(OpError::invalid(format!(
                    "build namespace {ns:?}: link name {name:?} is used twice (`lo` is every namespace's)"
                ))
                .into());
            }
            names.insert(name, LinkRef::Made(links.len()));
            links.push(planned);
        }
        let find = |name: &str, what: &str| -> Result<LinkRef, OpError> {
            check_link_name(name)?;
            names.get(name).copied().ok_or_else(|| {
                OpError::invalid(format!(
                    "build namespace {ns:?}: {what} names link {name:?}, which is neither `lo` nor a link the plan creates"
                ))
            })
        };
        let mut steps = Vec::new();
        let mut set_up = HashSet::new();
        for name in &plan.up {
            if !set_up.insert(name.as_str()) {
                return Err(OpError::invalid(format!(
                    "build namespace {ns:?}: link {name:?} is set up twice"
                ))
                .into());
            }
            match find(name, "set up")? {
                // Created up: one request fewer, and the same outcome.
                LinkRef::Made(i) => {
                    links[i].up = true;
                    links[i].op += " and set it up";
                }
                LinkRef::Lo => {
                    let op = format!("set up link {name:?} in {}", desc_ns(ns));
                    steps.push((Step::Up(LinkRef::Lo), op));
                }
            }
        }
        for (name, cidr) in &plan.addresses {
            let c = Cidr::parse(cidr, "address", false)?;
            let r = find(name, &format!("address {c}"))?;
            self.policy.check_address(&c)?;
            let op = format!("add address {c} to link {name:?} in {}", desc_ns(ns));
            steps.push((Step::Addr(r, c), op));
        }
        for r in &plan.routes {
            let mut spec = Self::parse_route(&r.destination, r.gateway.as_deref(), r.metric)?;
            spec.metric = Some(super::routes::effective_metric(
                &spec.destination,
                spec.metric,
            ));
            let dev = r
                .dev
                .as_deref()
                .map(|d| find(d, &format!("the route to {}", spec.destination)))
                .transpose()?;
            Self::check_route_target(&spec, dev.is_some())?;
            self.policy
                .check_route(&spec.destination, spec.gateway.as_ref())?;
            let op = format!("add {}", Self::describe_route(&spec, ns));
            steps.push((Step::Route(spec, dev), op));
        }
        let mut job = Job {
            name: ns.to_string(),
            links,
            steps,
            entries: Vec::new(),
        };
        job.entries = job.links.iter().map(|l| l.entry.clone()).collect();
        let steps: Vec<Entry> = job
            .steps
            .iter()
            .filter_map(|(s, _)| Self::step_entry(&job, s))
            .collect();
        job.entries.extend(steps);
        Ok(job)
    }

    /// The namespace, link, address and route quotas, for all plans at once.
    fn check_quotas(&self, plans: &[NsPlan]) -> Result<(), OpError> {
        let sum = |f: fn(&NsPlan) -> usize| plans.iter().map(f).sum::<usize>() as u64;
        let what = format!("build {} namespaces", plans.len());
        self.gate
            .room(Quota::Namespaces, plans.len() as u64, &what)?;
        self.gate
            .room(Quota::Links, sum(|p| p.links.len()), &what)?;
        self.gate
            .room(Quota::Addresses, sum(|p| p.addresses.len()), &what)?;
        self.gate
            .room(Quota::Routes, sum(|p| p.routes.len()), &what)
    }

    /// Builds the jobs as tasks, `IN_FLIGHT` at a time, and returns what
    /// each did, in order. The tasks are aborted if this future is dropped
    /// (a run's deadline): whatever they made is in the journal already.
    async fn run_jobs(
        kernel: Arc<dyn Kernel>,
        jobs: Vec<Job>,
        ledger: Option<Ledger>,
    ) -> HostResult<Vec<Built>> {
        let n = jobs.len();
        let mut results: Vec<Option<Built>> = (0..n).map(|_| None).collect();
        let mut tasks = JoinSet::new();
        let mut queue = jobs.into_iter().enumerate();
        let mut stop = false;
        for (i, job) in queue.by_ref().take(IN_FLIGHT) {
            let (k, l) = (kernel.clone(), ledger.clone());
            tasks.spawn(async move { (i, build_one(k, job, l).await) });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, built) =
                done.map_err(|e| Failure::Trap(anyhow::anyhow!("a batch task failed: {e}")))?;
            // Once one plan has failed, the call fails: start no more.
            if built.failed.is_some() || built.journal_error.is_some() {
                stop = true;
            }
            results[i] = Some(built);
            if !stop && let Some((i, job)) = queue.next() {
                let (k, l) = (kernel.clone(), ledger.clone());
                tasks.spawn(async move { (i, build_one(k, job, l).await) });
            }
        }
        // A plan never started made nothing.
        Ok(results.into_iter().map(Option::unwrap_or_default).collect())
    }
}

/// Builds one checked plan, stopping at its first failure: makes its
/// namespace, journals it (with its identity) and everything the plan will
/// put in it, names it, then makes the rest.
async fn build_one(k: Arc<dyn Kernel>, job: Job, ledger: Option<Ledger>) -> Built {
    let mut built = Built {
        links: Vec::with_capacity(job.links.len()),
        ..Built::default()
    };
    let what = format!("create namespace {:?}", job.name);
    let (record, journal_error) =
        super::namespaces::journal_creation(ledger, &job.name, job.entries.clone());
    match k.ns_create(&job.name, record).await {
        Ok(made) => {
            built.ns = Some(made);
            built.journaled = true;
        }
        Err(CreateError::Make(e)) => {
            built.failed = Some((what, e));
            return built;
        }
        Err(CreateError::Record(_)) => {
            built.journal_error = Some(journal_error.take());
            return built;
        }
        Err(CreateError::Mount(e)) => {
            // Journaled, never named: the rollback journals it deleted.
            built.journaled = true;
            built.failed = Some((what, e));
            return built;
        }
    }
    let id = built.ns.expect("made above").0;
    built.named = true;
    for link in &job.links {
        match k.link_add(&link.new_link(id)).await {
            // A macvlan, bridge or vxlan is one link (only a veth pair is two).
            Ok(made) => match made.into_iter().next() {
                Some(info) => {
                    built.links.push(info);
                    built.lowers.push(link.lower.clone());
                }
                None => {
                    let e = io::Error::other("the kernel reported no link");
                    built.failed = Some((link.op.clone(), e));
                    return built;
                }
            },
            Err(e) => {
                built.failed = Some((link.op.clone(), e));
                return built;
            }
        }
    }
    let index = |r: &LinkRef, links: &[LinkInfo]| match r {
        LinkRef::Lo => LOOPBACK_INDEX,
        LinkRef::Made(i) => links[*i].index,
    };
    for (step, op) in &job.steps {
        let done = match step {
            Step::Up(r) => {
                k.link_set(id, index(r, &built.links), &LinkChange::Up)
                    .await
            }
            Step::Addr(r, cidr) => k.addr_add(id, index(r, &built.links), *cidr).await,
            Step::Route(spec, dev) => {
                let mut spec = spec.clone();
                spec.dev = dev.map(|r| index(&r, &built.links));
                k.route_add(id, &spec).await
            }
        };
        if let Err(e) = done {
            built.failed = Some((op.clone(), e));
            return built;
        }
    }
    built
}
