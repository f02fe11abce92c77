"""What may be disrupted: pods that block their node, PodDisruptionBudgets, the churn guard.

A node is not a candidate when one of its pods
- carries `karpenter.sh/do-not-disrupt: "true"`,
- has no controller (nothing would recreate it after eviction), or
- is selected by a PodDisruptionBudget that allows no eviction now.
DaemonSet pods and mirror pods (owned by the Node) are not evicted and block nothing.

Across one pass, the evictions a plan makes count against each PDB: the nodes it drains at
once together may evict at most the PDB's `disruptionsAllowed` pods it selects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scaler.core.model import Node, Pod, PodDisruptionBudget


def evictable(pod: Pod) -> bool:
    """A pod a drain evicts (and the scheduler must place again)."""
    return not pod.is_daemonset_pod and pod.owner_kind != "Node"


def pdb_allowance(pdbs: Sequence[PodDisruptionBudget], pods: Iterable[Pod]) -> dict[str, int]:
    """Evictions each PDB allows now, from the snapshot's pods (bound ones count as healthy).

    As the disruption controller computes it: with minAvailable, healthy - minAvailable; with
    maxUnavailable, maxUnavailable - (expected - healthy); percentages of the expected pods
    rounded up. When the snapshot carries `status.disruptionsAllowed`, the smaller one wins.
    """
    expected = dict.fromkeys((b.key for b in pdbs), 0)
    healthy = dict.fromkeys((b.key for b in pdbs), 0)
    by_ns: dict[str, list[PodDisruptionBudget]] = {}
    for b in pdbs:
        by_ns.setdefault(b.namespace, []).append(b)
    for pod in pods:
        for b in by_ns.get(pod.namespace, ()):
            if b.selects(pod):
                expected[b.key] += 1
                if pod.node_name:
                    healthy[b.key] += 1
    out: dict[str, int] = {}
    for b in pdbs:
        e, h = expected[b.key], healthy[b.key]
        if b.max_unavailable is not None:
            n = b.max_unavailable.scaled(e, round_up=True) - (e - h)
        else:
            floor = b.min_available.scaled(e, round_up=True) if b.min_available else 0
            n = h - floor
        if b.disruptions_allowed is not None:
            n = min(n, b.disruptions_allowed)
        out[b.key] = max(n, 0)
    return out


@dataclass(frozen=True)
class PodGuard:
    """Which PDBs select each pod, and what each still allows in this pass."""

    pdbs: Sequence[PodDisruptionBudget]
    allowance: Mapping[str, int]

    def of(self, pod: Pod) -> list[str]:
        return [b.key for b in self.pdbs if b.selects(pod)]

    def blocker(self, pod: Pod) -> str | None:
        """Why evicting this pod is not allowed, or None."""
        if not evictable(pod):
            return None
        if pod.do_not_disrupt:
            return f"pod {pod.key} has karpenter.sh/do-not-disrupt"
        if pod.owner_kind is None:
            return f"pod {pod.key} has no controller"
        for key in self.of(pod):
            if self.allowance.get(key, 0) <= 0:
                return f"PodDisruptionBudget {key} allows no eviction"
        return None


def node_blocker(node: Node, pods: Sequence[Pod], guard: PodGuard) -> str | None:
    if node.do_not_disrupt:
        return f"node {node.name} has karpenter.sh/do-not-disrupt"
    if node.unschedulable:
        return f"node {node.name} is cordoned"
    for pod in pods:
        why = guard.blocker(pod)
        if why is not None:
            return why
    return None


class Ledger:
    """What the pass has used of the PDBs and the NodePool budgets so far."""

    def __init__(self, pdb_left: Mapping[str, int], budget_left: Mapping[tuple[str, str], int],
                 pool_total: Mapping[str, int]) -> None:
        self.pdb_left = dict(pdb_left)
        self.budget_left = dict(budget_left)  # (pool, reason) -> nodes
        self.pool_total = dict(pool_total)

    def fits(self, reason: str, nodes: Sequence[tuple[str, Mapping[str, int]]]) -> bool:
        """Could these (pool, evictions per PDB) nodes all be disrupted for `reason`?"""
        need_nodes: dict[str, int] = {}
        need_pdb: dict[str, int] = {}
        for pool, evictions in nodes:
            need_nodes[pool] = need_nodes.get(pool, 0) + 1
            for k, v in evictions.items():
                need_pdb[k] = need_pdb.get(k, 0) + v
        if any(self.budget_left.get((p, reason), 0) < n for p, n in need_nodes.items()):
            return False
        return all(self.pdb_left.get(k, 0) >= v for k, v in need_pdb.items())

    def take(self, reason: str, nodes: Sequence[tuple[str, Mapping[str, int]]]) -> None:
        for pool, evictions in nodes:
            # A disrupted node counts against every reason's budget of its pool.
            for (p, r) in list(self.budget_left):
                if p == pool:
                    self.budget_left[(p, r)] -= 1
            for k, v in evictions.items():
                self.pdb_left[k] -= v

    def left(self, pool: str, reason: str) -> int:
        return self.budget_left.get((pool, reason), 0)


def saves_enough(price: float, replacement_cost: float, fraction: float) -> bool:
    """The churn guard: a move must save at least `fraction` of the disrupted nodes' price."""
    return price - replacement_cost >= fraction * price - 1e-9 and replacement_cost < price
