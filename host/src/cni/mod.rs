//! netwasm as a CNI plugin (spec 1.1): the protocol front end.
//!
//! - [`protocol`]: the invocation (`CNI_*` variables, configuration on
//!   stdin) checked and parsed;
//! - [`output`]: results, VERSION's answer and errors as stdout bytes and an
//!   exit code, in the version asked;
//! - [`ipam`]: delegation to the IPAM plugin named by the configuration;
//! - [`error`]: the CNI error object and its codes.
//!
//! The spec's types come from `rscni-types`; the orchestration (running the
//! guest in the container's namespace) is built on top of this.

pub mod attachment;
pub mod error;
pub mod ipam;
pub mod output;
pub mod protocol;

#[cfg(test)]
mod tests;

pub use error::{CniError, code};
pub use output::{AttachResult, Output};
pub use protocol::{Command, Config, Invocation};
