#!/usr/bin/env bash
# Builds the C seed lab into build/seed-macvlan-c.wasm:
#   1. wit-bindgen c       bindings for wit/ -> build/gen/lab.{h,c}, lab_component_type.o
#   2. clang 14            a wasip1 *reactor* core module (Debian's wasi-libc)
#   3. wasm-tools          component new, adapting wasip1 to WASI 0.2 with the
#                          wasi_snapshot_preview1 reactor adapter of wasmtime 48
#                          (written by the crates.io crate behind guests/wasi-adapter)
# Tools: scripts/install-guest-tools.sh c. Prints the component's path.
# Exit 127 when a tool is missing.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
wit_bindgen_version=0.61.1

missing() {
    echo "build.sh: $*; run scripts/install-guest-tools.sh c" >&2
    exit 127
}
command -v clang >/dev/null || missing "clang not found"
command -v wasm-ld >/dev/null || missing "wasm-ld (package lld) not found"
[ -f /usr/include/wasm32-wasi/stdio.h ] || missing "wasi-libc not found"
ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 ||
    missing "clang's wasm32 runtime (package libclang-rt-dev-wasm32) not found"
command -v wasm-tools >/dev/null || missing "wasm-tools not found"
have=$(wit-bindgen --version 2>/dev/null | awk '{print $2}' || true)
[ "$have" = "$wit_bindgen_version" ] || missing "wit-bindgen $wit_bindgen_version wanted, found ${have:-none}"

# Up to date (newer than every input)? Then there is nothing to do;
# FORCE=1 rebuilds all the same.
out=build/seed-macvlan-c.wasm
if [ -z "${FORCE:-}" ] && [ -f "$out" ] && [ -z "$(find seed-macvlan.c build.sh ../../wit ../../guests/wasi-adapter -newer "$out" -print -quit)" ]; then
    echo "$PWD/$out"
    exit 0
fi
mkdir -p build/gen
# 1. Bindings.
wit-bindgen c ../../wit --world netwasm:lab/lab --out-dir build/gen >/dev/null
# 2. The core module: a reactor (no main; exports `run` and `_initialize`).
clang --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra \
    -I build/gen -o build/seed-macvlan-c.core.wasm \
    seed-macvlan.c build/gen/lab.c build/gen/lab_component_type.o
# 3. The adapter, from crates.io (cargo builds the tiny helper once), and the component.
CARGO_TARGET_DIR="$root/target/guests" "${CARGO:-cargo}" run --quiet --manifest-path "$root/Cargo.toml" \
    -p wasi-adapter -- reactor build/wasi_snapshot_preview1.reactor.wasm
wasm-tools component new build/seed-macvlan-c.core.wasm \
    --adapt wasi_snapshot_preview1=build/wasi_snapshot_preview1.reactor.wasm \
    -o build/seed-macvlan-c.wasm
echo "$PWD/build/seed-macvlan-c.wasm"
