"""Mirrors kube-scheduler's TaintToleration plugin Filter tests, case by case."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Sim, node, pod


def taint(key: str, value: str, effect: str) -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect}


def tol(key: str = "", op: str = "Equal", value: str = "", effect: str = "") -> dict[str, str]:
    t = {"operator": op}
    for k, v in (("key", key), ("value", value), ("effect", effect)):
        if v:
            t[k] = v
    return t


CASES: list[tuple[str, list[dict[str, str]], list[dict[str, str]], bool]] = [
    ("a pod having no tolerations can't be scheduled onto a node with nonempty taints", [],
     [taint("dedicated", "user1", "NoSchedule")], False),
    ("a pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule",
     [tol("dedicated", "Equal", "user1", "NoSchedule")],
     [taint("dedicated", "user1", "NoSchedule")], True),
    ("a pod which can't be scheduled on a dedicated node assigned to user2",
     [tol("dedicated", "Equal", "user2", "NoSchedule")],
     [taint("dedicated", "user1", "NoSchedule")], False),
    ("a toleration with operator Exists tolerates the taints on the node",
     [tol("foo", "Exists", effect="NoSchedule")], [taint("foo", "bar", "NoSchedule")], True),
    ("multiple tolerations, multiple taints, all tolerated",
     [tol("dedicated", "Equal", "user2", "NoSchedule"), tol("foo", "Exists", effect="NoSchedule")],
     [taint("dedicated", "user2", "NoSchedule"), taint("foo", "bar", "NoSchedule")], True),
    ("key and value match but the (non-empty) effect does not",
     [tol("foo", "Equal", "bar", "PreferNoSchedule")], [taint("foo", "bar", "NoSchedule")],
     False),
    ("key and value match and the toleration's effect is empty",
     [tol("foo", "Equal", "bar")], [taint("foo", "bar", "NoSchedule")], True),
    ("key and value do not match but the taint is PreferNoSchedule",
     [tol("dedicated", "Equal", "user2", "NoSchedule")],
     [taint("dedicated", "user1", "PreferNoSchedule")], True),
    ("no toleration and the taint is PreferNoSchedule", [],
     [taint("dedicated", "user1", "PreferNoSchedule")], True),
    ("a NoExecute taint needs a toleration", [], [taint("dedicated", "user1", "NoExecute")],
     False),
    ("a NoExecute taint tolerated", [tol("dedicated", "Equal", "user1", "NoExecute")],
     [taint("dedicated", "user1", "NoExecute")], True),
    ("Exists with an empty key tolerates everything", [tol(op="Exists")],
     [taint("a", "1", "NoSchedule"), taint("b", "2", "NoExecute")], True),
    ("Exists with an empty key and an effect tolerates only that effect",
     [tol(op="Exists", effect="NoSchedule")],
     [taint("a", "1", "NoSchedule"), taint("b", "2", "NoExecute")], False),
]


@pytest.mark.parametrize(("tolerations", "taints", "fits"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_taint_toleration_filter(sim: Sim, tolerations: list[dict[str, Any]],
                                 taints: list[dict[str, str]], fits: bool) -> None:
    spec = {"tolerations": tolerations} if tolerations else {}
    placed = sim.placed_on(node(taints=taints), pod(spec=spec))
    assert (placed == "node-1") is fits
