"""The LP lower bound: valid (never above a plan) and tight where the answer is known."""

from __future__ import annotations

import pytest

from pricing import InstanceType
from scaler.core.model import Pod
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.scheduler import Scheduler
from tests.support.builders import TYPES, itype, pod, pool

GI = 1024**3


def bound_and_plan(pods: list[Pod], types: list[InstanceType]) -> tuple[float, float]:
    s = Scheduler(InstanceTypeTable(types), [pool()])
    result = s.solve(pods)
    assert not result.unschedulable
    plan = sum(c.options[0].price for c in result.claims)
    b = s.lower_bound(pods)
    assert b.status == "optimal"
    return b.per_hour, plan


def test_linear_prices_give_the_exact_fractional_cost() -> None:
    types = [itype("t.2", 2, 64, od=1.0), itype("t.4", 4, 64, od=2.0)]
    b, plan = bound_and_plan([pod(f"p{i}", "1", "1Gi") for i in range(10)], types)
    assert b == pytest.approx(5.0)  # ten vCPU at 0.5 per vCPU
    assert plan >= b


def test_classes_share_nodes_in_one_programme() -> None:
    # Separately each class needs a node of its own shape (1.0 + 1.0); sharing a balanced
    # node costs 1.5. Summing per-class bounds would claim 2.0, which is not a bound.
    mk = lambda n, c, m, price: InstanceType(  # noqa: E731
        n, "amd64", c, m * 1024, False,
        {"node.kubernetes.io/instance-type": n, "kubernetes.io/arch": "amd64"},
        {"cpu": c * 1000, "memory": m * GI, "pods": 110},
        {"cpu": c * 1000, "memory": m * GI, "pods": 110},
        itype(n, 1, 1, od=price).offerings, 110)
    types = [mk("cpu", 4, 1, 1.0), mk("mem", 1, 4, 1.0), mk("bal", 4, 4, 1.5)]
    cpu_pods = [Pod("d", f"c{i}", Resources({"cpu": 1000})) for i in range(4)]
    mem_pods = [Pod("d", f"m{i}", Resources({"memory": GI})) for i in range(4)]
    b, plan = bound_and_plan(cpu_pods + mem_pods, types)
    assert b == pytest.approx(1.5)
    assert plan >= b - 1e-9


def test_bound_never_exceeds_the_plan_on_mixed_pods() -> None:
    pods = [pod(f"p{i}", cpu, mem) for i, (cpu, mem) in enumerate(
        [("250m", "512Mi"), ("1", "4Gi"), ("2", "1Gi"), ("500m", "8Gi")] * 6)]
    b, plan = bound_and_plan(pods, TYPES)
    assert 0 < b <= plan


def test_repacking_after_the_lp_never_costs_more_and_often_less() -> None:
    import random

    rng = random.Random(3)
    cheaper = 0
    for trial in range(5):
        pods = [pod(f"p{i}", rng.choice(["250m", "500m", "1", "1500m", "3"]),
                    rng.choice(["256Mi", "1Gi", "3Gi", "7Gi"])) for i in range(60)]
        costs = []
        for improve in (False, True):
            s = Scheduler(InstanceTypeTable(TYPES), [pool()], improve=improve)
            result = s.solve(pods)
            assert not result.unschedulable
            assert sorted(p.name for c in result.claims for p in c.pods) == sorted(
                p.name for p in pods)
            for c in result.claims:
                t = next(t for t in TYPES if t.name == c.options[0].instance_type)
                assert c.requests.fits(Resources(dict(t.allocatable)))
            costs.append(sum(c.options[0].price for c in result.claims))
        assert costs[1] <= costs[0] + 1e-9, trial
        cheaper += costs[1] < costs[0] - 1e-9
    assert cheaper >= 2
