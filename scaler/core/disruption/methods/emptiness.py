"""Emptiness: nodes with no pods to evict are deleted, within their budgets."""

from __future__ import annotations

from scaler.core.disruption.cluster_view import Trial
from scaler.core.disruption.methods.context import REASON_EMPTY, Command, PassContext


class Emptiness:
    """Nodes with nothing to evict are deleted (within their budgets)."""

    name = "emptiness"
    reason = REASON_EMPTY

    def run(self, ctx: PassContext) -> None:
        for c in ctx.available(lambda c: c.empty and c.empty_ok):
            if ctx.fits(self.reason, [c]):
                ctx.commit(Command(self.name, self.reason, (c,),
                                   Trial((c.name,), (), {}, (), {})))
