//! The lab ledger: a durable journal of everything a lab created, and the
//! one authority on what tearing the lab down must undo.
//!
//! Layout under the state directory (default `/run/netwasm`):
//!
//! ```text
//! labs/NAME/journal   append-only, one entry per line (format below)
//! labs/NAME/lock      held (flock) by the process running or tearing down NAME
//! labs/NAME/snapshot  the lab as the kernel had it at its last commit (`inspect::committed`)
//! ```
//!
//! Journal format, version 1: each line is `CRC JSON\n`, where JSON is one
//! [`Entry`] object and CRC its CRC-32 (IEEE) in 8 lowercase hex digits. The
//! first entry is always `{"op":"header","version":1,...}`. An entry is
//! written before the guest hears that the operation succeeded, so after a
//! crash the journal lists at least everything that exists. Creations and
//! moves are written *before* the kernel acts (write-ahead), followed by an
//! `abort` entry if the kernel refuses; deletions after. A line with a bad
//! checksum or cut short ends the readable part: what came before it is
//! still used, and the damage is reported.
//!
//! Durability: an entry is durable once `write(2)` returns, not `fsync(2)`.
//! Everything a journal records (namespaces, links, addresses, routes, and
//! the `/run/netns` mounts that name namespaces) lives in the running
//! kernel's memory. The failures the ledger exists for are this process
//! dying (a crash, SIGKILL, the OOM killer): the written bytes are then in
//! the page cache, and every later reader (`netwasm down`) sees them. The
//! failures an fsync adds protection against, a kernel crash or a power
//! loss, destroy every recorded object along with the page cache, so after
//! them there is nothing left to undo — on tmpfs (the usual `/run`) an
//! fsync does nothing at all. An fsync costs milliseconds where the state
//! directory is on a disk (1.8 ms measured here, a fifth of a CNI ADD),
//! more than the kernel operation it records, so journals are never synced:
//! after a power loss a journal on disk may read back cut short, which the
//! reader reports as damage while every object it named is gone anyway.

pub mod drift;
mod entry;
pub mod lab_state;
pub mod replay;
mod state;
#[cfg(test)]
mod tests_sim;
mod tombstone;
pub mod undo;

pub use self::entry::{Entry, JOURNAL_VERSION, LinkSetting, RunOutcome, VxlanRecord};
pub use self::state::{LabBusy, LabLock, StateDir, UnsafeStateDir, check_lab_name};
pub use self::tombstone::{Ending, Tombstone};

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::Context;

/// No netwasm writes a journal larger than the largest `[quotas] journal`
/// plus what deletions and run ends add after it; a bigger file is not one
/// of ours and is not read into memory.
pub const MAX_JOURNAL_READ: u64 = 2 << 30;

fn encode(entry: &Entry) -> String {
    let json = serde_json::to_string(entry).expect("journal entries always serialize");
    format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes()))
}

/// What a journal says, as far as it could be read.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    pub entries: Vec<Entry>,
    /// Why reading stopped early, if it did (corrupt or cut-short line).
    pub damage: Option<String>,
}

/// The journal has reached its size cap (`[quotas] journal`): nothing more
/// may be created in the run, since nothing more could be recorded.
#[derive(Debug, Clone, Copy)]
pub struct JournalFull {
    pub size: u64,
    pub cap: u64,
}

/// Appends entries to one lab's journal. Cheap to clone: the clones share
/// one file and one record of what this process wrote, so that the tasks
/// of a batch can each journal what they make as they make it.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Mutex<Writer>>,
    lab: Arc<str>,
}

struct Writer {
    /// None for a journal kept in memory only ([`Ledger::in_memory`]).
    file: Option<File>,
    /// What this process appended, for rolling back its own run.
    written: Vec<Entry>,
    /// The journal's size in bytes, as far as this process knows.
    size: u64,
    /// See [`JournalFull`].
    cap: u64,
}

/// The default `[quotas] journal`.
pub const DEFAULT_JOURNAL_CAP: u64 = 16 << 20;

pub(crate) fn parse_journal(bytes: &[u8]) -> Journal {
    let mut journal = Journal::default();
    let mut rest = bytes;
    let mut line_no = 0;
    while !rest.is_empty() {
        line_no += 1;
        let Some(end) = rest.iter().position(|b| *b == b'\n') else {
            journal.damage = Some(format!(
                "line {line_no} is cut short ({} bytes without an end); it and anything after it were not read",
                rest.len()
            ));
            break;
        };
        let line = &rest[..end];
        rest = &rest[end + 1..];
        match parse_line(line) {
            Ok(entry) => journal.entries.push(entry),
            Err(why) => {
                journal.damage = Some(format!(
                    "line {line_no} {why}; it and the {} bytes after it were not read",
                    rest.len()
                ));
                break;
            }
        }
    }
    journal
}

fn parse_line(line: &[u8]) -> Result<Entry, String> {
    let text = std::str::from_utf8(line).map_err(|_| "is not UTF-8".to_string())?;
    let (crc, json) = text
        .split_once(' ')
        .ok_or_else(|| "has no checksum".to_string())?;
    let crc = u32::from_str_radix(crc, 16).map_err(|_| "has no checksum".to_string())?;
    if crc32fast::hash(json.as_bytes()) != crc {
        return Err("fails its checksum".into());
    }
    let entry: Entry =
        serde_json::from_str(json).map_err(|e| format!("is not a journal entry ({e})"))?;
    entry.validate()?;
    Ok(entry)
}

impl Ledger {
    fn new(file: File, lab: &str, size: u64) -> Self {
        Self::with_file(Some(file), lab, size)
    }

    /// A journal kept in memory only, for a run on a kernel that is itself
    /// a model (`netwasm plan`): it records and caps like any other, and
    /// nothing of it outlives the process.
    pub fn in_memory(lab: &str) -> Self {
        Self::with_file(None, lab, 0)
    }

    fn with_file(file: Option<File>, lab: &str, size: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Writer {
                file,
                written: Vec::new(),
                size,
                cap: DEFAULT_JOURNAL_CAP,
            })),
            lab: lab.into(),
        }
    }

    pub fn lab(&self) -> &str {
        &self.lab
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the journal's size cap (`[quotas] journal`).
    pub fn set_cap(&self, cap: u64) {
        self.writer().cap = cap;
    }

    /// Whether `more` bytes of creations still fit under the cap. Only what
    /// creates is refused: deletions, aborts and a run's end are always
    /// written (they are bounded by what was created), so a full journal
    /// can still be undone and closed.
    pub fn room(&self, more: u64) -> Result<(), JournalFull> {
        let w = self.writer();
        if w.size.saturating_add(more) > w.cap {
            return Err(JournalFull {
                size: w.size,
                cap: w.cap,
            });
        }
        Ok(())
    }

    /// Appends one entry. It is durable when this returns: see "Durability"
    /// in the module documentation for why that needs no fsync.
    pub fn append(&self, entry: &Entry) -> anyhow::Result<()> {
        self.append_all(std::slice::from_ref(entry))
    }

    /// Appends several entries in one write(2). Durable as `append` is.
    pub fn append_all(&self, entries: &[Entry]) -> anyhow::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let text: String = entries.iter().map(encode).collect();
        let mut w = self.writer();
        // One write(2) of the whole text (the file is O_APPEND).
        if let Some(file) = &mut w.file {
            file.write_all(text.as_bytes())
                .with_context(|| format!("lab {}: cannot write its journal", self.lab))?;
        }
        w.size += text.len() as u64;
        w.written.extend_from_slice(entries);
        Ok(())
    }

    /// The entries this process appended since its last `Begin`: what its
    /// run changed.
    pub fn this_run(&self) -> Vec<Entry> {
        let w = self.writer();
        let start = w
            .written
            .iter()
            .rposition(|e| matches!(e, Entry::Begin { .. }))
            .map_or(0, |i| i + 1);
        w.written[start..].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::NsIdent;

    fn sample() -> Vec<Entry> {
        vec![
            Entry::Header {
                version: 2,
                lab: "t".into(),
            },
            Entry::NsCreate {
                ns: "a".into(),
                id: Some(NsIdent {
                    dev: 4,
                    ino: 4026532177,
                    id: 9,
                }),
            },
            Entry::AddrAdd {
                ns: "a".into(),
                link: "eth0".into(),
                index: Some(1 << 24),
                cidr: "10.0.0.1/24".into(),
            },
        ]
    }

    #[test]
    fn round_trip() {
        let text: String = sample().iter().map(encode).collect();
        let j = parse_journal(text.as_bytes());
        assert_eq!(j.entries, sample());
        assert!(j.damage.is_none());
    }

    #[test]
    fn version_1_entries_read_without_identities() {
        let json = r#"{"op":"ns-create","ns":"a"}"#;
        let line = format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes()));
        let j = parse_journal(line.as_bytes());
        assert_eq!(
            j.entries,
            vec![Entry::NsCreate {
                ns: "a".into(),
                id: None
            }]
        );
    }

    #[test]
    fn truncated_tail_keeps_the_intact_part() {
        let text: String = sample().iter().map(encode).collect();
        let cut = &text.as_bytes()[..text.len() - 7];
        let j = parse_journal(cut);
        assert_eq!(j.entries, sample()[..2].to_vec());
        assert!(
            j.damage
                .as_deref()
                .unwrap()
                .starts_with("line 3 is cut short"),
            "{:?}",
            j.damage
        );
    }

    #[test]
    fn corrupt_line_stops_reading() {
        let mut text: String = sample().iter().map(encode).collect();
        text = text.replacen("\"a\"", "\"b\"", 1);
        let j = parse_journal(text.as_bytes());
        assert_eq!(j.entries.len(), 1);
        assert!(j.damage.unwrap().contains("line 2 fails its checksum"));
    }

    #[test]
    fn names_no_guest_could_use_end_the_readable_part() {
        // A well-formed line, checksum and all, that names what only a
        // forger would: it is refused as the guest path refuses it.
        for (bad, why) in [
            (r#"{"op":"ns-create","ns":"../../proc/1/ns/net"}"#, "'/'"),
            (r#"{"op":"ns-delete","ns":".."}"#, "not a file name"),
            (
                r#"{"op":"link-add","ns":"a","name":"x/y","kind":"veth"}"#,
                "link name",
            ),
            (r#"{"op":"ns-create","ns":"/"}"#, "root namespace"),
            (
                r#"{"op":"addr-add","ns":"a","link":"e","cidr":"nonsense"}"#,
                "address",
            ),
        ] {
            let mut text: String = sample().iter().map(encode).collect();
            text += &format!("{:08x} {bad}\n", crc32fast::hash(bad.as_bytes()));
            let j = parse_journal(text.as_bytes());
            assert_eq!(j.entries, sample(), "{bad}");
            let damage = j.damage.unwrap();
            assert!(damage.starts_with("line 4 "), "{damage}");
            assert!(damage.contains(why), "{bad}: {damage}");
        }
    }

    #[test]
    fn lab_names() {
        assert!(check_lab_name("seed-macvlan").is_ok());
        assert!(check_lab_name("../x").is_err());
        assert!(check_lab_name("").is_err());
    }
}
