"""Expiration: nodes past their NodePool's `expireAfter` are replaced (drifted nodes are
left to drift)."""

from __future__ import annotations

from scaler.core.disruption.candidates import Candidate
from scaler.core.disruption.methods.context import REASON_EXPIRED
from scaler.core.disruption.methods.replace_each import ReplaceEach


class Expiration(ReplaceEach):
    name = "expiration"
    reason = REASON_EXPIRED

    def wanted(self, c: Candidate) -> bool:
        return c.expired and c.drifted is None
