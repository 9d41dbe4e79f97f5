#!/usr/bin/env bash
# Builds the JavaScript CNI plugin into build/cni-macvlan-js.wasm with
# componentize-js (pinned in package.json / package-lock.json; `npm ci`
# runs here when node_modules is missing or older than the lock file).
# Exit 127 when a tool is missing.
set -euo pipefail
cd "$(dirname "$0")"
for tool in node npm; do
    if ! command -v "$tool" >/dev/null; then
        echo "build.sh: $tool not found; install Node.js 20 and npm" >&2
        exit 127
    fi
done
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    npm ci --no-audit --no-fund >&2
fi
# Up to date (newer than every input)? Then there is nothing to do;
# FORCE=1 rebuilds all the same.
out=build/cni-macvlan-js.wasm
if [ -z "${FORCE:-}" ] && [ -f "$out" ] && [ -z "$(find cni-macvlan.js package-lock.json build.sh ../../wit -newer "$out" -print -quit)" ]; then
    echo "$PWD/$out"
    exit 0
fi
mkdir -p build
# -d http fetch-event: leave out StarlingMonkey's fetch() support, which
# would make the component import wasi:http (netwasm refuses that).
node node_modules/@bytecodealliance/componentize-js/src/cli.js cni-macvlan.js \
    --wit ../../wit --world-name netwasm:lab/plugin \
    -d http fetch-event \
    -o build/cni-macvlan-js.wasm.tmp >&2
mv build/cni-macvlan-js.wasm.tmp build/cni-macvlan-js.wasm
echo "$PWD/build/cni-macvlan-js.wasm"
