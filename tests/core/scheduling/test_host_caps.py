"""Hostname spread and hostname anti-affinity planned in bulk, as per-node caps."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaler.core.model import Pod, PodAffinityTerm, Scheduling, TopologySpread
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.scheduler import Scheduler, SchedulingResult
from tests.support.builders import TYPES, pool, solve

HOST = "kubernetes.io/hostname"


def pod(name: str, app: str, cpu: str = "500m", memory: str = "512Mi", **sched: object) -> Pod:
    return Pod("default", name, Resources.parse({"cpu": cpu, "memory": memory}),
               Scheduling(**sched),  # type: ignore[arg-type]
               labels={"app": app})


def apart(app: str) -> PodAffinityTerm:
    return PodAffinityTerm(HOST, Requirements.from_labels({"app": app}), frozenset({"default"}))


def spread(app: str, skew: int) -> TopologySpread:
    return TopologySpread(HOST, skew, selector=Requirements.from_labels({"app": app}))


def apps_per_node(result: SchedulingResult) -> list[Counter[str]]:
    return [Counter(p.labels["app"] for p in c.pods) for c in result.claims]


def test_a_thousand_anti_affine_pods_get_a_thousand_nodes() -> None:
    pods = [pod(f"w{i}", "web", pod_anti_affinity=(apart("web"),)) for i in range(1000)]
    result = solve(pods)
    assert not result.unschedulable
    assert len(result.claims) == 1000
    assert all(n["web"] == 1 for n in apps_per_node(result))


def test_anti_affine_pods_share_their_nodes_with_pods_their_term_does_not_select() -> None:
    pods = [pod(f"w{i}", "web", pod_anti_affinity=(apart("web"),)) for i in range(20)]
    pods += [pod(f"b{i}", "batch") for i in range(60)]
    result = solve(pods)
    assert not result.unschedulable
    # 2-vCPU nodes hold four pods of 500m: one web pod and three batch pods each.
    assert len(result.claims) == 20
    assert all(n["web"] == 1 for n in apps_per_node(result))


def test_an_anti_affine_owner_never_shares_a_node_with_the_pods_it_selects() -> None:
    pods = [pod(f"a{i}", "api", pod_anti_affinity=(apart("db"),)) for i in range(30)]
    pods += [pod(f"d{i}", "db") for i in range(30)]
    result = solve(pods)
    assert not result.unschedulable
    assert not any(n["api"] and n["db"] for n in apps_per_node(result))


def test_hostname_spread_caps_each_node_at_max_skew() -> None:
    pods = [pod(f"w{i}", "web", topology_spread=(spread("web", 3),)) for i in range(300)]
    result = solve(pods)
    assert not result.unschedulable
    assert len(result.claims) == 100
    assert all(n["web"] <= 3 for n in apps_per_node(result))


def test_pods_a_spread_counts_join_its_owners_within_the_skew() -> None:
    # CPU-heavy owners and memory-heavy pods they count: a 2-vCPU, 8 GiB node holds one of
    # each, or one alone. Sharing is allowed up to the skew (one counted pod), in any bind
    # order: so the plan before the comparison with first fit, which places pods one at a
    # time and checks each owner only against the pods placed before it.
    owners = [pod(f"a{i}", "api", "1500m", "1Gi", topology_spread=(spread("web", 1),))
              for i in range(18)]
    counted = [pod(f"w{i}", "web", "250m", "6Gi") for i in range(18)]
    result = Scheduler(InstanceTypeTable(TYPES), [pool()]).plan(owners + counted)
    assert not result.unschedulable
    nodes = apps_per_node(result)
    assert all(n["web"] <= 1 for n in nodes if n["api"])
    assert sum(1 for n in nodes if n["api"] and n["web"]) == 18


@st.composite
def hostname_snapshots(draw: st.DrawFn) -> list[Pod]:
    out = []
    for i in range(draw(st.integers(1, 40))):
        app = draw(st.sampled_from("abc"))
        rules: dict[str, object] = {}
        if draw(st.booleans()):
            rules["topology_spread"] = (spread(draw(st.sampled_from("abc")),
                                               draw(st.integers(1, 2))),)
        if draw(st.booleans()):
            rules["pod_anti_affinity"] = (apart(draw(st.sampled_from("abc"))),)
        cpu = draw(st.sampled_from(["100m", "500m", "1", "3"]))
        out.append(pod(f"p{i}", app, cpu, "1Gi", **rules))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostname_snapshots())
def test_no_new_node_breaks_a_hostname_rule_in_any_bind_order(pending: list[Pod]) -> None:
    """On every new node: an anti-affine pod's term selects no other pod there, and a spread
    owner's selector counts at most maxSkew pods there (the owner included)."""
    result = Scheduler(InstanceTypeTable(TYPES), [pool()]).plan(pending)
    assert not result.unschedulable
    for c in result.claims:
        for owner in c.pods:
            s = owner.scheduling
            for t in s.pod_anti_affinity:
                assert not any(t.selects(p.namespace, p.labels) for p in c.pods if p is not owner)
            for sp in s.topology_spread:
                assert sp.selector is not None
                assert sum(1 for p in c.pods if sp.selector.matches_labels(p.labels)) \
                    <= sp.max_skew
