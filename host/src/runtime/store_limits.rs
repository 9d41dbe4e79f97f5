//! The engine's own per-store bounds, sized from netwasm's limits so that
//! netwasm's limit is always the one a guest meets, and reported by name.
//!
//! wasmtime bounds what a guest can make the host hold on its own: the
//! bytes the canonical ABI copies out of the guest in one host call
//! ("hostcall fuel", 128 MiB by default), the component-model handles
//! alive in a store (100,000 by default), and the entries of the host's
//! resource table (1,000,000 by default). Left at their defaults they
//! would trip before netwasm's limits (a guest allowed 200,000 handles
//! meets the engine's 100,000 first) or let a guest past them (one call
//! may copy 128 MiB whatever the memory limit).

use wasmtime::Store;
use wasmtime::component::ResourceTable;

use crate::policy::Limits;

/// Component-model handles a store may hold besides netwasm's own
/// namespace and link handles: WASI's streams and pollables, and the
/// guest's own resources. wasmtime's default for the whole store.
const OTHER_HANDLES: usize = 100_000;

/// Entries of the resource table besides netwasm's handles (WASI's
/// resources): wasmtime's default for the whole table.
const OTHER_TABLE_ENTRIES: usize = 1_000_000;

/// The engine's bounds for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLimits {
    /// Bytes the host may copy (and allocate) out of the guest in one
    /// call: no more than the guest's memory limit, as for WASI's random
    /// bytes.
    pub hostcall_fuel: usize,
    /// Component-model handles alive in the store at once.
    pub component_handles: usize,
    /// Entries of the host's resource table.
    pub table_capacity: usize,
}

impl StoreLimits {
    pub fn for_limits(limits: &Limits) -> Self {
        let handles = usize::try_from(limits.handles).unwrap_or(usize::MAX);
        Self {
            hostcall_fuel: usize::try_from(limits.memory).unwrap_or(usize::MAX),
            component_handles: handles.saturating_add(OTHER_HANDLES),
            table_capacity: handles.saturating_add(OTHER_TABLE_ENTRIES),
        }
    }

    /// Sets these bounds on `store`, before the guest is instantiated.
    pub fn apply<T>(&self, store: &mut Store<T>) {
        store.set_hostcall_fuel(self.hostcall_fuel);
        store.set_max_component_handles(self.component_handles);
    }

    /// A resource table of this capacity.
    pub fn table(&self) -> ResourceTable {
        let mut table = ResourceTable::new();
        table.set_max_capacity(self.table_capacity);
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netwasms_limits_come_first() {
        let limits = Limits {
            handles: 200_000,
            memory: 1 << 30,
            ..Limits::default()
        };
        let s = StoreLimits::for_limits(&limits);
        assert_eq!(s.hostcall_fuel, 1 << 30);
        assert!(s.component_handles > 200_000);
        assert!(s.table_capacity > 200_000);
        let huge = Limits {
            handles: u64::MAX,
            ..Limits::default()
        };
        assert_eq!(StoreLimits::for_limits(&huge).component_handles, usize::MAX);
    }
}
