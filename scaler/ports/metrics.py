"""The metrics port: container usage, requests, limits and OOM kills over a time window.

Shaped after what cAdvisor and kube-state-metrics export (the series KRR and the VPA
recommender read), so a Prometheus adapter maps one method to one PromQL query per namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

# A series' times or values: a tuple, or (from the columnar sources: a month of a large
# cluster is millions of points, 8 bytes each in an array against 32 in a tuple of floats) a
# one-dimensional float64 array. Test emptiness with len(), never with truthiness.
FloatSeries = tuple[float, ...] | npt.NDArray[np.float64]


def as_array(x: FloatSeries) -> npt.NDArray[np.float64]:
    """The series as a float64 array (no copy when it is one already)."""
    return np.asarray(x, dtype=np.float64)


class MetricsError(Exception):
    """The metrics backend failed: connection refused, bad query, timeout.

    The message is one line naming the URL and the query.
    """


@dataclass(frozen=True, slots=True)
class ContainerRef:
    namespace: str
    pod: str
    container: str


@dataclass(frozen=True, slots=True, eq=False)
class Samples:
    ref: ContainerRef
    timestamps: FloatSeries  # unix seconds, ascending, on the query's step grid
    values: FloatSeries
    labels: Mapping[str, str] = field(default_factory=dict)  # e.g. {"node": ...}

    def __eq__(self, other: object) -> bool:
        # by value, whether the series are tuples or arrays
        if not isinstance(other, Samples):
            return NotImplemented
        return (
            self.ref == other.ref
            and dict(self.labels) == dict(other.labels)
            and np.array_equal(as_array(self.timestamps), as_array(other.timestamps))
            and np.array_equal(as_array(self.values), as_array(other.values))
        )

    __hash__ = None  # type: ignore[assignment]  # labels is a dict: never hashable


@dataclass(frozen=True, slots=True)
class Window:
    start: float  # unix seconds
    end: float
    step: float  # seconds


class MetricsSource(Protocol):
    def cpu_usage(self, window: Window, namespace: str | None = None) -> Sequence[Samples]:
        """Cores used:
        rate(container_cpu_usage_seconds_total{container!="",container!="POD"}[5m])."""
        ...

    def memory_usage(self, window: Window, namespace: str | None = None) -> Sequence[Samples]:
        """Bytes: container_memory_working_set_bytes{container!="",container!="POD"}."""
        ...

    def requests(
        self, resource: str, window: Window, namespace: str | None = None
    ) -> Sequence[Samples]:
        """kube_pod_container_resource_requests{resource=cpu|memory} (cores / bytes)."""
        ...

    def limits(
        self, resource: str, window: Window, namespace: str | None = None
    ) -> Sequence[Samples]:
        """kube_pod_container_resource_limits{resource=cpu|memory}."""
        ...

    def oom_kills(self, window: Window, namespace: str | None = None) -> Sequence[ContainerRef]:
        """Containers whose kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}
        was 1 in the window."""
        ...

    def namespaces(self, window: Window) -> Sequence[str]:
        """Namespaces with any container in the window (so callers can batch per namespace)."""
        ...
