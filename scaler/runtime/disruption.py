"""Scale-in: the disruption planner interface, and a minimal emptiness planner.

`EmptinessPlanner` was the stand-in until issue 4's consolidation core landed; it stays as
the `emptiness` planner (predictable, no solver). The default is `ConsolidationPlanner`
(scaler/runtime/consolidation.py) on issue 4's `plan_disruptions`. Either way the loop does
the acting: taint, drain through PDBs, delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pricing import InstanceType
from scaler.core.model import NodePool, Snapshot
from scaler.core.scheduling.claim import ClaimPlan
from scaler.ports.cluster import ClaimView

EMPTY = "Empty"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"


@dataclass(frozen=True, slots=True)
class DisruptionView:
    snapshot: Snapshot
    claims: Sequence[ClaimView]  # scaler's node claims; only those with a node are candidates
    node_pools: Sequence[NodePool] = ()
    instance_types: Sequence[InstanceType] = ()  # with prices, for what nodes cost
    # Claims and nodes pending pods were just nominated to: not disrupted while kube-scheduler
    # has yet to bind those pods there (they look empty until then).
    protected: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Candidate:
    claim: str
    node: str
    node_pool: str
    provider_id: str
    reason: str  # Karpenter's disruption reasons: Empty, Underutilized, Drifted
    savings_per_hour: float = 0.0
    message: str = ""
    # Capacity to launch (and wait for) before this node is drained; empty: delete only.
    replacements: tuple[ClaimPlan, ...] = ()


class DisruptionPlanner(Protocol):
    def plan(self, view: DisruptionView, now: float) -> Sequence[Candidate]:
        """Nodes to remove now, safest and most saving first."""
        ...


@dataclass
class EmptinessPlanner:
    """Nodes scaler launched that hold no pod but DaemonSet (and mirror) pods for `grace`
    seconds. Minimal on purpose: see the module docstring."""

    grace: float = 30.0
    _empty_since: dict[str, float] = field(default_factory=dict)

    def plan(self, view: DisruptionView, now: float) -> Sequence[Candidate]:
        busy: set[str] = set()
        for pod in view.snapshot.pods:
            if pod.node_name and not pod.is_daemonset_pod and pod.owner_kind != "Node":
                busy.add(pod.node_name)
        nodes = {n.name: n for n in view.snapshot.nodes}
        out: list[Candidate] = []
        seen: set[str] = set()
        for claim in view.claims:
            node = claim.node_name
            if not node or not claim.initialized or node not in nodes:
                continue
            if claim.name in view.protected or node in view.protected:
                self._empty_since.pop(node, None)
                continue
            seen.add(node)
            if node in busy or nodes[node].labels.get(DO_NOT_DISRUPT) == "true":
                self._empty_since.pop(node, None)
                continue
            since = self._empty_since.setdefault(node, now)
            if now - since >= self.grace:
                out.append(Candidate(
                    claim.name, node, claim.node_pool, claim.provider_id, EMPTY,
                    claim.price_per_hour,
                    f"node {node} held no pods for {now - since:.0f}s"))
        for node in set(self._empty_since) - seen:
            del self._empty_since[node]
        return sorted(out, key=lambda c: -c.savings_per_hour)
