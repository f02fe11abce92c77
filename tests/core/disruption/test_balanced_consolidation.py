"""`consolidationPolicy: Balanced` (Karpenter v1.14): a consolidation goes ahead only when the
share of the NodePool's cost it saves is at least 1/k of the share of the pool's disruption
cost it causes (score = savings fraction / disruption fraction >= 1/consolidationThreshold)."""

from __future__ import annotations

import pytest

from scaler.core.disruption.candidates import balanced_score

from .test_disruption import node, plan, pod, pools

# Three full nodes (3.9 of 4 vCPU used: nothing moves onto them, nothing cheaper holds them)
# and node a, whose pods a g.large (0.08/h) holds: replacing a saves 0.12 of the pool's 0.80.
FULL = [node("b"), node("c"), node("d")]
FULL_PODS = [pod(f"big-{n}", n, cpu="3900m", app=f"big-{n}") for n in "bcd"]


def balanced(k: int | None = None) -> dict[str, object]:
    d: dict[str, object] = {"consolidationPolicy": "Balanced", "budgets": [{"nodes": "100%"}]}
    if k is not None:
        d["consolidationThreshold"] = k
    return d


@pytest.mark.parametrize("strategy", ["optimal", "karpenter"])
def test_balanced_replaces_a_node_when_the_saving_outweighs_the_disruption(strategy: str) -> None:
    # One pod moves: disruption 2 of the pool's 8 (1 per pod + 1 per node) = 0.25;
    # saving 0.12 / 0.80 = 0.15; score 0.6 >= 1/2.
    pods = [pod("w1", "a", cpu="1500m"), *FULL_PODS]
    p = plan([node("a"), *FULL], pods, pools(balanced()), strategy=strategy)
    assert p.removed == {"a"}


@pytest.mark.parametrize("strategy", ["optimal", "karpenter"])
def test_balanced_keeps_a_node_whose_saving_is_not_worth_evicting_its_pods(strategy: str) -> None:
    # Eight pods move: disruption 9 of 15 = 0.6; saving 0.15; score 0.25 < 1/2. The default
    # policy (WhenEmptyOrUnderutilized) replaces the node all the same.
    pods = [*(pod(f"w{i}", "a", cpu="150m", mem="256Mi") for i in range(8)), *FULL_PODS]
    nodes = [node("a"), *FULL]
    assert plan(nodes, pods, pools(), strategy=strategy).removed == {"a"}
    assert not plan(nodes, pods, pools(balanced()), strategy=strategy).disruptions
    # k = 3 approves scores from 1/3: still not this one (0.25).
    assert not plan(nodes, pods, pools(balanced(3)), strategy=strategy).disruptions


def test_threshold_one_needs_an_equal_share_of_savings_and_disruption() -> None:
    # The first case's score is 0.6: k = 1 (score >= 1) refuses it, k = 2 accepts it.
    pods = [pod("w1", "a", cpu="1500m"), *FULL_PODS]
    nodes = [node("a"), *FULL]
    assert not plan(nodes, pods, pools(balanced(1))).disruptions
    assert plan(nodes, pods, pools(balanced(2))).removed == {"a"}


def test_balanced_still_deletes_empty_nodes() -> None:
    p = plan([node("a"), *FULL], FULL_PODS, pools(balanced()))
    assert [(d.node, d.reason) for d in p.disruptions] == [("a", "empty")]


def test_score_is_the_ratio_of_the_two_shares() -> None:
    assert balanced_score(0.12, 2.0, 0.80, 8.0) == pytest.approx(0.6)
    assert balanced_score(0.12, 9.0, 0.80, 15.0) == pytest.approx(0.25)
