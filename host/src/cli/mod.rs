//! The command line: clap definitions (here), one module per command, and
//! the exit codes.

/// Appends a line to the `String` a command prints at its end with
/// [`print_out`] (never `println!`, which panics when standard output
/// fails, as on a full disk).
macro_rules! outln {
    ($out:ident, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

mod cache;
mod check;
mod exec;
mod graph;
mod labs;
mod ls;
mod plan;
mod probe;
mod run;
mod run_json;
mod show;
mod up;
pub mod usage;

pub use exec::ExecArgs;
pub use graph::{GraphArgs, GraphFormat};
pub use labs::StatusArgs;
pub use ls::LsArgs;
pub use probe::ProbeArgs;
pub use show::ShowArgs;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::ledger::check_lab_name;

/// Exit codes. Each outcome class has its own, so scripts can tell a lab
/// that failed its checks from a guest that crashed from a typo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// The guest's `run` returned an error; the lab was rolled back.
    GuestFailed = 1,
    /// Bad input: usage, a guest file, a policy file, arguments.
    BadInput = 2,
    /// Refused: a guest importing what netwasm does not provide, or a lab
    /// that is busy or already up.
    Refused = 3,
    /// The guest trapped or hit a limit; the lab was rolled back.
    Stopped = 4,
    /// netwasm lacks the privileges it needs.
    Privileges = 5,
    /// The lab's expectations were not met.
    Expectations = 6,
    /// `status`: the kernel has drifted from the ledger.
    Drift = 7,
    /// A teardown or rollback left objects behind.
    Incomplete = 8,
    /// netwasm itself failed (a bug, or the machine refused something).
    Internal = 9,
    /// Interrupted by SIGINT; the lab was rolled back.
    Interrupted = 130,
    /// Terminated by SIGTERM; the lab was rolled back.
    Terminated = 143,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// Writes `text` to standard output. A reader that went away (`netwasm ls |
/// head`) is no error; any other failure is one, in one line.
pub fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::anyhow!("cannot write to standard output: {e}")),
    }
}

/// An error that carries its own exit code.
#[derive(Debug)]
pub struct Failed {
    pub exit: Exit,
    pub message: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failed {}

pub fn fail(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    Failed {
        exit,
        message: message.into(),
    }
    .into()
}

const ABOUT: &str = "Run WebAssembly lab scripts that build network labs on the real Linux kernel, in a capability sandbox";

const LONG_ABOUT: &str = "\
netwasm runs lab scripts — WebAssembly components written in Rust, Python, \
JavaScript, C or any language with component-model support — that build \
network labs (network namespaces, macvlan, veth and bridge links, addresses, \
routes) on the real Linux kernel through in-process netlink.

Guests run in a sandbox: a policy says which namespaces, links, address \
ranges and operations a guest may touch; everything else is refused with an \
error that names the policy entry that would allow it. Hard limits (memory, \
time, CPU, handles, output) stop runaway guests.

Every object a run creates is recorded in the lab's ledger before the guest \
hears of it. A failed or interrupted run is rolled back; `netwasm down` \
removes a lab from its ledger, even after a crash.";

const AFTER_HELP: &str = "\
Exit codes: 0 ok; 1 the guest's run failed; 2 bad input; 3 refused (forbidden \
import, lab busy or up); 4 the guest trapped or hit a limit; 5 missing \
privileges; 6 expectations not met; 7 drift found; 8 teardown incomplete; \
9 internal error; 130/143 interrupted by SIGINT/SIGTERM.";

#[derive(Parser, Debug)]
#[command(name = "netwasm", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a lab script (a WebAssembly component of world netwasm:lab/lab).
    ///
    /// Loads GUEST, checks its imports, and calls its `run` export with ARGS
    /// under the policy (by default: the guest may create namespaces and do
    /// anything inside them, nothing else). The guest's output is shown
    /// prefixed with [guest]. On success the lab stays up, recorded in its
    /// ledger; on failure, a trap, a limit or a signal, everything the run
    /// created is undone.
    Run(Box<RunArgs>),
    /// Build the lab a topology file describes (YAML, close to
    /// containerlab's; see docs/topology.md).
    ///
    /// `run` with netwasm's built-in topology guest and FILE as its input:
    /// the same policy, limits, ledger and rollback. The lab is named by
    /// the file's `name`; `netwasm down FILE` removes it. A mistake in the
    /// file is bad input (exit 2) naming its line and key; nothing is
    /// built. Unmet `expect` entries exit 6, as in `run`.
    Up(Box<up::UpArgs>),
    /// Dry-run a guest on a simulated kernel: what it would build, in
    /// order, every policy decision, and its expectations as predicted.
    ///
    /// Runs GUEST exactly as `run` would — same policy, limits and
    /// journal — but on an in-memory model of the kernel (namespaces,
    /// veth, bridges, macvlan in every mode, addresses, routes, and a
    /// reachability model for probes). Needs no privileges and changes
    /// nothing on this machine. Exit codes as `run`. --json prints the
    /// schema netwasm.plan/1 (docs/plan-json.md).
    Plan(Box<PlanArgs>),
    /// Check whether a guest can run under a policy, without running it.
    ///
    /// Validates the policy (the default one without --policy), lists the
    /// guest's imports against what netwasm provides, and says whether it
    /// can run. Needs no privileges. Exits 0 when it can.
    Check(CheckArgs),
    /// Remove a lab: undo everything its ledger records.
    ///
    /// Works after a crash or SIGKILL. Idempotent: objects already gone
    /// count as done, and a second `down` says when the lab was torn down
    /// and that nothing was left (exit 0). A name that never was a lab is
    /// an error (exit 2) unless --missing-ok.
    /// Each object is first checked to be the one the lab made (namespaces
    /// by kernel identity, links by interface index, routes by their whole
    /// key): one that someone else replaced is reported and left alone.
    Down(DownArgs),
    /// List the labs recorded in the state directory, with their states.
    ///
    /// For each lab: its state (docs/lab-states.md), what it holds (a veth
    /// pair is two links), when it was created, by which guest and
    /// arguments. --json prints the schema netwasm.ls/1 (docs/json.md).
    Ls(LsArgs),
    /// Say a lab's state, compare its ledger with the kernel, report drift.
    ///
    /// The state is as `ls` tells it (docs/lab-states.md).
    ///
    /// Exits 7 when an object is missing or differs from what was recorded.
    /// --json prints the schema netwasm.status/1 (docs/json.md).
    Status(StatusArgs),
    /// Show a lab as it is in the kernel now: its namespaces, links,
    /// addresses and routes.
    ///
    /// Covers every namespace the lab's ledger holds: those it created (all
    /// their links) and those where it only created links (just those
    /// links). For each link: kind, macvlan mode, parent or veth peer as
    /// NAME@NAMESPACE (ifINDEX@? when netwasm cannot tell), bridge master,
    /// MAC, MTU, admin and operational state, and addresses; then the
    /// namespace's main routing table. A namespace that is gone is reported
    /// as missing, not an error. --json prints the same for scripts, in the
    /// stable schema netwasm.show/1 (docs/show-json.md).
    Show(ShowArgs),
    /// Draw a lab's topology as SVG (the default), Graphviz DOT or Mermaid.
    ///
    /// Namespaces are boxes holding their links; edges join the two ends of
    /// each veth pair, a macvlan's parent to it (labelled with the mode),
    /// and each bridge, drawn as a switch, to its ports. Links show their
    /// global addresses. The SVG is laid out and drawn by netwasm itself:
    /// no Graphviz needed, and any browser opens it.
    Graph(GraphArgs),
    /// Ping every address of a lab from every namespace of it (pingall).
    ///
    /// Pings each global address `show` lists from each of the lab's
    /// namespaces but its own (one packet, a short timeout, one retry,
    /// 16 at a time), as the operator, with netwasm's own ICMP code, and
    /// prints the matrix. --json prints the schema netwasm.probe/1
    /// (docs/probe-json.md); --expect FILE compares with a recorded
    /// matrix or lines `FROM TO yes|no` and exits 6 on a mismatch.
    Probe(ProbeArgs),
    /// Run a command in one of a lab's namespaces, as the operator.
    ///
    /// Like `ip netns exec`, but by the lab's name for the namespace, and
    /// only in a namespace the lab's ledger holds that is still the one it
    /// recorded. The command runs as you (no policy applies), with your
    /// terminal and environment; netwasm exits with its status.
    Exec(ExecArgs),
    /// List or empty the compile cache (compiled guests, and the compiled
    /// functions later compiles reuse).
    ///
    /// Only files named like the cache's entries and owned by you are
    /// listed or removed. `run`, `plan` and `check` keep the cache within
    /// 1 GiB themselves, dropping the least recently used entries.
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// List the entries: size, last use, kind; then the total.
    Ls(CacheLsArgs),
    /// Remove entries: all of them, or those unused for --older-than, or
    /// the least recently used until the rest fit in --max-size.
    Clean(CacheCleanArgs),
}

#[derive(Args, Debug)]
pub struct CacheLsArgs {
    /// Print the list as JSON (schema netwasm.cache/1).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dir: CacheDirArgs,
}

#[derive(Args, Debug)]
pub struct CacheCleanArgs {
    /// Remove entries not used for this long, e.g. 7d, 12h, 30m.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// Remove the least recently used entries until the rest fit, e.g.
    /// 500MiB.
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,
    #[command(flatten)]
    pub dir: CacheDirArgs,
}

/// The compile cache's directory, as `run` finds it.
#[derive(Args, Debug, Clone)]
pub struct CacheDirArgs {
    /// Where compiled guests are cached.
    #[arg(long, value_name = "DIR", env = "NETWASM_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// Where lab ledgers are kept.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/run/netwasm",
        env = "NETWASM_STATE_DIR"
    )]
    pub state_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct LabArgs {
    /// The lab's name, or a topology file (*.yaml, *.yml, a path) naming it.
    #[arg(value_name = "NAME", value_parser = up::lab_name_or_file)]
    pub name: String,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Also remove, by name, what the ledger records without the kernel
    /// identity that proves it the lab's (a journal of an older netwasm):
    /// without --force such objects are reported and left, and the lab
    /// stays recorded.
    #[arg(long)]
    pub force: bool,
    /// A lab with no record is no error (exit 0), for scripts that tear
    /// down what may not be up. Without it, such a name exits 2.
    #[arg(long)]
    pub missing_ok: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The guest component (.wasm).
    #[arg(value_name = "GUEST")]
    pub guest: PathBuf,
    /// The sandbox policy (TOML). Default: the safe lab policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print the report as JSON (schema netwasm.check/1, docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The guest component (.wasm).
    #[arg(value_name = "GUEST")]
    pub guest: PathBuf,
    /// Arguments passed to the guest's `run`.
    #[arg(value_name = "ARGS", last = true)]
    pub args: Vec<String>,
    /// The lab's name (default: the guest's file name without .wasm).
    #[arg(long, value_name = "NAME", value_parser = lab_name)]
    pub lab: Option<String>,
    /// The sandbox policy (TOML). Default: the safe lab policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// If the lab is up, tear it down first.
    #[arg(long, conflicts_with = "attach")]
    pub replace: bool,
    /// If the lab is up, run against it: the guest holds the lab's recorded
    /// objects as if it had created them (to change or tear them down).
    #[arg(long)]
    pub attach: bool,
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
    /// Print how the run went as JSON (schema netwasm.run/1,
    /// docs/json.md); the guest's output then goes to stderr.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The guest component (.wasm).
    #[arg(value_name = "GUEST")]
    pub guest: PathBuf,
    /// Arguments passed to the guest's `run`.
    #[arg(value_name = "ARGS", last = true)]
    pub args: Vec<String>,
    /// The lab's name (default: the guest's file name without .wasm).
    #[arg(long, value_name = "NAME", value_parser = lab_name)]
    pub lab: Option<String>,
    /// The sandbox policy (TOML). Default: the safe lab policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print the plan as JSON (schema netwasm.plan/1); the guest's own
    /// output is then not shown.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Do not show the guest's output.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Where compiled guests are kept (`run`, `plan`, `check`).
#[derive(Args, Debug, Clone)]
pub struct CacheArgs {
    /// Where compiled guests are cached.
    #[arg(long, value_name = "DIR", env = "NETWASM_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not cache compiled guests.
    #[arg(long)]
    pub no_cache: bool,
}

impl CacheArgs {
    /// The compile cache these flags ask for, if any.
    pub fn cache(&self) -> Option<crate::runtime::cache::Cache> {
        use crate::runtime::cache::Cache;
        (!self.no_cache)
            .then(|| Cache::new(self.cache_dir.clone().unwrap_or_else(Cache::default_dir)))
    }
}

/// Overrides of the policy's [limits].
#[derive(Args, Debug, Default, Clone)]
pub struct LimitArgs {
    /// All the guest's linear memories and tables together, e.g. 64MiB.
    #[arg(long, value_name = "SIZE")]
    pub limit_memory: Option<String>,
    /// Wall-clock time for the whole run, host calls included, e.g. 60s.
    #[arg(long, value_name = "DURATION")]
    pub limit_deadline: Option<String>,
    /// Fuel (about one unit per WebAssembly instruction) for the whole run.
    #[arg(long, value_name = "N")]
    pub limit_fuel: Option<u64>,
    /// Namespace and link handles held at once.
    #[arg(long, value_name = "N")]
    pub limit_handles: Option<u64>,
    /// Bytes of stdout plus stderr, e.g. 1MiB.
    #[arg(long, value_name = "SIZE")]
    pub limit_output: Option<String>,
    /// Bytes of guest arguments, e.g. 64KiB.
    #[arg(long, value_name = "SIZE")]
    pub limit_args: Option<String>,
}

fn lab_name(s: &str) -> Result<String, String> {
    check_lab_name(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

/// Runs the parsed command line; returns the exit status or an error
/// whose exit status is found by [`exit_for`].
impl Command {
    /// Whether this runs a guest (`run`, `plan`).
    pub fn is_run(&self) -> bool {
        matches!(self, Command::Run(_) | Command::Up(_) | Command::Plan(_))
    }
}

pub async fn main(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Run(args) => run::run(*args).await,
        Command::Up(args) => up::up(*args).await,
        Command::Plan(args) => plan::plan(*args).await,
        Command::Check(args) => check::check(args),
        Command::Down(args) => labs::down(args).await,
        Command::Ls(args) => ls::ls(args),
        Command::Status(args) => labs::status(args).await,
        Command::Show(args) => show::show(args).await,
        Command::Graph(args) => graph::graph(args).await,
        Command::Exec(args) => exec::exec(args).await,
        Command::Probe(args) => probe::probe(args).await,
        Command::Cache(CacheCommand::Ls(args)) => cache::ls(args),
        Command::Cache(CacheCommand::Clean(args)) => cache::clean(args),
    }
}

/// The exit status for an error that ended a command.
pub fn exit_for(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failed>() {
            return f.exit;
        }
        if cause.is::<crate::runtime::BadGuest>()
            || cause.is::<crate::policy::file::PolicyError>()
            || cause.is::<crate::ledger::UnsafeStateDir>()
        {
            return Exit::BadInput;
        }
        if cause.is::<crate::runtime::RefusedGuest>() || cause.is::<crate::ledger::LabBusy>() {
            return Exit::Refused;
        }
        if cause.is::<crate::privileges::MissingCapability>() {
            return Exit::Privileges;
        }
    }
    Exit::Internal
}
