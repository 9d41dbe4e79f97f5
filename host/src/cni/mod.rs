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
pub mod serve;

#[cfg(test)]
mod tests;

pub use error::{CniError, code};
pub use output::{AttachResult, Output};
pub use protocol::{Command, Config, Invocation};

/// The `netwasm-cni` executable: one CNI invocation, read from the process
/// (`CNI_*` variables, the configuration on stdin), answered on stdout.
pub fn main() -> std::process::ExitCode {
    use std::io::Write;
    let out = match Invocation::from_process() {
        Err(e) => {
            // Before the configuration could be read: answer in the version
            // it declares, if any.
            let version = output::error_version(&[]);
            output::error(&version, &e)
        }
        Ok(inv) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build();
            match rt {
                Ok(rt) => rt.block_on(serve::serve(inv)),
                Err(e) => output::error(
                    &inv.version.to_string(),
                    &CniError::io(format!("cannot start the async runtime: {e}")),
                ),
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&out.stdout).and_then(|()| stdout.flush());
    std::process::ExitCode::from(u8::try_from(out.exit_code).unwrap_or(1))
}
