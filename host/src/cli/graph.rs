//! `netwasm graph`: a lab's topology as a picture.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::show::lab_view;
use super::{Exit, StateArgs, fail};
use crate::inspect::{graph, svg};

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
    /// The lab's name, or a topology file (*.yaml, *.yml, a path) naming it.
    #[arg(value_name = "NAME", value_parser = super::up::lab_name_or_file)]
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

/// `netwasm graph`.
pub async fn graph(args: GraphArgs) -> anyhow::Result<Exit> {
    let v = lab_view(&args.name, &args.state).await?;
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
        None => super::print_out(&out)?,
    }
    for ns in v.namespaces.iter().filter(|n| !n.present) {
        eprintln!(
            "netwasm: lab {}: namespace {} is missing from the kernel",
            v.lab, ns.name
        );
    }
    Ok(Exit::Ok)
}
