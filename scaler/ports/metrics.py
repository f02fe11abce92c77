"""The metrics port: container usage, requests, limits and OOM kills over a time window.

Shaped after what cAdvisor and kube-state-metrics export (the series KRR and the VPA
recommender read), so a Prometheus adapter maps one method to one PromQL query per namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class MetricsError(Exception):
    """The metrics backend failed: connection refused, bad query, timeout.

    The message is one line naming the URL and the query.
    """


@dataclass(frozen=True, slots=True)
class ContainerRef:
    namespace: str
    pod: str
    container: str


@dataclass(frozen=True, slots=True)
class Samples:
    ref: ContainerRef
    timestamps: tuple[float, ...]  # unix seconds, ascending, on the query's step grid
    values: tuple[float, ...]
    labels: Mapping[str, str] = field(default_factory=dict)  # e.g. {"node": ...}


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
