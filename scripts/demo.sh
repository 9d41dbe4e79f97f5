#!/usr/bin/env bash
# Builds everything and runs the seed macvlan lab of the Docker Networking
# Cookbook: builds it (vepa mode, the chapter's first run; pass `bridge` for
# the second), shows its state, then tears it down. Needs root.
# Safe to run again: a lab left over from an interrupted demo is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-vepa}
prefix=demo

scripts/install-deps.sh
cargo build --locked --release -p netwasm
cargo build --locked --release --target wasm32-wasip2 -p seed-macvlan
netwasm=target/release/netwasm
guest=target/wasm32-wasip2/release/seed_macvlan.wasm

echo "== netwasm run $guest -- up $prefix $mode"
$netwasm run --replace --lab seed "$guest" -- up "$prefix" "$mode"
echo "== netwasm ls"
$netwasm ls
echo "== netwasm status seed"
$netwasm status seed
echo "== netwasm show seed"
$netwasm show seed
$netwasm graph seed --format svg -o target/seed-lab.svg
echo "== netwasm graph seed: drawn in target/seed-lab.svg"
$netwasm graph seed --format mermaid
echo "== netwasm down seed"
$netwasm down seed
