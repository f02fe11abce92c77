"""Small clusters for the allocation tests, built from plain numbers."""

from __future__ import annotations

from fractions import Fraction

from scaler.core.allocation.model import ContainerInput, NodeInput
from scaler.core.allocation.money import to_micros
from scaler.core.allocation.prices import NodePrice, ResourceRatios

GIB = 1024**3
# Round ratios so hand-computed figures are round: $0.03 per core-hour, $0.005 per GiB-hour.
# A 4-core 16 GiB node at $0.20/h is then $0.12/h of CPU and $0.08/h of RAM.
ROUND_RATIOS = ResourceRatios(Fraction("0.03"), Fraction("0.005"), Fraction("0.5"))


def node(name: str, price: float, cores: float = 4, gib: float = 16, gpus: float = 0,
         start: int = 0, end: int = 10**9, capacity_type: str = "on-demand") -> NodeInput:
    return NodeInput(
        name=name, cpu_cores=cores, ram_bytes=gib * GIB, gpus=gpus, start=start, end=end,
        price=NodePrice(price, to_micros(price), capacity_type, False),
        capacity_type=capacity_type,
    )


def container(ns: str, pod: str, name: str, node: str, times: list[int], cpu_req: float,
              cpu_use: float, ram_req_gib: float, ram_use_gib: float, *, gpu: float = 0,
              labels: dict[str, str] | None = None, controller: str = "",
              kind: str = "") -> ContainerInput:
    n = len(times)
    return ContainerInput(
        namespace=ns, pod=pod, container=name, node=node, timestamps=tuple(times),
        cpu_request=(cpu_req,) * n, cpu_usage=(cpu_use,) * n,
        ram_request=(ram_req_gib * GIB,) * n, ram_usage=(ram_use_gib * GIB,) * n,
        gpu_request=(gpu,) * n if gpu else (), labels=labels or {},
        controller=controller, controller_kind=kind,
    )
