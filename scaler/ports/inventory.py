"""The inventory port: what ran where, and for how long, for cost allocation.

Beside the metrics port (usage and requests), cost allocation needs the nodes (size, instance
type, capacity type, zone, when they ran), the pods' metadata (labels, annotations, owning
controller) and GPU requests. A Prometheus adapter reads them from kube-state-metrics
(`kube_node_labels`, `kube_node_status_capacity`, `kube_pod_info`, `kube_pod_labels`, ...);
the simulated one from a cluster snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from scaler.ports.metrics import Samples, Window


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    cpu_cores: float
    ram_bytes: float
    gpus: float
    start: float  # unix seconds it was first seen running
    end: float  # and up to when (exclusive)
    instance_type: str | None = None
    capacity_type: str = "on-demand"  # spot | on-demand
    zone: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    provider_id: str = ""


@dataclass(frozen=True, slots=True)
class PodInfo:
    namespace: str
    pod: str
    node: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    controller_kind: str = ""  # Deployment, StatefulSet, DaemonSet, Job, ...
    controller: str = ""
    start: float | None = None
    end: float | None = None


class InventorySource(Protocol):
    def nodes(self, window: Window) -> Sequence[NodeInfo]:
        """Nodes that ran at any time in the window, with their lifetimes."""
        ...

    def pods(self, window: Window) -> Sequence[PodInfo]:
        """Pods that existed at any time in the window, with their metadata."""
        ...

    def namespace_labels(self, window: Window) -> Mapping[str, Mapping[str, str]]:
        """Namespace -> its labels (for teams read from namespace labels)."""
        ...

    def gpu_requests(self, window: Window) -> Sequence[Samples]:
        """GPUs requested per container (kube_pod_container_resource_requests for
        nvidia.com/gpu), on the window's grid."""
        ...
