"""The inventory port over values held in memory, and usage made up for them.

`StaticInventory` answers the port from nodes and pods given up front (from a snapshot and a
provisioning pass, or built in tests). `generated_metrics` makes deterministic usage for
containers that have no history, so `scaler report` runs without a cluster: CPU follows a
daily cycle around a per-container share of its request, memory stays near a per-container
share of its request with a slow drift. The shares are drawn from a seed and the container's
name, so the same snapshot gives the same report.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scaler.adapters.simulated.metrics import SeriesMetricsSource
from scaler.ports.inventory import NodeInfo, PodInfo
from scaler.ports.metrics import ContainerRef, Samples, Window

DAY = 86_400.0
MIB = 2**20


@dataclass(frozen=True, slots=True)
class SimulatedContainer:
    namespace: str
    pod: str
    container: str
    node: str
    cpu_request: float  # cores
    ram_request: float  # bytes
    gpu_request: float = 0.0
    start: float = -math.inf
    end: float = math.inf

    @property
    def ref(self) -> ContainerRef:
        return ContainerRef(self.namespace, self.pod, self.container)


def _overlaps(start: float, end: float, window: Window) -> bool:
    return start <= window.end and end > window.start


class StaticInventory:
    def __init__(
        self,
        nodes: Iterable[NodeInfo],
        pods: Iterable[PodInfo],
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
        gpu_requests: Iterable[Samples] = (),
    ) -> None:
        self._nodes = tuple(nodes)
        self._pods = tuple(pods)
        self._namespaces = dict(namespace_labels or {})
        self._gpus = tuple(gpu_requests)

    def nodes(self, window: Window) -> Sequence[NodeInfo]:
        return tuple(n for n in self._nodes if _overlaps(n.start, n.end, window))

    def pods(self, window: Window) -> Sequence[PodInfo]:
        return tuple(
            p
            for p in self._pods
            if _overlaps(
                -math.inf if p.start is None else p.start,
                math.inf if p.end is None else p.end,
                window,
            )
        )

    def namespace_labels(self, window: Window) -> Mapping[str, Mapping[str, str]]:
        return self._namespaces

    def gpu_requests(self, window: Window) -> Sequence[Samples]:
        return tuple(
            s
            for s in self._gpus
            if s.timestamps and s.timestamps[0] <= window.end and s.timestamps[-1] >= window.start
        )


@dataclass(frozen=True, slots=True)
class GeneratedMetrics:
    metrics: SeriesMetricsSource
    gpu_requests: tuple[Samples, ...] = field(default_factory=tuple)


def _grid(c: SimulatedContainer, window: Window) -> list[float]:
    n = int((window.end - window.start) // window.step) + 1
    return [
        t
        for t in (window.start + i * window.step for i in range(n))
        if c.start <= t < c.end
    ]


def request_series(
    containers: Sequence[SimulatedContainer], window: Window
) -> tuple[list[Samples], list[Samples], list[Samples]]:
    """(CPU requests, memory requests, GPU requests) on the window's grid, without the usage
    generated_metrics makes up (for when usage comes from elsewhere)."""
    req_cpu: list[Samples] = []
    req_mem: list[Samples] = []
    gpus: list[Samples] = []
    for c in containers:
        times = tuple(_grid(c, window))
        if not times:
            continue
        labels = {"node": c.node}
        req_cpu.append(Samples(c.ref, times, (c.cpu_request,) * len(times), labels))
        req_mem.append(Samples(c.ref, times, (c.ram_request,) * len(times), labels))
        if c.gpu_request:
            gpus.append(Samples(c.ref, times, (c.gpu_request,) * len(times), labels))
    return req_cpu, req_mem, gpus


def generated_metrics(
    containers: Sequence[SimulatedContainer], window: Window, seed: int = 0
) -> GeneratedMetrics:
    cpu: list[Samples] = []
    mem: list[Samples] = []
    req_cpu: list[Samples] = []
    req_mem: list[Samples] = []
    gpus: list[Samples] = []
    for c in containers:
        ts = _grid(c, window)
        if not ts:
            continue
        rng = random.Random(zlib.crc32(f"{seed}/{c.namespace}/{c.pod}/{c.container}".encode()))
        # Workload-level shares (replicas of one workload look alike), pod-level noise.
        family = random.Random(zlib.crc32(f"{seed}/{c.namespace}/{_family(c.pod)}".encode()))
        cpu_share = family.uniform(0.08, 0.85)
        mem_share = family.uniform(0.3, 0.9)
        phase = family.uniform(0, DAY)
        cpu_base = c.cpu_request * cpu_share if c.cpu_request > 0 else 0.02
        mem_base = c.ram_request * mem_share if c.ram_request > 0 else 64 * MIB
        labels = {"node": c.node}
        cpu_vals = []
        mem_vals = []
        for t in ts:
            daily = 1 + 0.45 * math.sin(2 * math.pi * (t + phase) / DAY)
            cpu_vals.append(max(cpu_base * daily * rng.uniform(0.85, 1.15), 0.0))
            drift = 1 + 0.06 * math.sin(2 * math.pi * (t + phase) / (3 * DAY))
            mem_vals.append(max(mem_base * drift * rng.uniform(0.97, 1.03), 0.0))
        times = tuple(ts)
        cpu.append(Samples(c.ref, times, tuple(cpu_vals), labels))
        mem.append(Samples(c.ref, times, tuple(mem_vals), labels))
        req_cpu.append(Samples(c.ref, times, (c.cpu_request,) * len(ts), labels))
        req_mem.append(Samples(c.ref, times, (c.ram_request,) * len(ts), labels))
        if c.gpu_request:
            gpus.append(Samples(c.ref, times, (c.gpu_request,) * len(ts), labels))
    source = SeriesMetricsSource(
        cpu=cpu,
        memory=mem,
        requests={"cpu": req_cpu, "memory": req_mem},
        lookback=window.step,
    )
    return GeneratedMetrics(source, tuple(gpus))


def _family(pod: str) -> str:
    """`web-7c5d8f9b6-h2k9x` -> `web`, `spark-driver-0` -> `spark-driver`."""
    parts = pod.split("-")
    while len(parts) > 1 and (parts[-1].isdigit() or (len(parts[-1]) >= 5 and any(
        ch.isdigit() for ch in parts[-1]
    ))):
        parts.pop()
    return "-".join(parts)
