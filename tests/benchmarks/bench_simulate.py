"""Benchmark `scaler simulate` on synthetic snapshots (see docs/benchmarks.md).

For each mix and size it writes a snapshot (tests/benchmarks/generate.py) and measures:

- the whole command, `scaler simulate FILE --output json`, as a child process: wall time,
  pods per second of wall time, and the child's peak RSS (wait4's rusage, taken by a small
  launcher process so that each run is measured on its own); its JSON plan gives the cost per
  hour (and the LP lower bound on new capacity, where the plan reports one), the new nodes and
  the unschedulable pods, so a cost regression shows next to a speed one;
- in this process: `load_inputs` (snapshot, catalog and policies), the snapshot reader alone,
  and the scheduling pass alone (`Scheduler.solve` on the pending pods, the part Karpenter's
  benchmark times), with its pods per second and its tracemalloc peak (a separate, untimed
  run, since tracing slows Python down).

Times are the best of R runs (default 3, and 1 from 20,000 pods up). Not collected by pytest
(`--ignore=tests/benchmarks`); run it directly:

    python3 tests/benchmarks/bench_simulate.py --sizes 1000,5000 --mix karpenter-generic,real
    python3 tests/benchmarks/bench_simulate.py --json tests/benchmarks/out/results.json
    python3 tests/benchmarks/bench_simulate.py --sizes 20000 --mix karpenter-generic \\
        --profile tests/benchmarks/out/profile
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import gc
import io
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # importable both as a script and from elsewhere
    sys.path.insert(0, str(HERE))

from generate import describe, karpenter_pods, real_pods, write_snapshot  # noqa: E402

DEFAULT_SIZES = (1000, 5000, 10000, 20000)
DEFAULT_MIXES = ("karpenter-generic", "real")
DEFAULT_OUT = HERE / "out"
BENCH_POLICIES = HERE / "policies"
KARPENTER_POLICIES = HERE / "policies-karpenter"
KARPENTER_TYPES = DEFAULT_OUT / "karpenter-types-400.json"  # written by main()
# From this size on a single run is the default (a 20k run takes a while on 2 cores).
SINGLE_RUN_FROM = 20000


@dataclass(frozen=True)
class Mix:
    name: str
    make: Callable[[int], list[dict[str, Any]]]
    policies: Path | None  # None: scaler's built-in default NodePool
    note: str
    catalog: Path | None = None  # None: the bundled AWS catalog


MIXES: dict[str, Mix] = {
    "karpenter-generic": Mix(
        "karpenter-generic",
        lambda n: karpenter_pods(n, "generic"),
        None,
        "Karpenter benchmark sizes and seed, generic pods only; built-in default NodePool",
    ),
    "karpenter-all": Mix(
        "karpenter-all",
        lambda n: karpenter_pods(n, "all"),
        None,
        "Karpenter's five classes: zonal and hostname spread, zonal self-affinity, hostname "
        "self-anti-affinity; built-in default NodePool",
    ),
    "karpenter-generic@fake400": Mix(
        "karpenter-generic@fake400",
        lambda n: karpenter_pods(n, "generic"),
        KARPENTER_POLICIES,
        "generic pods on Karpenter's 400 synthetic types (linear prices), its benchmark NodePool",
        KARPENTER_TYPES,
    ),
    "karpenter-all@fake400": Mix(
        "karpenter-all@fake400",
        lambda n: karpenter_pods(n, "all"),
        KARPENTER_POLICIES,
        "Karpenter's five classes on its 400 synthetic types, its benchmark NodePool",
        KARPENTER_TYPES,
    ),
    "real": Mix(
        "real",
        lambda n: real_pods(n, workloads=100, seed=1),
        BENCH_POLICIES,
        "100 workloads: arch pins, on-demand affinity, batch taint, GPUs; bench policies",
    ),
}


@dataclass
class Result:
    mix: str
    pods: int
    repeats: int
    policies: str | None
    # whole command
    cli_wall_s: float | None = None
    cli_pods_per_s: float | None = None
    cli_peak_rss_mib: float | None = None
    cli_runs_s: list[float] = field(default_factory=list)
    # the machine's 1-minute load average just before each run of the command: on a shared
    # machine a slow run next to a high load is the neighbours', not scaler's
    cli_load_1m: list[float] = field(default_factory=list)
    # user + system CPU of the command: on a machine shared with other work, closer to what
    # an idle machine's wall time would be than the wall time itself
    cli_cpu_s: float | None = None
    # plan (from the command's JSON)
    new_nodes: int | None = None
    unschedulable: int | None = None
    placed: int | None = None
    planned_per_hour: float | None = None
    lower_bound_per_hour: float | None = None  # the LP bound on new capacity, when reported
    # Karpenter's first-fit decreasing on the same inputs (in process)
    ffd_per_hour: float | None = None
    ffd_nodes: int | None = None
    ffd_s: float | None = None
    # in-process
    load_s: float | None = None
    snapshot_s: float | None = None
    table_s: float | None = None
    solve_s: float | None = None
    solve_pods_per_s: float | None = None
    solve_runs_s: list[float] = field(default_factory=list)
    solve_tracemalloc_peak_mib: float | None = None
    solve_claims: int | None = None
    solve_unschedulable: int | None = None
    constraints: dict[str, Any] = field(default_factory=dict)


# -- the command as a child process -------------------------------------------------------------


def scaler_command() -> list[str]:
    exe = shutil.which("scaler")
    return [exe] if exe else [sys.executable, "-m", "scaler"]


# Linux copies the parent's peak RSS into a child at exec (exec_mmap records the old mm's
# high-water mark), so a child forked from this process, which has loaded big snapshots in
# process, would report this process's peak. A small launcher process forks the command
# instead, and reports the command's own wall time and peak RSS (wait4) on its stderr's last
# line.
_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
cpu = usage.ru_utime + usage.ru_stime
code = os.waitstatus_to_exitcode(status)
sys.stderr.write(f"\\nBENCH {code} {wall!r} {usage.ru_maxrss} {cpu!r}\\n")
"""


def run_cli(cmd: Sequence[str]) -> tuple[float, float, dict[str, Any], float]:
    """Run the command once: (wall seconds, peak RSS MiB, parsed JSON stdout, CPU seconds)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], stdout=out, stderr=err,
                       stdin=subprocess.DEVNULL, check=True)
        err.seek(0)
        text = err.read().decode(errors="replace")
        body, _, last = text.rstrip("\n").rpartition("\n")
        _, code, wall, maxrss_kib, cpu = last.split()
        if int(code) != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {code}:\n{body[-2000:]}")
        out.seek(0)
        doc = json.load(out)
    return float(wall), int(maxrss_kib) / 1024, doc, float(cpu)  # ru_maxrss: KiB on Linux


def measure_cli(res: Result, path: Path, mix: Mix, region: str) -> None:
    cmd = [*scaler_command(), "simulate", str(path), "--output", "json", "--region", region]
    if mix.policies is not None:
        cmd += ["--policies", str(mix.policies)]
    if mix.catalog is not None:
        cmd = [c for c in cmd if c not in ("--region", region)] + ["--catalog", str(mix.catalog)]
    rss: list[float] = []
    doc: dict[str, Any] = {}
    cpu: list[float] = []
    for _ in range(res.repeats):
        res.cli_load_1m.append(os.getloadavg()[0])
        wall, peak, doc, used = run_cli(cmd)
        res.cli_runs_s.append(wall)
        rss.append(peak)
        cpu.append(used)
    res.cli_wall_s = min(res.cli_runs_s)
    res.cli_cpu_s = min(cpu)
    res.cli_pods_per_s = res.pods / res.cli_wall_s
    res.cli_peak_rss_mib = max(rss)
    res.new_nodes = sum(1 for n in doc["nodes"] if not n["existing"])
    res.unschedulable = len(doc["unschedulable"])
    res.placed = len(doc["placements"])
    res.planned_per_hour = float(doc["cost"]["plannedPerHour"])
    bound = doc["cost"].get("newLowerBoundPerHour")
    res.lower_bound_per_hour = None if bound is None else float(bound)


# -- in process ---------------------------------------------------------------------------------


def measure_in_process(res: Result, path: Path, mix: Mix, region: str) -> None:
    from scaler.core.scheduling.instancetypes import InstanceTypeTable
    from scaler.core.scheduling.scheduler import Scheduler
    from scaler.simulation.provision import load_inputs
    from scaler.snapshot import load_snapshot

    policies = str(mix.policies) if mix.policies is not None else None
    catalog = str(mix.catalog) if mix.catalog is not None else None
    load_runs: list[float] = []
    snap_runs: list[float] = []
    table_runs: list[float] = []
    for _ in range(res.repeats):
        gc.collect()
        t0 = time.perf_counter()
        load_snapshot([path])
        snap_runs.append(time.perf_counter() - t0)
        gc.collect()
        t0 = time.perf_counter()
        inputs = load_inputs([str(path)], policies, region, None, catalog)
        load_runs.append(time.perf_counter() - t0)
        snap = inputs.snapshot
        pending = snap.pending_pods
        pools = inputs.policies.node_pools
        t0 = time.perf_counter()
        table = InstanceTypeTable(inputs.catalog.instance_types)
        table_runs.append(time.perf_counter() - t0)
        scheduler = Scheduler(table, pools, snap.nodes, snap.bound_pods, snap.daemonsets)
        gc.collect()
        t0 = time.perf_counter()
        result = scheduler.solve(pending)
        res.solve_runs_s.append(time.perf_counter() - t0)
        res.solve_claims = len(result.claims)
        res.solve_unschedulable = len(result.unschedulable)
        del result, scheduler, table
    res.load_s = min(load_runs)
    res.snapshot_s = min(snap_runs)
    res.table_s = min(table_runs)
    res.solve_s = min(res.solve_runs_s)
    res.solve_pods_per_s = res.pods / res.solve_s

    # The baseline: Karpenter's first-fit decreasing, same inputs, timed once.
    table = InstanceTypeTable(inputs.catalog.instance_types)
    ffd = Scheduler(table, pools, snap.nodes, snap.bound_pods, snap.daemonsets, strategy="ffd")
    t0 = time.perf_counter()
    baseline = ffd.solve(pending)
    res.ffd_s = time.perf_counter() - t0
    res.ffd_per_hour = sum(c.options[0].price for c in baseline.claims if c.options)
    res.ffd_nodes = len(baseline.claims)
    del baseline, ffd

    # Memory of the scheduling pass, traced in a run of its own.
    table = InstanceTypeTable(inputs.catalog.instance_types)
    scheduler = Scheduler(table, pools, snap.nodes, snap.bound_pods, snap.daemonsets)
    gc.collect()
    tracemalloc.start()
    scheduler.solve(pending)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    res.solve_tracemalloc_peak_mib = peak / 2**20


# -- profile ------------------------------------------------------------------------------------


def profile(path: Path, mix: Mix, region: str, prefix: Path, top: int = 25) -> str:
    """cProfile of the whole simulate pipeline in-process (what the command runs) and of the
    scheduling pass alone; writes PREFIX-<mix>-<pods>-{simulate,solve}.prof and returns the
    top functions by own time of each."""
    from scaler.core.scheduling.instancetypes import InstanceTypeTable
    from scaler.core.scheduling.scheduler import Scheduler
    from scaler.output.json import render_json
    from scaler.output.plan import plan_document
    from scaler.simulation.provision import load_inputs, run_simulation

    policies = str(mix.policies) if mix.policies is not None else None
    catalog = str(mix.catalog) if mix.catalog is not None else None
    prefix.parent.mkdir(parents=True, exist_ok=True)
    report = io.StringIO()

    def whole() -> None:
        inputs = load_inputs([str(path)], policies, region, None, catalog)
        plan = run_simulation(inputs)
        render_json(plan_document(plan, {}))

    prof = cProfile.Profile()
    prof.runcall(whole)
    out = Path(f"{prefix}-{path.stem}-simulate.prof")
    prof.dump_stats(out)
    report.write(f"## {out.name}: load_inputs + run_simulation + JSON, by own time\n")
    pstats.Stats(prof, stream=report).sort_stats("tottime").print_stats(top)

    inputs = load_inputs([str(path)], policies, region, None, catalog)
    snap = inputs.snapshot
    pending = snap.pending_pods
    table = InstanceTypeTable(inputs.catalog.instance_types)
    scheduler = Scheduler(table, inputs.policies.node_pools, snap.nodes, snap.bound_pods,
                          snap.daemonsets)
    prof = cProfile.Profile()
    prof.runcall(scheduler.solve, pending)
    out = Path(f"{prefix}-{path.stem}-solve.prof")
    prof.dump_stats(out)
    report.write(f"## {out.name}: Scheduler.solve only, by own time\n")
    pstats.Stats(prof, stream=report).sort_stats("tottime").print_stats(top)
    return report.getvalue()


# -- report -------------------------------------------------------------------------------------


def _f(value: float | int | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _load(loads: Sequence[float]) -> str:
    if not loads:
        return "-"
    lo, hi = min(loads), max(loads)
    return f"{lo:.1f}" if hi - lo < 0.05 else f"{lo:.1f}-{hi:.1f}"


def markdown(results: Sequence[Result]) -> str:
    head = (
        "| mix | pods | runs | load avg (1 min) | CLI wall s | CLI pods/s | CLI CPU s | "
        "CLI pods/CPU s | CLI peak RSS MiB | load s | "
        "snapshot s | solve s | solve pods/s | solve tracemalloc MiB | new nodes | "
        "unschedulable | plan $/h | LP bound $/h | plan / bound | FFD $/h | FFD nodes | "
        "saving vs FFD |"
    )
    rows = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in results:
        rows.append(
            "| "
            + " | ".join(
                [
                    r.mix,
                    f"{r.pods:,}",
                    str(r.repeats),
                    _load(r.cli_load_1m),
                    _f(r.cli_wall_s, ".2f"),
                    _f(r.cli_pods_per_s, ",.0f"),
                    _f(r.cli_cpu_s, ".2f"),
                    _f(r.pods / r.cli_cpu_s if r.cli_cpu_s else None, ",.0f"),
                    _f(r.cli_peak_rss_mib, ",.0f"),
                    _f(r.load_s, ".2f"),
                    _f(r.snapshot_s, ".2f"),
                    _f(r.solve_s, ".2f"),
                    _f(r.solve_pods_per_s, ",.0f"),
                    _f(r.solve_tracemalloc_peak_mib, ",.1f"),
                    _f(r.new_nodes, ","),
                    _f(r.unschedulable, ","),
                    _f(r.planned_per_hour, ",.2f"),
                    _f(r.lower_bound_per_hour, ",.2f"),
                    _f(r.planned_per_hour / r.lower_bound_per_hour
                       if r.planned_per_hour and r.lower_bound_per_hour else None, ".3f"),
                    _f(r.ffd_per_hour, ",.2f"),
                    _f(r.ffd_nodes, ","),
                    _f(1 - r.planned_per_hour / r.ffd_per_hour
                       if r.planned_per_hour is not None and r.ffd_per_hour else None, ".1%"),
                ]
            )
            + " |"
        )
    return "\n".join(rows) + "\n"


def environment() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import numpy

        numpy_version = numpy.__version__
    except ImportError:  # pragma: no cover
        numpy_version = None
    return {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "numpy": numpy_version,
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "scaler_command": " ".join(scaler_command()),
        "source_sha256": source_digest(),
    }


def source_digest() -> str:
    """Digest of scaler's and the catalog's Python sources (the repo may have no commit yet),
    so a result can be matched to the code it measured."""
    import hashlib

    root = HERE.parent.parent
    h = hashlib.sha256()
    for f in sorted([*root.glob("scaler/**/*.py"), *root.glob("pricing/*.py")]):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Benchmark scaler simulate on synthetic snapshots.")
    p.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                   help="pod counts, comma-separated (default: %(default)s)")
    p.add_argument("--mix", "--mixes", dest="mixes", default=",".join(DEFAULT_MIXES),
                   help=f"mixes, comma-separated, from {', '.join(MIXES)} (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=None,
                   help=f"runs per case, best taken (default: 3, 1 from {SINGLE_RUN_FROM:,} pods)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT,
                   help="where snapshots are written (default: tests/benchmarks/out, git-ignored)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--skip-cli", action="store_true", help="only the in-process measurements")
    p.add_argument("--skip-in-process", action="store_true", help="only the command")
    p.add_argument("--profile", type=Path, metavar="PREFIX",
                   help="instead of timing, cProfile each case and write PREFIX-*.prof")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in _csv(args.sizes)]
    unknown = [m for m in _csv(args.mixes) if m not in MIXES]
    if unknown:
        print(f"unknown mix {', '.join(unknown)}; known: {', '.join(MIXES)}", file=sys.stderr)
        return 2
    mixes = [MIXES[m] for m in _csv(args.mixes)]
    env = environment()  # before the runs: the sources digest is of the code measured
    if any(m.catalog is not None for m in mixes):
        from generate import karpenter_catalog

        KARPENTER_TYPES.parent.mkdir(parents=True, exist_ok=True)
        KARPENTER_TYPES.write_text(json.dumps(karpenter_catalog(400)) + "\n")
    results: list[Result] = []
    for mix in mixes:
        for n in sizes:
            base = mix.name.split("@")[0]
            path = write_snapshot(args.out_dir / f"{base}-{n}.json", mix.make(n))
            if args.profile:
                print(f"profiling {mix.name} {n:,} ...", file=sys.stderr, flush=True)
                print(profile(path, mix, args.region, args.profile))
                continue
            repeats = args.repeats or (1 if n >= SINGLE_RUN_FROM else 3)
            res = Result(mix.name, n, repeats, str(mix.policies) if mix.policies else None)
            with path.open() as f:
                res.constraints = describe(json.load(f)["items"])
            print(f"{mix.name} {n:,} pods x{repeats} ...", file=sys.stderr, flush=True)
            if not args.skip_cli:
                measure_cli(res, path, mix, args.region)
            if not args.skip_in_process:
                measure_in_process(res, path, mix, args.region)
                gc.collect()
            results.append(res)
            print(markdown([res]).splitlines()[-1], file=sys.stderr, flush=True)
    if args.profile:
        return 0
    print(f"\n{env['date']}, Python {env['python']}, numpy {env['numpy']}, "
          f"{env['nproc']} CPUs ({env['cpu']}), sources {env['source_sha256']}\n")
    print(markdown(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {"environment": env, "mixes": {m.name: m.note for m in mixes},
               "results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
