//! Namespaces: create, open, the root, delete, forwarding, list.

use serde_json::json;

use super::{Lab, NsEntry, Origin, desc_ns};
use crate::error::{ErrorKind, HostResult, OpError};
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
