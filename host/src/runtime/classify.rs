//! What ended a guest that did not return: a limit, a trap of its own, a
//! misuse of WASI, or (only when none of these) a failure of the host.

use wasmtime::Trap;

use super::limits::{LimitHit, bytes};
use super::stdio::GuestOutput;
use super::{MAX_WASM_STACK, Outcome};
use crate::policy::Limits;

/// Turns a trap into an outcome that names its cause.
pub(super) fn classify(e: wasmtime::Error, limits: &Limits, output: &GuestOutput) -> Outcome {
    if let Some(hit) = e.downcast_ref::<LimitHit>() {
        return Outcome::Limit(hit.clone());
    }
    if output.exceeded() {
        return Outcome::Limit(LimitHit {
            limit: "output",
            value: bytes(limits.output),
            detail: "it wrote more to stdout and stderr than allowed".into(),
        });
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Outcome::Limit(LimitHit {
            limit: "fuel",
            value: limits.fuel.to_string(),
            detail: "it ran out of fuel (CPU)".into(),
        }),
        Some(Trap::StackOverflow) => Outcome::Limit(LimitHit {
            limit: "stack",
            value: bytes(MAX_WASM_STACK as u64),
            detail: "it overflowed its call stack (runaway recursion?)".into(),
        }),
        Some(trap) => Outcome::Trap(format!("the guest trapped: {trap}")),
        None => {
            // A dropped or forged resource handle is the guest's doing; the
            // canonical ABI reports it deep in the chain, after a backtrace.
            let full = format!("{e:#}");
            if let Some(what) = full
                .lines()
                .find_map(|l| l.find("unknown handle index").map(|i| &l[i..]))
            {
                return Outcome::Trap(format!(
                    "the guest used a handle that was dropped or never issued ({what})"
                ));
            }
            wasi_misuse(&full, limits).unwrap_or_else(|| Outcome::HostError(e.into()))
        }
    }
}

/// The errors wasmtime-wasi raises for a guest's own misuse of WASI, as
/// plain errors: they are the guest's doing, not the host's. The wording
/// is wasmtime-wasi's (pinned by the tests below and tests/limits.rs).
fn wasi_misuse(full: &str, limits: &Limits) -> Option<Outcome> {
    // wasi:random: "requested len N exceeds limit M".
    if let Some(rest) = full.split("requested len ").nth(1)
        && let Some((len, _)) = rest.split_once(" exceeds limit")
        && let Ok(len) = len.parse::<u64>()
    {
        return Some(Outcome::Limit(LimitHit {
            limit: "memory",
            value: bytes(limits.memory),
            detail: format!("it asked WASI for {} of random bytes at once", bytes(len)),
        }));
    }
    // wasi:io output streams written past what check-write allowed.
    [
        "write exceeded budget",
        "write not permitted while flush pending",
    ]
    .into_iter()
    .find(|m| full.contains(m))
    .map(|m| {
        Outcome::Trap(format!(
            "the guest trapped: it broke the WASI stream protocol ({m})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasi_misuse_is_blamed_on_the_guest() {
        let limits = Limits::default();
        let out = GuestOutput::new(1 << 20, true);
        let e = wasmtime::format_err!("requested len 1073741824 exceeds limit 67108864");
        match classify(e, &limits, &out) {
            Outcome::Limit(hit) => {
                assert_eq!(hit.limit, "memory");
                assert_eq!(hit.detail, "it asked WASI for 1GiB of random bytes at once");
            }
            other => panic!("{other:?}"),
        }
        let e = wasmtime::format_err!("write exceeded budget");
        assert!(matches!(classify(e, &limits, &out), Outcome::Trap(_)));
        let e = wasmtime::format_err!("the ledger could not be written");
        assert!(matches!(classify(e, &limits, &out), Outcome::HostError(_)));
    }
}
