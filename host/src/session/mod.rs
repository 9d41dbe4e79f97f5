//! A session: one run of a guest on a lab, as a transaction.
//!
//! It opens the lab (takes its lock, replaces or attaches to what earlier
//! runs left up, writes `begin`), runs the guest on a [`Lab`] that journals
//! every step, and closes the run: commit what the guest built, keep it
//! for debugging, or roll it back. Every caller that runs guests on labs
//! goes through here — `netwasm run` on the real kernel, `netwasm plan` on
//! the simulated one (a scratch session: an in-memory journal and no state
//! directory) — so a run is a transaction the same way in every mode.
//!
//! The session decides and reports; it prints nothing and knows no exit
//! codes. What it has to say on the way (a damaged journal, the old lab
//! replaced) goes to the [`Notices`] its caller gives it.

mod summary;

pub use self::summary::summarize;

use std::sync::Arc;

use crate::inspect::committed::Snapshot;
use crate::kernel::Kernel;
use crate::lab::Checked;
use crate::lab::Lab;
use crate::lab::audit::Audit;
use crate::ledger::replay::{Object, replay};
use crate::ledger::undo::{self, UndoReport};
use crate::ledger::{Ending, Entry, LabLock, Ledger, RunOutcome, StateDir};
use crate::policy::Policy;
use crate::runtime::stdio::GuestOutput;
use crate::runtime::{Guest, Outcome, Runtime};

/// What to do when the lab already holds objects of earlier runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Refuse: the lab is up.
    Fresh,
    /// Tear the old lab down first.
    Replace,
    /// Run on top of it: the guest may use and change what is there.
    Attach,
}

/// Where a session's notices go (the CLI prints them to stderr).
pub type Notices = Arc<dyn Fn(String) + Send + Sync>;

/// Why a session could not open. Nothing was changed, except by a
/// `Replace` that tore down part of the old lab.
#[derive(Debug)]
pub enum OpenError {
    /// The lab is up and the opening was `Fresh`: what it holds.
    LabUp(String),
    /// `Replace` could not tear the old lab down.
    ReplaceIncomplete,
    /// The state directory, the lock or the journal failed.
    Other(anyhow::Error),
}

impl From<anyhow::Error> for OpenError {
    fn from(e: anyhow::Error) -> Self {
        OpenError::Other(e)
    }
}

/// Where the session keeps its journal.
enum Store {
    /// The lab's journal under the state directory, locked until the
    /// session ends.
    Lab { state: StateDir, _lock: LabLock },
    /// In memory only: nothing outlives the run (`netwasm plan`).
    Scratch,
}

/// An open session: the lab locked, `begin` written.
pub struct Session {
    kernel: Arc<dyn Kernel>,
    policy: Arc<Policy>,
    lab: String,
    store: Store,
    ledger: Ledger,
    /// What earlier runs left up (empty unless attached).
    prior: Vec<Object>,
    notices: Notices,
    audit: Option<Audit>,
    /// Whether a commit records the lab as the kernel has it then (see
    /// `ledger::snapshot`).
    snapshot: bool,
}

/// How a run went, as the session closed it.
pub struct Closed {
    pub outcome: Outcome,
    /// Every expectation the run checked, in order.
    pub checked: Vec<Checked>,
    /// How many of them were not met (a successful guest with unmet
    /// expectations fails the run).
    pub unmet: usize,
    /// What became of what the run built; an error when the journal or
    /// the state directory failed while closing (the guest's outcome is
    /// still worth reporting first).
    pub end: anyhow::Result<End>,
    /// What the run's journal said it did, in order.
    pub entries: Vec<Entry>,
}

/// What became of what the run built.
pub enum End {
    /// The run succeeded: this is what the lab holds now (empty: nothing
    /// is left up, and the lab is gone).
    Committed(Vec<Object>),
    /// The run failed and `keep_on_error` kept what it built.
    Kept(Vec<Object>),
    /// The run failed and what it built was removed (complete or not).
    RolledBack(UndoReport),
}

/// What the guest is run with.
pub struct GuestRun<'a> {
    pub runtime: &'a Runtime,
    pub guest: &'a Guest,
    pub args: Vec<String>,
    pub output: &'a GuestOutput,
    /// Keep what a failed run built instead of rolling it back.
    pub keep_on_error: bool,
}

impl Session {
    /// Opens lab `lab` under `state`: locks it, handles what earlier runs
    /// left up as `opening` says, and writes `begin` for a run of `guest`
    /// with `args`.
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        kernel: Arc<dyn Kernel>,
        policy: Arc<Policy>,
        state: StateDir,
        lab: &str,
        opening: Opening,
        guest: String,
        args: &[String],
        notices: Notices,
    ) -> Result<Session, OpenError> {
        let mut lock = state.lock(lab)?;
        let journal = state.read(lab)?;
        if let Some(damage) = &journal.damage {
            notices(format!(
                "warning: lab {lab}: journal {}: {damage}",
                state.journal_path(lab).display()
            ));
        }
        let mut prior = replay(&journal.entries);
        if !prior.is_empty() {
            match opening {
                Opening::Fresh => return Err(OpenError::LabUp(summarize(&prior))),
                Opening::Attach => {}
                Opening::Replace => {
                    let report = undo::undo(kernel.as_ref(), &prior, false).await;
                    notices(format!("lab {lab}: replaced: {}", report.summary()));
                    if !report.is_complete() {
                        return Err(OpenError::ReplaceIncomplete);
                    }
                    state.remove(lab).map_err(anyhow::Error::from)?;
                    prior.clear();
                    // The lock file went with the lab's directory.
                    lock = state.lock(lab)?;
                }
            }
        }
        let ledger = state.ledger(lab, &lock)?;
        let session = Session {
            kernel,
            policy,
            lab: lab.to_string(),
            store: Store::Lab { state, _lock: lock },
            ledger,
            prior,
            notices,
            audit: None,
            snapshot: true,
        };
        // The snapshot is of the last commit; once this run begins, that
        // may not be what the lab holds (a failed run need not undo all
        // it changed), so it goes until this run commits.
        if let Store::Lab { state, .. } = &session.store {
            state.remove_snapshot(lab).map_err(|e| {
                OpenError::Other(anyhow::Error::new(e).context(format!(
                    "lab {lab}: cannot remove {}",
                    state.snapshot_path(lab).display()
                )))
            })?;
        }
        session.begin(guest, args)?;
        Ok(session)
    }

    /// A session whose journal lives in memory only and whose lab holds
    /// nothing yet: for a kernel that is itself a model (`netwasm plan`).
    pub fn scratch(
        kernel: Arc<dyn Kernel>,
        policy: Arc<Policy>,
        lab: &str,
        guest: String,
        args: &[String],
        notices: Notices,
    ) -> anyhow::Result<Session> {
        let session = Session {
            kernel,
            policy,
            lab: lab.to_string(),
            store: Store::Scratch,
            ledger: Ledger::in_memory(lab),
            prior: Vec::new(),
            notices,
            audit: None,
            snapshot: false,
        };
        session.begin(guest, args)?;
        Ok(session)
    }

    fn begin(&self, guest: String, args: &[String]) -> anyhow::Result<()> {
        self.ledger.set_cap(self.policy.quotas.journal);
        self.ledger.append(&Entry::Begin {
            pid: std::process::id(),
            guest,
            args: args.to_vec(),
            time: crate::time::unix_millis(),
            started: crate::kernel::process::proc_start(std::process::id())
                .ok()
                .map(|(start, _)| start),
        })
    }

    /// Records every host call of the run in `audit`.
    pub fn with_audit(mut self, audit: Audit) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Commits without recording a snapshot of the lab: for callers that
    /// never compare with one and count every millisecond (a CNI plugin's
    /// ADD, whose CHECK compares with the journal).
    pub fn without_snapshot(mut self) -> Self {
        self.snapshot = false;
        self
    }

    pub fn lab_name(&self) -> &str {
        &self.lab
    }

    /// Runs the guest and closes the run: commits, keeps or rolls back.
    /// `cancel` ends the guest early (a signal) with its name.
    pub async fn run(
        self,
        run: GuestRun<'_>,
        cancel: impl Future<Output = &'static str>,
    ) -> anyhow::Result<Closed> {
        let limits = self.policy.limits.clone();
        let keep = run.keep_on_error;
        self.run_with(keep, async |lab| {
            run.runtime
                .run(run.guest, lab, run.args, &limits, run.output, cancel)
                .await
        })
        .await
    }

    /// Runs `guest` on the session's lab and closes the run, as
    /// [`Session::run`] does for a lab script: the engine for any caller
    /// whose guest is another world (a CNI plugin's `add`), or that must
    /// prepare the lab first (hold the container namespace it serves).
    pub async fn run_with(
        mut self,
        keep_on_error: bool,
        guest: impl AsyncFnOnce(Lab) -> (Outcome, Lab),
    ) -> anyhow::Result<Closed> {
        let lab = self.lab_for_guest().await?;
        let (outcome, mut lab) = guest(lab).await;
        // A deadline or a signal drops the guest mid-call: a namespace it
        // was creating may still be on its way on a namespace thread. Let
        // it land (recorded) and stop the rest, so that what is undone
        // below is all there is.
        self.kernel.settle().await;
        // Expectations still pending when `run` returns are checked now;
        // any unmet one fails the run.
        let unmet = match outcome {
            Outcome::Success => lab.finish_expectations().await.len(),
            _ => 0,
        };
        let checked = lab.checked().to_vec();
        drop(lab);
        let failed = !matches!(outcome, Outcome::Success) || unmet > 0;
        let end = if failed {
            self.fail(keep_on_error).await
        } else {
            self.commit().await
        };
        Ok(Closed {
            outcome,
            checked,
            unmet,
            end,
            entries: self.ledger.this_run(),
        })
    }

    /// The lab the guest acts on: journaling into this session, holding
    /// what an attached run takes over.
    async fn lab_for_guest(&mut self) -> anyhow::Result<Lab> {
        let mut lab =
            Lab::new(self.kernel.clone(), self.policy.clone()).with_ledger(self.ledger.clone());
        if let Store::Lab { state, .. } = &self.store {
            lab = lab.with_program_logs(state.clone(), &self.lab);
        }
        for refused in lab.adopt(&self.prior).await? {
            (self.notices)(format!(
                "warning: lab {}: not attached, not the lab's to hand over: {refused}",
                self.lab
            ));
        }
        if let Some(audit) = self.audit.take() {
            lab = lab.with_audit(audit);
        }
        Ok(lab)
    }

    async fn commit(&self) -> anyhow::Result<End> {
        self.ledger.append(&Entry::End {
            outcome: RunOutcome::Committed,
        })?;
        // Replay is a fold from nothing, so when earlier runs left nothing
        // up, what is up is what this run's entries leave up: no need to
        // read the journal back.
        let all = match &self.store {
            Store::Lab { state, .. } if !self.prior.is_empty() => {
                replay(&state.read(&self.lab)?.entries)
            }
            _ => replay(&self.ledger.this_run()),
        };
        if all.is_empty() {
            self.remove_lab()?;
        } else {
            self.write_snapshot(&all).await;
        }
        Ok(End::Committed(all))
    }

    /// Records the lab as the kernel has it now, for `status` to compare
    /// with. The run is committed whatever becomes of this: a lab without
    /// a snapshot is compared with its journal alone, so a failure here is
    /// only a warning.
    async fn write_snapshot(&self, all: &[Object]) {
        let Store::Lab { state, _lock: lock } = &self.store else {
            return;
        };
        if !self.snapshot {
            return;
        }
        let view =
            crate::inspect::view::gather(self.kernel.as_ref(), &self.lab, all, None, None).await;
        let snap = Snapshot::of(&view, crate::time::unix_millis());
        if let Err(e) = state.write_snapshot(&self.lab, &snap.to_bytes(), lock) {
            (self.notices)(format!(
                "warning: lab {}: {e:#}; `netwasm status` will compare it with its journal only",
                self.lab
            ));
        }
    }

    async fn fail(&self, keep: bool) -> anyhow::Result<End> {
        let created = replay(&self.ledger.this_run());
        if keep {
            self.ledger.append(&Entry::End {
                outcome: RunOutcome::Kept,
            })?;
            return Ok(End::Kept(created));
        }
        let report = undo::undo(self.kernel.as_ref(), &created, false).await;
        // Only a complete rollback cancels the run's entries; otherwise
        // what is left stays recorded for `netwasm down` to retry.
        let outcome = if report.is_complete() {
            RunOutcome::RolledBack
        } else {
            RunOutcome::RollbackIncomplete
        };
        self.ledger.append(&Entry::End { outcome })?;
        let nothing_left = match &self.store {
            Store::Lab { state, .. } => replay(&state.read(&self.lab)?.entries).is_empty(),
            Store::Scratch => true,
        };
        if nothing_left && report.is_complete() {
            self.remove_lab()?;
        } else if report.is_complete()
            && let Store::Lab { state, .. } = &self.store
        {
            // Earlier runs keep the lab up: only this run's logs go.
            for e in self.ledger.this_run() {
                if let Entry::ProcessStart { cgroup, .. } = e {
                    state.remove_program_logs(&self.lab, &cgroup)?;
                }
            }
        }
        Ok(End::RolledBack(report))
    }

    fn remove_lab(&self) -> anyhow::Result<()> {
        match &self.store {
            Store::Lab { state, .. } => {
                if let Some(warning) = state.retire(&self.lab, Ending::NothingLeft)? {
                    (self.notices)(format!("warning: {warning}"));
                }
                Ok(())
            }
            Store::Scratch => Ok(()),
        }
    }
}
