"""Mirrors kube-scheduler's NodePorts plugin Filter tests, case by case."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Sim, node, pod


def ports(*specs: str) -> dict[str, Any]:
    """'UDP/127.0.0.1/8080' style, as upstream's test helper writes them."""
    out = []
    for spec in specs:
        proto, ip, port = spec.split("/")
        p: dict[str, Any] = {"containerPort": int(port), "hostPort": int(port),
                             "protocol": proto}
        if ip:
            p["hostIP"] = ip
        out.append(p)
    return {"containers": [{"name": "c", "image": "busybox", "ports": out,
                            "resources": {"requests": {"cpu": "10m"}}}]}


CASES: list[tuple[str, tuple[str, ...], tuple[str, ...], bool]] = [
    ("nothing running", (), ("UDP/127.0.0.1/8080",), True),
    ("other port", ("UDP/127.0.0.1/9090",), ("UDP/127.0.0.1/8080",), True),
    ("same udp port", ("UDP/127.0.0.1/8080",), ("UDP/127.0.0.1/8080",), False),
    ("same tcp port", ("TCP/127.0.0.1/8080",), ("TCP/127.0.0.1/8080",), False),
    ("different host ip", ("TCP/127.0.0.1/8080",), ("TCP/127.0.0.2/8080",), True),
    ("different protocol", ("TCP/127.0.0.1/8080",), ("UDP/127.0.0.1/8080",), True),
    ("second udp port conflict", ("UDP/127.0.0.1/8001", "UDP/127.0.0.1/8080"),
     ("UDP/127.0.0.1/8080", "UDP/127.0.0.1/8081"), False),
    ("first tcp port conflict", ("TCP/127.0.0.1/8001", "UDP/127.0.0.1/8080"),
     ("TCP/127.0.0.1/8001", "UDP/127.0.0.1/8081"), False),
    ("first tcp port conflict due to 0.0.0.0 hostIP", ("TCP/127.0.0.1/8001",),
     ("TCP/0.0.0.0/8001",), False),
    ("TCP hostPort conflict due to 0.0.0.0 hostIP", ("TCP/0.0.0.0/8001",),
     ("TCP/10.0.10.10/8001", "TCP/0.0.0.0/8001"), False),
    ("second tcp port conflict to 0.0.0.0 hostIP", ("TCP/0.0.0.0/8001",),
     ("TCP/127.0.0.1/8001",), False),
    ("second different protocol", ("UDP/0.0.0.0/8001",), ("TCP/10.0.10.10/8001",), True),
    ("UDP hostPort conflict due to 0.0.0.0 hostIP", ("UDP/0.0.0.0/8001",),
     ("UDP/10.0.10.10/8001", "TCP/10.0.10.10/8001"), False),
]


@pytest.mark.parametrize(("existing", "wanted", "fits"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_node_ports_filter(sim: Sim, existing: tuple[str, ...], wanted: tuple[str, ...],
                           fits: bool) -> None:
    objects: list[dict[str, Any]] = [node()]
    if existing:
        objects.append(pod("running", spec=ports(*existing), node_name="node-1"))
    objects.append(pod(spec=ports(*wanted)))
    assert (sim.placed_on(*objects) == "node-1") is fits
