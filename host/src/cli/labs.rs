//! `netwasm down` and `status`: a lab's life after its run (`ls` is in
//! ls.rs).

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::ls::{StateJson, state_json};
use super::{DownArgs, Exit, LabArgs, fail};
use crate::inspect::committed::{self, Baseline};
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
    // Whatever the teardown leaves, it is not the lab as committed.
    state
        .remove_snapshot(name)
        .with_context(|| format!("lab {name}: cannot remove its snapshot"))?;
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
    /// `commit` (compared with the snapshot of the last commit as well as
    /// the journal), `journal` (the journal only) or `unusable` (a snapshot
    /// that could not be used; see `baseline_why`).
    baseline: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_why: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    committed_at: Option<String>,
    drift: &'a [String],
    carrier: &'a [String],
}

pub async fn status(args: StatusArgs) -> anyhow::Result<Exit> {
    let report = status_report(&args.lab).await?;
    let text = if args.json {
        report.json()?
    } else {
        report.text()
    };
    super::print_out(&text)?;
    Ok(report.exit())
}

/// What `netwasm status` found: built apart from its printing, for other
/// renderings of the same report.
#[derive(Debug)]
pub struct StatusReport {
    pub lab: String,
    /// The lab's state, as every command computes it.
    pub assessment: lab_state::Assessment,
    /// How many objects the journal records.
    pub objects: usize,
    /// What the kernel was compared with beside the journal.
    pub baseline: Baseline,
    /// One line per difference: exit 7.
    pub drift: Vec<String>,
    /// Operational state (carrier) changes since the commit: reported,
    /// not drift.
    pub carrier: Vec<String>,
    /// Why the journal could be read only in part: exit 7.
    pub damage: Option<String>,
}

impl StatusReport {
    pub fn exit(&self) -> Exit {
        if self.drift.is_empty() && self.damage.is_none() {
            Exit::Ok
        } else {
            Exit::Drift
        }
    }

    pub fn json(&self) -> anyhow::Result<String> {
        let (baseline, baseline_why, committed_at) = match &self.baseline {
            Baseline::Commit(s) => ("commit", None, Some(crate::time::rfc3339(s.taken_ms))),
            Baseline::JournalOnly => ("journal", None, None),
            Baseline::Unusable(why) => ("unusable", Some(why.as_str()), None),
        };
        let doc = StatusJson {
            schema: STATUS_SCHEMA,
            lab: &self.lab,
            state: state_json(&self.assessment),
            objects: self.objects,
            as_recorded: self.exit() == Exit::Ok,
            baseline,
            baseline_why,
            committed_at,
            drift: &self.drift,
            carrier: &self.carrier,
        };
        Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?))
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        outln!(
            out,
            "lab {}: {} ({})",
            self.lab,
            self.assessment.state,
            self.assessment.why
        );
        for d in &self.drift {
            outln!(out, "drift: {d}");
        }
        for c in &self.carrier {
            outln!(out, "carrier: {c}");
        }
        if let Some(damage) = &self.damage {
            outln!(out, "damaged journal: {damage}");
        }
        if let Baseline::Unusable(why) = &self.baseline {
            outln!(
                out,
                "snapshot not used: {why}; compared with the journal only"
            );
        }
        if self.exit() == Exit::Ok {
            let basis = match &self.baseline {
                Baseline::Commit(s) if self.carrier.is_empty() => format!(
                    "as at its last commit ({})",
                    crate::time::rfc3339(s.taken_ms)
                ),
                Baseline::Commit(s) => format!(
                    "as at its last commit ({}) but for the carrier above",
                    crate::time::rfc3339(s.taken_ms)
                ),
                _ => "all as recorded".to_string(),
            };
            outln!(out, "lab {}: {} objects, {basis}", self.lab, self.objects);
        }
        out
    }
}

async fn status_report(args: &LabArgs) -> anyhow::Result<StatusReport> {
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    let state = StateDir::new(&args.state.state_dir);
    let name = &args.name;
    if !state.exists(name) {
        return Err(no_such_lab(&state, name));
    }
    let assessment = lab_state::assess(&state, name);
    let journal = state.read(name)?;
    let objects = replay(&journal.entries);
    let baseline = Baseline::read(&state, name, &objects);
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    let changes = committed::drift(kernel.as_ref(), name, &objects, &baseline).await;
    Ok(StatusReport {
        lab: name.clone(),
        assessment,
        objects: objects.len(),
        baseline,
        drift: changes.drift,
        carrier: changes.carrier,
        damage: journal.damage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(drift: &[&str], carrier: &[&str]) -> StatusReport {
        StatusReport {
            lab: "t".into(),
            assessment: lab_state::assess_journal(
                "t",
                &crate::ledger::Journal::default(),
                lab_state::LockProbe::Free,
                |_| true,
            ),
            objects: 3,
            baseline: Baseline::Commit(crate::inspect::committed::Snapshot {
                schema: crate::inspect::committed::SCHEMA.into(),
                lab: "t".into(),
                taken_ms: 0,
                namespaces: Vec::new(),
            }),
            drift: drift.iter().map(|s| s.to_string()).collect(),
            carrier: carrier.iter().map(|s| s.to_string()).collect(),
            damage: None,
        }
    }

    #[test]
    fn carrier_alone_is_no_drift() {
        let r = report(&[], &["a/v0: oper UP → DOWN"]);
        assert_eq!(r.exit(), Exit::Ok);
        let text = r.text();
        let (state, rest) = text.split_once('\n').unwrap();
        assert!(state.starts_with("lab t: "), "{state}");
        assert_eq!(
            rest,
            "carrier: a/v0: oper UP → DOWN\nlab t: 3 objects, as at its last commit (1970-01-01T00:00:00.000Z) but for the carrier above\n"
        );
        let r = report(&["a/v0: mtu 1500 → 1400"], &[]);
        assert_eq!(r.exit(), Exit::Drift);
        assert_eq!(
            r.text().split_once('\n').unwrap().1,
            "drift: a/v0: mtu 1500 → 1400\n"
        );
    }
}
