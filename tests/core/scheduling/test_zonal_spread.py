"""Zonal topology spread planned in bulk (`zonal_spread.py`): random snapshots of spread
owners, pods their selectors only count and pods already running; every owner's zone passes
its maxSkew check on the final counts (as if it were placed last), with every zone on
offer a domain, as Karpenter counts them; every hostname spread owner's node holds no
more than maxSkew of the pods it counts (pods only counted are planned on nodes apart)."""

from __future__ import annotations

import dataclasses
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaler.core.model import Node, Pod, PodAffinityTerm, Scheduling, TopologySpread
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.scheduler import Scheduler
from scaler.core.scheduling.zonal_affinity import ZonePicker
from scaler.core.scheduling.zonal_spread import split_zonal_spread
from tests.support.builders import TYPES, pool, req

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
ZONES = ("z-a", "z-b", "z-c")
# The hand-made catalog in three zones, so a split has a remainder to place.
THREE = [dataclasses.replace(t, offerings=(*t.offerings, *(
    dataclasses.replace(o, zone="z-c") for o in t.offerings if o.zone == "z-a")))
    for t in TYPES]
NODE = Node("n0", {HOST: "n0", ZONE: "z-a", "kubernetes.io/arch": "amd64"},
            Resources.parse({"cpu": "4", "memory": "8Gi", "pods": "110"}))


def spread(app: str, skew: int, key: str = ZONE) -> TopologySpread:
    return TopologySpread(key, skew, selector=Requirements.from_labels({"app": app}))


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[list[Pod], list[Pod]]:
    pending = []
    for i in range(draw(st.integers(1, 40))):
        app = draw(st.sampled_from("abc"))
        rules = []
        if draw(st.booleans()):  # an owner; its selector may count another app's pods
            rules.append(spread(draw(st.sampled_from("abc")), draw(st.integers(1, 2))))
        if draw(st.integers(0, 3)) == 0:
            rules.append(spread(draw(st.sampled_from("abc")), 1, HOST))
        cpu = draw(st.sampled_from(["100m", "500m", "1", "3"]))
        pending.append(Pod("d", f"p{i}", Resources.parse({"cpu": cpu, "memory": "1Gi"}),
                           Scheduling(topology_spread=tuple(rules)), labels={"app": app}))
    bound = [Pod("d", f"b{i}", Resources.parse({"cpu": "100m", "memory": "128Mi"}),
                 Scheduling(), labels={"app": draw(st.sampled_from("abc"))}, node_name="n0")
             for i in range(draw(st.integers(0, 6)))]
    return pending, bound


def breaches(pending: list[Pod], bound: list[Pod], where: dict[str, str]) -> list[str]:
    """Owners that would fail their zonal skew check placed last, on the final counts."""
    out = []
    every = [*pending, *bound]
    for owner in pending:
        for c in owner.scheduling.topology_spread:
            if c.topology_key != ZONE or owner.name not in where or c.selector is None:
                continue
            sel = c.selector
            counts = Counter({z: 0 for z in ZONES})
            counts.update(where[p.name] for p in every
                          if p.name in where and p.name != owner.name
                          and sel.matches_labels(p.labels))
            z = where[owner.name]
            me = 1 if sel.matches_labels(owner.labels) else 0  # kube-scheduler's selfMatchNum
            if counts[z] + me - min(counts.values()) > c.max_skew:
                out.append(f"{owner.name} in {z}: {dict(counts)} max_skew {c.max_skew}")
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_a_split_passes_every_owners_skew_on_the_final_counts(
        snap: tuple[list[Pod], list[Pod]]) -> None:
    """The split pins whole groups or none, and every owner it pins passes its check."""
    pending, bound = snap
    s = Scheduler(InstanceTypeTable(THREE),
                  [pool("plain", req("kubernetes.io/arch", "In", "amd64", "arm64"))],
                  [NODE], bound)
    out, originals = split_zonal_spread(pending, bound, [NODE], s.table,
                                        ZonePicker(s.table, s.pools, s.launch_reqs), ZONES)
    where = {p.name: "z-a" for p in bound}
    for copy in out:
        if id(copy) in originals:
            zone = copy.scheduling.node_selector.get(ZONE)
            assert zone is not None and len(zone.values) == 1
            where[copy.name] = next(iter(zone.values))
            assert not any(c.topology_key == ZONE for c in copy.scheduling.topology_spread)
    pinned = [p for p in pending if p.name in where]
    for owner in pinned:  # all or nothing: whatever an owner's selector counts is pinned
        for c in owner.scheduling.topology_spread:
            if c.topology_key == ZONE and c.selector is not None:
                assert all(p.name in where for p in pending if c.selector.matches_labels(p.labels))
    assert breaches(pinned, bound, where) == []
    assert not s.solve(pending).unschedulable  # pinned pods still find room


@st.composite
def hostname_snapshots(draw: st.DrawFn) -> list[Pod]:
    out = []
    for i in range(draw(st.integers(1, 40))):
        app = draw(st.sampled_from("abc"))
        rules = (spread(draw(st.sampled_from("abc")), draw(st.integers(1, 2)), HOST),) \
            if draw(st.booleans()) else ()
        cpu = draw(st.sampled_from(["100m", "500m", "1", "3"]))
        out.append(Pod("d", f"p{i}", Resources.parse({"cpu": cpu, "memory": "1Gi"}),
                       Scheduling(topology_spread=rules), labels={"app": app}))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostname_snapshots())
def test_no_new_node_breaks_a_hostname_spread_in_any_bind_order(pending: list[Pod]) -> None:
    """Pods a hostname spread counts may share a new node with its owner only within the
    skew: a node holding an owner holds at most maxSkew pods its selector counts, the owner
    included, so the owner passes kube-scheduler's check whatever order the pods bind in."""
    s = Scheduler(InstanceTypeTable(THREE),
                  [pool("plain", req("kubernetes.io/arch", "In", "amd64", "arm64"))])
    # The plan before the comparison with first fit, which places pods one at a time.
    result = s.plan(pending)
    assert not result.unschedulable
    for c in result.claims:
        for owner in c.pods:
            for sp in owner.scheduling.topology_spread:
                assert sp.selector is not None
                counted = sum(1 for p in c.pods if sp.selector.matches_labels(p.labels))
                assert counted <= sp.max_skew


def test_pods_a_hostname_spread_counts_fill_room_left_next_to_anti_affinity_pods() -> None:
    """Web pods that must each have a node of their own (hostname anti-affinity) leave half
    of each node free; batch pods that only a hostname spread counts take that room, as
    first fit would, rather than new nodes; on the spread owner's node at most maxSkew of them."""
    apart = (PodAffinityTerm(HOST, Requirements.from_labels({"app": "web"}),
                             frozenset({"d"})),)
    web = [Pod("d", f"web{i}", Resources.parse({"cpu": "1", "memory": "1Gi"}),
               Scheduling(pod_anti_affinity=apart), labels={"app": "web"}) for i in range(4)]
    owner = Pod("d", "owner", Resources.parse({"cpu": "500m", "memory": "1Gi"}),
                Scheduling(topology_spread=(spread("batch", 1, HOST),)), labels={"app": "o"})
    batch = [Pod("d", f"batch{i}", Resources.parse({"cpu": "400m", "memory": "1Gi"}),
                 Scheduling(), labels={"app": "batch"}) for i in range(4)]
    s = Scheduler(InstanceTypeTable(THREE),
                  [pool("plain", req("kubernetes.io/arch", "In", "amd64", "arm64"))])
    # The plan before the comparison with first fit, which places pods one at a time.
    result = s.plan([*web, owner, *batch])
    assert not result.unschedulable
    assert len(result.claims) == len(web)
    for c in result.claims:
        if any(p.name == "owner" for p in c.pods):
            assert sum(p.name.startswith("batch") for p in c.pods) <= 1
