//! `netwasm show`: a lab as it is in the kernel now.
//!
//! Reads the lab's ledger for the namespaces it holds, then asks the kernel
//! what is there ([`view::gather`]); changes nothing, and takes no lock, so
//! it works while a run is going on.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::{Exit, StateArgs, fail};
use crate::inspect::{show, view};
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::ledger::StateDir;
use crate::ledger::replay;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    netwasm show mylab\n  \
    netwasm show mylab --json | jq '.namespaces[].links[] | select(.kind == \"macvlan\") | .parent'")]
pub struct ShowArgs {
    /// The lab's name, or a topology file (*.yaml, *.yml, a path) naming it.
    #[arg(value_name = "NAME", value_parser = super::up::lab_name_or_file)]
    pub name: String,
    /// Print JSON for scripts instead of tables: schema "netwasm.show/1",
    /// every field documented in docs/show-json.md.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

/// Reads the lab's ledger and the kernel (for `show` and `graph`).
pub(super) async fn lab_view(name: &str, state: &StateArgs) -> anyhow::Result<view::LabView> {
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    let dir = StateDir::new(&state.state_dir);
    if !dir.exists(name) {
        return Err(fail(
            Exit::BadInput,
            format!("lab {name}: no such lab in {}", state.state_dir.display()),
        ));
    }
    let journal = dir
        .read(name)
        .with_context(|| format!("lab {name}: cannot read its journal"))?;
    let objects = replay::replay(&journal.entries);
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    Ok(view::gather(kernel.as_ref(), name, &objects, journal.damage, Some(&dir)).await)
}

/// `netwasm show`.
pub async fn show(args: ShowArgs) -> anyhow::Result<Exit> {
    let v = lab_view(&args.name, &args.state).await?;
    let out = if args.json {
        show::json(&v)
    } else {
        show::table(&v)
    };
    super::print_out(&out)?;
    Ok(Exit::Ok)
}
