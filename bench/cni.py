#!/usr/bin/env python3
"""ADD and DEL latency of netwasm-cni (the cni-macvlan guest, cached) against
the reference macvlan plugin, with the same host-local IPAM, side by side.

    sudo python3 bench/cni.py             # 21 rounds
    sudo python3 bench/cni.py --rounds 51

Root is needed; nothing is done in the machine's root namespace: the "host"
is a namespace this script makes (with eth0, a veth to a switch namespace),
the plugins run under `nsenter --net` of it, and each round's container is a
fresh namespace under /run/netns. Each round runs both plugins, in
alternating order, ADD then DEL; the cell is the median wall time of the
plugin process, and the ratio is the median of the per-round ratios.
Writes bench/results/cni.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "/usr/lib/cni"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "netwasm"], cwd=ROOT, check=True)
        subprocess.run(
            ["cargo", "build", "--quiet", "--release", "--target", "wasm32-wasip2", "-p", "cni-macvlan"],
            cwd=ROOT,
            check=True,
        )
    guest = ROOT / "target" / "wasm32-wasip2" / "release" / "cni_macvlan.wasm"
    work = Path(tempfile.mkdtemp(prefix="netwasm-cni-bench-"))
    pre = f"nwcb{os.getpid()}"
    host, sw = f"{pre}-h", f"{pre}-sw"
    made = [host, sw]
    try:
        for n in (host, sw):
            ip("netns", "add", n)
        ip("-n", sw, "link", "add", "br0", "type", "bridge")
        ip("-n", sw, "link", "set", "br0", "up")
        ip("-n", host, "link", "add", "eth0", "type", "veth", "peer", "name", "p0", "netns", sw)
        ip("-n", sw, "link", "set", "p0", "master", "br0")
        ip("-n", sw, "link", "set", "p0", "up")
        ip("-n", host, "link", "set", "eth0", "up")
        (work / "bin").mkdir()
        os.symlink(ROOT / "target" / "release" / "netwasm-cni", work / "bin" / "netwasm-cni")
        base = {
            "cniVersion": "1.0.0",
            "name": "bench",
            "master": "eth0",
            "mode": "bridge",
            "ipam": {
                "type": "host-local",
                "subnet": "10.77.0.0/16",
                "dataDir": str(work / "ipam"),
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        }
        confs = {
            "reference": {**base, "type": "macvlan"},
            "netwasm": {**base, "type": "netwasm-cni", "guest": str(guest)},
        }
        exe = {"reference": f"{REFERENCE}/macvlan", "netwasm": str(work / "bin" / "netwasm-cni")}

        def call(which: str, command: str, cid: str, ns: str) -> float:
            env = {
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                "CNI_COMMAND": command,
                "CNI_CONTAINERID": cid,
                "CNI_IFNAME": "eth0",
                "CNI_NETNS": f"/run/netns/{ns}",
                "CNI_PATH": f"{REFERENCE}:{work / 'bin'}",
                "NETWASM_STATE_DIR": str(work / "state"),
                "NETWASM_CACHE_DIR": str(work / "cache"),
            }
            start = time.perf_counter()
            p = subprocess.run(
                ["nsenter", f"--net=/run/netns/{host}", exe[which]],
                input=json.dumps(confs[which]).encode(),
                env=env,
                capture_output=True,
            )
            took = time.perf_counter() - start
            if p.returncode != 0:
                raise SystemExit(f"{which} {command}: {p.stdout.decode()} {p.stderr.decode()}")
            return took

        # Warm: compile the guest into the cache; page both binaries in.
        for which in confs:
            ns = f"{pre}-warm-{which}"
            ip("netns", "add", ns)
            made.append(ns)
            call(which, "ADD", f"warm-{which}", ns)
            call(which, "DEL", f"warm-{which}", ns)
        times = {(w, c): [] for w in confs for c in ("ADD", "DEL")}
        ratios = {"ADD": [], "DEL": []}
        for r in range(args.rounds):
            order = ["netwasm", "reference"] if r % 2 else ["reference", "netwasm"]
            this = {}
            for which in order:
                ns = f"{pre}-{r}-{which[0]}"
                ip("netns", "add", ns)
                made.append(ns)
                cid = f"r{r}-{which}"
                this[(which, "ADD")] = call(which, "ADD", cid, ns)
                this[(which, "DEL")] = call(which, "DEL", cid, ns)
            for k, v in this.items():
                times[k].append(v)
            for c in ("ADD", "DEL"):
                ratios[c].append(this[("netwasm", c)] / this[("reference", c)])
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        ratio = {c: statistics.median(v) for c, v in ratios.items()}
        lines = [
            "# netwasm-cni against the reference macvlan plugin",
            "",
            f"`sudo python3 bench/cni.py --rounds {args.rounds}`: median wall time of one plugin process",
            "(nsenter included, the same for both), host-local IPAM for both, the guest cached;",
            "ratio: the median over rounds of netwasm's time over the reference's.",
            "",
            "| | reference macvlan | netwasm-cni (cni-macvlan guest) | ratio |",
            "|---|---:|---:|---:|",
        ]
        for c in ("ADD", "DEL"):
            lines.append(f"| {c} | {med[('reference', c)]:.1f} ms | {med[('netwasm', c)]:.1f} ms | {ratio[c]:.2f}× |")
        text = "\n".join(lines) + "\n"
        print(text)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "cni.md").write_text(text)
    finally:
        for n in made:
            subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
