//! Namespaces: create (one, or many at once), open, the root, delete,
//! forwarding, list.

use std::collections::HashSet;

use serde_json::json;

use super::{Lab, NsEntry, Origin, desc_ns};
use crate::error::{ErrorKind, Failure, HostResult, OpError};
use crate::kernel::ROOT_NS;
use crate::ledger::Entry;
use crate::net::check_ns_name;

impl Lab {
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
                let args = json!({ "name": name, "batch": names.len() });
                audit.record("namespace.create", args, &result)?;
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
}
