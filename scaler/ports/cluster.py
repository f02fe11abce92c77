"""The cluster port: what the controller reads from and does to Kubernetes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from scaler.core.model import Node, Snapshot, Taint
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.ports.cloud import CloudNode

# On a replacement claim: the claim whose node it replaces. Persisted so that a new leader
# finishes a replacement the previous one launched instead of undoing it.
LABEL_REPLACES = "scaler.dev/replaces"


class ClusterError(Exception):
    pass


class Cluster(Protocol):
    def snapshot(self) -> Snapshot:
        """Nodes, pods, DaemonSets and the rest, as of now."""
        ...

    def add_node(self, node: Node) -> None:
        """A launched instance registered as a node."""
        ...

    def bind(self, pod_key: str, node_name: str) -> None:
        """The pod landed on the node (kube-scheduler does this in a real cluster)."""
        ...

    def cordon(self, node_name: str) -> None: ...

    def evict(self, pod_key: str) -> None: ...

    def delete_node(self, node_name: str) -> None: ...


# -- what the control loop needs beyond the simulation's port -------------------------------


class DisruptionBlockedError(ClusterError):
    """An eviction was refused because it would break a PodDisruptionBudget (HTTP 429)."""


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """An object an Event is about."""

    kind: str
    name: str
    namespace: str = ""
    api_version: str = "v1"

    @staticmethod
    def pod(key: str) -> ObjectRef:
        ns, _, name = key.partition("/")
        return ObjectRef("Pod", name, ns)

    @staticmethod
    def node(name: str) -> ObjectRef:
        return ObjectRef("Node", name)

    @staticmethod
    def nodeclaim(name: str) -> ObjectRef:
        return ObjectRef("NodeClaim", name, "", "scaler.dev/v1alpha1")

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.lower()}/{where}{self.name}"


@dataclass(frozen=True, slots=True)
class ClaimView:
    """A node claim as the loop sees it (scaler's NodeClaim resource, or the simulation's)."""

    name: str
    node_pool: str
    created_at: float  # seconds since the epoch
    provider_id: str = ""
    node_name: str = ""
    instance_type: str = ""
    zone: str = ""
    capacity_type: str = ""
    price_per_hour: float = 0.0
    launched: bool = False
    registered: bool = False
    initialized: bool = False
    drifted: bool = False
    deleting: bool = False  # someone deleted it: terminate gracefully, then let it go
    deleted_at: float | None = None  # when (its terminationGracePeriod counts from here)
    replaces: str = ""  # a replacement: the claim whose node it replaces (LABEL_REPLACES)


@dataclass(frozen=True, slots=True)
class DrainResult:
    evicted: tuple[str, ...] = ()
    blocked: Mapping[str, str] = field(default_factory=dict)  # pod key -> why

    @property
    def done(self) -> bool:
        return not self.blocked


class ManagedCluster(Cluster, Protocol):
    """The cluster as the control loop drives it: claims, events, taints, drains."""

    def event(self, ref: ObjectRef, type_: str, reason: str, message: str) -> None: ...

    def claims(self) -> Sequence[ClaimView]: ...

    def create_claim(self, name: str, node_pool: str, requirements: Requirements,
                     taints: Sequence[Taint], requests: Resources,
                     labels: Mapping[str, str],
                     annotations: Mapping[str, str] | None = None) -> None:
        """`annotations`: the NodePool's template annotations, for the claim and its node."""
        ...

    def node_pool_condition(self, name: str, condition: Mapping[str, str]) -> None:
        """Set one condition (by its `type`) in the NodePool's status, the others kept."""
        ...

    def delete_pod(self, pod_key: str) -> None:
        """Delete the pod outright (no eviction, so no PodDisruptionBudget check): what a
        drain does to the pods left when its NodePool's terminationGracePeriod is over."""
        ...

    def claim_launched(self, name: str, node: CloudNode, labels: Mapping[str, str],
                       allocatable: Resources) -> None: ...

    def claim_registered(self, name: str, node_name: str, initialized: bool) -> None: ...

    def claim_drifted(self, name: str, reason: str | None) -> None:
        """Set the claim's Drifted condition (reason None: not drifted)."""
        ...

    def delete_claim(self, name: str) -> None: ...

    def node_for_provider_id(self, provider_id: str) -> tuple[str, bool] | None:
        """The registered node's name and whether it is Ready, or None."""
        ...

    def taint(self, node_name: str, taint: Taint) -> None: ...

    def untaint(self, node_name: str, key: str) -> None: ...

    def drain(self, node_name: str, timeout: float) -> DrainResult: ...
