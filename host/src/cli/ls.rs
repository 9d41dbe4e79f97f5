//! `netwasm ls`: every lab of the state directory, its state
//! (docs/lab-states.md) and what it holds, as a table or as JSON
//! (netwasm.ls/1, docs/json.md); and a lab's state as JSON, which
//! `status --json` shares.

use clap::Args;
use serde::Serialize;

use super::{Exit, StateArgs};
use crate::ledger::StateDir;
use crate::ledger::lab_state::{self, Assessment, Counts, LockProbe, RunRecord};
use crate::time::rfc3339;
use crate::vocab::text::printable;

/// The schema of `netwasm ls --json` (docs/json.md).
const LS_SCHEMA: &str = "netwasm.ls/1";

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Print the labs as JSON (schema netwasm.ls/1, docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

pub fn ls(args: LsArgs) -> anyhow::Result<Exit> {
    let state = StateDir::new(&args.state.state_dir);
    let labs = lab_state::assess_all(&state, &state.labs()?);
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
