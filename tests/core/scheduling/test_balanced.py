"""The LP bound's plan made whole (`balanced.py`): each kind's pods spread evenly over the
nodes they fill in aggregate, so CPU-heavy and memory-heavy pods share nodes."""

from __future__ import annotations

import numpy as np

from scaler.core.scheduling.balanced import balanced_nodes, lp_patterns
from scaler.core.scheduling.bound import Kinds, PodClass

CAP = np.array([16, 16], dtype=np.int64)
CPU_HEAVY = (4, 1)
MEMORY_HEAVY = (1, 4)


def test_cpu_and_memory_heavy_pods_fill_the_nodes_their_aggregate_needs() -> None:
    """8 + 8 pods fill 2.5 nodes in aggregate: three nodes hold them all. Packed largest
    first (first fit decreasing), the CPU-heavy pods take two nodes' CPU and leave their
    memory idle, and the memory-heavy ones need two more: four nodes."""
    demand = np.array([CPU_HEAVY, MEMORY_HEAVY], dtype=np.int64)
    nodes = balanced_nodes(CAP, demand, np.array([8, 8], dtype=np.int64))
    assert len(nodes) == 3
    assert sum(int(t.sum()) for t in nodes) == 16
    for take in nodes:
        assert (take @ demand <= CAP).all()


def test_pods_larger_than_the_node_are_left_to_the_caller() -> None:
    demand = np.array([(20, 1), (1, 1)], dtype=np.int64)
    nodes = balanced_nodes(CAP, demand, np.array([2, 3], dtype=np.int64))
    assert [t.tolist() for t in nodes] == [[0, 3]]


def test_the_lp_plan_covers_only_its_whole_pods() -> None:
    """Fractions of pods the LP spread over kinds are the caller's leftovers."""
    allowed = np.array([True])
    classes = [PodClass(CPU_HEAVY, 9, allowed), PodClass(MEMORY_HEAVY, 8, allowed)]
    kinds = Kinds(np.array([1.0]), np.array([[16, 16]], dtype=np.int64))
    plan = lp_patterns({(0, 0): 8.6, (1, 0): 8.0}, classes, kinds)
    covered = {k: 0 for k in range(2)}
    for pattern, count in plan.nodes:
        for k, n in pattern.counts:
            covered[k] += n * count
    assert covered == {0: 8, 1: 8}
    assert sum(count for _, count in plan.nodes) == 3
    assert plan.per_hour == 3.0
