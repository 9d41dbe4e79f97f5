//! Writes the `wasi_snapshot_preview1` adapter module of the wasmtime release
//! the host uses (from the crates.io crate
//! `wasi-preview1-component-adapter-provider`), so guests compiled for
//! wasip1 (C with wasi-libc, say) can be wrapped as components:
//!
//! ```text
//! cargo run -q -p wasi-adapter -- reactor build/wasi_snapshot_preview1.wasm
//! wasm-tools component new core.wasm --adapt build/wasi_snapshot_preview1.wasm -o lab.wasm
//! ```
//!
//! `reactor` is for libraries that export functions (a lab's `run`);
//! `command` for programs with a `_start`.

use std::process::ExitCode;

use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};

const USAGE: &str = "usage: wasi-adapter reactor|command OUTPUT.wasm";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (bytes, out) = match args.as_slice() {
        [kind, out] if kind == "reactor" => (WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER, out),
        [kind, out] if kind == "command" => (WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER, out),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::write(out, bytes) {
        eprintln!("wasi-adapter: cannot write {out}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
