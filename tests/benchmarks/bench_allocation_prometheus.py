"""`scaler report --prometheus` on a backfilled Prometheus: the cluster of bench_allocation.py
(nodes of m5.2xlarge, single-container pods) as cAdvisor and kube-state-metrics would have
recorded it, samples every SCRAPE seconds, backfilled with promtool (tests/support/
prometheus.py), then the report run in a child process, per sample or with the per-step
averages pushed into PromQL (`--prometheus-aggregate`). Called by bench_allocation.py
(`--source prometheus`).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from bench_allocation import GIB, OUT, _names, _window, run_child  # noqa: E402

from tests.support.prometheus import Series, running_prometheus  # noqa: E402

SCRAPE = 120  # seconds between samples: rate()'s 5m window sees two


def history(nodes: int, per_node: int, days: int) -> list[Series]:
    start, end = _window(days)
    t0, t1 = start - 600, end + 600
    ts = list(range(t0, t1 + 1, SCRAPE))
    out: list[Series] = []
    for n in range(nodes):
        name = f"node-{n:04d}"
        for resource, unit, value in (("cpu", "core", 8.0), ("memory", "byte", 32.0 * GIB)):
            out.append(Series("kube_node_status_capacity",
                              {"node": name, "resource": resource, "unit": unit},
                              [(t, value) for t in ts]))
        out.append(Series("kube_node_labels", {
            "node": name, "label_node_kubernetes_io_instance_type": "m5.2xlarge",
            "label_karpenter_sh_capacity_type": "spot" if n % 3 == 0 else "on-demand",
            "label_topology_kubernetes_io_zone": "us-east-1a"},
            [(t, 1.0) for t in ts]))
    rng = random.Random(16)
    for node, ns, pod, app in _names(nodes, per_node):
        ones = [(t, 1.0) for t in ts]
        out.append(Series("kube_pod_info", {"namespace": ns, "pod": pod, "node": node,
                                            "created_by_kind": "", "uid": f"uid-{pod}"}, ones))
        out.append(Series("kube_pod_labels", {"namespace": ns, "pod": pod, "label_app": app},
                          ones))
        ident = {"namespace": ns, "pod": pod, "container": "main"}
        for resource, unit, value in (("cpu", "core", 0.5), ("memory", "byte", 2.0 * GIB)):
            out.append(Series("kube_pod_container_resource_requests",
                              {**ident, "node": node, "resource": resource, "unit": unit},
                              [(t, value) for t in ts]))
        base_cpu, base_mem = rng.uniform(0.05, 0.8), rng.uniform(0.3, 2.5) * GIB
        cad = {**ident, "node": node, "id": f"/kubepods/{pod}/main", "image": "x"}
        used, points = 0.0, []
        for a, b in zip(ts, ts[1:], strict=False):
            points.append((a, used))
            used += base_cpu * (1 + 0.5 * math.sin(a / 86_400 * 2 * math.pi)) * (b - a)
        out.append(Series("container_cpu_usage_seconds_total", cad, points, kind="counter"))
        out.append(Series("container_memory_working_set_bytes", cad,
                          [(t, float(int(base_mem * (1 + 0.1 * math.sin(t / 25_200)))))
                           for t in ts]))
    return out


def bench_prometheus(nodes: int, per_node: int, days: int, tree: Path, aggregate: bool) -> None:
    start, end = _window(days)
    work = OUT / f"prom-{nodes}x{per_node}-{days}d-{int(time.time())}"
    t0 = time.perf_counter()
    series = history(nodes, per_node, days)
    with running_prometheus(series, work) as url:
        backfill = time.perf_counter() - t0
        del series
        window = (f"{dt.datetime.fromtimestamp(start, dt.UTC):%Y-%m-%dT%H:%M:%SZ},"
                  f"{dt.datetime.fromtimestamp(end, dt.UTC):%Y-%m-%dT%H:%M:%SZ}")
        for pushed in ((False, True) if aggregate else (False,)):
            cmd = [sys.executable, "-m", "scaler", "report", "--prometheus", url, "--window",
                   window, "--resolution", "1h", "--step", "1d", "--no-node-savings",
                   "-o", "json", *(["--prometheus-aggregate"] if pushed else [])]
            secs, mib, size = run_child(cmd, tree)
            samples = nodes * per_node * days * 24
            print(f"| prometheus{' (aggregated)' if pushed else ''} | {tree.name} | "
                  f"{nodes * per_node:,} pods / {nodes} nodes | {days} d | {samples:,} | "
                  f"{secs:.1f} s | {mib:,.0f} MiB | {size:,} B |", flush=True)
    print(f"(backfill of the history: {backfill:.0f} s, not counted)")
