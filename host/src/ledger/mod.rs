//! The lab ledger: a durable journal of everything a lab created, and the
//! one authority on what tearing the lab down must undo.
//!
//! Layout under the state directory (default `/run/netwasm`):
//!
//! ```text
//! labs/NAME/journal   append-only, one entry per line (format below)
//! labs/NAME/lock      held (flock) by the process running or tearing down NAME
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
//! fsync does nothing at all. Syncing each entry costs milliseconds where
//! the state directory is on a disk, more than the kernel operation it
//! records, so entries are only written; [`Ledger::sync`] flushes a journal
//! that outlives its run, so that after a power loss it reads back whole
//! rather than cut short.

pub mod drift;
pub mod undo;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub const JOURNAL_VERSION: u32 = 1;

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Entry {
    /// First entry of every journal.
    Header {
        version: u32,
        lab: String,
    },
    /// A run started.
    Begin {
        pid: u32,
        guest: String,
        args: Vec<String>,
        /// Milliseconds since the Unix epoch.
        time: u64,
    },
    /// The entry before this one did not happen: the kernel refused it.
    /// (Creations are journaled before the kernel acts; see `Lab`.)
    Abort,
    /// A run ended: `committed` (the lab is up), `kept` (failed, kept by
    /// `--keep-on-error`), or `rolled-back`.
    End {
        outcome: String,
    },
    NsCreate {
        ns: String,
    },
    NsDelete {
        ns: String,
    },
    LinkAdd {
        ns: String,
        name: String,
        kind: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_ns: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer_ns: Option<String>,
    },
    LinkMove {
        from_ns: String,
        name: String,
        to_ns: String,
        new_name: String,
    },
    /// A property change worth checking for drift: `up`, `down`,
    /// `mtu=N`, `mac=M`, `master=BR`, `nomaster`, `hairpin=on|off`.
    LinkSet {
        ns: String,
        name: String,
        change: String,
    },
    LinkDelete {
        ns: String,
        name: String,
    },
    AddrAdd {
        ns: String,
        link: String,
        cidr: String,
    },
    AddrDelete {
        ns: String,
        link: String,
        cidr: String,
    },
    RouteAdd {
        ns: String,
        destination: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dev: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metric: Option<u32>,
    },
    RouteDelete {
        ns: String,
        destination: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dev: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metric: Option<u32>,
    },
}

fn encode(entry: &Entry) -> String {
    let json = serde_json::to_string(entry).expect("journal entries always serialize");
    format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes()))
}

/// The state directory holding every lab's ledger.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// Exclusive hold on a lab, released when dropped.
pub struct LabLock {
    _file: File,
}

/// What a journal says, as far as it could be read.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    pub entries: Vec<Entry>,
    /// Why reading stopped early, if it did (corrupt or cut-short line).
    pub damage: Option<String>,
}

/// Appends entries to one lab's journal.
pub struct Ledger {
    file: File,
    lab: String,
    /// What this process appended, for rolling back its own run.
    written: Vec<Entry>,
}

pub fn check_lab_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        anyhow::bail!("lab name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.'");
    }
    Ok(())
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lab_dir(&self, lab: &str) -> PathBuf {
        self.root.join("labs").join(lab)
    }

    pub fn journal_path(&self, lab: &str) -> PathBuf {
        self.lab_dir(lab).join("journal")
    }

    /// The labs that have a journal, sorted.
    pub fn labs(&self) -> io::Result<Vec<String>> {
        let dir = self.root.join("labs");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e?;
            if e.path().join("journal").exists()
                && let Some(n) = e.file_name().to_str()
            {
                out.push(n.to_string());
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn exists(&self, lab: &str) -> bool {
        self.journal_path(lab).exists()
    }

    /// Takes the lab's lock without waiting.
    pub fn lock(&self, lab: &str) -> anyhow::Result<LabLock> {
        let dir = self.lab_dir(lab);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("state directory {}: cannot create", dir.display()))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("lab {lab}: cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(LabLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                anyhow::bail!("lab {lab} is in use by another netwasm process")
            }
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("lab {lab}: cannot lock {}", path.display()))
            }
        }
    }

    /// Reads the lab's journal; a missing journal reads as empty.
    pub fn read(&self, lab: &str) -> io::Result<Journal> {
        let path = self.journal_path(lab);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Journal::default()),
            Err(e) => return Err(e),
        };
        Ok(parse_journal(&bytes))
    }

    /// Opens the lab's journal for appending, writing its header if new.
    /// The caller must hold the lab's lock.
    pub fn ledger(&self, lab: &str, _lock: &LabLock) -> anyhow::Result<Ledger> {
        let path = self.journal_path(lab);
        let fresh = !path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("lab {lab}: cannot open journal {}", path.display()))?;
        let mut ledger = Ledger {
            file,
            lab: lab.to_string(),
            written: Vec::new(),
        };
        if fresh {
            // No directory fsync: see "Durability" above.
            ledger.append(&Entry::Header {
                version: JOURNAL_VERSION,
                lab: lab.to_string(),
            })?;
        }
        Ok(ledger)
    }

    /// Removes the lab's journal and directory (after a complete teardown).
    pub fn remove(&self, lab: &str) -> io::Result<()> {
        match std::fs::remove_dir_all(self.lab_dir(lab)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn parse_journal(bytes: &[u8]) -> Journal {
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
    serde_json::from_str(json).map_err(|e| format!("is not a journal entry ({e})"))
}

impl Ledger {
    pub fn lab(&self) -> &str {
        &self.lab
    }

    /// Appends one entry. It is durable when this returns: see "Durability"
    /// in the module documentation for why that needs no fsync.
    pub fn append(&mut self, entry: &Entry) -> anyhow::Result<()> {
        // One write(2) of the whole line (the file is O_APPEND).
        self.file
            .write_all(encode(entry).as_bytes())
            .with_context(|| format!("lab {}: cannot write its journal", self.lab))?;
        self.written.push(entry.clone());
        Ok(())
    }

    /// Appends several entries in one write(2): what a batch journals
    /// before it starts, or after it succeeded. Durable as `append` is.
    pub fn append_all(&mut self, entries: &[Entry]) -> anyhow::Result<()> {
        let text: String = entries.iter().map(encode).collect();
        self.file
            .write_all(text.as_bytes())
            .with_context(|| format!("lab {}: cannot write its journal", self.lab))?;
        self.written.extend_from_slice(entries);
        Ok(())
    }

    /// Flushes the journal to stable storage, for a journal that outlives
    /// its run (a lab left up or kept), so that after a power loss it reads
    /// back whole instead of cut short.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        self.file
            .sync_data()
            .with_context(|| format!("lab {}: cannot write its journal", self.lab))
    }

    /// The entries this process appended since its last `Begin`: what its
    /// run changed.
    pub fn this_run(&self) -> &[Entry] {
        let start = self
            .written
            .iter()
            .rposition(|e| matches!(e, Entry::Begin { .. }))
            .map_or(0, |i| i + 1);
        &self.written[start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Entry> {
        vec![
            Entry::Header {
                version: 1,
                lab: "t".into(),
            },
            Entry::NsCreate { ns: "a".into() },
            Entry::AddrAdd {
                ns: "a".into(),
                link: "eth0".into(),
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
    fn lab_names() {
        assert!(check_lab_name("seed-macvlan").is_ok());
        assert!(check_lab_name("../x").is_err());
        assert!(check_lab_name("").is_err());
    }
}
