//! `netwasm exec`: the operator runs a command in one of a lab's
//! namespaces, by the lab's name for it (as `containerlab exec` does).
//!
//! The command runs as netwasm's caller (root), with its stdio and
//! environment, in that namespace only: no policy, no journal. The
//! namespace is entered by the descriptor netwasm opened and checked, so
//! a name remounted meanwhile cannot send the command elsewhere.

use std::sync::Arc;

use clap::Args;

use super::{Exit, StateArgs, fail};
use crate::inspect::view::held_namespaces;
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::kernel::process;
use crate::ledger::StateDir;
use crate::ledger::replay::replay;
use crate::vocab::ROOT_NS;
use crate::vocab::process::ExitStatus;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    netwasm exec mylab mylab-ns1 -- ip addr\n  \
    netwasm exec mylab mylab-ns1 -- ping -c1 172.16.10.1\n\n\
    Exits with the command's status (128+N when signal N ended it), 127 when the \
    command was not found, 126 when it could not be run, 2 for a lab or namespace \
    that is not there.")]
pub struct ExecArgs {
    /// The lab's name, or a topology file (*.yaml, *.yml, a path) naming it.
    #[arg(value_name = "LAB", value_parser = super::up::lab_name_or_file)]
    pub lab: String,
    /// The namespace, as the lab names it (see `netwasm show LAB`).
    #[arg(value_name = "NAMESPACE")]
    pub namespace: String,
    /// The command and its arguments, after `--`.
    #[arg(value_name = "CMD", last = true, required = true)]
    pub command: Vec<String>,
    #[command(flatten)]
    pub state: StateArgs,
}

pub async fn exec(args: ExecArgs) -> anyhow::Result<Exit> {
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    let (lab, ns) = (&args.lab, &args.namespace);
    let dir = StateDir::new(&args.state.state_dir);
    if !dir.exists(lab) {
        return Err(super::labs::no_such_lab(&dir, lab));
    }
    let objects = replay(&dir.read(lab)?.entries);
    if ns == ROOT_NS {
        return Err(fail(
            Exit::BadInput,
            format!("namespace {ns}: the root namespace; run the command directly"),
        ));
    }
    if !held_namespaces(&objects).iter().any(|(n, _)| n == ns) {
        return Err(fail(
            Exit::BadInput,
            format!(
                "namespace {ns:?}: lab {lab} holds no such namespace (see `netwasm show {lab}`)"
            ),
        ));
    }
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    let recorded = objects
        .iter()
        .find(|o| o.ns() == ns)
        .and_then(|o| o.ns_id());
    let opened = if kernel.ns_exists(ns) {
        kernel.ns_open(ns).await.ok()
    } else {
        None
    };
    let Some((id, now)) = opened else {
        return Err(fail(
            Exit::BadInput,
            format!("namespace {ns:?}: lab {lab} records it, but it is gone"),
        ));
    };
    if let Some(r) = recorded
        && !now.same(&r)
    {
        return Err(fail(
            Exit::BadInput,
            format!("namespace {ns:?}: the name now denotes another namespace, not lab {lab}'s"),
        ));
    }
    let fd = kernel.ns_fd(id)?;
    let status = match process::exec_as_operator(fd, &args.command).await {
        Ok(s) => s,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            eprintln!("netwasm: error: {:?}: {e}", args.command[0]);
            std::process::exit(code);
        }
    };
    // The command's status is netwasm's: none of netwasm's own codes.
    std::process::exit(match status {
        ExitStatus::Exited(c) => c.into(),
        ExitStatus::Signaled(s) => 128 + i32::from(s),
    });
}
