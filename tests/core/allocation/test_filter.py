"""OpenCost's v2 filter language: each operator, keyed fields, aliases, grouping, errors."""

from __future__ import annotations

import re

import pytest

from scaler.core.allocation.filter import FilterError, parse_filter
from scaler.core.allocation.model import WORKLOAD, Allocation, Properties


def alloc(ns: str, pod: str, **labels: str) -> Allocation:
    return Allocation(
        name=pod, kind=WORKLOAD, window_start=0, window_end=1, start=0, end=1,
        properties=Properties(cluster="c1", node="n1", namespace=ns, pod=pod,
                              controller_kind="Deployment", controller=pod.split("-")[0],
                              labels=labels, annotations={"owner": "ops"}),
    )


PODS = [alloc("shop", "web-1", app="web", env="prod"), alloc("shop", "api-1", app="api"),
        alloc("kube-system", "coredns-1", app="dns", team="platform")]


def names(text: str) -> list[str]:
    m = parse_filter(text)
    assert m is not None
    return [a.properties.pod for a in PODS if m(a)]


@pytest.mark.parametrize(("text", "want"), [
    ('namespace:"shop"', ["web-1", "api-1"]),
    ('namespace:"shop","kube-system"', ["web-1", "api-1", "coredns-1"]),
    ('namespace!:"shop"', ["coredns-1"]),
    ('pod~:"eb"', ["web-1"]),
    ('pod!~:"eb"', ["api-1", "coredns-1"]),
    ('pod<~:"core"', ["coredns-1"]),
    ('pod!<~:"core"', ["web-1", "api-1"]),
    ('pod~>:"-1"', ["web-1", "api-1", "coredns-1"]),
    ('pod!~>:"-1"', []),
    ('label[app]:"web"', ["web-1"]),
    ('label[env]!:"prod"', ["api-1", "coredns-1"]),
    ('annotation[owner]:"ops"', ["web-1", "api-1", "coredns-1"]),
    ('controllerKind:"deployment" + controllerName:"api"', ["api-1"]),
    ('environment:"prod"', ["web-1"]),
    ('product:"dns"', ["coredns-1"]),
    ('team:"platform"', ["coredns-1"]),
    ('namespace:"shop" + label[app]:"web" | namespace:"x"', None),
    ('(namespace:"shop" + label[app]:"web") | namespace:"kube-system"', ["web-1", "coredns-1"]),
    ('namespace:"kube-system" | label[app]:"api"', ["api-1", "coredns-1"]),
])
def test_operators_and_grouping(text: str, want: list[str] | None) -> None:
    if want is None:
        with pytest.raises(FilterError, match="cannot mix"):
            parse_filter(text)
    else:
        assert names(text) == want


def test_empty_filter_keeps_everything() -> None:
    assert parse_filter("  ") is None


@pytest.mark.parametrize(("text", "message"), [
    ('colour:"red"', "unknown filter field"),
    ('namespace"shop"', "expected an operator"),
    ("namespace:shop", "expected a quoted value"),
    ('label:"x"', "needs a key"),
    ('(namespace:"a"', "expected ')'"),
    ('namespace:"a" +', "at end"),
    ('namespace:"a" namespace:"b"', "unexpected input"),
])
def test_errors_name_the_token(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=re.escape(message)):
        parse_filter(text)
