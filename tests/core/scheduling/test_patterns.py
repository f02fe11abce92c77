"""Node patterns by column generation: pods of different shapes share the nodes they fill."""

from __future__ import annotations

import numpy as np

from scaler.core.scheduling.bound import Kinds, PodClass
from scaler.core.scheduling.patterns import Cap, plan_patterns

# dims: cpu (millicores), memory (MiB), pods
CPU_HEAVY = (3000, 1000, 1)
MEM_HEAVY = (1000, 3000, 1)


def kinds(*rows: tuple[float, tuple[int, int, int]]) -> Kinds:
    return Kinds(np.array([p for p, _ in rows], dtype=np.float64),
                 np.array([c for _, c in rows], dtype=np.int64))


def test_complementary_pods_share_balanced_nodes() -> None:
    k = kinds(
        (0.9, (4000, 4000, 10)),  # one of each shape fills it exactly
        (1.0, (6000, 2000, 10)),  # two cpu-heavy pods
        (1.0, (2000, 6000, 10)),  # two memory-heavy pods
    )
    everywhere = np.ones(3, dtype=np.bool_)
    plan = plan_patterns([PodClass(CPU_HEAVY, 10, everywhere),
                          PodClass(MEM_HEAVY, 10, everywhere)], k)
    assert plan is not None
    # Each shape alone would need 5 + 5 nodes at 1.0: 10.0. Mixed: 10 nodes at 0.9.
    assert plan.per_hour == 9.0
    assert [(p.kind, p.counts, n) for p, n in plan.nodes] == [(0, ((0, 1), (1, 1)), 10)]


def test_a_class_only_uses_kinds_it_allows() -> None:
    k = kinds((0.9, (4000, 4000, 10)), (1.0, (6000, 2000, 10)), (1.0, (2000, 6000, 10)))
    not_balanced = np.array([False, True, True])
    plan = plan_patterns([PodClass(CPU_HEAVY, 10, not_balanced),
                          PodClass(MEM_HEAVY, 10, np.ones(3, dtype=np.bool_))], k)
    assert plan is not None
    covered = {0: 0, 1: 0}
    for p, n in plan.nodes:
        for cls, count in p.counts:
            assert cls == 1 or p.kind != 0
            covered[cls] += count * n
    assert covered[0] >= 10 and covered[1] >= 10
    assert plan.per_hour == 10.0  # 5 cpu-heavy nodes, and 5 of either for the rest


def test_a_class_that_fits_nowhere_gives_no_plan() -> None:
    k = kinds((1.0, (2000, 2000, 10)))
    assert plan_patterns([PodClass(CPU_HEAVY, 3, np.ones(1, dtype=np.bool_))], k) is None


def test_a_cap_keeps_its_owners_one_to_a_node_and_lets_other_pods_fill_them() -> None:
    # Class 0 is self anti-affine (owner and counted, at most 1 a node); class 1 is plain.
    # Without the cap 20 small pods fill 5 nodes; with it each of the 10 owners needs a node
    # of its own, and the plain pods ride along on them.
    small = (1000, 1000, 1)
    k = kinds((1.0, (4000, 4000, 10)))
    every = np.ones(1, dtype=np.bool_)
    plan = plan_patterns([PodClass(small, 10, every), PodClass(small, 10, every)], k,
                         caps=[Cap(frozenset({0}), frozenset({0}), 1)])
    assert plan is not None
    assert all(dict(p.counts).get(0, 0) <= 1 for p, _ in plan.nodes)
    assert plan.per_hour == 10.0
    assert sum(dict(p.counts).get(0, 0) * n for p, n in plan.nodes) >= 10


def test_classes_pinned_to_different_zones_never_share_a_pattern() -> None:
    # Kinds carry no zone: a node holding a zone-a pod and a zone-b pod would be seated as
    # two nodes. Class 2 may go to either zone and may join either.
    small = (1000, 1000, 1)
    k = kinds((1.0, (4000, 4000, 10)))
    every = np.ones(1, dtype=np.bool_)
    zone_a, zone_b, both = 0b01, 0b10, 0b11
    plan = plan_patterns([PodClass(small, 2, every), PodClass(small, 2, every),
                          PodClass(small, 2, every)], k, zones=[zone_a, zone_b, both])
    assert plan is not None
    for p, _ in plan.nodes:
        classes = {cls for cls, _ in p.counts}
        assert not {0, 1} <= classes
    assert plan.per_hour == 2.0  # zone a's pods and zone b's, each topped up by class 2
