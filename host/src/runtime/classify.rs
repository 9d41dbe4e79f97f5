//! What ended a guest that did not return. Only a failure netwasm marked
//! as its own ([`HostFailure`], raised where the host fails) is an
//! internal error; a limit is reported by name, a fault the lab found in
//! the guest ([`GuestFault`]) in its own words; everything else the
//! guest's execution produced — a trap, a pointer or string the canonical
//! ABI cannot lift, a result it cannot read, a misuse of WASI, a handle it
//! does not hold — is the guest's trap, reported in one line.

use wasmtime::Trap;
use wasmtime::component::ResourceTableError;

use super::stdio::{self, GuestOutput};
use super::store_limits::StoreLimits;
use super::{MAX_WASM_STACK, Outcome};
use crate::error::{GuestFault, HostFailure};
use crate::policy::Limits;
use crate::vocab::limit::{LimitHit, bytes};

/// The most of the engine's message that a trap's report repeats: it may
/// quote what the guest passed.
const MAX_TRAP_MESSAGE: usize = 1024;

/// Turns what stopped a guest into an outcome that names its cause.
pub(super) fn classify(
    e: wasmtime::Error,
    limits: &Limits,
    store: &StoreLimits,
    output: &GuestOutput,
) -> Outcome {
    if let Some(hit) = e.downcast_ref::<LimitHit>() {
        return Outcome::Limit(hit.clone());
    }
    let e = match e.downcast::<HostFailure>() {
        Ok(HostFailure(failure)) => return Outcome::HostError(failure),
        Err(e) => e,
    };
    if let Some(GuestFault(what)) = e.downcast_ref::<GuestFault>() {
        return Outcome::Trap(stdio::clip(
            &stdio::neutralise(what.as_bytes()),
            MAX_TRAP_MESSAGE,
        ));
    }
    if output.exceeded() {
        return Outcome::Limit(LimitHit {
            limit: "output",
            value: bytes(limits.output),
            detail: "it wrote more to stdout and stderr than allowed".into(),
        });
    }
    if let Some(hit) = engine_limit(&e, limits, store) {
        return Outcome::Limit(hit);
    }
    Outcome::Trap(guest_trap(&e))
}

/// A limit enforced by the engine or by WASI rather than by netwasm's own
/// code, named as the limit of netwasm it stands for. The wording matched
/// is wasmtime's (pinned by the tests below and by tests/limits.rs).
fn engine_limit(e: &wasmtime::Error, limits: &Limits, store: &StoreLimits) -> Option<LimitHit> {
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            return Some(LimitHit {
                limit: "fuel",
                value: limits.fuel.to_string(),
                detail: "it ran out of fuel (CPU)".into(),
            });
        }
        Some(Trap::StackOverflow) => {
            return Some(LimitHit {
                limit: "stack",
                value: bytes(MAX_WASM_STACK as u64),
                detail: "it overflowed its call stack (runaway recursion?)".into(),
            });
        }
        _ => {}
    }
    let handles = |detail: String| LimitHit {
        limit: "handles",
        value: limits.handles.to_string(),
        detail,
    };
    if matches!(
        e.downcast_ref::<ResourceTableError>(),
        Some(ResourceTableError::Full)
    ) {
        return Some(handles(format!(
            "it held so many WASI resources that the host's table of {} handles is full",
            store.table_capacity
        )));
    }
    let root = e.root_cause().to_string();
    let memory = |detail: String| LimitHit {
        limit: "memory",
        value: bytes(limits.memory),
        detail,
    };
    // The canonical ABI copying more out of the guest in one call than the
    // store's hostcall fuel (sized to the memory limit) allows.
    if root.contains("fuel allocated for hostcalls has been exhausted") {
        return Some(memory(format!(
            "it passed the host more than {} in one call (strings and lists the host would have to copy)",
            bytes(store.hostcall_fuel as u64)
        )));
    }
    // The engine's own count of component-model handles: netwasm's, WASI's
    // and the guest's own resources together (sized above the handles
    // limit, so netwasm's own count of its handles trips first).
    if root.contains("store handle limit exceeded")
        || root.contains("cannot allocate another handle")
    {
        return Some(handles(format!(
            "it held more than {} component-model handles at once (its own resources, WASI's and netwasm's together)",
            store.component_handles
        )));
    }
    // wasi:random: "requested len N exceeds limit M".
    if let Some(rest) = root.split("requested len ").nth(1)
        && let Some((len, _)) = rest.split_once(" exceeds limit")
        && let Ok(len) = len.parse::<u64>()
    {
        return Some(memory(format!(
            "it asked WASI for {} of random bytes at once",
            bytes(len)
        )));
    }
    None
}

/// The one-line report of a trap of the guest's own: the engine's message
/// without the wasm backtrace it carries (its root cause, first line),
/// with anything the guest could have put in it made visible and clipped.
fn guest_trap(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return format!("the guest trapped: {trap}");
    }
    let root = e.root_cause().to_string();
    let first = root.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let what = stdio::clip(
        &stdio::neutralise(first.trim().as_bytes()),
        MAX_TRAP_MESSAGE,
    );
    // A dropped or forged resource handle, as the canonical ABI words it.
    if what.contains("unknown handle index") {
        return format!(
            "the guest trapped: it used a handle that was dropped or never issued ({what})"
        );
    }
    // wasi:io output streams written past what check-write allowed.
    if what.contains("write exceeded budget")
        || what.contains("write not permitted while flush pending")
    {
        return format!("the guest trapped: it broke the WASI stream protocol ({what})");
    }
    format!("the guest trapped: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> StoreLimits {
        StoreLimits::for_limits(&Limits::default())
    }

    fn classified(e: wasmtime::Error) -> Outcome {
        classify(
            e,
            &Limits::default(),
            &store(),
            &GuestOutput::new(1 << 20, true),
        )
    }

    #[test]
    fn what_is_not_marked_the_hosts_is_the_guests() {
        for (e, report) in [
            (
                wasmtime::format_err!("string pointer/length out of bounds of memory"),
                "the guest trapped: string pointer/length out of bounds of memory",
            ),
            (
                wasmtime::format_err!("invalid utf-8 sequence of 1 bytes from index 2")
                    .context("error while executing at wasm backtrace:\n    0: 0x1 - f"),
                "the guest trapped: invalid utf-8 sequence of 1 bytes from index 2",
            ),
            (
                wasmtime::format_err!("write exceeded budget"),
                "the guest trapped: it broke the WASI stream protocol (write exceeded budget)",
            ),
            (
                wasmtime::format_err!("a \x1b[2J guest's\nsecond line"),
                "the guest trapped: a \\u{1b}[2J guest's",
            ),
        ] {
            match classified(e) {
                Outcome::Trap(msg) => assert_eq!(msg, report),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_fault_the_lab_found_is_the_guests() {
        let e = wasmtime::Error::new(GuestFault(
            "the guest kept calling after it had used its quota of 5 operations".into(),
        ))
        .context("error while executing at wasm backtrace:\n    0: 0x1 - f");
        match classified(e) {
            Outcome::Trap(msg) => assert_eq!(
                msg,
                "the guest kept calling after it had used its quota of 5 operations"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_a_host_failure_is_the_hosts() {
        let e = wasmtime::Error::new(HostFailure(anyhow::anyhow!(
            "the ledger could not be written"
        )))
        .context("error while executing at wasm backtrace:\n    0: 0x1 - f");
        match classified(e) {
            Outcome::HostError(e) => assert_eq!(e.to_string(), "the ledger could not be written"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn engine_limits_are_netwasms_limits() {
        for (e, limit, detail) in [
            (
                wasmtime::format_err!("requested len 1073741824 exceeds limit 67108864"),
                "memory",
                "it asked WASI for 1GiB of random bytes at once".to_string(),
            ),
            (
                wasmtime::format_err!(
                    "too much data is being copied between the host and the guest: fuel allocated for hostcalls has been exhausted"
                ),
                "memory",
                "it passed the host more than 64MiB in one call (strings and lists the host would have to copy)".to_string(),
            ),
            (
                wasmtime::format_err!("cannot allocate another handle: store handle limit exceeded"),
                "handles",
                format!(
                    "it held more than {} component-model handles at once (its own resources, WASI's and netwasm's together)",
                    store().component_handles
                ),
            ),
            (
                wasmtime::Error::new(ResourceTableError::Full),
                "handles",
                format!(
                    "it held so many WASI resources that the host's table of {} handles is full",
                    store().table_capacity
                ),
            ),
        ] {
            match classified(e) {
                Outcome::Limit(hit) => {
                    assert_eq!(hit.limit, limit);
                    assert_eq!(hit.detail, detail);
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
