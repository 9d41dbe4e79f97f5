//! Hard limits on a guest, and how hitting one is reported.
//!
//! A guest that hits a limit is stopped (a trap), never warned: the
//! run then ends and rolls back like any failed run. The trap carries a
//! [`LimitHit`] so the report can name the limit and its value.

use std::fmt;

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

/// The limits a policy or a flag can set; the others are netwasm's own.
const ADJUSTABLE: [&str; 6] = ["memory", "deadline", "fuel", "handles", "output", "args"];

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the guest hit its {} limit ({}): {}",
            self.limit, self.value, self.detail
        )?;
        if ADJUSTABLE.contains(&self.limit) {
            write!(
                f,
                " (raise it with --limit-{} or [limits] {} in a policy)",
                self.limit, self.limit
            )
        } else {
            f.write_str(" (a fixed limit of netwasm)")
        }
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
