"""How close to optimal scaler's plans are, and what they save over first-fit decreasing.

For several seeds and sizes of each mix, in process:

- scaler's plan (`Scheduler.solve`, the pass `scaler simulate` runs): the price of the new
  nodes, as launched (each claim's first offering);
- Karpenter's first-fit decreasing on the same inputs (`Scheduler(strategy="ffd")`);
- the LP lower bound for the same pods (`Scheduler.lower_bound`, the figure `scaler simulate`
  prints as `newLowerBoundPerHour`).

Mixes: `real` (the realistic mix on the us-east-1 catalog, `--workloads` workloads),
`karpenter-generic` and `karpenter-all` (Karpenter's benchmark pods: generic only, or its five
classes) on the us-east-1 catalog, and `karpenter-generic@fake400` / `karpenter-all@fake400`
on Karpenter's 400 fake instance types with its benchmark NodePool.

It prints one row per instance and, per mix, the medians of plan / bound and of the saving
over FFD, and how many plans are dearer than FFD. Not collected by pytest; run it directly:

    python3 tests/benchmarks/bench_cost.py
    python3 tests/benchmarks/bench_cost.py --mix real --sizes 2000 --workloads 50 --seeds 1,2,3
    python3 tests/benchmarks/bench_cost.py --mix karpenter-all@fake400 --sizes 1000,5000 \\
        --seeds 42
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from generate import karpenter_catalog, karpenter_pods, real_pods, write_snapshot  # noqa: E402

OUT = HERE / "out"
FAKE_TYPES = OUT / "karpenter-types-400.json"
MIXES = ("real", "karpenter-generic", "karpenter-all", "karpenter-generic@fake400",
         "karpenter-all@fake400")


def _launch_cost(result: object) -> float:
    return sum(c.options[0].price for c in result.claims if c.options)  # type: ignore[attr-defined]


def run(mix: str, pods: int, seed: int, workloads: int = 100) -> dict[str, float | int | str]:
    from scaler.core.scheduling.instancetypes import InstanceTypeTable
    from scaler.core.scheduling.scheduler import Scheduler
    from scaler.simulation.provision import load_inputs

    base, _, catalog = mix.partition("@")
    policies: str | None = None
    if base == "real":
        made = real_pods(pods, workloads=workloads, seed=seed)
        policies = str(HERE / "policies")
    else:
        made = karpenter_pods(pods, base.removeprefix("karpenter-"), seed=seed)
    catalog_file: str | None = None
    if catalog == "fake400":
        if not FAKE_TYPES.exists():
            FAKE_TYPES.write_text(json.dumps(karpenter_catalog(400)) + "\n")
        catalog_file, policies = str(FAKE_TYPES), str(HERE / "policies-karpenter")
    path = write_snapshot(OUT / f"cost-{base}-{pods}-{seed}.json", made)
    inputs = load_inputs([str(path)], policies, "us-east-1", None, catalog_file)
    snap = inputs.snapshot
    table = InstanceTypeTable(inputs.catalog.instance_types)
    pools = inputs.policies.node_pools

    def scheduler(strategy: str) -> Scheduler:
        return Scheduler(table, pools, snap.nodes, snap.bound_pods, snap.daemonsets,
                         strategy=strategy)

    load = os.getloadavg()[0]
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
        "ffd_unschedulable": len(ffd.unschedulable), "bound": bound.per_hour, "load": load,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mix", default="real,karpenter-generic")
    p.add_argument("--sizes", default="1000,5000,10000")
    p.add_argument("--seeds", default="1,2,3,4,5")
    p.add_argument("--workloads", type=int, default=100,
                   help="workloads in the real mix (the issue's cost figures: 2,000 pods, 50)")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    unknown = [m for m in args.mix.split(",") if m not in MIXES]
    if unknown:
        print(f"unknown mix {', '.join(unknown)}; known: {', '.join(MIXES)}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    print("| mix | pods | seed | load avg | plan $/h | nodes | unsched. | plan s | FFD $/h | "
          "FFD nodes | LP bound $/h | plan / bound | FFD / bound | saving vs FFD |")
    print("|---" * 14 + "|")
    for mix in args.mix.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                r = run(mix, n, seed, args.workloads)
                rows.append(r)
                ratio = float(r["plan"]) / float(r["bound"])
                ffd_ratio = float(r["ffd"]) / float(r["bound"])
                saving = 1 - float(r["plan"]) / float(r["ffd"])
                print(f"| {mix} | {n:,} | {seed} | {r['load']:.1f} | {r['plan']:,.2f} | "
                      f"{r['plan_nodes']:,} | {r['unschedulable']} | {r['plan_s']:.2f} | "
                      f"{r['ffd']:,.2f} | {r['ffd_nodes']:,} | {r['bound']:,.2f} | "
                      f"{ratio:.3f} | {ffd_ratio:.3f} | {saving:.1%} |", flush=True)
    for mix in args.mix.split(","):
        _summary(mix, [r for r in rows if r["mix"] == mix])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"workloads": args.workloads, "rows": rows}, indent=2)
                             + "\n")
    return 0


def _summary(mix: str, mine: Sequence[dict[str, float | int | str]]) -> None:
    ratios = [float(r["plan"]) / float(r["bound"]) for r in mine]
    ffd_ratios = [float(r["ffd"]) / float(r["bound"]) for r in mine]
    savings = [1 - float(r["plan"]) / float(r["ffd"]) for r in mine]
    dearer = sum(1 for r in mine if float(r["plan"]) > float(r["ffd"]) + 1e-9)
    print(f"\n{mix}: {len(mine)} instances; plan / bound median {statistics.median(ratios):.3f}"
          f" (min {min(ratios):.3f}, max {max(ratios):.3f}); FFD / bound median "
          f"{statistics.median(ffd_ratios):.3f}; saving vs FFD median "
          f"{statistics.median(savings):.1%} (min {min(savings):.1%}); plans dearer than "
          f"FFD: {dearer}")


if __name__ == "__main__":
    sys.exit(main())
