//! `netwasm down` and `status`: a lab's life after its run (`ls` is in
//! ls.rs).

use std::sync::Arc;

use clap::Args;
use serde::Serialize;

use super::ls::{StateJson, state_json};
use super::{DownArgs, Exit, LabArgs, fail};
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::ledger::lab_state;
use crate::ledger::replay::replay;
use crate::ledger::undo;
use crate::ledger::{Ending, StateDir, Tombstone};
use crate::time::rfc3339;

/// The schema of `netwasm status --json` (docs/json.md).
const STATUS_SCHEMA: &str = "netwasm.status/1";

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Print the state and the drift as JSON (schema netwasm.status/1,
    /// docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// "torn down at T" / "its last run left nothing up at T".
pub fn ended_line(t: &Tombstone) -> String {
    match t.how {
        Ending::TornDown => format!("torn down at {}", rfc3339(t.ended)),
        Ending::NothingLeft => format!("its last run left nothing up at {}", rfc3339(t.ended)),
    }
}

/// The error for a lab with no journal: one that ended says when, one
/// never recorded says so. Both exit 2.
pub fn no_such_lab(state: &StateDir, name: &str) -> anyhow::Error {
    match state.tombstone(name) {
        Some(t) => fail(
            Exit::BadInput,
            format!(
                "lab {name}: {}; nothing of it is recorded now",
                ended_line(&t)
            ),
        ),
        None => fail(
            Exit::BadInput,
            format!(
                "lab {name}: no such lab in {} (`netwasm ls` lists them)",
                state.root().display()
            ),
        ),
    }
}

pub async fn down(args: DownArgs) -> anyhow::Result<Exit> {
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    let state = StateDir::new(&args.lab.state.state_dir);
    let name = &args.lab.name;
    if !state.exists(name) {
        if let Some(t) = state.tombstone(name) {
            eprintln!(
                "netwasm: lab {name}: {}; nothing left to undo",
                ended_line(&t)
            );
            return Ok(Exit::Ok);
        }
        if args.missing_ok {
            eprintln!("netwasm: lab {name}: nothing recorded, nothing left to undo");
            return Ok(Exit::Ok);
        }
        return Err(fail(
            Exit::BadInput,
            format!(
                "lab {name}: no such lab in {} (`netwasm ls` lists them; --missing-ok makes this no error)",
                state.root().display()
            ),
        ));
    }
    let _lock = state.lock(name)?;
    let journal = state.read(name)?;
    let objects = replay(&journal.entries);
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    let report = undo::undo(kernel.as_ref(), &objects, args.force).await;
    eprintln!("netwasm: lab {name}: {}", report.summary());
    if let Some(damage) = &journal.damage {
        eprintln!(
            "netwasm: lab {name}: the journal is damaged: {damage}; objects recorded there could not be undone"
        );
        return Ok(Exit::Incomplete);
    }
    if !report.is_complete() {
        return Ok(Exit::Incomplete);
    }
    if let Some(warning) = state.retire(name, Ending::TornDown)? {
        eprintln!("netwasm: warning: {warning}");
    }
    Ok(Exit::Ok)
}

#[derive(Serialize)]
struct StatusJson<'a> {
    schema: &'static str,
    lab: &'a str,
    #[serde(flatten)]
    state: StateJson<'a>,
    objects: usize,
    as_recorded: bool,
    drift: &'a [String],
}

pub async fn status(args: StatusArgs) -> anyhow::Result<Exit> {
    let mut out = String::new();
    let exit = status_into(args, &mut out).await;
    super::print_out(&out)?;
    exit
}

async fn status_into(args: StatusArgs, out: &mut String) -> anyhow::Result<Exit> {
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    let state = StateDir::new(&args.lab.state.state_dir);
    let name = &args.lab.name;
    if !state.exists(name) {
        return Err(no_such_lab(&state, name));
    }
    let assessment = lab_state::assess(&state, name);
    let journal = state.read(name)?;
    let objects = replay(&journal.entries);
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    let drift = crate::ledger::drift::check(kernel.as_ref(), &objects).await;
    let clean = drift.is_empty() && journal.damage.is_none();
    if args.json {
        let doc = StatusJson {
            schema: STATUS_SCHEMA,
            lab: name,
            state: state_json(&assessment),
            objects: objects.len(),
            as_recorded: clean,
            drift: &drift,
        };
        outln!(out, "{}", serde_json::to_string_pretty(&doc)?);
    } else {
        outln!(out, "lab {name}: {} ({})", assessment.state, assessment.why);
        for d in &drift {
            outln!(out, "drift: {d}");
        }
        if let Some(damage) = &journal.damage {
            outln!(out, "damaged journal: {damage}");
        }
        if clean {
            outln!(
                out,
                "lab {name}: {} objects, all as recorded",
                objects.len()
            );
        }
    }
    Ok(if clean { Exit::Ok } else { Exit::Drift })
}
