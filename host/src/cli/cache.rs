//! `netwasm cache ls|clean`: the compile cache, seen and emptied by its
//! user (the cache bounds itself; this is for a disk that is tight now).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{CacheCleanArgs, CacheDirArgs, CacheLsArgs, Exit, fail};
use crate::policy::file::{parse_duration, parse_size};
use crate::runtime::cache::{Cache, Entry};

fn cache(dir: &CacheDirArgs) -> Cache {
    Cache::new(dir.cache_dir.clone().unwrap_or_else(Cache::default_dir))
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `40.1 MiB`: sizes as a person compares them.
fn human(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

pub fn ls(args: CacheLsArgs) -> anyhow::Result<Exit> {
    let cache = cache(&args.dir);
    let entries = cache
        .list()
        .map_err(|e| anyhow::anyhow!("cache {}: cannot list: {e}", cache.dir().display()))?;
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let mut out = String::new();
    if args.json {
        let doc = serde_json::json!({
            "schema": "netwasm.cache/1",
            "dir": cache.dir().display().to_string(),
            "entries": entries.iter().map(|e| serde_json::json!({
                "name": e.name,
                "kind": e.kind,
                "size": e.size,
                "last_use": crate::time::rfc3339(millis(e.last_use)),
            })).collect::<Vec<_>>(),
            "total_bytes": total,
        });
        outln!(out, "{doc}");
    } else {
        for e in &entries {
            outln!(
                out,
                "{:>10}  {}  {:<11}  {}",
                human(e.size),
                crate::time::rfc3339(millis(e.last_use)),
                e.kind,
                e.name
            );
        }
        outln!(
            out,
            "total: {} in {} {} ({})",
            human(total),
            entries.len(),
            if entries.len() == 1 {
                "entry"
            } else {
                "entries"
            },
            cache.dir().display()
        );
    }
    super::print_out(&out)?;
    Ok(Exit::Ok)
}

/// `7d` besides what the policy's durations take (`12h`, `30m`, `90s`).
fn age(s: &str) -> Option<Duration> {
    match s.trim().strip_suffix('d') {
        Some(days) => days
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|d| d.checked_mul(86_400))
            .map(Duration::from_secs),
        None => parse_duration(s),
    }
}

pub fn clean(args: CacheCleanArgs) -> anyhow::Result<Exit> {
    let older_than = match &args.older_than {
        Some(v) => Some(age(v).ok_or_else(|| {
            fail(
                Exit::BadInput,
                format!("--older-than {v:?}: expected a duration like 7d, 12h, 30m or 90s"),
            )
        })?),
        None => None,
    };
    let max_size = match &args.max_size {
        Some(v) => Some(parse_size(v).ok_or_else(|| {
            fail(
                Exit::BadInput,
                format!("--max-size {v:?}: expected a size like 500MiB, 2GiB or 0"),
            )
        })?),
        None => None,
    };
    let cache = cache(&args.dir);
    let removed: Vec<Entry> = cache
        .clean(older_than, max_size)
        .map_err(|e| anyhow::anyhow!("cache {}: cannot clean: {e}", cache.dir().display()))?;
    let freed: u64 = removed.iter().map(|e| e.size).sum();
    let left: u64 = cache
        .list()
        .map(|l| l.iter().map(|e| e.size).sum())
        .unwrap_or(0);
    let mut out = String::new();
    outln!(
        out,
        "removed {} {} ({}); {} left in {}",
        removed.len(),
        if removed.len() == 1 {
            "entry"
        } else {
            "entries"
        },
        human(freed),
        human(left),
        cache.dir().display()
    );
    super::print_out(&out)?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_sizes_read() {
        assert_eq!(age("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(age("12h"), Some(Duration::from_secs(12 * 3600)));
        assert_eq!(age("soon"), None);
        assert_eq!(human(512), "512 B");
        assert_eq!(human(40 * 1024 * 1024 + 100 * 1024), "40.1 MiB");
    }
}
