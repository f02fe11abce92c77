"""Disruption methods behind one interface, tried in Karpenter's order: emptiness, drift,
expiration, then consolidation (multi-node, then single-node; or scaler's MILP over every
candidate at once, see `optimiser`).

Unlike Karpenter, which stops a pass at the first method that finds something, a pass here
runs every method in turn on the cluster as the earlier ones left it, sharing the budgets
and PDB allowances, so one pass gives the whole plan (the loop still revalidates it before
acting).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from scaler.core.disruption.budgets import DRIFTED, EMPTY, EXPIRED, UNDERUTILIZED
from scaler.core.disruption.candidates import (
    NODE_DISRUPTION_COST,
    Candidate,
    DisruptionSettings,
    balanced_score,
    balanced_threshold,
)
from scaler.core.disruption.cluster_view import ClusterView, Trial
from scaler.core.disruption.safety import Ledger, saves_enough
from scaler.core.model import SPOT

# The reasons as the plan reports them, and the budget reason each counts against.
REASON_EMPTY = "empty"
REASON_UNDERUTILIZED = "underutilized"
REASON_DRIFTED = "drifted"
REASON_EXPIRED = "expired"
BUDGET_REASON = {
    REASON_EMPTY: EMPTY,
    REASON_UNDERUTILIZED: UNDERUTILIZED,
    REASON_DRIFTED: DRIFTED,
    REASON_EXPIRED: EXPIRED,
}


@dataclass(frozen=True)
class Command:
    """Nodes disrupted together, and the replacements launched for their pods first."""

    method: str
    reason: str
    nodes: tuple[Candidate, ...]
    trial: Trial

    @property
    def price(self) -> float:
        return sum(c.price or 0.0 for c in self.nodes)

    def savings(self) -> dict[str, float]:
        """Per node: its price less its share of the replacements (by displaced CPU)."""
        share: dict[str, float] = {c.name: 0.0 for c in self.nodes}
        for claim in self.trial.claims:
            price = claim.options[0].price if claim.options else 0.0
            weights: dict[str, float] = {}
            for p in claim.pods:
                src = self.trial.origin.get(p.key)
                if src is not None:
                    weights[src] = weights.get(src, 0.0) + max(p.requests.get("cpu"), 1)
            total = sum(weights.values()) or 1.0
            for src, w in weights.items():
                share[src] = share.get(src, 0.0) + price * w / total
        return {c.name: (c.price or 0.0) - share[c.name] for c in self.nodes}


@dataclass
class PassContext:
    view: ClusterView
    ledger: Ledger
    settings: DisruptionSettings
    now: float
    candidates: dict[str, Candidate]
    deadline: float  # time.perf_counter() value
    done: set[str] = field(default_factory=set)
    commands: list[Command] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    solver: dict[str, object] = field(default_factory=dict)
    # NodePool -> (price per hour, disruption cost) of all its candidates, for Balanced.
    pool_totals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def time_left(self) -> float:
        return self.deadline - time.perf_counter()

    def available(self, keep: Callable[[Candidate], bool]) -> list[Candidate]:
        out = [c for c in self.candidates.values()
               if c.name not in self.done and c.name in self.view.nodes and c.blocked is None
               and keep(c)]
        return sorted(out, key=lambda c: (c.cost, c.name))

    def within_budget(self, reason: str, nodes: Sequence[Candidate]) -> list[Candidate]:
        """The longest prefix of `nodes` the budgets and PDBs allow together."""
        out: list[Candidate] = []
        for c in nodes:
            if self.ledger.fits(BUDGET_REASON[reason], [(x.pool.name, x.evictions)
                                                        for x in (*out, c)]):
                out.append(c)
        return out

    def fits(self, reason: str, nodes: Sequence[Candidate]) -> bool:
        return self.ledger.fits(BUDGET_REASON[reason], [(c.pool.name, c.evictions)
                                                        for c in nodes])

    def commit(self, cmd: Command) -> None:
        self.ledger.take(BUDGET_REASON[cmd.reason], [(c.pool.name, c.evictions)
                                                     for c in cmd.nodes])
        self.view.apply(cmd.trial)
        self.done.update(c.name for c in cmd.nodes)
        self.commands.append(cmd)

    def spot_to_spot_ok(self, cmd: Command) -> list[str]:
        """Spot nodes whose pods went to a spot replacement with too few cheaper types."""
        return self._spot_to_spot(cmd)[0]

    def spot_to_spot_claims(self, cmd: Command) -> list[str]:
        """The spot replacements with too few cheaper types."""
        return self._spot_to_spot(cmd)[1]

    def _spot_to_spot(self, cmd: Command) -> tuple[list[str], list[str]]:
        bad: list[str] = []
        claims: list[str] = []
        prices = {c.name: c.price or 0.0 for c in cmd.nodes}
        spot = {c.name for c in cmd.nodes if c.node.capacity_type == SPOT}
        for claim in cmd.trial.claims:
            if not claim.options or claim.options[0].capacity_type != SPOT:
                continue
            feeding = {cmd.trial.origin[p.key] for p in claim.pods if p.key in cmd.trial.origin}
            spot_feeding = feeding & spot
            if not spot_feeding:
                continue
            ceiling = sum(prices[n] for n in feeding)
            cheaper = {o.instance_type for o in claim.options
                       if o.capacity_type == SPOT and o.price < ceiling}
            if len(cheaper) < self.settings.spot_to_spot_min_types:
                bad.extend(sorted(spot_feeding))
                claims.append(claim.name)
        return bad, claims

    def consolidation_faults(self, cmd: Command) -> list[str]:
        """Nodes of a consolidation that break the churn guard or the spot-to-spot rule."""
        f = self.settings.min_saving_fraction
        per_pod = self.settings.eviction_price
        savings = cmd.savings()
        bad = [c.name for c in cmd.nodes
               if c.price is None
               or savings[c.name] < f * c.price + per_pod * len(c.pods) - 1e-9]
        bad += [n for n in self.balanced_faults(cmd) if n not in bad]
        return bad + [n for n in self.spot_to_spot_ok(cmd) if n not in bad]

    def balanced_faults(self, cmd: Command) -> list[str]:
        """Nodes of Balanced NodePools whose share of the move saves too little for the
        disruption it causes (Karpenter: score >= 1/consolidationThreshold)."""
        savings = cmd.savings()
        bad: list[str] = []
        by_pool: dict[str, list[Candidate]] = {}
        for c in cmd.nodes:
            by_pool.setdefault(c.pool.name, []).append(c)
        for name, nodes in sorted(by_pool.items()):
            k = balanced_threshold(nodes[0].pool)
            if k is None:
                continue
            pool_cost, pool_disruption = self.pool_totals.get(name, (0.0, 0.0))
            saved = sum(savings[c.name] for c in nodes)
            caused = sum(c.cost + NODE_DISRUPTION_COST for c in nodes)
            if balanced_score(saved, caused, pool_cost, pool_disruption) < 1.0 / k - 1e-12:
                bad.extend(c.name for c in nodes)
        return bad


class Method(Protocol):
    name: str
    reason: str

    def run(self, ctx: PassContext) -> None:
        """Find this method's commands and commit them to the context."""


class Emptiness:
    """Nodes with nothing to evict are deleted (within their budgets)."""

    name = "emptiness"
    reason = REASON_EMPTY

    def run(self, ctx: PassContext) -> None:
        for c in ctx.available(lambda c: c.empty and c.empty_ok):
            if ctx.fits(self.reason, [c]):
                ctx.commit(Command(self.name, self.reason, (c,),
                                   Trial((c.name,), (), {}, (), {})))


class _Replace:
    """Drift and expiration: each node is replaced, its pods scheduled anywhere valid."""

    name = ""
    reason = ""

    def wanted(self, c: Candidate) -> bool:
        raise NotImplementedError

    def run(self, ctx: PassContext) -> None:
        for c in ctx.available(self.wanted):
            if ctx.time_left() <= 0:
                ctx.notes.append(f"{self.name}: out of time")
                return
            if not ctx.fits(self.reason, [c]):
                continue
            trial = ctx.view.trial([c.name])
            if trial.ok:
                ctx.commit(Command(self.name, self.reason, (c,), trial))


class Drift(_Replace):
    name = "drift"
    reason = REASON_DRIFTED

    def wanted(self, c: Candidate) -> bool:
        return c.drifted is not None


class Expiration(_Replace):
    name = "expiration"
    reason = REASON_EXPIRED

    def wanted(self, c: Candidate) -> bool:
        return c.expired and c.drifted is None


def consolidatable(c: Candidate) -> bool:
    return c.consolidatable and c.price is not None and not c.empty


class MultiNode:
    """Karpenter's multi-node consolidation: the longest prefix (by disruption cost) of at
    most 100 candidates, found by binary search, that can go with at most one cheaper
    replacement. Repeated while it finds something."""

    name = "multi-node"
    reason = REASON_UNDERUTILIZED

    def valid(self, ctx: PassContext, nodes: Sequence[Candidate]) -> Command | None:
        trial = ctx.view.trial([c.name for c in nodes])
        if not trial.ok or len(trial.claims) > 1:
            return None
        cmd = Command(self.name, self.reason, tuple(nodes), trial)
        if trial.claims and len(nodes) > 1 and all(c.node.capacity_type == SPOT for c in nodes) \
                and trial.claims[0].options[0].capacity_type == SPOT:
            return None  # Karpenter does no multi-node spot-to-spot replacement
        if not saves_enough(cmd.price, trial.replacement_cost,
                            ctx.settings.min_saving_fraction):
            return None
        pods = sum(len(c.pods) for c in nodes)
        if cmd.price - trial.replacement_cost < ctx.settings.eviction_price * pods - 1e-9:
            return None
        if ctx.spot_to_spot_ok(cmd) or ctx.balanced_faults(cmd):
            return None
        return cmd

    def run(self, ctx: PassContext) -> None:
        while ctx.time_left() > 0:
            pool = ctx.within_budget(self.reason, ctx.available(consolidatable))
            pool = pool[: ctx.settings.multi_node_max]
            if len(pool) < 2:
                return
            lo, hi, best = 1, len(pool) - 1, None
            while lo <= hi and ctx.time_left() > 0:
                mid = (lo + hi) // 2
                cmd = self.valid(ctx, pool[: mid + 1])
                if cmd is not None:
                    best, lo = cmd, mid + 1
                else:
                    hi = mid - 1
            if best is None:
                return
            ctx.commit(best)


class SingleNode:
    """Karpenter's single-node consolidation: each candidate in turn, deleted or replaced
    by one cheaper node."""

    name = "single-node"
    reason = REASON_UNDERUTILIZED

    def run(self, ctx: PassContext) -> None:
        multi = MultiNode()
        for c in ctx.available(consolidatable):
            if ctx.time_left() <= 0:
                ctx.notes.append(f"{self.name}: out of time")
                return
            if c.name in ctx.done or not ctx.fits(self.reason, [c]):
                continue
            cmd = multi.valid(ctx, [c])
            if cmd is not None:
                ctx.commit(Command(self.name, self.reason, cmd.nodes, cmd.trial))


def karpenter_methods() -> list[Method]:
    return [Emptiness(), Drift(), Expiration(), MultiNode(), SingleNode()]
