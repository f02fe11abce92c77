"""The shape drift and expiration share: each wanted node is replaced on its own, its
pods scheduled anywhere valid, while the time budget lasts."""

from __future__ import annotations

from scaler.core.disruption.candidates import Candidate
from scaler.core.disruption.methods.context import Command, PassContext


class ReplaceEach:
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
