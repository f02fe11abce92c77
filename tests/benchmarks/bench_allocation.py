"""How long `scaler report` takes, and how much memory, on a month of a large cluster.

A generated cluster: NODES m5.2xlarge nodes with PODS_PER_NODE single-container pods each
(5,000 pods on 500 nodes by default), and one usage sample per container per hour over 30
days (3.6M samples). Two sources:

- `file`: `scaler report SNAPSHOT --usage CSV -o json`, end to end in a child process;
- `prometheus`: the same history backfilled into a real Prometheus (promtool), then
  `scaler report --prometheus URL -o json` (`--prometheus-aggregate` adds the path that
  pushes the per-step sums into PromQL).

Wall time and the child's peak RSS are printed as a Markdown row. Generated inputs are cached
under tests/benchmarks/out. Not collected by pytest; run it directly:

    python3 tests/benchmarks/bench_allocation.py --source file
    python3 tests/benchmarks/bench_allocation.py --source file --nodes 130 --days 30
    python3 tests/benchmarks/bench_allocation.py --source prometheus --nodes 50 --days 7

`--tree DIR` runs another checkout's scaler (e.g. `git archive c773d0a` unpacked) on the
same inputs, to record a before/after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = HERE / "out"
END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
GIB = 1024**3


def _window(days: int) -> tuple[int, int]:
    end = int(END.timestamp())
    return end - days * 86_400, end


def _names(nodes: int, per_node: int) -> list[tuple[str, str, str, str]]:
    """(node, namespace, pod, app) for every pod."""
    out = []
    for n in range(nodes):
        for k in range(per_node):
            i = n * per_node + k
            app = f"app-{i % 97}"
            out.append((f"node-{n:04d}", f"team-{i % 23}", f"{app}-{i:05d}", app))
    return out


def write_snapshot(path: Path, nodes: int, per_node: int) -> None:
    items: list[dict[str, object]] = []
    for n in range(nodes):
        name = f"node-{n:04d}"
        items.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {
                "node.kubernetes.io/instance-type": "m5.2xlarge",
                "topology.kubernetes.io/zone": "us-east-1a",
                "karpenter.sh/capacity-type": "spot" if n % 3 == 0 else "on-demand",
                "kubernetes.io/hostname": name}},
            "spec": {"providerID": f"aws:///us-east-1a/i-{n:017x}"},
            "status": {"capacity": {"cpu": "8", "memory": "32Gi", "pods": "58"},
                       "allocatable": {"cpu": "7910m", "memory": "30Gi", "pods": "58"}},
        })
    for node, ns, pod, app in _names(nodes, per_node):
        items.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod, "namespace": ns, "labels": {"app": app}},
            "spec": {"nodeName": node, "containers": [{
                "name": "main", "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}}}]},
            "status": {"phase": "Running"},
        })
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def usage_rows(nodes: int, per_node: int, days: int) -> list[tuple[str, str, str, list[float],
                                                                     list[float]]]:
    start, end = _window(days)
    hours = (end - start) // 3600
    rng = random.Random(16)
    out = []
    for _, ns, pod, _app in _names(nodes, per_node):
        base_cpu, base_mem = rng.uniform(0.05, 0.8), rng.uniform(0.3, 2.5) * GIB
        cpu = [round(base_cpu * (1 + 0.5 * math.sin(h / 24 * 2 * math.pi)), 4)
               for h in range(hours)]
        mem = [float(int(base_mem * (1 + 0.1 * math.sin(h / 7)))) for h in range(hours)]
        out.append((ns, pod, "main", cpu, mem))
    return out


def write_usage(path: Path, nodes: int, per_node: int, days: int) -> int:
    start, _ = _window(days)
    n = 0
    with path.open("w") as f:
        f.write("timestamp,namespace,pod,container,cpu_cores,memory_bytes\n")
        for ns, pod, c, cpu, mem in usage_rows(nodes, per_node, days):
            f.writelines(
                f"{start + h * 3600},{ns},{pod},{c},{cu},{int(m)}\n"
                for h, (cu, m) in enumerate(zip(cpu, mem, strict=True))
            )
            n += len(cpu)
    return n


def run_child(cmd: Sequence[str], tree: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, output bytes) of one child process (its own rusage, from
    wait4: not the maximum over every child this process ran, Prometheus included)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, cwd=tree)
        _, status, usage = os.wait4(proc.pid, 0)
        secs = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.stderr.write(err.read().decode()[-2000:])
            raise SystemExit(f"exit {proc.returncode}: {' '.join(cmd)}")
        size = out.tell()
    return secs, usage.ru_maxrss / 1024, size


def bench_file(nodes: int, per_node: int, days: int, tree: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tag = f"{nodes}x{per_node}-{days}d"
    snap, usage = OUT / f"alloc-{tag}.json", OUT / f"alloc-{tag}.csv"
    if not snap.exists():
        write_snapshot(snap, nodes, per_node)
    if not usage.exists():
        write_usage(usage, nodes, per_node, days)
    start, end = _window(days)
    window = (f"{dt.datetime.fromtimestamp(start, dt.UTC):%Y-%m-%dT%H:%M:%SZ},"
              f"{dt.datetime.fromtimestamp(end, dt.UTC):%Y-%m-%dT%H:%M:%SZ}")
    cmd = [sys.executable, "-m", "scaler", "report", str(snap), "--usage", str(usage),
           "--window", window, "--resolution", "1h", "--no-node-savings", "-o", "json"]
    secs, mib, size = run_child(cmd, tree)
    samples = nodes * per_node * days * 24
    print(f"| file | {tree.name} | {nodes * per_node:,} pods / {nodes} nodes | {days} d | "
          f"{samples:,} | {secs:.1f} s | {mib:,.0f} MiB | {size:,} B |", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", choices=("file", "prometheus"), default="file")
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--pods-per-node", type=int, default=10)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--tree", type=Path, default=ROOT, help="the scaler checkout to run")
    p.add_argument("--prometheus-aggregate", action="store_true")
    args = p.parse_args(argv)
    print("| source | tree | cluster | window | samples | wall | peak RSS | output |")
    print("|---" * 8 + "|")
    if args.source == "file":
        bench_file(args.nodes, args.pods_per_node, args.days, args.tree.resolve())
    else:
        from bench_allocation_prometheus import bench_prometheus  # type: ignore[import-not-found]

        bench_prometheus(args.nodes, args.pods_per_node, args.days, args.tree.resolve(),
                         args.prometheus_aggregate)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
