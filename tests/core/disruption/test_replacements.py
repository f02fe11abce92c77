"""Whole replacement nodes by node patterns: mixed pods share a node, the plan is whole."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scaler.core.disruption.replacements import (
    Displacement,
    pack_greedy,
    plan_replacements,
    whole_of_lp,
)
from tests.core.disruption.test_disruption import plan, pod
from tests.support.builders import node

# Kinds: a compute node (4 CPU, 4 GiB), a memory node (1 CPU, 16 GiB), a general one (4 CPU,
# 16 GiB) that costs a little more than either; dims are (cpu, GiB).
PRICE = np.array([1.0, 1.0, 1.2])
CAP = np.array([[4.0, 4.0], [1.0, 16.0], [4.0, 16.0]])
CPU_HEAVY = (1.0, 1.0)
MEM_HEAVY = (0.25, 3.0)


def displacement(need: list[int], allowed: np.ndarray | None = None) -> Displacement:
    empty = np.zeros(0, dtype=np.int64)
    return Displacement(
        demand=np.array([CPU_HEAVY, MEM_HEAVY]), need=np.array(need, dtype=np.int64),
        price=PRICE, cap=CAP,
        allowed=np.ones((2, 3), dtype=np.bool_) if allowed is None else allowed,
        zk=empty, zg=empty, z_cap=np.zeros(0), room=np.zeros((0, 2)), ceiling=math.inf)


def test_cpu_and_memory_heavy_pods_share_one_general_node() -> None:
    # Three CPU-heavy and four memory-heavy pods fill one general node exactly ($1.20);
    # packed apart they need a compute and a memory node ($2.00).
    plan = plan_replacements(displacement([3, 4]), 10.0)
    assert plan is not None
    assert plan.per_hour == 1.2
    assert [(o, dict(c)) for o, c in plan.nodes] == [(2, {0: 3, 1: 4})]


def test_every_pod_is_on_a_whole_node_that_holds_it() -> None:
    plan = plan_replacements(displacement([7, 9]), 10.0)
    assert plan is not None
    placed = np.zeros(2)
    for o, counts in plan.nodes:
        used = sum(n * np.array([CPU_HEAVY, MEM_HEAVY][k]) for k, n in counts)
        assert (used <= CAP[o] + 1e-9).all()
        for k, n in counts:
            placed[k] += n
    assert (placed >= [7, 9]).all()
    # Never dearer than packing each pod greedily onto general nodes.
    items = np.array([CPU_HEAVY] * 7 + [MEM_HEAVY] * 9)
    assert plan.per_hour <= 1.2 * len(pack_greedy(items, CAP[2])[0]) + 1e-9


def test_the_lp_whole_nodes_leave_the_rest_over() -> None:
    # On the general kind alone, 12 CPU-heavy and 16 memory-heavy pods are 4 full nodes
    # plus nothing: the LP's counts are whole, nothing is left over.
    only_general = np.zeros((2, 3), dtype=np.bool_)
    only_general[:, 2] = True
    whole = whole_of_lp(displacement([12, 16], only_general), 10.0)
    assert whole is not None
    nodes, left = whole
    assert len(nodes) == 4 and all(o == 2 for o, _ in nodes)
    assert left.tolist() == [0, 0]


def test_a_class_that_fits_no_kind_gives_no_plan() -> None:
    nowhere = np.ones((2, 3), dtype=np.bool_)
    nowhere[1] = False
    assert plan_replacements(displacement([1, 1], nowhere), 10.0) is None


def test_a_pass_buys_whole_nodes_that_mixed_pods_fill() -> None:
    # Eight half-used nodes with pods of four shapes: per-kind packing of the MILP's split
    # bought ten small nodes ($0.80/h); node patterns put most pods on one large node
    # beside one small one ($0.72/h).
    shapes = [("1200m", "1Gi"), ("900m", "1Gi"), ("700m", "5Gi"), ("300m", "3Gi")]
    nodes = [node(f"n{i}", "m.xlarge") for i in range(8)]
    pods = [pod(f"p{i}-{j}", f"n{i}", cpu=c, mem=m) for i in range(8)
            for j, (c, m) in enumerate(shapes) if (i + j) % 3 != 0]
    p = plan(nodes, pods)
    assert len(p.removed) == 8
    assert p.cost_after == pytest.approx(0.72)
    assert sorted(c.options[0].instance_type for c in p.replacements) == ["g.4xlarge",
                                                                          "g.large"]
    assert {m.pod for m in p.moves} == {q.key for q in pods}
