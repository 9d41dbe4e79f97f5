//! `netwasm run --json`: how a run went, for scripts (schema
//! netwasm.run/1, docs/json.md). The guest's output and netwasm's
//! messages go to stderr; standard output holds this one object.

use serde::Serialize;

use super::run::verdict;
use super::{Exit, RunArgs, print_out};
use crate::lab::Checked;
use crate::ledger::lab_state::{self, Counts};
use crate::ledger::replay::replay;
use crate::ledger::{Entry, StateDir};
use crate::session::{Closed, End, summarize};

/// Says how the run ended, as `run` does, then prints the JSON; the run's
/// exit code.
pub fn report(
    lab_name: &str,
    args: &RunArgs,
    builtin: Option<&super::run::Builtin<'_>>,
    closed: Closed,
) -> anyhow::Result<Exit> {
    // What the run made, whether it stays or was rolled back since.
    let made: Vec<_> = closed
        .entries
        .iter()
        .filter(|e| !matches!(e, Entry::End { .. }))
        .cloned()
        .collect();
    let made = replay(&made);
    let checked = closed.checked.clone();
    let failure = verdict(&closed);
    let (outcome, rollback) = match &closed.end {
        Ok(End::Committed(_)) => ("committed", None),
        Ok(End::Kept(_)) => ("kept", None),
        Ok(End::RolledBack(undo)) => ("rolled-back", Some(undo.summary())),
        Err(_) => ("failed-to-close", None),
    };
    let exit = super::run::report(lab_name, closed, &args.state.state_dir)?;
    let state = StateDir::new(&args.state.state_dir);
    let after = state
        .exists(lab_name)
        .then(|| lab_state::assess(&state, lab_name));
    let doc = RunJson {
        schema: SCHEMA,
        lab: lab_name,
        // A built-in guest as the journal names it (`up`: the guest and the
        // file, not the file's text).
        guest: builtin.map_or_else(|| args.guest.display().to_string(), |b| b.shown.to_string()),
        args: builtin.map_or(&args.args, |b| b.recorded_args),
        outcome,
        error: failure.as_ref().map(|(_, why)| why.as_str()),
        exit: exit as u8,
        made: Counts::of(&made),
        objects_made: made.iter().map(|o| o.describe()).collect(),
        rollback,
        expectations: checked.iter().map(expectation_json).collect(),
        lab_state: after.as_ref().map_or("gone", |a| a.state.as_str()),
        lab_counts: after.as_ref().map(|a| a.counts),
        summary: after.as_ref().map(|a| summarize(&a.objects)),
    };
    print_out(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
    Ok(exit)
}

/// The schema of `netwasm run --json` (docs/json.md).
const SCHEMA: &str = "netwasm.run/1";

#[derive(Serialize)]
struct RunJson<'a> {
    schema: &'static str,
    lab: &'a str,
    guest: String,
    args: &'a [String],
    outcome: &'static str,
    error: Option<&'a str>,
    exit: u8,
    made: Counts,
    objects_made: Vec<String>,
    rollback: Option<String>,
    expectations: Vec<ExpectationJson>,
    lab_state: &'static str,
    lab_counts: Option<Counts>,
    summary: Option<String>,
}

/// One expectation as the run checked it.
#[derive(Serialize)]
struct ExpectationJson {
    from: String,
    to: String,
    label: String,
    expected: &'static str,
    observed: &'static str,
    met: bool,
    detail: String,
}

fn expectation_json(c: &Checked) -> ExpectationJson {
    let e = &c.expectation;
    let word = |reachable: bool| {
        if reachable {
            "reachable"
        } else {
            "unreachable"
        }
    };
    ExpectationJson {
        from: e.from.clone(),
        to: e.to.to_string(),
        label: e.label.clone(),
        expected: word(e.reachable),
        observed: if c.failed { "failed" } else { word(c.actual) },
        met: c.met(),
        detail: c.detail.clone(),
    }
}
