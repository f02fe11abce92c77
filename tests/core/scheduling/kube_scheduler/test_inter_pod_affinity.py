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


# Several required affinity terms (kube-scheduler's InterPodAffinity): an existing pod counts
# only when it matches every term; with no such pod, only an incoming pod that matches all its
# own terms may start the group.
MULTI_TERM_CASES: list[tuple[str, list[dict[str, Any]], dict[str, str],
                             list[dict[str, str]], bool]] = [
    # (name, terms, incoming labels, existing pods' labels on node-1, fits)
    ("two terms, one existing pod matches both",
     [term("service", "In", ["securityscan", "value2"]),
      term("service", "NotIn", ["securityscan3", "value3"])], {}, [SCAN], True),
    ("two terms, the existing pod matches only the first",
     [term("service", "In", ["securityscan"]), term("team", "In", ["blue"])], {}, [SCAN],
     False),
    ("two terms, one pod matches each but none matches both",
     [term("service", "In", ["securityscan"]), term("team", "In", ["blue"])], {},
     [SCAN, {"team": "blue"}], False),
    ("two terms, a pod matching both exists beside others",
     [term("service", "In", ["securityscan"]), term("team", "In", ["blue"])], {},
     [{"team": "blue"}, {"service": "securityscan", "team": "blue"}], True),
    ("first of its group: no pod matches, the incoming pod matches all its terms",
     [term("service", "In", ["web"]), term("team", "In", ["blue"])],
     {"service": "web", "team": "blue"}, [], True),
    ("not the first of its group: the incoming pod matches only one of its terms",
     [term("service", "In", ["web"]), term("team", "In", ["blue"])], {"service": "web"}, [],
     False),
    ("the exception does not apply when a pod matches all terms elsewhere",
     [term("service", "In", ["web"], topology="zone"), term("team", "In", ["blue"],
                                                           topology="zone")],
     {"service": "web", "team": "blue"}, [], True),
]


@pytest.mark.parametrize(("terms", "labels", "existing", "fits"),
                         [c[1:] for c in MULTI_TERM_CASES],
                         ids=[c[0] for c in MULTI_TERM_CASES])
def test_inter_pod_affinity_several_terms(sim: Sim, terms: list[dict[str, Any]],
                                          labels: dict[str, str],
                                          existing: list[dict[str, str]], fits: bool) -> None:
    objects: list[dict[str, Any]] = [node(labels=LABELS)]
    for i, lab in enumerate(existing):
        objects.append(pod(f"existing-{i}", labels=lab, node_name="node-1"))
    objects.append(pod(spec=affinity(*terms), labels=labels))
    assert (sim.placed_on(*objects) == "node-1") is fits


def test_first_of_group_exception_needs_no_matching_pod_anywhere(sim: Sim) -> None:
    # A pod matching both terms runs on node-2 (another region): the incoming pod, which
    # matches its own terms, must follow it there, not open node-1's region.
    objects: list[dict[str, Any]] = [
        node(labels=LABELS),
        node("node-2", labels={"region": "r2", "zone": "z21"}),
        pod("existing", labels={"service": "web", "team": "blue"}, node_name="node-2"),
        pod(spec=affinity(term("service", "In", ["web"]), term("team", "In", ["blue"])),
            labels={"service": "web", "team": "blue"}),
    ]
    assert sim.placed_on(*objects) == "node-2"
