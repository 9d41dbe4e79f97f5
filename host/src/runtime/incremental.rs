//! Cranelift's incremental compilation cache, on disk beside the compiled
//! guests: compiled functions keyed by their body, so that a guest whose
//! code is mostly the same as one compiled before (a Python or JavaScript
//! guest whose script changed, the interpreter not) reuses those functions
//! instead of compiling them again.
//!
//! The store is a set of segments, one written by each compile that added
//! functions, holding just those (`incremental-<config>-<id>.bin`). A
//! compile never rewrites what others wrote, so it neither reads nor copies
//! the store's bulk: it indexes every segment of its engine configuration
//! (an index at the head of each, tens of bytes per function) and maps the
//! values, so only the functions it reuses are ever paged in. A segment
//! used by a compile has its mtime refreshed, and segments are entries of
//! the compile cache like compiled guests: the cache's least-recently-used
//! bound drops them whole ([`super::cache`]). Two compiles at once write
//! two segments; a function both compiled is stored twice until one
//! segment ages out.
//!
//! The stored bytes become native code, so a segment is trusted as a
//! compiled guest is: it must belong to this user, be writable by no one
//! else, in a private directory. Its index carries its own BLAKE3 sum and
//! each value one more, checked when the value is used: a torn or flipped
//! segment costs a recompile of what it held, never wrong code.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use wasmtime::CacheStore;

const MAGIC: &[u8; 8] = b"NWINC\x002\n";
const SUM_LEN: usize = blake3::OUT_LEN;
/// Per index record: key length (u32), value length (u32), value offset
/// (u64), value sum; then the key.
const RECORD_HEAD: usize = 16 + SUM_LEN;
/// Head of a segment: magic, record count (u32), index length (u32).
const HEAD: usize = MAGIC.len() + 8;

/// `incremental-<16 hex>-<16 hex>.bin`: a segment for one engine
/// configuration.
fn segment_name(config: &str, id: &str) -> String {
    format!("incremental-{config}-{id}.bin")
}

/// The configuration a segment's name says it is for.
fn segment_config(name: &str) -> Option<&str> {
    let stem = name.strip_prefix("incremental-")?.strip_suffix(".bin")?;
    let (config, id) = stem.split_once('-')?;
    let hex16 = |h: &str| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit());
    (hex16(config) && hex16(id)).then_some(config)
}

/// Whether `name` is a segment's file name.
pub fn is_store_name(name: &str) -> bool {
    segment_config(name).is_some()
}

/// `incremental-<16 hex>-<16 hex>.tmp<pid>`, a segment being written (or a
/// crashed write).
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
    /// The engine configuration, known once the engine is built.
    config: OnceLock<String>,
    /// The segments as they were at the first lookup.
    loaded: OnceLock<Loaded>,
    /// Records compiled by this process.
    added: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
}

#[derive(Debug, Default)]
struct Loaded {
    segments: Vec<Segment>,
    /// Key -> (segment, value offset, value length, value sum).
    index: HashMap<Vec<u8>, (usize, usize, usize, [u8; SUM_LEN])>,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    map: memmap2::Mmap,
    used: AtomicBool,
}

impl Incremental {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            config: OnceLock::new(),
            loaded: OnceLock::new(),
            added: Mutex::default(),
        }
    }

    /// Ties the store to the engine configuration `config`: only its
    /// segments are read, and it names the ones written.
    pub fn bind(&self, config: &str) {
        let _ = self.config.set(config.to_string());
    }

    fn loaded(&self) -> &Loaded {
        self.loaded.get_or_init(|| match self.config.get() {
            Some(config) => load(&self.dir, config),
            None => Loaded::default(),
        })
    }

    /// Writes what this process compiled as a new segment, and marks the
    /// segments it reused as recently used.
    pub fn flush(&self) -> anyhow::Result<()> {
        let Some(config) = self.config.get() else {
            return Ok(());
        };
        let now = SystemTime::now();
        for s in &self.loaded().segments {
            if s.used.load(Ordering::Relaxed) {
                // Gone meanwhile (pruned by another process): nothing to
                // keep fresh.
                let _ = std::fs::File::options()
                    .write(true)
                    .open(&s.path)
                    .and_then(|f| f.set_modified(now));
            }
        }
        let added = self.added.lock().unwrap_or_else(|e| e.into_inner());
        if added.is_empty() {
            return Ok(());
        }
        let bytes = encode(&added);
        let id = blake3::hash(&bytes).to_hex();
        let path = self.dir.join(segment_name(config, &id[..16]));
        Ok(super::cache::write_summed(&path, bytes)?)
    }
}

/// A segment's bytes: head, index, index sum, values. (The file then ends
/// with the sum [`super::cache::write_summed`] appends, which loading does
/// not need: the index and each value carry their own.)
fn encode(records: &HashMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let index_len: usize = records.keys().map(|k| RECORD_HEAD + k.len()).sum();
    let values_at = HEAD + index_len + SUM_LEN;
    let mut index = Vec::with_capacity(index_len);
    let mut values = Vec::new();
    for (k, v) in records {
        index.extend_from_slice(&(k.len() as u32).to_le_bytes());
        index.extend_from_slice(&(v.len() as u32).to_le_bytes());
        index.extend_from_slice(&((values_at + values.len()) as u64).to_le_bytes());
        index.extend_from_slice(blake3::hash(v).as_bytes());
        index.extend_from_slice(k);
        values.extend_from_slice(v);
    }
    let mut bytes = Vec::with_capacity(values_at + values.len() + SUM_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(records.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&(index_len as u32).to_le_bytes());
    bytes.extend_from_slice(&index);
    bytes.extend_from_slice(blake3::hash(&index).as_bytes());
    bytes.extend_from_slice(&values);
    bytes
}

/// Maps and indexes every trustworthy segment of `config` in `dir`. A
/// segment that is not private, or whose index fails its sum, is skipped.
fn load(dir: &Path, config: &str) -> Loaded {
    let mut loaded = Loaded::default();
    if !super::cache::private(dir, true) {
        return loaded;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return loaded;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| segment_config(n) == Some(config))
        .collect();
    // Oldest name first is no order at all; any order will do, but the
    // same one each time keeps runs alike.
    names.sort();
    for name in names {
        let path = dir.join(&name);
        if let Some(segment) = map_segment(&path) {
            let at = loaded.segments.len();
            if index_segment(&segment.map, at, &mut loaded.index).is_some() {
                loaded.segments.push(segment);
            }
        }
    }
    loaded
}

fn map_segment(path: &Path) -> Option<Segment> {
    let file = super::cache::open_private(path)?;
    // SAFETY: a segment is never written in place (it is written under a
    // temporary name and renamed), and the directory is this user's alone.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    Some(Segment {
        path: path.to_path_buf(),
        map,
        used: AtomicBool::new(false),
    })
}

/// Adds a segment's records to `index`; None (and nothing added) when its
/// index is malformed or fails its sum.
fn index_segment(
    map: &[u8],
    segment: usize,
    index: &mut HashMap<Vec<u8>, (usize, usize, usize, [u8; SUM_LEN])>,
) -> Option<()> {
    let u32_at = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(map.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    if map.get(..MAGIC.len())? != MAGIC {
        return None;
    }
    let count = u32_at(MAGIC.len())?;
    let index_len = u32_at(MAGIC.len() + 4)?;
    let index_end = HEAD.checked_add(index_len)?;
    let table = map.get(HEAD..index_end)?;
    if blake3::hash(table).as_bytes() != map.get(index_end..index_end + SUM_LEN)? {
        return None;
    }
    // The head is not under the index's sum: a count no index of this
    // length could hold is damage, not a size to allocate for.
    if count > table.len() / RECORD_HEAD {
        return None;
    }
    let mut records = Vec::with_capacity(count);
    let mut at = 0;
    for _ in 0..count {
        let head = table.get(at..at + RECORD_HEAD)?;
        let klen = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
        let vlen = u32::from_le_bytes(head[4..8].try_into().ok()?) as usize;
        let voff = usize::try_from(u64::from_le_bytes(head[8..16].try_into().ok()?)).ok()?;
        let sum: [u8; SUM_LEN] = head[16..].try_into().ok()?;
        let key = table.get(at + RECORD_HEAD..at + RECORD_HEAD + klen)?;
        if voff < index_end + SUM_LEN || voff.checked_add(vlen)? > map.len() {
            return None;
        }
        records.push((key.to_vec(), (segment, voff, vlen, sum)));
        at += RECORD_HEAD + klen;
    }
    if at != table.len() {
        return None;
    }
    index.extend(records);
    Some(())
}

impl CacheStore for Incremental {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let l = self.loaded();
        if let Some(&(segment, off, len, ref sum)) = l.index.get(key) {
            let s = &l.segments[segment];
            let value = &s.map[off..off + len];
            if blake3::hash(value).as_bytes() == sum {
                s.used.store(true, Ordering::Relaxed);
                return Some(Cow::Borrowed(value));
            }
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
    use std::os::unix::fs::DirBuilderExt;

    const CONFIG: &str = "0123456789abcdef";

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("netwasm-inc-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        dir
    }

    fn store(dir: &Path) -> Incremental {
        let s = Incremental::new(dir.to_path_buf());
        s.bind(CONFIG);
        s
    }

    fn segments(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| is_store_name(p.file_name().unwrap().to_str().unwrap()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn each_compile_adds_a_segment_and_later_ones_read_them_all() {
        let dir = scratch("segments");
        let s = store(&dir);
        assert!(s.get(b"k1").is_none());
        s.insert(b"k1", vec![1; 100]);
        s.insert(b"k2", vec![2; 100]);
        s.flush().unwrap();
        assert_eq!(segments(&dir).len(), 1);

        let second = store(&dir);
        assert_eq!(second.get(b"k1").as_deref(), Some(&[1u8; 100][..]));
        second.insert(b"k3", vec![3; 50]);
        second.flush().unwrap();
        assert_eq!(segments(&dir).len(), 2, "a new segment, none rewritten");

        let third = store(&dir);
        assert_eq!(third.get(b"k2").as_deref(), Some(&[2u8; 100][..]));
        assert_eq!(third.get(b"k3").as_deref(), Some(&[3u8; 50][..]));
        third.flush().unwrap();
        assert_eq!(segments(&dir).len(), 2, "nothing added, nothing written");

        // Another configuration's segments are not read.
        let other = Incremental::new(dir.clone());
        other.bind("fedcba9876543210");
        assert!(other.get(b"k1").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_or_shared_segments_are_not_trusted() {
        let dir = scratch("damaged");
        let s = store(&dir);
        s.insert(b"k1", vec![1; 100]);
        s.insert(b"k2", vec![2; 100]);
        s.flush().unwrap();
        let path = segments(&dir).pop().unwrap();
        let good = std::fs::read(&path).unwrap();
        let rewrite = |bytes: &[u8]| {
            std::fs::remove_file(&path).unwrap();
            std::fs::write(&path, bytes).unwrap();
        };

        // A flipped bit in a value: that value is a miss, the other a hit.
        let mut bytes = good.clone();
        let values_at = bytes.len() - SUM_LEN - 200;
        bytes[values_at + 10] ^= 1;
        rewrite(&bytes);
        let s = store(&dir);
        let hits = [s.get(b"k1").is_some(), s.get(b"k2").is_some()];
        assert_eq!(hits.iter().filter(|h| **h).count(), 1, "{hits:?}");

        // A flipped bit in the index: the segment is skipped.
        let mut bytes = good.clone();
        bytes[HEAD + 20] ^= 1;
        rewrite(&bytes);
        assert!(store(&dir).get(b"k1").is_none());

        // Cut short: skipped.
        rewrite(&good[..HEAD + 10]);
        assert!(store(&dir).get(b"k1").is_none());

        // Writable by others: skipped.
        rewrite(&good);
        assert!(store(&dir).get(b"k1").is_some());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(store(&dir).get(b"k1").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_reused_segment_is_marked_recently_used() {
        let dir = scratch("lru");
        let s = store(&dir);
        s.insert(b"k1", vec![1; 10]);
        s.flush().unwrap();
        let path = segments(&dir).pop().unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(7200);
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(old).unwrap();
        let s = store(&dir);
        s.get(b"k1").unwrap();
        s.flush().unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert!(mtime > old + std::time::Duration::from_secs(3600));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names() {
        assert!(is_store_name(&segment_name(CONFIG, "0011223344556677")));
        assert!(is_tmp_name(
            "incremental-0123456789abcdef-0011223344556677.tmp12"
        ));
        assert!(!is_store_name("incremental-0123456789abcdef.bin"));
        assert!(!is_store_name("incremental-xyz-0011223344556677.bin"));
        assert!(!is_tmp_name(
            "incremental-0123456789abcdef-0011223344556677.tmp"
        ));
    }
}
