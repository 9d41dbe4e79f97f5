//! What is kept of a lab that is gone: when and how it ended, so that
//! `show` and `down` can tell a lab that was torn down from a name that
//! never was one.
//!
//! A lab's directory goes with its last object, so the record lives beside
//! the labs, in `ended/NAME` (one small JSON object, mode 0600, opened and
//! checked as journals are). A new journal under the same name removes it.
//! The state directory is usually on tmpfs, so records last until reboot;
//! each is a few hundred bytes.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::state::{NO_FOLLOW, check_dir, check_file, ensure_dir, open_error};
use super::{Entry, StateDir};

/// No record netwasm writes is larger (the guest's arguments are cut).
const MAX_TOMBSTONE: u64 = 64 << 10;

/// The most of the creating run's arguments a record keeps.
const MAX_ARGS_KEPT: usize = 4 << 10;

/// How a lab came to hold nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// `netwasm down` removed everything.
    TornDown,
    /// Its last run ended with nothing left up: it succeeded having built
    /// nothing that stays, or it failed and was rolled back.
    NothingLeft,
}

impl Ending {
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::TornDown => "torn-down",
            Ending::NothingLeft => "nothing-left",
        }
    }
}

/// The record of a lab that ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tombstone {
    pub lab: String,
    pub how: Ending,
    /// When it ended, in milliseconds since the Unix epoch.
    pub ended: u64,
    /// When its first run began, if the journal said.
    #[serde(default)]
    pub created: Option<u64>,
    /// The guest and arguments of that run (arguments cut to a few KiB).
    #[serde(default)]
    pub guest: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
}

impl StateDir {
    fn tombstone_path(&self, lab: &str) -> PathBuf {
        self.root().join("ended").join(lab)
    }

    /// Removes lab `lab`'s directory (the caller holds its lock and has
    /// undone everything) and records that it ended, and how. The record
    /// is best effort: failing to write it is reported, never a failure
    /// of the teardown it records.
    pub fn retire(&self, lab: &str, how: Ending) -> io::Result<Option<String>> {
        let first = self.read(lab).ok().and_then(|j| {
            j.entries.into_iter().find_map(|e| match e {
                Entry::Begin {
                    guest, args, time, ..
                } => Some((guest, args, time)),
                _ => None,
            })
        });
        self.remove(lab)?;
        let (guest, args, created) = match first {
            Some((g, a, t)) => (Some(g), keep_args(a), Some(t)),
            None => (None, Vec::new(), None),
        };
        let record = Tombstone {
            lab: lab.to_string(),
            how,
            ended: crate::time::unix_millis(),
            created,
            guest,
            args,
        };
        Ok(self
            .write_tombstone(&record)
            .err()
            .map(|e| format!("lab {lab}: could not record that it ended: {e:#}")))
    }

    fn write_tombstone(&self, record: &Tombstone) -> anyhow::Result<()> {
        let dir = self.root().join("ended");
        ensure_dir(&dir, "state directory")?;
        let path = self.tombstone_path(&record.lab);
        // Written new and renamed over: opening the old one to truncate it
        // would empty whatever a planted hard link names before the check
        // could refuse it; and a reader sees a whole record or none.
        // `~` is in no lab's name: the temporary is never taken for a record.
        let tmp = dir.join(format!("{}~tmp{}", record.lab, std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let written = (|| -> anyhow::Result<()> {
            let mut file = OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .custom_flags(NO_FOLLOW)
                .open(&tmp)
                .map_err(|e| open_error(e, &tmp, &format!("lab {}: record", record.lab)))?;
            check_file(&file, &tmp)?;
            let mut json = serde_json::to_vec(record)?;
            json.push(b'\n');
            file.write_all(&json)?;
            std::fs::rename(&tmp, &path)?;
            Ok(())
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        // A run of the same name that began meanwhile has a journal: the
        // record is not true of it.
        if self.exists(&record.lab) {
            let _ = std::fs::remove_file(&path);
        }
        prune(&dir);
        Ok(())
    }

    /// The record of lab `lab`'s end, if it ended and no journal of that
    /// name began since. A record that is not one netwasm wrote (too big,
    /// not its JSON, another lab's name) reads as none.
    pub fn tombstone(&self, lab: &str) -> Option<Tombstone> {
        if !self.check_existing(None).ok()? {
            return None;
        }
        let dir = self.root().join("ended");
        check_dir(&dir, "state directory").ok()?;
        let path = self.tombstone_path(lab);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(NO_FOLLOW)
            .open(&path)
            .ok()?;
        if check_file(&file, &path).ok()? > MAX_TOMBSTONE {
            return None;
        }
        let mut bytes = Vec::new();
        file.take(MAX_TOMBSTONE).read_to_end(&mut bytes).ok()?;
        let record: Tombstone = serde_json::from_slice(&bytes).ok()?;
        (record.lab == lab).then_some(record)
    }

    /// Forgets lab `lab`'s end: a new journal of that name begins.
    pub(super) fn forget_tombstone(&self, lab: &str) {
        let _ = std::fs::remove_file(self.tombstone_path(lab));
    }
}

/// The most records kept: labs come and go by the thousand where netwasm
/// serves as a CNI plugin (a failed ADD ends a lab), and the oldest record
/// is the least likely to be asked about.
const MAX_TOMBSTONES: usize = 1024;

/// Removes the oldest records of `dir` beyond [`MAX_TOMBSTONES`]; best
/// effort. Only names a lab could have are touched.
fn prune(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut records: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| super::check_lab_name(n).is_ok())
        })
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((meta.modified().ok()?, e.path()))
        })
        .collect();
    if records.len() <= MAX_TOMBSTONES {
        return;
    }
    records.sort();
    let extra = records.len() - MAX_TOMBSTONES;
    for (_, path) in records.into_iter().take(extra) {
        let _ = std::fs::remove_file(path);
    }
}

/// `args`, cut to about [`MAX_ARGS_KEPT`] bytes in all.
fn keep_args(args: Vec<String>) -> Vec<String> {
    let mut left = MAX_ARGS_KEPT;
    let mut kept = Vec::new();
    for a in args {
        if a.len() > left {
            kept.push(crate::vocab::text::clip(&a, left));
            break;
        }
        left -= a.len();
        kept.push(a);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_lab_leaves_a_record_a_new_journal_removes() {
        let root = std::env::temp_dir().join(format!(
            "netwasm-tomb-{}-{}",
            std::process::id(),
            crate::time::unix_millis()
        ));
        let state = StateDir::new(&root);
        {
            let lock = state.lock("t").unwrap();
            let ledger = state.ledger("t", &lock).unwrap();
            ledger
                .append(&Entry::Begin {
                    pid: 1,
                    guest: "g.wasm".into(),
                    args: vec!["up".into(), "x".repeat(MAX_ARGS_KEPT * 2)],
                    time: 42,
                    started: None,
                })
                .unwrap();
        }
        assert_eq!(state.tombstone("t"), None);
        assert_eq!(state.retire("t", Ending::TornDown).unwrap(), None);
        assert!(!state.exists("t"));
        let record = state.tombstone("t").unwrap();
        assert_eq!(record.how, Ending::TornDown);
        assert_eq!(record.created, Some(42));
        assert_eq!(record.guest.as_deref(), Some("g.wasm"));
        assert!(record.args.concat().len() < MAX_ARGS_KEPT + 100);
        assert_eq!(state.tombstone("other"), None);
        // A record naming another lab is not this one's.
        std::fs::write(
            state.tombstone_path("u"),
            serde_json::to_vec(&record).unwrap(),
        )
        .unwrap();
        assert_eq!(state.tombstone("u"), None);
        {
            let lock = state.lock("t").unwrap();
            state.ledger("t", &lock).unwrap();
        }
        assert_eq!(state.tombstone("t"), None);
        let _ = std::fs::remove_dir_all(&root);
    }
}
