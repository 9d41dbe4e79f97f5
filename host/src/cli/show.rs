//! `netwasm show`: a lab as it is in the kernel now.
//!
//! Reads the lab's ledger for the namespaces it holds, then asks the kernel
//! what is there ([`view::gather`]); changes nothing, and takes no lock, so
//! it works while a run is going on.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::labs::ended_line;
use super::{Exit, StateArgs};
use crate::inspect::{show, view};
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::ledger::StateDir;
use crate::ledger::lab_state;
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
        return Err(super::labs::no_such_lab(&dir, name));
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
    // A lab that ended is no error to look at: it is shown as ended.
    let dir = StateDir::new(&args.state.state_dir);
    if !dir.exists(&args.name)
        && let Some(t) = dir.tombstone(&args.name)
    {
        let out = if args.json {
            ended_json(&args.name, &t)?
        } else {
            format!(
                "lab {}: {}; nothing of it is left\n",
                args.name,
                ended_line(&t)
            )
        };
        super::print_out(&out)?;
        return Ok(Exit::Ok);
    }
    let v = lab_view(&args.name, &args.state).await?;
    // The lab's state, as `ls` and `status` tell it.
    let a = lab_state::assess(&dir, &args.name);
    let out = if args.json {
        serde_json::to_string_pretty(&WithState {
            view: &v,
            state: a.state.as_str(),
            state_why: &a.why,
            ended: None,
        })? + "\n"
    } else {
        let table = show::table(&v);
        let (first, rest) = table.split_once('\n').unwrap_or((&table, ""));
        format!("{first}\nstate: {} ({})\n{rest}", a.state, a.why)
    };
    super::print_out(&out)?;
    Ok(Exit::Ok)
}

/// `show --json`: the view, then the lab's state (docs/show-json.md).
#[derive(serde::Serialize)]
struct WithState<'a> {
    #[serde(flatten)]
    view: &'a view::LabView,
    state: &'static str,
    state_why: &'a str,
    /// Always null here: a lab that ended has no view (see `ended_json`).
    ended: Option<()>,
}

/// `show --json` of a lab that ended: schema netwasm.show/1 with no
/// namespaces, and `ended` saying when and how (docs/show-json.md).
fn ended_json(name: &str, t: &crate::ledger::Tombstone) -> anyhow::Result<String> {
    let v = serde_json::json!({
        "schema": "netwasm.show/1",
        "lab": name,
        "journal_damage": null,
        "ended": {
            "how": t.how.as_str(),
            "time": crate::time::rfc3339(t.ended),
        },
        "namespaces": [],
    });
    Ok(serde_json::to_string_pretty(&v)? + "\n")
}
