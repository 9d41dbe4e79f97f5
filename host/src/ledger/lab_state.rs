//! A lab's state, one word computed the same way for every command (`ls`,
//! `status`, `show`, `run`'s refusals) from three witnesses: the journal
//! (what runs did and how each ended), the lock (whether a netwasm process
//! is at work on the lab now) and the kernel (whether the namespaces the
//! lab made are still the ones it made). docs/lab-states.md lists them.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use serde::Serialize;

use super::replay::{Object, replay};
use super::{Entry, Journal, RunOutcome, StateDir};
use crate::vocab::LinkKind;

/// The states, in the order they are decided: the first that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabState {
    /// A netwasm process holds the lab's lock: a run, an attach or a
    /// teardown is under way.
    Running,
    /// The journal could not be read past some line.
    Damaged,
    /// A run began and never ended, and no process holds the lab: it was
    /// killed (SIGKILL, the OOM killer) or crashed. What it recorded is
    /// still there for `netwasm down`.
    Interrupted,
    /// A rollback left objects behind (recorded for `netwasm down`).
    Incomplete,
    /// The ledger holds nothing (a lab directory without objects).
    Empty,
    /// A namespace the lab made is gone from the kernel or is another
    /// namespace now (`netwasm status` says more).
    Degraded,
    /// The last run failed and `--keep-on-error` kept what it built.
    Kept,
    /// What the committed runs built is there: the last run committed, or
    /// failed and was rolled back on top of a lab that stays up.
    Up,
    /// The lab's ledger could not be read (permissions, most often).
    Unknown,
}

impl LabState {
    pub fn as_str(self) -> &'static str {
        match self {
            LabState::Running => "running",
            LabState::Damaged => "damaged",
            LabState::Interrupted => "interrupted",
            LabState::Incomplete => "incomplete",
            LabState::Empty => "empty",
            LabState::Degraded => "degraded",
            LabState::Kept => "kept",
            LabState::Up => "up",
            LabState::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for LabState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether some process holds a lab's lock, found without taking it: a
/// probe that took the lock, even for an instant, could make a run that
/// starts at that instant fail as busy, and would need write access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockProbe {
    Free,
    /// Held by process `pid` (as `/proc/locks` names it: 0 when the holder
    /// is in another PID namespace).
    Held {
        pid: u32,
    },
    /// Could not be told, and why.
    Unknown(String),
}

/// What the ledger says objects are, counted as `ip` would count them: a
/// veth pair is two links.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub namespaces: usize,
    pub links: usize,
    pub addresses: usize,
    pub routes: usize,
    pub programs: usize,
}

impl Counts {
    pub fn of(objects: &[Object]) -> Self {
        let mut c = Counts::default();
        for o in objects {
            match o {
                Object::Ns { .. } => c.namespaces += 1,
                Object::Link {
                    kind: LinkKind::Veth,
                    peer: Some(_),
                    ..
                } => c.links += 2,
                Object::Link { .. } => c.links += 1,
                Object::Addr { .. } => c.addresses += 1,
                Object::Route { .. } => c.routes += 1,
                Object::Process { .. } => c.programs += 1,
            }
        }
        c
    }
}

/// One run as its `begin` entry recorded it, and how it ended (none: it
/// did not, or has not yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub guest: String,
    pub args: Vec<String>,
    /// Milliseconds since the Unix epoch.
    pub began: u64,
    pub pid: u32,
    /// The process's start time, where the journal records it.
    #[serde(skip)]
    pub started: Option<u64>,
    pub outcome: Option<RunOutcome>,
}

/// A lab's state and what it was decided from.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub lab: String,
    pub state: LabState,
    /// One line saying why, for people.
    pub why: String,
    pub counts: Counts,
    /// The run that created the lab (the journal's first) and the last.
    pub first_run: Option<RunRecord>,
    pub last_run: Option<RunRecord>,
    pub lock: LockProbe,
    /// Namespaces the lab made that the kernel no longer has as made.
    pub missing_namespaces: Vec<String>,
    pub damage: Option<String>,
    /// What replay of the journal gives (empty when it could not be read).
    pub objects: Vec<Object>,
}

/// Assesses lab `lab` under `state`. Never fails: what cannot be read
/// makes the state `unknown`, with the reason.
pub fn assess(state: &StateDir, lab: &str) -> Assessment {
    assess_with(state, lab, &read_locks())
}

/// Assesses every lab of `labs`, reading the kernel's list of locks once.
pub fn assess_all(state: &StateDir, labs: &[String]) -> Vec<Assessment> {
    let locks = read_locks();
    labs.iter()
        .map(|lab| assess_with(state, lab, &locks))
        .collect()
}

fn assess_with(state: &StateDir, lab: &str, locks: &Locks) -> Assessment {
    let lock = probe_lock_in(state, lab, locks);
    match state.read(lab) {
        Ok(journal) => assess_journal(lab, &journal, lock, namespace_present),
        Err(e) => Assessment {
            lab: lab.to_string(),
            // The lock says so even when the journal is not ours to read.
            state: match lock {
                LockProbe::Held { .. } => LabState::Running,
                _ => LabState::Unknown,
            },
            why: format!("its ledger cannot be read: {}", chain(&e)),
            counts: Counts::default(),
            first_run: None,
            last_run: None,
            lock,
            missing_namespaces: Vec::new(),
            damage: None,
            objects: Vec::new(),
        },
    }
}

fn chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

/// The decision itself, on a journal already read; `present` says whether
/// a namespace the lab made is still there as made.
pub fn assess_journal(
    lab: &str,
    journal: &Journal,
    lock: LockProbe,
    present: impl Fn(&Object) -> bool,
) -> Assessment {
    let objects = replay(&journal.entries);
    let runs = runs(&journal.entries);
    let first_run = runs.first().cloned();
    let last_run = runs.last().cloned();
    let missing_namespaces: Vec<String> = objects
        .iter()
        .filter(|o| matches!(o, Object::Ns { .. }) && !present(o))
        .map(|o| o.ns().to_string())
        .collect();
    let counts = Counts::of(&objects);
    let unended = last_run.as_ref().filter(|r| r.outcome.is_none());
    let (state, why) = match (&lock, unended) {
        (LockProbe::Held { pid }, _) => (
            LabState::Running,
            match pid {
                0 => "a netwasm process holds its lock".to_string(),
                pid => format!("netwasm process {pid} holds its lock"),
            },
        ),
        // Without a view of the lock, the run's own process says; and
        // where `/proc/locks` could name the file otherwise than `stat`
        // does (a lock on an overlay file is the real file's), a live
        // process that began the run outweighs a lock not found.
        (LockProbe::Unknown(_) | LockProbe::Free, Some(run))
            if netwasm_alive(run.pid, run.started) =>
        {
            (
                LabState::Running,
                format!("its run by process {} is under way", run.pid),
            )
        }
        _ if journal.damage.is_some() => (
            LabState::Damaged,
            format!(
                "its journal is damaged: {}",
                journal.damage.as_deref().unwrap_or_default()
            ),
        ),
        (_, Some(run)) => (
            LabState::Interrupted,
            format!(
                "the run begun at {} by process {} never ended (killed or crashed); `netwasm down {lab}` removes what it recorded",
                crate::time::rfc3339(run.began),
                run.pid
            ),
        ),
        _ if last_run.as_ref().and_then(|r| r.outcome) == Some(RunOutcome::RollbackIncomplete) => (
            LabState::Incomplete,
            format!("a rollback left objects behind; `netwasm down {lab}` retries"),
        ),
        _ if objects.is_empty() => (LabState::Empty, "its ledger holds nothing".to_string()),
        _ if !missing_namespaces.is_empty() => (
            LabState::Degraded,
            match missing_namespaces.as_slice() {
                [one] => format!("namespace {one} is gone or replaced"),
                many => format!("namespaces {} are gone or replaced", many.join(", ")),
            },
        ),
        _ if last_run.as_ref().and_then(|r| r.outcome) == Some(RunOutcome::Kept) => (
            LabState::Kept,
            "its last run failed; --keep-on-error kept what it built".to_string(),
        ),
        _ => (
            LabState::Up,
            match last_run.as_ref().and_then(|r| r.outcome) {
                Some(RunOutcome::RolledBack) => {
                    "its last run failed and was rolled back; what earlier runs built is up"
                        .to_string()
                }
                _ => "its last run committed".to_string(),
            },
        ),
    };
    Assessment {
        lab: lab.to_string(),
        state,
        why,
        counts,
        first_run,
        last_run,
        lock,
        missing_namespaces,
        damage: journal.damage.clone(),
        objects,
    }
}

/// Every run of the journal, in order.
fn runs(entries: &[Entry]) -> Vec<RunRecord> {
    let mut runs: Vec<RunRecord> = Vec::new();
    for e in entries {
        match e {
            Entry::Begin {
                pid,
                guest,
                args,
                time,
                started,
            } => runs.push(RunRecord {
                guest: guest.clone(),
                args: args.clone(),
                began: *time,
                pid: *pid,
                started: *started,
                outcome: None,
            }),
            Entry::End { outcome } => {
                if let Some(run) = runs.last_mut() {
                    run.outcome = Some(*outcome);
                }
            }
            _ => {}
        }
    }
    runs
}

/// Whether the namespace `o` (an `Object::Ns`) is still there as made:
/// its name under `/run/netns` is the namespace of the recorded identity.
/// Device and inode alone do not say so (a namespace deleted and made
/// again often gets its inode number back), so the namespace's 64-bit id
/// is compared too, as `status` and `down` do; opening the name needs no
/// privilege, and where it cannot be opened `stat` says what it can.
fn namespace_present(o: &Object) -> bool {
    let path = crate::kernel::netns::ns_path(o.ns());
    let Some(recorded) = o.ns_id() else {
        return path.exists();
    };
    let now = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
        .and_then(|f| crate::kernel::netns::ident(&f.into(), None));
    match now {
        Ok(now) => recorded.same(&now),
        Err(_) => std::fs::metadata(&path)
            .is_ok_and(|meta| recorded.dev == meta.dev() && recorded.ino == meta.ino()),
    }
}

/// Whether the run's process — `pid`, started at `started` where the
/// journal says — is alive and is netwasm. A pid alone may have been
/// reused since, even by another netwasm.
fn netwasm_alive(pid: u32, started: Option<u64>) -> bool {
    if let Some(start) = started
        && !crate::kernel::process::alive(pid, start)
    {
        return false;
    }
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim_end() == "netwasm")
}

/// The most labs, and the largest journal, searched for the holder of a
/// namespace: other labs' journals are input this run did not write, and
/// a clash's message is not worth reading without end.
const MAX_LABS_SEARCHED: usize = 1024;
const MAX_JOURNAL_SEARCHED: u64 = 16 << 20;

impl StateDir {
    /// The lab other than `me` whose ledger holds namespace `ns` (one it
    /// created), if one does. Names come out checked: a lab name is one
    /// `labs` lists, and a journal that names a namespace badly is read
    /// only up to there.
    pub fn lab_holding_namespace(&self, ns: &str, me: &str) -> Option<String> {
        self.labs()
            .ok()?
            .into_iter()
            .filter(|lab| lab != me)
            .take(MAX_LABS_SEARCHED)
            .find(|lab| {
                let small = std::fs::symlink_metadata(self.journal_path(lab))
                    .is_ok_and(|m| m.len() <= MAX_JOURNAL_SEARCHED);
                small
                    && self.read(lab).is_ok_and(|j| {
                        replay(&j.entries)
                            .iter()
                            .any(|o| matches!(o, Object::Ns { ns: n, .. } if n == ns))
                    })
            })
    }
}

/// The most of `/proc/locks` read: a machine with more locks than this
/// says "cannot tell" rather than have `ls` read without end.
const MAX_PROC_LOCKS: u64 = 8 << 20;

/// Whether some process holds lab `lab`'s lock, from `/proc/locks` (the
/// kernel's list of every lock, readable by anyone).
pub fn probe_lock(state: &StateDir, lab: &str) -> LockProbe {
    probe_lock_in(state, lab, &read_locks())
}

/// The text of `/proc/locks`, or why it could not be read.
type Locks = Result<String, String>;

fn read_locks() -> Locks {
    let mut text = String::new();
    std::fs::File::open("/proc/locks")
        .and_then(|f| f.take(MAX_PROC_LOCKS + 1).read_to_string(&mut text))
        .map_err(|e| format!("/proc/locks: {e}"))?;
    // Cut short, a lock past the cut would read as free.
    if text.len() as u64 > MAX_PROC_LOCKS {
        return Err(format!("/proc/locks: over {MAX_PROC_LOCKS} bytes"));
    }
    Ok(text)
}

fn probe_lock_in(state: &StateDir, lab: &str, locks: &Locks) -> LockProbe {
    let path = state.lab_dir(lab).join("lock");
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        // Nobody can lock a file that is not there.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return LockProbe::Free,
        Err(e) => return LockProbe::Unknown(format!("{}: {e}", path.display())),
    };
    let text = match locks {
        Ok(text) => text,
        Err(why) => return LockProbe::Unknown(why.clone()),
    };
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    match flock_holder(text, major, minor, meta.ino()) {
        Some(pid) => LockProbe::Held { pid },
        None => LockProbe::Free,
    }
}

/// The holder of a granted `flock` on inode `ino` of device
/// `major:minor`, from the text of `/proc/locks`:
/// `1: FLOCK  ADVISORY  WRITE 1234 fe:00:8323116 0 EOF`. Lines of
/// waiters (`1: -> FLOCK ...`) hold nothing.
fn flock_holder(text: &str, major: u32, minor: u32, ino: u64) -> Option<u32> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(1) != Some(&"FLOCK") {
            return None;
        }
        let mut id = f.get(5)?.split(':');
        let ma = u32::from_str_radix(id.next()?, 16).ok()?;
        let mi = u32::from_str_radix(id.next()?, 16).ok()?;
        let i: u64 = id.next()?.parse().ok()?;
        (ma == major && mi == minor && i == ino).then(|| f[4].parse().unwrap_or(0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::NsIdent;

    fn begin(time: u64) -> Entry {
        Entry::Begin {
            pid: 4_000_000,
            guest: "g.wasm".into(),
            args: vec!["up".into()],
            time,
            started: None,
        }
    }

    fn end(outcome: RunOutcome) -> Entry {
        Entry::End { outcome }
    }

    fn ns(name: &str) -> Entry {
        Entry::NsCreate {
            ns: name.into(),
            id: Some(NsIdent {
                dev: 1,
                ino: 2,
                id: 3,
            }),
        }
    }

    fn veth() -> Entry {
        Entry::LinkAdd {
            ns: "a".into(),
            name: "v0".into(),
            index: Some(2),
            kind: LinkKind::Veth,
            mode: None,
            parent: None,
            parent_ns: None,
            peer: Some("v1".into()),
            peer_ns: Some("b".into()),
            peer_index: Some(3),
            vxlan: None,
        }
    }

    fn state_of(entries: Vec<Entry>, lock: LockProbe) -> Assessment {
        let journal = Journal {
            entries,
            damage: None,
        };
        assess_journal("t", &journal, lock, |_| true)
    }

    #[test]
    fn a_failed_attach_leaves_the_lab_up() {
        let a = state_of(
            vec![
                begin(1),
                ns("a"),
                ns("b"),
                veth(),
                end(RunOutcome::Committed),
                begin(2),
                ns("c"),
                Entry::NsDelete { ns: "c".into() },
                end(RunOutcome::RolledBack),
            ],
            LockProbe::Free,
        );
        assert_eq!(a.state, LabState::Up, "{}", a.why);
        assert!(a.why.contains("rolled back"), "{}", a.why);
        assert_eq!(a.first_run.unwrap().began, 1);
        assert_eq!(a.last_run.unwrap().outcome, Some(RunOutcome::RolledBack));
    }

    #[test]
    fn a_veth_pair_counts_as_two_links() {
        let a = state_of(
            vec![
                begin(1),
                ns("a"),
                ns("b"),
                veth(),
                end(RunOutcome::Committed),
            ],
            LockProbe::Free,
        );
        assert_eq!(a.counts.links, 2);
        assert_eq!(a.counts.namespaces, 2);
    }

    #[test]
    fn an_unended_run_is_running_only_while_someone_holds_the_lock() {
        let entries = vec![begin(1), ns("a")];
        assert_eq!(
            state_of(entries.clone(), LockProbe::Held { pid: 7 }).state,
            LabState::Running
        );
        assert_eq!(
            state_of(entries.clone(), LockProbe::Free).state,
            LabState::Interrupted
        );
        // No view of the lock: the recorded process (long gone) decides.
        assert_eq!(
            state_of(entries, LockProbe::Unknown("denied".into())).state,
            LabState::Interrupted
        );
        // An ended run is no run under way, lock or not.
        assert_eq!(
            state_of(
                vec![begin(1), ns("a"), end(RunOutcome::Committed)],
                LockProbe::Unknown("denied".into())
            )
            .state,
            LabState::Up
        );
    }

    #[test]
    fn kept_incomplete_and_degraded() {
        let kept = state_of(
            vec![begin(1), ns("a"), end(RunOutcome::Kept)],
            LockProbe::Free,
        );
        assert_eq!(kept.state, LabState::Kept);
        let incomplete = state_of(
            vec![begin(1), ns("a"), end(RunOutcome::RollbackIncomplete)],
            LockProbe::Free,
        );
        assert_eq!(incomplete.state, LabState::Incomplete);
        let journal = Journal {
            entries: vec![begin(1), ns("a"), ns("b"), end(RunOutcome::Committed)],
            damage: None,
        };
        let degraded = assess_journal("t", &journal, LockProbe::Free, |o| o.ns() != "b");
        assert_eq!(degraded.state, LabState::Degraded);
        assert_eq!(degraded.missing_namespaces, vec!["b".to_string()]);
    }

    #[test]
    fn proc_locks_lines() {
        let text = "1: FLOCK  ADVISORY  WRITE 10117 fe:00:8323116 0 EOF\n\
                    1: -> FLOCK  ADVISORY  WRITE 222 fe:00:99 0 EOF\n\
                    2: POSIX  ADVISORY  WRITE 333 fe:00:77 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 444 103:0a:77 0 EOF\n";
        assert_eq!(flock_holder(text, 0xfe, 0, 8323116), Some(10117));
        assert_eq!(flock_holder(text, 0xfe, 0, 99), None);
        assert_eq!(flock_holder(text, 0xfe, 0, 77), None);
        assert_eq!(flock_holder(text, 0x103, 0x0a, 77), Some(444));
    }
}
