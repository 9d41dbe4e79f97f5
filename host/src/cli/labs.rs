//! `netwasm down`, `ls` and `status`: a lab's life after its run.

use std::sync::Arc;

use clap::Args;
use serde::Serialize;

use super::{DownArgs, Exit, LabArgs, StateArgs, fail};
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::ledger::lab_state::{self, Assessment, Counts, LockProbe, RunRecord};
use crate::ledger::replay::replay;
use crate::ledger::undo;
use crate::ledger::{Ending, StateDir, Tombstone};
use crate::time::rfc3339;
use crate::vocab::text::printable;

/// The schema of `netwasm ls --json` (docs/json.md).
const LS_SCHEMA: &str = "netwasm.ls/1";
/// The schema of `netwasm status --json` (docs/json.md).
const STATUS_SCHEMA: &str = "netwasm.status/1";

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Print the labs as JSON (schema netwasm.ls/1, docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Print the state and the drift as JSON (schema netwasm.status/1,
    /// docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// "torn down at T" / "its last run left nothing up at T".
pub fn ended_line(t: &Tombstone) -> String {
    match t.how {
        Ending::TornDown => format!("torn down at {}", rfc3339(t.ended)),
        Ending::NothingLeft => format!("its last run left nothing up at {}", rfc3339(t.ended)),
    }
}

/// The error for a lab with no journal: one that ended says when, one
/// never recorded says so. Both exit 2.
pub fn no_such_lab(state: &StateDir, name: &str) -> anyhow::Error {
    match state.tombstone(name) {
        Some(t) => fail(
            Exit::BadInput,
            format!(
                "lab {name}: {}; nothing of it is recorded now",
                ended_line(&t)
            ),
        ),
        None => fail(
            Exit::BadInput,
            format!(
                "lab {name}: no such lab in {} (`netwasm ls` lists them)",
                state.root().display()
            ),
        ),
    }
}

pub async fn down(args: DownArgs) -> anyhow::Result<Exit> {
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    let state = StateDir::new(&args.lab.state.state_dir);
    let name = &args.lab.name;
    if !state.exists(name) {
        if let Some(t) = state.tombstone(name) {
            eprintln!(
                "netwasm: lab {name}: {}; nothing left to undo",
                ended_line(&t)
            );
            return Ok(Exit::Ok);
        }
        if args.missing_ok {
            eprintln!("netwasm: lab {name}: nothing recorded, nothing left to undo");
            return Ok(Exit::Ok);
        }
        return Err(fail(
            Exit::BadInput,
            format!(
                "lab {name}: no such lab in {} (`netwasm ls` lists them; --missing-ok makes this no error)",
                state.root().display()
            ),
        ));
    }
    let _lock = state.lock(name)?;
    let journal = state.read(name)?;
    let objects = replay(&journal.entries);
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    let report = undo::undo(kernel.as_ref(), &objects, args.force).await;
    eprintln!("netwasm: lab {name}: {}", report.summary());
    if let Some(damage) = &journal.damage {
        eprintln!(
            "netwasm: lab {name}: the journal is damaged: {damage}; objects recorded there could not be undone"
        );
        return Ok(Exit::Incomplete);
    }
    if !report.is_complete() {
        return Ok(Exit::Incomplete);
    }
    if let Some(warning) = state.retire(name, Ending::TornDown)? {
        eprintln!("netwasm: warning: {warning}");
    }
    Ok(Exit::Ok)
}

pub fn ls(args: LsArgs) -> anyhow::Result<Exit> {
    let state = StateDir::new(&args.state.state_dir);
    let labs: Vec<Assessment> = state
        .labs()?
        .iter()
        .map(|name| lab_state::assess(&state, name))
        .collect();
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&ls_json(&state, &labs))?;
        s.push('\n');
        s
    } else if labs.is_empty() {
        eprintln!("netwasm: no labs in {}", args.state.state_dir.display());
        String::new()
    } else {
        ls_table(&labs)
    };
    super::print_out(&out)?;
    Ok(Exit::Ok)
}

/// The table's widest guest and arguments: a column, not the whole story
/// (`ls --json` has that).
const GUEST_WIDTH: usize = 24;
const ARGS_WIDTH: usize = 40;

fn ls_table(labs: &[Assessment]) -> String {
    let mut out = String::new();
    let row = |out: &mut String, cols: [&str; 10]| {
        outln!(
            out,
            "{:<24} {:<11} {:>3} {:>5} {:>5} {:>6} {:>5}  {:<20} {:<24} {}",
            cols[0],
            cols[1],
            cols[2],
            cols[3],
            cols[4],
            cols[5],
            cols[6],
            cols[7],
            cols[8],
            cols[9]
        );
    };
    row(
        &mut out,
        [
            "LAB", "STATE", "NS", "LINKS", "ADDRS", "ROUTES", "PROGS", "CREATED", "GUEST", "ARGS",
        ],
    );
    for a in labs {
        let c = a.counts;
        let (created, guest, args) = match &a.first_run {
            Some(r) => (
                rfc3339(r.began)
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .to_string()
                    + "Z",
                cut(&guest_file(&r.guest), GUEST_WIDTH),
                cut(&shell_words(&r.args), ARGS_WIDTH),
            ),
            None => ("-".into(), "-".into(), String::new()),
        };
        let counts = [c.namespaces, c.links, c.addresses, c.routes, c.programs].map(|n| {
            if a.state == lab_state::LabState::Unknown {
                "?".to_string()
            } else {
                n.to_string()
            }
        });
        row(
            &mut out,
            [
                &a.lab,
                a.state.as_str(),
                &counts[0],
                &counts[1],
                &counts[2],
                &counts[3],
                &counts[4],
                &created,
                &guest,
                &args,
            ],
        );
    }
    out
}

/// The guest's file name: the directories it was run from are in
/// `ls --json`.
fn guest_file(guest: &str) -> String {
    std::path::Path::new(guest)
        .file_name()
        .map_or_else(|| guest.to_string(), |f| f.to_string_lossy().into_owned())
}

/// `args` as a shell would need them typed, made printable: what a guest
/// was given is anyone's text (a newline or an escape sequence in it must
/// not redraw the table).
fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars().all(|c| {
                    c.is_alphanumeric()
                        || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '@')
                });
            if plain {
                printable(a)
            } else {
                format!("'{}'", printable(&a.replace('\'', "'\\''")))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` (already printable) cut to `width` characters, marking the cut.
fn cut(text: &str, width: usize) -> String {
    let text = printable(text);
    if text.chars().count() <= width {
        return text;
    }
    let mut s: String = text.chars().take(width - 1).collect();
    s.push('…');
    s
}

/// A run in `ls --json` and `status --json`.
#[derive(Serialize)]
struct RunJson<'a> {
    guest: &'a str,
    args: &'a [String],
    began: String,
    pid: u32,
    outcome: Option<&'static str>,
}

fn run_json(r: &RunRecord) -> RunJson<'_> {
    RunJson {
        guest: &r.guest,
        args: &r.args,
        began: rfc3339(r.began),
        pid: r.pid,
        outcome: r.outcome.map(|o| o.as_str()),
    }
}

/// One lab's state, as `ls --json` and `status --json` give it
/// (docs/json.md).
#[derive(Serialize)]
pub struct StateJson<'a> {
    state: &'static str,
    why: &'a str,
    counts: Counts,
    created: Option<String>,
    guest: Option<&'a str>,
    args: &'a [String],
    last_run: Option<RunJson<'a>>,
    lock: &'static str,
    lock_holder_pid: Option<u32>,
    missing_namespaces: &'a [String],
    journal_damage: Option<&'a str>,
}

pub fn state_json(a: &Assessment) -> StateJson<'_> {
    let (lock, lock_holder_pid) = match &a.lock {
        LockProbe::Free => ("free", None),
        LockProbe::Held { pid } => ("held", Some(*pid)),
        LockProbe::Unknown(_) => ("unknown", None),
    };
    StateJson {
        state: a.state.as_str(),
        why: &a.why,
        counts: a.counts,
        created: a.first_run.as_ref().map(|r| rfc3339(r.began)),
        guest: a.first_run.as_ref().map(|r| r.guest.as_str()),
        args: a.first_run.as_ref().map_or(&[][..], |r| &r.args[..]),
        last_run: a.last_run.as_ref().map(run_json),
        lock,
        lock_holder_pid,
        missing_namespaces: &a.missing_namespaces,
        journal_damage: a.damage.as_deref(),
    }
}

#[derive(Serialize)]
struct LabJson<'a> {
    name: &'a str,
    #[serde(flatten)]
    state: StateJson<'a>,
}

#[derive(Serialize)]
struct LsJson<'a> {
    schema: &'static str,
    state_dir: String,
    labs: Vec<LabJson<'a>>,
}

fn ls_json<'a>(state: &StateDir, labs: &'a [Assessment]) -> LsJson<'a> {
    LsJson {
        schema: LS_SCHEMA,
        state_dir: state.root().display().to_string(),
        labs: labs
            .iter()
            .map(|a| LabJson {
                name: &a.lab,
                state: state_json(a),
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct StatusJson<'a> {
    schema: &'static str,
    lab: &'a str,
    #[serde(flatten)]
    state: StateJson<'a>,
    objects: usize,
    as_recorded: bool,
    drift: &'a [String],
}

pub async fn status(args: StatusArgs) -> anyhow::Result<Exit> {
    let mut out = String::new();
    let exit = status_into(args, &mut out).await;
    super::print_out(&out)?;
    exit
}

async fn status_into(args: StatusArgs, out: &mut String) -> anyhow::Result<Exit> {
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    let state = StateDir::new(&args.lab.state.state_dir);
    let name = &args.lab.name;
    if !state.exists(name) {
        return Err(no_such_lab(&state, name));
    }
    let assessment = lab_state::assess(&state, name);
    let journal = state.read(name)?;
    let objects = replay(&journal.entries);
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    let drift = crate::ledger::drift::check(kernel.as_ref(), &objects).await;
    let clean = drift.is_empty() && journal.damage.is_none();
    if args.json {
        let doc = StatusJson {
            schema: STATUS_SCHEMA,
            lab: name,
            state: state_json(&assessment),
            objects: objects.len(),
            as_recorded: clean,
            drift: &drift,
        };
        outln!(out, "{}", serde_json::to_string_pretty(&doc)?);
    } else {
        outln!(out, "lab {name}: {} ({})", assessment.state, assessment.why);
        for d in &drift {
            outln!(out, "drift: {d}");
        }
        if let Some(damage) = &journal.damage {
            outln!(out, "damaged journal: {damage}");
        }
        if clean {
            outln!(
                out,
                "lab {name}: {} objects, all as recorded",
                objects.len()
            );
        }
    }
    Ok(if clean { Exit::Ok } else { Exit::Drift })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_in_the_table_are_quoted_printable_and_cut() {
        assert_eq!(shell_words(&["up".into(), "demo".into()]), "up demo");
        assert_eq!(
            shell_words(&["a b".into(), "".into(), "it's".into()]),
            "'a b' '' 'it'\\''s'"
        );
        let hostile = shell_words(&["x\n\x1b[2Jnetwasm: error: forged".into()]);
        assert!(
            !hostile.contains('\n') && !hostile.contains('\x1b'),
            "{hostile}"
        );
        let long = cut(&"y".repeat(100), ARGS_WIDTH);
        assert_eq!(long.chars().count(), ARGS_WIDTH);
        assert!(long.ends_with('…'));
        assert_eq!(guest_file("/a/b/seed.wasm"), "seed.wasm");
    }
}
