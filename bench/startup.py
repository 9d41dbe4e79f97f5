#!/usr/bin/env python3
"""Start-up of a cached guest in each language: the wall time of
`netwasm run` of the seed example (Rust, Python, JavaScript) when it has
nothing to do — no arguments, so its `run` returns its usage error at once.
That is process start, the cache hit (hash of the guest, check of the
compiled entry, mapping it), instantiation, the language runtime's own
start, one call and the rollback of an empty run: what a user waits for
before a guest's first line.

    sudo python3 bench/startup.py              # 21 runs each
    sudo python3 bench/startup.py --runs 51

Builds the release netwasm and the three seed guests first (`--no-build`
to skip; the Python and JavaScript builds need scripts/install-guest-tools.sh).
Each guest is run once to fill a private cache, then timed; the cell is the
median. Writes bench/results/startup.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUESTS = {
    "Rust": ROOT / "target" / "wasm32-wasip2" / "release" / "seed_macvlan.wasm",
    "Python": ROOT / "examples" / "seed-macvlan-py" / "build" / "seed-macvlan-py.wasm",
    "JavaScript": ROOT / "examples" / "seed-macvlan-js" / "build" / "seed-macvlan-js.wasm",
}


def build() -> None:
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "netwasm"], cwd=ROOT, check=True)
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--target", "wasm32-wasip2", "-p", "seed-macvlan"],
        cwd=ROOT,
        check=True,
    )
    for ex in ("seed-macvlan-py", "seed-macvlan-js"):
        subprocess.run(["bash", str(ROOT / "examples" / ex / "build.sh")], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    if not args.no_build:
        build()
    netwasm = ROOT / "target" / "release" / "netwasm"
    work = Path(tempfile.mkdtemp(prefix="netwasm-startup-"))
    env = dict(os.environ, NETWASM_CACHE_DIR=str(work / "cache"), NETWASM_STATE_DIR=str(work / "state"))
    rows = []
    try:
        for lang, guest in GUESTS.items():
            size = guest.stat().st_size
            cmd = [str(netwasm), "run", "--lab", "startup", str(guest), "--"]
            start = time.perf_counter()
            first = subprocess.run(cmd, env=env, capture_output=True)
            compile_s = time.perf_counter() - start
            if b"usage" not in first.stderr:
                raise SystemExit(f"{lang}: unexpected answer: {first.stderr.decode()[-300:]}")
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                subprocess.run(cmd, env=env, capture_output=True)
                times.append(time.perf_counter() - start)
            rows.append((lang, size, compile_s, statistics.median(times) * 1000, min(times) * 1000))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        "# Start-up of a cached guest",
        "",
        f"`sudo python3 bench/startup.py --runs {args.runs}`: wall time of `netwasm run` of the seed",
        "example with no arguments (its run returns its usage error), release build.",
        "",
        "| guest | component | first run (compiles) | cached: median | min |",
        "|---|---:|---:|---:|---:|",
    ]
    for lang, size, compile_s, med, low in rows:
        lines.append(f"| {lang} | {size / 1e6:.1f} MB | {compile_s:.1f} s | {med:.1f} ms | {low:.1f} ms |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "startup.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
