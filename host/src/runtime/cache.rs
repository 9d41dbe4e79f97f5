//! Compiled guests, cached on disk so a large guest (a Python component is
//! tens of megabytes) is compiled once, not on every run.
//!
//! An entry is named by the BLAKE3 hash of the guest's bytes and a hash of
//! everything that makes compiled code valid (the wasmtime version and the
//! engine's configuration), so a new wasmtime or a changed guest never loads
//! stale code. Each entry ends with the BLAKE3 hash of its contents; an
//! entry that fails it (a torn write, a flipped bit) is ignored and rebuilt,
//! because wasmtime trusts what it deserializes. A hit is checked and loaded
//! in place (mapped, not read into memory and copied again): for a small
//! CNI plugin that halves the load, for a 40 MB Python guest it is most of it.
//!
//! That checksum proves integrity, not origin: whoever can write an entry
//! can make netwasm (root) run native code of their choosing. So an entry is
//! used only when it and its directory belong to the user netwasm runs as
//! and nobody else may write them; the directory is created private (0700).
//!
//! Guests built by componentize-py or componentize-js differ byte for byte
//! on every build (and each is compiled to ~40 MB), so entries pile up: the
//! cache keeps at most [`DEFAULT_MAX_BYTES`], dropping the least recently
//! used entries (a hit refreshes an entry's mtime) after each compile.
//! Beside the entries lie the segments of Cranelift's incremental store
//! ([`super::incremental`]), in the same bound: a changed guest whose
//! functions are mostly unchanged compiles in a fraction of the time.
//! `netwasm cache ls|clean` list and remove entries ([`Cache::list`],
//! [`Cache::clean`]).

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::incremental::{self, Incremental};

/// The length of the checksum that ends an entry.
const SUM_LEN: usize = blake3::OUT_LEN;

/// The most the cache keeps on disk by default.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// A temporary file older than this is a leftover of a crashed write.
const STALE_TMP: Duration = Duration::from_secs(3600);

pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
    incremental: Arc<Incremental>,
}

/// A write in progress, or a crashed one: its path and mtime.
type Temporary = (PathBuf, SystemTime);

/// A file of the cache, as `netwasm cache ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub name: String,
    /// `compiled` (a guest's compiled form) or `incremental` (compiled
    /// functions, reused by later compiles).
    pub kind: &'static str,
    pub size: u64,
    /// A hit or a compile refreshes it.
    pub last_use: SystemTime,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
    /// The cache was off, or could not be used.
    Uncached,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            incremental: Arc::new(Incremental::new(dir.clone())),
            dir,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// The same cache with another size bound.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The incremental store, for [`wasmtime::Config::enable_incremental_compilation`];
    /// [`Cache::bind`] it to the engine once built. `NETWASM_INCREMENTAL_CACHE=0`
    /// turns it off (each compile then starts from nothing, as without a
    /// cache).
    pub fn incremental(&self) -> Option<Arc<Incremental>> {
        (std::env::var_os("NETWASM_INCREMENTAL_CACHE").is_none_or(|v| v != "0"))
            .then(|| self.incremental.clone())
    }

    /// Names the incremental store after `engine`'s configuration.
    pub fn bind(&self, engine: &Engine) {
        self.incremental.bind(&Self::config_tag(engine));
    }

    /// The default location: `$XDG_CACHE_HOME/netwasm`, else
    /// `$HOME/.cache/netwasm`, else `/var/cache/netwasm`.
    pub fn default_dir() -> PathBuf {
        if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("netwasm");
        }
        if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(h).join(".cache").join("netwasm");
        }
        PathBuf::from("/var/cache/netwasm")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything that makes compiled code valid, as 16 hex digits.
    fn config_tag(engine: &Engine) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        format!("{:016x}", h.finish())
    }

    fn key(engine: &Engine, wasm: &[u8]) -> String {
        format!("{}-{}", digest(wasm).to_hex(), Self::config_tag(engine))
    }

    /// Loads the compiled form of `wasm`, compiling and storing it on a miss.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<(Component, Origin)> {
        let path = self.dir.join(format!("{}.cwasm", Self::key(engine, wasm)));
        if let Some(c) = self.read(engine, &path) {
            // Recently used: the last entry to be pruned.
            let _ = std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(SystemTime::now()));
            return Ok((c, Origin::Cached));
        }
        let component = Component::new(engine, wasm)?;
        // Only a private directory is trusted for the store, as for
        // entries: write it where entries are written.
        let wrote = self.write(&path, &component);
        if wrote.is_ok() {
            let _ = self.incremental.flush();
        }
        match wrote {
            Ok(()) => {
                self.prune(&path);
                Ok((component, Origin::Compiled))
            }
            // A cache we cannot write costs time, not correctness.
            Err(_) => Ok((component, Origin::Uncached)),
        }
    }

    fn read(&self, engine: &Engine, path: &Path) -> Option<Component> {
        if !private(&self.dir, true) {
            return None;
        }
        let file = open_private(path)?;
        // SAFETY: entries are never written in place (a new one is renamed
        // over), and the directory is this user's alone, so the mapped
        // bytes do not change under us.
        let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        let body_len = map.len().checked_sub(SUM_LEN)?;
        if digest(&map[..body_len]).as_bytes() != &map[body_len..] {
            let _ = std::fs::remove_file(path);
            return None;
        }
        drop(map);
        // The same open file (not the path again, which could have been
        // replaced since), mapped by wasmtime itself; the trailing sum is
        // past the end of the ELF image, which ignores it.
        let fd = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
        // SAFETY: the bytes are what `Component::serialize` wrote for this
        // exact engine configuration (the key says so) and the checksum
        // proves they are unchanged since.
        match unsafe { Component::deserialize_file(engine, &fd) } {
            Ok(c) => Some(c),
            Err(_) => {
                let _ = std::fs::remove_file(path);
                None
            }
        }
    }

    fn write(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| format!("cache {}: cannot create", self.dir.display()))?;
        // Entries in a directory others can write could not be trusted
        // when read back; do not write them either.
        anyhow::ensure!(
            private(&self.dir, true),
            "cache {}: not private to this user",
            self.dir.display()
        );
        Ok(write_summed(path, component.serialize()?)?)
    }

    /// Drops the least recently used entries until the cache fits its
    /// bound (never `keep`, the entry just written), and leftovers of
    /// crashed writes.
    fn prune(&self, keep: &Path) {
        let _ = self.clean_where(|_| false, Some(self.max_bytes), Some(keep));
    }

    /// The cache's entries (compiled guests and the incremental store),
    /// most recently used first. Only files named like entries and owned
    /// by this user are listed: the directory may be one the user shares.
    /// A cache never written is empty.
    pub fn list(&self) -> std::io::Result<Vec<Entry>> {
        Ok(self.scan()?.0)
    }

    /// Entries, most recently used first, and temporaries of writes.
    fn scan(&self) -> std::io::Result<(Vec<Entry>, Vec<Temporary>)> {
        let dir = match std::fs::read_dir(&self.dir) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
            Err(e) => return Err(e),
        };
        let mut entries = Vec::new();
        let mut tmps = Vec::new();
        for e in dir.flatten() {
            let path = e.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() || meta.uid() != euid() {
                continue;
            }
            let last_use = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let kind = if is_entry_name(&name) {
                "compiled"
            } else if incremental::is_store_name(&name) {
                "incremental"
            } else {
                if is_tmp_name(&name) || incremental::is_tmp_name(&name) {
                    tmps.push((path, last_use));
                }
                continue;
            };
            entries.push(Entry {
                path,
                name,
                kind,
                size: meta.len(),
                last_use,
            });
        }
        entries.sort_by(|a, b| b.last_use.cmp(&a.last_use).then(a.name.cmp(&b.name)));
        Ok((entries, tmps))
    }

    /// Removes entries last used longer than `older_than` ago (all, when
    /// neither bound is given), then the least recently used until the
    /// rest fit in `max_size`. Returns what was removed.
    pub fn clean(
        &self,
        older_than: Option<Duration>,
        max_size: Option<u64>,
    ) -> std::io::Result<Vec<Entry>> {
        let now = SystemTime::now();
        let all = older_than.is_none() && max_size.is_none();
        self.clean_where(
            |e| {
                all || older_than
                    .is_some_and(|age| now.duration_since(e.last_use).is_ok_and(|d| d > age))
            },
            max_size,
            None,
        )
    }

    fn clean_where(
        &self,
        drop: impl Fn(&Entry) -> bool,
        max_size: Option<u64>,
        keep: Option<&Path>,
    ) -> std::io::Result<Vec<Entry>> {
        let (entries, tmps) = self.scan()?;
        let now = SystemTime::now();
        for (tmp, mtime) in tmps {
            // A write in progress is young; an old one crashed.
            if now.duration_since(mtime).is_ok_and(|age| age > STALE_TMP) {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        for e in entries {
            if Some(e.path.as_path()) != keep && drop(&e) {
                if std::fs::remove_file(&e.path).is_ok() {
                    removed.push(e);
                }
            } else {
                kept.push(e);
            }
        }
        if let Some(max) = max_size {
            let mut total: u64 = kept.iter().map(|e| e.size).sum();
            // Least recently used first.
            for e in kept.into_iter().rev() {
                if total <= max {
                    break;
                }
                if Some(e.path.as_path()) != keep && std::fs::remove_file(&e.path).is_ok() {
                    total -= e.size;
                    removed.push(e);
                }
            }
        }
        Ok(removed)
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Whether `path` (not a symlink) belongs to this user and no one else can
/// write it. Root also trusts directories root owns.
pub(super) fn private(path: &Path, dir: bool) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let kind_ok = if dir { meta.is_dir() } else { meta.is_file() };
    kind_ok && meta.uid() == euid() && meta.mode() & 0o022 == 0
}

/// Opens `path` for reading if it is a regular file (not through a
/// symbolic link) that belongs to this user and no one else can write —
/// checked on the open file, not the path, which could be swapped between
/// a check and the open where a directory above is someone else's.
pub(super) fn open_private(path: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    (meta.is_file() && meta.uid() == euid() && meta.mode() & 0o022 == 0).then_some(file)
}

/// `<64 hex>-<16 hex>.cwasm`, as [`Cache::key`] names entries.
fn is_entry_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".cwasm") else {
        return false;
    };
    let Some((sha, cfg)) = stem.split_once('-') else {
        return false;
    };
    sha.len() == 64 && cfg.len() == 16 && stem.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

/// `<key>.tmp<pid>`, a write in progress (or a crashed one).
fn is_tmp_name(name: &str) -> bool {
    name.rsplit_once(".tmp").is_some_and(|(stem, pid)| {
        !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && is_entry_name(&format!("{stem}.cwasm"))
    })
}

/// Writes `bytes` and their BLAKE3 sum to `path` as one whole: to a
/// temporary name first, then renamed, so a reader sees a whole file or
/// none, and a full disk leaves no half file behind for good.
pub(super) fn write_summed(path: &Path, mut bytes: Vec<u8>) -> std::io::Result<()> {
    let sum = digest(&bytes);
    bytes.extend_from_slice(sum.as_bytes());
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        // A new file, never one already there or a link planted in its
        // place.
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// BLAKE3 of `bytes`, on every core for a large input: a Python guest
/// (19 MB) and its compiled form (40 MB) are hashed on every start, and
/// that is a third of its start-up on one core. Small inputs (a CNI
/// plugin's 0.2 MB) stay on this thread: the pool's start would cost more.
fn digest(bytes: &[u8]) -> blake3::Hash {
    if bytes.len() < 4 << 20 {
        return blake3::hash(bytes);
    }
    blake3::Hasher::new().update_rayon(bytes).finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: the header alone.
    const EMPTY: &[u8] = b"\0asm\x0d\x00\x01\x00";

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("netwasm-cache-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn compiles_once_then_hits() {
        let dir = scratch("hit");
        let engine = Engine::default();
        let cache = Cache::new(&dir);
        assert_eq!(cache.load(&engine, EMPTY).unwrap().1, Origin::Compiled);
        assert_eq!(cache.load(&engine, EMPTY).unwrap().1, Origin::Cached);
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700, "the cache directory is private");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_or_truncated_entries_are_rebuilt() {
        let dir = scratch("corrupt");
        let engine = Engine::default();
        let cache = Cache::new(&dir);
        cache.load(&engine, EMPTY).unwrap();
        let entry = entries(&dir).pop().unwrap();
        let mut bytes = std::fs::read(&entry).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&entry, &bytes).unwrap();
        assert_eq!(cache.load(&engine, EMPTY).unwrap().1, Origin::Compiled);
        std::fs::write(&entry, &bytes[..10]).unwrap();
        assert_eq!(cache.load(&engine, EMPTY).unwrap().1, Origin::Compiled);
        assert_eq!(cache.load(&engine, EMPTY).unwrap().1, Origin::Cached);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn entries_others_can_write_are_not_trusted() {
        let dir = scratch("untrusted");
        let engine = Engine::default();
        let cache = Cache::new(&dir);
        cache.load(&engine, EMPTY).unwrap();
        let entry = entries(&dir).pop().unwrap();
        chmod(&entry, 0o666);
        // Recompiled, and replaced by a private entry.
        assert_eq!(cache.load(&engine, EMPTY).unwrap().1, Origin::Compiled);
        assert_eq!(std::fs::metadata(&entry).unwrap().mode() & 0o022, 0);
        assert_eq!(cache.load(&engine, EMPTY).unwrap().1, Origin::Cached);
        // A directory others can write is used for nothing.
        chmod(&dir, 0o777);
        assert_eq!(cache.load(&engine, EMPTY).unwrap().1, Origin::Uncached);
        chmod(&dir, 0o700);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn prunes_least_recently_used_entries_and_stale_temporaries() {
        let dir = scratch("prune");
        std::fs::create_dir_all(&dir).unwrap();
        chmod(&dir, 0o700);
        let old = SystemTime::now() - Duration::from_secs(7200);
        let fake = |n: u8, age: u64| {
            let path = dir.join(format!(
                "{}-{}.cwasm",
                format!("{n:02x}").repeat(32),
                "0".repeat(16)
            ));
            std::fs::write(&path, vec![0u8; 1000]).unwrap();
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(old + Duration::from_secs(age)).unwrap();
            path
        };
        let oldest = fake(1, 0);
        let middle = fake(2, 10);
        let stale_tmp = dir.join(format!("{}-{}.tmp123", "ab".repeat(32), "0".repeat(16)));
        std::fs::write(&stale_tmp, b"half").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&stale_tmp)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let unrelated = dir.join("notes.txt");
        std::fs::write(&unrelated, vec![0u8; 5000]).unwrap();

        // The new entry plus one old one fit; the oldest goes.
        let engine = Engine::default();
        let probe = scratch("prune-probe");
        Cache::new(&probe).load(&engine, EMPTY).unwrap();
        let new_len = std::fs::metadata(entries(&probe).pop().unwrap())
            .unwrap()
            .len();
        std::fs::remove_dir_all(&probe).unwrap();
        let cache = Cache::new(&dir).with_max_bytes(new_len + 1500);
        assert_eq!(cache.load(&engine, EMPTY).unwrap().1, Origin::Compiled);
        let left = entries(&dir);
        assert!(
            !left.contains(&oldest),
            "the least recently used entry was pruned: {left:?}"
        );
        assert!(left.contains(&middle), "{left:?}");
        assert!(
            !left.contains(&stale_tmp),
            "a crashed write's leftover was removed: {left:?}"
        );
        assert!(
            left.contains(&unrelated),
            "files that are not entries are left alone: {left:?}"
        );
        assert_eq!(left.len(), 3, "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names() {
        let key = format!("{}-{}", "a".repeat(64), "0".repeat(16));
        assert!(is_entry_name(&format!("{key}.cwasm")));
        assert!(is_tmp_name(&format!("{key}.tmp42")));
        assert!(!is_entry_name("x.cwasm"));
        assert!(!is_tmp_name(&format!("{key}.tmp")));
        assert!(!is_entry_name(&format!("{key}.cwasm.bak")));
    }
}
