#!/usr/bin/env python3
"""How long `netwasm plan` takes: the benchmark lab on the simulated kernel.

    python3 bench/plan.py                  # N = 10, 100, 1000; median of 15 runs
    python3 bench/plan.py --runs 31 --sizes 1000

Needs no root and touches no network: it runs `netwasm plan` of the
benchmark guest (the lab of bench/README.md, `up` = batch.build) against
the simulated kernel, whose model holds the benchmark's "physical"
namespace because the policy lets the guest open it. Each cell is the
median wall time of the whole process (start, policy, cached guest, the
run, the plan printed), with a `noop` run of the same guest measured in the
same invocation as the baseline: its difference is what the lab costs.
Writes bench/results/plan.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PHY_NS, PARENT, PREFIX, NET = "nwb-phy", "phy0", "nwb-plan", "10.231"

POLICY = f"""[namespaces]
create = ["{PREFIX}*"]
open = ["{PHY_NS}"]

[links]
parents = [{{ namespace = "{PHY_NS}", link = "{PARENT}" }}]

[quotas]
namespaces = 5000
links = 10000
addresses = 10000
routes = 10000
"""


def build() -> None:
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "netwasm"], cwd=ROOT, check=True)
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--target", "wasm32-wasip2", "-p", "netwasm-bench-guest"],
        cwd=ROOT,
        check=True,
    )


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=str(BENCH / "results"))
    args = ap.parse_args()
    if not args.no_build:
        build()
    netwasm = str(ROOT / "target" / "release" / "netwasm")
    guest = str(ROOT / "target" / "wasm32-wasip2" / "release" / "netwasm_bench_guest.wasm")
    work = Path(tempfile.mkdtemp(prefix="netwasm-plan-bench-"))
    policy = work / "policy.toml"
    policy.write_text(POLICY)
    base = [netwasm, "plan", "-q", "--cache-dir", str(work / "cache"), "--policy", str(policy)]
    # Compile once, so that every measured run loads the cached guest.
    timed([*base, guest, "--", "noop"])
    rows = []
    sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        lab = ["up", PHY_NS, PARENT, PREFIX, str(n), NET]
        cells = {"noop": [], "text": [], "json": []}
        # Interleaved, so that drift in the machine's load hits all alike.
        for _ in range(args.runs):
            cells["noop"].append(timed([*base, guest, "--", "noop"]))
            cells["text"].append(timed([*base, guest, "--", *lab]))
            cells["json"].append(timed([*base, "--json", guest, "--", *lab]))
        med = {k: statistics.median(v) * 1000 for k, v in cells.items()}
        rows.append((n, med))
        print(
            f"N={n:>5}  noop {med['noop']:6.1f} ms  plan {med['text']:6.1f} ms  "
            f"plan --json {med['json']:6.1f} ms  (lab alone: {med['text'] - med['noop']:6.1f} ms)"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# `netwasm plan` of the benchmark lab (simulated kernel)",
        "",
        f"`python3 bench/plan.py --sizes {args.sizes} --runs {args.runs}`: median wall time of the",
        "whole process; `noop` is the same guest doing nothing, measured in the same invocation.",
        "",
        "| N | noop | plan | plan --json | plan minus noop |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, med in rows:
        lines.append(
            f"| {n} | {med['noop']:.1f} ms | {med['text']:.1f} ms | {med['json']:.1f} ms | {med['text'] - med['noop']:.1f} ms |"
        )
    (out / "plan.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'plan.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
