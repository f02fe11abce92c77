"""Mirrors kube-scheduler's NodeAffinity plugin Filter tests, case by case."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Sim, node, pod


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}}


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    e: dict[str, Any] = {"key": key, "operator": op}
    if values:
        e["values"] = list(values)
    return e


CASES: list[tuple[str, dict[str, Any], dict[str, str], bool]] = [
    ("no selector", {}, {}, True),
    ("missing labels", {"nodeSelector": {"foo": "bar"}}, {}, False),
    ("same labels", {"nodeSelector": {"foo": "bar"}}, {"foo": "bar"}, True),
    ("node labels are superset", {"nodeSelector": {"foo": "bar"}},
     {"foo": "bar", "baz": "blah"}, True),
    ("node labels are subset", {"nodeSelector": {"foo": "bar", "baz": "blah"}},
     {"foo": "bar"}, False),
    ("In operator that matches the existing node",
     required({"matchExpressions": [expr("foo", "In", "bar", "value2")]}), {"foo": "bar"}, True),
    ("Gt operator that matches the existing node",
     required({"matchExpressions": [expr("kernel-version", "Gt", "0204")]}),
     {"kernel-version": "0206"}, True),
    ("NotIn operator that matches the existing node",
     required({"matchExpressions": [expr("mem-type", "NotIn", "DDR", "DDR2")]}),
     {"mem-type": "DDR3"}, True),
    ("Exists operator that matches the existing node",
     required({"matchExpressions": [expr("GPU", "Exists")]}), {"GPU": "NVIDIA-GRID-K1"}, True),
    ("affinity that don't match node's labels",
     required({"matchExpressions": [expr("foo", "In", "value1", "value2")]}), {"foo": "bar"},
     False),
    ("multiple nodeSelectorTerms ORed, the second matches",
     required({"matchExpressions": [expr("diffkey", "In", "wrong", "value2")]},
              {"matchExpressions": [expr("foo", "In", "bar")]}), {"foo": "bar"}, True),
    ("matchExpressions ANDed, one fails",
     required({"matchExpressions": [expr("foo", "In", "bar"), expr("GPU", "Exists")]}),
     {"foo": "bar"}, False),
    ("DoesNotExist operator on a missing label",
     required({"matchExpressions": [expr("foo", "DoesNotExist")]}), {"bar": "x"}, True),
    ("DoesNotExist operator on a present label",
     required({"matchExpressions": [expr("foo", "DoesNotExist")]}), {"foo": "x"}, False),
    ("Lt operator", required({"matchExpressions": [expr("gen", "Lt", "5")]}), {"gen": "4"}, True),
    ("Lt operator with a non-integer label",
     required({"matchExpressions": [expr("gen", "Lt", "5")]}), {"gen": "four"}, False),
    ("nodeSelector and affinity both apply",
     {"nodeSelector": {"foo": "bar"},
      **required({"matchExpressions": [expr("GPU", "Exists")]})}, {"foo": "bar"}, False),
    ("matchFields on metadata.name matches",
     required({"matchFields": [expr("metadata.name", "In", "node-1")]}), {}, True),
    ("matchFields on metadata.name does not match",
     required({"matchFields": [expr("metadata.name", "In", "node-2")]}), {}, False),
    ("matchFields and matchExpressions ANDed in one term",
     required({"matchFields": [expr("metadata.name", "In", "node-1")],
               "matchExpressions": [expr("foo", "In", "bar")]}), {"foo": "baz"}, False),
]


@pytest.mark.parametrize(("spec", "labels", "fits"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_node_affinity_filter(sim: Sim, spec: dict[str, Any], labels: dict[str, str],
                              fits: bool) -> None:
    placed = sim.placed_on(node(labels=labels), pod(spec=spec))
    assert (placed == "node-1") is fits


# A label whose value is the empty string is a value like any other (labels.SelectorFromSet
# and the In operator compare strings): `foo: ""` matches a node labelled foo="" only.
EMPTY_VALUE_CASES: list[tuple[str, dict[str, Any], dict[str, str], bool]] = [
    ("nodeSelector with an empty value matches the empty label",
     {"nodeSelector": {"foo": ""}}, {"foo": ""}, True),
    ("nodeSelector with an empty value does not match another value",
     {"nodeSelector": {"foo": ""}}, {"foo": "bar"}, False),
    ("nodeSelector with an empty value does not match a missing label",
     {"nodeSelector": {"foo": ""}}, {}, False),
    ("In [\"\"] matches the empty label",
     required({"matchExpressions": [expr("foo", "In", "")]}), {"foo": ""}, True),
    ("In [\"\", bar] matches bar",
     required({"matchExpressions": [expr("foo", "In", "", "bar")]}), {"foo": "bar"}, True),
    ("NotIn [\"\"] rejects the empty label",
     required({"matchExpressions": [expr("foo", "NotIn", "")]}), {"foo": ""}, False),
    ("NotIn [\"\"] accepts another value",
     required({"matchExpressions": [expr("foo", "NotIn", "")]}), {"foo": "x"}, True),
    ("Exists matches the empty label",
     required({"matchExpressions": [expr("foo", "Exists")]}), {"foo": ""}, True),
]


@pytest.mark.parametrize(("spec", "labels", "fits"), [c[1:] for c in EMPTY_VALUE_CASES],
                         ids=[c[0] for c in EMPTY_VALUE_CASES])
def test_empty_label_values(sim: Sim, spec: dict[str, Any], labels: dict[str, str],
                            fits: bool) -> None:
    placed = sim.placed_on(node(labels=labels), pod(spec=spec))
    assert (placed == "node-1") is fits
