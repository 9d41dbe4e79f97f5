//! `netwasm down`, `ls` and `status`: a lab's life after its run.

use std::sync::Arc;

use anyhow::Context;

use super::{DownArgs, Exit, LabArgs, StateArgs, fail};
use crate::inspect::committed::{self, Baseline};
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::ledger::RunOutcome;
use crate::ledger::StateDir;
use crate::ledger::replay::{Object, replay};
use crate::ledger::undo;

pub async fn down(args: DownArgs) -> anyhow::Result<Exit> {
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    let state = StateDir::new(&args.lab.state.state_dir);
    let name = &args.lab.name;
    if !state.exists(name) {
        eprintln!("netwasm: lab {name}: nothing recorded, nothing left to undo");
        return Ok(Exit::Ok);
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
    state.remove(name)?;
    Ok(Exit::Ok)
}

pub fn ls(args: StateArgs) -> anyhow::Result<Exit> {
    let mut out = String::new();
    let exit = ls_into(args, &mut out);
    super::print_out(&out)?;
    exit
}

fn ls_into(args: StateArgs, out: &mut String) -> anyhow::Result<Exit> {
    let state = StateDir::new(&args.state_dir);
    let labs = state.labs()?;
    if labs.is_empty() {
        eprintln!("netwasm: no labs in {}", args.state_dir.display());
        return Ok(Exit::Ok);
    }
    outln!(
        out,
        "{:<24} {:<12} {:>5} {:>6} {:>6} {:>7}",
        "LAB",
        "STATE",
        "NS",
        "LINKS",
        "ADDRS",
        "ROUTES"
    );
    for name in labs {
        let journal = state.read(&name)?;
        let objects = replay(&journal.entries);
        let count = |f: fn(&Object) -> bool| objects.iter().filter(|o| f(o)).count();
        let busy = state.lock(&name).is_err();
        let last_end = journal.entries.iter().rev().find_map(|e| match e {
            crate::ledger::Entry::End { outcome } => Some(Some(*outcome)),
            crate::ledger::Entry::Begin { .. } => Some(None),
            _ => None,
        });
        let st = if busy {
            "running".to_string()
        } else if journal.damage.is_some() {
            "damaged".to_string()
        } else {
            match last_end {
                Some(Some(RunOutcome::Committed)) => "up".into(),
                Some(Some(outcome)) => outcome.to_string(),
                // A run began and never ended: the process died.
                Some(None) => "interrupted".into(),
                None => "unknown".into(),
            }
        };
        outln!(
            out,
            "{:<24} {:<12} {:>5} {:>6} {:>6} {:>7}",
            name,
            st,
            count(|o| matches!(o, Object::Ns { .. })),
            count(|o| matches!(o, Object::Link { .. })),
            count(|o| matches!(o, Object::Addr { .. })),
            count(|o| matches!(o, Object::Route { .. })),
        );
    }
    Ok(Exit::Ok)
}

pub async fn status(args: LabArgs) -> anyhow::Result<Exit> {
    let report = status_report(&args).await?;
    super::print_out(&report.text())?;
    Ok(report.exit())
}

/// What `netwasm status` found: built apart from its printing, for other
/// renderings of the same report.
#[derive(Debug)]
pub struct StatusReport {
    pub lab: String,
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

    pub fn text(&self) -> String {
        let mut out = String::new();
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
        return Err(fail(
            Exit::BadInput,
            format!(
                "lab {name}: no such lab in {}",
                args.state.state_dir.display()
            ),
        ));
    }
    let journal = state.read(name)?;
    let objects = replay(&journal.entries);
    let baseline = Baseline::read(&state, name, &objects);
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    let changes = committed::drift(kernel.as_ref(), name, &objects, &baseline).await;
    Ok(StatusReport {
        lab: name.clone(),
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
        assert_eq!(
            r.text(),
            "carrier: a/v0: oper UP → DOWN\nlab t: 3 objects, as at its last commit (1970-01-01T00:00:00.000Z) but for the carrier above\n"
        );
        let r = report(&["a/v0: mtu 1500 → 1400"], &[]);
        assert_eq!(r.exit(), Exit::Drift);
        assert_eq!(r.text(), "drift: a/v0: mtu 1500 → 1400\n");
    }
}
