"""Mirrors kube-scheduler's InterPodAffinity plugin Filter tests, case by case."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Sim, node, pod

LABELS = {"region": "r1", "zone": "z11"}


def term(key: str, op: str, values: list[str], topology: str = "region",
         namespaces: list[str] | None = None) -> dict[str, Any]:
    t: dict[str, Any] = {"labelSelector": {"matchExpressions": [
        {"key": key, "operator": op, **({"values": values} if values else {})}]},
        "topologyKey": topology}
    if namespaces is not None:
        t["namespaces"] = namespaces
    return t


def affinity(*terms: dict[str, Any], anti: bool = False) -> dict[str, Any]:
    kind = "podAntiAffinity" if anti else "podAffinity"
    return {"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}}


SCAN = {"service": "securityscan"}

CASES: list[tuple[str, dict[str, Any], dict[str, str], dict[str, Any], str, bool]] = [
    # (name, incoming pod spec, incoming labels, existing pod spec, existing namespace, fits)
    ("no required pod affinity rules, node with no pods", {}, {}, {}, "", True),
    ("PodAffinity In operator matches the existing pod",
     affinity(term("service", "In", ["securityscan", "value2"])), {}, {}, "default", True),
    ("PodAffinity NotIn operator matches the existing pod",
     affinity(term("service", "NotIn", ["securityscan3", "value3"])), {}, {}, "default", True),
    ("PodAffinity does not match because of a different namespace",
     affinity(term("service", "In", ["securityscan"], namespaces=["DiffNameSpace"])), {}, {},
     "default", False),
    ("PodAffinity does not match because of an unmatching labelSelector",
     affinity(term("service", "In", ["antivirusscan", "value2"])), {}, {}, "default", False),
    ("PodAffinity matches its own labels with no matching pod: the first of its group",
     affinity(term("service", "In", ["web"])), {"service": "web"}, {}, "", True),
    ("PodAntiAffinity matches the existing pod in the same topology",
     affinity(term("service", "In", ["securityscan"]), anti=True), {}, {}, "default", False),
    ("PodAntiAffinity does not match the existing pod",
     affinity(term("service", "In", ["antivirusscan"]), anti=True), {}, {}, "default", True),
    ("existing pod's PodAntiAffinity matches the incoming pod (symmetry)",
     {}, {"security": "S1"},
     affinity(term("security", "In", ["S1"], topology="zone"), anti=True), "default", False),
    ("existing pod's PodAntiAffinity does not match the incoming pod",
     {}, {"security": "S2"},
     affinity(term("security", "In", ["S1"], topology="zone"), anti=True), "default", True),
    ("PodAffinity on a topology key the node lacks",
     affinity(term("service", "In", ["securityscan"], topology="rack")), {}, {}, "default",
     False),
]


@pytest.mark.parametrize(("spec", "labels", "existing_spec", "existing_ns", "fits"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_inter_pod_affinity_filter(sim: Sim, spec: dict[str, Any], labels: dict[str, str],
                                   existing_spec: dict[str, Any], existing_ns: str,
                                   fits: bool) -> None:
    objects: list[dict[str, Any]] = [node(labels=LABELS)]
    if existing_ns:
        objects.append(pod("existing", spec=existing_spec, labels=SCAN, node_name="node-1",
                           namespace=existing_ns))
    objects.append(pod(spec=spec, labels=labels))
    assert (sim.placed_on(*objects) == "node-1") is fits
