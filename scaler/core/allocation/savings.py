"""What each workload would cost at its usage instead of its requests.

Per container, over the intervals it ran: the cost of its requests at the prices of the node
it ran on (what it reserves), against the cost of a right-sized request: the 95th percentile
of its CPU usage and the peak of its memory working set (KRR's simple strategy). Summed per
workload (controller, or the pod when it has none). A negative saving means the workload uses
more than it requests and would cost more if requests matched usage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scaler.core.allocation.compute import UnitCosts
from scaler.core.allocation.model import ContainerInput

CPU_PERCENTILE = 95.0


@dataclass(frozen=True, slots=True)
class WorkloadSavings:
    namespace: str
    workload: str  # "deployment:web", or "pod:name" for a bare pod
    containers: int  # container instances (replicas x containers)
    hours: float
    cpu_request_cores: float  # time-weighted average per container instance
    cpu_recommended_cores: float
    ram_request_bytes: float
    ram_recommended_bytes: float
    cost_at_requests_micros: int
    cost_at_usage_micros: int

    @property
    def savings_micros(self) -> int:
        return self.cost_at_requests_micros - self.cost_at_usage_micros

    @property
    def name(self) -> str:
        return f"{self.namespace}/{self.workload}"


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def _pick(series: tuple[float, ...] | npt.NDArray[np.float64], at: npt.NDArray[np.int64]
          ) -> list[float]:
    picked: list[float] = np.asarray(series, dtype=np.float64)[at].tolist()
    return picked


def workload_savings(
    containers: Sequence[ContainerInput],
    units: Mapping[tuple[str, str, str], UnitCosts],
    cpu_percentile: float = CPU_PERCENTILE,
) -> list[WorkloadSavings]:
    groups: dict[tuple[str, str], list[tuple[ContainerInput, UnitCosts]]] = {}
    for c in containers:
        u = units.get(c.key)
        if u is None or not len(u.samples):
            continue
        kind = c.controller_kind.lower() if c.controller else "pod"
        name = c.controller or c.pod
        groups.setdefault((c.namespace, f"{kind}:{name}"), []).append((c, u))
    out: list[WorkloadSavings] = []
    for (ns, workload), members in groups.items():
        seconds = 0
        cpu_req = ram_req = cpu_rec = ram_rec = 0.0
        at_requests = at_usage = 0.0
        for c, u in members:
            # The charged samples as Python floats, summed left to right as before (numpy's
            # pairwise sums could differ in the last bit).
            picked = np.asarray(u.samples, dtype=np.int64)
            cpu = percentile(_pick(c.cpu_usage, picked), cpu_percentile)
            ram = max(_pick(c.ram_usage, picked))
            seconds += u.seconds
            cpu_req += sum(_pick(c.cpu_request, picked)) / len(picked) * u.seconds
            ram_req += sum(_pick(c.ram_request, picked)) / len(picked) * u.seconds
            cpu_rec += cpu * u.seconds
            ram_rec += ram * u.seconds
            at_requests += u.at_requests
            at_usage += cpu * u.per_core + ram * u.per_byte
        out.append(
            WorkloadSavings(
                namespace=ns,
                workload=workload,
                containers=len(members),
                hours=seconds / 3600,
                cpu_request_cores=cpu_req / seconds if seconds else 0.0,
                cpu_recommended_cores=cpu_rec / seconds if seconds else 0.0,
                ram_request_bytes=ram_req / seconds if seconds else 0.0,
                ram_recommended_bytes=ram_rec / seconds if seconds else 0.0,
                cost_at_requests_micros=round(at_requests),
                cost_at_usage_micros=round(at_usage),
            )
        )
    out.sort(key=lambda s: (-s.savings_micros, s.name))
    return out
