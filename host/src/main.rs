use std::process::ExitCode;

use clap::Parser;
use netwasm::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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
