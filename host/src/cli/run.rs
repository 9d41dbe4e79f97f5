//! `netwasm run`: one run of a lab script, as a transaction.

use std::path::Path;
use std::sync::Arc;

use super::{Exit, LimitArgs, RunArgs, fail};
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::lab::audit::Audit;
use crate::ledger::StateDir;
use crate::ledger::lab_state::{self, LabState};
use crate::policy::file::{
    self, ARGS_RANGE, MEMORY_RANGE, OUTPUT_RANGE, PolicyError, SizeRange, parse_deadline,
};
use crate::policy::{Limits, Policy};
use crate::runtime::cache;
use crate::runtime::stdio::{self, GuestOutput};
use crate::runtime::{Outcome, Runtime};
use crate::session::{Closed, End, GuestRun, OpenError, Opening, Session, summarize};
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
pub fn default_lab_name(guest: &Path) -> String {
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

/// A guest that ships inside netwasm (`up`'s topology guest), run in
/// place of `RunArgs::guest`.
pub struct Builtin<'a> {
    /// How messages and the journal name it.
    pub shown: &'a str,
    pub wasm: &'a [u8],
    /// What the journal records as the run's arguments, in place of those
    /// the guest gets.
    pub recorded_args: &'a [String],
    /// A guest error that starts with this is bad input (exit 2), reported
    /// without it, when the run built nothing.
    pub bad_input: &'a str,
}

pub async fn run(args: RunArgs) -> anyhow::Result<Exit> {
    run_with(args, None).await
}

/// `run`, of the guest file `args.guest` or of a built-in guest.
pub async fn run_with(args: RunArgs, builtin: Option<Builtin<'_>>) -> anyhow::Result<Exit> {
    // Everything about the input is checked before anything is created.
    let policy = load_policy(args.policy.as_deref(), &args.limits)?;
    check_arg_bytes(&args.args, &policy)?;
    raise_fd_limit();
    let runtime = Runtime::new(args.cache.cache())?;
    let shown = match &builtin {
        Some(b) => b.shown.to_string(),
        None => args.guest.display().to_string(),
    };
    let guest = match &builtin {
        Some(b) => b.load(&runtime)?,
        None => runtime.load(&args.guest)?,
    };
    if guest.origin == cache::Origin::Compiled {
        say(format!("compiled {shown} (cached for next time)"));
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
    let opening = if args.replace {
        Opening::Replace
    } else if args.attach {
        Opening::Attach
    } else {
        Opening::Fresh
    };
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    let policy = Arc::new(policy);
    let session = Session::open(
        kernel,
        policy.clone(),
        StateDir::new(&args.state.state_dir),
        &lab_name,
        opening,
        shown,
        builtin.as_ref().map_or(&args.args[..], |b| b.recorded_args),
        Arc::new(say),
    )
    .await;
    let mut session = match session {
        Ok(s) => s,
        Err(OpenError::LabUp(holds)) => {
            // Named as `ls` names it: an interrupted lab is not "up".
            let a = lab_state::assess(&StateDir::new(&args.state.state_dir), &lab_name);
            let why = match a.state {
                LabState::Up => String::new(),
                _ => format!("; {}", a.why),
            };
            return Err(fail(
                Exit::Refused,
                format!(
                    "lab {lab_name} is {} ({holds}{why}); remove it with `netwasm down {lab_name}`, or run with --replace or --attach",
                    a.state
                ),
            ));
        }
        Err(OpenError::ReplaceIncomplete) => {
            return Err(fail(
                Exit::Incomplete,
                format!("lab {lab_name}: could not tear the old lab down; not running"),
            ));
        }
        Err(OpenError::Other(e)) => return Err(e),
    };
    if let Some(audit) = audit {
        session = session.with_audit(audit);
    }
    let mut output = GuestOutput::new(policy.limits.output, args.quiet);
    if args.json {
        // Standard output is the report's alone.
        output = output.all_to_stderr();
    }
    let closed = session
        .run(
            GuestRun {
                runtime: &runtime,
                guest: &guest,
                args: args.args.clone(),
                output: &output,
                keep_on_error: args.keep_on_error,
            },
            signalled(),
        )
        .await?;
    if let Some(bad) = bad_input(builtin.as_ref(), &closed) {
        return Err(bad);
    }
    if args.json {
        return super::run_json::report(&lab_name, &args, builtin.as_ref(), closed);
    }
    report(&lab_name, closed, &args.state.state_dir)
}

impl Builtin<'_> {
    /// Loads (compiles, or takes from the cache) and checks the guest.
    pub fn load(&self, runtime: &Runtime) -> anyhow::Result<crate::runtime::Guest> {
        let inspected = runtime.inspect_bytes(self.shown, self.wasm)?;
        runtime.accept(self.shown, inspected)
    }
}

/// A built-in guest's report of bad input, once its run left nothing.
pub fn bad_input(builtin: Option<&Builtin<'_>>, closed: &Closed) -> Option<anyhow::Error> {
    let b = builtin?;
    let Outcome::GuestError(msg) = &closed.outcome else {
        return None;
    };
    let what = msg.strip_prefix(b.bad_input)?;
    matches!(&closed.end, Ok(End::RolledBack(undo)) if undo.is_complete()).then(|| {
        fail(
            Exit::BadInput,
            stdio::clip(&stdio::neutralise(what.as_bytes()), MAX_GUEST_MESSAGE),
        )
    })
}

/// The guest's arguments against its `args` limit.
pub fn check_arg_bytes(args: &[String], policy: &Policy) -> anyhow::Result<()> {
    let arg_bytes: u64 = args.iter().map(|a| a.len() as u64 + 1).sum();
    if arg_bytes > policy.limits.args {
        return Err(fail(
            Exit::BadInput,
            format!(
                "the guest's arguments are {arg_bytes} bytes; its args limit is {} (raise it with --limit-args or [limits] args)",
                bytes(policy.limits.args)
            ),
        ));
    }
    Ok(())
}

/// Why a run failed, and its exit code; none for a success.
pub fn verdict(closed: &Closed) -> Option<(Exit, String)> {
    Some(match &closed.outcome {
        Outcome::Success if closed.unmet > 0 => (
            Exit::Expectations,
            format!(
                "{} reachability expectation{} not met",
                closed.unmet,
                if closed.unmet == 1 { " was" } else { "s were" }
            ),
        ),
        Outcome::Success => return None,
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
        Outcome::Trap(msg) => (Exit::Stopped, msg.clone()),
        Outcome::HostError(e) => (
            Exit::Internal,
            format!("netwasm failed while running the guest: {e:#}"),
        ),
        Outcome::Cancelled(sig) => (
            if *sig == "SIGTERM" {
                Exit::Terminated
            } else {
                Exit::Interrupted
            },
            format!("interrupted by {sig}"),
        ),
    })
}

/// Says how the run ended; its exit code.
pub(super) fn report(lab_name: &str, closed: Closed, state_dir: &Path) -> anyhow::Result<Exit> {
    let failure = verdict(&closed);
    if let Some((_, why)) = &failure {
        say(format!("lab {lab_name}: {why}"));
    }
    let exit = failure.map_or(Exit::Ok, |(exit, _)| exit);
    match &closed.end? {
        End::Committed(all) if all.is_empty() => {
            say(format!("lab {lab_name}: done; nothing is left up"));
        }
        End::Committed(all) => say(format!(
            "lab {lab_name} is up: {} (`netwasm down {lab_name}` removes it)",
            summarize(all)
        )),
        End::Kept(created) => say(format!(
            "lab {lab_name}: kept what the run built ({}) for debugging; `netwasm down {lab_name}` removes it",
            summarize(created)
        )),
        End::RolledBack(undo) => {
            say(format!("lab {lab_name}: rolled back: {}", undo.summary()));
            if !undo.is_complete() {
                return Ok(Exit::Incomplete);
            }
            // An attached run's failure leaves what earlier runs built: say
            // what the lab is now, in the words of `ls`.
            let state = StateDir::new(state_dir);
            if state.exists(lab_name) {
                let a = lab_state::assess(&state, lab_name);
                say(format!(
                    "lab {lab_name} is {}: {} (what earlier runs built)",
                    a.state,
                    summarize(&a.objects)
                ));
            }
        }
    }
    Ok(exit)
}
