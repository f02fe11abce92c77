"""The allocation core alone (`scaler.core.allocation.compute.allocate`): CPU seconds and how
far one call raises the process's peak RSS, on generated inputs held as numpy arrays, and a
digest of both paths' figures to compare two checkouts bit for bit.

NODES nodes of mixed sizes and lifetimes (some starting or ending inside the window), 10
containers each (one in 17 on a node nobody knows), one sample per container per RESOLUTION
seconds with a random offset inside its interval and 3 % of the samples missing. Not
collected by pytest; run it in a child whose PYTHONPATH is the checkout to measure:

    python3 tests/benchmarks/bench_allocate.py --nodes 500 --days 30
    PYTHONPATH=/tmp/base python3 tests/benchmarks/bench_allocate.py --nodes 500 --days 30
    python3 tests/benchmarks/bench_allocate.py --digest   # same hex before and after

`--digest` runs the columnar path and the per-sample loop on 12 small seeded inputs and prints
a sha256 of every figure they return (allocation sets, unit costs, unplaced seconds).
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import resource
import time
from collections.abc import Sequence

import numpy as np

from scaler.core.allocation.columnar import allocate_columnar
from scaler.core.allocation.compute import Allocated, allocate, allocate_loop
from scaler.core.allocation.model import ContainerInput, Grid, NodeInput
from scaler.core.allocation.prices import NodePrice, ResourceRatios
from scaler.core.allocation.teams import TeamRules

GIB = 1024**3
START = 1_699_920_000  # a whole day (UTC)


def inputs(seed: int, n_nodes: int, per_node: int, days: int, res: int = 3600
           ) -> tuple[Grid, list[NodeInput], list[ContainerInput]]:
    rng = np.random.default_rng(seed)
    end = START + days * 86_400 - int(rng.integers(0, res))
    grid = Grid(START, end, res, 86_400)
    nodes = []
    for i in range(n_nodes):
        s = int(START + rng.integers(-7200, (end - START) // 3))
        e = int(rng.integers(s + 1, end + 7200))
        price = int(rng.integers(0, 40_000_000))
        nodes.append(NodeInput(
            name=f"n{i}", cpu_cores=float(rng.choice([0.5, 2, 4, 8, 96])),
            ram_bytes=float(rng.choice([1, 4, 32, 768])) * GIB, gpus=float(rng.choice([0, 0, 1])),
            start=s, end=e, price=NodePrice(price / 1e6, price, "on-demand", False),
            gpu_per_hour_micros=[None, 500_000][i % 2], provider_id=f"aws:///i-{i}"))
    containers = []
    points = np.arange(START, end, res, dtype=np.int64)
    for k in range(n_nodes * per_node):
        keep = rng.random(len(points)) < 0.97
        ts = np.sort(points[keep] + rng.integers(0, res, int(keep.sum())))
        n = len(ts)
        containers.append(ContainerInput(
            namespace=["shop", "ml", "kube-system"][k % 3], pod=f"p{k}", container="c",
            node=f"n{k // per_node}" if k % 17 else "gone", timestamps=ts,
            cpu_request=np.full(n, float(rng.choice([0.1, 0.5, 1.0]))),
            cpu_usage=rng.random(n) * 2,
            ram_request=np.full(n, float(rng.integers(1, 4)) * 2**28),
            ram_usage=rng.random(n) * 2**30,
            gpu_request=np.full(n, 1.0) if k % 11 == 0 else np.zeros(0),
            labels={"app": f"a{k % 5}"}, controller_kind="Deployment", controller=f"d{k % 7}",
        ))
    return grid, nodes, containers


def figures(done: Allocated) -> bytes:
    units = {k: (u.seconds, u.per_core, u.per_byte, u.at_requests,
                 np.asarray(u.samples, np.int64).tobytes())
             for k, u in sorted(done.units.items())}
    return pickle.dumps((done.sets, units, done.unplaced_seconds), protocol=5)


def digest() -> str:
    teams = TeamRules(namespaces=(("shop", ("shop",)), ("ml", ("ml",))))
    h = hashlib.sha256()
    for seed in range(12):
        grid, nodes, containers = inputs(seed, 3 + seed % 4, 3, 2 + seed % 3,
                                         res=[300, 900, 3600][seed % 3])
        columns = allocate_columnar(grid, nodes, containers, ResourceRatios(), "c", teams)
        assert columns is not None, "the generated inputs stay within what the columns take"
        h.update(figures(columns))
        h.update(figures(allocate_loop(grid, nodes, containers, cluster="c", teams=teams)))
    return h.hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--digest", action="store_true")
    args = p.parse_args(argv)
    if args.digest:
        print(f"digest {digest()}")
        return 0
    grid, nodes, containers = inputs(7, args.nodes, 10, args.days)
    samples = sum(len(c.timestamps) for c in containers)
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    allocate(grid, nodes, containers, ResourceRatios(), "c", None)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"{samples:,} samples | wall {wall:.2f} s | CPU {cpu:.2f} s | peak RSS "
          f"{before.ru_maxrss / 1024:,.0f} -> {after.ru_maxrss / 1024:,.0f} MiB "
          f"(+{(after.ru_maxrss - before.ru_maxrss) / 1024:,.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
