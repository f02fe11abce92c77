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
from tests.support.builders import TYPES, pool, req

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


CATALOG_TABLE: list[InstanceTypeTable] = []


def _catalog_table() -> InstanceTypeTable:
    if not CATALOG_TABLE:
        from pricing import load_catalog

        CATALOG_TABLE.append(InstanceTypeTable(load_catalog("us-east-1").instance_types))
    return CATALOG_TABLE[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(
    st.tuples(st.sampled_from(["100m", "250m", "500m", "1", "1500m", "3", "7"]),
              st.sampled_from(["100Mi", "256Mi", "1Gi", "2Gi", "4Gi", "12Gi"]),
              st.integers(1, 40)),
    min_size=1, max_size=5))
def test_never_dearer_than_karpenters_first_fit(shapes: list[tuple[str, str, int]]) -> None:
    """Workloads of identical pods on the real catalog: the plan costs at most what
    first-fit decreasing (Karpenter's packing) launches for the same pods."""
    pending = [
        Pod("d", f"w{j}-{i}", Resources.parse({"cpu": cpu, "memory": mem}), Scheduling())
        for j, (cpu, mem, n) in enumerate(shapes) for i in range(n)
    ]
    pools = [pool("plain", req("kubernetes.io/arch", "In", "amd64", "arm64"))]
    table = _catalog_table()

    def cost(strategy: str) -> float:
        result = Scheduler(table, pools, strategy=strategy).solve(pending)
        assert not result.unschedulable
        return sum(c.options[0].price for c in result.claims)

    assert cost("scaler") <= cost("ffd") + 1e-9
