"""Property test: on random pods and pools, no placement breaks a hard constraint."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaler.core.model import (
    HostPort,
    Node,
    NodeSelectorTerm,
    Pod,
    PodAffinityTerm,
    Scheduling,
    Taint,
    Toleration,
    TopologySpread,
)
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.scheduler import Scheduler

from .test_scheduler import TYPES, pool, req

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
BY_NAME = {t.name: t for t in TYPES}
TAINT = Taint("dedicated", "NoSchedule", "x")


@st.composite
def pods(draw: st.DrawFn) -> list[Pod]:
    out = []
    for i in range(draw(st.integers(1, 25))):
        app = draw(st.sampled_from(["a", "b", "c"]))
        sel = Requirements.from_labels({"app": app})
        arch = draw(st.sampled_from([None, "amd64", "arm64"]))
        ct = draw(st.sampled_from([None, "spot", "on-demand"]))
        terms = ()
        if ct:
            terms = (NodeSelectorTerm(Requirements([req("karpenter.sh/capacity-type", "In",
                                                        ct)])),)
        sched = Scheduling(
            node_selector=Requirements.from_labels({"kubernetes.io/arch": arch} if arch else {}),
            affinity_terms=terms,
            tolerations=(Toleration("dedicated", "Exists"),) if draw(st.booleans()) else (),
            topology_spread=(TopologySpread(ZONE, 1, selector=sel),) if draw(st.booleans())
            else (),
            pod_anti_affinity=(PodAffinityTerm(HOST, sel, frozenset({"d"})),)
            if draw(st.booleans()) else (),
            host_ports=(HostPort("TCP", 80),) if draw(st.booleans()) else (),
        )
        cpu = draw(st.sampled_from(["100m", "500m", "1", "3"]))
        mem = draw(st.sampled_from(["128Mi", "1Gi", "6Gi"]))
        out.append(Pod("d", f"p{i}", Resources.parse({"cpu": cpu, "memory": mem}), sched,
                       labels={"app": app}))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pods(), st.booleans())
def test_no_plan_breaks_a_hard_constraint(pending: list[Pod], tainted: bool) -> None:
    pools = [pool("plain", req("kubernetes.io/arch", "In", "amd64", "arm64"))]
    if tainted:
        pools.append(pool("tainted", weight=10, taints=[TAINT]))
    node = Node("n0", {HOST: "n0", ZONE: "z-a", "kubernetes.io/arch": "amd64"},
                Resources.parse({"cpu": "2", "memory": "4Gi", "pods": "110"}))
    s = Scheduler(InstanceTypeTable(TYPES), pools, [node])
    result = s.solve(pending)
    placed = {p.name for c in result.claims for p in c.pods}
    placed |= {p.name for ps in result.existing.values() for p in ps}
    assert placed | {p.name for p, _ in result.unschedulable} == {p.name for p in pending}
    for c in result.claims:
        o = c.options[0]
        t = BY_NAME[o.instance_type]
        labels = {**t.labels, ZONE: o.zone, "karpenter.sh/capacity-type": o.capacity_type}
        assert c.requests.fits(Resources(dict(t.allocatable)))
        ports: list[HostPort] = []
        apps = Counter(p.labels["app"] for p in c.pods)
        for p in c.pods:
            assert any(a.requirements.matches_labels(labels) for a in p.scheduling.alternatives())
            assert c.node_pool != "tainted" or p.scheduling.tolerations
            for hp in p.scheduling.host_ports:
                assert not any(hp.conflicts(x) for x in ports)
                ports.append(hp)
            if p.scheduling.pod_anti_affinity:  # its own app, per hostname: alone on the node
                assert apps[p.labels["app"]] == 1
    on_node = result.existing.get("n0", ())
    used = Resources({})
    for p in on_node:
        used = used + p.requests
        assert any(a.requirements.matches_labels(node.labels)
                   for a in p.scheduling.alternatives())
    assert used.fits(node.allocatable)
    assert sum(1 for p in on_node if p.scheduling.host_ports) <= 1
    apps_on_node = Counter(p.labels["app"] for p in on_node)
    assert all(apps_on_node[p.labels["app"]] == 1 for p in on_node
               if p.scheduling.pod_anti_affinity)
    assert all(reason for _, reason in result.unschedulable)
