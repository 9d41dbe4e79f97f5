//! Policy files (TOML): parsing, and validation with errors that name the
//! key and the line.
//!
//! Every section and key is optional; what a file leaves out keeps the value
//! of the default policy. Unknown keys are errors, so a typo can never
//! silently widen or narrow a grant.

use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use std::path::PathBuf;

use super::{ExecCommand, Glob, LinkGrant, LinkKind, Policy, Source};
use crate::vocab::Operation;
use crate::vocab::limit::bytes;
use crate::vocab::net::{Cidr, check_link_name, check_ns_name};
use crate::vocab::process::EXEC_PATH;
use crate::vocab::{MacvlanMode, VNI_MAX};

type S = Spanned<String>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    namespaces: Option<RawNamespaces>,
    links: Option<RawLinks>,
    addresses: Option<RawAllow>,
    routes: Option<RawRoutes>,
    root: Option<RawRoot>,
    operations: Option<RawOperations>,
    quotas: Option<RawQuotas>,
    limits: Option<RawLimits>,
    exec: Option<RawExec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawExec {
    commands: Option<Vec<S>>,
    user: Option<S>,
    max_tasks: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawNamespaces {
    create: Option<Vec<S>>,
    open: Option<Vec<S>>,
    modify: Option<Vec<S>>,
    delete_opened: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLinks {
    kinds: Option<Vec<S>>,
    macvlan_modes: Option<Vec<S>>,
    vxlan_ids: Option<Vec<Spanned<RawRange>>>,
    vxlan_ports: Option<Vec<Spanned<RawRange>>>,
    vxlan_remotes: Option<Vec<S>>,
    parents: Option<Vec<RawLinkGrant>>,
    manage: Option<Vec<RawLinkGrant>>,
}

/// A number, or a range of them: `42`, `"42"`, `"100-199"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawRange {
    One(i64),
    Text(String),
}

impl std::fmt::Display for RawRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawRange::One(n) => write!(f, "{n}"),
            RawRange::Text(t) => write!(f, "{t:?}"),
        }
    }
}

impl RawRange {
    /// The range, checked to lie within `min..=max`.
    fn range(&self, min: u32, max: u32) -> Result<RangeInclusive<u32>, String> {
        let expected =
            || format!("expected a number from {min} to {max}, or a range like \"{min}-{max}\"");
        let num = |t: &str| -> Result<u32, String> {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(expected());
            }
            t.parse::<u32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(expected)
        };
        let (lo, hi) = match self {
            RawRange::One(n) => {
                let n = u32::try_from(*n)
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(expected)?;
                (n, n)
            }
            RawRange::Text(t) => match t.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None => {
                    let n = num(t)?;
                    (n, n)
                }
            },
        };
        if lo > hi {
            return Err(format!("the range is empty: {lo} is above {hi}"));
        }
        Ok(lo..=hi)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLinkGrant {
    namespace: S,
    link: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawAllow {
    allow: Option<Vec<S>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRoutes {
    destinations: Option<Vec<S>>,
    gateways: Option<Vec<S>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRoot {
    links: Option<Vec<S>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawOperations {
    allow: Option<Vec<S>>,
    deny: Option<Vec<S>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawQuotas {
    namespaces: Option<Spanned<u64>>,
    links: Option<Spanned<u64>>,
    addresses: Option<Spanned<u64>>,
    routes: Option<Spanned<u64>>,
    operations: Option<Spanned<u64>>,
    journal: Option<S>,
    probes: Option<Spanned<u64>>,
    processes: Option<Spanned<u64>>,
    process_output: Option<S>,
    program_log: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLimits {
    memory: Option<S>,
    deadline: Option<S>,
    fuel: Option<Spanned<u64>>,
    handles: Option<Spanned<u64>>,
    output: Option<S>,
    args: Option<S>,
}

/// A policy file that could not be used: where, and what is wrong.
#[derive(Debug)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

/// Reads and validates the policy file at `path`.
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PolicyError(format!("policy {}: cannot read: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

/// Parses and validates policy text; `name` is used in messages.
pub fn parse(text: &str, name: &str) -> Result<Policy, PolicyError> {
    let ctx = Ctx { text, name };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| ctx.line_of(s.start)).unwrap_or(0);
        let msg = e.message().trim().replace('\n', " ");
        PolicyError(format!("policy {name} line {line}: {msg}"))
    })?;
    ctx.build(raw)
}

struct Ctx<'a> {
    text: &'a str,
    name: &'a str,
}

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        // Bytes, not a str slice: an offset inside a character must not panic.
        let text = self.text.as_bytes();
        text[..offset.min(text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn err(&self, key: &str, value: &S, why: impl std::fmt::Display) -> PolicyError {
        PolicyError(format!(
            "policy {} line {}: {key}: {:?}: {why}",
            self.name,
            self.line_of(value.span().start),
            value.get_ref()
        ))
    }

    fn err_num(&self, key: &str, value: &Spanned<u64>, why: &str) -> PolicyError {
        PolicyError(format!(
            "policy {} line {}: {key}: {}: {why}",
            self.name,
            self.line_of(value.span().start),
            value.get_ref()
        ))
    }

    fn build(&self, raw: Raw) -> Result<Policy, PolicyError> {
        let mut p = Policy {
            source: Source::File(self.name.to_string()),
            ..Policy::default()
        };
        if let Some(ns) = raw.namespaces {
            if let Some(v) = ns.create {
                p.ns_create = self.globs("[namespaces] create", v)?;
            }
            if let Some(v) = ns.open {
                p.ns_open = self.globs("[namespaces] open", v)?;
            }
            if let Some(v) = ns.modify {
                p.ns_modify = self.globs("[namespaces] modify", v)?;
            }
            if let Some(v) = ns.delete_opened {
                p.ns_delete_opened = v;
            }
        }
        let mut remotes_given = false;
        if let Some(l) = raw.links {
            if let Some(v) = l.kinds {
                p.link_kinds = self.list("[links] kinds", v, |s| {
                    LinkKind::parse(s).ok_or("expected one of macvlan, veth, bridge, vxlan")
                })?;
            }
            if let Some(v) = l.macvlan_modes {
                p.macvlan_modes = self.list("[links] macvlan-modes", v, |s| {
                    MacvlanMode::parse(s)
                        .ok_or("expected one of private, vepa, bridge, passthru, source")
                })?;
            }
            if let Some(v) = l.vxlan_ids {
                p.vxlan_ids = self.ranges("[links] vxlan-ids", v, 0, VNI_MAX)?;
            }
            if let Some(v) = l.vxlan_ports {
                // Port 0 asks the kernel for its default; name that one.
                p.vxlan_ports = self.ranges("[links] vxlan-ports", v, 1, u16::MAX.into())?;
            }
            if let Some(v) = l.vxlan_remotes {
                p.vxlan_remotes = self.prefixes("[links] vxlan-remotes", v)?;
                remotes_given = true;
            }
            if let Some(v) = l.parents {
                p.parents = self.grants("[links] parents", v)?;
            }
            if let Some(v) = l.manage {
                p.manage = self.grants("[links] manage", v)?;
            }
        }
        if let Some(a) = raw.addresses
            && let Some(v) = a.allow
        {
            p.addresses = self.prefixes("[addresses] allow", v)?;
            // A vxlan's remote is an address the lab makes the kernel send
            // to: a policy that bounds the lab's addresses bounds where its
            // tunnels go the same, unless it says otherwise.
            if !remotes_given {
                p.vxlan_remotes = p.addresses.clone();
            }
        }
        if let Some(r) = raw.routes {
            if let Some(v) = r.destinations {
                p.route_destinations = self.prefixes("[routes] destinations", v)?;
            }
            if let Some(v) = r.gateways {
                p.route_gateways = self.prefixes("[routes] gateways", v)?;
            }
        }
        if let Some(r) = raw.root
            && let Some(v) = r.links
        {
            p.root_links = self.list("[root] links", v, |s| {
                check_link_name(s)
                    .map(|_| s.to_string())
                    .map_err(|e| e.message)
            })?;
        }
        if let Some(o) = raw.operations {
            if let Some(v) = o.allow {
                p.ops_allow = self.operations("[operations] allow", v)?;
            }
            if let Some(v) = o.deny {
                p.ops_deny = self.operations("[operations] deny", v)?;
            }
        }
        if let Some(q) = raw.quotas {
            let set = |slot: &mut u64, v: Option<Spanned<u64>>| {
                if let Some(v) = v {
                    *slot = *v.get_ref();
                }
            };
            set(&mut p.quotas.namespaces, q.namespaces);
            set(&mut p.quotas.links, q.links);
            set(&mut p.quotas.addresses, q.addresses);
            set(&mut p.quotas.routes, q.routes);
            set(&mut p.quotas.operations, q.operations);
            set(&mut p.quotas.processes, q.processes);
            if let Some(v) = q.process_output {
                // Held in netwasm's memory for a read: at most what a
                // guest's own output may be.
                p.quotas.process_output = self.size("[quotas] process-output", &v, OUTPUT_RANGE)?;
            }
            if let Some(v) = q.program_log {
                p.quotas.program_log = self.size("[quotas] program-log", &v, PROGRAM_LOG_RANGE)?;
            }
            if let Some(v) = q.probes {
                // The neighbour table all namespaces share holds 1024
                // entries by default; a run alone may not fill it.
                if *v.get_ref() > 1024 {
                    return Err(self.err_num(
                        "[quotas] probes",
                        &v,
                        "must be at most 1024 (the kernel's neighbour table, shared by every namespace, holds 1024 entries by default)",
                    ));
                }
                p.quotas.probes = *v.get_ref();
            }
            if let Some(v) = q.journal {
                // Below 64KiB a lab could not journal a handful of objects
                // with their begin and end; above 1GiB it would fill /run.
                p.quotas.journal = self.size(
                    "[quotas] journal",
                    &v,
                    SizeRange {
                        min: 64 << 10,
                        max: 1 << 30,
                    },
                )?;
            }
        }
        if let Some(l) = raw.limits {
            if let Some(v) = l.memory {
                p.limits.memory = self.size("[limits] memory", &v, MEMORY_RANGE)?;
            }
            if let Some(v) = l.deadline {
                p.limits.deadline = self.duration("[limits] deadline", &v)?;
            }
            if let Some(v) = l.fuel {
                if *v.get_ref() == 0 {
                    return Err(self.err_num("[limits] fuel", &v, "must be positive"));
                }
                p.limits.fuel = *v.get_ref();
            }
            if let Some(v) = l.handles {
                if *v.get_ref() == 0 {
                    return Err(self.err_num("[limits] handles", &v, "must be positive"));
                }
                p.limits.handles = *v.get_ref();
            }
            if let Some(v) = l.output {
                p.limits.output = self.size("[limits] output", &v, OUTPUT_RANGE)?;
            }
            if let Some(v) = l.args {
                p.limits.args = self.size("[limits] args", &v, ARGS_RANGE)?;
            }
        }
        if let Some(e) = raw.exec {
            if let Some(v) = e.max_tasks {
                if !(1..=MAX_TASKS).contains(v.get_ref()) {
                    return Err(self.err_num(
                        "[exec] max-tasks",
                        &v,
                        &format!("must be 1 to {MAX_TASKS}"),
                    ));
                }
                p.exec.max_tasks = *v.get_ref();
            }
            if let Some(v) = e.user {
                p.exec.user.name = v.get_ref().clone();
                if v.get_ref().is_empty() || v.get_ref() == "root" {
                    return Err(self.err(
                        "[exec] user",
                        &v,
                        "must name an unprivileged user (not root)",
                    ));
                }
                p.exec.user.ids = Some(self.user("[exec] user", &v)?);
            }
            if let Some(v) = e.commands {
                p.exec.commands = v
                    .iter()
                    .map(|c| {
                        resolve_command(c.get_ref())
                            .map_err(|why| self.err("[exec] commands", c, why))
                    })
                    .collect::<Result<_, _>>()?;
            }
            if !p.exec.commands.is_empty() && p.exec.user.ids.is_none() {
                let name = S::new(0..0, p.exec.user.name.clone());
                p.exec.user.ids = Some(self.user("[exec] user (default)", &name)?);
            }
        }
        Ok(p)
    }

    /// The uid and primary gid of user `v` (getpwnam_r through `nix`).
    fn user(&self, key: &str, v: &S) -> Result<(u32, u32), PolicyError> {
        let user = nix::unistd::User::from_name(v.get_ref())
            .map_err(|e| self.err(key, v, format!("cannot look the user up: {e}")))?
            .ok_or_else(|| self.err(key, v, "no such user"))?;
        if user.uid.is_root() || user.gid.as_raw() == 0 {
            return Err(self.err(
                key,
                v,
                "is root or in group root; name an unprivileged user",
            ));
        }
        Ok((user.uid.as_raw(), user.gid.as_raw()))
    }

    fn list<T, E: std::fmt::Display>(
        &self,
        key: &str,
        values: Vec<S>,
        f: impl Fn(&str) -> Result<T, E>,
    ) -> Result<Vec<T>, PolicyError> {
        values
            .iter()
            .map(|v| f(v.get_ref()).map_err(|why| self.err(key, v, why)))
            .collect()
    }

    fn globs(&self, key: &str, values: Vec<S>) -> Result<Vec<Glob>, PolicyError> {
        self.list(key, values, |s| {
            if s.is_empty() || s.contains(['/', '\0']) {
                return Err(String::from(
                    "a namespace name pattern must be non-empty and contain no '/'",
                ));
            }
            // A pattern is a name with wildcards: what a name may not hold,
            // a pattern may not either, or a grant could not be read right.
            check_ns_name(s).map_err(|e| e.message)?;
            Ok(Glob::new(s))
        })
    }

    fn operations(&self, key: &str, values: Vec<S>) -> Result<Vec<Glob>, PolicyError> {
        self.list(key, values, |s| {
            let g = Glob::new(s);
            if Operation::STEPS.iter().any(|op| g.matches(op.as_str())) {
                Ok(g)
            } else {
                Err(format!(
                    "matches no operation; operations are named like \"link.add-macvlan\" or \"route.*\" ({})",
                    Operation::STEPS
                        .iter()
                        .map(|o| o.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        })
    }

    fn prefixes(&self, key: &str, values: Vec<S>) -> Result<Vec<Cidr>, PolicyError> {
        self.list(key, values, |s| {
            let c = Cidr::parse(s, "prefix", false).map_err(|e| e.message)?;
            if c.network() != c {
                return Err(format!("has host bits set; did you mean {}?", c.network()));
            }
            Ok(c)
        })
    }

    fn ranges(
        &self,
        key: &str,
        values: Vec<Spanned<RawRange>>,
        min: u32,
        max: u32,
    ) -> Result<Vec<RangeInclusive<u32>>, PolicyError> {
        values
            .iter()
            .map(|v| {
                v.get_ref().range(min, max).map_err(|why| {
                    PolicyError(format!(
                        "policy {} line {}: {key}: {}: {why}",
                        self.name,
                        self.line_of(v.span().start),
                        v.get_ref()
                    ))
                })
            })
            .collect()
    }

    fn grants(&self, key: &str, values: Vec<RawLinkGrant>) -> Result<Vec<LinkGrant>, PolicyError> {
        values
            .into_iter()
            .map(|g| {
                check_ns_name(g.namespace.get_ref())
                    .map_err(|e| self.err(&format!("{key} namespace"), &g.namespace, e.message))?;
                check_link_name(g.link.get_ref())
                    .map_err(|e| self.err(&format!("{key} link"), &g.link, e.message))?;
                Ok(LinkGrant {
                    namespace: g.namespace.into_inner(),
                    link: g.link.into_inner(),
                })
            })
            .collect()
    }

    fn size(&self, key: &str, v: &S, range: SizeRange) -> Result<u64, PolicyError> {
        range
            .parse(v.get_ref())
            .map_err(|why| self.err(key, v, why))
    }

    fn duration(&self, key: &str, v: &S) -> Result<Duration, PolicyError> {
        parse_deadline(v.get_ref()).map_err(|why| self.err(key, v, why))
    }
}

/// Resolves one `[exec] commands` entry: an absolute path as it is, a bare
/// name on [`EXEC_PATH`]; then every symbolic link, so that what runs
/// is fixed now and a link changed later cannot change it.
fn resolve_command(given: &str) -> Result<ExecCommand, String> {
    use std::os::unix::fs::PermissionsExt;
    let found = if given.starts_with('/') {
        PathBuf::from(given)
    } else if given.is_empty() || given.contains('/') || given == "." || given == ".." {
        return Err("a relative path; give an absolute path or a bare name".into());
    } else {
        EXEC_PATH
            .split(':')
            .map(|d| Path::new(d).join(given))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("not found on {EXEC_PATH}"))?
    };
    let path = std::fs::canonicalize(&found).map_err(|e| format!("{}: {e}", found.display()))?;
    let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("{} is not an executable file", path.display()));
    }
    // Fixed now means fixed later only if nobody else can replace it: the
    // file and every directory above it must be the operator's (root's)
    // and writable by nobody else — not the [exec] user, whose programs
    // could otherwise swap what the next run starts.
    for p in path.ancestors() {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if (m.uid() != 0 && m.uid() != me) || m.mode() & 0o022 != 0 {
            return Err(format!(
                "{}: {} is {}, so others could replace what runs; list a program only root can change",
                path.display(),
                p.display(),
                if m.uid() != 0 && m.uid() != me {
                    "owned by another user".to_string()
                } else {
                    format!("writable by others (mode {:o})", m.mode() & 0o7777)
                }
            ));
        }
    }
    Ok(ExecCommand {
        given: given.to_string(),
        found,
        path,
    })
}

/// The sizes a size limit may take, the same in a policy and on the
/// command line.
#[derive(Debug, Clone, Copy)]
pub struct SizeRange {
    pub min: u64,
    pub max: u64,
}

/// `[limits] memory`, `--limit-memory`: at least one WebAssembly page, at
/// most what a 32-bit memory can address.
pub const MEMORY_RANGE: SizeRange = SizeRange {
    min: 1 << 16,
    max: 4 << 30,
};
/// `[limits] output`, `--limit-output`.
pub const OUTPUT_RANGE: SizeRange = SizeRange {
    min: 0,
    max: 1 << 30,
};
/// `[quotas] program-log`: a program's every file (its logs in the state
/// directory above all, on `/run` a tmpfs in memory) is cut there, so not
/// more than a gibibyte; below a page, a program could not even say why
/// it failed.
pub const PROGRAM_LOG_RANGE: SizeRange = SizeRange {
    min: 4 << 10,
    max: 1 << 30,
};
/// `[exec] max-tasks`: the kernel's own ceiling on pids (`pid_max`).
const MAX_TASKS: u64 = 1 << 22;
/// `[limits] args`, `--limit-args`.
pub const ARGS_RANGE: SizeRange = SizeRange {
    min: 0,
    max: 16 << 20,
};

/// The longest deadline a run may have: a guest stuck in a host call (a
/// probe, the kernel) holds the lab's lock until it ends.
pub const MAX_DEADLINE: Duration = Duration::from_secs(24 * 3600);

impl SizeRange {
    /// Parses a size and checks it is in range; the error says why not.
    pub fn parse(self, s: &str) -> Result<u64, String> {
        let n = parse_size(s).ok_or("expected a size like 64MiB, 512KiB or 1048576")?;
        if n < self.min || n > self.max {
            return Err(format!(
                "must be between {} and {}",
                bytes(self.min),
                bytes(self.max)
            ));
        }
        Ok(n)
    }
}

/// Parses a deadline and checks it is between 1ms and [`MAX_DEADLINE`].
pub fn parse_deadline(s: &str) -> Result<Duration, String> {
    let secs = seconds(s).ok_or("expected a duration like 60s, 500ms or 5m")?;
    // Checked as a number: converting first would fail past u64 seconds.
    if !(0.001..=MAX_DEADLINE.as_secs_f64()).contains(&secs) {
        return Err("must be between 1ms and 24h".into());
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// Parses `64MiB`, `512KiB`, `1GiB`, `10MB`, `4096` (bytes). `None` for
/// anything else, a number past `u64` included.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Parses `60s`, `500ms`, `5m`, `1h`, `1.5s`. `None` for anything else,
/// and for durations `Duration` cannot hold.
pub fn parse_duration(s: &str) -> Option<Duration> {
    Duration::try_from_secs_f64(seconds(s)?).ok()
}

/// The seconds a duration like `1.5s` or `5m` stands for.
fn seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then_some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_example_parses() {
        let p = parse(
            r#"
[namespaces]
create = ["lab-*"]
open = ["upstream"]
delete-opened = false

[links]
kinds = ["macvlan", "veth"]
macvlan-modes = ["bridge", "vepa"]
parents = [{ namespace = "upstream", link = "eth0" }]

[addresses]
allow = ["172.16.10.0/24"]

[routes]
destinations = ["0.0.0.0/0"]
gateways = ["172.16.10.1/32"]

[operations]
deny = ["link.move-to"]

[quotas]
namespaces = 4

[limits]
memory = "32MiB"
deadline = "10s"
"#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(p.quotas.namespaces, 4);
        assert_eq!(p.limits.memory, 32 << 20);
        assert_eq!(p.limits.deadline, Duration::from_secs(10));
        assert!(p.check_ns_create("lab-x").is_ok());
        assert!(p.check_ns_create("prod").is_err());
        assert!(p.check_operation(Operation::LinkMoveTo, "x").is_err());
        assert!(p.check_operation(Operation::LinkAddVeth, "x").is_ok());
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = parse(
            "[namespaces]\ncreate = [\"a\"]\ncreat = [\"b\"]\n",
            "t.toml",
        )
        .unwrap_err();
        assert!(e.0.contains("line 3"), "{e}");
        assert!(e.0.contains("creat"), "{e}");
        assert!(!e.0.contains('\n'), "{e}");
    }

    #[test]
    fn bad_value_names_key_and_line() {
        let e = parse(
            "[addresses]\nallow = [\n  \"10.0.0.0/8\",\n  \"10.0.0.0/40\",\n]\n",
            "t.toml",
        )
        .unwrap_err();
        assert_eq!(
            e.0,
            "policy t.toml line 4: [addresses] allow: \"10.0.0.0/40\": prefix \"10.0.0.0/40\": prefix length must be 0 to 32"
        );
        let e = parse("[limits]\nmemory = \"lots\"\n", "t.toml").unwrap_err();
        assert!(
            e.0.starts_with("policy t.toml line 2: [limits] memory: \"lots\""),
            "{e}"
        );
        let e = parse("[operations]\nallow = [\"link.teleport\"]\n", "t.toml").unwrap_err();
        assert!(
            e.0.contains("line 2") && e.0.contains("link.teleport"),
            "{e}"
        );
    }

    #[test]
    fn exec_commands_others_could_replace_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        // Under the temporary directory (mode 1777): anyone could swap it.
        let dir = std::env::temp_dir().join(format!("netwasm-exec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prog = dir.join("prog");
        std::fs::copy("/bin/true", &prog).unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = parse(
            &format!("[exec]\ncommands = [{:?}]\n", prog.display().to_string()),
            "t.toml",
        )
        .unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(e.0.contains("writable by others"), "{e}");
    }

    #[test]
    fn exec_commands_resolve_on_the_fixed_path() {
        let p = parse("[exec]\ncommands = [\"sh\", \"/bin/true\"]\n", "t.toml").unwrap();
        let sh = p.check_exec("sh").unwrap();
        assert!(sh.path.is_absolute() && sh.found.ends_with("sh"), "{sh:?}");
        assert!(p.check_exec("/bin/true").is_ok());
        assert!(p.exec.user.ids.is_some_and(|(u, _)| u != 0));
        let e = p.check_exec("ls").unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Denied);
        assert!(e.message.contains("add \"ls\" to [exec] commands"), "{e:?}");
        assert_eq!(
            p.check_exec("bin/true").unwrap_err().kind,
            crate::error::ErrorKind::InvalidArgument
        );
        assert!(Policy::default().check_exec("sh").is_err());
        for (text, why) in [
            ("commands = [\"bin/sh\"]", "relative path"),
            ("commands = [\"no-such-program-here\"]", "not found on"),
            ("commands = [\"/etc/passwd\"]", "not an executable"),
            ("commands = [\"/tmp\"]", "not an executable"),
            ("user = \"root\"", "unprivileged"),
            ("user = \"no-such-user-here\"", "no such user"),
        ] {
            let e = parse(&format!("[exec]\n{text}\n"), "t.toml").unwrap_err();
            assert!(e.0.starts_with("policy t.toml line 2: [exec] "), "{e}");
            assert!(e.0.contains(why), "{e}");
        }
        let p = parse(
            "[quotas]\nprocesses = 3\nprocess-output = \"4KiB\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!((p.quotas.processes, p.quotas.process_output), (3, 4096));
        let p = Policy::default();
        assert_eq!((p.quotas.program_log, p.exec.max_tasks), (1 << 20, 128));
        let p = parse(
            "[quotas]\nprogram-log = \"64KiB\"\n[exec]\nmax-tasks = 20\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!((p.quotas.program_log, p.exec.max_tasks), (64 << 10, 20));
        for (text, why) in [
            (
                "[quotas]\nprogram-log = \"1KiB\"",
                "[quotas] program-log: \"1KiB\": must be between 4KiB and 1GiB",
            ),
            (
                "[exec]\nmax-tasks = 0",
                "[exec] max-tasks: 0: must be 1 to 4194304",
            ),
        ] {
            let e = parse(&format!("{text}\n"), "t.toml").unwrap_err();
            assert!(
                e.0.starts_with(&format!("policy t.toml line 2: {why}")),
                "{e}"
            );
        }
    }

    #[test]
    fn journal_quota() {
        assert_eq!(parse("", "t.toml").unwrap().quotas.journal, 16 << 20);
        let p = parse("[quotas]\njournal = \"256KiB\"\n", "t.toml").unwrap();
        assert_eq!(p.quotas.journal, 256 << 10);
        assert_eq!(
            parse("[quotas]\njournal = \"1GiB\"\n", "t.toml")
                .unwrap()
                .quotas
                .journal,
            1 << 30
        );
        for (value, why) in [
            ("\"1KiB\"", "must be between 64KiB and 1GiB"),
            ("\"2GiB\"", "must be between 64KiB and 1GiB"),
            ("\"lots\"", "expected a size like 64MiB"),
        ] {
            let e = parse(&format!("[quotas]\n\njournal = {value}\n"), "t.toml").unwrap_err();
            assert!(
                e.0.starts_with(&format!(
                    "policy t.toml line 3: [quotas] journal: {value}: {why}"
                )),
                "{e}"
            );
        }
        let p = parse("[quotas]\njournal = \"65536\"\n", "t.toml").unwrap();
        assert_eq!(p.quotas.journal, 65536);
    }

    #[test]
    fn names_in_grants_and_patterns_are_checked() {
        for (text, key) in [
            (
                "[links]\nparents = [{ namespace = \"up\", link = \"mv%d\" }]\n",
                "[links] parents link",
            ),
            (
                "[links]\nmanage = [{ namespace = \"u\\u202ep\", link = \"eth0\" }]\n",
                "[links] manage namespace",
            ),
            ("[root]\nlinks = [\"e\\u200bth0\"]\n", "[root] links"),
            (
                "[namespaces]\ncreate = [\"lab-\\u0435*\"]\n",
                "[namespaces] create",
            ),
            ("[namespaces]\nopen = [\"up%\"]\n", "[namespaces] open"),
        ] {
            let e = parse(text, "t.toml").unwrap_err();
            assert!(
                e.0.starts_with(&format!("policy t.toml line 2: {key}: ")),
                "{e}"
            );
        }
        assert!(parse("[namespaces]\ncreate = [\"lab-*\", \"x?\"]\n", "t.toml").is_ok());
    }

    #[test]
    fn vxlan_remotes_follow_the_addresses_unless_given() {
        let ip = |s: &str| -> std::net::IpAddr { s.parse().unwrap() };
        let bounded = parse("[addresses]\nallow = [\"10.1.0.0/16\"]\n", "t.toml").unwrap();
        assert!(
            bounded
                .check_vxlan("vx", 1, 4789, None, Some(&ip("10.1.2.3")), None)
                .is_ok()
        );
        let e = bounded
            .check_vxlan("vx", 1, 4789, None, Some(&ip("192.0.2.9")), None)
            .unwrap_err();
        assert!(e.message.contains("vxlan-remotes"), "{}", e.message);
        let given = parse(
            "[addresses]\nallow = [\"10.1.0.0/16\"]\n[links]\nvxlan-remotes = [\"192.0.2.0/24\"]\n",
            "t.toml",
        )
        .unwrap();
        assert!(
            given
                .check_vxlan("vx", 1, 4789, None, Some(&ip("192.0.2.9")), None)
                .is_ok()
        );
    }

    #[test]
    fn vxlan_ranges_and_remotes() {
        let p = parse(
            "[links]\nvxlan-ids = [42, \"100-199\", \"7\"]\nvxlan-ports = [4789]\nvxlan-remotes = [\"10.9.0.0/16\"]\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(p.vxlan_ids, vec![42..=42, 100..=199, 7..=7]);
        assert_eq!(p.vxlan_ports, vec![4789..=4789]);
        let ip = |s: &str| -> std::net::IpAddr { s.parse().unwrap() };
        assert!(
            p.check_vxlan("vx", 150, 4789, None, Some(&ip("10.9.1.2")), None)
                .is_ok()
        );
        for (text, line, want) in [
            (
                "vxlan-ids = [16777216]",
                2,
                "[links] vxlan-ids: 16777216: expected a number from 0 to 16777215",
            ),
            (
                "vxlan-ids = [\n  \"9-3\"]",
                3,
                "[links] vxlan-ids: \"9-3\": the range is empty: 9 is above 3",
            ),
            (
                "vxlan-ids = [\"1-x\"]",
                2,
                "[links] vxlan-ids: \"1-x\": expected a number",
            ),
            (
                "vxlan-ids = [-1]",
                2,
                "[links] vxlan-ids: -1: expected a number",
            ),
            (
                "vxlan-ports = [0]",
                2,
                "[links] vxlan-ports: 0: expected a number from 1 to 65535",
            ),
            (
                "vxlan-ports = [\"4789-65536\"]",
                2,
                "expected a number from 1 to 65535",
            ),
            ("vxlan-remotes = [\"10.9.0.1/16\"]", 2, "has host bits set"),
        ] {
            let e = parse(&format!("[links]\n{text}\n"), "t.toml").unwrap_err();
            assert!(
                e.0.starts_with(&format!("policy t.toml line {line}: ")),
                "{e}"
            );
            assert!(e.0.contains(want), "{e}");
            assert!(!e.0.contains('\n'), "{e}");
        }
        let e = parse("[links]\nkinds = [\"vlan\"]\n", "t.toml").unwrap_err();
        assert!(e.0.contains("macvlan, veth, bridge, vxlan"), "{e}");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64MiB"), Some(64 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1XB"), None);
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    }

    #[test]
    fn huge_and_odd_limits_are_errors_not_panics() {
        for s in [
            "99999999999999999999",
            "99999999999999999999h",
            "1e999",
            "25h",
            "0",
            "0.0001s",
            ".",
            "",
            "h",
            "1.2.3s",
            "١٢s",
        ] {
            assert!(parse_deadline(s).is_err(), "{s:?}");
        }
        assert_eq!(parse_deadline("24h"), Ok(MAX_DEADLINE));
        assert_eq!(parse_deadline("1ms"), Ok(Duration::from_millis(1)));
        for s in [
            "99999999999999999999",
            "18446744073709551615GiB",
            "5GiB",
            "1KiB",
            "-1",
            "é",
        ] {
            assert!(MEMORY_RANGE.parse(s).is_err(), "{s:?}");
        }
        assert_eq!(MEMORY_RANGE.parse("4GiB"), Ok(4 << 30));
        for (key, value) in [
            ("deadline", "\"99999999999999999999\""),
            ("deadline", "\"25h\""),
            ("memory", "\"99999999999999999999GiB\""),
            ("output", "\"2GiB\""),
            ("args", "\"1GiB\""),
            ("fuel", "-1"),
            ("fuel", "99999999999999999999"),
            ("handles", "0"),
        ] {
            let text = format!("[limits]\n{key} = {value}\n");
            let e = parse(&text, "t.toml").unwrap_err();
            assert!(e.0.starts_with("policy t.toml line 2: "), "{e}");
            assert!(!e.0.contains('\n'), "{e}");
        }
    }
}
