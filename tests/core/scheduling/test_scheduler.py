"""The scheduling core on small, hand-made catalogs: where each pod goes and why not."""

from __future__ import annotations

from scaler.core.model import (
    DaemonSet,
    Node,
    Taint,
    Toleration,
)
from scaler.core.requirements import Requirement
from scaler.core.resources import Resources
from scaler.core.scheduling.scheduler import SchedulingResult
from tests.support.builders import TYPES, itype, pod, pool, req, solve


def claim_of(result: SchedulingResult, pod_name: str):  # type: ignore[no-untyped-def]
    return next(c for c in result.claims if any(p.name == pod_name for p in c.pods))


def test_cheapest_offering_first_and_alternatives_ranked() -> None:
    result = solve([pod("a")])
    [claim] = result.claims
    prices = [o.price for o in claim.options]
    assert prices == sorted(prices)
    assert (claim.options[0].instance_type, claim.options[0].capacity_type) == ("g.large", "spot")


def test_node_selector_arch_pins_the_type() -> None:
    result = solve([pod("a", selector={"kubernetes.io/arch": "amd64"})])
    assert {o.arch for o in claim_of(result, "a").options} == {"amd64"}


def test_required_on_demand_never_gets_spot() -> None:
    p = pod("a", terms=[[req("karpenter.sh/capacity-type", "In", "on-demand")]])
    assert {o.capacity_type for o in claim_of(solve([p]), "a").options} == {"on-demand"}


def test_affinity_terms_are_ored() -> None:
    p = pod("a", terms=[[req("kubernetes.io/arch", "In", "s390x")],
                        [req("kubernetes.io/arch", "In", "arm64")]])
    result = solve([p])
    assert not result.unschedulable
    assert {o.arch for o in claim_of(result, "a").options} == {"arm64"}


def test_gt_on_well_known_label() -> None:
    types = [*TYPES]
    types[1] = itype("m.xlarge", 4, 16, od=0.2)
    p = pod("a", terms=[[req("karpenter.k8s.aws/instance-family", "NotIn", "g", "p")]])
    assert {o.instance_type[0] for o in claim_of(solve([p], types=types), "a").options} == {"m"}


def test_pods_share_claims_and_never_cost_more_than_first_fit() -> None:
    pods = [pod(f"p{i}", "1", "2Gi") for i in range(20)]
    result = solve(pods)
    assert not result.unschedulable
    for c in result.claims:
        alloc = next(t for t in TYPES if t.name == c.options[0].instance_type).allocatable
        assert c.requests.fits(Resources(dict(alloc)))
    assert sum(len(c.pods) for c in result.claims) == 20
    assert all(len(c.pods) >= 2 for c in result.claims)  # no node for a pod it could share
    # Karpenter's first fit fills the largest type (g.4xlarge 0.25 + m.xlarge 0.08 = 0.33);
    # ten g.large at 0.03 hold the same pods for less.
    assert sum(c.options[0].price for c in result.claims) <= 0.30 + 1e-9


def test_max_pods_splits_claims() -> None:
    types = [itype("t.small", 64, 256, pods=3, od=1.0)]
    result = solve([pod(f"p{i}", "10m", "10Mi") for i in range(7)], types=types)
    assert [len(c.pods) for c in result.claims] == [3, 3, 1]


def test_existing_node_used_first_unless_cordoned_or_tainted() -> None:
    labels = {"kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "m.xlarge"}
    free = Node("n1", labels, Resources.parse({"cpu": "4", "memory": "16Gi", "pods": "110"}))
    result = solve([pod("a")], nodes=[free])
    assert result.existing == {"n1": (result.existing["n1"][0],)} and not result.claims
    cordoned = Node("n1", labels, free.allocatable, unschedulable=True)
    assert solve([pod("a")], nodes=[cordoned]).claims
    tainted = Node("n1", labels, free.allocatable, taints=(Taint("dedicated", "NoSchedule", "x"),))
    assert solve([pod("a")], nodes=[tainted]).claims
    tolerating = pod("a", tolerations=[Toleration("dedicated", "Equal", "x", "NoSchedule")])
    assert not solve([tolerating], nodes=[tainted]).claims


def test_existing_node_capacity_counts_bound_pods() -> None:
    labels = {"kubernetes.io/arch": "amd64"}
    node = Node("n1", labels, Resources.parse({"cpu": "2", "memory": "8Gi", "pods": "110"}))
    result = solve([pod("bound", "1500m", node="n1"), pod("new", "1")], nodes=[node])
    assert not result.existing and len(result.claims) == 1


def test_prefer_no_schedule_does_not_block() -> None:
    taint = Taint("soft", "PreferNoSchedule")
    result = solve([pod("a")], pools=[pool("p", taints=[taint])])
    assert not result.unschedulable


def test_tainted_pool_needs_toleration() -> None:
    gpu = pool("gpu", req("karpenter.k8s.aws/instance-family", "In", "p"), weight=10,
               taints=[Taint("nvidia.com/gpu", "NoSchedule", "true")])
    plain = pod("plain")
    gpu_pod = pod("trainer", "2", "8Gi", extra={"nvidia.com/gpu": "1"},
                  tolerations=[Toleration("nvidia.com/gpu", "Exists", "", "NoSchedule")])
    result = solve([plain, gpu_pod], pools=[gpu, pool()])
    assert claim_of(result, "trainer").node_pool == "gpu"
    assert claim_of(result, "plain").node_pool == "default"


def test_higher_weight_pool_wins() -> None:
    low = pool("low")
    high = pool("high", req("kubernetes.io/arch", "In", "amd64"), weight=50)
    assert claim_of(solve([pod("a")], pools=[low, high]), "a").node_pool == "high"


def test_limits_stop_a_pool_and_say_so() -> None:
    limited = pool("small", limits={"cpu": 4000})
    pods = [pod(f"p{i}", "1500m") for i in range(4)]
    result = solve(pods, pools=[limited], types=[itype("m.xlarge", 4, 16)])
    assert len(result.claims) == 1
    assert len(result.unschedulable) == 2
    assert "limits" in result.unschedulable[0][1]
    stopped = pool("stopped", limits={"cpu": 0})
    result = solve([pod("a")], pools=[stopped])
    assert result.unschedulable and not result.claims


def test_daemonset_overhead_counts_on_new_nodes() -> None:
    types = [itype("m.large", 2, 8)]
    ds = DaemonSet("kube-system", "agent", Resources.parse({"cpu": "600m", "memory": "100Mi"}))
    result = solve([pod("a", "1500m")], daemonsets=[ds], types=types)
    assert result.unschedulable and not result.claims
    assert "1.5 vCPU" in result.unschedulable[0][1]
    # A DaemonSet that does not tolerate the pool's taint never lands there.
    tainted = pool("t", taints=[Taint("k", "NoSchedule")])
    tol = pod("a", "1500m", tolerations=[Toleration("k", "Exists")])
    assert solve([tol], pools=[tainted], daemonsets=[ds], types=types).claims


def test_extended_resources_pick_gpu_types() -> None:
    p = pod("a", "1", "2Gi", extra={"nvidia.com/gpu": "1"})
    assert {o.instance_type for o in claim_of(solve([p]), "a").options} == {"p.2xlarge"}


def test_unknown_extended_resource_is_explained() -> None:
    result = solve([pod("a", extra={"example.com/fpga": "1"})])
    assert "example.com/fpga" in result.unschedulable[0][1]


def test_reason_names_pool_size_and_arch() -> None:
    p = pod("big", "96", "8Gi", selector={"kubernetes.io/arch": "arm64"})
    [(_, reason)] = solve([p]).unschedulable
    assert "NodePool default" in reason and "96 vCPU" in reason and "arm64" in reason


def test_custom_label_the_pool_does_not_set() -> None:
    [(_, reason)] = solve([pod("a", selector={"team": "blue"})]).unschedulable
    assert "does not set label team" in reason


def test_higher_priority_placed_first_when_capacity_is_short() -> None:
    limited = pool("small", limits={"cpu": 4000})
    pods = [pod("low", "3", priority=0), pod("high", "3", priority=1000)]
    result = solve(pods, pools=[limited], types=[itype("m.xlarge", 4, 16)])
    assert [p.name for p, _ in result.unschedulable] == ["low"]


def test_spot_friendly_pods_do_not_ride_on_an_on_demand_claim() -> None:
    # Karpenter would put every pod on the first claim, making all of it on-demand.
    pinned = pod("ledger", "3", "4Gi", terms=[[req("karpenter.sh/capacity-type", "In",
                                                    "on-demand")]])
    others = [pod(f"web{i}", "500m", "1Gi") for i in range(4)]
    result = solve([pinned, *others])
    assert {o.capacity_type for o in claim_of(result, "ledger").options} == {"on-demand"}
    for i in range(4):
        assert claim_of(result, f"web{i}").options[0].capacity_type == "spot"


def test_equally_priced_pods_share_one_claim() -> None:
    pinned = pod("a", "1", "2Gi", selector={"kubernetes.io/arch": "arm64"})
    free = pod("b", "1", "2Gi")  # arm64 is the cheapest for it anyway
    result = solve([pinned, free])
    assert len(result.claims) == 1


def test_min_values_keeps_the_claim_flexible() -> None:
    # At least 3 instance families must stay possible: big pods that only fit 2 cannot join.
    flexible = pool("flex", Requirement.of("karpenter.k8s.aws/instance-family", "Exists",
                                           min_values=3))
    types = [itype("a.big", 16, 64), itype("b.big", 16, 64), itype("c.small", 2, 8)]
    assert not solve([pod("small", "1")], pools=[flexible], types=types).unschedulable
    [(_, reason)] = solve([pod("big", "8")], pools=[flexible], types=types).unschedulable
    assert "minValues 3" in reason and "instance-family" in reason


def test_spot_interruption_band_cap_from_node_pool_policy() -> None:
    from dataclasses import replace

    from pricing import load_catalog

    table_types = load_catalog("us-east-1").instance_types
    capped = replace(pool(), max_spot_interruption_pct=11)  # bands <5% and 5-10% only
    pods = [pod(f"p{i}", "2", "4Gi") for i in range(10)]
    free = solve(pods, types=table_types)
    assert any(o.interruption_band in ("10-15%", "15-20%", ">20%")
               for c in free.claims for o in c.options)
    result = solve(pods, pools=[capped], types=table_types)
    spot = [o for c in result.claims for o in c.options if o.capacity_type == "spot"]
    assert spot and {o.interruption_band for o in spot} <= {"<5%", "5-10%"}


def test_on_demand_share_moves_the_cheapest_claims_to_on_demand() -> None:
    from dataclasses import replace

    pods = [pod(f"p{i}", "1500m", "2Gi") for i in range(12)]
    free = solve(pods)
    assert all(c.options[0].capacity_type == "spot" for c in free.claims)
    half = replace(pool(), min_on_demand_pct=50)
    result = solve(pods, pools=[half])
    on_demand = sum(c.requests.get("cpu") for c in result.claims
                    if c.options[0].capacity_type == "on-demand")
    total = sum(c.requests.get("cpu") for c in result.claims)
    assert on_demand * 2 >= total > 0
    assert any(c.options[0].capacity_type == "spot" for c in result.claims)


def test_architecture_preference_within_its_premium() -> None:
    from dataclasses import replace

    p = [pod("a", "1", "2Gi")]
    assert solve(p).claims[0].options[0].arch == "arm64"  # the cheapest here
    within = replace(pool(), prefer_arch="amd64", prefer_arch_premium_pct=100)
    assert solve(p, pools=[within]).claims[0].options[0].arch == "amd64"
    too_dear = replace(pool(), prefer_arch="amd64", prefer_arch_premium_pct=0)
    assert solve(p, pools=[too_dear]).claims[0].options[0].arch == "arm64"
