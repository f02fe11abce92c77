"""Karpenter's multi-node consolidation, and which candidates consolidation may take."""

from __future__ import annotations

from collections.abc import Sequence

from scaler.core.disruption.candidates import Candidate
from scaler.core.disruption.methods.context import REASON_UNDERUTILIZED, Command, PassContext
from scaler.core.disruption.safety import saves_enough
from scaler.core.model import SPOT


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
