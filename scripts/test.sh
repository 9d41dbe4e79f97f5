#!/usr/bin/env bash
# The whole test suite: unit tests, the real-kernel integration tests (as
# root: namespaces, netlink, pings), and the guest SDK's documentation
# example. Installs what it needs first. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if [ "$(id -u)" -ne 0 ]; then
    echo "test: not root: the privileged tests will be skipped (CI runs them as root)" >&2
fi
cargo test --locked -p netwasm
cargo test --locked -p netwasm-topology
cargo test --locked -p netwasm-guest --doc
