//! CNI plugins: loading a component of world `netwasm:lab/plugin` and
//! calling one of its exports (`add`, `del`, `check`) with the container's
//! namespace handed over as a handle, within the same limits, fuel,
//! deadline and WASI sandbox as a lab script's `run`.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Component, Resource, types::ComponentItem};
use wasmtime_wasi::I32Exit;

use super::stdio::GuestOutput;
use super::{
    BadGuest, Outcome, RefusedGuest, RunState, Runtime, cache, imports, instantiation_error,
    lab_state, lab_view, one_line, race,
};
use crate::error::{Failure, HostFailure};
use crate::lab::Lab;
use crate::policy::Limits;
use crate::vocab::cni::{Attachment, CniResult};
use crate::wit::plugin::bindings;
use crate::wit::{IpamDelegate, NsHandle};

/// The exports a plugin must have, as the WIT declares them, for messages.
const EXPORTS: [(&str, &str); 3] = [
    (
        "add",
        "add: func(container: borrow<netns>, at: attachment) -> result<cni-result, string>",
    ),
    (
        "del",
        "del: func(container: option<borrow<netns>>, at: attachment) -> result<_, string>",
    ),
    (
        "check",
        "check: func(container: borrow<netns>, at: attachment) -> result<_, string>",
    ),
];

/// The types world `plugin` names at its top level (`use`), which a
/// plugin imports as types.
const WORLD_TYPES: [&str; 3] = ["netns", "attachment", "cni-result"];

/// A loaded, checked CNI plugin.
pub struct PluginGuest {
    pub component: Component,
    pub origin: cache::Origin,
    pub imports: Vec<String>,
    pub pre: bindings::PluginPre<RunState>,
}

/// Which export to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginCall {
    Add,
    Del,
    Check,
}

impl PluginCall {
    /// The CNI command's name.
    pub fn name(self) -> &'static str {
        match self {
            PluginCall::Add => "ADD",
            PluginCall::Del => "DEL",
            PluginCall::Check => "CHECK",
        }
    }
}

/// What one plugin call is given.
pub struct PluginRequest {
    pub call: PluginCall,
    /// The name under which the lab holds the container's namespace; the
    /// guest receives a handle to it, never the name. Required for ADD and
    /// CHECK; none for a DEL whose namespace is gone.
    pub container_ns: Option<String>,
    pub attachment: Attachment,
    /// The IPAM behind `cni.ipam-*`, if the network has one.
    pub ipam: Option<Arc<dyn IpamDelegate>>,
}

/// How a plugin call ended.
#[derive(Debug)]
pub struct PluginOutcome {
    /// As for a lab script; [`Outcome::GuestError`] carries the export's
    /// `err` string.
    pub outcome: Outcome,
    /// What ADD returned, when it succeeded (`sandbox` as the guest left
    /// it: the caller fills it in).
    pub result: Option<CniResult>,
}

impl Runtime {
    /// Reads, checks and compiles (or loads from cache) the CNI plugin at
    /// `path`: refuses it, before anything runs, if it imports what
    /// netwasm does not provide or is not of world netwasm:lab/plugin.
    pub fn load_plugin(&self, path: &Path) -> anyhow::Result<PluginGuest> {
        let shown = path.display();
        let i = self.inspect(path)?;
        let ty = i.component.component_type();
        // The world's `use` of `netns`, `attachment` and `cni-result` (for
        // its exports' signatures) makes the component import those names
        // as types, bound to netwasm's own: no capability, so let them by.
        let world_type = |name: &str| {
            WORLD_TYPES.contains(&name)
                && matches!(
                    ty.get_import(&self.engine, name).map(|e| e.ty),
                    Some(ComponentItem::Type(_) | ComponentItem::Resource(_))
                )
        };
        let checked = i
            .imports
            .iter()
            .map(String::as_str)
            .filter(|n| !world_type(n));
        if let Some(bad) = imports::first_disallowed(checked) {
            return Err(RefusedGuest(format!(
                "{shown} imports `{bad}`, which netwasm does not provide to guests (allowed: {})",
                imports::describe()
            ))
            .into());
        }
        if let Some((_, wanted)) = EXPORTS.iter().find(|(name, _)| {
            !matches!(
                ty.get_export(&self.engine, name).map(|e| e.ty),
                Some(ComponentItem::ComponentFunc(_))
            )
        }) {
            return Err(BadGuest(format!(
                "{shown} is not a netwasm CNI plugin: it does not export `{wanted}` of world netwasm:lab/plugin (its exports: {})",
                if i.exports.is_empty() { "none".to_string() } else { i.exports.join(", ") }
            ))
            .into());
        }
        let pre = self
            .plugin_linker()?
            .instantiate_pre(&i.component)
            .and_then(bindings::PluginPre::new)
            .map_err(|e| {
                BadGuest(format!(
                    "{shown} does not fit world netwasm:lab/plugin: {}",
                    one_line(&e)
                ))
            })?;
        Ok(PluginGuest {
            component: i.component,
            origin: i.origin,
            imports: i.imports,
            pre,
        })
    }

    /// Instantiates `guest` with `lab` and calls the export `request.call`
    /// names, within `limits`, until it returns or `cancel` resolves.
    /// Returns the lab back for whatever comes next (commit or rollback).
    ///
    /// `request.container_ns` must name a namespace `lab` already holds:
    /// the handle the guest gets is to that name, and every operation on
    /// it goes through the lab and its policy like any other handle.
    pub async fn run_plugin(
        &self,
        guest: &PluginGuest,
        lab: Lab,
        request: PluginRequest,
        limits: &Limits,
        output: &GuestOutput,
        cancel: impl Future<Output = &'static str>,
    ) -> (PluginOutcome, Lab) {
        let PluginRequest {
            call,
            container_ns,
            attachment,
            ipam,
        } = request;
        let mut state = lab_state(lab, output);
        state.ipam = ipam;
        let (mut store, bounds, fuel_set) = self.new_store(state, limits, output);
        let attachment = attachment.into();
        let mut result = None;
        let run = async {
            fuel_set?;
            // ADD and CHECK act on the container: without it, the caller
            // has made a mistake, found before the guest starts.
            if container_ns.is_none() && call != PluginCall::Del {
                return Err(host_failure(anyhow::anyhow!(
                    "CNI {} needs the container's namespace, and none was given",
                    call.name()
                )));
            }
            let instance = guest
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(instantiation_error)?;
            let container = match container_ns {
                Some(name) => Some(push_container(&mut store, name)?),
                None => None,
            };
            let returned = match (call, container) {
                (PluginCall::Del, c) => instance.call_del(&mut store, c, &attachment).await,
                (PluginCall::Add, Some(c)) => instance
                    .call_add(&mut store, c, &attachment)
                    .await
                    .map(|r| r.map(|ok| result = Some(CniResult::from(ok)))),
                (PluginCall::Check, Some(c)) => {
                    instance.call_check(&mut store, c, &attachment).await
                }
                (_, None) => Ok(Ok(())), // refused above
            };
            Ok(match returned {
                Ok(Ok(())) => Outcome::Success,
                Ok(Err(msg)) => Outcome::GuestError(msg),
                Err(e) => match e.downcast_ref::<I32Exit>() {
                    // An ADD that exits has returned no result: the
                    // runtime must not be told it succeeded.
                    Some(I32Exit(0)) if call == PluginCall::Add => {
                        Outcome::GuestError("the plugin exited before returning a result".into())
                    }
                    Some(I32Exit(0)) => Outcome::Success,
                    Some(I32Exit(status)) => Outcome::Exited(*status),
                    None => return Err(e),
                },
            })
        };
        let outcome = race(run, limits, &bounds, output, cancel).await;
        let RunState { lab, .. } = store.into_data();
        // A result is only a result if the call as a whole succeeded.
        if !matches!(outcome, Outcome::Success) {
            result = None;
        }
        (PluginOutcome { outcome, result }, lab.lab)
    }
}

/// Puts a handle to the container's namespace in the guest's table; it is
/// counted against the handles limit like any other.
fn push_container(
    store: &mut Store<RunState>,
    name: String,
) -> wasmtime::Result<Resource<NsHandle>> {
    lab_view(store.data_mut())
        .push_ns(name)
        .map_err(|f| match f {
            Failure::Trap(e) => wasmtime::Error::from_anyhow(e),
            Failure::Op(e) => host_failure(anyhow::anyhow!(
                "cannot hand over the container's namespace: {}",
                e.message
            )),
        })
}

fn host_failure(e: anyhow::Error) -> wasmtime::Error {
    wasmtime::Error::new(HostFailure(e))
}
