//! Inspection commands: `netwasm show` (a lab as it is in the kernel now)
//! and `netwasm graph` (its topology as a picture).
//!
//! Both read the lab's ledger for the namespaces it holds, then ask the
//! kernel what is there ([`view::gather`]); neither changes anything, and
//! neither takes the lab's lock, so they work while a run is going on.

pub mod graph;
pub mod layout;
pub mod show;
pub mod svg;
pub mod view;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod snapshots;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::cli::{Exit, StateArgs, fail};
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::ledger::StateDir;
use crate::ledger::replay;

fn lab_name(s: &str) -> Result<String, String> {
    crate::ledger::check_lab_name(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    netwasm show mylab\n  \
    netwasm show mylab --json | jq '.namespaces[].links[] | select(.kind == \"macvlan\") | .parent'")]
pub struct ShowArgs {
    /// The lab's name.
    #[arg(value_name = "NAME", value_parser = lab_name)]
    pub name: String,
    /// Print JSON for scripts instead of tables: schema "netwasm.show/1",
    /// every field documented in docs/show-json.md.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (render with `dot -Tsvg`).
    Dot,
    /// A Mermaid flowchart (GitHub and many Markdown viewers render it).
    Mermaid,
    /// A self-contained SVG drawn by netwasm itself; open it in a browser.
    Svg,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    netwasm graph mylab -o mylab.svg      (then open mylab.svg in a browser)\n  \
    netwasm graph mylab -f dot | dot -Tpng -o mylab.png\n  \
    netwasm graph mylab -f mermaid > mylab.mmd")]
pub struct GraphArgs {
    /// The lab's name.
    #[arg(value_name = "NAME", value_parser = lab_name)]
    pub name: String,
    /// The output format.
    #[arg(long, short, value_enum, default_value_t = GraphFormat::Svg)]
    pub format: GraphFormat,
    /// Write to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
}

/// Reads the lab's ledger and the kernel.
async fn view(name: &str, state: &StateArgs) -> anyhow::Result<view::LabView> {
    crate::privileges::require(crate::privileges::FOR_LABS)?;
    let dir = StateDir::new(&state.state_dir);
    if !dir.exists(name) {
        return Err(fail(
            Exit::BadInput,
            format!("lab {name}: no such lab in {}", state.state_dir.display()),
        ));
    }
    let journal = dir
        .read(name)
        .with_context(|| format!("lab {name}: cannot read its journal"))?;
    let objects = replay::replay(&journal.entries);
    let kernel: Arc<dyn Kernel> = Arc::new(Netlink::new());
    Ok(view::gather(kernel.as_ref(), name, &objects, journal.damage).await)
}

/// `netwasm show`.
pub async fn show(args: ShowArgs) -> anyhow::Result<Exit> {
    let v = view(&args.name, &args.state).await?;
    let out = if args.json {
        show::json(&v)
    } else {
        show::table(&v)
    };
    crate::cli::print_out(&out)?;
    Ok(Exit::Ok)
}

/// `netwasm graph`.
pub async fn graph(args: GraphArgs) -> anyhow::Result<Exit> {
    let v = view(&args.name, &args.state).await?;
    let t = graph::Topology::from_view(&v);
    let out = match args.format {
        GraphFormat::Dot => graph::dot(&t),
        GraphFormat::Mermaid => graph::mermaid(&t),
        GraphFormat::Svg => svg::svg(&t),
    };
    match &args.output {
        Some(path) => std::fs::write(path, out).map_err(|e| {
            fail(
                Exit::BadInput,
                format!("cannot write {}: {e}", path.display()),
            )
        })?,
        None => crate::cli::print_out(&out)?,
    }
    for ns in v.namespaces.iter().filter(|n| !n.present) {
        eprintln!(
            "netwasm: lab {}: namespace {} is missing from the kernel",
            v.lab, ns.name
        );
    }
    Ok(Exit::Ok)
}
