"""The loop's default disruption planner: issue 4's `plan_disruptions` (emptiness,
consolidation by deletion, drift, expiry; budgets, PDBs, do-not-disrupt) behind the
`DisruptionPlanner` interface.

A command that only deletes nodes (their pods fit on the nodes that stay) is acted on
directly. A command that replaces nodes carries its replacement claims: the loop launches
them and drains nothing yet; once they are Ready, a later pass finds the old nodes'
pods fit on them and proposes deleting the old nodes, which is then acted on like any
deletion (Karpenter's launch -> await-ready -> validate -> drain, spread over passes).
Validation is approximated as Karpenter's is: a command must be proposed again
`validation_delay` seconds after it was first, by a fresh pass, before it is acted on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from scaler.core.disruption.candidates import DisruptionInput, DisruptionSettings
from scaler.core.disruption.plan import plan_disruptions
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.runtime.disruption import Candidate, DisruptionView

log = logging.getLogger(__name__)

REASONS = {"empty": "Empty", "underutilized": "Underutilized", "drifted": "Drifted",
           "expired": "Expired"}


@dataclass
class ConsolidationPlanner:
    settings: DisruptionSettings = field(default_factory=DisruptionSettings)
    validation_delay: float = 15.0
    _first_seen: dict[tuple[str, str], float] = field(default_factory=dict)
    _pods_seen: dict[str, tuple[frozenset[str], float]] = field(default_factory=dict)

    def _last_change(self, view: DisruptionView, now: float) -> dict[str, float]:
        """When each node's pods last changed, as far as this planner has watched."""
        pods: dict[str, set[str]] = {}
        for p in view.snapshot.pods:
            if p.node_name:
                pods.setdefault(p.node_name, set()).add(p.key)
        out: dict[str, float] = {}
        for node in view.snapshot.nodes:
            now_pods = frozenset(pods.get(node.name, ()))
            seen = self._pods_seen.get(node.name)
            if seen is None or seen[0] != now_pods:
                # First look, or the pods changed: consolidateAfter counts from now (a first
                # look at a node created long ago falls back to its creation time).
                at = now if seen is not None or node.created is None else node.created
                self._pods_seen[node.name] = (now_pods, at)
            out[node.name] = self._pods_seen[node.name][1]
        for gone in set(self._pods_seen) - {n.name for n in view.snapshot.nodes}:
            del self._pods_seen[gone]
        return out

    def plan(self, view: DisruptionView, now: float) -> Sequence[Candidate]:
        claims = {c.node_name: c for c in view.claims if c.node_name and c.initialized
                  and c.name not in view.protected and c.node_name not in view.protected}
        snap = view.snapshot
        inp = DisruptionInput(
            table=InstanceTypeTable(view.instance_types),
            pools=view.node_pools,
            nodes=snap.nodes,
            pods=snap.pods,
            daemonsets=snap.daemonsets,
            pdbs=snap.disruption_budgets,
            last_change=self._last_change(view, now),
            # Only nodes scaler launched (and that are ready) are candidates; the others
            # still receive pods.
            protected=frozenset(n.name for n in snap.nodes if n.name not in claims),
        )
        plan = plan_disruptions(inp, now, self.settings)
        for node, why in plan.blocked:
            if node in claims:
                log.debug("node %s may not be disrupted: %s", node, why)
        by_command: dict[int, list[Candidate]] = {}
        new_claims = {c.name: c for c in plan.replacements}
        for d in plan.disruptions:
            claim = claims.get(d.node)
            if claim is None:
                continue
            if d.pods:
                message = d.detail or f"{d.method}: {len(d.pods)} pods move " + (
                    f"to {len(d.replacements)} cheaper replacement(s)" if d.replacements
                    else "to other nodes")
            else:
                message = d.detail or f"node {d.node} holds no pods"
            by_command.setdefault(d.command, []).append(Candidate(
                claim.name, d.node, claim.node_pool, claim.provider_id,
                REASONS.get(d.reason, d.reason.capitalize()), d.savings_per_hour, message,
                tuple(new_claims[r] for r in d.replacements if r in new_claims)))
        out: list[Candidate] = []
        proposed: set[tuple[str, str]] = set()
        for _, cands in sorted(by_command.items()):
            keys = [(c.node, c.reason) for c in cands]
            proposed.update(keys)
            first = min(self._first_seen.setdefault(k, now) for k in keys)
            if now - first >= self.validation_delay:
                out.extend(cands)
        for key in set(self._first_seen) - proposed:
            del self._first_seen[key]
        return out
