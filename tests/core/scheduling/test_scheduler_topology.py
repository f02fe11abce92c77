"""Topology spread, pod (anti-)affinity, host ports and preference relaxation in the core."""

from __future__ import annotations

import dataclasses
from collections import Counter

from pricing import InstanceType, Offering
from scaler.core.model import (
    SCHEDULE_ANYWAY,
    HostPort,
    Node,
    NodeSelectorTerm,
    Pod,
    PodAffinityTerm,
    Scheduling,
    Taint,
    TopologySpread,
)
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.scheduler import SchedulingResult
from tests.support.builders import itype, pool, req, solve

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
APP = Requirements.from_labels({"app": "web"})


def web(name: str, cpu: str = "500m", **sched: object) -> Pod:
    return Pod("default", name, Resources.parse({"cpu": cpu, "memory": "512Mi"}),
               Scheduling(**sched),  # type: ignore[arg-type]
               labels={"app": "web"})


def zone_of(result: SchedulingResult, name: str) -> str:
    for c in result.claims:
        if any(p.name == name for p in c.pods):
            z = c.requirements[ZONE]
            assert not z.complement and len(z.values) == 1, f"{name}: open zone {z}"
            return next(iter(z.values))
    raise AssertionError(f"{name} not on a claim")


def claim_sizes(result: SchedulingResult) -> list[int]:
    return sorted(len(c.pods) for c in result.claims)


def spread(key: str, skew: int = 1, **kw: object) -> TopologySpread:
    return TopologySpread(key, skew, selector=APP, **kw)  # type: ignore[arg-type]


def term(key: str, selector: Requirements | None = APP) -> PodAffinityTerm:
    return PodAffinityTerm(key, selector, frozenset({"default"}))


def test_zonal_spread_balances_new_pods() -> None:
    pods = [web(f"w{i}", topology_spread=(spread(ZONE),)) for i in range(6)]
    result = solve(pods)
    assert not result.unschedulable
    assert sorted(Counter(zone_of(result, p.name) for p in pods).values()) == [3, 3]


def test_zonal_spread_counts_existing_pods() -> None:
    node = Node("n-a", {ZONE: "z-a", HOST: "n-a", "kubernetes.io/arch": "amd64"},
                Resources.parse({"cpu": "1", "memory": "1Gi", "pods": "110"}))
    bound = [Pod("default", f"old{i}", Resources.parse({"cpu": "100m"}), labels={"app": "web"},
                 node_name="n-a") for i in range(2)]
    pods = [web(f"w{i}", topology_spread=(spread(ZONE),)) for i in range(2)]
    result = solve([*bound, *pods], nodes=[node])
    # z-a already holds 2: both new pods go to z-b (skew after: 2 vs 2).
    assert {zone_of(result, p.name) for p in pods} == {"z-b"}


def test_hostname_spread_puts_one_per_node() -> None:
    pods = [web(f"w{i}", topology_spread=(spread(HOST),)) for i in range(4)]
    result = solve(pods)
    assert claim_sizes(result) == [1, 1, 1, 1]


def test_hostname_spread_skew_two() -> None:
    pods = [web(f"w{i}", topology_spread=(spread(HOST, 2),)) for i in range(4)]
    assert claim_sizes(solve(pods)) == [2, 2]


def test_min_domains_above_domain_count_keeps_floor_at_zero() -> None:
    pods = [web(f"w{i}", topology_spread=(spread(ZONE, min_domains=5),)) for i in range(4)]
    result = solve(pods)
    assert len(result.unschedulable) == 2  # one per zone, then nothing: global minimum is 0


def test_unselected_pods_do_not_count() -> None:
    other = Pod("default", "db", Resources.parse({"cpu": "100m"}), labels={"app": "db"})
    pods = [web(f"w{i}", topology_spread=(spread(HOST),)) for i in range(2)]
    result = solve([other, *pods])
    assert not result.unschedulable and len(result.claims) == 2


def test_hostname_anti_affinity_one_per_node() -> None:
    pods = [web(f"w{i}", pod_anti_affinity=(term(HOST),)) for i in range(3)]
    assert claim_sizes(solve(pods)) == [1, 1, 1]


def test_existing_pods_anti_affinity_repels_incoming() -> None:
    node = Node("n1", {HOST: "n1", ZONE: "z-a", "kubernetes.io/arch": "amd64"},
                Resources.parse({"cpu": "4", "memory": "8Gi", "pods": "110"}))
    guard = Pod("default", "guard", Resources.parse({"cpu": "100m"}), labels={"app": "guard"},
                node_name="n1",
                scheduling=Scheduling(pod_anti_affinity=(term(HOST),)))  # repels app=web
    result = solve([guard, web("w0")], nodes=[node])
    assert not result.existing and len(result.claims) == 1


def test_zonal_self_affinity_keeps_the_group_together() -> None:
    pods = [web(f"w{i}", "2", pod_affinity=(term(ZONE),)) for i in range(10)]
    result = solve(pods)
    assert not result.unschedulable
    assert len({zone_of(result, p.name) for p in pods}) == 1


def test_affinity_to_existing_pods_zone() -> None:
    node = Node("n-b", {ZONE: "z-b", HOST: "n-b", "kubernetes.io/arch": "amd64"},
                Resources.parse({"cpu": "100m", "memory": "100Mi", "pods": "110"}))
    db = Pod("default", "db", Resources.parse({"cpu": "100m"}), labels={"app": "db"},
             node_name="n-b")
    follower = web("w0", "1", pod_affinity=(term(ZONE, Requirements.from_labels({"app": "db"})),))
    assert zone_of(solve([db, follower], nodes=[node]), "w0") == "z-b"


def test_affinity_to_nothing_is_unschedulable() -> None:
    lonely = web("w0", pod_affinity=(term(ZONE, Requirements.from_labels({"app": "none"})),))
    [(_, reason)] = solve([lonely]).unschedulable
    assert "pod affinity" in reason


def test_host_ports_collide_on_one_node() -> None:
    port = (HostPort("TCP", 8080),)
    pods = [web(f"w{i}", host_ports=port) for i in range(3)]
    assert claim_sizes(solve(pods)) == [1, 1, 1]
    other = web("udp", host_ports=(HostPort("UDP", 8080),))
    assert claim_sizes(solve([pods[0], other])) == [2]


def test_schedule_anyway_is_relaxed_when_it_cannot_hold() -> None:
    # Only one node may be launched: spreading over hostnames is a wish, not a rule.
    one_node = pool("small", limits={"cpu": 4000})
    pods = [web(f"w{i}", topology_spread=(spread(HOST, when_unsatisfiable=SCHEDULE_ANYWAY),))
            for i in range(3)]
    result = solve(pods, pools=[one_node], types=[itype("m.xlarge", 4, 16)])
    assert not result.unschedulable and claim_sizes(result) == [3]


def test_schedule_anyway_is_honoured_when_it_can() -> None:
    pods = [web(f"w{i}", topology_spread=(spread(HOST, when_unsatisfiable=SCHEDULE_ANYWAY),))
            for i in range(3)]
    assert claim_sizes(solve(pods)) == [1, 1, 1]


def test_preferred_node_affinity_wins_over_price_until_impossible() -> None:
    prefer_amd = ((10, NodeSelectorTerm(Requirements([req("kubernetes.io/arch", "In",
                                                              "amd64")]))),)
    p = web("w0", preferred_terms=prefer_amd)
    result = solve([p])
    assert {o.arch for o in result.claims[0].options} == {"amd64"}  # arm64 would be cheaper
    arm_only = pool("arm", req("kubernetes.io/arch", "In", "arm64"))
    result = solve([p], pools=[arm_only])
    assert not result.unschedulable and result.claims[0].options[0].arch == "arm64"


def test_preferred_anti_affinity_spreads_then_relaxes() -> None:
    pref = PodAffinityTerm(HOST, APP, frozenset({"default"}), weight=50)
    pods = [web(f"w{i}", preferred_pod_anti_affinity=(pref,)) for i in range(2)]
    assert claim_sizes(solve(pods)) == [1, 1]
    one_node = pool("small", limits={"cpu": 4000})
    result = solve(pods, pools=[one_node], types=[itype("m.xlarge", 4, 16)])
    assert not result.unschedulable and claim_sizes(result) == [2]


def test_prefer_no_schedule_pool_used_only_when_needed() -> None:
    soft = pool("soft", weight=100, taints=[Taint("spot-only", "PreferNoSchedule")])
    plain = pool("plain", req("kubernetes.io/arch", "In", "amd64"))
    result = solve([web("w0")], pools=[soft, plain])
    assert result.claims[0].node_pool == "plain"
    arm = web("a0", node_selector=Requirements([req("kubernetes.io/arch", "In", "arm64")]))
    result = solve([arm], pools=[soft, plain])
    assert result.claims[0].node_pool == "soft"


def test_no_topology_rules_leave_plans_unchanged() -> None:
    plain = [Pod("default", f"p{i}", Resources.parse({"cpu": "1"})) for i in range(10)]
    with_labels = [Pod("default", f"p{i}", Resources.parse({"cpu": "1"}), labels={"app": "web"})
                   for i in range(10)]
    a, b = solve(plain), solve(with_labels)
    assert [c.options[0] for c in a.claims] == [c.options[0] for c in b.claims]




def test_topology_reason_is_given_beside_other_pools_reasons() -> None:
    tainted = pool("gpu", weight=10, taints=[Taint("nvidia.com/gpu", "NoSchedule")])
    lonely = web("w0", pod_affinity=(term(ZONE, Requirements.from_labels({"app": "none"})),))
    [(_, reason)] = solve([lonely], pools=[tainted, pool()]).unschedulable
    assert "NodePool gpu has taint" in reason and "pod affinity on" in reason


def _three_zone_type(name: str, cpu: int, out_in: frozenset[str] = frozenset()) -> InstanceType:
    """A type offered in z-a, z-b and z-c; its offerings in `out_in` are out of capacity."""
    it = itype(name, cpu, 4 * cpu, od=0.05 * cpu)
    offers = tuple(Offering(z, "on-demand", 0.05 * cpu, False, None, None, z not in out_in)
                   for z in ("z-a", "z-b", "z-c"))
    return dataclasses.replace(it, offerings=offers)


def _full_nodes(*zones: str) -> tuple[list[Node], list[Pod]]:
    """One node per zone, holding two web pods and no room for a third."""
    nodes = [Node(f"n-{z}", {ZONE: z, HOST: f"n-{z}", "kubernetes.io/arch": "amd64"},
                  Resources.parse({"cpu": "1", "memory": "4Gi", "pods": "110"})) for z in zones]
    bound = [Pod("default", f"old-{z}-{i}", Resources.parse({"cpu": "500m"}),
                 labels={"app": "web"}, node_name=f"n-{z}") for z in zones for i in range(2)]
    return nodes, bound


def test_a_zone_with_every_offering_out_of_capacity_is_no_spread_domain() -> None:
    """z-c's offerings all ran out (a failed zone): the spread is over z-a and z-b, which
    hold two pods each, so the new pods go there instead of waiting for z-c."""
    nodes, bound = _full_nodes("z-a", "z-b")
    types = [_three_zone_type("m.large", 2, frozenset({"z-c"})),
             _three_zone_type("m.xlarge", 4, frozenset({"z-c"}))]
    pods = [web(f"w{i}", topology_spread=(spread(ZONE),)) for i in range(2)]
    result = solve([*bound, *pods], nodes=nodes, types=types)
    assert not result.unschedulable, result.unschedulable
    assert sorted(zone_of(result, p.name) for p in pods) == ["z-a", "z-b"]
    # While z-c can still launch, it is the emptiest domain and takes them (maxSkew 1).
    open_c = [_three_zone_type("m.large", 2), _three_zone_type("m.xlarge", 4)]
    result = solve([*bound, *pods], nodes=nodes, types=open_c)
    assert {zone_of(result, p.name) for p in pods} == {"z-c"}


def test_a_zone_only_types_outside_the_nodepool_offer_is_no_spread_domain() -> None:
    """The NodePool allows m.large, which is out of capacity in z-c; m.xlarge still has z-c
    capacity but the pool cannot launch it, so z-c is no domain for the pool's pods."""
    nodes, bound = _full_nodes("z-a", "z-b")
    types = [_three_zone_type("m.large", 2, frozenset({"z-c"})), _three_zone_type("m.xlarge", 4)]
    only_large = pool("default", req("node.kubernetes.io/instance-type", "In", "m.large"))
    pods = [web(f"w{i}", topology_spread=(spread(ZONE),)) for i in range(2)]
    result = solve([*bound, *pods], pools=[only_large], nodes=nodes, types=types)
    assert not result.unschedulable, result.unschedulable
    assert sorted(zone_of(result, p.name) for p in pods) == ["z-a", "z-b"]
