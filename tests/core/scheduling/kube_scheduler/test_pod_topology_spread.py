"""Mirrors kube-scheduler's PodTopologySpread plugin Filter tests, case by case.

Two nodes, node-a in zone1 and node-b in zone2; no new nodes. The answer is where the pod
goes (nodes are tried by name, so node-a first when both pass) or None.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Sim, node, pod

ZONE = "topology.kubernetes.io/zone"


def spread(key: str = ZONE, skew: int = 1, **extra: Any) -> dict[str, Any]:
    return {"topologySpreadConstraints": [{
        "maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"foo": "bar"}}, **extra}]}


CASES: list[tuple[str, dict[str, Any], dict[str, str], int, int, str, str | None]] = [
    # (name, pod spec, pod labels, matching pods on a, on b, their namespace, expected)
    ("no existing pods", spread(), {"foo": "bar"}, 0, 0, "default", "node-a"),
    ("no existing pods, incoming pod doesn't match itself", spread(), {}, 0, 0, "default",
     "node-a"),
    ("zone1 has one more: go to zone2", spread(), {"foo": "bar"}, 1, 0, "default", "node-b"),
    ("zone2 has one more: go to zone1", spread(), {"foo": "bar"}, 0, 1, "default", "node-a"),
    ("both zones at one: either passes", spread(), {"foo": "bar"}, 1, 1, "default", "node-a"),
    ("skew 2 tolerates one more", spread(skew=2), {"foo": "bar"}, 1, 0, "default", "node-a"),
    ("not self-matching: zone1 at 2 vs 0 is over skew", spread(), {}, 2, 0, "default",
     "node-b"),
    ("pods of another namespace do not count", spread(), {"foo": "bar"}, 2, 0, "other",
     "node-a"),
    ("nodeAffinityPolicy Honor: only zone1 is eligible", {
        **spread(), "nodeSelector": {ZONE: "zone1"}}, {"foo": "bar"}, 1, 0, "default", "node-a"),
    ("nodeAffinityPolicy Ignore: zone2 still counts", {
        **spread(nodeAffinityPolicy="Ignore"), "nodeSelector": {ZONE: "zone1"}},
     {"foo": "bar"}, 1, 0, "default", None),
    ("hostname spread", spread("kubernetes.io/hostname"), {"foo": "bar"}, 1, 0, "default",
     "node-b"),
    ("minDomains above the domain count keeps the minimum at 0",
     spread(minDomains=3), {"foo": "bar"}, 1, 1, "default", None),
]


@pytest.mark.parametrize(("spec", "labels", "on_a", "on_b", "ns", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pod_topology_spread_filter(sim: Sim, spec: dict[str, Any], labels: dict[str, str],
                                    on_a: int, on_b: int, ns: str,
                                    expected: str | None) -> None:
    objects: list[dict[str, Any]] = [node("node-a", labels={ZONE: "zone1"}),
                                     node("node-b", labels={ZONE: "zone2"})]
    for name, count in (("node-a", on_a), ("node-b", on_b)):
        objects += [pod(f"{name}-{i}", labels={"foo": "bar"}, node_name=name, namespace=ns)
                    for i in range(count)]
    objects.append(pod(spec=spec, labels=labels))
    assert sim.placed_on(*objects) == expected


# Node inclusion policies (kube-scheduler's PodTopologySpread with nodeTaintsPolicy and
# nodeAffinityPolicy): with Honor, nodes the pod cannot use are left out of the domain
# counts. node-a (zone1) and node-b (zone2) hold one matching pod each; node-c (zone3) holds
# none, is tainted dedicated=x:NoSchedule and lacks the disk=ssd label a and b carry.
TAINT = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}
TOLERATE = {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "x",
                             "effect": "NoSchedule"}]}
SSD = {"nodeSelector": {"disk": "ssd"}}
INCLUSION_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("nodeTaintsPolicy Ignore (default): the tainted empty zone keeps the minimum at 0",
     spread(), None),
    ("nodeTaintsPolicy Honor: the tainted zone is left out, zone1 is within skew",
     spread(nodeTaintsPolicy="Honor"), "node-a"),
    ("nodeTaintsPolicy Honor with a toleration: zone3 counts and is the only one within skew",
     {**spread(nodeTaintsPolicy="Honor"), **TOLERATE}, "node-c"),
    ("nodeAffinityPolicy Honor (default): the zone of a node without disk=ssd is left out",
     {**spread(), **SSD}, "node-a"),
    ("nodeAffinityPolicy Ignore: that zone counts again",
     {**spread(nodeAffinityPolicy="Ignore"), **SSD}, None),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in INCLUSION_CASES],
                         ids=[c[0] for c in INCLUSION_CASES])
def test_node_inclusion_policies(sim: Sim, spec: dict[str, Any], expected: str | None) -> None:
    objects: list[dict[str, Any]] = [
        node("node-a", labels={ZONE: "zone1", "disk": "ssd"}),
        node("node-b", labels={ZONE: "zone2", "disk": "ssd"}),
        node("node-c", labels={ZONE: "zone3"}, taints=[TAINT]),
        pod("on-a", labels={"foo": "bar"}, node_name="node-a"),
        pod("on-b", labels={"foo": "bar"}, node_name="node-b"),
        pod(spec=spec, labels={"foo": "bar"}),
    ]
    assert sim.placed_on(*objects) == expected
