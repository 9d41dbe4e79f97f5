//! The WIT package `netwasm:lab` on the host side: the generated bindings
//! (here, and nowhere else), and one module per interface that implements
//! it by converting WIT values and handles to [`Lab`] calls.
//!
//! Guest mistakes come back to the guest as `error` values; traps are kept
//! for host failures and for hard limits, which end the run. A trap that
//! is neither a limit nor a fault the lab found in the guest
//! ([`crate::error::GuestFault`]) leaves here marked as the host's
//! ([`HostFailure`], in `types.rs`): whatever else stops a guest is the
//! guest's own doing.

mod addr;
mod batch;
mod link;
mod namespace;
pub mod plugin;
mod probe;
mod process;
mod route;
mod types;

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable, ResourceTableError};

use crate::error::{Failure, HostFailure, HostResult};
use crate::lab::{Lab, LinkKey};
use crate::vocab::limit::LimitHit;

pub use self::plugin::IpamDelegate;

/// The generated bindings. `bindings::Lab` is the guest's world.
pub mod bindings {
    wasmtime::component::bindgen!({
    path: "../wit",
    world: "lab",
    imports: { default: async | trappable },
    exports: { default: async },
    trappable_error_type: {
        "netwasm:lab/types.error" => crate::error::Failure,
    },
    with: {
        "netwasm:lab/namespace.netns": crate::wit::NsHandle,
        "netwasm:lab/link.link": crate::wit::LinkHandle,
        "netwasm:lab/process.process": crate::wit::ProcHandle,
    },
    });
}

/// The host side of a `netns` handle.
pub struct NsHandle {
    name: String,
}

/// The host side of a `link` handle.
pub struct LinkHandle {
    key: LinkKey,
}

/// The host side of a `process` handle.
pub struct ProcHandle {
    key: crate::lab::ProcKey,
}

/// What the WIT host needs from the store: the lab, the handle count, and
/// (for a CNI plugin) the IPAM it delegates to.
pub struct LabState {
    pub lab: Lab,
    handles: u64,
    max_handles: u64,
    /// The IPAM behind `cni.ipam-*`; none outside CNI, and for networks
    /// without an `ipam` section.
    pub ipam: Option<Arc<dyn IpamDelegate>>,
}

impl LabState {
    pub fn new(lab: Lab) -> Self {
        let max_handles = lab.policy().limits.handles;
        Self {
            lab,
            handles: 0,
            max_handles,
            ipam: None,
        }
    }
}

/// A borrow of the store's lab state and resource table, for one call.
pub struct LabView<'a> {
    pub table: &'a mut ResourceTable,
    pub state: &'a mut LabState,
}

struct HasLab;

impl HasData for HasLab {
    type Data<'a> = LabView<'a>;
}

/// Adds every `netwasm:lab` interface to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> LabView<'_>,
) -> wasmtime::Result<()> {
    bindings::Lab::add_to_linker::<T, HasLab>(linker, get)
}

impl LabView<'_> {
    fn lab(&mut self) -> &mut Lab {
        &mut self.state.lab
    }

    fn count_handle(&mut self) -> HostResult<()> {
        if self.state.handles >= self.state.max_handles {
            // A guest hoarding handles is stopped, not warned.
            return Err(Failure::Trap(
                LimitHit {
                    limit: "handles",
                    value: self.state.max_handles.to_string(),
                    detail: "it tried to hold one more namespace or link handle".into(),
                }
                .into(),
            ));
        }
        self.state.handles += 1;
        Ok(())
    }

    /// Traps, as [`Self::count_handle`] would, when `n` more handles would
    /// pass the limit.
    fn check_handle_room(&self, n: usize) -> HostResult<()> {
        if self.state.handles.saturating_add(n as u64) > self.state.max_handles {
            return Err(Failure::Trap(
                LimitHit {
                    limit: "handles",
                    value: self.state.max_handles.to_string(),
                    detail: format!("it asked for {n} more namespace handles at once"),
                }
                .into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn push_ns(&mut self, name: String) -> HostResult<Resource<NsHandle>> {
        self.count_handle()?;
        let pushed = self.table.push(NsHandle { name });
        pushed.map_err(|e| self.table_full(e))
    }

    fn push_link(&mut self, key: LinkKey) -> HostResult<Resource<LinkHandle>> {
        self.count_handle()?;
        let pushed = self.table.push(LinkHandle { key });
        pushed.map_err(|e| self.table_full(e))
    }

    /// A handle the table had no room for. The table is sized for the
    /// handles limit and then some (`runtime::run`), but WASI's resources
    /// share it: a guest that fills it with those is hoarding handles all
    /// the same, and is stopped as one.
    fn table_full(&self, e: ResourceTableError) -> Failure {
        match e {
            ResourceTableError::Full => Failure::Trap(
                LimitHit {
                    limit: "handles",
                    value: self.state.max_handles.to_string(),
                    detail: format!(
                        "it held {} namespace and link handles and so many WASI resources that the host's table of handles is full",
                        self.state.handles
                    ),
                }
                .into(),
            ),
            other => Failure::Trap(other.into()),
        }
    }

    fn ns_name(&self, r: &Resource<NsHandle>) -> HostResult<String> {
        Ok(self
            .table
            .get(r)
            .map_err(|e| Failure::Trap(e.into()))?
            .name
            .clone())
    }

    fn link_key(&self, r: &Resource<LinkHandle>) -> HostResult<LinkKey> {
        Ok(self.table.get(r).map_err(|e| Failure::Trap(e.into()))?.key)
    }

    pub(crate) fn drop_handle<T: 'static>(&mut self, r: Resource<T>) -> wasmtime::Result<()> {
        // The engine checked the guest's handle before the call: an entry
        // missing from the table is the host's own bookkeeping failing.
        self.table
            .delete(r)
            .map_err(|e| wasmtime::Error::new(HostFailure(e.into())))?;
        self.state.handles = self.state.handles.saturating_sub(1);
        Ok(())
    }
}
