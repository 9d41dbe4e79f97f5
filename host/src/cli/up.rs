//! `netwasm up FILE`: a lab from a topology file (docs/topology.md).
//!
//! `up` is `run` with the topology guest that ships inside netwasm
//! (`guests/topology`, built by `build.rs`) and the file as its input: the
//! same policy, limits, ledger and sandbox as any guest. netwasm reads
//! the file and hands the guest its name and content; the guest parses
//! and checks it, builds the lab and states its expectations. netwasm
//! itself reads only the lab's name, from the file's top-level `name:`
//! line, since the ledger is opened before the guest runs (and `down
//! FILE` needs no guest at all); the guest checks that it read the same.

use std::path::{Path, PathBuf};

use clap::Args;

use super::plan::{plan_with, simulate};
use super::run::{Builtin, load_policy, run_with};
use super::{CacheArgs, Exit, LimitArgs, PlanArgs, RunArgs, StateArgs, fail};
use crate::ledger::check_lab_name;
use crate::vocab::limit::bytes;

/// The topology guest, a WebAssembly component of world netwasm:lab/lab.
const TOPOLOGY_GUEST: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/topology.wasm"));

/// How the guest's messages about mistakes in the file start (its
/// `BAD_FILE`).
const BAD_FILE: &str = "bad topology file: ";

#[derive(Args, Debug)]
pub struct UpArgs {
    /// The topology file (YAML): the lab's name, nodes, links, addresses,
    /// routes and expectations; see docs/topology.md.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The sandbox policy (TOML). Default: the safe lab policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// If the lab is up, tear it down first.
    #[arg(long)]
    pub replace: bool,
    /// On failure, keep what the run built (recorded in the ledger) instead
    /// of rolling back, for debugging.
    #[arg(long)]
    pub keep_on_error: bool,
    /// Write one JSON line per host call to FILE.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Do not show the guest's output.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub state: StateArgs,
    /// Build nothing: run the file on netwasm's simulated kernel, as
    /// `netwasm plan` does, and print what `up` would do, every policy
    /// decision and the expectations as predicted (no privileges needed).
    #[arg(long, conflicts_with_all = ["replace", "keep_on_error", "audit"])]
    pub dry_run: bool,
    /// Print the outcome as JSON (schema netwasm.run/1, docs/json.md; the
    /// guest's output goes to stderr), or with --dry-run the plan
    /// (netwasm.plan/1).
    #[arg(long)]
    pub json: bool,
}

pub async fn up(args: UpArgs) -> anyhow::Result<Exit> {
    let shown = args.file.display().to_string();
    let text = read(&args.file)?;
    let lab = lab_name_in(&text).map_err(|why| fail(Exit::BadInput, format!("{shown}: {why}")))?;
    // `run` would say this of "the guest's arguments"; here they are the file.
    let limit = load_policy(args.policy.as_deref(), &args.limits)?
        .limits
        .args;
    let size = (shown.len() + lab.len() + text.len() + 3) as u64;
    if size > limit {
        return Err(fail(
            Exit::BadInput,
            format!(
                "{shown}: {} bytes: a topology file is the topology guest's argument, and its args limit is {} (raise it with --limit-args or [limits] args)",
                text.len(),
                bytes(limit)
            ),
        ));
    }
    let builtin = Builtin {
        shown: "netwasm-topology (built in)",
        wasm: TOPOLOGY_GUEST,
        recorded_args: std::slice::from_ref(&shown),
        bad_input: BAD_FILE,
    };
    let guest_args = vec![shown.clone(), lab.clone(), text];
    if args.dry_run {
        let plan = PlanArgs {
            guest: PathBuf::from("netwasm-topology"),
            args: guest_args,
            lab: Some(lab),
            policy: args.policy,
            json: args.json,
            cache: args.cache,
            quiet: args.quiet,
            limits: args.limits,
        };
        return plan_with(plan, Some(builtin)).await;
    }
    if args.replace || args.keep_on_error {
        // `--replace` tears the lab down before the guest reads the file,
        // and `--keep-on-error` would record the empty lab a mistake
        // leaves: a file with a mistake must cost neither. The file is
        // read on the model first (no privileges, nothing made); its
        // mistakes end here, with nothing changed.
        let model = PlanArgs {
            guest: PathBuf::from("netwasm-topology"),
            args: guest_args.clone(),
            lab: Some(lab.clone()),
            policy: args.policy.clone(),
            json: false,
            cache: args.cache.clone(),
            quiet: true,
            limits: args.limits.clone(),
        };
        simulate(&model, Some(&builtin), true).await?;
    }
    let run = RunArgs {
        guest: PathBuf::from("netwasm-topology"),
        args: guest_args,
        lab: Some(lab),
        policy: args.policy,
        replace: args.replace,
        attach: false,
        keep_on_error: args.keep_on_error,
        audit: args.audit,
        json: args.json,
        cache: args.cache,
        quiet: args.quiet,
        limits: args.limits,
        state: args.state,
    };
    run_with(run, Some(builtin)).await
}

fn read(path: &Path) -> anyhow::Result<String> {
    read_file(path).map_err(|why| fail(Exit::BadInput, why))
}

/// The most of a topology file read: far above any guest's `args` limit,
/// which then names the real bound.
const MAX_FILE: u64 = 64 << 20;

/// A topology file's text: a regular file (not a FIFO that would block,
/// nor `/dev/zero`), read up to [`MAX_FILE`].
fn read_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!("{shown}: over {MAX_FILE} bytes"));
    }
    String::from_utf8(bytes).map_err(|e| format!("{shown}: not UTF-8 text: {e}"))
}

/// Whether a lab argument (of `down`, `status`, `show`, `graph`, `exec`)
/// names a topology file rather than a lab.
fn is_topology_file(arg: &str) -> bool {
    arg.ends_with(".yaml") || arg.ends_with(".yml") || arg.contains('/')
}

/// clap's parser for a lab argument: a lab's name, or a topology file
/// (`*.yaml`, `*.yml`, or a path), read for the lab's name.
pub fn lab_name_or_file(arg: &str) -> Result<String, String> {
    if !is_topology_file(arg) {
        check_lab_name(arg).map_err(|e| e.to_string())?;
        return Ok(arg.to_string());
    }
    let text = read_file(Path::new(arg))?;
    lab_name_in(&text).map_err(|why| format!("{arg}: {why}"))
}

/// The lab's name in a topology file: its top-level `name: LAB` line
/// (quotes and a trailing comment allowed).
fn lab_name_in(text: &str) -> Result<String, String> {
    let mut found = None;
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("name:") else {
            continue;
        };
        if found.is_some() {
            return Err(format!("{}: name: given twice", i + 1));
        }
        let value = rest.split(" #").next().unwrap_or("").trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        check_lab_name(value).map_err(|e| format!("{}: name: {e}", i + 1))?;
        found = Some(value.to_string());
    }
    found.ok_or_else(|| "no top-level `name: LAB` line: a topology file names its lab".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_name_is_read_from_its_line() {
        assert_eq!(
            lab_name_in("# x\nname: seed   # the lab\n").unwrap(),
            "seed"
        );
        assert_eq!(lab_name_in("name: \"a-b\"\n").unwrap(), "a-b");
        assert_eq!(lab_name_in("name: 'c'\n").unwrap(), "c");
        // An indented `name:` belongs to something else.
        assert!(lab_name_in("topology:\n  name: x\n").is_err());
        assert!(
            lab_name_in("name: a b\n")
                .unwrap_err()
                .starts_with("1: name: ")
        );
        assert!(lab_name_in("name: a\nname: b\n").is_err());
    }

    #[test]
    fn lab_arguments_may_be_files() {
        assert_eq!(lab_name_or_file("seed").unwrap(), "seed");
        assert!(
            lab_name_or_file("no/such/file.yaml")
                .unwrap_err()
                .contains("cannot read")
        );
        let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed-macvlan.yaml");
        assert_eq!(lab_name_or_file(seed).unwrap(), "seed");
    }

    #[test]
    fn the_topology_guest_is_a_component() {
        assert_eq!(&TOPOLOGY_GUEST[..4], b"\0asm");
    }
}
