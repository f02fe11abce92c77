"""The provisioning plan as a document (JSON/YAML contract, docs/plan-json.md) and a table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from scaler.core.disruption.plan import DisruptionPlan
from scaler.core.money import money_auto
from scaler.core.plan import HOURS_PER_MONTH, Plan, PlannedNode
from scaler.core.quantity import format_quantity
from scaler.core.resources import Resources
from scaler.output.table import Cell, render_table

# How many ranked alternatives each new node lists in the document.
ALTERNATIVES_SHOWN = 20


def _resources(r: Resources) -> dict[str, str]:
    return {k: format_quantity(k, v) for k, v in sorted(r.items())}


def _node(n: PlannedNode) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": n.name,
        "existing": n.existing,
        "instanceType": n.instance_type,
        "capacityType": n.capacity_type,
        "zone": n.zone,
        "arch": n.arch,
        "nodePool": n.node_pool,
        "pricePerHour": round(n.price_per_hour or 0.0, 6),
        "priceKnown": n.price_per_hour is not None,
        "priceEstimated": n.price_estimated,
        "pods": len(n.pods),
        "requests": _resources(n.requests),
        "allocatable": _resources(n.allocatable),
    }
    if not n.existing:
        doc["instanceTypes"] = len({o.instance_type for o in n.alternatives})
        doc["alternatives"] = [
            {
                "instanceType": o.instance_type,
                "zone": o.zone,
                "capacityType": o.capacity_type,
                "pricePerHour": round(o.price, 6),
            }
            for o in n.alternatives[:ALTERNATIVES_SHOWN]
        ]
    return doc


def _rounded(value: object) -> float | None:
    return round(value, 6) if isinstance(value, int | float) else None


def disruption_fields(dplan: DisruptionPlan) -> dict[str, Any]:
    """What `--consolidate` adds to the document (docs/plan-json.md)."""
    lb = dplan.lower_bound
    gap = dplan.gap
    return {
        "disruptions": [
            {
                "node": d.node,
                "reason": d.reason,
                "replacements": list(d.replacements),
                "savingsPerHour": round(d.savings_per_hour, 6),
                "method": d.method,
                "command": d.command,
                "evictedPods": len(d.pods),
                **({"detail": d.detail} if d.detail else {}),
            }
            for d in dplan.disruptions
        ],
        "consolidation": {
            "costBeforePerHour": round(dplan.cost_before, 6),
            "costAfterPerHour": round(dplan.cost_after, 6),
            "savingsPerHour": round(dplan.savings_per_hour, 6),
            "lowerBoundPerHour": None if lb is None else round(lb, 6),
            "milpPlanPerHour": _rounded(dplan.solver.get("planPerHour")),
            "gap": None if gap is None else round(gap, 6),
            "solverStatus": dplan.solver.get("status"),
            "decisionSeconds": round(dplan.decision_seconds, 3),
            "blocked": [{"node": n, "reason": r} for n, r in dplan.blocked],
            "notes": list(dplan.notes),
            "steps": [
                {"action": s.action, "command": s.command, "targets": list(s.targets),
                 "waitSeconds": s.wait_seconds}
                for s in dplan.steps
            ],
        },
    }


def plan_document(plan: Plan, summary: Mapping[str, Any] | None = None,
                  disruptions: DisruptionPlan | None = None) -> dict[str, Any]:
    """The stable JSON contract; fields may be added, none of these changed."""
    doc: dict[str, Any] = {
        "placements": [{"pod": p.pod, "node": p.node} for p in plan.placements],
        "nodes": [_node(n) for n in plan.nodes],
        "unschedulable": [{"pod": u.pod, "reason": u.reason} for u in plan.unschedulable],
        "cost": {
            "currentPerHour": round(plan.current_per_hour, 6),
            "plannedPerHour": round(plan.planned_per_hour, 6),
            "currentPerMonth": round(plan.current_per_hour * HOURS_PER_MONTH, 2),
            "plannedPerMonth": round(plan.planned_per_hour * HOURS_PER_MONTH, 2),
            "currency": "USD",
            "newPerHour": round(plan.new_per_hour, 6),
            "newLowerBoundPerHour": (
                None if plan.new_lower_bound_per_hour is None
                else round(plan.new_lower_bound_per_hour, 6)
            ),
        },
        "region": plan.region,
    }
    if disruptions is not None:
        doc.update(disruption_fields(disruptions))
    if summary is not None:
        doc["summary"] = dict(summary)
    return doc


def _money(v: float) -> str:
    return money_auto(v)


def disruption_table(dplan: DisruptionPlan) -> str:
    out: list[str] = []
    if dplan.disruptions:
        out.append(f"Disruptions: {len(dplan.disruptions)} nodes")
        rows: list[list[Cell]] = [
            [d.node, d.reason, d.method, ", ".join(d.replacements) or "-", len(d.pods),
             _money(d.savings_per_hour)]
            for d in dplan.disruptions
        ]
        out.append(render_table(
            ["NODE", "REASON", "METHOD", "REPLACEMENTS", "PODS", "SAVES/H"], rows))
    else:
        out.append("Disruptions: none")
    line = (f"Consolidation: {_money(dplan.cost_before)}/h -> {_money(dplan.cost_after)}/h "
            f"(saves {_money(dplan.savings_per_hour)}/h), decided in "
            f"{dplan.decision_seconds:.2f} s")
    lb, gap = dplan.lower_bound, dplan.gap
    if lb is not None:
        line += f"; MILP lower bound {_money(lb)}/h"
        if gap is not None:
            line += f" (plan within {gap:.1%})"
    status = dplan.solver.get("status")
    if status:
        line += f"; solver: {status}"
    out.append(line)
    if dplan.blocked:
        shown = "; ".join(f"{n}: {r}" for n, r in dplan.blocked[:5])
        more = f" (and {len(dplan.blocked) - 5} more)" if len(dplan.blocked) > 5 else ""
        out.append(f"Not disruptable: {shown}{more}")
    for note in dplan.notes:
        out.append(f"Note: {note}")
    return "\n".join(out) + "\n"


def plan_table(plan: Plan, summary: Mapping[str, Any] | None = None,
               disruptions: DisruptionPlan | None = None) -> str:
    out: list[str] = []
    if summary:
        out.append(
            "Snapshot: {nodes} nodes, {bound} bound pods, {pending} pending pods, "
            "{daemonsets} DaemonSets; NodePools: {pools}".format(**summary)
        )
        for idle in summary.get("idleNodePools") or ():
            cond = idle["conditions"][0]
            out.append(f"NodePool {idle['name']} is idle ({cond['reason']}): {cond['message']}")
        out.append("")
    groups: Counter[tuple[str, str, str, str, float]] = Counter()
    for n in plan.new_nodes:
        key = (n.instance_type or "?", n.capacity_type, n.arch or "?", n.node_pool or "-",
               n.price_per_hour or 0.0)
        groups[key] += 1
    if groups:
        rows: list[list[Cell]] = [
            [it, ct, arch, pool, count, _money(price), _money(price * count)]
            for (it, ct, arch, pool, price), count in sorted(
                groups.items(), key=lambda kv: (-kv[0][4] * kv[1], kv[0][0])
            )
        ]
        out.append("Nodes to launch:")
        out.append(
            render_table(
                ["INSTANCE TYPE", "CAPACITY", "ARCH", "NODEPOOL", "COUNT", "PRICE/H", "TOTAL/H"],
                rows,
            )
        )
    else:
        out.append("Nodes to launch: none")
    out.append("")
    new_placements = [p for p in plan.placements if p.new]
    on_new = sum(len(n.pods) for n in plan.new_nodes)
    out.append(
        f"Pods placed: {len(new_placements)} pending pods "
        f"({len(new_placements) - on_new} on existing nodes, {on_new} on new nodes); "
        f"{len(plan.placements) - len(new_placements)} already bound"
    )
    if plan.unschedulable:
        out.append("")
        out.append(f"Unschedulable pods: {len(plan.unschedulable)}")
        out.append(render_table(["POD", "REASON"], [[u.pod, u.reason] for u in plan.unschedulable]))
    unpriced = [n.name for n in plan.nodes if n.existing and n.price_per_hour is None]
    out.append("")
    cur, new = plan.current_per_hour, plan.planned_per_hour
    out.append(
        render_table(
            ["COST (USD)", "PER HOUR", "PER MONTH (730 h)"],
            [
                ["current", _money(cur), _money(cur * HOURS_PER_MONTH)],
                ["planned", _money(new), _money(new * HOURS_PER_MONTH)],
                ["change", _money(new - cur), _money((new - cur) * HOURS_PER_MONTH)],
            ],
        )
    )
    bound = plan.new_lower_bound_per_hour
    if bound is not None and plan.new_nodes:
        gap = plan.new_per_hour / bound - 1 if bound > 0 else 0.0
        out.append(
            f"New nodes: {_money(plan.new_per_hour)}/h; LP lower bound for the same pods: "
            f"{_money(bound)}/h (the plan costs {gap:.1%} more)"
        )
    if unpriced:
        names = ", ".join(unpriced[:5])
        out.append(f"(no catalog price for {len(unpriced)} existing nodes: {names})")
    if any(n.price_estimated for n in plan.new_nodes):
        out.append("Spot prices are estimates from the Spot Instance Advisor savings band.")
    if disruptions is not None:
        out.append("")
        out.append(disruption_table(disruptions).rstrip("\n"))
    return "\n".join(out) + "\n"
