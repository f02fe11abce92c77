"""How close to optimal scaler's plans are, and what they save over first-fit decreasing.

For several seeds and sizes of the realistic mix (and Karpenter's generic mix) on the real
us-east-1 catalog, in process:

- scaler's plan (`Scheduler.solve`, the pass `scaler simulate` runs): the price of the new
  nodes, as launched (each claim's first offering);
- Karpenter's first-fit decreasing on the same inputs (`Scheduler(strategy="ffd")`);
- the LP lower bound for the same pods (`Scheduler.lower_bound`).

It prints one row per instance and the medians of plan / bound and of the saving over FFD.
Not collected by pytest; run it directly:

    python3 tests/benchmarks/bench_cost.py
    python3 tests/benchmarks/bench_cost.py --sizes 1000,5000 --seeds 1,2,3 --mix real
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from generate import karpenter_pods, real_pods, write_snapshot  # noqa: E402

OUT = HERE / "out"


def _launch_cost(result: object) -> float:
    return sum(c.options[0].price for c in result.claims if c.options)  # type: ignore[attr-defined]


def run(mix: str, pods: int, seed: int) -> dict[str, float | int | str]:
    from scaler.core.scheduling.instancetypes import InstanceTypeTable
    from scaler.core.scheduling.scheduler import Scheduler
    from scaler.simulation.provision import load_inputs

    if mix == "real":
        made = real_pods(pods, workloads=100, seed=seed)
        policies: str | None = str(HERE / "policies")
    else:
        made = karpenter_pods(pods, "generic", seed=seed)
        policies = None
    path = write_snapshot(OUT / f"cost-{mix}-{pods}-{seed}.json", made)
    inputs = load_inputs([str(path)], policies, "us-east-1")
    snap = inputs.snapshot
    table = InstanceTypeTable(inputs.catalog.instance_types)
    pools = inputs.policies.node_pools

    def scheduler(strategy: str) -> Scheduler:
        return Scheduler(table, pools, snap.nodes, snap.bound_pods, snap.daemonsets,
                         strategy=strategy)

    t0 = time.perf_counter()
    plan = scheduler("scaler").solve(snap.pending_pods)
    plan_s = time.perf_counter() - t0
    ffd = scheduler("ffd").solve(snap.pending_pods)
    bound = scheduler("scaler").lower_bound(snap.pending_pods)
    path.unlink()
    return {
        "mix": mix, "pods": pods, "seed": seed,
        "plan": _launch_cost(plan), "plan_nodes": len(plan.claims),
        "unschedulable": len(plan.unschedulable), "plan_s": plan_s,
        "ffd": _launch_cost(ffd), "ffd_nodes": len(ffd.claims),
        "ffd_unschedulable": len(ffd.unschedulable), "bound": bound.per_hour,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mix", default="real,karpenter-generic")
    p.add_argument("--sizes", default="1000,5000,10000")
    p.add_argument("--seeds", default="1,2,3,4,5")
    args = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    print("| mix | pods | seed | plan $/h | nodes | unsched. | plan s | FFD $/h | FFD nodes | "
          "LP bound $/h | plan / bound | saving vs FFD |")
    print("|---" * 12 + "|")
    for mix in args.mix.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                r = run(mix, n, seed)
                rows.append(r)
                ratio = float(r["plan"]) / float(r["bound"])
                saving = 1 - float(r["plan"]) / float(r["ffd"])
                print(f"| {mix} | {n:,} | {seed} | {r['plan']:,.2f} | {r['plan_nodes']:,} | "
                      f"{r['unschedulable']} | {r['plan_s']:.2f} | {r['ffd']:,.2f} | "
                      f"{r['ffd_nodes']:,} | {r['bound']:,.2f} | {ratio:.3f} | {saving:.1%} |",
                      flush=True)
    for mix in args.mix.split(","):
        mine = [r for r in rows if r["mix"] == mix]
        ratios = [float(r["plan"]) / float(r["bound"]) for r in mine]
        savings = [1 - float(r["plan"]) / float(r["ffd"]) for r in mine]
        dearer = sum(1 for r in mine if float(r["plan"]) > float(r["ffd"]) + 1e-9)
        print(f"\n{mix}: {len(mine)} instances; plan / bound median {statistics.median(ratios):.3f}"
              f" (min {min(ratios):.3f}, max {max(ratios):.3f}); saving vs FFD median "
              f"{statistics.median(savings):.1%} (min {min(savings):.1%}); plans dearer than "
              f"FFD: {dearer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
