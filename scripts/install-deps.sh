#!/usr/bin/env bash
# Installs what building and testing netwasm needs, and only what is missing.
# Safe to run again. Package installs need root (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "install-deps: $*"; }

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    say "adding the wasm32-wasip2 Rust target"
    rustup target add wasm32-wasip2
fi

missing=()
command -v ping >/dev/null || missing+=(iputils-ping)
command -v ip >/dev/null || missing+=(iproute2)
command -v setpriv >/dev/null && command -v nsenter >/dev/null || missing+=(util-linux)
# The reference CNI plugins (host-local IPAM, macvlan, tuning) that
# tests/cni.rs runs netwasm-cni beside.
[ -x /usr/lib/cni/host-local ] || missing+=(containernetworking-plugins)
# podman with its CNI backend, runc, and busybox-static for the test image
# (tests/cni.rs runs containers on a netwasm-cni network).
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "missing ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
        exit 1
    fi
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -x scripts/install-guest-tools.sh ]; then
    scripts/install-guest-tools.sh
fi
