//! Hard limits on a guest, and how hitting one is reported.
//!
//! A guest that hits a limit is stopped (a trap), never warned: the
//! run then ends and rolls back like any failed run. The trap carries a
//! [`LimitHit`] so the report can name the limit and its value.

use std::fmt;

use wasmtime::ResourceLimiter;

/// Which limit stopped a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitHit {
    /// The policy key / CLI flag name (`memory`, `deadline`, ...).
    pub limit: &'static str,
    /// The limit's value, human-readable.
    pub value: String,
    /// What happened.
    pub detail: String,
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the guest hit its {} limit ({}): {} (raise it with --limit-{} or [limits] {} in a policy)",
            self.limit, self.value, self.detail, self.limit, self.limit
        )
    }
}

impl std::error::Error for LimitHit {}

/// Formats bytes the way policies write them.
pub fn bytes(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{}GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{}MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{}KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Caps each linear memory and table of the guest.
pub struct Limiter {
    pub memory: u64,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory {
            return Err(LimitHit {
                limit: "memory",
                value: bytes(self.memory),
                detail: format!(
                    "it tried to grow a linear memory to {}",
                    bytes(desired as u64)
                ),
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold references; a million-entry table is an attack, not a lab.
        Ok(desired <= 1_000_000)
    }
}
