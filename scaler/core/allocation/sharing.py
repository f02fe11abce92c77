"""Step 2 of allocation: idle shared back, shared workloads and fixed costs split over teams.

Order, as OpenCost applies it: idle first (so shared workloads carry their part of it), then
shared namespaces and labels, then fixed costs.

* Idle, when shared, goes to the containers on the same node, per resource, in proportion to
  their cost of that resource (OpenCost's "weighted by cost"); a node with nobody to take its
  idle passes it to the whole cluster the same way; what nobody can take stays idle.
* A shared workload (a namespace or label the policy names) leaves the report; its cost
  becomes `sharedCost` of the other workloads: split over teams Even (equal parts per team),
  Weighted (the policy's team weights) or Proportional (by each team's cost), then within a
  team in proportion to cost.
* A fixed cost (support plan, NAT gateways) accrues per hour over each step and is split the
  same way. Whatever no workload can take (no teams present, or none with a weight) stays as
  one `__shared__` line, so nothing is lost.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from scaler.core.allocation.model import (
    IDLE,
    SHARED,
    SHARED_NAME,
    WORKLOAD,
    Allocation,
    AllocationSet,
    Properties,
)
from scaler.core.allocation.money import MICROS_PER_DOLLAR, Weight, accrued, split
from scaler.core.allocation.teams import label_value

EVEN = "Even"
WEIGHTED = "Weighted"
PROPORTIONAL = "Proportional"


@dataclass(frozen=True, slots=True)
class ShareRule:
    split: str = EVEN  # Even | Weighted | Proportional
    weights: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SharedWorkloads:
    """Workloads whose cost everybody pays: by namespace pattern, or by any of the labels."""

    rule: ShareRule
    namespaces: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The key of its part in sharedCostBreakdown."""
        parts = [*self.namespaces, *(f"{k}={v}" for k, v in sorted(self.labels.items()))]
        return ",".join(parts) or "shared"

    def matches(self, a: Allocation) -> bool:
        p = a.properties
        if any(fnmatch.fnmatchcase(p.namespace, pat) for pat in self.namespaces):
            return True
        return any(label_value(p.labels, k) == v for k, v in self.labels.items())


@dataclass(frozen=True, slots=True)
class FixedCost:
    name: str
    per_hour: Fraction  # dollars
    rule: ShareRule


@dataclass(frozen=True, slots=True)
class SharingRules:
    share_idle: bool = False
    shared: tuple[SharedWorkloads, ...] = ()
    fixed: tuple[FixedCost, ...] = ()


def fixed_cost_micros(cost: FixedCost, origin: int, start: int, end: int) -> int:
    """The cost accrued in [start, end), counted from `origin` so steps add up exactly."""
    per_hour = cost.per_hour * MICROS_PER_DOLLAR
    return accrued(per_hour, end - origin) - accrued(per_hour, start - origin)


def share(
    sets: Sequence[AllocationSet], rules: SharingRules, origin: int, cluster: str = ""
) -> tuple[AllocationSet, ...]:
    return tuple(_share_step(s, rules, origin, cluster) for s in sets)


def _share_step(
    aset: AllocationSet, rules: SharingRules, origin: int, cluster: str
) -> AllocationSet:
    work = [a for a in aset.allocations if a.kind == WORKLOAD]
    idle = [a for a in aset.allocations if a.kind == IDLE]
    others = [a for a in aset.allocations if a.kind not in (WORKLOAD, IDLE)]
    # Mutable money per workload: cpu, ram, gpu, shared.
    money = [[a.cpu_micros, a.ram_micros, a.gpu_micros, a.shared_micros] for a in work]
    idle_money = [[a.cpu_micros, a.ram_micros, a.gpu_micros] for a in idle]
    idle_in = [[a.cpu_idle_micros, a.ram_idle_micros, a.gpu_idle_micros] for a in work]
    breakdown: list[dict[str, int]] = [dict(a.shared_breakdown) for a in work]

    if rules.share_idle:
        by_node: dict[str, list[int]] = {}
        for k, w in enumerate(work):
            by_node.setdefault(w.properties.node, []).append(k)
        for r in range(3):
            before = [m[r] for m in money]
            for i, a in enumerate(idle):
                on_node = by_node.get(a.properties.node, [])
                idle_money[i][r] = _give(idle_money[i][r], on_node, money, r)
            for i in range(len(idle)):
                idle_money[i][r] = _give(idle_money[i][r], list(range(len(work))), money, r)
            for k in range(len(work)):
                idle_in[k][r] += money[k][r] - before[k]

    shared_of = [next((s for s in rules.shared if s.matches(a)), None) for a in work]
    receivers = [k for k, s in enumerate(shared_of) if s is None]
    base = {k: sum(money[k][:3]) for k in receivers}
    unabsorbed = 0
    for selector in rules.shared:
        amount = sum(sum(money[k]) for k, s in enumerate(shared_of) if s is selector)
        unabsorbed += _distribute(
            amount, selector.rule, receivers, work, base, money, breakdown, selector.name
        )
    fixed_total = 0
    for cost in rules.fixed:
        amount = fixed_cost_micros(cost, origin, aset.start, aset.end)
        fixed_total += amount
        unabsorbed += _distribute(
            amount, cost.rule, receivers, work, base, money, breakdown, cost.name
        )

    out: list[Allocation] = []
    for k in receivers:
        cpu, ram, gpu, shared = money[k]
        icpu, iram, igpu = idle_in[k]
        out.append(
            replace(
                work[k],
                cpu_micros=cpu,
                ram_micros=ram,
                gpu_micros=gpu,
                shared_micros=shared,
                cpu_idle_micros=icpu,
                ram_idle_micros=iram,
                gpu_idle_micros=igpu,
                shared_breakdown=breakdown[k],
            )
        )
    for i, a in enumerate(idle):
        cpu, ram, gpu = idle_money[i]
        if cpu or ram or gpu or not rules.share_idle:
            out.append(replace(a, cpu_micros=cpu, ram_micros=ram, gpu_micros=gpu))
    out.extend(others)
    if unabsorbed:
        out.append(
            Allocation(
                name=SHARED_NAME,
                kind=SHARED,
                properties=Properties(cluster=cluster),
                window_start=aset.start,
                window_end=aset.end,
                start=aset.start,
                end=aset.end,
                shared_micros=unabsorbed,
            )
        )
    return AllocationSet(
        aset.start, aset.end, tuple(out), aset.nodes, aset.fixed_shared_micros + fixed_total
    )


def _give(amount: int, to: list[int], money: list[list[int]], r: int) -> int:
    """Split `amount` over `to` by their cost of resource r; returns what is left."""
    if amount == 0 or not to:
        return amount
    weights = [money[k][r] for k in to]
    if sum(weights) <= 0:
        return amount
    for k, part in zip(to, split(amount, weights), strict=True):
        money[k][r] += part
    return 0


def _distribute(
    amount: int,
    rule: ShareRule,
    receivers: list[int],
    work: list[Allocation],
    base: dict[int, int],
    money: list[list[int]],
    breakdown: list[dict[str, int]],
    name: str,
) -> int:
    """Add `amount` to the receivers' shared cost per the rule; returns what none could take."""
    if amount == 0:
        return 0
    members: dict[str, list[int]] = {}
    for k in receivers:
        if base[k] > 0:
            members.setdefault(work[k].properties.team, []).append(k)
    teams = sorted(members)
    if not teams:
        return amount
    weights: list[Weight]
    if rule.split == WEIGHTED:
        weights = [Fraction(rule.weights.get(t, 0)) for t in teams]
    elif rule.split == PROPORTIONAL:
        weights = [sum(base[k] for k in members[t]) for t in teams]
    else:
        weights = [1] * len(teams)
    if sum(weights) <= 0:
        return amount
    for team, team_amount in zip(teams, split(amount, weights), strict=True):
        ks = members[team]
        for k, part in zip(ks, split(team_amount, [base[k] for k in ks]), strict=True):
            money[k][3] += part
            if part:
                breakdown[k][name] = breakdown[k].get(name, 0) + part
    return 0
