//! `netwasm:lab/types`: the error variant.

use super::LabView;
use super::bindings::netwasm::lab::types::{Error, Host, KernelError};
use crate::error::{ErrorKind, Failure, GuestFault, HostFailure, OpError};
use crate::vocab::limit::LimitHit;

impl From<OpError> for Error {
    fn from(e: OpError) -> Self {
        let m = e.message;
        match e.kind {
            ErrorKind::NotFound => Error::NotFound(m),
            ErrorKind::AlreadyExists => Error::AlreadyExists(m),
            ErrorKind::InvalidArgument => Error::InvalidArgument(m),
            ErrorKind::Busy => Error::Busy(m),
            ErrorKind::PermissionDenied => Error::PermissionDenied(m),
            ErrorKind::Denied => Error::Denied(m),
            ErrorKind::LimitReached => Error::LimitReached(m),
            ErrorKind::Kernel => Error::Kernel(KernelError {
                errno: e.errno.unwrap_or(0),
                message: m,
                operation: e.operation,
            }),
        }
    }
}

impl Host for LabView<'_> {
    fn convert_error(&mut self, err: Failure) -> wasmtime::Result<Error> {
        match err {
            Failure::Op(e) => Ok(e.into()),
            Failure::Trap(e) => Err(trap(e)),
        }
    }
}

/// What a [`Failure::Trap`] of the lab becomes for the engine: a limit the
/// guest hit stays a limit (reported by name), a fault the lab found in
/// the guest stays the guest's; anything else the lab raises as a trap is
/// netwasm's own failure, marked so that the run's report can tell it
/// from the guest's traps.
fn trap(e: anyhow::Error) -> wasmtime::Error {
    if e.is::<LimitHit>() || e.is::<GuestFault>() || e.is::<HostFailure>() {
        wasmtime::Error::from_anyhow(e)
    } else {
        wasmtime::Error::new(HostFailure(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_traps_are_the_hosts_unless_they_are_limits() {
        let e = trap(anyhow::anyhow!("the journal could not be written"));
        assert!(e.is::<HostFailure>());
        let hit = LimitHit {
            limit: "handles",
            value: "1".into(),
            detail: "x".into(),
        };
        let e = trap(hit.clone().into());
        assert!(!e.is::<HostFailure>());
        assert_eq!(e.downcast_ref::<LimitHit>(), Some(&hit));
        let e = trap(GuestFault("the guest kept calling".into()).into());
        assert!(!e.is::<HostFailure>());
        assert!(e.is::<GuestFault>());
    }
}
