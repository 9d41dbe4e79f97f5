//! Builds the topology guest (`guests/topology`, the lab script behind
//! `netwasm up FILE`) for wasm32-wasip2, for `include_bytes!` in
//! `src/cli/up.rs`.
//!
//! Built here rather than committed as a `.wasm`: a committed binary would
//! need a test that rebuilds it and compares bytes, and a wasm build is
//! not byte-for-byte the same across machines and paths (panic locations
//! carry the registry's and the checkout's paths). So a clean clone
//! builds it, as wasmtime's `test-programs/artifacts/build.rs` builds its
//! test guests: a nested cargo with its own target directory (so that it
//! never waits on the lock of the build that runs this script), once, then
//! only when the guest, the SDK, the WIT or the lock file change (about a
//! minute of CPU the first time; nothing after). `NETWASM_TOPOLOGY_WASM`
//! names a prebuilt component instead, for builds without the
//! wasm32-wasip2 target.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest.parent().expect("host/ is in the workspace");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    let dest = out.join("topology.wasm");
    println!("cargo:rerun-if-env-changed=NETWASM_TOPOLOGY_WASM");
    if let Some(prebuilt) = env::var_os("NETWASM_TOPOLOGY_WASM") {
        let prebuilt = PathBuf::from(prebuilt);
        println!("cargo:rerun-if-changed={}", prebuilt.display());
        std::fs::copy(&prebuilt, &dest)
            .unwrap_or_else(|e| panic!("NETWASM_TOPOLOGY_WASM={}: {e}", prebuilt.display()));
        return;
    }
    for p in [
        "guests/topology",
        "guests/netwasm-guest",
        "wit",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }

    // OUT_DIR is TARGET/PROFILE/build/netwasm-HASH/out: the guest gets a
    // directory of its own beside PROFILE, shared by every profile and by
    // check, clippy and build.
    let target = out
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .unwrap_or(&out)
        .join("topology-guest");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "netwasm-topology",
            "--target-dir",
        ])
        .arg(&target)
        // The guest ships in the binary: small, and no paths of this
        // machine in it.
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s");
    // What cargo hands this script for the host's build (its flags, a
    // clippy or sccache wrapper) is not for the guest's.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    // Its stdout would reach cargo as this script's instructions.
    cmd.stdout(std::io::stderr());
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the topology guest: {e}"));
    assert!(
        status.success(),
        "building the topology guest (guests/topology) for wasm32-wasip2 failed; \
         `rustup target add wasm32-wasip2` installs the target, or set \
         NETWASM_TOPOLOGY_WASM to a prebuilt component"
    );
    let built = target.join("wasm32-wasip2/release/netwasm_topology.wasm");
    std::fs::copy(&built, &dest).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
}
