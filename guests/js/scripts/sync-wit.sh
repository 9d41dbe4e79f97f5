#!/usr/bin/env bash
# Copies the repository's wit/ into this package (guests/js/wit), which
# `npm pack` ships: a project outside the checkout builds against the WIT
# its SDK was written for. With --check, only says whether the two differ
# (exit 1), as tests/languages.rs does. The package's version is the WIT
# package's (netwasm:lab@0.1.0 -> 0.1.0); --check checks that too.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo_wit=$here/../../wit
if [ "${1:-}" = "--check" ]; then
    diff -r "$repo_wit" "$here/wit" >&2 || {
        echo "sync-wit: guests/js/wit differs from wit/; run guests/js/scripts/sync-wit.sh" >&2
        exit 1
    }
    want=$(grep -ohE '^package netwasm:lab@[0-9.]+' "$repo_wit"/world.wit | sed 's/.*@//')
    have=$(node -p "require('$here/package.json').version")
    if [ "$want" != "$have" ]; then
        echo "sync-wit: package.json version $have is not the WIT's $want" >&2
        exit 1
    fi
    exit 0
fi
rm -rf "$here/wit"
cp -r "$repo_wit" "$here/wit"
