"""Values of the allocation model: inputs (nodes, containers, the time grid) and results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from scaler.core.allocation.prices import NodePrice

WORKLOAD = "workload"
IDLE = "idle"
SHARED = "shared"  # shared costs no allocation could absorb
IDLE_NAME = "__idle__"
SHARED_NAME = "__shared__"
UNALLOCATED = "__unallocated__"


@dataclass(frozen=True, slots=True)
class Grid:
    """The report window cut into steps (one allocation set each), sampled every
    `resolution` seconds. A sample at t stands for the interval [t, t + resolution)."""

    start: int
    end: int
    resolution: int
    step: int

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("the window must end after it starts")
        if self.resolution <= 0 or self.step <= 0 or self.step % self.resolution:
            raise ValueError("step must be a positive multiple of the resolution")

    def steps(self) -> list[tuple[int, int]]:
        out = []
        t = self.start
        while t < self.end:
            out.append((t, min(t + self.step, self.end)))
            t += self.step
        return out

    def intervals(self, start: int, end: int) -> list[tuple[int, int]]:
        out = []
        t = start
        while t < end:
            out.append((t, min(t + self.resolution, end)))
            t += self.resolution
        return out


@dataclass(frozen=True, slots=True)
class NodeInput:
    name: str
    cpu_cores: float
    ram_bytes: float
    gpus: float
    start: int  # unix seconds the node ran from (may precede the window)
    end: int
    price: NodePrice
    instance_type: str | None = None
    capacity_type: str = "on-demand"
    labels: Mapping[str, str] = field(default_factory=dict)
    gpu_per_hour_micros: int | None = None  # a known per-GPU price, taken first
    provider_id: str = ""


@dataclass(frozen=True, slots=True)
class ContainerInput:
    """One container's series on the grid: a sample at each timestamp it ran."""

    namespace: str
    pod: str
    container: str
    node: str
    timestamps: tuple[int, ...]
    cpu_request: tuple[float, ...]  # cores
    cpu_usage: tuple[float, ...]
    ram_request: tuple[float, ...]  # bytes
    ram_usage: tuple[float, ...]
    gpu_request: tuple[float, ...] = ()  # empty: no GPUs
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    controller_kind: str = ""
    controller: str = ""
    services: tuple[str, ...] = ()  # the Services selecting the pod

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.pod, self.container)


@dataclass(frozen=True, slots=True)
class Properties:
    """What an allocation is about; aggregation keeps the properties its members share."""

    cluster: str = ""
    node: str = ""
    namespace: str = ""
    pod: str = ""
    container: str = ""
    controller_kind: str = ""
    controller: str = ""
    team: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    provider_id: str = ""  # the node's
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    def common(self, other: Properties) -> Properties:
        def same(a: str, b: str) -> str:
            return a if a == b else ""

        return Properties(
            cluster=same(self.cluster, other.cluster),
            node=same(self.node, other.node),
            namespace=same(self.namespace, other.namespace),
            pod=same(self.pod, other.pod),
            container=same(self.container, other.container),
            controller_kind=same(self.controller_kind, other.controller_kind),
            controller=same(self.controller, other.controller),
            team=same(self.team, other.team),
            labels={k: v for k, v in self.labels.items() if other.labels.get(k) == v},
            annotations={
                k: v for k, v in self.annotations.items() if other.annotations.get(k) == v
            },
            services=tuple(x for x in self.services if x in other.services),
            provider_id=same(self.provider_id, other.provider_id),
            namespace_labels={
                k: v
                for k, v in self.namespace_labels.items()
                if other.namespace_labels.get(k) == v
            },
        )


@dataclass(frozen=True, slots=True)
class Allocation:
    """Cost and resources of one thing over one step. Money in micro-dollars."""

    name: str
    kind: str  # WORKLOAD | IDLE | SHARED
    properties: Properties
    window_start: int
    window_end: int
    start: int  # when it first ran within the window
    end: int
    cpu_core_seconds: float = 0.0  # max(request, usage) integrated over time
    cpu_request_core_seconds: float = 0.0
    cpu_usage_core_seconds: float = 0.0
    ram_byte_seconds: float = 0.0
    ram_request_byte_seconds: float = 0.0
    ram_usage_byte_seconds: float = 0.0
    gpu_seconds: float = 0.0
    cpu_micros: int = 0
    ram_micros: int = 0
    gpu_micros: int = 0
    shared_micros: int = 0
    external_micros: int = 0
    # The parts of cpu/ram/gpu_micros that are idle shared in (OpenCost's *CostIdle).
    cpu_idle_micros: int = 0
    ram_idle_micros: int = 0
    gpu_idle_micros: int = 0
    # Where shared_micros came from: shared workload or fixed cost name -> micro-dollars.
    shared_breakdown: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_micros(self) -> int:
        return (
            self.cpu_micros
            + self.ram_micros
            + self.gpu_micros
            + self.shared_micros
            + self.external_micros
        )

    @property
    def seconds(self) -> int:
        return self.end - self.start

    def plus_named(self, name: str) -> Allocation:
        return replace(self, name=name)

    def plus(self, other: Allocation, name: str | None = None) -> Allocation:
        return replace(
            self,
            name=self.name if name is None else name,
            kind=self.kind if self.kind == other.kind else WORKLOAD,
            properties=self.properties.common(other.properties),
            start=min(self.start, other.start),
            end=max(self.end, other.end),
            cpu_core_seconds=self.cpu_core_seconds + other.cpu_core_seconds,
            cpu_request_core_seconds=self.cpu_request_core_seconds
            + other.cpu_request_core_seconds,
            cpu_usage_core_seconds=self.cpu_usage_core_seconds + other.cpu_usage_core_seconds,
            ram_byte_seconds=self.ram_byte_seconds + other.ram_byte_seconds,
            ram_request_byte_seconds=self.ram_request_byte_seconds
            + other.ram_request_byte_seconds,
            ram_usage_byte_seconds=self.ram_usage_byte_seconds + other.ram_usage_byte_seconds,
            gpu_seconds=self.gpu_seconds + other.gpu_seconds,
            cpu_micros=self.cpu_micros + other.cpu_micros,
            ram_micros=self.ram_micros + other.ram_micros,
            gpu_micros=self.gpu_micros + other.gpu_micros,
            shared_micros=self.shared_micros + other.shared_micros,
            external_micros=self.external_micros + other.external_micros,
            cpu_idle_micros=self.cpu_idle_micros + other.cpu_idle_micros,
            ram_idle_micros=self.ram_idle_micros + other.ram_idle_micros,
            gpu_idle_micros=self.gpu_idle_micros + other.gpu_idle_micros,
            shared_breakdown=_add(self.shared_breakdown, other.shared_breakdown),
        )


def _add(a: Mapping[str, int], b: Mapping[str, int]) -> Mapping[str, int]:
    if not b:
        return a
    if not a:
        return b
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


@dataclass(frozen=True, slots=True)
class NodeCost:
    """A node's cost over one step, by resource, and the part of it nobody was charged."""

    node: str
    seconds: int
    cpu_micros: int
    ram_micros: int
    gpu_micros: int
    idle_cpu_micros: int
    idle_ram_micros: int
    idle_gpu_micros: int
    price: NodePrice

    @property
    def total_micros(self) -> int:
        return self.cpu_micros + self.ram_micros + self.gpu_micros

    @property
    def idle_micros(self) -> int:
        return self.idle_cpu_micros + self.idle_ram_micros + self.idle_gpu_micros


@dataclass(frozen=True, slots=True)
class AllocationSet:
    """One step: the allocations, and what the nodes and fixed shared costs cost in it."""

    start: int
    end: int
    allocations: tuple[Allocation, ...]
    nodes: tuple[NodeCost, ...]
    fixed_shared_micros: int = 0

    @property
    def node_micros(self) -> int:
        return sum(n.total_micros for n in self.nodes)

    @property
    def total_micros(self) -> int:
        return sum(a.total_micros for a in self.allocations)
