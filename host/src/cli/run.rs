//! `netwasm run`: one run of a lab script, as a transaction.

use std::path::Path;
use std::sync::Arc;

use super::{Exit, LimitArgs, RunArgs, fail};
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::lab::Lab;
use crate::lab::audit::Audit;
use crate::ledger::replay::{Object, replay};
use crate::ledger::undo;
use crate::ledger::{Entry, RunOutcome, StateDir};
use crate::policy::file::{
    self, ARGS_RANGE, MEMORY_RANGE, OUTPUT_RANGE, PolicyError, SizeRange, parse_deadline,
};
use crate::policy::{Limits, Policy};
use crate::runtime::cache::{self, Cache};
use crate::runtime::stdio::{self, GuestOutput};
use crate::runtime::{Outcome, Runtime};
use crate::vocab::limit::bytes;

/// The policy for a run: the file's, or the default, with CLI overrides.
pub fn load_policy(path: Option<&Path>, limits: &LimitArgs) -> anyhow::Result<Policy> {
    let mut policy = match path {
        Some(p) => file::load(p)?,
        None => Policy::default(),
    };
    apply_limit_args(&mut policy.limits, limits)?;
    Ok(policy)
}

/// Applies `--limit-*` flags with the same ranges as the policy's
/// `[limits]`, each error one line naming the flag and its value.
fn apply_limit_args(l: &mut Limits, a: &LimitArgs) -> anyhow::Result<()> {
    let bad = |flag: &str, v: &str, why: &str| PolicyError(format!("--{flag} {v:?}: {why}"));
    let size =
        |flag: &str, v: &str, range: SizeRange| range.parse(v).map_err(|why| bad(flag, v, &why));
    if let Some(v) = &a.limit_memory {
        l.memory = size("limit-memory", v, MEMORY_RANGE)?;
    }
    if let Some(v) = &a.limit_deadline {
        l.deadline = parse_deadline(v).map_err(|why| bad("limit-deadline", v, &why))?;
    }
    if let Some(v) = a.limit_fuel {
        if v == 0 {
            return Err(bad("limit-fuel", "0", "must be positive").into());
        }
        l.fuel = v;
    }
    if let Some(v) = a.limit_handles {
        if v == 0 {
            return Err(bad("limit-handles", "0", "must be positive").into());
        }
        l.handles = v;
    }
    if let Some(v) = &a.limit_output {
        l.output = size("limit-output", v, OUTPUT_RANGE)?;
    }
    if let Some(v) = &a.limit_args {
        l.args = size("limit-args", v, ARGS_RANGE)?;
    }
    Ok(())
}

/// The most of a guest's error message that the report repeats.
const MAX_GUEST_MESSAGE: usize = 4096;

/// The default lab name: the guest's file name without `.wasm`, made safe.
fn default_lab_name(guest: &Path) -> String {
    let stem = guest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() || name == "." || name == ".." {
        "lab".into()
    } else {
        name
    }
}

pub fn make_cache(args: &RunArgs) -> Option<Cache> {
    if args.no_cache {
        return None;
    }
    Some(Cache::new(
        args.cache_dir.clone().unwrap_or_else(Cache::default_dir),
    ))
}

/// Raises the soft limit on open files to the hard limit. A run holds two
/// descriptors per namespace it has open (the namespace and a netlink socket
/// inside it), so a lab of a thousand namespaces needs more than the common
/// default soft limit of 1024. Best effort: at worst a big lab fails with
/// EMFILE, as before.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Waits for SIGINT or SIGTERM and says which.
async fn signalled() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

fn say(msg: impl AsRef<str>) {
    eprintln!("netwasm: {}", msg.as_ref());
}

fn summarize(objects: &[Object]) -> String {
    let count = |f: fn(&Object) -> bool, one: &str, many: &str| {
        let n = objects.iter().filter(|o| f(o)).count();
        format!("{n} {}", if n == 1 { one } else { many })
    };
    [
        count(
            |o| matches!(o, Object::Ns { .. }),
            "namespace",
            "namespaces",
        ),
        count(|o| matches!(o, Object::Link { .. }), "link", "links"),
        count(|o| matches!(o, Object::Addr { .. }), "address", "addresses"),
        count(|o| matches!(o, Object::Route { .. }), "route", "routes"),
    ]
    .join(", ")
}

pub async fn run(args: RunArgs) -> anyhow::Result<Exit> {
    // Everything about the input is checked before anything is created.
    let policy = load_policy(args.policy.as_deref(), &args.limits)?;
    let arg_bytes: u64 = args.args.iter().map(|a| a.len() as u64 + 1).sum();
    if arg_bytes > policy.limits.args {
        return Err(fail(
            Exit::BadInput,
            format!(
                "the guest's arguments are {arg_bytes} bytes; its args limit is {} (raise it with --limit-args or [limits] args)",
                bytes(policy.limits.args)
            ),
        ));
    }
    raise_fd_limit();
    let runtime = Runtime::new(make_cache(&args))?;
    let guest = runtime.load(&args.guest)?;
    if guest.origin == cache::Origin::Compiled {
        say(format!(
            "compiled {} (cached for next time)",
            args.guest.display()
        ));
    }
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    // Before the lab is locked or its journal touched: a path that cannot
    // be written is bad input, and changes nothing.
    let audit = args
        .audit
        .as_deref()
        .map(Audit::create)
        .transpose()
        .map_err(|e| fail(Exit::BadInput, format!("{e:#}")))?;

    let lab_name = args
        .lab
        .clone()
        .unwrap_or_else(|| default_lab_name(&args.guest));
    let state = StateDir::new(&args.state.state_dir);
    let lock = state.lock(&lab_name)?;
    let journal = state.read(&lab_name)?;
    if let Some(damage) = &journal.damage {
        say(format!(
            "warning: lab {lab_name}: journal {}: {damage}",
            state.journal_path(&lab_name).display()
        ));
    }
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    let mut prior = replay(&journal.entries);
    let mut lock = lock;
    if !prior.is_empty() {
        if args.replace {
            let report = undo::undo(kernel.as_ref(), &prior, false).await;
            say(format!("lab {lab_name}: replaced: {}", report.summary()));
            if !report.is_complete() {
                return Err(fail(
                    Exit::Incomplete,
                    format!("lab {lab_name}: could not tear the old lab down; not running"),
                ));
            }
            state.remove(&lab_name)?;
            prior.clear();
            // The lock file went with the lab's directory; take a new one.
            lock = state.lock(&lab_name)?;
        } else if !args.attach {
            return Err(fail(
                Exit::Refused,
                format!(
                    "lab {lab_name} is up ({}); remove it with `netwasm down {lab_name}`, or run with --replace or --attach",
                    summarize(&prior)
                ),
            ));
        }
    }
    let ledger = state.ledger(&lab_name, &lock)?;
    ledger.set_cap(policy.quotas.journal);
    ledger.append(&Entry::Begin {
        pid: std::process::id(),
        guest: args.guest.display().to_string(),
        args: args.args.clone(),
        time: crate::time::unix_millis(),
    })?;

    let policy = Arc::new(policy);
    let mut lab = Lab::new(kernel.clone(), policy.clone()).with_ledger(ledger);
    for refused in lab.adopt(&prior).await? {
        say(format!(
            "warning: lab {lab_name}: not attached, not the lab's to hand over: {refused}"
        ));
    }
    if let Some(audit) = audit {
        lab = lab.with_audit(audit);
    }
    let output = GuestOutput::new(policy.limits.output, args.quiet);
    let (outcome, mut lab) = runtime
        .run(
            &guest,
            lab,
            args.args.clone(),
            &policy.limits,
            &output,
            signalled(),
        )
        .await;
    // A deadline or a signal drops the guest mid-call: a namespace it was
    // creating may still be on its way on a namespace thread. Let it land
    // (recorded) and stop the rest, so that what is undone below is all
    // there is.
    kernel.settle().await;
    // Expectations still pending when `run` returns are checked now; any
    // unmet one fails the run.
    let unmet = match outcome {
        Outcome::Success => lab.finish_expectations().await.len(),
        _ => 0,
    };
    let ledger = lab.take_ledger().expect("the lab was given a ledger");
    drop(lab);

    let (exit, why) = match outcome {
        Outcome::Success if unmet > 0 => (
            Exit::Expectations,
            format!(
                "{unmet} reachability expectation{} not met",
                if unmet == 1 { " was" } else { "s were" }
            ),
        ),
        Outcome::Success => {
            ledger.append(&Entry::End {
                outcome: RunOutcome::Committed,
            })?;
            // What the whole journal leaves up. Replay is a fold from
            // nothing, so when the earlier runs left nothing up it is what
            // this run's entries leave up: no need to read the journal back.
            let all = if prior.is_empty() {
                replay(&ledger.this_run())
            } else {
                replay(&state.read(&lab_name)?.entries)
            };
            if all.is_empty() {
                state.remove(&lab_name)?;
                say(format!("lab {lab_name}: done; nothing is left up"));
            } else {
                ledger.sync()?;
                say(format!(
                    "lab {lab_name} is up: {} (`netwasm down {lab_name}` removes it)",
                    summarize(&all)
                ));
            }
            return Ok(Exit::Ok);
        }
        Outcome::GuestError(msg) => (
            Exit::GuestFailed,
            format!(
                "the guest's run failed: {}",
                // One line of a report, not a channel around the output limit.
                stdio::clip(&stdio::neutralise(msg.as_bytes()), MAX_GUEST_MESSAGE)
            ),
        ),
        Outcome::Exited(status) => (
            Exit::GuestFailed,
            format!("the guest exited with status {status}"),
        ),
        Outcome::Limit(hit) => (Exit::Stopped, hit.to_string()),
        Outcome::Trap(msg) => (Exit::Stopped, msg),
        Outcome::HostError(e) => (
            Exit::Internal,
            format!("netwasm failed while running the guest: {e:#}"),
        ),
        Outcome::Cancelled(sig) => (
            if sig == "SIGTERM" {
                Exit::Terminated
            } else {
                Exit::Interrupted
            },
            format!("interrupted by {sig}"),
        ),
    };
    say(format!("lab {lab_name}: {why}"));
    let created = replay(&ledger.this_run());
    if args.keep_on_error {
        ledger.append(&Entry::End {
            outcome: RunOutcome::Kept,
        })?;
        ledger.sync()?;
        say(format!(
            "lab {lab_name}: kept what the run built ({}) for debugging; `netwasm down {lab_name}` removes it",
            summarize(&created)
        ));
        return Ok(exit);
    }
    let report = undo::undo(kernel.as_ref(), &created, false).await;
    // Only a complete rollback cancels the run's entries; otherwise what is
    // left stays recorded for `netwasm down` to retry.
    let outcome = if report.is_complete() {
        RunOutcome::RolledBack
    } else {
        RunOutcome::RollbackIncomplete
    };
    ledger.append(&Entry::End { outcome })?;
    say(format!("lab {lab_name}: rolled back: {}", report.summary()));
    if replay(&state.read(&lab_name)?.entries).is_empty() && report.is_complete() {
        state.remove(&lab_name)?;
    } else {
        ledger.sync()?;
    }
    if !report.is_complete() {
        return Ok(Exit::Incomplete);
    }
    Ok(exit)
}
