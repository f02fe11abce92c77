"""Values that go in and come out of right-sizing (cores for CPU, bytes for memory)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
MiB = float(2**20)
GiB = float(2**30)
HOUR = 3600.0
DAY = 86400.0


def _array(values: object) -> Array:
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class OomEvent:
    """A container of the workload was OOM-killed at `at`; `memory` is what it died at
    (its memory limit when known, else the working set last seen), in bytes."""

    at: float
    memory: float


@dataclass(frozen=True, eq=False)
class ContainerHistory:
    """Usage of one container of a workload, all its pods together, up to `end`.

    Samples of several pods are concatenated (timestamps need not ascend overall); `step` is
    the sampling interval in seconds, so each sample stands for `step` seconds of usage.
    """

    cpu_t: Array
    cpu: Array  # cores
    memory_t: Array
    memory: Array  # working set bytes
    step: float
    end: float
    oom_events: tuple[OomEvent, ...] = ()
    # Samples per pod for memory, for strategies that aggregate per pod (VPA's peaks).
    memory_pods: tuple[int, ...] = ()

    @staticmethod
    def of(
        *,
        cpu: tuple[object, object] = ((), ()),
        memory: tuple[object, object] = ((), ()),
        step: float,
        end: float,
        oom_events: tuple[OomEvent, ...] = (),
        memory_pods: tuple[int, ...] = (),
    ) -> ContainerHistory:
        return ContainerHistory(
            cpu_t=_array(cpu[0]),
            cpu=_array(cpu[1]),
            memory_t=_array(memory[0]),
            memory=_array(memory[1]),
            step=step,
            end=end,
            oom_events=oom_events,
            memory_pods=memory_pods,
        )

    def since(self, start: float) -> ContainerHistory:
        """The part of the history at or after `start` (the strategy's history length)."""
        c = self.cpu_t >= start
        m = self.memory_t >= start
        pods: tuple[int, ...] = ()
        if self.memory_pods:
            bounds = np.cumsum((0, *self.memory_pods))
            pods = tuple(int(m[a:b].sum()) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        return ContainerHistory(
            cpu_t=self.cpu_t[c],
            cpu=self.cpu[c],
            memory_t=self.memory_t[m],
            memory=self.memory[m],
            step=self.step,
            end=self.end,
            oom_events=tuple(e for e in self.oom_events if e.at >= start),
            memory_pods=pods,
        )

    @property
    def points(self) -> int:
        """Data points: the fewer of CPU and memory samples."""
        return int(min(self.cpu.size, self.memory.size))

    @property
    def span_seconds(self) -> float:
        """From the first sample to the end of the window."""
        starts = [a.min() for a in (self.cpu_t, self.memory_t) if a.size]
        return float(max(0.0, self.end - min(starts))) if starts else 0.0


@dataclass(frozen=True, slots=True)
class CurrentResources:
    """What the workload's container asks for now (None: not set)."""

    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: float | None = None
    memory_limit: float | None = None


@dataclass(frozen=True, slots=True)
class HpaTarget:
    """An HPA scales the workload on the average utilisation of a resource's request."""

    name: str
    resource: str  # cpu | memory
    utilization: float  # percent of the request
    # Its replica range and state (reported as KRR's `hpa`; status is 0/None from manifests).
    min_replicas: int | None = None
    max_replicas: int = 0
    current_replicas: int | None = None
    desired_replicas: int = 0


@dataclass(frozen=True, slots=True)
class Proposal:
    """A strategy's answer before minimums, maximums, rounding and limits are applied.

    Limits: None means the strategy has no opinion (the current limit is kept).
    """

    cpu_request: float
    memory_request: float
    cpu_limit: float | None = None
    memory_limit: float | None = None
    cpu_bounds: tuple[float, float] | None = None  # lower, upper
    memory_bounds: tuple[float, float] | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What scaler recommends for one container, and why."""

    strategy: str
    cpu_request: float | None  # None: no recommendation (kept as is)
    memory_request: float | None
    cpu_limit: float | None  # the limit to set (None: none / not set)
    memory_limit: float | None
    change_cpu: bool  # the CPU request (or limit) should be changed
    change_memory: bool
    reason: str
    risk: str  # low | medium | high
    risk_reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    points: int = 0
    history_hours: float = 0.0
    cpu_percentiles: dict[str, float] = field(default_factory=dict)  # p50, p90, p95, p99, max
    memory_percentiles: dict[str, float] = field(default_factory=dict)
    cpu_bounds: tuple[float, float] | None = None
    memory_bounds: tuple[float, float] | None = None
    oom_kills: int = 0

    @property
    def changes(self) -> bool:
        return self.change_cpu or self.change_memory
