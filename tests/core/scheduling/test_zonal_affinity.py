"""Zonal self-affinity planned in bulk (`zonal_affinity.py`): a group ends in one zone, the
cheapest, and random snapshots never split a group across zones."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing import InstanceType
from scaler.core.model import (
    Node,
    Pod,
    PodAffinityTerm,
    Scheduling,
    TopologySpread,
)
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.scheduler import Scheduler, SchedulingResult
from tests.support.builders import TYPES, pool, req

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def grouped(name: str, group: str, cpu: str = "500m", ns: str = "d") -> Pod:
    sel = Requirements.from_labels({"grp": group})
    sched = Scheduling(pod_affinity=(PodAffinityTerm(ZONE, sel, frozenset({ns})),))
    return Pod(ns, name, Resources.parse({"cpu": cpu, "memory": "1Gi"}), sched,
               labels={"grp": group})


def zones_of(result: SchedulingResult, nodes: dict[str, Node]) -> dict[str, set[str]]:
    """Each placed pod's possible zones: its node's, or every zone its claim may launch in."""
    out: dict[str, set[str]] = {}
    for c in result.claims:
        zs = {o.zone for o in c.options}
        for p in c.pods:
            out[p.name] = zs
    for name, pods in result.existing.items():
        for p in pods:
            out[p.name] = {nodes[name].labels[ZONE]}
    return out


def test_a_group_lands_in_its_cheapest_zone_whole() -> None:
    # z-b is cheaper for every type: the group goes there, all of it.
    def cheap_in_b(t: InstanceType) -> InstanceType:
        return dataclasses.replace(t, offerings=tuple(
            dataclasses.replace(o, price=o.price * (0.5 if o.zone == "z-b" else 1.0))
            for o in t.offerings))

    table = InstanceTypeTable([cheap_in_b(t) for t in TYPES])
    pending = [grouped(f"g{i}", "x", cpu="700m") for i in range(9)]
    result = Scheduler(table, [pool("default", req("kubernetes.io/arch", "In", "amd64",
                                                   "arm64"))]).solve(pending)
    assert not result.unschedulable
    zones = zones_of(result, {})
    assert set().union(*zones.values()) == {"z-b"}
    # The pods come back as given (their affinity intact), not as the pinned stand-ins.
    assert all(p.scheduling.pod_affinity for c in result.claims for p in c.pods)


def test_a_bound_member_keeps_the_group_in_its_zone() -> None:
    node = Node("n0", {HOST: "n0", ZONE: "z-a", "kubernetes.io/arch": "amd64"},
                Resources.parse({"cpu": "1", "memory": "2Gi", "pods": "110"}))
    bound = [Pod("d", "b0", Resources.parse({"cpu": "100m"}), labels={"grp": "x"},
                 node_name="n0")]
    pending = [grouped(f"g{i}", "x") for i in range(6)]
    s = Scheduler(InstanceTypeTable(TYPES), [pool("default")], [node], bound)
    result = s.solve(pending)
    zones = zones_of(result, {"n0": node})
    assert not result.unschedulable
    assert all(z == {"z-a"} for z in zones.values())


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[list[Pod], list[Pod], bool]:
    pending: list[Pod] = []
    for i in range(draw(st.integers(1, 24))):
        group = draw(st.sampled_from(["x", "y", "z"]))
        kind = draw(st.sampled_from(["grouped", "grouped", "plain", "spread", "arch"]))
        cpu = draw(st.sampled_from(["100m", "500m", "1", "3"]))
        if kind == "grouped":
            pending.append(grouped(f"p{i}", group, cpu))
            continue
        sched = Scheduling()
        if kind == "spread":  # counts a group's pods: that group is not closed any more
            sched = Scheduling(topology_spread=(TopologySpread(
                ZONE, 1, selector=Requirements.from_labels({"grp": group})),))
        elif kind == "arch":  # a group member with a node selector of its own
            sched = Scheduling(
                node_selector=Requirements.from_labels({"kubernetes.io/arch": "arm64"}),
                pod_affinity=grouped("-", group).scheduling.pod_affinity)
        labels = {"grp": group} if draw(st.booleans()) or kind == "arch" else {}
        pending.append(Pod("d", f"p{i}", Resources.parse({"cpu": cpu, "memory": "1Gi"}),
                           sched, labels=labels))
    bound = [Pod("d", "b0", Resources.parse({"cpu": "100m"}), labels={"grp": "x"},
                 node_name="n0")] if draw(st.booleans()) else []
    return pending, bound, draw(st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_no_plan_splits_a_zonal_affinity_group(snap: tuple[list[Pod], list[Pod], bool]) -> None:
    pending, bound, with_node = snap
    node = Node("n0", {HOST: "n0", ZONE: "z-a", "kubernetes.io/arch": "amd64"},
                Resources.parse({"cpu": "2", "memory": "4Gi", "pods": "110"}))
    nodes = [node] if with_node or bound else []
    s = Scheduler(InstanceTypeTable(TYPES), [pool("default", req("kubernetes.io/arch", "In",
                                                                  "amd64", "arm64"))],
                  nodes, bound)
    result = s.solve(pending)
    zones = zones_of(result, {"n0": node})
    placed = set(zones)
    assert placed | {p.name for p, _ in result.unschedulable} == {p.name for p in pending}
    terms = {p.scheduling.pod_affinity[0] for p in pending if p.scheduling.pod_affinity}
    for term in terms:
        for n in (q.name for q in pending if term in q.scheduling.pod_affinity):
            assert n not in placed or len(zones[n]) == 1, f"{n}'s zone is left open"
        selected = [q for q in pending if term.selects(q.namespace, q.labels)]
        members = [q.name for q in pending if q.name in placed and term in
                   q.scheduling.pod_affinity]
        if all(q.scheduling.pod_affinity == (term,) for q in selected) and not any(
                term.selects(b.namespace, b.labels) for b in bound):
            # Only the group's own pods: whatever order they are bound in, one zone for all.
            assert len(set().union(*(zones[n] for n in members)) if members else set()) <= 1, {
                n: zones[n] for n in members}
            continue
        # Otherwise each member needs another selected pod in its zone (bound, or placed in
        # this plan), except one that is bound first while no selected pod exists anywhere.
        near: dict[str, int] = {}
        for q in selected:
            if q.name in placed:
                (z,) = zones[q.name] if len(zones[q.name]) == 1 else ("?",)
                near[z] = near.get(z, 0) + 1
        bound_here = sum(1 for b in bound if term.selects(b.namespace, b.labels))
        near["z-a"] = near.get("z-a", 0) + bound_here
        alone = [n for n in members if near.get(next(iter(zones[n])), 0) < 2]
        assert not alone or (len(alone) == 1 and not bound_here), alone
