//! Tearing down what a journal records: in reverse order, each object only
//! after checking that it is still the one the lab made.
//!
//! An object whose namespace (or interface index) now belongs to something
//! else was replaced by someone else: it is reported and left alone, never
//! deleted. An object recorded without its identity (a version 1 journal)
//! cannot be checked: it is reported as unverified and left, unless the
//! operator forces its removal by name.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::kernel::{Kernel, process};
use crate::vocab::net::{Cidr, parse_destination, parse_ip};
use crate::vocab::{NETWASM_PROTO, NsId, NsIdent, Removal, RouteSpec};

use super::replay::Object;

/// What a teardown did.
#[derive(Debug, Default)]
pub struct UndoReport {
    /// Objects removed, described.
    pub undone: Vec<String>,
    /// Objects that were already gone.
    pub gone: Vec<String>,
    /// Objects whose name or index now denotes something the lab did not
    /// make: left alone, with why.
    pub replaced: Vec<String>,
    /// Objects recorded without their identity, left (not forced).
    pub unverified: Vec<String>,
    /// Objects that could not be removed, with why.
    pub failed: Vec<String>,
    /// Objects removed with their namespace, not one by one.
    pub with_namespace: usize,
}

/// How one undo step went.
enum Step {
    Removed,
    Gone,
    Replaced(String),
    Unverified,
}

impl UndoReport {
    fn record(&mut self, what: String, result: Result<Step, String>) {
        match result {
            Ok(Step::Removed) => self.undone.push(what),
            Ok(Step::Gone) => self.gone.push(what),
            Ok(Step::Replaced(why)) => self.replaced.push(format!("{what} ({why})")),
            Ok(Step::Unverified) => self.unverified.push(what),
            Err(why) => self.failed.push(format!("{what}: {why}")),
        }
    }

    /// Whether nothing of the lab's is left: what was replaced is gone as
    /// far as the lab is concerned; what is unverified may not be.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && self.unverified.is_empty()
    }

    /// One line saying what happened. Long lists are cut after a few
    /// names (a lab of a thousand namespaces would fill the screen); what
    /// could not be undone is always listed whole.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.undone.is_empty() {
            let mut s = format!("undid {}", abridged(&self.undone));
            if self.with_namespace > 0 {
                s += &format!(
                    " ({} more objects went with their namespaces)",
                    self.with_namespace
                );
            }
            parts.push(s);
        }
        if !self.gone.is_empty() {
            parts.push(format!("already gone: {}", abridged(&self.gone)));
        }
        if !self.replaced.is_empty() {
            parts.push(format!(
                "left alone, no longer the lab's: {}",
                self.replaced.join("; ")
            ));
        }
        if !self.unverified.is_empty() {
            parts.push(format!(
                "left, as nothing recorded proves them the lab's (a journal of an older netwasm, or a run that died mid-call; `netwasm down --force` removes them): {}",
                self.unverified.join(", ")
            ));
        }
        if !self.failed.is_empty() {
            parts.push(format!("could not undo: {}", self.failed.join("; ")));
        }
        if parts.is_empty() {
            "nothing was left to undo".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// The first few of `items`, and how many more there are.
fn abridged(items: &[String]) -> String {
    const SHOWN: usize = 8;
    if items.len() <= SHOWN {
        return items.join(", ");
    }
    format!(
        "{} and {} more",
        items[..SHOWN].join(", "),
        items.len() - SHOWN
    )
}

/// Undoes `objects` (as `replay` returns them) in reverse order. Best
/// effort and complete: a failing step is reported and the rest go on.
/// Objects inside a namespace the lab created go with the namespace.
/// `force` removes objects recorded without their identity by name.
pub async fn undo(kernel: &dyn Kernel, objects: &[Object], force: bool) -> UndoReport {
    let mut report = UndoReport::default();
    // Programs first, all of them: a program keeps its namespace alive
    // past the removal of its name, and could act on what is being taken
    // apart around it.
    stop_programs(objects, &mut report).await;
    let objects: Vec<Object> = objects
        .iter()
        .filter(|o| !matches!(o, Object::Process { .. }))
        .cloned()
        .collect();
    let objects = &objects[..];
    let created: HashSet<&str> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Ns { ns, .. } => Some(ns.as_str()),
            _ => None,
        })
        .collect();
    let mut open = Opened::default();
    let inside_created = |obj: &Object| match obj {
        Object::Ns { .. } => false,
        Object::Link { ns, peer_ns, .. } => {
            created.contains(ns.as_str()) || peer_ns.as_deref().is_some_and(|p| created.contains(p))
        }
        other => created.contains(other.ns()),
    };
    let mut pending = objects.iter().rev().peekable();
    while let Some(obj) = pending.next() {
        if let Object::Ns { .. } = obj {
            // A run of namespaces has no order among its members (each takes
            // what is inside it along), so they are removed in one call,
            // which the backend spreads over several threads. What lies
            // between them inside such namespaces (a `batch.build` journals
            // each namespace with its links, addresses and routes) goes
            // with them and does not end the run.
            let mut run = vec![obj];
            while let Some(next) =
                pending.next_if(|o| matches!(o, Object::Ns { .. }) || inside_created(o))
            {
                if let Object::Ns { .. } = next {
                    run.push(next);
                } else {
                    report.with_namespace += 1;
                }
            }
            let mut names = Vec::with_capacity(run.len());
            let mut asked = Vec::with_capacity(run.len());
            for o in run {
                match (o.ns_id(), force) {
                    (None, false) => report.record(o.describe(), Ok(Step::Unverified)),
                    (id, _) => {
                        names.push((o.ns().to_string(), id));
                        asked.push(o);
                    }
                }
            }
            let results = kernel.ns_remove_all(&names).await;
            for (o, result) in asked.iter().zip(results) {
                report.record(o.describe(), removal(result));
            }
            continue;
        }
        if inside_created(obj) {
            report.with_namespace += 1;
            continue;
        }
        let what = obj.describe();
        let result = undo_one(kernel, obj, &mut open, force).await;
        report.record(what, result);
    }
    open.close(kernel);
    report
}

/// Stops every recorded program with all it started (its cgroup): see
/// [`process::stop_all`]. A cgroup is netwasm's own whatever its
/// members' pids, so a reused pid outside it is never signalled.
async fn stop_programs(objects: &[Object], report: &mut UndoReport) {
    let mut stops = Vec::new();
    let mut what = Vec::new();
    for o in objects {
        let Object::Process { cgroup, .. } = o else {
            continue;
        };
        match process::Cgroup::at(cgroup) {
            Ok(cg) => {
                stops.push(process::Stop { cgroup: cg });
                what.push(o.describe());
            }
            Err(e) => report.record(o.describe(), Err(e.to_string())),
        }
    }
    if stops.is_empty() {
        return;
    }
    for (w, r) in what.into_iter().zip(process::stop_all(&stops).await) {
        let step = match r {
            Ok(process::Stopped::Stopped) => Ok(Step::Removed),
            Ok(process::Stopped::Gone) => Ok(Step::Gone),
            Err(e) => Err(e.to_string()),
        };
        report.record(w, step);
    }
}

/// A namespace removal's outcome, as an undo step.
fn removal(result: std::io::Result<Removal>) -> Result<Step, String> {
    match result {
        Ok(Removal::Removed) => Ok(Step::Removed),
        Ok(Removal::Gone) => Ok(Step::Gone),
        Ok(Removal::NotOurs(why)) => Ok(Step::Replaced(why)),
        Err(e) if is_gone(&e) => Ok(Step::Gone),
        Err(e) => Err(e.to_string()),
    }
}

/// A kernel removal's outcome, as an undo step.
fn removed(result: std::io::Result<()>) -> Result<Step, String> {
    match result {
        Ok(()) => Ok(Step::Removed),
        Err(e) if is_gone(&e) => Ok(Step::Gone),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether an undo step failed only because its object is already gone.
pub fn is_gone(e: &std::io::Error) -> bool {
    matches!(
        crate::kernel::errno_of(e),
        Some(libc::ENOENT | libc::ENODEV | libc::ESRCH | libc::EADDRNOTAVAIL)
    )
}

/// The namespaces a teardown has opened, by name, with what they turned
/// out to be.
#[derive(Default)]
struct Opened {
    spaces: HashMap<String, Option<(NsId, NsIdent)>>,
}

impl Opened {
    /// Opens namespace `ns` once; none when it does not exist.
    async fn get(
        &mut self,
        kernel: &dyn Kernel,
        ns: &str,
    ) -> Result<Option<(NsId, NsIdent)>, String> {
        if let Some(found) = self.spaces.get(ns) {
            return Ok(*found);
        }
        let found = if kernel.ns_exists(ns) {
            match kernel.ns_open(ns).await {
                Ok(found) => Some(found),
                Err(e) if is_gone(&e) => None,
                Err(e) => return Err(format!("open namespace {ns}: {e}")),
            }
        } else {
            None
        };
        self.spaces.insert(ns.to_string(), found);
        Ok(found)
    }

    fn close(self, kernel: &dyn Kernel) {
        for (id, _) in self.spaces.into_values().flatten() {
            kernel.ns_close(id);
        }
    }
}

/// Undoes one object other than a namespace, after checking that its
/// namespace is the one the lab used and its index the link the lab made.
async fn undo_one(
    kernel: &dyn Kernel,
    obj: &Object,
    open: &mut Opened,
    force: bool,
) -> Result<Step, String> {
    let recorded = obj.ns_id();
    let index = match obj {
        Object::Link { index, .. } | Object::Addr { index, .. } => *index,
        Object::Route { oif, dev, .. } => {
            if dev.is_some() || oif.is_some() {
                *oif
            } else {
                Some(0)
            }
        }
        Object::Ns { .. } | Object::Process { .. } => unreachable!("handled by `undo`"),
    };
    // Recorded with its identity (journal version 2), or forced by name.
    let verified = recorded.is_some() && index.is_some();
    if !verified && !force {
        return Ok(Step::Unverified);
    }
    // An add the kernel may have refused (its key was someone else's) and
    // the run died before saying which: the route or address under that key
    // may not be the lab's, so it is left unless forced.
    if matches!(
        obj,
        Object::Route { done: false, .. } | Object::Addr { done: false, .. }
    ) && !force
    {
        return Ok(Step::Unverified);
    }
    let ns = obj.ns();
    let Some((id, found)) = open.get(kernel, ns).await? else {
        return Ok(Step::Gone);
    };
    let home = kernel.ns_home().map_err(|e| e.to_string())?;
    if found.same(&home) {
        return Ok(Step::Replaced(format!(
            "namespace {ns} is the namespace netwasm runs in"
        )));
    }
    if let Some(recorded) = recorded
        && !found.same(&recorded)
    {
        return Ok(Step::Replaced(format!(
            "namespace {ns} is another namespace now"
        )));
    }
    // The link the object is (or is on): by its recorded index, which must
    // still carry the recorded name and kind; by name only when forced.
    let link_index = async |name: &str, kind: Option<&str>| -> Result<Result<u32, Step>, String> {
        let info = match index {
            Some(i) => kernel.link_by_index(id, i).await,
            None => kernel.link_by_name(id, name).await,
        };
        match info {
            Ok(l) if l.name == name && kind.is_none_or(|k| l.kind.as_deref() == Some(k)) => {
                Ok(Ok(l.index))
            }
            Ok(l) => Ok(Err(Step::Replaced(format!(
                "interface index {} is {} {} now",
                l.index,
                l.kind.as_deref().unwrap_or("link"),
                l.name
            )))),
            Err(e) if is_gone(&e) => Ok(Err(Step::Gone)),
            Err(e) => Err(e.to_string()),
        }
    };
    match obj {
        Object::Link { name, kind, .. } => match link_index(name, Some(kind.as_str())).await? {
            Ok(i) => removed(kernel.link_del(id, i).await),
            Err(step) => Ok(step),
        },
        Object::Addr { link, cidr, .. } => {
            let cidr = Cidr::parse(cidr, "address", false).map_err(|e| e.message)?;
            let i = match link_index(link, None).await? {
                Ok(i) => i,
                Err(step) => return Ok(step),
            };
            // An address is the lab's when netwasm added it (its protocol):
            // one someone else put on the link under the same value, after
            // the lab's was removed or when the lab's add was refused, is
            // not. (Version 1 journals, forced, take any.)
            if verified {
                let have = kernel
                    .addr_list(id, Some(i))
                    .await
                    .map_err(|e| e.to_string())?;
                match have.iter().find(|a| a.cidr == cidr) {
                    None => return Ok(Step::Gone),
                    Some(a) if a.proto != NETWASM_PROTO => {
                        return Ok(Step::Replaced(format!(
                            "the link's {cidr} was added by someone else"
                        )));
                    }
                    Some(_) => {}
                }
            }
            removed(kernel.addr_del(id, i, cidr).await)
        }
        Object::Route {
            destination,
            gateway,
            dev,
            metric,
            ..
        } => {
            let gateway: Option<IpAddr> = gateway
                .as_deref()
                .map(|g| parse_ip(g, "gateway"))
                .transpose()
                .map_err(|e| e.message)?;
            let destination = parse_destination(destination, gateway.is_some_and(|g| g.is_ipv6()))
                .map_err(|e| e.message)?;
            let oif = match dev {
                Some(d) => match link_index(d, None).await? {
                    Ok(i) => Some(i),
                    Err(step) => return Ok(step),
                },
                None => index.filter(|i| *i != 0),
            };
            let spec = RouteSpec {
                destination,
                gateway,
                dev: oif,
                metric: *metric,
                protocol: verified.then_some(NETWASM_PROTO),
            };
            // The kernel deletes the first route that matches what a delete
            // names, and an IPv4 metric of 0 matches any: so only a route
            // whose whole key is the recorded one, added by netwasm (its
            // protocol), is deleted — not one someone else added under that
            // key after the lab's was gone, or before an add of the lab's
            // that the kernel refused.
            let routes = kernel.route_list(id).await.map_err(|e| e.to_string())?;
            let exact = routes.iter().any(|r| {
                r.destination == spec.destination
                    && r.gateway == spec.gateway
                    && (spec.dev.is_none() || r.dev_index == spec.dev)
                    && (spec.metric.is_none() || r.metric.unwrap_or(0) == spec.metric.unwrap_or(0))
                    && spec.protocol.is_none_or(|p| r.proto == p)
            });
            if !exact {
                return Ok(Step::Gone);
            }
            removed(kernel.route_del(id, &spec).await)
        }
        Object::Ns { .. } | Object::Process { .. } => unreachable!("handled by `undo`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_summary_is_abridged() {
        let report = UndoReport {
            undone: (0..20).map(|i| format!("namespace n{i}")).collect(),
            with_namespace: 60,
            ..Default::default()
        };
        assert_eq!(
            report.summary(),
            "undid namespace n0, namespace n1, namespace n2, namespace n3, namespace n4, \
             namespace n5, namespace n6, namespace n7 and 12 more \
             (60 more objects went with their namespaces)"
        );
    }

    #[test]
    fn unverified_objects_leave_the_teardown_incomplete() {
        let mut report = UndoReport::default();
        report.record("namespace a".into(), Ok(Step::Replaced("another".into())));
        assert!(report.is_complete(), "what was replaced is not the lab's");
        report.record("namespace b".into(), Ok(Step::Unverified));
        assert!(!report.is_complete());
        assert!(report.summary().contains("--force"), "{}", report.summary());
    }
}
