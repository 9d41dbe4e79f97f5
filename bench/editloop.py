#!/usr/bin/env python3
"""The edit loop: how long the first run of an edited Python or JavaScript
guest takes, when a guest of the same toolchain ran before.

For each language the seed example is copied to a scratch directory, built
and run once (a cold compile: nothing of this toolchain cached). Then, for
each edit, its script changes (a string the guest prints and a comment)
and it is built again (timed apart: that is the language's toolchain, not
netwasm), and the first `netwasm run` of the new component is timed. Every
run has nothing to do (no arguments: its `run` returns its usage error), so
the time is the compile (or the reuse of compiled functions) and the start.

The same edits are run twice in one invocation, alternating per edit: with
the incremental store (the default) and with it off
(`NETWASM_INCREMENTAL_CACHE=0`, each compile from nothing) as the baseline;
each mode has its own cache directory.

    sudo python3 bench/editloop.py               # 5 edits per language
    sudo python3 bench/editloop.py --edits 9

Builds the release netwasm first (`--no-build` to skip); the guest builds
need scripts/install-guest-tools.sh. Writes bench/results/editloop.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "Python": ("seed-macvlan-py", "app.py", "build/seed-macvlan-py.wasm"),
    "JavaScript": ("seed-macvlan-js", "seed-macvlan.js", "build/seed-macvlan-js.wasm"),
}


def copy_example(name: str, dest: Path) -> Path:
    """The example in `dest`, its build script pointed at this checkout."""
    src = ROOT / "examples" / name
    ex = dest / name
    shutil.copytree(src, ex, ignore=shutil.ignore_patterns("build", "node_modules"), symlinks=True)
    if (src / "node_modules").is_dir():
        # Its links are relative to the checkout.
        (ex / "node_modules").symlink_to(src / "node_modules")
    script = ex / "build.sh"
    script.write_text(script.read_text().replace("../../", f"{ROOT}/"))
    return ex


def edit(script: Path, n: int) -> None:
    """Changes the usage line the guest prints (so the component's script
    really differs) and appends a comment."""
    text = script.read_text()
    text = re.sub(r"usage:(\s*#\d+)?", f"usage: #{n}", text, count=1)
    comment = "#" if script.suffix == ".py" else "//"
    script.write_text(text + f"\n{comment} edit {n}\n")


def build_guest(ex: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["bash", str(ex / "build.sh")], env=dict(os.environ, FORCE="1"), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_guest(netwasm: Path, guest: Path, env: dict[str, str], expect: str) -> float:
    cmd = [str(netwasm), "run", "--lab", "editloop", str(guest), "--"]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True)
    took = time.perf_counter() - start
    if expect.encode() not in done.stderr:
        raise SystemExit(f"{guest}: unexpected answer: {done.stderr.decode()[-300:]}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edits", type=int, default=5)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "netwasm"], cwd=ROOT, check=True)
    netwasm = ROOT / "target" / "release" / "netwasm"
    work = Path(tempfile.mkdtemp(prefix="netwasm-editloop-"))
    modes = {
        "incremental": {"NETWASM_INCREMENTAL_CACHE": "1"},
        "from nothing": {"NETWASM_INCREMENTAL_CACHE": "0"},
    }
    envs = {
        mode: dict(os.environ, **extra, NETWASM_CACHE_DIR=str(work / f"cache-{i}"),
                   NETWASM_STATE_DIR=str(work / "state"))
        for i, (mode, extra) in enumerate(modes.items())
    }
    rows = []
    try:
        for lang, (name, script_name, out) in EXAMPLES.items():
            ex = copy_example(name, work)
            build_guest(ex)
            guest = ex / out
            cold = {mode: run_guest(netwasm, guest, env, "usage") for mode, env in envs.items()}
            builds, times = [], {mode: [] for mode in envs}
            for n in range(1, args.edits + 1):
                edit(ex / script_name, n)
                builds.append(build_guest(ex))
                # Alternate which mode goes first, so neither always finds
                # the guest in the page cache.
                order = list(envs.items()) if n % 2 else list(reversed(envs.items()))
                for mode, env in order:
                    times[mode].append(run_guest(netwasm, guest, env, f"usage: #{n}"))
            inc = statistics.median(times["incremental"])
            full = statistics.median(times["from nothing"])
            rows.append((lang, cold["incremental"], statistics.median(builds), inc, full, full / inc,
                         max(times["incremental"])))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        "# The edit loop",
        "",
        f"`sudo python3 bench/editloop.py --edits {args.edits}`: first `netwasm run` of the seed example",
        "after its script changed, a guest of the same toolchain having run before; release build;",
        "medians over the edits. Baseline: the same components compiled from nothing",
        "(`NETWASM_INCREMENTAL_CACHE=0`), in the same invocation.",
        "",
        "| guest | cold first run | guest build (toolchain) | edited: first run | from nothing | ratio | worst edited |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for lang, cold, build, inc, full, ratio, worst in rows:
        lines.append(f"| {lang} | {cold:.1f} s | {build:.1f} s | {inc:.2f} s | {full:.2f} s | {ratio:.1f}x | {worst:.2f} s |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "editloop.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
