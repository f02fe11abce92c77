"""Benchmark the Kubernetes adapter's cache: what a pass pays for the model of N pods.

Measures, in this process, for N pods spread over N/30 nodes (raw JSON dicts as a list or
watch hands them over):

- `replace` (a full list stored and indexed),
- the first `snapshot()` (every object converted to the model once),
- a `snapshot()` with nothing changed (what most passes pay: a walk of memoised values),
- one watch event (`apply` of a changed pod) followed by a `snapshot()`.

Best of R runs. Not collected by pytest; run it directly:

    python3 tests/benchmarks/bench_kube_cache.py --sizes 1000,10000
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from typing import Any

from scaler.adapters.kubernetes.cache import NODES, PODS, ClusterCache


def pod(i: int, nodes: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"web-{i}", "namespace": f"ns-{i % 20}",
                     "resourceVersion": str(1000 + i), "labels": {"app": f"app-{i % 50}"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": f"app-{i % 50}-abc", "uid": "u",
                                          "controller": True}]},
        "spec": {"nodeName": f"node-{i % nodes}" if i % 10 else None,
                 "containers": [{"name": "app", "image": "x", "resources": {
                     "requests": {"cpu": f"{100 + (i % 7) * 50}m", "memory": "256Mi"},
                     "limits": {"memory": "512Mi"}}}],
                 "tolerations": [{"key": "dedicated", "operator": "Exists"}]},
        "status": {"phase": "Running" if i % 10 else "Pending"},
    }


def node(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"node-{i}", "resourceVersion": str(i),
                         "labels": {"kubernetes.io/hostname": f"node-{i}",
                                    "node.kubernetes.io/instance-type": "m5.2xlarge"}},
            "spec": {"providerID": f"aws:///us-east-1a/i-{i:017x}"},
            "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "58"}}}


def best(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(n: int, runs: int) -> dict[str, float]:
    nodes = max(1, n // 30)
    pods = [pod(i, nodes) for i in range(n)]
    node_objs = [node(i) for i in range(nodes)]

    def fresh() -> ClusterCache:
        c = ClusterCache()
        c.replace(NODES, node_objs)
        c.replace(PODS, pods)
        return c

    out = {"replace": best(fresh, runs)}
    out["first snapshot"] = best(lambda: fresh().snapshot(), runs) - out["replace"]
    cache = fresh()
    cache.snapshot()
    out["unchanged snapshot"] = best(cache.snapshot, runs)

    def one_event() -> None:
        changed = copy.deepcopy(pods[5])
        changed["metadata"]["resourceVersion"] = str(time.perf_counter_ns())
        cache.apply(PODS, "MODIFIED", changed)
        cache.snapshot()

    out["event + snapshot"] = best(one_event, runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        figures = measure(n, args.runs)
        print(f"{n} pods: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in figures.items()))


if __name__ == "__main__":
    main()
