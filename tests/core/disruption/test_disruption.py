"""The disruption pass on small hand-made clusters: what it removes, what it refuses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from pricing.allocatable import NodeSettings
from scaler.core.disruption.budgets import Cron, ScheduleError, allowed, parse_budgets
from scaler.core.disruption.candidates import DisruptionInput, DisruptionSettings
from scaler.core.disruption.plan import DisruptionPlan, empty_only, plan_disruptions, revalidate
from scaler.core.disruption.safety import pdb_allowance
from scaler.core.model import IntOrPercent, Node, NodePool, Pod, PodDisruptionBudget, Taint
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.pool_fit import pool_table
from tests.support.builders import BY_NAME, TYPES, node, pool, req

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC).timestamp()  # a Monday
TABLE = InstanceTypeTable(TYPES)
ALL_BUDGET = {"budgets": [{"nodes": "100%"}]}


def pod(name: str, on: str | None, cpu: str = "500m", mem: str = "1Gi", *, app: str = "web",
        owner: str | None = "ReplicaSet", dnd: bool = False, ns: str = "default") -> Pod:
    return Pod(ns, name, Resources.parse({"cpu": cpu, "memory": mem}), labels={"app": app},
               node_name=on, owner_kind=owner, owner_name="rs" if owner else None,
               do_not_disrupt=dnd)


def pools(disruption: Mapping[str, object] | None = None, **kw: object) -> list[NodePool]:
    # On-demand only, so that spot's lower prices do not turn every node into a replacement.
    p = pool("default", req("kubernetes.io/arch", "In", "amd64", "arm64"),
             req("karpenter.sh/capacity-type", "In", "on-demand"))
    return [NodePool(p.name, p.requirements,
                     disruption=dict(ALL_BUDGET if disruption is None else disruption),
                     **kw)]  # type: ignore[arg-type]


def plan(nodes: Sequence[Node], pods: Sequence[Pod], node_pools: Sequence[NodePool] | None = None,
         pdbs: Sequence[PodDisruptionBudget] = (), now: float = NOW,
         **settings: object) -> DisruptionPlan:
    inp = DisruptionInput(TABLE, list(node_pools or pools()), nodes, pods, (), pdbs)
    return plan_disruptions(inp, now, DisruptionSettings(**settings))  # type: ignore[arg-type]


def test_empty_node_is_deleted_first_with_no_replacement() -> None:
    p = plan([node("a"), node("b")], [pod("w1", "a", cpu="3")])
    assert [(d.node, d.reason, d.replacements) for d in p.disruptions] == [("b", "empty", ())]


def test_while_pods_are_nominated_only_empty_nodes_go() -> None:
    nodes = [node("a"), node("b"), node("c"), node("d")]
    pods = [pod("w1", "a", cpu="1"), pod("w2", "b", cpu="1"), pod("w3", "c", cpu="1")]
    full = plan(nodes, pods)
    assert {d.reason for d in full.disruptions} == {"empty", "underutilized"}
    assert [(d.node, d.reason) for d in empty_only(full).disruptions] == [("d", "empty")]


def test_two_underused_nodes_become_one() -> None:
    nodes = [node("a"), node("b"), node("c")]
    pods = [pod("w1", "a", cpu="1"), pod("w2", "b", cpu="1"), pod("w3", "c", cpu="1")]
    p = plan(nodes, pods)
    assert len(p.removed) >= 2
    assert {d.reason for d in p.disruptions} == {"underutilized"}
    assert p.cost_after == pytest.approx(0.16)  # two g.large on-demand hold the three pods
    assert p.solver["status"] == "optimal"
    assert p.lower_bound is not None and p.lower_bound <= p.cost_after + 1e-9


def test_a_big_node_is_replaced_by_a_cheaper_one_launched_before_the_drain() -> None:
    p = plan([node("big", "m.4xlarge")], [pod("w1", "big"), pod("w2", "big")])
    (d,) = p.disruptions
    assert d.reason == "underutilized" and len(d.replacements) == 1
    assert d.savings_per_hour == pytest.approx(0.80 - 0.08)  # g.large, on-demand
    actions = [s.action for s in p.steps]
    assert actions == ["launch", "await-ready", "validate", "cordon", "drain", "delete"]


def test_churn_guard_keeps_a_node_whose_replacement_saves_too_little() -> None:
    # m.xlarge (0.20) -> g.large (0.08) saves 60%: allowed at 0.5, refused at 0.7.
    nodes, pods = [node("a")], [pod("w1", "a", cpu="1500m")]
    assert plan(nodes, pods, min_saving_fraction=0.5).removed == {"a"}
    assert not plan(nodes, pods, min_saving_fraction=0.7).disruptions


def test_spot_to_spot_needs_enough_cheaper_types() -> None:
    nodes, pods = [node("a", ct="spot")], [pod("w1", "a", cpu="1500m")]
    ps = [NodePool("default", Requirements([req("karpenter.sh/nodepool", "In", "default"),
                                            req("karpenter.sh/capacity-type", "In", "spot")]),
                   disruption=ALL_BUDGET)]
    # The catalog has only a couple of cheaper spot types: Karpenter's 15 refuses ...
    assert not plan(nodes, pods, ps).disruptions
    # ... a threshold of 1 lets it replace.
    assert plan(nodes, pods, ps, spot_to_spot_min_types=1).removed == {"a"}


@pytest.mark.parametrize("blocker", ["node-annotation", "pod-annotation", "no-controller",
                                     "pdb"])
def test_blocked_nodes_are_left_alone(blocker: str) -> None:
    nodes = [node("a", dnd=blocker == "node-annotation"), node("b")]
    pods = [pod("w1", "a", dnd=blocker == "pod-annotation",
                owner=None if blocker == "no-controller" else "ReplicaSet"),
            pod("w2", "b", app="other")]
    pdbs = [PodDisruptionBudget("default", "web", Requirements.from_labels({"app": "web"}),
                                min_available=IntOrPercent(1))] if blocker == "pdb" else []
    p = plan(nodes, pods, pdbs=pdbs)
    assert "a" not in p.removed
    assert "b" in p.removed  # its pod moves onto a instead
    assert any(n == "a" for n, _ in p.blocked)


def test_pdb_limits_evictions_across_the_whole_pass() -> None:
    # Four nodes, one web pod each; the PDB allows one eviction: at most one node goes.
    nodes = [node(n) for n in "abcd"]
    pods = [pod(f"w{n}", n) for n in "abcd"]
    pdb = PodDisruptionBudget("default", "web", Requirements.from_labels({"app": "web"}),
                              max_unavailable=IntOrPercent(1))
    assert pdb_allowance([pdb], pods) == {"default/web": 1}
    assert len(plan(nodes, pods, pdbs=[pdb]).removed) == 1
    assert len(plan(nodes, pods).removed) >= 3


def test_nodepool_budget_caps_disruptions_and_counts_reasons() -> None:
    nodes = [node(n) for n in "abcdef"]  # all empty
    assert len(plan(nodes, [], pools({"budgets": [{"nodes": "2"}]})).removed) == 2
    # 10% of 6 rounds up to 1 (the default budget).
    assert len(plan(nodes, [], pools({})).removed) == 1
    only_drift = {"budgets": [{"nodes": "0", "reasons": ["Empty"]}, {"nodes": "100%"}]}
    assert not plan(nodes, [], pools(only_drift)).disruptions


def test_budget_schedule_windows() -> None:
    window = {"budgets": [{"nodes": "0", "schedule": "0 9 * * mon-fri", "duration": "8h"},
                          {"nodes": "100%"}]}
    nodes = [node("a"), node("b")]
    assert not plan(nodes, [], pools(window)).disruptions  # Monday 09:30: frozen
    saturday = datetime(2026, 1, 10, 9, 30, tzinfo=UTC).timestamp()
    assert len(plan(nodes, [], pools(window), now=saturday).removed) == 2
    evening = datetime(2026, 1, 5, 17, 30, tzinfo=UTC).timestamp()
    assert len(plan(nodes, [], pools(window), now=evening).removed) == 2


def test_cron_parsing_and_bad_schedules() -> None:
    c = Cron.parse("*/15 9-17 * jan-mar 1-5")
    assert 45 in c.minutes and 17 in c.hours and c.months == {1, 2, 3}
    assert Cron.parse("@daily").hit_between(NOW - 10 * 3600, NOW)
    with pytest.raises(ScheduleError):
        Cron.parse("61 * * * *")
    with pytest.raises(ScheduleError):
        parse_budgets({"budgets": [{"nodes": "1", "schedule": "0 9 * *", "duration": "1h"}]})
    b = parse_budgets({"budgets": [{"nodes": "50%", "reasons": ["Drifted"]}]})
    assert allowed(b, "Drifted", 5, 1, NOW) == 2 and allowed(b, "Empty", 5, 0, NOW) > 5


def test_consolidation_policy_and_consolidate_after() -> None:
    nodes = [node("a", created=NOW - 30), node("b", created=NOW - 30)]
    pods = [pod("w1", "a"), pod("w2", "b")]
    when_empty = pools({**ALL_BUDGET, "consolidationPolicy": "WhenEmpty"})
    assert not plan(nodes, pods, when_empty).disruptions
    later = pools({**ALL_BUDGET, "consolidateAfter": "1m"})
    assert not plan(nodes, pods, later).disruptions
    assert plan(nodes, pods, later, now=NOW + 60).removed
    never = pools({**ALL_BUDGET, "consolidateAfter": "Never"})
    assert not plan([node("c")], [], never).disruptions


def test_drift_and_expiration_replace_nodes() -> None:
    arm_only = pools(ALL_BUDGET)
    arm_only[0] = NodePool("default", Requirements([
        req("karpenter.sh/nodepool", "In", "default"), req("kubernetes.io/arch", "In", "arm64")]),
        disruption=ALL_BUDGET)
    p = plan([node("a")], [pod("w1", "a", cpu="3")], arm_only, min_saving_fraction=0.99)
    (d,) = p.disruptions
    assert d.reason == "drifted" and d.replacements and "kubernetes.io/arch" in d.detail
    old = node("a", created=NOW - 31 * 86400)
    expiring = pools(ALL_BUDGET, expire_after="720h")
    p = plan([old], [pod("w1", "a", cpu="3")], expiring, min_saving_fraction=0.99)
    assert [d.reason for d in p.disruptions] == ["expired"]
    never = pools(ALL_BUDGET, expire_after="Never")
    assert not plan([old], [pod("w1", "a", cpu="3")], never, min_saving_fraction=0.99).disruptions


def test_the_disruption_pass_replaces_a_node_whose_type_lacks_a_required_label() -> None:
    # The pool now asks for a GPU model; the node's instance type has none (Karpenter's
    # NodeClaims carry every label of their type, so `In` fails), so the pass replaces it
    # with a type that has one.
    p = BY_NAME["p.2xlarge"]
    gpu = replace(p, labels={**p.labels, "karpenter.k8s.aws/instance-gpu-name": "t4"})
    table = InstanceTypeTable([BY_NAME["m.xlarge"], gpu])
    base = pool("default", req("karpenter.k8s.aws/instance-gpu-name", "In", "t4"),
                req("karpenter.sh/capacity-type", "In", "on-demand"))
    gpus = replace(base, disruption={"budgets": [{"nodes": "100%"}]})
    old = node("a", "m.xlarge")
    inp = DisruptionInput(table, [gpus], [old], [pod("w1", "a", cpu="1")])
    (d,) = plan_disruptions(inp, 0.0, DisruptionSettings(min_saving_fraction=0.99)).disruptions
    assert (d.node, d.reason, d.method) == ("a", "drifted", "drift")
    assert d.detail.startswith("label karpenter.k8s.aws/instance-gpu-name is missing")
    assert d.replacements


def test_pools_with_different_node_settings_do_not_drift_their_own_nodes() -> None:
    # The scheduler's table tells the pools' copies of a type apart by a node-settings key
    # that is no node's label: it must not make a pool's nodes look drifted.
    a = replace(pools()[0], name="a", node_settings=NodeSettings(max_pods=20))
    b = replace(pools()[0], name="b")
    table, pinned = pool_table([a, b], lambda _pool: TYPES)
    nodes = [node("n-a", "m.xlarge", pool_name="a"), node("n-b", "m.xlarge", pool_name="b")]
    running = [pod("w1", "n-a", cpu="3"), pod("w2", "n-b", cpu="3")]
    inp = DisruptionInput(table, list(pinned), nodes, running)
    settings = DisruptionSettings(min_saving_fraction=0.99)
    assert plan_disruptions(inp, NOW, settings).disruptions == ()


def test_tainted_pool_nodes_only_take_tolerating_pods() -> None:
    taint = Taint("dedicated", "NoSchedule", "x")
    t = BY_NAME["m.xlarge"]
    tainted = Node("t", {**node("t").labels}, Resources(dict(t.allocatable)), taints=(taint,))
    p = plan([node("a"), tainted], [pod("w1", "a"), pod("w2", "t")])
    # a's pod cannot go to t, so a stays or is replaced; t's pod may go to a.
    assert "a" not in p.removed or any(d.replacements for d in p.disruptions if d.node == "a")


def test_karpenter_strategy_gives_a_valid_plan_too() -> None:
    nodes = [node(n) for n in "abcd"]
    pods = [pod(f"w{n}", n) for n in "abcd"]
    p = plan(nodes, pods, strategy="karpenter")
    assert p.cost_after <= 0.20 + 1e-9
    assert {d.method for d in p.disruptions} <= {"multi-node", "single-node"}


def test_revalidate_drops_commands_whose_nodes_changed() -> None:
    nodes = [node("a"), node("b")]
    pods = [pod("w1", "a"), pod("w2", "b")]
    p = plan(nodes, pods)
    inp = DisruptionInput(TABLE, pools(), nodes, pods)
    assert revalidate(p, inp, NOW + 15).removed == p.removed
    gone = next(iter(p.removed))
    changed = DisruptionInput(TABLE, pools(), nodes, [*pods, pod("new", gone)])
    again = revalidate(p, changed, NOW + 15)
    assert not again.disruptions and "changed" in again.notes[0]


def test_eviction_price_makes_the_plan_calmer() -> None:
    nodes = [node("a"), node("b"), node("c")]
    pods = [pod("w1", "a", cpu="1"), pod("w2", "b", cpu="1"), pod("w3", "c", cpu="1")]
    assert plan(nodes, pods).cost_after == pytest.approx(0.16)  # all three replaced
    # At $0.15/h per evicted pod only plain deletions pay: two nodes go, one stays.
    calm = plan(nodes, pods, eviction_price=0.15)
    assert len(calm.removed) == 2 and not calm.replacements
    assert calm.cost_after == pytest.approx(0.20)
    # The MILP's plan is reported as a price, without the eviction charges it weighed.
    assert calm.solver["planPerHour"] == pytest.approx(0.20, abs=1e-3)
    assert not plan(nodes, pods, eviction_price=0.3).disruptions
    assert not plan(nodes, pods, eviction_price=0.3, strategy="karpenter").disruptions


def test_replacement_names_differ_between_passes() -> None:
    nodes, pods = [node("big", "m.4xlarge")], [pod("w1", "big")]
    first = plan(nodes, pods).replacements[0].name
    later = plan(nodes, pods, now=NOW + 60).replacements[0].name
    assert first != later
    inp = DisruptionInput(TABLE, pools(), nodes, pods, claim_prefix="p7-")
    assert plan_disruptions(inp, NOW).replacements[0].name == "default-p7-r00001"
