"""Whole nodes for the LP bound's plan: each kind's whole pods packed onto nodes of that kind,
every node filled so that its resources run out together.

The LP (`bound.py`) puts so many pods of each class on each kind, with the kind's capacity
shared in aggregate: CPU-heavy and memory-heavy pods balance each other over all its nodes.
Packing those pods largest first (first-fit decreasing) fills the first nodes' CPU with
CPU-heavy pods and leaves their memory idle, then the last nodes' memory with the others:
more nodes than the aggregate needs. Here each kind gets the nodes its pods fill in
aggregate (rounded up), each node an even share of every class, so the LP's balance holds
on every node; the remainders go largest first to the node with the most room.

Pure arithmetic on the classes and kinds the scheduler built; no pods, no requirements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scaler.core.scheduling.bound import IntArray, Kinds, PodClass
from scaler.core.scheduling.patterns import Pattern, PatternPlan


def balanced_nodes(cap: IntArray, demand: IntArray, counts: IntArray) -> list[IntArray]:
    """As few nodes of one capacity as the pods fill in aggregate (rounded up), each given an
    even share of every class, the remainders largest first onto the node with the most room
    left: per node, the pods of each class. Pods that fit no node are left out (the
    caller's leftovers).
    """
    capf = np.maximum(cap.astype(np.float64), 1.0)
    fits = (demand <= cap).all(axis=1)
    counts = np.where(fits, counts, 0).astype(np.int64)
    if not counts.any():
        return []
    share = demand.astype(np.float64) / capf
    n_nodes = max(1, int(np.ceil((share * counts[:, None]).sum(axis=0).max() - 1e-9)))
    take = np.tile(counts // n_nodes, (n_nodes, 1))
    room = cap.astype(np.int64) - take @ demand
    rest = counts % n_nodes
    for k in np.argsort(-share.max(axis=1), kind="stable").tolist():
        for _ in range(int(rest[k])):
            ok = np.flatnonzero((room >= demand[k]).all(axis=1))
            if len(ok) == 0:
                break
            j = int(ok[np.argmax((room[ok] / capf).min(axis=1))])
            take[j, k] += 1
            room[j] -= demand[k]
    return [t for t in take if t.any()]


def lp_patterns(assignment: Mapping[tuple[int, int], float], classes: Sequence[PodClass],
                kinds: Kinds) -> PatternPlan:
    """The LP's whole pods per kind as whole nodes (patterns, one per node), balanced.

    Fractions of pods the LP left are not covered: the caller places them.
    """
    per_kind: dict[int, dict[int, int]] = {}
    for (k, o), amount in sorted(assignment.items()):
        n = int(amount + 1e-6)
        if n > 0:
            per_kind.setdefault(o, {})[k] = per_kind.get(o, {}).get(k, 0) + n
    nodes: list[tuple[Pattern, int]] = []
    for o, mine in sorted(per_kind.items()):
        ks = np.array(sorted(mine), dtype=np.int64)
        demand = np.array([classes[k].demand for k in ks], dtype=np.int64)
        counts = np.array([mine[int(k)] for k in ks], dtype=np.int64)
        made: dict[Pattern, int] = {}
        for take in balanced_nodes(kinds.capacity[o], demand, counts):
            p = Pattern(o, tuple((int(ks[j]), int(n)) for j, n in enumerate(take) if n > 0))
            made[p] = made.get(p, 0) + 1
        nodes.extend(made.items())
    per_hour = float(sum(kinds.price[p.kind] * n for p, n in nodes))
    return PatternPlan(tuple(nodes), per_hour)
