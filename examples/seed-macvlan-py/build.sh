#!/usr/bin/env bash
# Builds the Python seed lab into build/seed-macvlan-py.wasm with
# componentize-py (pinned; installed by scripts/install-guest-tools.sh) and
# the Python SDK of this checkout (guests/python, package `netwasm`).
# Prints the component's path. Exit 127 when the tool is missing.
set -euo pipefail
cd "$(dirname "$0")"
want=0.25.1
python=${PYTHON:-python3}
have=$("$python" -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null || true)
if [ "$have" != "$want" ]; then
    echo "build.sh: componentize-py $want wanted, found ${have:-none}; run scripts/install-guest-tools.sh py" >&2
    exit 127
fi
# Up to date (newer than every input)? Then there is nothing to do;
# FORCE=1 rebuilds all the same.
out=build/seed-macvlan-py.wasm
if [ -z "${FORCE:-}" ] && [ -f "$out" ] && [ -z "$(find app.py build.sh ../../wit ../../guests/python/netwasm -newer "$out" -print -quit)" ]; then
    echo "$PWD/$out"
    exit 0
fi
mkdir -p build
# Called through the interpreter, so no PATH entry (or pyenv shim) is needed.
"$python" -c 'import sys; from componentize_py import script; sys.argv[0] = "componentize-py"; sys.exit(script())' \
    -d ../../wit -w netwasm:lab/lab componentize -p . -p ../../guests/python app \
    -o build/seed-macvlan-py.wasm.tmp >&2
rm -rf __pycache__ ../../guests/python/netwasm/__pycache__
mv build/seed-macvlan-py.wasm.tmp build/seed-macvlan-py.wasm
echo "$PWD/build/seed-macvlan-py.wasm"
