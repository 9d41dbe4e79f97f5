#!/usr/bin/env python3
"""netwasm lab-setup benchmark: one command, every variant, every size.

Builds the same lab of N "units" (a namespace; a bridge-mode macvlan `eth0`
on a shared parent, placed in the namespace; `lo` and `eth0` up; a /24
address; a default route) with:

  netwasm   a netwasm guest (bench/guest) under `netwasm run`, torn down by
            `netwasm down`
  native    the lower bound: a Rust rtnetlink program (bench/native),
            sequential; `native-8` is the same with 8 units in flight
            (reported, not used as the baseline)
  ip        bash calling `ip` once per step (bench/variants/ip.sh), each
            macvlan created beside its parent and moved into its namespace,
            as the Docker Networking Cookbook and most lab scripts do
  ip-batch  `ip -batch`, N+2 processes (bench/variants/ip-batch.sh), links
            moved the same way
  ip-direct, ip-batch-direct
            the same two with each macvlan created directly in its
            namespace: those tools at their best
  pyroute2  pyroute2 (bench/variants/pyroute2_lab.py), links created directly
            in their namespaces

for N = 1, 10, 100, 1000, and reports the median wall time of setup and of
teardown per unit, the ratios against the native lower bound, the fixed cost
of `netwasm run` with a cached guest that does nothing, and the peak RSS of
the netwasm process. Each variant's first run at each N is checked (links,
macvlan mode and parent, addresses, routes, one ping) before its times
count; every run starts from a clean kernel (the previous run's namespaces
destroyed). See bench/README.md.

Run as root: python3 bench/run.py [--quick]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import glob
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PYROUTE2_VERSION = "0.9.7"

# The shared "physical" network: a veth pair between two namespaces this
# benchmark makes. phy0 (in PHY_NS) is every macvlan's parent; gw0 (in
# GW_NS) carries each subnet's gateway. Nothing touches the root namespace.
NS_PREFIX = "nwb"  # every namespace this benchmark makes starts with it
PHY_NS = "nwb-phy"
GW_NS = "nwb-gw"
PARENT = "phy0"
NET = "10.231"  # unit i: NET.{i//250}.{i%250+2}/24, gateway NET.{i//250}.1
LAB = "nwb-lab"
LAB_STEPS = "nwb-lab-steps"
NOOP_LAB = "nwb-noop"

VARIANTS = ["netwasm", "netwasm-steps", "native", "native-8", "ip", "ip-batch", "ip-direct", "ip-batch-direct", "pyroute2"]
PREFIXES = {
    "netwasm": "nwbw",
    "netwasm-steps": "nwbt",
    "native": "nwbn",
    "native-8": "nwbk",
    "ip": "nwbs",
    "ip-batch": "nwbb",
    "ip-direct": "nwbd",
    "ip-batch-direct": "nwbe",
    "pyroute2": "nwbp",
}
SLOW = {"ip", "ip-batch", "ip-direct", "ip-batch-direct", "pyroute2"}
# The shell variants: script, and where each macvlan is created.
SHELL = {
    "ip": ("ip.sh", "move"),
    "ip-batch": ("ip-batch.sh", "move"),
    "ip-direct": ("ip.sh", "direct"),
    "ip-batch-direct": ("ip-batch.sh", "direct"),
}
BASELINE = "native"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def sh(*cmd: str, check: bool = True, capture: bool = False, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(cmd),
        check=check,
        text=True,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else None,
        **kw,
    )


MEASURE: list[str] = []  # the native binary's `measure` subcommand, once built


def timed(cmd: list[str]) -> tuple[float, int]:
    """Runs cmd; returns (wall seconds, peak RSS in KiB of that process).

    The command runs under `netwasm-bench-native measure`, a small process
    that times it and reads its peak RSS with wait4: measured from Python,
    the peak RSS would include the Python image that the child's exec
    replaced."""
    fd, out = tempfile.mkstemp(prefix="nwb-measure-", dir="/run")
    os.close(fd)
    try:
        p = subprocess.run(
            [*MEASURE, out, "--", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
        with open(out) as f:
            m = json.load(f)
        return m["wall_s"], m["maxrss_kib"]
    finally:
        os.unlink(out)


# ---- installation and build -------------------------------------------


def install(args) -> None:
    if shutil.which("ping") is None:
        log("installing iputils-ping (apt)")
        sh("apt-get", "update", "-qq")
        sh("apt-get", "install", "-y", "-qq", "iputils-ping")
    try:
        import importlib.metadata as md

        have = md.version("pyroute2")
    except Exception:
        have = None
    if have != PYROUTE2_VERSION:
        log(f"installing pyroute2=={PYROUTE2_VERSION} (pip)")
        sh(sys.executable, "-m", "pip", "install", "-q", f"pyroute2=={PYROUTE2_VERSION}")


def build() -> None:
    log("building netwasm and the native lower bound (cargo build --release)")
    sh("cargo", "build", "--release", "-q", "-p", "netwasm", "-p", "netwasm-bench-native", cwd=REPO)
    log("building the benchmark guest (wasm32-wasip2)")
    sh("cargo", "build", "--release", "-q", "--target", "wasm32-wasip2", "-p", "netwasm-bench-guest", cwd=REPO)


def target_dir() -> Path:
    out = sh("cargo", "metadata", "--format-version", "1", "--no-deps", capture=True, cwd=REPO).stdout
    return Path(json.loads(out)["target_directory"])


# ---- the kernel environment ----------------------------------------------


def our_namespaces() -> list[str]:
    return sorted(n for n in os.listdir("/run/netns") if n.startswith(NS_PREFIX)) if os.path.isdir("/run/netns") else []


def remove_ns(name: str) -> None:
    sh("ip", "netns", "del", name, check=False)


def make_env() -> None:
    sh("ip", "netns", "add", PHY_NS)
    sh("ip", "netns", "add", GW_NS)
    sh("ip", "-n", PHY_NS, "link", "add", PARENT, "type", "veth", "peer", "name", "gw0", "netns", GW_NS)
    for ns, dev in [(PHY_NS, "lo"), (PHY_NS, PARENT), (GW_NS, "lo"), (GW_NS, "gw0")]:
        sh("ip", "-n", ns, "link", "set", dev, "up")
    for s in range(4):
        sh("ip", "-n", GW_NS, "addr", "add", f"{NET}.{s}.1/24", "dev", "gw0")


def parent_addresses() -> int:
    """Entries in the parent's unicast address list: one per macvlan that is
    up on it, so it is back to its baseline once the kernel has taken down
    every macvlan of a destroyed namespace."""
    out = sh("bridge", "-n", PHY_NS, "fdb", "show", "dev", PARENT, capture=True).stdout
    return len(out.splitlines())


def netns_work_running() -> bool:
    """Whether a kernel worker is running namespace cleanup now (workqueue
    workers show `+WQ` in their name while they execute an item of WQ)."""
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(comm) as f:
                name = f.read()
        except OSError:
            continue
        if name.startswith("kworker") and "+netns" in name:
            return True
    return False


def wait_clean(prefix: str, baseline: int, timeout: float = 300.0) -> float:
    """Waits until the kernel has destroyed the namespaces of a torn-down
    run: no names left, the parent's address list back to its baseline,
    and no namespace cleanup running for several polls in a row."""
    t0 = time.perf_counter()
    quiet = 0
    while True:
        left = [n for n in our_namespaces() if n.startswith(prefix)]
        if left:
            raise RuntimeError(f"teardown left namespaces behind: {left[:5]}...")
        busy = parent_addresses() != baseline or netns_work_running()
        quiet = 0 if busy else quiet + 1
        if quiet >= 5:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError("the kernel did not finish destroying namespaces in time")
        time.sleep(0.02)


# ---- verification ----------------------------------------------------------


def unit(i: int) -> tuple[str, str]:
    s, h = i // 250, i % 250 + 2
    return f"{NET}.{s}.{h}", f"{NET}.{s}.1"


def check_unit(prefix: str, i: int, parent_index: int) -> str | None:
    ns = f"{prefix}{i}"
    addr, gw = unit(i)
    try:
        links = json.loads(sh("ip", "-n", ns, "-d", "-j", "addr", "show", capture=True).stdout)
        routes = json.loads(sh("ip", "-n", ns, "-j", "route", "show", capture=True).stdout)
    except subprocess.CalledProcessError as e:
        return f"{ns}: {e.stderr.strip()}"
    by_name = {l["ifname"]: l for l in links}
    if sorted(by_name) != ["eth0", "lo"]:
        return f"{ns}: links {sorted(by_name)}, expected eth0 and lo"
    lo, eth0 = by_name["lo"], by_name["eth0"]
    if "UP" not in lo["flags"]:
        return f"{ns}: lo is down"
    if "UP" not in eth0["flags"]:
        return f"{ns}: eth0 is down"
    info = eth0.get("linkinfo", {})
    if info.get("info_kind") != "macvlan" or info.get("info_data", {}).get("mode") != "bridge":
        return f"{ns}: eth0 is {info}, expected a bridge-mode macvlan"
    if eth0.get("link_index") != parent_index or "link_netnsid" not in eth0:
        return f"{ns}: eth0's parent is index {eth0.get('link_index')} (netnsid {eth0.get('link_netnsid')}), expected {PARENT} ({parent_index}) in {PHY_NS}"
    v4 = [(a["local"], a["prefixlen"]) for a in eth0.get("addr_info", []) if a["family"] == "inet"]
    if v4 != [(addr, 24)]:
        return f"{ns}: eth0 has {v4}, expected {addr}/24"
    default = [r for r in routes if r.get("dst") == "default"]
    if len(default) != 1 or default[0].get("gateway") != gw or default[0].get("dev") != "eth0":
        return f"{ns}: default routes {default}, expected one via {gw} dev eth0"
    return None


def verify(variant: str, n: int) -> None:
    prefix = PREFIXES[variant]
    names = [x for x in our_namespaces() if re.fullmatch(re.escape(prefix) + r"\d+", x)]
    if len(names) != n:
        raise RuntimeError(f"{variant}: {len(names)} namespaces, expected {n}")
    phy = json.loads(sh("ip", "-n", PHY_NS, "-j", "link", "show", PARENT, capture=True).stdout)
    parent_index = phy[0]["ifindex"]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        problems = [p for p in pool.map(lambda i: check_unit(prefix, i, parent_index), range(n)) if p]
    if problems:
        raise RuntimeError(f"{variant} built a wrong lab: {problems[0]} ({len(problems)} units wrong)")
    last = n - 1
    addr, gw = unit(last)
    r = sh("ip", "netns", "exec", f"{prefix}{last}", "ping", "-c", "1", "-W", "2", gw, check=False, capture=True)
    if r.returncode != 0:
        raise RuntimeError(f"{variant}: {prefix}{last} ({addr}) cannot ping its gateway {gw}")


# ---- the variants ------------------------------------------------------------


class Bench:
    def __init__(self, args, target: Path, work: Path):
        self.args = args
        self.netwasm = args.netwasm or str(target / "release" / "netwasm")
        self.native = str(target / "release" / "netwasm-bench-native")
        self.guest = str(target / "wasm32-wasip2" / "release" / "netwasm_bench_guest.wasm")
        self.work = work
        self.state_dir = str(work / "state")
        self.cache_dir = str(work / "cache")
        self.policy = str(work / "policy.toml")
        with open(self.policy, "w") as f:
            f.write(
                f"""# The default policy, plus the benchmark's parent link and room for 1000 units.
[namespaces]
create = ["{PREFIXES['netwasm']}*", "{PREFIXES['netwasm-steps']}*"]
open = ["{PHY_NS}"]

[links]
parents = [{{ namespace = "{PHY_NS}", link = "{PARENT}" }}]

[quotas]
namespaces = 5000
links = 10000
addresses = 10000
routes = 10000

[limits]
deadline = "600s"
"""
            )

    def setup_cmd(self, variant: str, n: int) -> list[str]:
        prefix = PREFIXES[variant]
        lab = [PHY_NS, PARENT, prefix, str(n), NET]
        if variant in ("netwasm", "netwasm-steps"):
            how, name = ("up", LAB) if variant == "netwasm" else ("up-steps", LAB_STEPS)
            return [
                self.netwasm, "run", "--quiet", "--lab", name, "--state-dir", self.state_dir,
                "--cache-dir", self.cache_dir, "--policy", self.policy, self.guest, "--", how, *lab,
            ]
        if variant == "native":
            return [self.native, "up", *lab]
        if variant == "native-8":
            return [self.native, "up", *lab, "--inflight", "8"]
        if variant in SHELL:
            script, placement = SHELL[variant]
            return ["bash", str(BENCH / "variants" / script), "up", *lab, placement]
        if variant == "pyroute2":
            return [sys.executable, str(BENCH / "variants" / "pyroute2_lab.py"), "up", *lab]
        raise ValueError(variant)

    def teardown_cmd(self, variant: str, n: int) -> list[str]:
        prefix = PREFIXES[variant]
        if variant in ("netwasm", "netwasm-steps"):
            name = LAB if variant == "netwasm" else LAB_STEPS
            return [self.netwasm, "down", name, "--state-dir", self.state_dir]
        if variant in ("native", "native-8"):
            return [self.native, "down", prefix, str(n)]
        if variant in SHELL:
            script, _ = SHELL[variant]
            return ["bash", str(BENCH / "variants" / script), "down", prefix, str(n)]
        if variant == "pyroute2":
            return [sys.executable, str(BENCH / "variants" / "pyroute2_lab.py"), "down", prefix, str(n)]
        raise ValueError(variant)

    def noop_cmd(self) -> list[str]:
        return [
            self.netwasm, "run", "--quiet", "--lab", NOOP_LAB, "--state-dir", self.state_dir,
            "--cache-dir", self.cache_dir, self.guest, "--", "noop",
        ]


# ---- the run -----------------------------------------------------------------


def machine() -> dict:
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    # findmnt names ext4 as such; `stat -f` calls every ext* "ext2/ext3".
    found = sh("findmnt", "-n", "-o", "FSTYPE", "--target", "/run", check=False, capture=True)
    run_fs = found.stdout.strip() or sh("stat", "-f", "-c", "%T", "/run", capture=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_mib": mem,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "iproute2": sh("ip", "-V", capture=True).stdout.strip(),
        "python": platform.python_version(),
        "pyroute2": PYROUTE2_VERSION,
        "state_dir_fs": run_fs,
        "loadavg_at_start": os.getloadavg()[0],
    }


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def paired(a: list[float], b: list[float]) -> float:
    """Median over rounds of a[r] / b[r] (a variant that ran fewer rounds
    pairs with the first rounds of the other)."""
    return statistics.median(x / y for x, y in zip(a, b))


def runs_for(args, v: str, n: int) -> int:
    if n >= 1000 and v in SLOW:
        return args.slow_at_1000
    return args.runs


def run_all(args, b: Bench, baseline_addrs: int) -> dict:
    """Every size; at each, the variants take turns run by run (A B C, A B C,
    ...), so a machine that slows down or speeds up during the benchmark
    shifts every variant alike instead of whichever happened to run then."""
    results: dict = {"sizes": args.sizes, "variants": {}}
    for n in args.sizes:
        todo = [v for v in args.variants if runs_for(args, v, n) > 0]
        times: dict = {v: ([], [], []) for v in todo}
        for r in range(max((runs_for(args, v, n) for v in todo), default=0)):
            for v in todo:
                if r >= runs_for(args, v, n):
                    continue
                wait_clean(PREFIXES[v], baseline_addrs)
                t_up, rss_up = timed(b.setup_cmd(v, n))
                if r == 0:
                    verify(v, n)
                t_down, rss_down = timed(b.teardown_cmd(v, n))
                setup, teardown, rss = times[v]
                setup.append(t_up)
                teardown.append(t_down)
                rss.append(max(rss_up, rss_down))
        if any(os.path.exists(os.path.join(b.state_dir, "labs", lab)) for lab in (LAB, LAB_STEPS)):
            raise RuntimeError("netwasm down left the lab's state behind")
        for v in todo:
            setup, teardown, rss = times[v]
            entry = {
                "runs": len(setup),
                "setup_s": setup,
                "teardown_s": teardown,
                "setup_median_s": median(setup),
                "teardown_median_s": median(teardown),
                "setup_per_unit_ms": median(setup) * 1000 / n,
                "teardown_per_unit_ms": median(teardown) * 1000 / n,
            }
            if v.startswith("netwasm"):
                entry["peak_rss_kib"] = max(rss)
            results["variants"].setdefault(v, {})[str(n)] = entry
            log(
                f"N={n:<5} {v:<15} setup {entry['setup_per_unit_ms']:8.3f} ms/unit"
                f"  teardown {entry['teardown_per_unit_ms']:7.3f} ms/unit  ({len(setup)} runs)"
                + (f"  peak RSS {entry['peak_rss_kib'] / 1024:.1f} MiB" if v.startswith("netwasm") else "")
            )
    # Marginal cost per unit: without the fixed cost that T(1) carries.
    for v, by_n in results["variants"].items():
        one = by_n.get("1")
        for n, e in by_n.items():
            if one and int(n) > 1:
                e["setup_marginal_ms"] = (e["setup_median_s"] - one["setup_median_s"]) * 1000 / (int(n) - 1)
    # Ratios against the sequential native lower bound: the median over
    # rounds of the ratio within a round (paired), which a machine drifting
    # between rounds affects far less than a ratio of medians.
    base = results["variants"].get(BASELINE, {})
    for v, by_n in results["variants"].items():
        for n, e in by_n.items():
            if n in base:
                e["setup_ratio"] = paired(e["setup_s"], base[n]["setup_s"])
                e["teardown_ratio"] = paired(e["teardown_s"], base[n]["teardown_s"])
                if "setup_marginal_ms" in e and base[n].get("setup_marginal_ms", 0) > 0:
                    e["marginal_ratio"] = e["setup_marginal_ms"] / base[n]["setup_marginal_ms"]
    return results


def fixed_cost(args, b: Bench) -> dict:
    # The first run compiles the guest into an empty cache.
    shutil.rmtree(b.cache_dir, ignore_errors=True)
    compile_s, _ = timed(b.noop_cmd())
    walls, rss = [], []
    for _ in range(args.fixed_runs):
        w, r = timed(b.noop_cmd())
        walls.append(w)
        rss.append(r)
    out = {
        "runs": args.fixed_runs,
        "first_run_compiling_ms": compile_s * 1000,
        "cached_wall_ms": [w * 1000 for w in walls],
        "cached_median_ms": median(walls) * 1000,
        "peak_rss_kib": max(rss),
    }
    log(f"fixed cost: netwasm run (cached, noop) {out['cached_median_ms']:.1f} ms; first run (compiling) {out['first_run_compiling_ms']:.0f} ms")
    return out


TARGETS = [
    ("netwasm setup per unit at N=100 ≤ 1.5× native", lambda r: r["setup_ratio"]("netwasm", 100), lambda x: x <= 1.5, "{:.2f}×"),
    ("netwasm ≥ 15× faster than bash + ip at N=100 (links moved, as the cookbook does)", lambda r: r["speedup"]("ip", 100), lambda x: x >= 15, "{:.1f}×"),
    ("netwasm ≥ 10× faster than ip -batch at N=100 (links moved, as the cookbook does)", lambda r: r["speedup"]("ip-batch", 100), lambda x: x >= 10, "{:.1f}×"),
    ("netwasm ≥ 20× faster than pyroute2 at N=100", lambda r: r["speedup"]("pyroute2", 100), lambda x: x >= 20, "{:.1f}×"),
    ("netwasm per unit at N=1000 ≤ 1.3× per unit at N=100", lambda r: r["scaling"](), lambda x: x <= 1.3, "{:.2f}×"),
    ("netwasm down per unit at N=100 ≤ 2× native teardown", lambda r: r["teardown_ratio"]("netwasm", 100), lambda x: x <= 2, "{:.2f}×"),
    ("netwasm down per unit at N=1000 ≤ 2× native teardown", lambda r: r["teardown_ratio"]("netwasm", 1000), lambda x: x <= 2, "{:.2f}×"),
    ("fixed cost of netwasm run (cached noop guest) < 20 ms", lambda r: r["fixed"](), lambda x: x < 20, "{:.1f} ms"),
    ("peak RSS of netwasm at N=1000 < 100 MB", lambda r: r["rss"](1000), lambda x: x < 100, "{:.1f} MB"),
]


# The shell tools at their best (links created in place): not the issue's
# targets, whose reference figures (~31 and ~20 ms per unit) are of scripts
# that move links, but reported beside them, for netwasm and for the native
# programs, so the targets can be read this stricter way too.
STRICTER = ["ip-direct", "ip-batch-direct"]
STRICTER_BY = ["netwasm", "native", "native-8"]


def stricter(res: dict, n: int = 100) -> list[dict]:
    V = res["variants"]
    out = []
    for base in STRICTER:
        b = V.get(base, {}).get(str(n), {})
        if not b:
            continue
        row = {"baseline": base, "n": n, "baseline_ms_per_unit": b["setup_per_unit_ms"], "speedup": {}}
        for v in STRICTER_BY:
            x = V.get(v, {}).get(str(n), {}).get("setup_s")
            if x:
                row["speedup"][v] = paired(b["setup_s"], x)
        out.append(row)
    return out


def check_targets(res: dict) -> list[dict]:
    V = res["variants"]

    def get(v, n, k):
        return V.get(v, {}).get(str(n), {}).get(k)

    def speedup(v, n):
        a, b = get(v, n, "setup_s"), get("netwasm", n, "setup_s")
        return paired(a, b) if a and b else None

    def scaling():
        a, b = get("netwasm", 1000, "setup_per_unit_ms"), get("netwasm", 100, "setup_per_unit_ms")
        return a / b if a and b else None

    acc = {
        "setup_ratio": lambda v, n: get(v, n, "setup_ratio"),
        "teardown_ratio": lambda v, n: get(v, n, "teardown_ratio"),
        "speedup": speedup,
        "scaling": scaling,
        "fixed": lambda: res.get("fixed_cost", {}).get("cached_median_ms"),
        "rss": lambda n: (get("netwasm", n, "peak_rss_kib") or 0) * 1024 / 1e6 or None,
    }
    out = []
    for name, value, ok, fmt in TARGETS:
        x = value(acc)
        out.append({"target": name, "value": x, "shown": fmt.format(x) if x is not None else "not measured", "met": None if x is None else bool(ok(x))})
    return out


def markdown(res: dict) -> str:
    m = res["machine"]
    V = res["variants"]
    sizes = [str(n) for n in res["sizes"]]
    lines = [
        "# netwasm lab-setup benchmark",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu']}, {m['memory_mib'] // 1024} GiB, kernel {m['kernel']}; "
        f"{m['iproute2']}; Python {m['python']}, pyroute2 {m['pyroute2']}; netwasm state dir and /run/netns on {m['state_dir_fs']}. "
        f"Run {m['date']} with `{res['command']}`, in {res.get('duration_s', 0):.0f} s; "
        f"1-minute load average {m.get('loadavg_at_start', 0):.1f} at the start and {m.get('loadavg_at_end', 0):.1f} at the end "
        "(the machine is shared: wall-clock numbers are noisy).",
        "",
        "A unit: a namespace; a bridge-mode macvlan on a shared parent (a veth in a namespace of the benchmark), "
        "placed in the unit's namespace; `lo` and the macvlan up; a /24 address; a default route. "
        "netwasm, netwasm-steps, native, native-8, ip-direct, ip-batch-direct and pyroute2 create each macvlan directly in its namespace; "
        "ip and ip-batch create it beside its parent and then move it, as the Docker Networking Cookbook does. "
        "Times are medians of wall-clock time per run divided by N (whole process, startup included), in ms per unit; "
        "in parentheses the ratio to the native lower bound (sequential rtnetlink): the median over rounds of the ratio "
        "between the two runs of the same round, as every ratio here (the variants take turns run by run). Runs per cell: "
        + ", ".join(f"N={n}: {V[next(iter(V))].get(n, {}).get('runs', '-')}" for n in sizes)
        + " (the ip, ip -batch and pyroute2 variants run "
        + f"{res['slow_at_1000']}× at N=1000).",
        "",
        "## Setup, ms per unit",
        "",
        "| variant | " + " | ".join(f"N={n}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]

    def cell(v, n, key, ratio):
        e = V.get(v, {}).get(n)
        if not e:
            return "–"
        s = f"{e[key]:.3f}" if e[key] < 10 else f"{e[key]:.1f}"
        if ratio in e:
            s += f" ({e[ratio]:.2f}×)"
        return s

    for v in res["variants"]:
        lines.append(f"| {v} | " + " | ".join(cell(v, n, "setup_per_unit_ms", "setup_ratio") for n in sizes) + " |")
    if any("setup_marginal_ms" in e for by_n in V.values() for e in by_n.values()):
        lines += [
            "",
            "## Setup, marginal ms per unit: (T(N) - T(1)) / (N - 1)",
            "",
            "| variant | " + " | ".join(f"N={n}" for n in sizes[1:]) + " |",
            "|---|" + "---:|" * len(sizes[1:]),
        ]
        for v in res["variants"]:
            lines.append(f"| {v} | " + " | ".join(cell(v, n, "setup_marginal_ms", "marginal_ratio") if "setup_marginal_ms" in V.get(v, {}).get(n, {}) else "–" for n in sizes[1:]) + " |")
    lines += ["", "## Teardown, ms per unit", "", "| variant | " + " | ".join(f"N={n}" for n in sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for v in res["variants"]:
        lines.append(f"| {v} | " + " | ".join(cell(v, n, "teardown_per_unit_ms", "teardown_ratio") for n in sizes) + " |")
    lines += ["", "Teardown: `netwasm down`; native: unmount and unlink each name; ip, ip-direct: `ip netns del` per unit; ip-batch, ip-batch-direct: one `ip -batch` of `netns del`; pyroute2: `netns.remove`.", ""]
    if "netwasm" in V:
        lines += ["## netwasm", "", "| N | setup total (ms) | per unit (ms) | × native | peak RSS (MiB) |", "|---:|---:|---:|---:|---:|"]
        for n in sizes:
            e = V["netwasm"].get(n)
            if e:
                lines.append(
                    f"| {n} | {e['setup_median_s'] * 1000:.1f} | {e['setup_per_unit_ms']:.3f} | {e.get('setup_ratio', float('nan')):.2f} | {e['peak_rss_kib'] / 1024:.1f} |"
                )
        lines.append("")
    fc = res.get("fixed_cost")
    if fc:
        lines += [
            f"Fixed cost of `netwasm run` with a cached Rust guest that does nothing: median {fc['cached_median_ms']:.1f} ms wall "
            f"over {fc['runs']} runs (the first run, compiling into an empty cache: {fc['first_run_compiling_ms']:.0f} ms); peak RSS {fc['peak_rss_kib'] / 1024:.1f} MiB.",
            "",
        ]
    lines += ["## Targets", "", "| target | measured | met |", "|---|---:|:---:|"]
    for t in res["targets"]:
        mark = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {t['target']} | {t['shown']} | {mark} |")
    lines.append("")
    if res.get("stricter"):
        lines += [
            "## Against the shell tools at their best (not targets)",
            "",
            "The issue's reference figures for bash + ip and ip -batch (~31 and ~20 ms per unit) are of scripts that move each macvlan into its namespace after creating it, as the cookbook does; the targets above compare against those. Created in place, the tools are faster. Times faster than them at N=100 (netwasm builds its units several at a time; native is sequential, native-8 keeps 8 units in flight):",
            "",
            "| baseline | ms per unit | " + " | ".join(STRICTER_BY) + " |",
            "|---|---:|" + "---:|" * len(STRICTER_BY),
        ]
        for row in res["stricter"]:
            cells = [f"{row['speedup'][v]:.1f}×" if v in row["speedup"] else "–" for v in STRICTER_BY]
            lines.append(f"| {row['baseline']} | {row['baseline_ms_per_unit']:.3f} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def cleanup(b: Bench | None) -> None:
    if b is not None and os.path.isdir(os.path.join(b.state_dir, "labs")):
        for lab in os.listdir(os.path.join(b.state_dir, "labs")):
            sh(b.netwasm, "down", lab, "--state-dir", b.state_dir, check=False)
    for name in our_namespaces():
        remove_ns(name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 1, 10, 100 and 3 runs each (about 2 minutes)")
    ap.add_argument("--sizes", default=None, help="comma-separated unit counts (default 1,10,100,1000)")
    ap.add_argument("--runs", type=int, default=None, help="runs per cell, median reported (default 7)")
    ap.add_argument("--slow-at-1000", type=int, default=1, help="runs of ip, ip-batch and pyroute2 at N ≥ 1000 (0 skips them)")
    ap.add_argument("--fixed-runs", type=int, default=20, help="runs of the noop guest for the fixed cost")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of: " + ", ".join(VARIANTS))
    ap.add_argument("--out", default=str(BENCH / "results"), help="where results.json and results.md go")
    ap.add_argument("--no-install", action="store_true", help="do not install ping and pyroute2")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--netwasm", default=None, metavar="PATH", help="the netwasm binary to measure (default: the one built)")
    args = ap.parse_args()
    args.sizes = [int(x) for x in (args.sizes or ("1,10,100" if args.quick else "1,10,100,1000")).split(",")]
    args.runs = args.runs or (3 if args.quick else 7)
    args.variants = [v for v in args.variants.split(",") if v]
    for v in args.variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v}")
    if BASELINE not in args.variants:
        args.variants.insert(0, BASELINE)
    if os.geteuid() != 0:
        ap.error("run as root: the benchmark creates network namespaces")
    if max(args.sizes) > 1000:
        ap.error("at most 1000 units (the address plan has 4 /24 subnets)")

    if not args.no_install:
        install(args)
    if not args.no_build:
        build()
    target = target_dir()
    MEASURE[:] = [str(target / "release" / "netwasm-bench-native"), "measure"]
    leftovers = our_namespaces()
    if leftovers:
        log(f"removing {len(leftovers)} namespaces left by an earlier run ({NS_PREFIX}*)")
        for n in leftovers:
            remove_ns(n)

    work = Path(tempfile.mkdtemp(prefix="netwasm-bench-", dir="/run"))
    b = None
    stop = {"sig": None}

    def on_signal(sig, _frame):
        stop["sig"] = sig
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.perf_counter()
    try:
        b = Bench(args, target, work)
        make_env()
        baseline = parent_addresses()
        res = {
            "command": "python3 bench/run.py " + " ".join(sys.argv[1:]),
            "machine": machine(),
            "slow_at_1000": args.slow_at_1000,
        }
        if "netwasm" in args.variants:
            res["fixed_cost"] = fixed_cost(args, b)
        res.update(run_all(args, b, baseline))
        res["targets"] = check_targets(res)
        res["stricter"] = stricter(res)
        res["duration_s"] = time.perf_counter() - t0
        res["machine"]["loadavg_at_end"] = os.getloadavg()[0]
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(res, indent=2) + "\n")
        md = markdown(res)
        (out / "results.md").write_text(md)
        print(md)
        log(f"done in {res['duration_s']:.0f} s; wrote {out / 'results.json'} and {out / 'results.md'}")
        return 0
    finally:
        cleanup(b)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
