//! Cranelift's incremental compilation cache, on disk beside the compiled
//! guests: compiled functions keyed by their body, so that a guest whose
//! code is mostly the same as one compiled before (a Python or JavaScript
//! guest whose script changed, the interpreter not) reuses those functions
//! instead of compiling them again.
//!
//! The store is a set of segments, one written by each compile that added
//! functions, holding just those (`incremental-<config>-<id>.bin`). A
//! compile never rewrites what others wrote, and builds no index in
//! memory: each segment's records are fixed-size and sorted by key, so a
//! lookup is a binary search in the mapped file, and only the pages of the
//! records and functions a compile reuses are ever read. (An index in
//! memory cost a compile memory in proportion to the whole store: 122 MiB
//! for a small guest once the test suite's Python and JavaScript guests
//! had filled it.) A segment used by a compile has its mtime refreshed,
//! and segments are entries of the compile cache like compiled guests: the
//! cache's least-recently-used bound drops them whole ([`super::cache`]).
//! Two compiles at once write two segments; a function both compiled is
//! stored twice until one segment ages out.
//!
//! The stored bytes become native code, so a segment is trusted as a
//! compiled guest is: it must belong to this user, be writable by no one
//! else, in a private directory. Each record carries the BLAKE3 sum of its
//! key and value, checked when it is used: a torn or flipped segment costs
//! a recompile of what it held, never wrong code.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use wasmtime::CacheStore;

const MAGIC: &[u8; 8] = b"NWINC\x003\n";
const SUM_LEN: usize = blake3::OUT_LEN;
/// Cranelift's keys are SHA-256 sums; a key of another length is kept in
/// memory only.
const KEY_LEN: usize = 32;
/// A record: key, value length (u32), value offset (u64), and the sum of
/// key and value.
const RECORD: usize = KEY_LEN + 4 + 8 + SUM_LEN;
/// Head of a segment: magic, record count (u32); then the filter, then
/// the records.
const HEAD: usize = MAGIC.len() + 4;
/// Bytes of the segment's Bloom filter per record (16 bits: about one
/// false "maybe" in a thousand with four probes).
const FILTER_PER_RECORD: usize = 2;

/// The filter's length for `count` records (at least a byte).
fn filter_len(count: usize) -> usize {
    (count * FILTER_PER_RECORD).max(1)
}

/// The filter's bits for `key`: four taken from the key itself, which is
/// already a hash.
fn filter_bits(key: &[u8], bits: usize) -> impl Iterator<Item = usize> + '_ {
    (0..4).map(move |i| {
        let w = u32::from_le_bytes(key[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
        w as usize % bits
    })
}

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
    segments: OnceLock<Vec<Segment>>,
    /// Records compiled by this process.
    added: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    map: memmap2::Mmap,
    /// Records, sorted by key.
    count: usize,
    /// Where the records start (after the filter).
    records_at: usize,
    used: AtomicBool,
}

impl Segment {
    fn record(&self, i: usize) -> &[u8] {
        let at = self.records_at + i * RECORD;
        &self.map[at..at + RECORD]
    }

    /// The value stored for `key`, if its record is whole. The filter
    /// answers most keys the segment does not hold, so a compile pages in
    /// little more than the filters of segments it takes nothing from.
    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        let filter = &self.map[HEAD..self.records_at];
        let bits = filter.len() * 8;
        if !filter_bits(key, bits).all(|b| filter[b / 8] & (1 << (b % 8)) != 0) {
            return None;
        }
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let r = self.record(mid);
            match r[..KEY_LEN].cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.value(r),
            }
        }
        None
    }

    fn value(&self, r: &[u8]) -> Option<&[u8]> {
        let len = u32::from_le_bytes(r[KEY_LEN..KEY_LEN + 4].try_into().ok()?) as usize;
        let off = usize::try_from(u64::from_le_bytes(
            r[KEY_LEN + 4..KEY_LEN + 12].try_into().ok()?,
        ))
        .ok()?;
        let value = self.map.get(off..off.checked_add(len)?)?;
        let mut sum = blake3::Hasher::new();
        sum.update(&r[..KEY_LEN]).update(value);
        (sum.finalize().as_bytes() == &r[KEY_LEN + 12..]).then_some(value)
    }
}

impl Incremental {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            config: OnceLock::new(),
            segments: OnceLock::new(),
            added: Mutex::default(),
        }
    }

    /// Ties the store to the engine configuration `config`: only its
    /// segments are read, and it names the ones written.
    pub fn bind(&self, config: &str) {
        let _ = self.config.set(config.to_string());
    }

    fn segments(&self) -> &[Segment] {
        self.segments.get_or_init(|| match self.config.get() {
            Some(config) => load(&self.dir, config),
            None => Vec::new(),
        })
    }

    /// Writes what this process compiled as a new segment, and marks the
    /// segments it reused as recently used.
    pub fn flush(&self) -> anyhow::Result<()> {
        let Some(config) = self.config.get() else {
            return Ok(());
        };
        let now = SystemTime::now();
        for s in self.segments() {
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

/// A segment's bytes: head, records sorted by key, values. (The file
/// then ends with the sum [`super::cache::write_summed`] appends, which
/// loading does not need: each record carries its own.) Keys that are not
/// [`KEY_LEN`] long are left out.
fn encode(records: &HashMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let mut sorted: Vec<(&Vec<u8>, &Vec<u8>)> =
        records.iter().filter(|(k, _)| k.len() == KEY_LEN).collect();
    sorted.sort();
    let mut filter = vec![0u8; filter_len(sorted.len())];
    let bits = filter.len() * 8;
    for (k, _) in &sorted {
        for b in filter_bits(k, bits) {
            filter[b / 8] |= 1 << (b % 8);
        }
    }
    let values_at = HEAD + filter.len() + sorted.len() * RECORD;
    let mut bytes =
        Vec::with_capacity(values_at + sorted.iter().map(|(_, v)| v.len()).sum::<usize>());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&filter);
    let mut at = values_at;
    for (k, v) in &sorted {
        bytes.extend_from_slice(k);
        bytes.extend_from_slice(&(v.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(at as u64).to_le_bytes());
        let mut sum = blake3::Hasher::new();
        sum.update(k).update(v);
        bytes.extend_from_slice(sum.finalize().as_bytes());
        at += v.len();
    }
    for (_, v) in &sorted {
        bytes.extend_from_slice(v);
    }
    bytes
}

/// Maps every trustworthy segment of `config` in `dir`: private, whole
/// enough to hold the records its head counts.
fn load(dir: &Path, config: &str) -> Vec<Segment> {
    if !super::cache::private(dir, true) {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| segment_config(n) == Some(config))
        .collect();
    // The same order each time keeps runs alike.
    names.sort();
    names
        .iter()
        .filter_map(|name| map_segment(&dir.join(name)))
        .collect()
}

fn map_segment(path: &Path) -> Option<Segment> {
    let file = super::cache::open_private(path)?;
    // SAFETY: a segment is never written in place (it is written under a
    // temporary name and renamed), and the directory is this user's alone.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    if map.get(..MAGIC.len())? != MAGIC {
        return None;
    }
    let count = u32::from_le_bytes(map.get(MAGIC.len()..HEAD)?.try_into().ok()?) as usize;
    let records_at = HEAD.checked_add(filter_len(count))?;
    if records_at.checked_add(count.checked_mul(RECORD)?)? > map.len() {
        return None;
    }
    Some(Segment {
        path: path.to_path_buf(),
        map,
        count,
        records_at,
        used: AtomicBool::new(false),
    })
}

impl CacheStore for Incremental {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        if key.len() == KEY_LEN {
            for s in self.segments() {
                if let Some(value) = s.get(key) {
                    s.used.store(true, Ordering::Relaxed);
                    return Some(Cow::Borrowed(value));
                }
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

    /// A key as Cranelift's are: 32 bytes.
    fn k(n: u8) -> [u8; KEY_LEN] {
        [n; KEY_LEN]
    }

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
        assert!(s.get(&k(1)).is_none());
        // Out of order, and many: found by binary search all the same.
        for n in (1..=200u8).rev() {
            s.insert(&k(n), vec![n; n as usize]);
        }
        s.flush().unwrap();
        assert_eq!(segments(&dir).len(), 1);

        let second = store(&dir);
        for n in 1..=200u8 {
            assert_eq!(second.get(&k(n)).as_deref(), Some(&vec![n; n as usize][..]));
        }
        assert!(second.get(&k(201)).is_none());
        second.insert(&k(201), vec![3; 50]);
        second.flush().unwrap();
        assert_eq!(segments(&dir).len(), 2, "a new segment, none rewritten");

        let third = store(&dir);
        assert_eq!(third.get(&k(2)).as_deref(), Some(&[2u8; 2][..]));
        assert_eq!(third.get(&k(201)).as_deref(), Some(&[3u8; 50][..]));
        third.flush().unwrap();
        assert_eq!(segments(&dir).len(), 2, "nothing added, nothing written");

        // Another configuration's segments are not read.
        let other = Incremental::new(dir.clone());
        other.bind("fedcba9876543210");
        assert!(other.get(&k(1)).is_none());

        // A key of another length is kept for this process only.
        let odd = store(&dir);
        odd.insert(b"short", vec![9]);
        assert_eq!(odd.get(b"short").as_deref(), Some(&[9u8][..]));
        odd.flush().unwrap();
        assert!(store(&dir).get(b"short").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_or_shared_segments_are_not_trusted() {
        let dir = scratch("damaged");
        let s = store(&dir);
        s.insert(&k(1), vec![1; 100]);
        s.insert(&k(2), vec![2; 100]);
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
        let hits = [s.get(&k(1)).is_some(), s.get(&k(2)).is_some()];
        assert_eq!(hits, [false, true]);

        // A flipped bit in a record's key: no value is found under a key
        // it was not stored for.
        let mut bytes = good.clone();
        bytes[HEAD + filter_len(2) + RECORD + 3] ^= 1;
        rewrite(&bytes);
        let s = store(&dir);
        assert!(s.get(&k(1)).is_some());
        assert!(s.get(&k(2)).is_none());
        let mut flipped = k(2);
        flipped[3] ^= 1;
        assert!(s.get(&flipped).is_none());

        // A count larger than the file: skipped, nothing allocated for it.
        let mut bytes = good.clone();
        bytes[MAGIC.len()..HEAD].copy_from_slice(&u32::MAX.to_le_bytes());
        rewrite(&bytes);
        assert!(store(&dir).get(&k(1)).is_none());

        // Cut short: skipped.
        rewrite(&good[..HEAD + 10]);
        assert!(store(&dir).get(&k(1)).is_none());

        // Writable by others: skipped.
        rewrite(&good);
        assert!(store(&dir).get(&k(1)).is_some());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(store(&dir).get(&k(1)).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_reused_segment_is_marked_recently_used() {
        let dir = scratch("lru");
        let s = store(&dir);
        s.insert(&k(1), vec![1; 10]);
        s.flush().unwrap();
        let path = segments(&dir).pop().unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(7200);
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(old).unwrap();
        let s = store(&dir);
        s.get(&k(1)).unwrap();
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
