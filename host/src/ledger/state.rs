//! The state directory: where journals and locks live, and the checks that
//! make it safe to trust them.
//!
//! A journal tells `netwasm down` what to delete, unmount and unlink, so
//! whoever can write the state directory can steer a root process. netwasm
//! therefore keeps journals only in directories that no one but their owner
//! (root, or the user running netwasm) can write, refuses any other with a
//! one-line error naming it and the fix, creates its own directories 0700,
//! and opens journals and locks without following symbolic links.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Entry, JOURNAL_VERSION, Journal, Ledger, MAX_JOURNAL_READ, parse_journal};
use crate::vocab::process::{LogStream, log_name};

/// The state directory holding every lab's ledger.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// Exclusive hold on a lab, released when dropped.
pub struct LabLock {
    _file: File,
}

/// A state directory (or a directory or file in it) that netwasm does not
/// trust, and why. Its own type so that the command exits as for bad input.
#[derive(Debug)]
pub struct UnsafeStateDir(pub String);

impl std::fmt::Display for UnsafeStateDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnsafeStateDir {}

/// Another netwasm process holds the lab.
#[derive(Debug)]
pub struct LabBusy(pub String);

impl std::fmt::Display for LabBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LabBusy {}

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
    // `down x.yaml` reads a topology file: a lab of that name could not be
    // named on the command line.
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        anyhow::bail!(
            "lab name {name:?}: may not end in .yaml or .yml (those name topology files)"
        );
    }
    Ok(())
}

/// Flags for opening anything in the state directory: never through a
/// symbolic link, and never a FIFO or device that could block us.
pub(super) const NO_FOLLOW: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Checks that `path` is a real directory (not a symbolic link) that only
/// its owner can write, and that the owner is root or the user running
/// netwasm. `what` names it in the error.
pub(super) fn check_dir(path: &Path, what: &str) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("{what} {}: cannot read", path.display()))?;
    check_dir_meta(&meta, path, what)
}

/// `check_dir` on what is already read of `path` (by `lstat`, or `fstat`
/// of a descriptor opened `O_NOFOLLOW`).
fn check_dir_meta(meta: &std::fs::Metadata, path: &Path, what: &str) -> anyhow::Result<()> {
    let shown = path.display();
    let refuse = |why: String, fix: String| -> anyhow::Result<()> {
        Err(UnsafeStateDir(format!(
            "{what} {shown} {why}; netwasm keeps lab journals only where no one but root can write them ({fix})"
        ))
        .into())
    };
    if meta.file_type().is_symlink() {
        return refuse(
            "is a symbolic link".into(),
            "give the directory it points to with --state-dir".into(),
        );
    }
    if !meta.is_dir() {
        return refuse(
            "is not a directory".into(),
            "choose a directory with --state-dir".into(),
        );
    }
    let me = euid();
    if meta.uid() != 0 && meta.uid() != me {
        return refuse(
            format!("is owned by uid {}", meta.uid()),
            format!("chown root {shown}, or choose another with --state-dir"),
        );
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(
            format!(
                "is writable by its group or by others (mode {:o})",
                meta.mode() & 0o7777
            ),
            format!("chmod 700 {shown}, or choose another with --state-dir"),
        );
    }
    Ok(())
}

/// Checks every directory above the state directory: one that another
/// user could write (and is not sticky, as `/tmp` is) would let them swap
/// the state directory, or a directory in it, for their own between
/// netwasm's check and its use, and steer its writes and removals.
pub(super) fn check_ancestors(path: &Path) -> anyhow::Result<()> {
    let mut existing = path;
    while std::fs::symlink_metadata(existing).is_err() {
        match existing.parent() {
            Some(p) => existing = p,
            None => return Ok(()),
        }
    }
    let canon = std::fs::canonicalize(existing)
        .with_context(|| format!("state directory {}: cannot resolve", path.display()))?;
    let me = euid();
    for dir in canon.ancestors().skip(usize::from(existing == path)) {
        let meta = std::fs::metadata(dir).with_context(|| {
            format!(
                "state directory {}: cannot read {}",
                path.display(),
                dir.display()
            )
        })?;
        let writable = meta.mode() & 0o022 != 0;
        let sticky = meta.mode() & 0o1000 != 0;
        let owned = meta.uid() == 0 || meta.uid() == me;
        if !owned || (writable && !sticky) {
            let why = if !owned {
                format!("is owned by uid {}", meta.uid())
            } else {
                format!(
                    "is writable by its group or by others (mode {:o})",
                    meta.mode() & 0o7777
                )
            };
            return Err(UnsafeStateDir(format!(
                "state directory {}: {} above it {why}, so another user could swap the state directory for their own; netwasm keeps lab journals only where no one but root can (choose another with --state-dir)",
                path.display(),
                dir.display()
            ))
            .into());
        }
    }
    Ok(())
}

/// The error for opening `path` in the state directory: a symbolic link
/// where netwasm keeps a file of its own is refused as unsafe.
pub(super) fn open_error(e: io::Error, path: &Path, what: &str) -> anyhow::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return UnsafeStateDir(format!(
            "{what} {} is a symbolic link; netwasm uses only files it made itself there (remove it)",
            path.display()
        ))
        .into();
    }
    anyhow::Error::new(e).context(format!("{what} {}: cannot open", path.display()))
}

/// Makes directory `path` (mode 0700) unless it exists, then checks it.
pub(super) fn ensure_dir(path: &Path, what: &str) -> anyhow::Result<()> {
    match DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(e).with_context(|| format!("{what} {}: cannot create", path.display()));
        }
    }
    check_dir(path, what)
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn labs_dir(&self) -> PathBuf {
        self.root.join("labs")
    }

    pub(super) fn lab_dir(&self, lab: &str) -> PathBuf {
        self.labs_dir().join(lab)
    }

    pub fn journal_path(&self, lab: &str) -> PathBuf {
        self.lab_dir(lab).join("journal")
    }

    /// Where the lab keeps its programs' output: `labs/LAB/programs`.
    pub fn programs_dir(&self, lab: &str) -> PathBuf {
        self.lab_dir(lab).join("programs")
    }

    /// The log of `stream` of the program held in `cgroup`; none for a
    /// cgroup path that is not netwasm's.
    pub fn program_log(&self, lab: &str, cgroup: &str, stream: LogStream) -> Option<PathBuf> {
        Some(self.programs_dir(lab).join(log_name(cgroup, stream)?))
    }

    /// Opens `labs/LAB/programs` once (making it 0700 first if `create`),
    /// never through a symbolic link, and checks what was opened: every
    /// log is then made or removed relative to this descriptor
    /// (`openat`, `unlinkat`), so the directory cannot be swapped for a
    /// link elsewhere between the check and the use. None when it does not
    /// exist and `create` is false.
    fn open_programs_dir(&self, lab: &str, create: bool) -> anyhow::Result<Option<File>> {
        let dir = self.programs_dir(lab);
        let what = format!("lab {lab}: directory");
        if create {
            match DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("{what} {}: cannot create", dir.display()));
                }
            }
        }
        let opened = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | NO_FOLLOW)
            .open(&dir);
        let file = match opened {
            Ok(f) => f,
            Err(e) if !create && e.kind() == io::ErrorKind::NotFound => return Ok(None),
            // O_NOFOLLOW|O_DIRECTORY on a symbolic link: ELOOP or ENOTDIR.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                return Err(UnsafeStateDir(format!(
                    "{what} {} is a symbolic link or not a directory; netwasm uses only directories it made itself there (remove it)",
                    dir.display()
                ))
                .into());
            }
            Err(e) => return Err(open_error(e, &dir, &what)),
        };
        let meta = file
            .metadata()
            .with_context(|| format!("{what} {}: cannot read", dir.display()))?;
        check_dir_meta(&meta, &dir, &what)?;
        Ok(Some(file))
    }

    /// Makes the logs of the program about to start in `cgroup`, stdout's
    /// then stderr's: new files (`O_EXCL`, never through a symbolic link),
    /// mode 0600, opened for appending, in `labs/LAB/programs` (made 0700 and
    /// checked). The caller must hold the lab's lock. The program gets
    /// these descriptors as its stdout and stderr; they outlive netwasm,
    /// which is why a program is not given pipes.
    pub fn create_program_logs(&self, lab: &str, cgroup: &str) -> anyhow::Result<[File; 2]> {
        let dir = self.open_programs_dir(lab, true)?.expect("made if missing");
        let open = |stream| -> anyhow::Result<File> {
            let name = log_name(cgroup, stream).ok_or_else(|| {
                anyhow::anyhow!("lab {lab}: cgroup {cgroup:?} is not one of netwasm's")
            })?;
            let path = self.programs_dir(lab).join(&name);
            let c = std::ffi::CString::new(name).expect("a checked cgroup name holds no NUL");
            // SAFETY: openat on a descriptor we hold and a NUL-terminated name.
            let fd = unsafe {
                libc::openat(
                    dir.as_raw_fd(),
                    c.as_ptr(),
                    libc::O_WRONLY
                        | libc::O_APPEND
                        | libc::O_CREAT
                        | libc::O_EXCL
                        | libc::O_NOFOLLOW
                        | libc::O_CLOEXEC,
                    0o600 as libc::c_uint,
                )
            };
            if fd < 0 {
                let e = io::Error::last_os_error();
                return Err(open_error(e, &path, &format!("lab {lab}: program log")));
            }
            // SAFETY: fd was just opened and is owned by nothing else.
            let file = unsafe { File::from_raw_fd(fd) };
            check_file(&file, &path)?;
            Ok(file)
        };
        Ok([open(LogStream::Stdout)?, open(LogStream::Stderr)?])
    }

    /// Removes the logs of the program of `cgroup` (a rolled-back run's,
    /// when earlier runs keep the lab up); missing ones are no error. The
    /// directory is opened and checked as for `create_program_logs`, and
    /// the names unlinked relative to it: a `programs` that is a symbolic
    /// link is refused, never followed.
    pub fn remove_program_logs(&self, lab: &str, cgroup: &str) -> io::Result<()> {
        let dir = match self.open_programs_dir(lab, false) {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(()),
            Err(e) => return Err(io::Error::other(format!("{e:#}"))),
        };
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            let Some(name) = log_name(cgroup, stream) else {
                continue;
            };
            let c = std::ffi::CString::new(name).expect("a checked cgroup name holds no NUL");
            // SAFETY: unlinkat on a descriptor we hold and a NUL-terminated name.
            if unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) } != 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::NotFound {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Checks the state directory and the lab directories under it, if
    /// they exist; says whether the state directory does.
    pub(super) fn check_existing(&self, lab: Option<&str>) -> anyhow::Result<bool> {
        if std::fs::symlink_metadata(&self.root).is_err() {
            return Ok(false);
        }
        check_ancestors(&self.root)?;
        check_dir(&self.root, "state directory")?;
        let labs = self.labs_dir();
        if std::fs::symlink_metadata(&labs).is_err() {
            return Ok(true);
        }
        check_dir(&labs, "state directory")?;
        if let Some(lab) = lab {
            let dir = self.lab_dir(lab);
            if std::fs::symlink_metadata(&dir).is_ok() {
                check_dir(&dir, &format!("lab {lab}: directory"))?;
            }
        }
        Ok(true)
    }

    /// Makes the state directory (0700, its parents as usual) and the lab's
    /// directory, checking each.
    fn prepare(&self, lab: &str) -> anyhow::Result<PathBuf> {
        check_ancestors(&self.root)?;
        if std::fs::symlink_metadata(&self.root).is_err()
            && let Some(parent) = self.root.parent()
        {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("state directory {}: cannot create", self.root.display())
            })?;
        }
        ensure_dir(&self.root, "state directory")?;
        ensure_dir(&self.labs_dir(), "state directory")?;
        let dir = self.lab_dir(lab);
        ensure_dir(&dir, &format!("lab {lab}: directory"))?;
        Ok(dir)
    }

    /// The labs that have a journal, sorted.
    pub fn labs(&self) -> anyhow::Result<Vec<String>> {
        if !self.check_existing(None)? {
            return Ok(Vec::new());
        }
        let dir = self.labs_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("state directory {}", dir.display()));
            }
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e?;
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            // Only what netwasm could have made: a lab name, a directory.
            if super::check_lab_name(&name).is_err() || !e.file_type()?.is_dir() {
                continue;
            }
            // A lab this user may not look into is listed all the same
            // (its state then says so), not passed over as if none.
            match std::fs::symlink_metadata(e.path().join("journal")) {
                Ok(_) => out.push(name),
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => out.push(name),
                Err(_) => {}
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn exists(&self, lab: &str) -> bool {
        std::fs::symlink_metadata(self.journal_path(lab)).is_ok()
    }

    /// Takes the lab's lock without waiting.
    pub fn lock(&self, lab: &str) -> anyhow::Result<LabLock> {
        let dir = self.prepare(lab)?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(NO_FOLLOW)
            .open(&path)
            .map_err(|e| open_error(e, &path, &format!("lab {lab}: lock")))?;
        check_file(&file, &path)?;
        match file.try_lock() {
            Ok(()) => Ok(LabLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                let by = match super::lab_state::probe_lock(self, lab) {
                    super::lab_state::LockProbe::Held { pid } if pid != 0 => {
                        format!("netwasm process {pid}")
                    }
                    _ => "another netwasm process".to_string(),
                };
                Err(LabBusy(format!("lab {lab} is running: {by} holds it")).into())
            }
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("lab {lab}: cannot lock {}", path.display()))
            }
        }
    }

    /// Reads the lab's journal; a missing journal reads as empty.
    pub fn read(&self, lab: &str) -> anyhow::Result<Journal> {
        self.check_existing(Some(lab))?;
        let path = self.journal_path(lab);
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(NO_FOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Journal::default()),
            Err(e) => return Err(open_error(e, &path, &format!("lab {lab}: journal"))),
        };
        let len = check_file(&file, &path)?;
        if len > MAX_JOURNAL_READ {
            return Err(UnsafeStateDir(format!(
                "lab {lab}: journal {} is {len} bytes, more than netwasm ever writes; it was not read",
                path.display()
            ))
            .into());
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.take(MAX_JOURNAL_READ)
            .read_to_end(&mut bytes)
            .with_context(|| format!("lab {lab}: cannot read {}", path.display()))?;
        let mut journal = parse_journal(&bytes);
        keep_own_programs(&mut journal, lab);
        Ok(journal)
    }

    /// Opens the lab's journal for appending, writing its header if new.
    /// The caller must hold the lab's lock.
    pub fn ledger(&self, lab: &str, _lock: &LabLock) -> anyhow::Result<Ledger> {
        let path = self.journal_path(lab);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(NO_FOLLOW)
            .open(&path)
            .map_err(|e| open_error(e, &path, &format!("lab {lab}: journal")))?;
        let size = check_file(&file, &path)?;
        let ledger = Ledger::new(file, lab, size);
        if size == 0 {
            // A lab of this name begins again: it no longer ended.
            self.forget_tombstone(lab);
            // No directory fsync: see "Durability" in the module above.
            ledger.append(&Entry::Header {
                version: JOURNAL_VERSION,
                lab: lab.to_string(),
            })?;
        }
        Ok(ledger)
    }

    /// Where the lab keeps the kernel's state at its last commit
    /// (`labs/LAB/snapshot`, see [`super::snapshot`]).
    pub fn snapshot_path(&self, lab: &str) -> PathBuf {
        self.lab_dir(lab).join("snapshot")
    }

    /// Replaces the lab's snapshot with `bytes`: written to a new file
    /// (`O_EXCL`, never through a symbolic link, mode 0600) and renamed
    /// over the old one, so a reader sees the old snapshot or the new,
    /// never half of one. The caller must hold the lab's lock.
    pub fn write_snapshot(&self, lab: &str, bytes: &[u8], _lock: &LabLock) -> anyhow::Result<()> {
        let path = self.snapshot_path(lab);
        let tmp = self.lab_dir(lab).join("snapshot.new");
        let what = format!("lab {lab}: snapshot");
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("{what} {}: cannot remove", tmp.display()));
            }
            _ => {}
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(NO_FOLLOW)
            .open(&tmp)
            .map_err(|e| open_error(e, &tmp, &what))?;
        check_file(&file, &tmp)?;
        io::Write::write_all(&mut file, bytes)
            .with_context(|| format!("{what}: cannot write {}", tmp.display()))?;
        drop(file);
        std::fs::rename(&tmp, &path).with_context(|| {
            format!(
                "{what}: cannot rename {} to {}",
                tmp.display(),
                path.display()
            )
        })
    }

    /// Removes the lab's snapshot: what the kernel had at a commit that is
    /// no longer the lab's last (a run begins, the lab goes down). A
    /// missing one is no error.
    pub fn remove_snapshot(&self, lab: &str) -> io::Result<()> {
        match std::fs::remove_file(self.snapshot_path(lab)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Reads the lab's snapshot, if it has one: opened as journals are
    /// (no symbolic link, a file of ours) and at most `max` bytes.
    pub fn read_snapshot(&self, lab: &str, max: u64) -> anyhow::Result<Option<Vec<u8>>> {
        self.check_existing(Some(lab))?;
        let path = self.snapshot_path(lab);
        let what = format!("lab {lab}: snapshot");
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(NO_FOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(open_error(e, &path, &what)),
        };
        let len = check_file(&file, &path)?;
        if len > max {
            return Err(UnsafeStateDir(format!(
                "{what} {} is {len} bytes, more than netwasm ever writes; it was not read",
                path.display()
            ))
            .into());
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.take(max)
            .read_to_end(&mut bytes)
            .with_context(|| format!("{what}: cannot read {}", path.display()))?;
        Ok(Some(bytes))
    }

    /// Removes the lab's journal and directory (after a complete teardown),
    /// program logs included. Never through a symbolic link: one planted
    /// in the directory is removed itself, not what it points to
    /// (`remove_dir_all` opens every directory `O_NOFOLLOW`).
    pub fn remove(&self, lab: &str) -> io::Result<()> {
        match std::fs::remove_dir_all(self.lab_dir(lab)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Checks that an opened journal or lock is a regular file with one name,
/// owned and writable as a directory of ours must be; returns its size. A
/// hard link to a file elsewhere would otherwise let a journal write land
/// there.
pub(super) fn check_file(file: &File, path: &Path) -> anyhow::Result<u64> {
    let meta = file
        .metadata()
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let shown = path.display();
    let why = if !meta.is_file() {
        Some("is not a regular file".to_string())
    } else if meta.nlink() > 1 {
        Some(format!("has {} names (hard links)", meta.nlink()))
    } else if meta.uid() != 0 && meta.uid() != euid() {
        Some(format!("is owned by uid {}", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "is writable by its group or by others (mode {:o})",
            meta.mode() & 0o7777
        ))
    } else {
        None
    };
    match why {
        Some(why) => Err(UnsafeStateDir(format!(
            "{shown} {why}; netwasm uses only files it made itself there (remove it)"
        ))
        .into()),
        None => Ok(meta.len()),
    }
}

/// Ends the readable part of `journal` at its first entry about a program
/// whose cgroup is not one of lab `lab`'s (`netwasm/LAB/...`): netwasm
/// never writes one, and `down` would stop what it names — a forged
/// journal must not reach another lab's programs.
fn keep_own_programs(journal: &mut super::Journal, lab: &str) {
    let foreign = journal.entries.iter().position(|e| {
        let cgroup = match e {
            Entry::ProcessStart { cgroup, .. }
            | Entry::ProcessPid { cgroup, .. }
            | Entry::ProcessEnd { cgroup } => cgroup,
            _ => return false,
        };
        cgroup.split('/').nth(1) != Some(lab)
    });
    if let Some(i) = foreign {
        journal.entries.truncate(i);
        journal.damage = Some(format!(
            "entry {} is about a program of another lab; it and anything after it were not read",
            i + 1
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fresh state directory under the system's temporary directory,
    /// removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "netwasm-state-{tag}-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn program_logs_are_new_private_files_removed_with_the_lab() {
        let scratch = Scratch::new("logs");
        let state = StateDir::new(scratch.0.join("state"));
        let _lock = state.lock("t").unwrap();
        let [out, err] = state.create_program_logs("t", "netwasm/t/1-2-3").unwrap();
        for f in [&out, &err] {
            assert_eq!(f.metadata().unwrap().mode() & 0o7777, 0o600);
        }
        let dir = state.programs_dir("t");
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o700);
        assert!(dir.join("1-2-3.out").is_file() && dir.join("1-2-3.err").is_file());
        // Never an existing file: a second program under the same name is
        // refused rather than sharing (or truncating) a log.
        assert!(state.create_program_logs("t", "netwasm/t/1-2-3").is_err());

        // A symbolic link planted where a log will go is refused, and
        // neither its target nor a link elsewhere in the directory is
        // followed when the lab is removed.
        let outside = scratch.0.join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("1-2-4.out")).unwrap();
        let e = state
            .create_program_logs("t", "netwasm/t/1-2-4")
            .unwrap_err();
        assert!(e.to_string().contains("1-2-4.out"), "{e}");
        std::os::unix::fs::symlink(&scratch.0, dir.join("up")).unwrap();
        state.remove_program_logs("t", "netwasm/t/1-2-3").unwrap();
        assert!(!dir.join("1-2-3.out").exists());

        // `programs` itself swapped for a link to a directory of the same
        // shape elsewhere: rollback refuses it, and nothing there goes.
        let elsewhere = scratch.0.join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(elsewhere.join("1-2-5.out"), b"keep").unwrap();
        let moved = scratch.0.join("moved");
        std::fs::rename(&dir, &moved).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
        assert!(state.remove_program_logs("t", "netwasm/t/1-2-5").is_err());
        assert_eq!(std::fs::read(elsewhere.join("1-2-5.out")).unwrap(), b"keep");
        assert!(state.create_program_logs("t", "netwasm/t/1-2-6").is_err());
        assert!(!elsewhere.join("1-2-6.out").exists());
        std::fs::remove_file(&dir).unwrap();
        std::fs::rename(&moved, &dir).unwrap();
        assert!(!dir.join("1-2-3.out").exists());
        state.remove("t").unwrap();
        assert!(!state.lab_dir("t").exists());
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    }

    #[test]
    fn a_journal_naming_another_labs_programs_is_read_up_to_there() {
        let line = |json: &str| format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes()));
        let text = [
            r#"{"op":"header","version":3,"lab":"t"}"#,
            r#"{"op":"process-start","ns":"a","cgroup":"netwasm/t/1-1-1","command":"x"}"#,
            r#"{"op":"process-start","ns":"a","cgroup":"netwasm/other/1-1-2","command":"x"}"#,
            r#"{"op":"process-pid","cgroup":"netwasm/t/1-1-1","pid":7,"start":9}"#,
        ]
        .map(line)
        .concat();
        let mut journal = parse_journal(text.as_bytes());
        assert_eq!(journal.damage, None, "{:?}", journal.entries);
        keep_own_programs(&mut journal, "t");
        assert_eq!(journal.entries.len(), 2);
        assert!(journal.damage.unwrap().contains("another lab"));
    }
}
