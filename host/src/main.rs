use std::process::ExitCode;

use clap::Parser;
use netwasm::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A guest run keeps several tasks busy at once (the guest, its epoch
    // ticker, signals, probes); every other command is a short sequence of
    // requests, for which starting worker threads would be most of the cost.
    let mut builder = if cli.command.is_run() {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("netwasm: error: cannot start the async runtime: {e}");
            return cli::Exit::Internal.into();
        }
    };
    match runtime.block_on(cli::main(cli)) {
        Ok(exit) => exit.into(),
        Err(err) => {
            // One line: the whole context chain.
            let chain: Vec<String> = err.chain().map(|c| c.to_string()).collect();
            eprintln!("netwasm: error: {}", chain.join(": "));
            cli::exit_for(&err).into()
        }
    }
}
