//! `netwasm probe`: every address of a lab pinged from every namespace of
//! the lab, as mininet's `pingall` does, printed as a matrix, as JSON
//! (`netwasm.probe/1`, docs/probe-json.md), or compared with what a file
//! expects.
//!
//! The operator's command: it runs as root, under no policy, and sends
//! its pings with netwasm's own ICMP code (`Kernel::ping`, what a guest's
//! `probe.ping` uses), never by running `ping`. Which namespaces and
//! addresses are the lab's is what `netwasm show` says: the namespaces the
//! ledger holds that are still the ones it recorded, and the global
//! addresses of the links `show` lists there. The root namespace is
//! neither probed from nor at: netwasm sends nothing from the machine's
//! own namespace.

mod expect;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{Exit, StateArgs, fail, lab_name};
use crate::inspect::view::{self, LabView};
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::ledger::StateDir;
use crate::ledger::replay::{Object, replay};
use crate::vocab::text::printable;
use crate::vocab::{NsId, PingStats, ROOT_NS};

use self::expect::{Expected, Mismatch};

/// The `schema` value of `netwasm probe --json`.
pub const SCHEMA: &str = "netwasm.probe/1";

/// The most pairs one `probe` pings. Each pair may need an entry in the
/// kernel's neighbour table (ARP, NDP), which every namespace shares and
/// which holds 1024 by default (`gc_thresh3`): past it, the kernel drops
/// what it cannot resolve, and pings that would be answered look
/// unanswered. A guest's `[quotas] probes` stops at the same number. Each
/// unanswered pair also costs its timeout.
const MAX_PAIRS: usize = 1024;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    netwasm probe mylab\n  \
    netwasm probe mylab --json > golden.json\n  \
    netwasm probe mylab --expect golden.json\n\n\
    An expect file is the JSON `probe --json` prints, or lines `FROM TO yes|no` \
    (FROM a namespace, TO an address; `#` starts a comment). Exits 6 when a pair \
    is not as expected (each is listed), 2 for a lab or file that is not there \
    or not well-formed.")]
pub struct ProbeArgs {
    /// The lab's name.
    #[arg(value_name = "LAB", value_parser = lab_name)]
    pub lab: String,
    /// Print JSON for scripts: schema "netwasm.probe/1", every field
    /// documented in docs/probe-json.md.
    #[arg(long)]
    pub json: bool,
    /// Compare with the reachability FILE expects; exit 6 on a mismatch.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// How long to wait for each reply, e.g. 500ms (1ms to 60s).
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub timeout: String,
    /// Pings sent again to an address that did not answer (0 to 5).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(0..=5))]
    pub retries: u32,
    /// Probe from this namespace only (repeat for more); all the lab's
    /// addresses are still probed.
    #[arg(long, value_name = "NAMESPACE")]
    pub from: Vec<String>,
    /// How many pings are under way at once (1 to 256).
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
    #[command(flatten)]
    pub state: StateArgs,
}

/// An address of the lab: where it is, and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    pub ns: String,
    pub link: String,
    pub address: String,
}

/// One ping's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub from: String,
    pub to: Target,
    pub reachable: bool,
    /// The round trip of the reply, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Why the probe could not tell (not "no route", which is an
    /// answer: unreachable).
    pub error: Option<String>,
}

/// A namespace of the lab not probed from, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub ns: String,
    pub why: String,
}

/// What `--expect` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectReport {
    pub file: String,
    pub checked: usize,
    pub mismatches: Vec<Mismatch>,
}

/// Everything `netwasm probe` reports: the `netwasm.probe/1` schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probed {
    pub schema: String,
    pub lab: String,
    pub timeout_ms: u64,
    pub retries: u32,
    /// The namespaces probed from, in the ledger's order.
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    pub targets: Vec<Target>,
    /// One per namespace and address of another namespace, by namespace
    /// then address.
    pub results: Vec<ProbeResult>,
    pub probed: usize,
    pub reachable: usize,
    #[serde(default)]
    pub expect: Option<ExpectReport>,
}

pub async fn probe(args: ProbeArgs) -> anyhow::Result<Exit> {
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    let timeout = crate::policy::file::parse_duration(&args.timeout)
        .filter(|d| *d >= Duration::from_millis(1) && *d <= Duration::from_secs(60))
        .ok_or_else(|| {
            fail(
                Exit::BadInput,
                format!(
                    "--timeout {:?}: give a duration from 1ms to 60s, like 500ms",
                    args.timeout
                ),
            )
        })?;
    let lab = &args.lab;
    let dir = StateDir::new(&args.state.state_dir);
    if !dir.exists(lab) {
        return Err(super::labs::no_such_lab(&dir, lab));
    }
    let expected = match &args.expect {
        Some(p) => Some(expect::read(p).map_err(|e| fail(Exit::BadInput, e))?),
        None => None,
    };
    let journal = dir
        .read(lab)
        .with_context(|| format!("lab {lab}: cannot read its journal"))?;
    let objects = replay(&journal.entries);
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    let v = view::gather(kernel.as_ref(), lab, &objects, journal.damage, Some(&dir)).await;
    for ns in &args.from {
        if !v.namespaces.iter().any(|n| n.name == *ns) {
            return Err(fail(
                Exit::BadInput,
                format!(
                    "--from {:?}: lab {lab} holds no such namespace (see `netwasm show {lab}`)",
                    printable(ns)
                ),
            ));
        }
    }
    let targets = targets(&v);
    let pairs: usize = v
        .namespaces
        .iter()
        .filter(|n| args.from.is_empty() || args.from.contains(&n.name))
        // Only namespaces pinged from count: those it skips send nothing.
        .filter(|n| probed_from(n).is_ok())
        .map(|n| targets.iter().filter(|t| t.ns != n.name).count())
        .sum();
    if pairs > MAX_PAIRS {
        return Err(fail(
            Exit::BadInput,
            format!(
                "lab {lab}: {pairs} pairs to probe, more than the {MAX_PAIRS} netwasm probe sends in one go; probe from fewer namespaces at a time with --from"
            ),
        ));
    }
    let mut report = run(kernel, &v, &objects, &args, timeout).await;
    if let (Some(list), Some(path)) = (expected, &args.expect) {
        report.expect = Some(ExpectReport {
            file: path.display().to_string(),
            checked: list.len(),
            mismatches: compare(&report, &list),
        });
    }
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&report).expect("a probe report serializes");
        s.push('\n');
        s
    } else {
        table(&report)
    };
    super::print_out(&out)?;
    Ok(match &report.expect {
        Some(e) if !e.mismatches.is_empty() => Exit::Expectations,
        _ => Exit::Ok,
    })
}

/// The addresses `show` lists for the lab (global scope), outside the
/// root namespace.
fn targets(v: &LabView) -> Vec<Target> {
    let mut out = Vec::new();
    for ns in v.namespaces.iter().filter(|n| probed_from(n).is_ok()) {
        for l in &ns.links {
            for a in l.addresses.iter().filter(|a| a.scope == "global") {
                out.push(Target {
                    ns: ns.name.clone(),
                    link: l.name.clone(),
                    address: a.address.clone(),
                });
            }
        }
    }
    out
}

/// Whether `ns` is probed from (and at), or why not.
fn probed_from(ns: &view::NsView) -> Result<(), String> {
    if ns.name == ROOT_NS {
        return Err("the root namespace: netwasm probes only inside namespaces".into());
    }
    if !ns.present {
        return Err("the ledger records it, the kernel has no such namespace".into());
    }
    if let Some(e) = &ns.error {
        return Err(e.clone());
    }
    Ok(())
}

/// Opens `ns` if it is still the namespace the ledger recorded.
async fn open_recorded(kernel: &dyn Kernel, objects: &[Object], ns: &str) -> Result<NsId, String> {
    let recorded = objects
        .iter()
        .find(|o| o.ns() == ns && o.ns_id().is_some())
        .and_then(|o| o.ns_id());
    if !kernel.ns_exists(ns) {
        return Err("gone since it was read".into());
    }
    let (id, now) = kernel
        .ns_open(ns)
        .await
        .map_err(|e| format!("cannot open: {e}"))?;
    if let Some(r) = recorded
        && !now.same(&r)
    {
        kernel.ns_close(id);
        return Err("replaced: the name now denotes another namespace, not the lab's".into());
    }
    Ok(id)
}

/// Pings every target of another namespace from every namespace that can
/// be probed from, `jobs` at a time.
async fn run(
    kernel: Arc<dyn Kernel>,
    v: &LabView,
    objects: &[Object],
    args: &ProbeArgs,
    timeout: Duration,
) -> Probed {
    let (retries, jobs) = (args.retries, args.jobs);
    let targets = targets(v);
    let mut namespaces: Vec<(String, NsId)> = Vec::new();
    let mut skipped = Vec::new();
    let asked = |n: &view::NsView| args.from.is_empty() || args.from.contains(&n.name);
    for ns in v.namespaces.iter().filter(|n| asked(n)) {
        let opened = match probed_from(ns) {
            Ok(()) => open_recorded(kernel.as_ref(), objects, &ns.name).await,
            Err(why) => Err(why),
        };
        match opened {
            Ok(id) => namespaces.push((ns.name.clone(), id)),
            Err(why) => skipped.push(Skipped {
                ns: ns.name.clone(),
                why,
            }),
        }
    }
    let pairs: Vec<(usize, NsId, &Target, IpAddr)> = namespaces
        .iter()
        .flat_map(|(from, id)| {
            targets
                .iter()
                .filter(move |t| t.ns != *from)
                .filter_map(move |t| Some((*id, t, t.address.parse().ok()?)))
        })
        .enumerate()
        .map(|(i, (id, t, a))| (i, id, t, a))
        .collect();
    let probes = pairs.iter().map(|&(i, id, _, to)| {
        let kernel = kernel.clone();
        async move { (i, ping(kernel.as_ref(), id, to, timeout, retries).await) }
    });
    // Each ping holds a socket until its reply or its timeout: a bound
    // keeps a lab of a thousand addresses from taking a thousand sockets
    // (and the neighbour table's room) at once.
    let mut done: Vec<(usize, std::io::Result<PingStats>)> = futures::stream::iter(probes)
        .buffer_unordered(jobs as usize)
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    let by_id: HashMap<NsId, &str> = namespaces.iter().map(|(n, id)| (*id, n.as_str())).collect();
    let results: Vec<ProbeResult> = pairs
        .iter()
        .zip(done)
        .map(|(&(_, id, t, _), (_, r))| outcome(by_id[&id], t, r))
        .collect();
    for (_, id) in &namespaces {
        kernel.ns_close(*id);
    }
    Probed {
        schema: SCHEMA.to_string(),
        lab: v.lab.clone(),
        timeout_ms: timeout.as_millis() as u64,
        retries,
        namespaces: namespaces.into_iter().map(|(n, _)| n).collect(),
        skipped,
        targets: targets.clone(),
        probed: results.len(),
        reachable: results.iter().filter(|r| r.reachable).count(),
        results,
        expect: None,
    }
}

/// One packet, and again up to `retries` times while none comes back. No
/// route is an answer, not a reason to try again.
async fn ping(
    kernel: &dyn Kernel,
    id: NsId,
    to: IpAddr,
    timeout: Duration,
    retries: u32,
) -> std::io::Result<PingStats> {
    let mut last = kernel.ping(id, to, 1, timeout).await;
    for _ in 0..retries {
        match &last {
            Ok(s) if s.received == 0 => last = kernel.ping(id, to, 1, timeout).await,
            _ => break,
        }
    }
    last
}

fn outcome(from: &str, to: &Target, r: std::io::Result<PingStats>) -> ProbeResult {
    let (reachable, rtt_ms, error) = match r {
        Ok(s) if s.received > 0 => (true, s.rtt_avg_us.map(|us| f64::from(us) / 1000.0), None),
        Ok(_) => (false, None, None),
        Err(e)
            if matches!(
                crate::kernel::errno_of(&e),
                Some(libc::ENETUNREACH | libc::EHOSTUNREACH)
            ) =>
        {
            (false, None, None)
        }
        Err(e) => (false, None, Some(crate::lab::probe_error(&e))),
    };
    ProbeResult {
        from: from.to_string(),
        to: to.clone(),
        reachable,
        rtt_ms,
        error,
    }
}

/// Each expectation against what was probed: a pair not probed is a
/// mismatch too (a golden matrix must not lose a pair silently).
fn compare(report: &Probed, expected: &[Expected]) -> Vec<Mismatch> {
    let mut found: HashMap<(&str, IpAddr), &ProbeResult> = HashMap::new();
    for r in &report.results {
        if let Ok(a) = r.to.address.parse() {
            found.insert((r.from.as_str(), a), r);
        }
    }
    let own = |from: &str, to: IpAddr| {
        report
            .targets
            .iter()
            .any(|t| t.ns == from && t.address.parse() == Ok(to))
    };
    let mut out = Vec::new();
    for e in expected {
        let got = match found.get(&(e.from.as_str(), e.to)) {
            Some(r) => match &r.error {
                Some(err) => Some(format!("no answer: the probe failed: {err}")),
                None if r.reachable != e.reachable => Some(
                    if r.reachable {
                        "reachable"
                    } else {
                        "unreachable"
                    }
                    .to_string(),
                ),
                None => None,
            },
            None if !report.namespaces.contains(&e.from) => Some(format!(
                "nothing: {} is not a namespace probed from",
                e.from
            )),
            None if own(&e.from, e.to) => {
                Some("nothing: a namespace's own addresses are not probed".to_string())
            }
            None => Some(format!("nothing: {} is not an address of the lab", e.to)),
        };
        if let Some(found) = got {
            out.push(Mismatch {
                from: printable(&e.from),
                to: e.to.to_string(),
                expected: e.reachable,
                found,
            });
        }
    }
    out
}

/// The report as text: the targets numbered, then one row per namespace
/// with a mark per target (`ok` replies, `--` none, `??` the probe
/// failed, `.` the namespace's own address).
fn table(r: &Probed) -> String {
    let mut out = String::new();
    outln!(
        out,
        "lab {}: {} namespaces probed, {} addresses ({} ms timeout, {} retr{})",
        r.lab,
        r.namespaces.len(),
        r.targets.len(),
        r.timeout_ms,
        r.retries,
        if r.retries == 1 { "y" } else { "ies" }
    );
    for s in &r.skipped {
        outln!(out, "not probed from {}: {}", s.ns, s.why);
    }
    if r.targets.is_empty() || r.namespaces.is_empty() {
        outln!(out, "nothing to probe");
    } else {
        let w_addr = r.targets.iter().map(|t| t.address.len()).max().unwrap_or(0);
        let w_num = r.targets.len().to_string().len();
        out.push('\n');
        for (i, t) in r.targets.iter().enumerate() {
            outln!(
                out,
                "  {:>w_num$}  {:<w_addr$}  {}@{}",
                i + 1,
                t.address,
                t.link,
                t.ns
            );
        }
        out.push('\n');
        let w_ns = r
            .namespaces
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(4)
            .max(4);
        let w_col = w_num.max(2);
        let mut head = format!("{:<w_ns$}", "FROM");
        for i in 0..r.targets.len() {
            head += &format!("  {:>w_col$}", i + 1);
        }
        outln!(out, "{head}");
        let mut cell: HashMap<(&str, &Target), &ProbeResult> = HashMap::new();
        for res in &r.results {
            cell.insert((res.from.as_str(), &res.to), res);
        }
        for ns in &r.namespaces {
            let mut row = format!("{ns:<w_ns$}");
            for t in &r.targets {
                let mark = match cell.get(&(ns.as_str(), t)) {
                    Some(res) if res.error.is_some() => "??",
                    Some(res) if res.reachable => "ok",
                    Some(_) => "--",
                    None => ".",
                };
                row += &format!("  {mark:>w_col$}");
            }
            outln!(out, "{row}");
        }
        out.push('\n');
    }
    for res in r.results.iter().filter(|res| res.error.is_some()) {
        outln!(
            out,
            "could not probe {} from {}: {}",
            res.to.address,
            res.from,
            res.error.as_deref().unwrap_or_default()
        );
    }
    outln!(out, "{}/{} reachable", r.reachable, r.probed);
    if let Some(e) = &r.expect {
        outln!(
            out,
            "expectations ({}): {} checked, {} not met",
            e.file,
            e.checked,
            e.mismatches.len()
        );
        for m in &e.mismatches {
            outln!(out, "  MISMATCH {m}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ns: &str, link: &str, address: &str) -> Target {
        Target {
            ns: ns.into(),
            link: link.into(),
            address: address.into(),
        }
    }

    fn report() -> Probed {
        let targets = vec![t("a", "v0", "10.0.0.1"), t("b", "v1", "10.0.0.2")];
        let result = |from: &str, to: &Target, reachable| ProbeResult {
            from: from.into(),
            to: to.clone(),
            reachable,
            rtt_ms: reachable.then_some(0.05),
            error: None,
        };
        Probed {
            schema: SCHEMA.into(),
            lab: "t".into(),
            timeout_ms: 1000,
            retries: 1,
            namespaces: vec!["a".into(), "b".into()],
            skipped: vec![],
            results: vec![
                result("a", &targets[1], true),
                result("b", &targets[0], false),
            ],
            targets,
            probed: 2,
            reachable: 1,
            expect: None,
        }
    }

    fn expected(from: &str, to: &str, reachable: bool) -> Expected {
        Expected {
            from: from.into(),
            to: to.parse().unwrap(),
            reachable,
        }
    }

    #[test]
    fn the_matrix_marks_each_pair() {
        let text = table(&report());
        assert!(text.contains("FROM   1   2\n"), "{text}");
        assert!(text.contains("a      .  ok\n"), "{text}");
        assert!(text.contains("b     --   .\n"), "{text}");
        assert!(
            text.starts_with(
                "lab t: 2 namespaces probed, 2 addresses (1000 ms timeout, 1 retry)\n"
            ),
            "{text}"
        );
        assert!(text.contains("  1  10.0.0.1  v0@a\n"), "{text}");
        assert!(text.ends_with("1/2 reachable\n"), "{text}");
    }

    #[test]
    fn its_own_json_is_an_expectation_met() {
        let r = report();
        let json = serde_json::to_string(&r).unwrap();
        let back: Probed = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let list = expect::read_str_for_tests(&json);
        assert_eq!(compare(&r, &list), vec![]);
    }

    #[test]
    fn mismatches_say_what_was_found() {
        let r = report();
        let m = compare(
            &r,
            &[
                expected("a", "10.0.0.2", false),
                expected("c", "10.0.0.2", true),
                expected("a", "10.0.0.1", true),
                expected("a", "10.9.9.9", true),
            ],
        );
        let lines: Vec<String> = m.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            vec![
                "a -> 10.0.0.2: expected unreachable, found reachable",
                "c -> 10.0.0.2: expected reachable, found nothing: c is not a namespace probed from",
                "a -> 10.0.0.1: expected reachable, found nothing: a namespace's own addresses are not probed",
                "a -> 10.9.9.9: expected reachable, found nothing: 10.9.9.9 is not an address of the lab",
            ]
        );
    }
}
