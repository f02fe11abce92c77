"""Benchmark one disruption pass on a large, underused cluster (see docs/benchmarks.md).

The cluster: N nodes (default 1,000) of mixed real instance types (general purpose, compute
and memory optimised, amd64 and arm64, spot and on-demand, three zones), filled with pods of
60 Deployments to about 30% of their CPU (each node drawn between 10% and 50%), and a
DaemonSet pod on every node. One NodePool (`c`/`m`/`r`, generation > 4, both
architectures and capacity types, `consolidationPolicy: WhenEmptyOrUnderutilized`, budget
100%) manages every node; some workloads are pinned to amd64 or to on-demand capacity.

Measured, in one run on the same cluster:

- scaler's pass (`plan_disruptions`, strategy "optimal": emptiness, drift, expiration, then
  the consolidation MILP with its repair): decision time for the whole pass, cost per hour
  before and after, nodes disrupted, replacements, the MILP's status, its plan and its
  lower bound, and the plan's gap to that bound;
- the Karpenter-style baseline (strategy "karpenter": multi-node consolidation over the first
  100 candidates by disruption cost with binary search, repeated, then single-node
  consolidation one candidate at a time), with its own time budget (Karpenter gives
  single-node consolidation 3 minutes);
- a reference: the same MILP given a long time limit, for the best bound it can prove;
- scaler calmer: the same pass with an eviction price per pod (`--calm`, default $0.02/h),
  which trades savings for fewer disruptions.

    python3 tests/benchmarks/bench_consolidate.py
    python3 tests/benchmarks/bench_consolidate.py --nodes 1000 --baseline-budget 180 \\
        --json tests/benchmarks/out/consolidate.json
    python3 tests/benchmarks/bench_consolidate.py --on-demand-only
    # small clusters against the exact optimum (exact_consolidation.py)
    python3 tests/benchmarks/bench_consolidate.py --nodes 30 --exact 120 --calm 0 \\
        --baseline-budget 0 --reference-budget 0
    # calmer defaults: savings against nodes disrupted
    python3 tests/benchmarks/bench_consolidate.py --sweep --calm 0 --baseline-budget 0 \\
        --reference-budget 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exact_consolidation import exact_consolidation

from pricing import load_catalog
from scaler.core.disruption.candidates import DisruptionInput, DisruptionSettings
from scaler.core.disruption.plan import DisruptionPlan, plan_disruptions
from scaler.core.model import DaemonSet, Node, Pod, Scheduling
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.policy.nodepool import parse_node_pool

TYPES = ("m5.xlarge", "m5.2xlarge", "c5.xlarge", "c5.2xlarge", "c6g.2xlarge", "r5.large",
         "r5.xlarge", "m6i.xlarge", "m6g.large", "m6g.xlarge", "r6g.xlarge", "m7i.2xlarge",
         "c7g.xlarge", "m5.4xlarge")
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
NOW = 1_767_225_600.0
NODEPOOL = {
    "apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "default"},
    "spec": {
        "template": {"spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass",
                             "name": "default"},
            "requirements": [
                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
                {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                {"key": "karpenter.sh/capacity-type", "operator": "In",
                 "values": ["spot", "on-demand"]},
                {"key": "karpenter.k8s.aws/instance-category", "operator": "In",
                 "values": ["c", "m", "r"]},
                {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt",
                 "values": ["4"]},
            ]}},
        "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized",
                       "consolidateAfter": "0s", "budgets": [{"nodes": "100%"}]},
    },
}


@dataclass(frozen=True)
class Workload:
    name: str
    cpu_m: int
    mem_mi: int
    scheduling: Scheduling


def workloads(rng: random.Random, count: int = 60) -> list[Workload]:
    out = []
    for i in range(count):
        cpu = rng.choice([100, 250, 500, 500, 1000, 1000, 2000])
        gib_per_cpu = rng.choice([1, 2, 4, 4, 8])
        sel: dict[str, str] = {}
        if rng.random() < 0.3:
            sel["kubernetes.io/arch"] = "amd64"
        if rng.random() < 0.2:
            sel["karpenter.sh/capacity-type"] = "on-demand"
        out.append(Workload(f"app{i:02d}", cpu, max(cpu * gib_per_cpu * 1024 // 1000, 64),
                            Scheduling(node_selector=Requirements.from_labels(sel))))
    return out


def cluster(n_nodes: int, seed: int = 7, on_demand_only: bool = False,
            budget: str = "100%") -> DisruptionInput:
    rng = random.Random(seed)
    catalog = load_catalog("us-east-1")
    table = InstanceTypeTable(catalog.instance_types)
    doc = json.loads(json.dumps(NODEPOOL))
    if on_demand_only:
        doc["spec"]["template"]["spec"]["requirements"][2]["values"] = ["on-demand"]
    doc["spec"]["disruption"]["budgets"] = [{"nodes": budget}]
    pool = parse_node_pool(doc, file="bench")
    apps = workloads(rng)
    ds = DaemonSet("kube-system", "kube-proxy", Resources.parse({"cpu": "100m",
                                                                 "memory": "128Mi"}))
    nodes: list[Node] = []
    pods: list[Pod] = []
    for i in range(n_nodes):
        it = catalog.get(rng.choice(TYPES))
        assert it is not None
        ct = "spot" if rng.random() < 0.5 and not on_demand_only else "on-demand"
        name = f"ip-10-{i // 250}-{i % 250}.ec2.internal"
        labels = {**it.labels, "topology.kubernetes.io/zone": rng.choice(ZONES),
                  "karpenter.sh/capacity-type": ct, "karpenter.sh/nodepool": "default",
                  "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
        node = Node(name, labels, Resources(dict(it.allocatable)), created=NOW - 86400)
        nodes.append(node)
        pods.append(Pod("kube-system", f"kube-proxy-{i}", ds.requests, node_name=name,
                        owner_kind="DaemonSet", owner_name="kube-proxy"))
        cpu_cap = node.allocatable.get("cpu")
        mem_cap = node.allocatable.get("memory")
        target = rng.uniform(0.10, 0.50) * cpu_cap
        cpu = 100
        mem = 128 * 2**20
        for _ in range(200):
            w = rng.choice(apps)
            if not w.scheduling.node_selector.matches_labels(labels):
                continue
            c, m = w.cpu_m, w.mem_mi * 2**20
            if cpu + c > target or mem + m > 0.9 * mem_cap:
                if cpu + 100 > target:
                    break
                continue
            cpu += c
            mem += m
            pods.append(Pod("apps", f"{w.name}-{len(pods)}",
                            Resources({"cpu": c, "memory": m}), w.scheduling,
                            labels={"app": w.name}, node_name=name, owner_kind="ReplicaSet",
                            owner_name=f"{w.name}-5d8f"))
    return DisruptionInput(table, [pool], nodes, pods, [ds])


def utilisation(inp: DisruptionInput) -> float:
    used = sum(p.requests.get("cpu") for p in inp.pods if p.node_name)
    return used / sum(n.allocatable.get("cpu") for n in inp.nodes)


def summarise(name: str, plan: DisruptionPlan) -> dict[str, Any]:
    return {
        "strategy": name,
        "decisionSeconds": round(plan.decision_seconds, 2),
        "costBefore": round(plan.cost_before, 4),
        "costAfter": round(plan.cost_after, 4),
        "savedPct": round(100 * (1 - plan.cost_after / plan.cost_before), 1),
        "nodesDisrupted": len(plan.disruptions),
        "replacements": len(plan.replacements),
        "podsMoved": len(plan.moves),
        "solver": {k: (round(v, 4) if isinstance(v, float) else v)
                   for k, v in plan.solver.items()},
        "notes": list(plan.notes),
    }


# Calmer settings measured by --sweep: (label, settings beyond the time budget).
SWEEP: tuple[tuple[str, dict[str, float]], ...] = (
    ("eviction price $0.005/h", {"eviction_price": 0.005}),
    ("eviction price $0.01/h", {"eviction_price": 0.01}),
    ("eviction price $0.02/h", {"eviction_price": 0.02}),
    ("eviction price $0.05/h", {"eviction_price": 0.05}),
    ("churn guard 30%", {"min_saving_fraction": 0.30}),
    ("churn guard 50%", {"min_saving_fraction": 0.50}),
    # The NodePool's disruption budget (Karpenter's default is 10%) caps nodes disrupted.
    ("budget 50%", {"budget": 50}),
    ("budget 45%", {"budget": 45}),
)


def sweep(inp: DisruptionInput, budget: float, cheapest: dict[str, Any],
          rebuild: Any) -> list[dict[str, Any]]:
    """Each calmer setting's pass, with its share of the cheapest plan's saving and of its
    disruptions (the target: at least 90% of the saving with at most half the disruptions)."""
    out = []
    saved = cheapest["costBefore"] - cheapest["costAfter"]
    for label, knobs in SWEEP:
        load = os.getloadavg()[0]
        knobs = dict(knobs)
        pct = knobs.pop("budget", None)
        where = inp if pct is None else rebuild(f"{pct:g}%")
        plan = plan_disruptions(where, NOW, DisruptionSettings(
            time_budget=budget, **knobs))  # type: ignore[arg-type]
        r = summarise(f"scaler, {label}", plan) | {"load1m": load}
        r["savingKept"] = round((r["costBefore"] - r["costAfter"]) / saved, 3) if saved else None
        r["disruptionShare"] = round(r["nodesDisrupted"] / max(cheapest["nodesDisrupted"], 1),
                                     3)
        print(json.dumps(r), flush=True)
        out.append(r)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budget", type=float, default=10.0, help="scaler's pass, seconds")
    ap.add_argument("--baseline-budget", type=float, default=180.0,
                    help="the Karpenter-style pass, seconds (Karpenter: 3 min single-node)")
    ap.add_argument("--reference-budget", type=float, default=60.0,
                    help="the MILP reference run, seconds (0: skip)")
    ap.add_argument("--on-demand-only", action="store_true",
                    help="every node and the NodePool on-demand: consolidation is then mostly "
                         "repacking onto the nodes kept, not moving to spot")
    ap.add_argument("--calm", type=float, default=0.02, metavar="USD",
                    help="also run scaler with this eviction price per pod and hour (0: skip)")
    ap.add_argument("--exact", type=float, default=0.0, metavar="SECONDS",
                    help="also solve the exact MILP (exact_consolidation.py) with this time "
                         "limit and compare scaler's plan with it (small clusters; 0: skip)")
    ap.add_argument("--sweep", action="store_true",
                    help="also run scaler with calmer settings (SWEEP) and compare their "
                         "savings and disruptions with the cheapest plan's")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    inp = cluster(args.nodes, args.seed, args.on_demand_only)
    made = time.perf_counter() - started
    print(f"cluster: {len(inp.nodes)} nodes, {len(inp.pods)} pods, CPU requests at "
          f"{utilisation(inp):.0%} of allocatable (built in {made:.1f} s)", flush=True)
    results = []
    load = os.getloadavg()[0]
    ours = plan_disruptions(inp, NOW, DisruptionSettings(time_budget=args.budget))
    results.append(summarise("scaler (MILP)", ours) | {"load1m": load})
    print(json.dumps(results[-1]), flush=True)
    if args.exact > 0:
        ex = exact_consolidation(inp, ours.cost_after + 1e-6, args.exact)
        results[-1]["exact"] = {"value": ex.value, "bound": ex.bound, "status": ex.status,
                                "kept": ex.kept, "launched": ex.launched,
                                "variables": ex.variables}
        print(f"exact MILP: {ex.status}, ${ex.value:.4f}/h (bound ${ex.bound:.4f}/h), "
              f"{ex.kept} nodes kept, {ex.launched} launched, {ex.variables} variables; "
              f"scaler ${ours.cost_after:.4f}/h: plan / exact = "
              f"{ours.cost_after / ex.value:.3f}, plan / exact bound = "
              f"{ours.cost_after / ex.bound:.3f}", flush=True)
    if args.sweep:
        results += sweep(inp, args.budget, results[0],
                         lambda b: cluster(args.nodes, args.seed, args.on_demand_only, b))
    if args.calm > 0:
        calm = plan_disruptions(inp, NOW, DisruptionSettings(time_budget=args.budget,
                                                             eviction_price=args.calm))
        results.append(summarise(f"scaler (MILP), eviction price ${args.calm}/h", calm))
        print(json.dumps(results[-1]), flush=True)
    if args.baseline_budget > 0:
        base = plan_disruptions(inp, NOW, DisruptionSettings(
            strategy="karpenter", time_budget=args.baseline_budget))
        results.append(summarise("karpenter-style greedy", base))
        print(json.dumps(results[-1]), flush=True)
    if args.reference_budget > 0:
        # Same MILP, most of the time to the solver: its best bound is the reference.
        ref = plan_disruptions(inp, NOW, DisruptionSettings(time_budget=2 *
                                                            args.reference_budget))
        results.append(summarise("reference (long MILP)", ref))
        print(json.dumps(results[-1]), flush=True)
    bounds = [r["solver"].get("lowerBoundPerHour") for r in results]
    best = max((b for b in bounds if isinstance(b, float | int)), default=None)
    print()
    print("| strategy | decision s | $/h before | $/h after | saved | nodes disrupted | "
          "pods moved | replacements | vs best bound |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        gap = f"{100 * (r['costAfter'] / best - 1):.1f}%" if best else "-"
        print(f"| {r['strategy']} | {r['decisionSeconds']:.2f} | {r['costBefore']:.2f} | "
              f"{r['costAfter']:.2f} | {r['savedPct']:.1f}% | {r['nodesDisrupted']} | "
              f"{r['podsMoved']} | {r['replacements']} | {gap} |")
    if best:
        print(f"\nbest MILP lower bound on the cluster's cost after the pass: ${best:.2f}/h")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "nodes": args.nodes, "seed": args.seed, "utilisation": utilisation(inp),
            "python": platform.python_version(), "results": results, "bestBound": best,
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
