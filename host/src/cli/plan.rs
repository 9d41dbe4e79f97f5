//! `netwasm plan`: a dry run of a guest on the simulated kernel.
//!
//! The guest runs exactly as under `netwasm run` — same policy, same
//! limits, same session, same journal entries — but on
//! [`Sim`](crate::kernel::sim::Sim), an in-memory model of the kernel, with
//! an in-memory journal: nothing on this machine is created or changed, so
//! it needs no privileges. What it prints is what the run would do, in
//! order, every decision of the sandbox, and the expectations as the model
//! predicts them.

use std::sync::Arc;

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Value, json};

use super::run::{Builtin, bad_input, check_arg_bytes, load_policy, verdict};
use super::{Exit, PlanArgs, print_out};
use crate::inspect::show;
use crate::inspect::view::{self, LabView};
use crate::kernel::Kernel;
use crate::kernel::sim::Sim;
use crate::lab::audit::Audit;
use crate::lab::{Checked, matrix_lines};
use crate::ledger::Entry;
use crate::policy::{Glob, Policy};
use crate::runtime::Runtime;
use crate::runtime::cache;
use crate::runtime::stdio::GuestOutput;
use crate::session::{Closed, End, GuestRun, Session, summarize};
use crate::vocab::ROOT_NS;
use crate::vocab::net::Mac;

/// The schema of `netwasm plan --json` (see docs/plan-json.md).
const SCHEMA: &str = "netwasm.plan/1";

pub async fn plan(args: PlanArgs) -> anyhow::Result<Exit> {
    plan_with(args, None).await
}

/// `plan`, of the guest file `args.guest` or of a built-in guest (`up
/// --dry-run`).
pub async fn plan_with(args: PlanArgs, builtin: Option<Builtin<'_>>) -> anyhow::Result<Exit> {
    let Simulated {
        lab_name,
        shown,
        kernel,
        closed,
        decisions,
    } = simulate(&args, builtin.as_ref(), args.quiet || args.json).await?;
    // The lab as `netwasm show` would show it, from the model.
    let view = match &closed.end {
        Ok(End::Committed(all)) if !all.is_empty() => {
            Some(view::gather(kernel.as_ref(), &lab_name, all, None, None).await)
        }
        _ => None,
    };
    let failure = verdict(&closed);
    let exit = failure.as_ref().map_or(Exit::Ok, |(exit, _)| *exit);
    let text = if args.json {
        let plan = as_json(
            &lab_name,
            &shown,
            builtin.as_ref().map_or(&args.args[..], |b| b.recorded_args),
            &closed,
            &decisions,
            failure.as_ref(),
            exit,
            view.as_ref(),
        );
        let mut s = serde_json::to_string_pretty(&plan)?;
        s.push('\n');
        s
    } else {
        let mut text = as_text(&lab_name, &closed, &decisions, failure.as_ref());
        if let Some(view) = &view {
            outln!(text, "\nthe lab as `netwasm show` would show it:\n");
            text += &show::table(view);
        }
        text
    };
    closed.end?;
    print_out(&text)?;
    Ok(exit)
}

/// A guest run on the model, before anything is made of it.
pub struct Simulated {
    pub lab_name: String,
    pub shown: String,
    kernel: Arc<dyn Kernel>,
    pub closed: Closed,
    decisions: Vec<Value>,
}

/// Runs the guest of `args` (or the built-in one) on the simulated kernel;
/// a built-in guest's report of bad input is the error. `quiet`: the
/// guest's output is not shown.
pub async fn simulate(
    args: &PlanArgs,
    builtin: Option<&Builtin<'_>>,
    quiet: bool,
) -> anyhow::Result<Simulated> {
    let policy = load_policy(args.policy.as_deref(), &args.limits)?;
    check_arg_bytes(&args.args, &policy)?;
    let cache = args.cache.cache();
    let runtime = Runtime::new(cache)?;
    let shown = match builtin {
        Some(b) => b.shown.to_string(),
        None => args.guest.display().to_string(),
    };
    let guest = match builtin {
        Some(b) => b.load(&runtime)?,
        None => runtime.load(&args.guest)?,
    };
    if guest.origin == cache::Origin::Compiled && !args.json {
        eprintln!("netwasm: compiled {shown} (cached for next time)");
    }
    let lab_name = args
        .lab
        .clone()
        .unwrap_or_else(|| super::run::default_lab_name(&args.guest));
    let kernel: Arc<dyn Kernel> = Arc::new(world_of(&policy));
    let policy = Arc::new(policy);
    let (audit, decisions) = Audit::in_memory();
    let session = Session::scratch(
        kernel.clone(),
        policy.clone(),
        &lab_name,
        shown.clone(),
        builtin.map_or(&args.args[..], |b| b.recorded_args),
        Arc::new(|m| eprintln!("netwasm: {m}")),
    )?
    .with_audit(audit);
    // With --json, standard output is the plan's alone.
    let mut output = GuestOutput::new(policy.limits.output, quiet);
    if args.json {
        output = output.reports_to_stderr();
    }
    let closed = session
        .run(
            GuestRun {
                runtime: &runtime,
                guest: &guest,
                args: args.args.clone(),
                output: &output,
                keep_on_error: false,
            },
            std::future::pending(),
        )
        .await?;
    if let Some(bad) = bad_input(builtin, &closed) {
        return Err(bad);
    }
    let decisions = std::mem::take(&mut *decisions.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Simulated {
        lab_name,
        shown,
        kernel,
        closed,
        decisions,
    })
}

/// The machine the plan runs on: what the policy says exists. Every
/// namespace the policy names for opening (a literal name, not a pattern)
/// exists, holding the links the policy grants there (`[links] parents`
/// and `manage`), up; the root namespace holds its granted links. A guest
/// that opens anything else gets `not-found`, as on a machine without it.
fn world_of(policy: &Policy) -> Sim {
    let literal = |s: &str| !s.contains(['*', '?', '[']);
    let grants = || policy.parents.iter().chain(&policy.manage);
    let root: Vec<&str> = policy
        .root_links
        .iter()
        .map(String::as_str)
        .chain(
            grants()
                .filter(|g| g.namespace == ROOT_NS)
                .map(|g| g.link.as_str()),
        )
        .filter(|l| literal(l))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let root: Vec<(&str, Option<Mac>)> = root.into_iter().map(|l| (l, None)).collect();
    let mut sim = Sim::with_root_links(&root);
    let named: BTreeSet<&str> = policy
        .ns_open
        .iter()
        .chain(&policy.ns_modify)
        .map(Glob::as_str)
        .chain(grants().map(|g| g.namespace.as_str()))
        .filter(|n| literal(n) && *n != ROOT_NS)
        .collect();
    for ns in named {
        let links: BTreeSet<&str> = grants()
            .filter(|g| g.namespace == ns && literal(&g.link))
            .map(|g| g.link.as_str())
            .collect();
        sim = sim.with_namespace(ns, &links.into_iter().collect::<Vec<_>>());
    }
    sim
}

/// One step of the run: a journal entry that changes something, and
/// whether the kernel refused it (an `abort` follows it).
struct Step<'a> {
    entry: &'a Entry,
    refused: bool,
}

fn steps(entries: &[Entry]) -> Vec<Step<'_>> {
    let mut out: Vec<Step> = Vec::new();
    for e in entries {
        match e {
            Entry::Abort => {
                if let Some(last) = out.last_mut() {
                    last.refused = true;
                }
            }
            e if e.describe().is_some() => out.push(Step {
                entry: e,
                refused: false,
            }),
            _ => {}
        }
    }
    out
}

fn as_text(
    lab: &str,
    closed: &Closed,
    decisions: &[Value],
    failure: Option<&(Exit, String)>,
) -> String {
    let mut out = String::new();
    outln!(
        out,
        "plan of lab {lab} (on the simulated kernel: nothing on this machine was changed)"
    );
    let steps = steps(&closed.entries);
    outln!(
        out,
        "\nwhat the run does, in order ({} steps):",
        steps.len()
    );
    let width = steps.len().to_string().len();
    for (i, s) in steps.iter().enumerate() {
        let what = s.entry.describe().unwrap_or_default();
        let mark = if s.refused {
            "  (refused by the kernel)"
        } else {
            ""
        };
        outln!(out, "  {:>width$}  {what}{mark}", i + 1);
    }
    let denied = decisions
        .iter()
        .filter(|d| d["decision"] == "denied")
        .count();
    outln!(
        out,
        "\npolicy decisions ({} calls: {} allowed, {denied} denied):",
        decisions.len(),
        decisions.len() - denied
    );
    for d in decisions {
        outln!(out, "  {}", decision_line(d));
    }
    if !closed.checked.is_empty() {
        outln!(out, "\nexpectations, as predicted:");
        for line in matrix_lines(&closed.checked) {
            outln!(out, "  {line}");
        }
    }
    outln!(out, "\n{}", ending(closed, failure));
    out
}

/// `allowed  link.add-macvlan  {"parent":...}  -> error already-exists: ...`
fn decision_line(d: &Value) -> String {
    let mut s = format!(
        "{:<8} {:<22} {}",
        d["decision"].as_str().unwrap_or("?"),
        d["op"].as_str().unwrap_or("?"),
        d["args"]
    );
    if let Some(rule) = d.get("rule").and_then(Value::as_str) {
        s += &format!("  -> {rule}");
    } else if let Some(err) = d["result"].get("error").and_then(Value::as_str) {
        let msg = d["result"]["message"].as_str().unwrap_or("");
        s += &format!("  -> error {err}: {msg}");
    }
    s
}

fn ending(closed: &Closed, failure: Option<&(Exit, String)>) -> String {
    let what = match &closed.end {
        Ok(End::Committed(all)) if all.is_empty() => "nothing would be left up".to_string(),
        Ok(End::Committed(all)) => format!("the lab would be up: {}", summarize(all)),
        Ok(End::Kept(created)) => {
            format!("the run's objects would be kept: {}", summarize(created))
        }
        Ok(End::RolledBack(_)) => "everything it built would be rolled back".to_string(),
        Err(e) => format!("closing the run failed: {e:#}"),
    };
    match failure {
        None => format!("outcome: the run would succeed; {what}"),
        Some((exit, why)) => format!(
            "outcome: the run would fail (exit {}): {why}; {what}",
            *exit as u8
        ),
    }
}

/// The plan as `--json` prints it (docs/plan-json.md). Borrowed, not
/// built as a `Value`: a 1000-unit plan holds ten thousand steps and
/// decisions, and copying them would cost more than the run.
#[derive(Serialize)]
struct PlanJson<'a> {
    schema: &'static str,
    lab: &'a str,
    guest: String,
    args: &'a [String],
    steps: Vec<StepJson<'a>>,
    decisions: &'a [Value],
    expectations: Vec<Value>,
    outcome: &'static str,
    left_up: Option<String>,
    error: Option<&'a str>,
    exit: u8,
    show: Option<&'a LabView>,
}

#[derive(Serialize)]
struct StepJson<'a> {
    step: Option<String>,
    entry: &'a Entry,
    refused: bool,
}

#[allow(clippy::too_many_arguments)]
fn as_json<'a>(
    lab: &'a str,
    guest: &str,
    args: &'a [String],
    closed: &'a Closed,
    decisions: &'a [Value],
    failure: Option<&'a (Exit, String)>,
    exit: Exit,
    view: Option<&'a LabView>,
) -> PlanJson<'a> {
    let (outcome, left) = match &closed.end {
        Ok(End::Committed(all)) => ("committed", Some(all)),
        Ok(End::Kept(created)) => ("kept", Some(created)),
        Ok(End::RolledBack(_)) => ("rolled-back", None),
        Err(_) => ("failed-to-close", None),
    };
    PlanJson {
        schema: SCHEMA,
        lab,
        guest: guest.to_string(),
        args,
        steps: steps(&closed.entries)
            .into_iter()
            .map(|s| StepJson {
                step: s.entry.describe(),
                entry: s.entry,
                refused: s.refused,
            })
            .collect(),
        decisions,
        expectations: closed.checked.iter().map(expectation_json).collect(),
        outcome,
        left_up: left.map(|l| summarize(l)),
        error: failure.map(|(_, why)| why.as_str()),
        exit: exit as u8,
        show: view,
    }
}

fn expectation_json(c: &Checked) -> Value {
    let e = &c.expectation;
    json!({
        "from": e.from,
        "to": e.to.to_string(),
        "label": e.label,
        "expected": if e.reachable { "reachable" } else { "unreachable" },
        "predicted": if c.failed { "failed" } else if c.actual { "reachable" } else { "unreachable" },
        "met": c.met(),
        "detail": c.detail,
    })
}
