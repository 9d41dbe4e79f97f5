#!/usr/bin/env bash
# Builds the JavaScript seed lab into build/seed-macvlan-js.wasm with the
# SDK's netwasm-componentize (guests/js, linked as @netwasm/guest) over
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
out=build/seed-macvlan-js.wasm
if [ -z "${FORCE:-}" ] && [ -f "$out" ] && [ -z "$(find seed-macvlan.js package-lock.json build.sh ../../guests/js/index.js ../../guests/js/bin ../../guests/js/wit -newer "$out" -print -quit)" ]; then
    echo "$PWD/$out"
    exit 0
fi
mkdir -p build
# netwasm-componentize passes the package's WIT (a copy of ../../wit,
# checked by tests/languages.rs), world netwasm:lab/lab, and `-d http
# fetch-event` (without it the component imports wasi:http, which netwasm
# refuses), and resolves the import of @netwasm/guest.
node node_modules/@netwasm/guest/bin/netwasm-componentize.js seed-macvlan.js \
    -o build/seed-macvlan-js.wasm.tmp >&2
mv build/seed-macvlan-js.wasm.tmp build/seed-macvlan-js.wasm
echo "$PWD/build/seed-macvlan-js.wasm"
