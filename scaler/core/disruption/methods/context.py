"""What every disruption method shares: the reasons and budget reasons, a `Command` (nodes
disrupted together with their replacements), the `PassContext` a pass threads through the
methods, and the `Method` protocol each method implements."""

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
from scaler.core.disruption.safety import Ledger
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
