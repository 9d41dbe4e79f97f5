#!/usr/bin/env bash
# Installs the tools that build netwasm's non-Rust example guests
# (examples/seed-macvlan-{py,js,c}), each from its package registry at a
# pinned version. Idempotent: whatever is already present at the right
# version is skipped, so a second run takes a second or two.
#
#   Python      componentize-py           (pip)
#   JavaScript  componentize-js + deps    (npm ci in examples/seed-macvlan-js)
#   C           clang 14, lld, wasi-libc, libclang-rt-dev-wasm32 (apt-get)
#               wit-bindgen-cli, wasm-tools (cargo install --locked, minimal features)
#               the wasi_snapshot_preview1 reactor adapter of wasmtime 48
#               (built from crates.io by examples/seed-macvlan-c/build.sh)
#
# Needs root for apt-get (CI runs as root). Usage:
#   scripts/install-guest-tools.sh [py|js|c ...]     (default: all three)
set -euo pipefail

COMPONENTIZE_PY=0.25.1
WIT_BINDGEN=0.61.1
WASM_TOOLS=1.263.0

root=$(cd "$(dirname "$0")/.." && pwd)
langs=("$@")
[ ${#langs[@]} -eq 0 ] && langs=(py js c)

say() { echo "install-guest-tools: $*" >&2; }

version_of() { # TOOL -> its version number, or nothing
    "$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true
}

# cargo-installed tools land in ~/.cargo/bin.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

install_py() {
    local have
    have=$(python3 -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null || true)
    if [ "$have" = "$COMPONENTIZE_PY" ]; then
        say "componentize-py $COMPONENTIZE_PY: present"
        return
    fi
    say "componentize-py $COMPONENTIZE_PY: installing with pip"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        "componentize-py==$COMPONENTIZE_PY"
}

install_js() {
    local dir=$root/examples/seed-macvlan-js
    local stamp=$dir/node_modules/.package-lock.json
    if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ]; then
        say "componentize-js (examples/seed-macvlan-js/node_modules): present"
        return
    fi
    say "componentize-js: npm ci in examples/seed-macvlan-js"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

install_c() {
    local pkgs=(clang lld wasi-libc libclang-rt-dev-wasm32) missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "apt: ${pkgs[*]}: present"
    else
        say "apt: installing ${missing[*]}"
        local sudo=()
        [ "$(id -u)" -ne 0 ] && sudo=(sudo)
        # A fresh machine's package lists may be missing or stale (then the
        # install asks for versions the mirror no longer has).
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    if [ "$(version_of wit-bindgen)" = "$WIT_BINDGEN" ]; then
        say "wit-bindgen-cli $WIT_BINDGEN: present"
    else
        say "wit-bindgen-cli $WIT_BINDGEN: cargo install (C generator only)"
        cargo install --quiet --locked "wit-bindgen-cli@$WIT_BINDGEN" --no-default-features --features c
    fi
    if [ "$(version_of wasm-tools)" = "$WASM_TOOLS" ]; then
        say "wasm-tools $WASM_TOOLS: present"
    else
        say "wasm-tools $WASM_TOOLS: cargo install (component commands only)"
        cargo install --quiet --locked "wasm-tools@$WASM_TOOLS" --no-default-features --features component
    fi
}

for lang in "${langs[@]}"; do
    case $lang in
        py) install_py ;;
        js) install_js ;;
        c) install_c ;;
        *) say "unknown language $lang (want py, js or c)"; exit 2 ;;
    esac
done
say "done"
