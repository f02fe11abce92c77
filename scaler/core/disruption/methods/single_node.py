"""Karpenter's single-node consolidation."""

from __future__ import annotations

from scaler.core.disruption.methods.context import REASON_UNDERUTILIZED, Command, PassContext
from scaler.core.disruption.methods.multi_node import MultiNode, consolidatable


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
