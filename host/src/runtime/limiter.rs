//! What a guest's store may allocate on the host: one memory budget over
//! every linear memory and table together, and fixed caps on how many core
//! instances, memories and tables it may create.
//!
//! The budget is per store, not per memory: a component is free to
//! instantiate dozens of core modules, each with its own memory, and a
//! per-memory cap would let it multiply the limit by their number.

use wasmtime::ResourceLimiter;

use crate::vocab::limit::{LimitHit, bytes};

// The caps leave room above what real guests use. Measured on the seed
// lab (`up`) in each language: Rust 3 core instances, C 4,
// JavaScript (componentize-js 0.23) 4, Python (componentize-py 0.25, which
// links CPython's shared libraries as separate modules) 14; each has one
// linear memory and two tables, and uses 0.3 (C) to 12.3 MiB (Python) of
// memory in all.

/// Core instances per guest.
pub const MAX_INSTANCES: usize = 64;

/// Linear memories per guest.
pub const MAX_MEMORIES: usize = 8;

/// Tables per guest.
pub const MAX_TABLES: usize = 16;

/// What one table element costs the host: a pointer (wasmtime's
/// `ResourceLimiter` documents this).
pub const TABLE_ELEMENT_BYTES: u64 = std::mem::size_of::<usize>() as u64;

/// The store's [`ResourceLimiter`].
#[derive(Debug)]
pub struct Limiter {
    /// The budget, bytes, over all memories and tables.
    limit: u64,
    /// Bytes granted so far.
    used: u64,
    /// What the last memory growth was granted: wasmtime may still fail to
    /// perform it, and then hands it back through `memory_grow_failed`.
    pending: u64,
}

impl Limiter {
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            used: 0,
            pending: 0,
        }
    }

    /// Bytes of linear memory and tables the guest holds now.
    pub fn used(&self) -> u64 {
        self.used
    }

    fn hit(&self, detail: String) -> wasmtime::Error {
        LimitHit {
            limit: "memory",
            value: bytes(self.limit),
            detail,
        }
        .into()
    }

    /// Grants `add` more bytes, or stops the guest.
    fn grant(&mut self, add: u64, what: impl FnOnce() -> String) -> wasmtime::Result<()> {
        let total = self.used.saturating_add(add);
        if total > self.limit {
            return Err(self.hit(format!(
                "{}, which would bring its linear memories and tables to {}",
                what(),
                bytes(total)
            )));
        }
        self.used = total;
        Ok(())
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.pending = 0;
        // Past the memory's own maximum the growth fails anyway, as the
        // WebAssembly spec says (memory.grow returns -1): nothing to count.
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        let add = desired.saturating_sub(current) as u64;
        // Instantiation asks for each memory's initial size from 0.
        self.grant(add, || {
            if current == 0 {
                format!("it asked for a linear memory of {}", bytes(desired as u64))
            } else {
                format!(
                    "it tried to grow a linear memory from {} to {}",
                    bytes(current as u64),
                    bytes(desired as u64)
                )
            }
        })?;
        self.pending = add;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        let granted = std::mem::take(&mut self.pending);
        // The operating system refused memory that was granted just now:
        // the grant is void and memory.grow returns -1.
        if granted > 0 && error.downcast_ref::<std::io::Error>().is_some() {
            self.used -= granted;
            return Ok(());
        }
        // Anything else is a growth wasmtime refused before asking (past
        // what the memory's type can address) or after a grant for which
        // the bookkeeping cannot tell; stopping the guest keeps the count
        // exact.
        Err(self.hit(format!(
            "it tried to grow a linear memory past what the host allows ({error})"
        )))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        let add = (desired.saturating_sub(current) as u64).saturating_mul(TABLE_ELEMENT_BYTES);
        self.grant(add, || {
            format!(
                "it tried to grow a table from {current} to {desired} elements ({} each)",
                bytes(TABLE_ELEMENT_BYTES)
            )
        })?;
        Ok(true)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // Growths past a table's maximum are refused in `table_growing`;
        // what is left is an element count that overflows.
        Err(self.hit(format!(
            "it tried to grow a table past what the host allows ({error})"
        )))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

/// Names the count cap behind an instantiation failure, if one was hit.
///
/// wasmtime enforces [`Limiter::instances`] and friends itself and reports
/// them as a plain error ("resource limit exceeded: instance count too high
/// at 101"), not through the limiter: this turns that into a report naming
/// the limit. The wording is pinned by a test.
pub fn count_limit(e: &wasmtime::Error) -> Option<LimitHit> {
    let text = format!("{e:#}");
    let rest = &text[text.find("resource limit exceeded: ")? + 25..];
    let (limit, cap, what) = [
        ("instance", MAX_INSTANCES, "core WebAssembly instances"),
        ("memory", MAX_MEMORIES, "linear memories"),
        ("table", MAX_TABLES, "tables"),
    ]
    .into_iter()
    .find(|(desc, _, _)| rest.starts_with(&format!("{desc} count too high")))?;
    let limit = match limit {
        "instance" => "instances",
        "memory" => "memories",
        _ => "tables",
    };
    Some(LimitHit {
        limit,
        value: cap.to_string(),
        detail: format!("it tried to create more than {cap} {what}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    fn is_memory_hit(r: wasmtime::Result<bool>) -> bool {
        matches!(r, Err(e) if e.downcast_ref::<LimitHit>().is_some_and(|h| h.limit == "memory"))
    }

    #[test]
    fn the_budget_covers_every_memory_and_table_together() {
        let mut l = Limiter::new(64 << 20);
        // Three memories of 16 MiB and a table: each alone is far below the
        // limit, together they reach it.
        for _ in 0..3 {
            assert!(l.memory_growing(0, 16 * MIB, None).unwrap());
        }
        assert!(l.table_growing(0, 1000, None).unwrap());
        assert_eq!(l.used(), (48 << 20) + 8000);
        assert!(is_memory_hit(l.memory_growing(0, 16 * MIB, None)));
        assert!(is_memory_hit(l.memory_growing(16 * MIB, 32 * MIB, None)));
        assert!(is_memory_hit(l.table_growing(1000, 3 << 20, None)));
        // Refusals grant nothing.
        assert_eq!(l.used(), (48 << 20) + 8000);
        assert!(l.memory_growing(16 * MIB, 31 * MIB, None).unwrap());
    }

    #[test]
    fn growth_past_a_declared_maximum_fails_without_counting() {
        let mut l = Limiter::new(64 << 20);
        assert!(l.memory_growing(0, MIB, Some(2 * MIB)).unwrap());
        for _ in 0..1000 {
            assert!(!l.memory_growing(MIB, 3 * MIB, Some(2 * MIB)).unwrap());
            assert!(!l.table_growing(10, 20, Some(15)).unwrap());
        }
        assert_eq!(l.used(), MIB as u64);
    }

    #[test]
    fn a_growth_the_system_refuses_is_handed_back() {
        let mut l = Limiter::new(64 << 20);
        assert!(l.memory_growing(0, MIB, None).unwrap());
        assert!(l.memory_growing(MIB, 40 * MIB, None).unwrap());
        let oom = std::io::Error::from_raw_os_error(libc::ENOMEM);
        l.memory_grow_failed(wasmtime::Error::new(oom)).unwrap();
        assert_eq!(l.used(), MIB as u64);
        // Only once: a second failure has no grant to hand back.
        let oom = std::io::Error::from_raw_os_error(libc::ENOMEM);
        assert!(l.memory_grow_failed(wasmtime::Error::new(oom)).is_err());
        assert_eq!(l.used(), MIB as u64);
    }

    #[test]
    fn other_growth_failures_stop_the_guest() {
        let mut l = Limiter::new(64 << 20);
        assert!(l.memory_growing(0, MIB, None).unwrap());
        let e = l
            .memory_grow_failed(wasmtime::format_err!(
                "memory growth exceeds memory type's limits"
            ))
            .unwrap_err();
        assert_eq!(e.downcast_ref::<LimitHit>().unwrap().limit, "memory");
        assert!(
            l.table_grow_failed(wasmtime::format_err!("overflow"))
                .is_err()
        );
    }

    #[test]
    fn count_caps_are_named() {
        let e = wasmtime::format_err!("resource limit exceeded: instance count too high at 101");
        let hit = count_limit(&e).unwrap();
        assert_eq!(hit.limit, "instances");
        assert_eq!(hit.value, MAX_INSTANCES.to_string());
        let e = wasmtime::format_err!("resource limit exceeded: memory count too high at 9");
        assert_eq!(count_limit(&e).unwrap().limit, "memories");
        assert!(count_limit(&wasmtime::format_err!("something else")).is_none());
    }
}
