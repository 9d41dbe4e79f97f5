//! Cranelift's incremental compilation cache, on disk beside the compiled
//! guests: compiled functions keyed by their body, so that a guest whose
//! code is mostly the same as one compiled before (a Python or JavaScript
//! guest whose script changed, the interpreter not) reuses those functions
//! instead of compiling them again.
//!
//! A guest has tens of thousands of functions, so the store is one file
//! (one per engine configuration), not a file per function: it is mapped
//! and indexed on the first lookup of a compile (a hit of the module cache
//! never looks), and rewritten once after the compile with what that
//! compile used or added. Each record carries when it was last used; the
//! rewrite keeps the most recently used records within the store's bound.
//!
//! The stored bytes become native code, so the file is trusted as module
//! cache entries are: it must belong to this user, be writable by no one
//! else, in a private directory, and end with the BLAKE3 hash of the rest.
//! Two processes compiling at once each rewrite the whole file: the last
//! one's records win, which costs the other's a recompile, never
//! correctness.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use wasmtime::CacheStore;

const MAGIC: &[u8; 8] = b"NWINC\x001\n";
const SUM_LEN: usize = blake3::OUT_LEN;
/// Per record: last use (u64), key length (u32), value length (u32).
const RECORD_HEAD: usize = 16;

/// A used record whose last use is older than this (seconds) gets a
/// rewrite even when nothing was added.
const REFRESH_AFTER: u64 = 24 * 3600;

/// `incremental-<16 hex>.bin`: the store for one engine configuration.
pub fn file_name(config: &str) -> String {
    format!("incremental-{config}.bin")
}

/// Whether `name` is a store's file name.
pub fn is_store_name(name: &str) -> bool {
    name.strip_prefix("incremental-")
        .and_then(|n| n.strip_suffix(".bin"))
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `incremental-<16 hex>.tmp<pid>`, a rewrite in progress (or crashed).
pub fn is_tmp_name(name: &str) -> bool {
    name.rsplit_once(".tmp").is_some_and(|(stem, pid)| {
        !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && is_store_name(&format!("{stem}.bin"))
    })
}

#[derive(Debug)]
pub struct Incremental {
    dir: PathBuf,
    max_bytes: u64,
    /// The file, named once the engine (whose configuration names it) is
    /// built.
    path: OnceLock<PathBuf>,
    /// The file as it was at the first lookup; `None` when there was none
    /// to trust.
    loaded: OnceLock<Option<Loaded>>,
    /// Records compiled by this process.
    added: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    /// Keys of loaded records that this process used.
    used: Mutex<HashSet<Vec<u8>>>,
}

#[derive(Debug)]
struct Loaded {
    map: memmap2::Mmap,
    /// Key -> (offset of the value, its length, last use).
    index: HashMap<Vec<u8>, (usize, usize, u64)>,
}

impl Incremental {
    pub fn new(dir: PathBuf, max_bytes: u64) -> Self {
        Self {
            dir,
            max_bytes,
            path: OnceLock::new(),
            loaded: OnceLock::new(),
            added: Mutex::default(),
            used: Mutex::default(),
        }
    }

    /// Names the file after the engine configuration `config`.
    pub fn bind(&self, config: &str) {
        let _ = self.path.set(self.dir.join(file_name(config)));
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.get().map(PathBuf::as_path)
    }

    fn loaded(&self) -> Option<&Loaded> {
        self.loaded
            .get_or_init(|| self.path().and_then(|p| load(&self.dir, p)))
            .as_ref()
    }

    /// Rewrites the file with what this process used or added, if
    /// anything, keeping the most recently used records within the bound.
    pub fn flush(&self) -> anyhow::Result<()> {
        let Some(path) = self.path() else {
            return Ok(());
        };
        let added = self.added.lock().unwrap_or_else(|e| e.into_inner());
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // Nothing new, and what was used is known to be recent: the file
        // is right as it is. (Records used long ago are refreshed, or a
        // guest whose functions all hit would age out of the store.)
        let stale = |k: &Vec<u8>| {
            self.loaded()
                .and_then(|l| l.index.get(k))
                .is_some_and(|&(_, _, last)| now.saturating_sub(last) > REFRESH_AFTER)
        };
        if added.is_empty() && !used.iter().any(stale) {
            return Ok(());
        }
        let mut records: Vec<(u64, &[u8], &[u8])> = Vec::new();
        if let Some(l) = self.loaded() {
            for (k, &(off, len, last)) in &l.index {
                if added.contains_key(k) {
                    continue;
                }
                let last = if used.contains(k) { now } else { last };
                records.push((last, k, &l.map[off..off + len]));
            }
        }
        records.extend(added.iter().map(|(k, v)| (now, k.as_slice(), v.as_slice())));
        // Most recent first; what does not fit goes.
        records.sort_by_key(|r| std::cmp::Reverse(r.0));
        let mut bytes = MAGIC.to_vec();
        for (last, k, v) in records {
            let grown = bytes.len() + RECORD_HEAD + k.len() + v.len() + SUM_LEN;
            if grown as u64 > self.max_bytes {
                break;
            }
            bytes.extend_from_slice(&last.to_le_bytes());
            bytes.extend_from_slice(&(k.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&(v.len() as u32).to_le_bytes());
            bytes.extend_from_slice(k);
            bytes.extend_from_slice(v);
        }
        Ok(super::cache::write_summed(path, bytes)?)
    }
}

/// Maps and indexes the store at `path`, if it can be trusted and is whole.
fn load(dir: &Path, path: &Path) -> Option<Loaded> {
    if !super::cache::private(dir, true) || !super::cache::private(path, false) {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: the file is never written in place (a rewrite is renamed
    // over it), and the directory is this user's alone.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    let body_len = map.len().checked_sub(SUM_LEN)?;
    // Read (hashed and indexed) through read(), not the mapping: a mapped
    // page counts in the process's resident memory (which the limits
    // tests bound), and the store holds every toolchain's functions while
    // a compile reuses only some of them.
    let mut r =
        std::io::BufReader::with_capacity(1 << 20, std::io::Read::take(&file, body_len as u64));
    let mut hasher = blake3::Hasher::new();
    let mut read = |buf: &mut Vec<u8>, len: usize| -> Option<()> {
        buf.resize(len, 0);
        std::io::Read::read_exact(&mut r, buf).ok()?;
        hasher.update(buf);
        Some(())
    };
    let mut buf = Vec::new();
    read(&mut buf, MAGIC.len())?;
    if buf != MAGIC {
        return None;
    }
    let mut index = HashMap::new();
    let mut at = MAGIC.len();
    while at < body_len {
        read(&mut buf, RECORD_HEAD)?;
        let last = u64::from_le_bytes(buf[..8].try_into().ok()?);
        let klen = u32::from_le_bytes(buf[8..12].try_into().ok()?) as usize;
        let vlen = u32::from_le_bytes(buf[12..16].try_into().ok()?) as usize;
        let v_at = (at + RECORD_HEAD).checked_add(klen)?;
        let end = v_at.checked_add(vlen)?;
        if end > body_len {
            return None;
        }
        read(&mut buf, klen)?;
        let key = buf.clone();
        read(&mut buf, vlen)?;
        index.insert(key, (v_at, vlen, last));
        at = end;
    }
    if hasher.finalize().as_bytes() != &map[body_len..] {
        return None;
    }
    Some(Loaded { map, index })
}

impl CacheStore for Incremental {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        if let Some(l) = self.loaded()
            && let Some(&(off, len, _)) = l.index.get(key)
        {
            self.used
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.to_vec());
            return Some(Cow::Borrowed(&l.map[off..off + len]));
        }
        let added = self.added.lock().unwrap_or_else(|e| e.into_inner());
        added.get(key).map(|v| Cow::Owned(v.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        self.added
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_vec(), value);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("netwasm-inc-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        dir
    }
    use std::os::unix::fs::DirBuilderExt;

    #[test]
    fn stores_reloads_and_stays_bounded() {
        let dir = scratch("roundtrip");
        let s = Incremental::new(dir.clone(), 1 << 20);
        s.bind("0123456789abcdef");
        assert!(s.get(b"k1").is_none());
        assert!(s.insert(b"k1", vec![1; 100]));
        assert!(s.insert(b"k2", vec![2; 100]));
        s.flush().unwrap();
        let path = s.path().unwrap().to_path_buf();

        let again = Incremental::new(dir.clone(), 1 << 20);
        again.bind("0123456789abcdef");
        assert_eq!(again.get(b"k1").as_deref(), Some(&[1u8; 100][..]));

        // A flipped bit: nothing is trusted.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let torn = Incremental::new(dir.clone(), 1 << 20);
        torn.bind("0123456789abcdef");
        assert!(torn.get(b"k1").is_none());

        // Within the bound: room for one record only.
        let small = Incremental::new(
            dir.clone(),
            (MAGIC.len() + RECORD_HEAD + 2 + 100 + SUM_LEN) as u64,
        );
        small.bind("0123456789abcdef");
        small.insert(b"k3", vec![3; 100]);
        small.insert(b"k4", vec![4; 100]);
        small.flush().unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len as usize, MAGIC.len() + RECORD_HEAD + 2 + 100 + SUM_LEN);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names() {
        assert!(is_store_name(&file_name("0123456789abcdef")));
        assert!(is_tmp_name("incremental-0123456789abcdef.tmp12"));
        assert!(!is_store_name("incremental-xyz.bin"));
        assert!(!is_tmp_name("incremental-0123456789abcdef.tmp"));
    }
}
