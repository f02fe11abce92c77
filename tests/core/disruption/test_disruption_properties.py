"""Property test: on thousands of small random clusters, no disruption plan breaks a PDB, a
do-not-disrupt annotation or a budget, and every evicted pod has a valid place to go."""

from __future__ import annotations

import math
import random
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaler.core.disruption.budgets import allowed, parse_budgets
from scaler.core.disruption.candidates import DisruptionInput, DisruptionSettings
from scaler.core.disruption.cluster_view import node_from_claim
from scaler.core.disruption.plan import plan_disruptions
from scaler.core.model import (
    IntOrPercent,
    Node,
    NodePool,
    NodeSelectorTerm,
    Pod,
    PodDisruptionBudget,
    Scheduling,
    Taint,
    Toleration,
)
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.predicates import untolerated

from .test_disruption import NOW, TABLE, node, req

TAINT = Taint("dedicated", "NoSchedule", "x")
TOLERATE = Toleration("dedicated", "Exists")
APPS = ("a", "b", "c")
REASON = {"empty": "Empty", "underutilized": "Underutilized", "drifted": "Drifted",
          "expired": "Expired"}


def cluster(seed: int) -> DisruptionInput:
    """A random small cluster. Drawn from one seed with Python's generator: a thousand
    hypothesis draws per cluster would cost more than the pass under test."""
    rnd = random.Random(seed)
    budgets = rnd.choice([
        [{"nodes": "100%"}], [{"nodes": "1"}], [{"nodes": "0"}], [{"nodes": "50%"}],
        [{"nodes": "0", "schedule": "0 9 * * mon-fri", "duration": "8h"}, {"nodes": "2"}],
        [{"nodes": "0", "reasons": ["Underutilized"]}, {"nodes": "100%"}],
        [{"nodes": "1", "reasons": ["Empty", "Drifted"]}, {"nodes": "3"}],
    ])
    disruption = {"budgets": budgets, "consolidationPolicy": rnd.choice(
        ["WhenEmptyOrUnderutilized", "WhenEmptyOrUnderutilized", "WhenEmpty"])}
    arches = rnd.choice([("amd64", "arm64"), ("amd64",)])
    cts = rnd.choice([("on-demand",), ("spot", "on-demand")])
    pools = [NodePool("default", Requirements([
        req("karpenter.sh/nodepool", "In", "default"), req("kubernetes.io/arch", "In", *arches),
        req("karpenter.sh/capacity-type", "In", *cts)]), disruption=disruption,
        expire_after=rnd.choice([None, "1h"]))]
    if rnd.random() < 0.5:
        pools.append(NodePool("tainted", Requirements([
            req("karpenter.sh/nodepool", "In", "tainted")]), taints=(TAINT,),
            disruption={"budgets": [{"nodes": "1"}]}))
    nodes = []
    for i in range(rnd.randint(1, 6)):
        p = rnd.choice(pools)
        t = rnd.choice(["m.large", "m.xlarge", "m.4xlarge", "g.large", "g.4xlarge"])
        n = node(f"n{i}", t, rnd.choice(["on-demand", "spot"]), p.name,
                 dnd=rnd.random() < 0.1, created=NOW - rnd.choice([60, 7200]))
        if p.taints:
            n = Node(n.name, n.labels, n.allocatable, p.taints, do_not_disrupt=n.do_not_disrupt,
                     created=n.created)
        nodes.append(n)
    pods = []
    used: Counter[str] = Counter()
    for i in range(rnd.randint(0, 14)):
        on = rnd.choice(nodes)
        tolerates = bool(on.taints) or rnd.random() < 0.5
        arch = rnd.choice([None, None, on.arch, "arm64" if on.arch == "amd64" else "amd64"])
        terms = () if arch != on.arch or arch is None else (
            NodeSelectorTerm(Requirements([req("kubernetes.io/arch", "In", arch)])),)
        owner = None if rnd.random() < 0.08 else "ReplicaSet"
        cpu = rnd.choice(["100m", "250m", "500m", "1", "1500m"])
        requests = Resources.parse({"cpu": cpu, "memory": "512Mi"})
        if used[on.name] + requests.get("cpu") > on.allocatable.get("cpu"):
            continue  # inputs are never overcommitted
        used[on.name] += requests.get("cpu")
        pods.append(Pod("d", f"p{i}", requests,
                        Scheduling(affinity_terms=terms,
                                   tolerations=(TOLERATE,) if tolerates else ()),
                        labels={"app": rnd.choice(APPS)}, node_name=on.name, owner_kind=owner,
                        owner_name=owner and "rs", do_not_disrupt=rnd.random() < 0.08))
    pdbs = []
    for app in rnd.sample(APPS, rnd.randint(0, 2)):
        percent = rnd.random() < 0.5
        value = IntOrPercent(rnd.randint(0, 3) * (30 if percent else 1), percent)
        minimum = rnd.random() < 0.5
        pdbs.append(PodDisruptionBudget("d", app, Requirements.from_labels({"app": app}),
                                        min_available=value if minimum else None,
                                        max_unavailable=None if minimum else value))
    return DisruptionInput(TABLE, pools, nodes, pods, (), pdbs)


def allowance(pdb: PodDisruptionBudget, pods: list[Pod]) -> int:
    """The disruption controller's count, written out again (not the code under test)."""
    selected = [p for p in pods if p.labels.get("app") == pdb.name]
    expected = healthy = len(selected)
    if pdb.max_unavailable is not None:
        v = pdb.max_unavailable
        return max((math.ceil(v.value * expected / 100) if v.percent else v.value)
                   - (expected - healthy), 0)
    assert pdb.min_available is not None
    v = pdb.min_available
    return max(healthy - (math.ceil(v.value * expected / 100) if v.percent else v.value), 0)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.sampled_from(["optimal", "optimal", "karpenter"]),
       st.sampled_from([NOW, NOW + 4 * 86400 + 9 * 3600]), st.sampled_from([0.0, 0.1, 0.5]))
def test_no_plan_breaks_safety_or_strands_a_pod(seed: int, strategy: str, now: float,
                                                 saving: float) -> None:
    inp = cluster(seed)
    plan = plan_disruptions(inp, now, DisruptionSettings(strategy=strategy,
                                                         min_saving_fraction=saving))
    nodes = {n.name: n for n in inp.nodes}
    pods = {p.key: p for p in inp.pods}
    removed = plan.removed
    assert len(removed) == len(plan.disruptions)
    # Annotations and controllers.
    for name in removed:
        assert not nodes[name].do_not_disrupt
        for p in inp.pods:
            if p.node_name == name:
                assert not p.do_not_disrupt and p.owner_kind is not None
    # PDBs: evictions over the whole plan.
    evicted = [pods[k] for d in plan.disruptions for k in d.pods]
    for pdb in inp.pdbs:
        hits = sum(1 for p in evicted if p.labels.get("app") == pdb.name)
        assert hits <= allowance(pdb, list(inp.pods)), pdb
    # NodePool budgets, per reason.
    totals = Counter(n.node_pool for n in inp.nodes)
    for pool in inp.pools:
        budgets = parse_budgets(pool.disruption)
        mine = [d for d in plan.disruptions if nodes[d.node].node_pool == pool.name]
        for reason, count in Counter(d.reason for d in mine).items():
            assert count <= allowed(budgets, REASON[reason], totals[pool.name], 0, now)
    # Every evicted pod lands on a kept node or a replacement, which it fits, tolerates and
    # whose labels it accepts.
    after = {n: x for n, x in nodes.items() if n not in removed}
    pools = {p.name: p for p in inp.pools}
    for c in plan.replacements:
        after[c.name] = node_from_claim(c, pools[c.node_pool], TABLE)
    target = {m.pod: m.target for m in plan.moves}
    assert set(target) == {p.key for p in evicted}
    load: dict[str, Resources] = {}
    for p in inp.pods:
        where = target.get(p.key, p.node_name)
        assert where in after
        n = after[where]
        load[where] = load.get(where, Resources({})) + p.requests + Resources({"pods": 1})
        assert not untolerated(p.scheduling.tolerations, n.taints)
        assert any(a.requirements.matches_labels(n.labels) for a in p.scheduling.alternatives())
    for name, used in load.items():
        assert used.fits(after[name].allocatable), name
    # Cost accounting adds up.
    assert plan.cost_after <= plan.cost_before + sum(
        c.options[0].price for c in plan.replacements) + 1e-9
