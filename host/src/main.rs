use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use netwasm::cli::{self, Cli};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Installed as a CNI plugin under that name (a link to this binary).
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str());
    if invoked_as == Some("netwasm-cni") {
        netwasm::cni::main();
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        // Asked for: printed as clap prints them, and not a failure.
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return cli::Exit::Ok.into();
        }
        // Like every other error of netwasm's: one line, exit 2.
        Err(e) => {
            eprintln!("netwasm: error: {}", cli::usage::one_line(e, &args));
            return cli::Exit::BadInput.into();
        }
    };
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
