"""Mirrors kube-scheduler's NodeResourcesFit plugin Filter tests, case by case."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Sim, node, pod


def init(cpu: str, memory: str, sidecar: bool = False) -> dict[str, Any]:
    c: dict[str, Any] = {"name": f"init-{cpu}-{memory}", "image": "busybox",
                         "resources": {"requests": {"cpu": cpu, "memory": memory}}}
    if sidecar:
        c["restartPolicy"] = "Always"
    return c


# The node has 10 cpu and 20Gi; a bound pod already uses 5 cpu and 10Gi ("used").
CASES: list[tuple[str, str, str, list[dict[str, Any]], dict[str, Any], bool]] = [
    ("no resources requested always fits", "0", "0", [], {}, True),
    ("too many resources fails", "6", "1Gi", [], {}, False),
    ("too much memory fails", "1", "11Gi", [], {}, False),
    ("equal edge case", "5", "10Gi", [], {}, True),
    ("init container fits because it's the max, not sum, of containers and init containers",
     "1", "1Gi", [init("3", "1Gi"), init("2", "1Gi")], {}, True),
    ("init container too big fails", "1", "1Gi", [init("6", "1Gi")], {}, False),
    ("sidecar adds to the app containers", "3", "1Gi", [init("3", "1Gi", sidecar=True)], {},
     False),
    ("sidecar before an init container counts for it", "1", "1Gi",
     [init("3", "1Gi", sidecar=True), init("2500m", "1Gi")], {}, False),
    ("pod overhead counts", "4500m", "1Gi", [], {"overhead": {"cpu": "600m"}}, False),
    ("extended resource fits", "1", "1Gi", [], {"_gpu": "2"}, True),
    ("extended resource too many fails", "1", "1Gi", [], {"_gpu": "3"}, False),
]


@pytest.mark.parametrize(("cpu", "memory", "inits", "extra", "fits"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_resource_fit_filter(sim: Sim, cpu: str, memory: str, inits: list[dict[str, Any]],
                             extra: dict[str, Any], fits: bool) -> None:
    gpu = extra.pop("_gpu", None)
    spec: dict[str, Any] = dict(extra)
    if inits:
        spec["initContainers"] = inits
    used = pod("used", cpu="5", memory="10Gi", node_name="node-1")
    new = pod(cpu=cpu, memory=memory, spec=spec,
              extra={"example.com/gpu": gpu} if gpu else None)
    n = node(cpu="10", memory="20Gi", extra={"example.com/gpu": "2"})
    assert (sim.placed_on(n, used, new) == "node-1") is fits


def test_too_many_pods_fails(sim: Sim) -> None:
    n = node(pods="2")
    bound = [pod(f"b{i}", node_name="node-1") for i in range(2)]
    assert sim.placed_on(n, *bound, pod()) is None
