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
pub fn main() -> ! {
    use std::io::{Read, Write};
    let mut stdin = Vec::new();
    let read = std::io::stdin().read_to_end(&mut stdin);
    let env = std::env::vars().collect();
    let parsed = match read {
        Ok(_) => Invocation::parse(env, &stdin),
        Err(e) => Err(CniError::io(format!("network configuration: stdin: {e}"))),
    };
    let out = match parsed {
        Err(e) => {
            // The invocation is wrong: answer in the version the
            // configuration declares, if it got that far.
            let version = output::error_version(&stdin);
            output::error(&version, &e)
        }
        Ok(inv) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match rt {
                // The runtime is not dropped: see the end of this function.
                Ok(rt) => std::mem::ManuallyDrop::new(rt).block_on(serve::serve(inv)),
                Err(e) => output::error(
                    &inv.version.to_string(),
                    &CniError::io(format!("cannot start the async runtime: {e}")),
                ),
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&out.stdout).and_then(|()| stdout.flush());
    // Answered, and everything recorded is written: the runtime waits for
    // this process, so it ends now rather than after winding down its
    // thread pools (namespace threads, async workers) one by one.
    std::process::exit(out.exit_code)
}
