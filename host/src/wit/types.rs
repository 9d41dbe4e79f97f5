//! `netwasm:lab/types`: the error variant.

use super::LabView;
use super::bindings::netwasm::lab::types::{Error, Host, KernelError};
use crate::error::{ErrorKind, Failure, OpError};

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
            Failure::Trap(e) => Err(wasmtime::Error::from_anyhow(e)),
        }
    }
}
