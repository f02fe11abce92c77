"""Drift: nodes whose NodePool or node class no longer matches them are replaced."""

from __future__ import annotations

from scaler.core.disruption.candidates import Candidate
from scaler.core.disruption.methods.context import REASON_DRIFTED
from scaler.core.disruption.methods.replace_each import ReplaceEach


class Drift(ReplaceEach):
    name = "drift"
    reason = REASON_DRIFTED

    def wanted(self, c: Candidate) -> bool:
        return c.drifted is not None
