//! Namespaces: create (one, or many at once), open, the root, delete,
//! forwarding, list.
//!
//! A namespace is made nameless first, its identity journaled, and only
//! then named (see [`Kernel::ns_make`]): the journal never claims a name
//! for a namespace the lab did not make, whatever instant a crash or a
//! deadline strikes. The root namespace is recognised by identity, under
//! whatever name it is opened.

use super::gate::is_root;
use std::collections::HashSet;

use serde_json::json;

use super::gate::Quota;
use super::{Lab, NsEntry, Origin, desc_ns};
use crate::error::{ErrorKind, Failure, HostResult, OpError};
use crate::kernel::{CreateError, RecordFn};
use crate::ledger::{Entry, Ledger};
use crate::vocab::Operation;
use crate::vocab::net::check_ns_name;
use crate::vocab::{NsId, NsIdent, ROOT_NS, Removal};

impl Lab {
    pub async fn ns_create(&mut self, name: &str) -> HostResult<String> {
        self.op(
            Operation::NamespaceCreate,
            json!({ "name": name }),
            async |lab| {
                check_ns_name(name)?;
                lab.policy.check_ns_create(name)?;
                lab.gate
                    .room(Quota::Namespaces, 1, &format!("create namespace {name:?}"))?;
                if lab.kernel.ns_exists(name) {
                    return Err(lab.taken(name).into());
                }
                let what = format!("create namespace {name:?}");
                lab.journal_room(&what, 1)?;
                let (record, journal_error) =
                    journal_creation(lab.ledger.clone(), name, Vec::new());
                let id = match lab.kernel.clone().ns_create(name, record).await {
                    Ok((id, _)) => id,
                    Err(CreateError::Make(e)) => return Err(Self::kernel_err(what, e)),
                    Err(CreateError::Record(_)) => return Err(Failure::Trap(journal_error.take())),
                    Err(CreateError::Mount(e)) => {
                        lab.record(Entry::Abort)?;
                        return Err(Self::kernel_err(what, e));
                    }
                };
                lab.gate.usage.namespaces += 1;
                lab.namespaces.insert(
                    name.to_string(),
                    NsEntry {
                        id,
                        origin: Origin::Created,
                    },
                );
                Ok(name.to_string())
            },
        )
        .await
    }

    /// Creates every namespace in `names`, concurrently, all or nothing.
    ///
    /// Each name goes through what [`Lab::ns_create`] does: the operation
    /// quota and `[operations]` (as `namespace.create`), the name check, the
    /// policy, the namespace quota, the journal, and an audit line. All
    /// names are checked before any is created, so a refusal changes
    /// nothing; when the kernel fails on one, the namespaces this call
    /// created are deleted again (and journaled as deleted) before the
    /// error, which names the failing name, is returned.
    pub async fn ns_create_all(&mut self, names: &[String]) -> HostResult<Vec<String>> {
        self.batch_started = false;
        let result = self.create_all(names).await;
        if self.batch_started {
            for name in names {
                let args = json!({ "name": name, "batch": names.len() });
                self.gate.audit(Operation::NamespaceCreate, args, &result)?;
            }
        } else {
            // Refused before anything was done: one line for the call.
            let args = json!({ "names": names.len() });
            self.gate
                .audit(Operation::NamespaceCreateAll, args, &result)?;
        }
        result
    }

    async fn create_all(&mut self, names: &[String]) -> HostResult<Vec<String>> {
        let n = names.len() as u64;
        let what = format!("create {n} namespaces");
        // Counts first: what a call may ask for is bounded before any of it
        // is looked at one by one. The refusal names the first name that
        // does not fit.
        if let Err(mut e) = self.gate.room(Quota::Namespaces, n, &what) {
            let fit = self
                .policy
                .quotas
                .namespaces
                .saturating_sub(self.gate.usage.namespaces);
            if let Some(first) = names.get(fit as usize) {
                e.message = format!("{} (from {first:?} on)", e.message);
            }
            return Err(e.into());
        }
        self.gate
            .admit_all(&what, n, [Operation::NamespaceCreate], || {
                names
                    .iter()
                    .map(|name| (Operation::NamespaceCreate, json!({ "name": name })))
                    .collect()
            })?;
        let mut seen = HashSet::new();
        for name in names {
            check_ns_name(name)?;
            if !seen.insert(name.as_str()) {
                return Err(OpError::invalid(format!(
                    "create namespace {name:?}: the name is given twice"
                ))
                .into());
            }
            self.policy.check_ns_create(name)?;
        }
        if let Some(name) = names.iter().find(|n| self.kernel.ns_exists(n)) {
            return Err(self.taken(name).into());
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        self.journal_room(&format!("create {n} namespaces"), n)?;
        self.batch_started = true;
        let k = self.kernel.clone();
        // Made, not yet named: a failure here leaves nothing to undo.
        let made = k.ns_make_all(names).await;
        if let Some((name, e)) = names
            .iter()
            .zip(&made)
            .find_map(|(name, r)| r.as_ref().err().map(|e| (name, e)))
        {
            let error = OpError::io(format!("create namespace {name:?}"), e);
            for (id, _) in made.iter().flatten() {
                k.ns_close(*id);
            }
            return Err(none_created(error, n).into());
        }
        let made: Vec<(NsId, NsIdent)> = made.into_iter().flatten().collect();
        let entries: Vec<Entry> = names
            .iter()
            .zip(&made)
            .map(|(name, (_, ident))| Entry::NsCreate {
                ns: name.clone(),
                id: Some(*ident),
            })
            .collect();
        if let Err(e) = self.record_all(&entries) {
            for (id, _) in &made {
                k.ns_close(*id);
            }
            return Err(e);
        }
        let ids: Vec<NsId> = made.iter().map(|(id, _)| *id).collect();
        let mounted = k.ns_mount_all(&ids).await;
        if mounted.iter().all(Result::is_ok) {
            for (name, (id, _)) in names.iter().zip(made) {
                self.gate.usage.namespaces += 1;
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
        // All or nothing: unname what this call named, and journal every
        // namespace of the call as deleted (each was journaled as created).
        let mut error = None;
        for ((name, (id, _)), r) in names.iter().zip(&made).zip(mounted) {
            match r {
                Ok(()) => {
                    if let Err(e) = k.ns_delete(*id).await {
                        // Still journaled as created: the run's rollback
                        // removes it.
                        return Err(Failure::Trap(anyhow::anyhow!(
                            "could not delete namespace {name:?}, created in a call that failed: {e}"
                        )));
                    }
                }
                Err(e) => {
                    k.ns_close(*id);
                    error.get_or_insert_with(|| {
                        OpError::io(format!("create namespace {name:?}"), &e)
                    });
                }
            }
            self.record(Entry::NsDelete { ns: name.clone() })?;
        }
        let error = error.expect("one failed");
        Err(none_created(error, n).into())
    }

    pub async fn ns_open(&mut self, name: &str) -> HostResult<String> {
        self.op(Operation::NamespaceOpen, json!({ "name": name }), async |lab| {
            check_ns_name(name)?;
            if lab.namespaces.contains_key(name) {
                return Ok(name.to_string());
            }
            let adopted = lab.adopted.get(name).copied();
            if adopted.is_none() {
                lab.policy.check_ns_open(name)?;
            }
            if !lab.kernel.ns_exists(name) {
                return Err(OpError::not_found(format!(
                    "open namespace {name:?}: no such namespace"
                ))
                .into());
            }
            let k = lab.kernel.clone();
            let (id, ident) = k
                .ns_open(name)
                .await
                .map_err(|e| Self::kernel_err(format!("open namespace {name:?}"), e))?;
            // The root namespace under another name (`ip netns attach`, a
            // container tool's mount): it is the root, with the root's rules.
            let home = k
                .ns_home()
                .map_err(|e| Failure::Trap(anyhow::anyhow!("cannot tell the root namespace: {e}")))?;
            if ident.same(&home) {
                k.ns_close(id);
                lab.policy.check_root()?;
                lab.hold_root().await?;
                return Ok(ROOT_NS.to_string());
            }
            let origin = match adopted {
                Some(recorded) if ident.same(&recorded) => Origin::Created,
                Some(_) => {
                    // The lab's namespace of that name was replaced since
                    // the run began: the impostor is anyone's namespace.
                    if let Err(e) = lab.policy.check_ns_open(name) {
                        k.ns_close(id);
                        return Err(OpError::denied(format!(
                            "open namespace {name:?}: the lab's namespace of that name was replaced by another namespace; {}",
                            e.message
                        ))
                        .into());
                    }
                    Origin::Granted
                }
                None => Origin::Granted,
            };
            if let Err(e) = lab.record(Entry::NsOpen {
                ns: name.to_string(),
                id: ident,
            }) {
                k.ns_close(id);
                return Err(e);
            }
            lab.namespaces
                .insert(name.to_string(), NsEntry { id, origin });
            Ok(name.to_string())
        })
        .await
    }

    pub async fn ns_root(&mut self) -> HostResult<String> {
        self.op(Operation::NamespaceRoot, json!({}), async |lab| {
            lab.policy.check_root()?;
            lab.hold_root().await?;
            Ok(ROOT_NS.to_string())
        })
        .await
    }

    /// Holds the namespace `name` that the caller was handed to work in —
    /// a CNI runtime's container namespace — before the guest runs: opened
    /// without asking `[namespaces] open` (the guest did not ask for it;
    /// the policy's `modify` for it says what the guest may do there),
    /// journaled by identity, never the namespace netwasm runs in.
    pub async fn hold_given(&mut self, name: &str) -> HostResult<()> {
        check_ns_name(name)?;
        let k = self.kernel.clone();
        let (id, ident) = k
            .ns_open(name)
            .await
            .map_err(|e| Self::kernel_err(format!("open namespace {name:?}"), e))?;
        let home = k
            .ns_home()
            .map_err(|e| Failure::Trap(anyhow::anyhow!("cannot tell the root namespace: {e}")))?;
        if ident.same(&home) {
            k.ns_close(id);
            return Err(OpError::denied(format!(
                "namespace {name:?} is the namespace netwasm runs in, not a container's"
            ))
            .into());
        }
        if let Err(e) = self.record(Entry::NsOpen {
            ns: name.to_string(),
            id: ident,
        }) {
            k.ns_close(id);
            return Err(e);
        }
        self.namespaces.insert(
            name.to_string(),
            NsEntry {
                id,
                origin: Origin::Granted,
            },
        );
        Ok(())
    }

    /// Holds the root namespace (once), as [`ROOT_NS`].
    async fn hold_root(&mut self) -> HostResult<()> {
        if self.namespaces.contains_key(ROOT_NS) {
            return Ok(());
        }
        let (id, ident) = self
            .kernel
            .ns_open_root()
            .await
            .map_err(|e| Self::kernel_err("open the root namespace", e))?;
        if let Err(e) = self.record(Entry::NsOpen {
            ns: ROOT_NS.to_string(),
            id: ident,
        }) {
            self.kernel.ns_close(id);
            return Err(e);
        }
        self.namespaces.insert(
            ROOT_NS.to_string(),
            NsEntry {
                id,
                origin: Origin::Granted,
            },
        );
        Ok(())
    }

    pub async fn ns_delete(&mut self, name: &str) -> HostResult<()> {
        self.op(Operation::NamespaceDelete, json!({ "name": name }), async |lab| {
            let entry = lab.ns(name)?;
            if is_root(name) {
                return Err(OpError::denied("delete the root namespace: never allowed").into());
            }
            if entry.origin != Origin::Created {
                lab.policy.check_ns_delete_opened(name)?;
            }
            let id = entry.id;
            lab.stop_programs_in(name).await?;
            let removal = lab
                .kernel
                .ns_delete(id)
                .await
                .map_err(|e| Self::kernel_err(format!("delete namespace {name:?}"), e))?;
            lab.namespaces.remove(name);
            // And the vxlans moved out of it: their tunnel was in it.
            let moved: std::collections::HashSet<(String, u32)> = lab
                .links
                .values()
                .filter(|l| l.ns != name && l.l2.tunnel_ns.as_deref() == Some(name))
                .map(|l| (l.ns.clone(), l.index))
                .collect();
            lab.links
                .retain(|_, l| l.ns != name && !moved.contains(&(l.ns.clone(), l.index)));
            lab.forget_gone(|ns, i| ns == name || moved.contains(&(ns.to_string(), i)));
            lab.added_routes.retain(|(ns, _)| ns != name);
            lab.added_addrs.retain(|(ns, _, _)| ns != name);
            lab.record(Entry::NsDelete {
                ns: name.to_string(),
            })?;
            match removal {
                Removal::Removed => Ok(()),
                Removal::Gone => Err(OpError::not_found(format!(
                    "delete namespace {name:?}: it was removed outside this lab"
                ))
                .into()),
                Removal::NotOurs(why) => Err(OpError::not_found(format!(
                    "delete namespace {name:?}: it was removed outside this lab, and the name left alone: {why}"
                ))
                .into()),
            }
        })
        .await
    }

    pub async fn ns_set_forwarding(&mut self, name: &str, on: bool) -> HostResult<()> {
        self.op(Operation::NamespaceSetForwarding, json!({ "name": name, "on": on }), async |lab| {
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
        self.op(Operation::NamespaceList, json!({}), async |lab| {
            let all = lab
                .kernel
                .ns_list()
                .map_err(|e| Self::kernel_err("list namespaces", e))?;
            Ok(all
                .into_iter()
                .filter(|n| {
                    lab.namespaces.contains_key(n)
                        || lab.adopted.contains_key(n)
                        || lab.policy.ns_open.iter().any(|g| g.matches(n))
                })
                .collect())
        })
        .await
    }
}

/// The journal's side of [`crate::kernel::Kernel::ns_create`]: a callback
/// that journals namespace `name`'s creation with its identity, followed by
/// `then` (a batch plan's links, addresses and routes), in one write; and
/// the slot where it leaves the journal's error, if writing fails.
pub(super) fn journal_creation(
    ledger: Option<Ledger>,
    name: &str,
    then: Vec<Entry>,
) -> (RecordFn, JournalError) {
    let error = JournalError::default();
    let slot = error.clone();
    let name = name.to_string();
    let record: RecordFn = Box::new(move |ident| {
        let Some(ledger) = ledger else {
            return Ok(());
        };
        let mut entries = Vec::with_capacity(1 + then.len());
        entries.push(Entry::NsCreate {
            ns: name,
            id: Some(ident),
        });
        entries.extend(then);
        ledger.append_all(&entries).map_err(|e| {
            let shown = std::io::Error::other(format!("{e:#}"));
            slot.put(e);
            shown
        })
    });
    (record, error)
}

/// Where a journal write made on a namespace thread leaves its error.
#[derive(Clone, Default)]
pub(super) struct JournalError(std::sync::Arc<std::sync::Mutex<Option<anyhow::Error>>>);

impl JournalError {
    fn put(&self, e: anyhow::Error) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }

    /// The error, or a stand-in if none was left (it always is).
    pub fn take(&self) -> anyhow::Error {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| anyhow::anyhow!("the journal could not be written"))
    }
}

/// How many clashes of one run are traced to the lab holding the name.
const MAX_HOLDER_SEARCHES: u32 = 4;

impl Lab {
    /// The error for a namespace name that exists: naming the lab that
    /// holds it, when another lab under the same state directory does.
    pub(super) fn taken(&self, name: &str) -> OpError {
        let searched = self
            .holder_searches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let holder = self
            .program_logs
            .as_ref()
            .filter(|_| searched < MAX_HOLDER_SEARCHES)
            .and_then(|(state, me)| state.lab_holding_namespace(name, me));
        OpError::new(
            ErrorKind::AlreadyExists,
            match holder {
                Some(lab) => format!(
                    "create namespace {name:?}: a namespace of that name exists; lab {lab} holds it (`netwasm down {lab}` removes it)"
                ),
                None => format!("create namespace {name:?}: a namespace of that name exists"),
            },
        )
    }
}

fn none_created(mut error: OpError, n: u64) -> OpError {
    error.message = format!("{}; none of the {n} namespaces was created", error.message);
    error
}
